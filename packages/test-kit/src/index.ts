/**
 * Test code shared by the tests of several tapegrad packages (private, never published): the
 * API-boundary fuzz kit, a way to plant a bug in a registered op's vjp, and headless Chromium
 * with a static file server for the end-to-end tests. Imported by package
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
export {
  CHROMIUM,
  closeServer,
  launchChromium,
  origin,
  serveFiles,
  underRoot,
  type Route,
} from "./chromium.js";
