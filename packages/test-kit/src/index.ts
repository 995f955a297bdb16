/**
 * Test code shared by the tests of several tapegrad packages (private, never published): the
 * API-boundary fuzz kit and a way to plant a bug in a registered op's vjp. Imported by package
 * name, so no test reaches into another package's folders.
 */
export {
  KNOWN_ATTRS,
  MAX_FUZZ_SIZE,
  attempt,
  checkOutcome,
  fuzzOptions,
  optionsOf,
  shape,
  smallShape,
  tensorOf,
  typical,
  weird,
  type Counter,
} from "./fuzz.js";
export { withPlantedBug } from "./plantedBug.js";
