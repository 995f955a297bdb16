import { describe, expect, it } from "vitest";
import {
  add,
  conv2d,
  fusedConv2d,
  fusedConv2dBackward,
  fusedConv2dParamGrad,
  getBackend,
  reluBackward,
  listBackends,
  relu,
  setBackend,
  conv2dBackpropFilter,
  conv2dBackpropInput,
  grad,
  mul,
  prng,
  reshape,
  slice,
  sum,
  type Tensor,
} from "../../index.js";
import { f64 } from "../../../test/helpers.js";
import { plane, x3 } from "../../../test/convImages.js";

describe("conv2d with bias and relu (fusedConv2d)", () => {
  /** relu(conv2d + bias) from separate ops, the reference the fused kernel must reproduce. */
  const unfused = (x: Tensor, w: Tensor, b: Tensor, activation: "linear" | "relu", padding = 0) => {
    const y = add(conv2d(x, w, { padding }), reshape(b, [b.size, 1, 1]));
    return activation === "relu" ? relu(y) : y;
  };
  // LeNet's conv1 at batch 8 (large enough for the wasm kernels) and a small odd-sized one.
  const cases = [
    { xShape: [8, 1, 28, 28], wShape: [6, 1, 5, 5], padding: 2 },
    { xShape: [2, 3, 5, 7], wShape: [4, 3, 3, 2], padding: 0 },
  ];

  for (const backend of listBackends()) {
    for (const dtype of ["float32", "float64"] as const) {
      for (const { xShape, wShape, padding } of cases) {
        it(`equals the separate ops on ${backend}, ${dtype}, x ${xShape.join("×")}`, () => {
          const previous = getBackend();
          setBackend(backend);
          try {
            const rng = prng(7);
            const x = rng.normal(xShape, { dtype });
            const w = rng.normal(wShape, { dtype });
            const b = rng.normal([wShape[0]!], { dtype });
            for (const activation of ["linear", "relu"] as const) {
              const fused = conv2d(x, w, { bias: b, padding, activation });
              const reference = unfused(x, w, b, activation, padding);
              expect(fused.dtype).toBe(dtype);
              expect(fused.toArray()).toEqual(reference.toArray());
              if (activation === "relu") {
                expect(Array.from(fused.buffer)).toContain(0);
              }
              // The same gradients, for a cotangent that weights every output differently.
              const r = rng.normal(fused.shape, { dtype });
              const loss = (f: typeof unfused) => (xx: Tensor, ww: Tensor, bb: Tensor) =>
                sum(mul(f(xx, ww, bb, activation, padding), r));
              const fusedLoss = (xx: Tensor, ww: Tensor, bb: Tensor, a: typeof activation) =>
                conv2d(xx, ww, { bias: bb, padding, activation: a });
              const got = grad(loss(fusedLoss), { argnums: [0, 1, 2] })(x, w, b);
              const want = grad(loss(unfused), { argnums: [0, 1, 2] })(x, w, b);
              got.forEach((g, i) => expect(g.toArray()).toEqual(want[i].toArray()));
            }
          } finally {
            setBackend(previous);
          }
        });
      }
    }
  }

  it("promotes to float64 when the bias is float64, as the separate add does", () => {
    const rng = prng(8);
    const x = rng.normal([2, 3, 6, 6]);
    const w = rng.normal([4, 3, 3, 3]);
    const b = rng.normal([4], { dtype: "float64" });
    const fused = conv2d(x, w, { bias: b, activation: "relu" });
    const reference = unfused(x, w, b, "relu");
    expect(fused.dtype).toBe("float64");
    expect(reference.dtype).toBe("float64");
    // The fused sums stay in float64; the separate conv rounds them to float32 first.
    const got = Array.from(fused.buffer);
    Array.from(reference.buffer).forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
  });

  it("passes activation without a bias to relu, and checks the bias and activation", () => {
    const w = f64([[[[1, -1]]]]);
    expect(plane(conv2d(x3, w, { activation: "relu" }))).toEqual([
      [0, 0],
      [0, 0],
      [0, 0],
    ]);
    expect(plane(fusedConv2d(x3, w, f64([2]), { activation: "relu" }))).toEqual([
      [1, 1],
      [1, 1],
      [1, 1],
    ]);
    expect(() => conv2d(x3, w, { activation: "tanh" as "relu" })).toThrow(
      'conv2d: activation must be "linear" or "relu", got tanh',
    );
    expect(() => fusedConv2d(x3, w, f64([1, 2]))).toThrow(
      "fusedConv2d: bias must have shape [1] (one value per output channel), got [2]",
    );
  });
});

