import { describe, expect, it } from "vitest";
import {
  add,
  checkpoint,
  grad,
  matmul,
  prng,
  stack,
  sum,
  tanh,
  vmap,
  exp,
  mul,
  profileTape,
  type Tensor,
} from "./index.js";
import { withForwardHook, type ForwardHook } from "./registry.js";
import { caught, f64 } from "../test/helpers.js";
import { arr } from "../test/values.js";

// A residual MLP of four blocks, with and without rematerialisation.
const rng = prng(3);
const weights = [0, 1, 2, 3].map(() => rng.normal([4, 4], { dtype: "float64" }));
const block = (h: Tensor, w: Tensor) => add(h, tanh(matmul(h, w)));
const net = (h: Tensor, ws: Tensor[], remat: boolean) => {
  for (const w of ws) h = remat ? checkpoint(block)(h, w) : block(h, w);
  return sum(h);
};
const h0 = rng.normal([2, 4], { dtype: "float64" });

describe("checkpoint", () => {
  it("is f when called", () => {
    expect(arr(checkpoint(block)(h0, weights[0]!))).toEqual(arr(block(h0, weights[0]!)));
  });

  it("gives the same gradients bit for bit, for inputs and parameters", () => {
    for (const argnums of [0, 1] as const) {
      const with_ = grad((h: Tensor, ws: Tensor[]) => net(h, ws, true), { argnums })(h0, weights);
      const without = grad((h: Tensor, ws: Tensor[]) => net(h, ws, false), { argnums })(
        h0,
        weights,
      );
      const a = Array.isArray(with_) ? with_.map((t) => arr(t)) : arr(with_);
      const b = Array.isArray(without) ? without.map((t) => arr(t)) : arr(without);
      expect(a).toEqual(b);
    }
  });

  it("differentiates twice, nests, and works under vmap", () => {
    const second = (remat: boolean) =>
      grad((h: Tensor) => sum(grad((u: Tensor) => net(u, weights, remat))(h)))(h0);
    (arr(second(true)) as number[][]).flat().forEach((v, i) => {
      expect(v).toBeCloseTo((arr(second(false)) as number[][]).flat()[i]!, 12);
    });
    const nested = checkpoint((h: Tensor) => checkpoint(block)(block(h, weights[0]!), weights[1]!));
    expect(arr(grad((h: Tensor) => sum(nested(h)))(h0))).toEqual(
      arr(grad((h: Tensor) => sum(block(block(h, weights[0]!), weights[1]!)))(h0)),
    );
    const rows = [f64([[1, 0, 0, 1]]), f64([[0, 2, 1, 0]])];
    const perExample = vmap(grad((h: Tensor) => net(h, weights, true)))(stack(rows));
    const looped = stack(rows.map(grad((h: Tensor) => net(h, weights, false))));
    expect(arr(perExample)).toEqual(arr(looped));
  });

  it("with a policy, keeps what it names: those ops are not computed again in backward", () => {
    // Count the matmuls computed below every trace, around checkpoint's own hooks.
    const matmulsComputed = (policy?: (op: string) => boolean) => {
      let count = 0;
      const counting = (): ForwardHook => (op, compute) => {
        if (op.name === "matmul") count++;
        return compute();
      };
      const g = withForwardHook(counting, () =>
        grad((ws: Tensor[]) => {
          let h = h0;
          for (const w of ws) h = checkpoint(block, { policy })(h, w);
          return sum(h);
        })(weights),
      );
      return { count, g: g.map((t) => arr(t)) };
    };
    const recomputed = matmulsComputed();
    const kept = matmulsComputed((op) => op === "matmul");
    // Four blocks: 4 forward matmuls, 4 recomputed in backward, 8 in matmul's vjps (dh, dw).
    expect(recomputed.count).toBe(16);
    expect(kept.count).toBe(12);
    expect(kept.g).toEqual(recomputed.g);
    expect(kept.g).toEqual(grad((ws: Tensor[]) => net(h0, ws, false))(weights).map((t) => arr(t)));
  });

  it("with a policy, nests and works under vmap (one batched rerun)", () => {
    const policy = (op: string) => op === "tanh";
    const inner = checkpoint(block, { policy });
    const outer = checkpoint((h: Tensor) => inner(inner(h, weights[0]!), weights[1]!), { policy });
    const plain = (h: Tensor) => block(block(h, weights[0]!), weights[1]!);
    expect(arr(grad((h: Tensor) => sum(outer(h)))(h0))).toEqual(
      arr(grad((h: Tensor) => sum(plain(h)))(h0)),
    );
    const rows = stack([f64([[1, 0, 0, 1]]), f64([[0, 2, 1, 0]]), f64([[3, 1, 0, 1]])]);
    expect(arr(vmap(grad((h: Tensor) => sum(outer(h))))(rows))).toEqual(
      arr(vmap(grad((h: Tensor) => sum(plain(h))))(rows)),
    );
    // An empty batch: the rule maps f itself, so kept results need no stacking.
    const none = vmap(grad((h: Tensor) => sum(outer(h))))(f64([], [0, 1, 4]));
    expect(none.shape).toEqual([0, 1, 4]);
  });

  it("holds only each segment's result on the tape between forward and backward (profileTape)", () => {
    // Eight exps, which keep no residual but their float64 [1000] outputs (8000 bytes each).
    const x = rng.normal([1000], { dtype: "float64" });
    const exps = (n: number) => (v: Tensor) => {
      for (let i = 0; i < n; i++) v = exp(mul(v, 0.5));
      return v;
    };
    const segments = (v: Tensor) =>
      checkpoint(exps(2))(checkpoint(exps(2))(checkpoint(exps(2))(checkpoint(exps(2))(v))));
    const plain = profileTape(() => grad((v: Tensor) => sum(exps(8)(v)))(x));
    const remat = profileTape(() => grad((v: Tensor) => sum(segments(v)))(x));
    // Plain: sixteen ops' outputs (mul, exp) and the sum's. Rematerialised: four segment results
    // and the sum's, plus one segment's rerun (four outputs) at a time in backward.
    expect(plain.peakBytes).toBe(16 * 8000 + 8);
    expect(remat.peakBytes).toBe(4 * 8000 + 8 + 4 * 8000);
    expect(arr(remat.value)).toEqual(arr(plain.value));
  });

  it("a rerun that runs other ops than forward did is an error, not wrong gradients", () => {
    let calls = 0;
    const unstable = checkpoint((h: Tensor) => (calls++ === 0 ? tanh(h) : exp(h)), {
      policy: (op) => op === "tanh" || op === "exp",
    });
    const error = caught(() => grad((h: Tensor) => sum(unstable(h)))(h0));
    expect(error.message).toMatch(
      /checkpoint: recomputing f in backward ran exp where forward ran tanh/,
    );
  });

  it("rejects a policy that is not a function", () => {
    const error = caught(() => checkpoint(block, { policy: "matmul" as never }));
    expect(error.message).toMatch(/checkpoint: options.policy must be a function of an op name/);
  });
});
