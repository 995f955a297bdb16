import * as fc from "fast-check";
import type { SampleKit } from "../sampling.js";
import { makeSampleKit } from "./sampleKit.js";

/**
 * fast-check arbitraries for shapes and tensors: `arbitraries.shape()`,
 * `arbitraries.tensor([2, 3], { min: -1, max: 1 })`, `arbitraries.broadcastPair()`, …
 */
export const arbitraries: SampleKit = makeSampleKit(fc);