describe("fusedConv2dBackward", () => {
  const rng = prng(11);
  const x = rng.normal([2, 3, 6, 7], { dtype: "float64" });
  const w = rng.normal([4, 3, 3, 3], { dtype: "float64" });
  const options = { padding: 1, stride: 2 } as const;
  const dy = rng.normal([2, 4, 3, 4], { dtype: "float64" });
  const y = rng.normal([2, 4, 3, 4], { dtype: "float64" });

  it("returns [dx, dw, dbias] of g = reluBackward(dy, y), as the separate ops make them", () => {
    for (const activation of ["linear", "relu"] as const) {
      const [dx, dw, dbias] = fusedConv2dBackward(dy, y, x, w, { ...options, activation });
      const g = activation === "relu" ? reluBackward(dy, y) : dy;
      const want = [
        conv2dBackpropInput(g, w, { ...options, inputShape: x.shape }),
        conv2dBackpropFilter(x, g, { ...options, filterShape: w.shape }),
        sum(g, { axis: [0, 2, 3] }),
      ];
      [dx, dw, dbias].forEach((got, k) => {
        expect(got.shape).toEqual(want[k]!.shape);
        expect(Array.from(got.data)).toEqual(Array.from(want[k]!.data));
      });
      // fusedConv2dParamGrad is the same call without the input gradient.
      const params = fusedConv2dParamGrad(dy, y, x, w, { ...options, activation });
      expect(params).toHaveLength(2);
      params.forEach((got, k) =>
        expect(Array.from(got.data)).toEqual(Array.from(want[k + 1]!.data)),
      );
    }
  });

  it("fusedConv2d's gradients are the fused backward's, whichever arguments are differentiated", () => {
    const bias = rng.normal([4], { dtype: "float64" });
    const activation = "relu";
    const loss = (x: Tensor, w: Tensor, b: Tensor) =>
      sum(mul(fusedConv2d(x, w, b, { ...options, activation }), dy));
    const y = fusedConv2d(x, w, bias, { ...options, activation });
    const [dx, dw, dbias] = fusedConv2dBackward(dy, y, x, w, { ...options, activation });
    const all = grad(loss, { argnums: [0, 1, 2] })(x, w, bias);
    [dx, dw, dbias].forEach((want, k) => expect(all[k]!.data).toEqual(want.data));
    const paramsOnly = grad(loss, { argnums: [1, 2] })(x, w, bias);
    expect(paramsOnly[0].data).toEqual(dw.data);
    expect(paramsOnly[1].data).toEqual(dbias.data);
    expect(grad(loss)(x, w, bias).data).toEqual(dx.data);
  });

  it("names the argument and what was expected", () => {
    const call =
      (overrides: object, dyArg = dy, yArg = y) =>
      () =>
        fusedConv2dBackward(dyArg, yArg, x, w, { ...options, ...overrides });
    expect(call({}, dy, reshape(y, [2, 4, 12]))).toThrow(
      "fusedConv2dBackward: y must have shape [2,4,3,4] (fusedConv2d's output for x [2,3,6,7] " +
        "and w [4,3,3,3]), got [2,4,12]",
    );
    expect(call({}, slice(dy, [0], [1]))).toThrow(
      "fusedConv2dBackward: dy must have shape [2,4,3,4]",
    );
    expect(call({ groups: 2 })).toThrow(
      "fusedConv2dBackward: groups 2 must divide the 3 input channels of x (x is [2,3,6,7])",
    );
    expect(call({ activation: "tanh" })).toThrow(
      'fusedConv2dBackward: activation must be "linear" or "relu", got tanh',
    );
  });
});
