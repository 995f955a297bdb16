// Three gradient checks of the whole transformer in transformer.ts, timed: the random-direction
// check (forward mode), a reverse check of 500 elements drawn at random, and, with --full, the
// reverse check of all 52,684 (minutes; it prints progress on a terminal).
//   npx -y pnpm@10 --filter @tapegrad/example-model-check start [--full]
import { cpus } from "node:os";
import { checkGrads, type CheckGradsOptions } from "@tapegrad/autodiff/testing";
import { paramCount } from "@tapegrad/nn";
import { TEXT, initTransformer, loss, windows } from "./transformer.js";

const params = initTransformer(0);
const tokens = windows(TEXT, 4);

const checks: [string, CheckGradsOptions][] = [
  ["random direction (forward mode)", { modes: ["fwd"] }],
  ["reverse, 500 sampled elements", { samples: 500 }],
];
if (process.argv.includes("--full")) checks.push(["reverse, every element", {}]);

console.log(`${paramCount(params).toLocaleString("en")} params; ${cpus()[0]?.model ?? "cpu"}`);
for (const [name, options] of checks) {
  const start = performance.now();
  const report = checkGrads(loss, [params, tokens], {
    argnums: 0,
    argnames: ["params"],
    ...options,
  });
  const seconds = ((performance.now() - start) / 1000).toFixed(1);
  const { checked, maxAbsError, maxRelError } = report;
  console.log(
    `${name.padEnd(32)} ${String(checked).padStart(6)} compared ${seconds.padStart(7)} s  ` +
      `max |error| ${maxAbsError.toExponential(1)}  max rel ${maxRelError.toExponential(1)}`,
  );
}
