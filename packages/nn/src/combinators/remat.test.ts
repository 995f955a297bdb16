import { Tensor, grad, prng, profileTape, sum, treeFlatten, type Rng } from "@tapegrad/autodiff";
import { describe, expect, it } from "vitest";
import type { Layer } from "../layer.js";
import { relu } from "../layers/activations.js";
import { batchNorm1d } from "../layers/batchNorm.js";
import { dropout } from "../layers/dropout.js";
import { linear } from "../layers/linear.js";
import { summary } from "../summary.js";
import { remat } from "./remat.js";
import { residual } from "./residual.js";
import { sequential } from "./sequential.js";

const width = 16;
const block = () =>
  residual(
    sequential([
      linear({ inFeatures: width, outFeatures: width, dtype: "float64" }),
      relu(),
      dropout(0.25),
      linear({ inFeatures: width, outFeatures: width, dtype: "float64" }),
    ]),
  );
const blocks = [0, 1, 2, 3].map(block);
const plain = sequential(blocks);
const rematted = sequential(blocks.map((b) => remat(b)));
const { params } = plain.init(prng(1));
const x = prng(2).normal([8, width], { dtype: "float64" });

/** Every value of a tree's tensors, by path. */
function values(tree: unknown): [string, number[]][] {
  return treeFlatten(tree).map(([path, t]) => [path, Array.from((t as Tensor).data)]);
}

describe("remat", () => {
  it("keeps the layer's params tree and outputs", () => {
    expect(values(rematted.init(prng(1)).params)).toEqual(values(params));
    expect(Array.from(rematted.apply(params, x).data)).toEqual(
      Array.from(plain.apply(params, x).data),
    );
  });

  it("gives the same gradients while the tape holds less", () => {
    const lossOf = (model: Layer) => (p: unknown) => sum(model.apply(p, x));
    const without = profileTape(() => grad(lossOf(plain))(params));
    const withRemat = profileTape(() => grad(lossOf(rematted))(params));
    expect(values(withRemat.value)).toEqual(values(without.value));
    expect(withRemat.peakBytes).toBeLessThan(without.peakBytes / 2);
  });

  it("replays dropout's masks in backward's rerun, drawn from one split of ctx.rng", () => {
    // The reference applies each block with the generator remat derives: a split of ctx.rng.
    const reference = sequential(
      blocks.map((b) => ({
        ...b,
        applyWithState: (p: unknown, s: unknown, h: Tensor, ctx: { rng?: Rng }) =>
          b.applyWithState(p as never, s as never, h, { ...ctx, rng: ctx.rng!.split() }),
      })) as Layer[],
    );
    const lossOf = (model: Layer) => (p: unknown) =>
      sum(model.apply(p, x, { training: true, rng: prng(5) }));
    expect(values(grad(lossOf(rematted))(params))).toEqual(values(grad(lossOf(reference))(params)));
  });

  it("returns the layer's updated state (batch norm statistics)", () => {
    const bn = sequential([
      linear({ inFeatures: width, outFeatures: width, dtype: "float64" }),
      batchNorm1d({ numFeatures: width, dtype: "float64" }),
    ]);
    const v = bn.init(prng(3));
    const [yPlain, statePlain] = bn.applyWithState(v.params, v.state, x, { training: true });
    const lossAndState = (layer: Layer) =>
      grad((p: unknown) => sum(layer.applyWithState(p, v.state, x, { training: true })[0]))(
        v.params,
      );
    const [y, state] = remat(bn).applyWithState(v.params, v.state, x, { training: true });
    expect(Array.from(y.data)).toEqual(Array.from(yPlain.data));
    expect(values(state)).toEqual(values(statePlain));
    expect(values(lossAndState(remat(bn)))).toEqual(values(lossAndState(bn)));
  });

  it("shows in summaries, and rejects what is not a layer", () => {
    expect(summary(rematted, [1, width])).toMatch(/remat\(residual\)/);
    expect(() => remat({} as Layer)).toThrow(/remat: expected a layer/);
  });
});
