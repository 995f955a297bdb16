import { Rng, prng } from "@tapegrad/autodiff";
import { argumentError } from "./errors.js";

// Words 2p and 2p+1 of a generator's stream seed child p: no child shares its key with another.
const MAX_PATH = 2 ** 51;

/**
 * The generator at `path` below `prng(seed)`, like JAX's fold_in: each path element p selects
 * an independent child (split of the stream at counter 2p). Depends only on (seed, ...path),
 * never on what was drawn before, so e.g. (seed, epoch, batch) names the same stream in every run.
 */
export function deriveRng(seed: number, ...path: number[]): Rng {
  let rng = prng(seed);
  for (const p of path) {
    if (!Number.isInteger(p) || p < 0 || p >= MAX_PATH) {
      throw argumentError("deriveRng", `path elements must be integers in [0, 2^51), got ${p}`);
    }
    rng = Rng.fromState({ key: rng.getState().key, counter: 2 * p }).split();
  }
  return rng;
}
