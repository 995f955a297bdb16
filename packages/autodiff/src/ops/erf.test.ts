import { describe, expect, it } from "vitest";
import { clamp, erf, gelu, grad, mul, sum, tensor, vmap, type Tensor } from "../index.js";
import { caught, expectError, f64 } from "../../test/helpers.js";

/** Every element of t within `rtol` of `values`, relative (absolute at 0); NaN must be NaN. */
function expectRelative(t: Tensor, values: readonly number[], rtol: number): void {
  const got = Array.from(t.data);
  expect(got).toHaveLength(values.length);
  values.forEach((v, i) => {
    if (Number.isNaN(v) || !Number.isFinite(v)) {
      expect(got[i], `element ${i}`).toBe(v);
      return;
    }
    const error = Math.abs(got[i]! - v);
    expect(error, `element ${i}: got ${got[i]}, expected ${v}`).toBeLessThanOrEqual(
      rtol * Math.max(Math.abs(v), Number.MIN_VALUE),
    );
  });
}

const gradOf = (f: (x: Tensor) => Tensor) => grad((x: Tensor) => sum(f(x)));

describe("erf", () => {
  // PyTorch 1.13 torch.erf(torch.tensor(xs, dtype=torch.float64)); the same to the last digit
  // as mpmath 1.2.1's erf at 40 digits rounded to float64. A&S table 7.1 agrees to its 10 digits
  // (erf(0.5) = 0.5204998778, erf(1) = 0.8427007929, erf(2) = 0.9953222650).
  const xs = [0, 0.5, -0.5, 1, 2, 3, -3, 1e-10];
  const erfs = [
    0, 0.5204998778130465, -0.5204998778130465, 0.8427007929497149, 0.9953222650189527,
    0.9999779095030014, -0.9999779095030014, 1.1283791670955126e-10,
  ];

  it("matches PyTorch's float64 erf to within an ulp or two", () => {
    expectRelative(erf(f64(xs)), erfs, 4e-16);
  });

  it("is exactly ±1 for large |x| and keeps −0, ±∞ and NaN", () => {
    // erfc(6) = 2.15e-17 (mpmath 1.2.1), below half an ulp of 1.
    const y = erf(f64([6, -6, 30, Infinity, -Infinity, -0, NaN]));
    expect(Array.from(y.data)).toEqual([1, -1, 1, 1, -1, -0, NaN]);
  });

  it("is accurate at the ends of Cody's ranges (0.46875 and 4)", () => {
    // mpmath 1.2.1: erf at 40 digits, rounded to float64.
    const y = erf(f64([0.46875, -0.46875, 4, -4]));
    expectRelative(
      y,
      [0.49261347321793797, -0.49261347321793797, 0.9999999845827421, -0.9999999845827421],
      4e-16,
    );
  });

  it("keeps float32 and computes int32 in float32", () => {
    const single = erf(tensor([0.5, -3], { dtype: "float32" }));
    expect(single.dtype).toBe("float32");
    // PyTorch 1.13 torch.erf(torch.tensor([0.5, -3.0])) = [0.5204998850822449, -0.9999778866767883].
    expect(Array.from(single.data)).toEqual([0.5204998850822449, -0.9999778866767883]);
    const ints = erf(tensor([0, 1, -2], { dtype: "int32" }));
    expect(ints.dtype).toBe("float32");
    expectRelative(ints, [0, 0.8427007929497149, -0.9953222650189527], 1e-7);
  });

  it("has gradient (2/√π)·e^(−x²)", () => {
    // By hand: (2/√π)e^0 = 1.1283791670955126; mpmath 1.2.1 for the others.
    const g = gradOf(erf)(f64([0, 0.5, 1, -2, 3]));
    expectRelative(
      g,
      [
        1.1283791670955126, 0.8787825789354448, 0.4151074974205947, 0.020666985354092053,
        0.00013925305194674786,
      ],
      1e-15,
    );
  });
});

describe("gelu", () => {
  const xs = [-3, -1, -0.5, 0, 0.5, 1, 3];
  // mpmath 1.2.1 at 40 digits rounded to float64: ½x·erfc(−x/√2), and ½x(1 + tanh(√(2/π)(x +
  // 0.044715x³))). PyTorch 1.13 gives the same but for a few ulps where its 1 + erf(x/√2)
  // cancels (x < 0): gelu(−3) = −0.00404969409489031 there.
  const exact = [
    -0.0040496940948902835, -0.15865525393145705, -0.15426876936299344, 0, 0.34573123063700656,
    0.8413447460685429, 2.99595030590511,
  ];
  const approximate = [
    -0.003637392081773019, -0.1588080093917233, -0.15428599017485609, 0, 0.34571400982514394,
    0.8411919906082767, 2.996362607918227,
  ];
  // PyTorch 1.13 torch.nn.functional.gelu(x, approximate=…) with float64 x.
  const torchExact = [
    -0.00404969409489031, -0.15865525393145702, -0.15426876936299344, 0, 0.34573123063700656,
    0.841344746068543, 2.99595030590511,
  ];
  const torchTanh = [
    -0.0036373920817729943, -0.15880800939172324, -0.15428599017485606, 0, 0.34571400982514394,
    0.8411919906082768, 2.996362607918227,
  ];

  it("is the exact x·Φ(x) by default, as PyTorch", () => {
    // A few ulps: the tail e^(−x²/2) magnifies the rounding of x/√2 about x² times.
    expectRelative(gelu(f64(xs)), exact, 2e-15);
    expectRelative(gelu(f64(xs), { approximate: "none" }), exact, 2e-15);
    expectRelative(gelu(f64(xs)), torchExact, 1e-14);
  });

  it("is PyTorch's tanh approximation with approximate: 'tanh'", () => {
    expectRelative(gelu(f64(xs), { approximate: "tanh" }), approximate, 4e-16);
    expectRelative(gelu(f64(xs), { approximate: "tanh" }), torchTanh, 1e-14);
  });

  it("stays accurate far out on the negative side, where 1 + erf(x/√2) cancels", () => {
    // mpmath 1.2.1: ½x·erfc(−x/√2) at x = −10 and −30, and the tanh form at −10.
    expectRelative(gelu(f64([-10, -30])), [-7.619853024160526e-23, -1.472014178144456e-196], 1e-13);
    expectRelative(gelu(f64([-10]), { approximate: "tanh" }), [-1.2040923482098107e-37], 1e-13);
    expect(Array.from(gelu(f64([Infinity, NaN])).data)).toEqual([Infinity, NaN]);
  });

  it("keeps float32 and computes int32 in float32", () => {
    const single = gelu(tensor([-1, 1], { dtype: "float32" }));
    expect(single.dtype).toBe("float32");
    // Computed in float64 and rounded once: the float32 nearest the exact values above.
    expect(Array.from(single.data)).toEqual([Math.fround(exact[1]!), Math.fround(exact[5]!)]);
    // PyTorch 1.13 gelu(torch.tensor([-1.0, 1.0])), in float32 arithmetic, is within 2 ulps:
    // [-0.1586552858352661, 0.8413447141647339].
    expectRelative(single, [-0.1586552858352661, 0.8413447141647339], 2.5e-7);
    expect(gelu(tensor([1], { dtype: "int32" })).dtype).toBe("float32");
  });

  it("has gradient Φ(x) + x·φ(x), or the tanh form's derivative", () => {
    // PyTorch 1.13 autograd: gelu(x, approximate=…).sum().backward(), float64.
    expectRelative(
      gradOf(gelu)(f64(xs)),
      [
        -0.01194564720418392, -0.08331547058768635, 0.13250487534383712, 0.5, 0.8674951246561629,
        1.0833154705876864, 1.011945647204184,
      ],
      1e-13,
    );
    expectRelative(
      gradOf((x) => gelu(x, { approximate: "tanh" }))(f64(xs)),
      [
        -0.011584166630969648, -0.08296408384578252, 0.13263009646535764, 0.5, 0.8673699035346424,
        1.0829640838457826, 1.0115841666309695,
      ],
      1e-13,
    );
  });

  it("has second derivative φ(x)·(2 − x²)", () => {
    // d/dx (Φ + xφ) = φ + φ + x·(−xφ) = φ(2 − x²), by hand; φ(1) = e^(−½)/√(2π).
    const phi1 = Math.exp(-0.5) / Math.sqrt(2 * Math.PI);
    const second = grad((x: Tensor) => sum(gradOf(gelu)(x)))(f64([0, 1]));
    expectRelative(second, [2 / Math.sqrt(2 * Math.PI), phi1], 1e-14);
  });

  it("rejects an unknown approximate, naming it", () => {
    expectError(
      () => gelu(f64([1]), { approximate: "exact" as "none" }),
      "INVALID_ARGUMENT",
      'gelu: approximate must be "none" or "tanh", got exact',
    );
  });
});

describe("clamp", () => {
  it("clamps to [min, max], as torch.clamp", () => {
    // By hand: min(max(x, −1), 1).
    const x = f64([-2, -1, -0.5, 0, 0.5, 1, 2]);
    expect(Array.from(clamp(x, { min: -1, max: 1 }).data)).toEqual([-1, -1, -0.5, 0, 0.5, 1, 1]);
    expect(Array.from(clamp(x, { min: 0 }).data)).toEqual([0, 0, 0, 0, 0.5, 1, 2]);
    expect(Array.from(clamp(x, { max: -0.5 }).data)).toEqual([
      -2, -1, -0.5, -0.5, -0.5, -0.5, -0.5,
    ]);
    // min = max pins everything (PyTorch 1.13: clamp(x, 0.25, 0.25) is all 0.25).
    expect(Array.from(clamp(x, { min: 0.25, max: 0.25 }).data)).toEqual(Array(7).fill(0.25));
  });

  it("passes NaN through and keeps the shape", () => {
    // PyTorch 1.13: torch.clamp(torch.tensor([nan, 1.]), min=0) = [nan, 1.].
    const y = clamp(f64([[NaN, 1]]), { min: 0, max: 0.5 });
    expect(y.shape).toEqual([1, 2]);
    expect(Array.from(y.data)).toEqual([NaN, 0.5]);
  });

  it("keeps int32 with integer bounds and promotes to float32 with a fractional one", () => {
    // PyTorch 1.13: clamp(int32 [1, 5, −3], min=0, max=2) = int32 [1, 2, 0];
    // clamp(int32 [1, 5, −3], min=0.5) = float32 [1.0, 5.0, 0.5].
    const ints = tensor([1, 5, -3], { dtype: "int32" });
    const same = clamp(ints, { min: 0, max: 2 });
    expect(same.dtype).toBe("int32");
    expect(Array.from(same.data)).toEqual([1, 2, 0]);
    const promoted = clamp(ints, { min: 0.5 });
    expect(promoted.dtype).toBe("float32");
    expect(Array.from(promoted.data)).toEqual([1, 5, 0.5]);
  });

  it("compares float32 with the bounds rounded to float32", () => {
    const y = clamp(tensor([0.1, 0.5], { dtype: "float32" }), { min: 0.1, max: 0.3 });
    expect(Array.from(y.data)).toEqual([Math.fround(0.1), Math.fround(0.3)]);
  });

  it("lets the gradient through where min ≤ x ≤ max, bounds included (PyTorch's rule)", () => {
    // PyTorch 1.13: x = [−1, 0, 1, 2], clamp(x, 0, 1).sum().backward() gives [0, 1, 1, 0].
    const g = gradOf((x) => clamp(x, { min: 0, max: 1 }))(f64([-1, 0, 1, 2]));
    expect(Array.from(g.data)).toEqual([0, 1, 1, 0]);
    const upper = grad((x: Tensor) => sum(mul(clamp(x, { max: 1 }), f64([2, 3, 4]))));
    expect(Array.from(upper(f64([0, 1, 5])).data)).toEqual([2, 3, 0]);
  });

  it("maps over a batch (vmap)", () => {
    const rows = f64([
      [-2, 0.5],
      [3, -0.25],
    ]);
    const y = vmap((x: Tensor) => clamp(x, { min: -1, max: 1 }), { inAxes: 1 })(rows);
    expect(Array.from(y.data)).toEqual([-1, 1, 0.5, -0.25]);
  });

  it("needs a bound, and min ≤ max, naming them", () => {
    const x = f64([1]);
    expectError(
      () => clamp(x, {}),
      "INVALID_ARGUMENT",
      "clamp: at least one of min and max must be given, got neither",
    );
    expectError(
      () => clamp(x, { min: 2, max: 1 }),
      "INVALID_ARGUMENT",
      "clamp: min must not exceed max, got min 2 and max 1",
    );
    expectError(
      () => clamp(x, { min: NaN }),
      "INVALID_ARGUMENT",
      "clamp: min must be a number or undefined, got NaN",
    );
    expectError(
      () => clamp(x, { max: "1" as unknown as number }),
      "INVALID_ARGUMENT",
      "clamp: max must be a number or undefined, got 1",
    );
    // PyTorch 1.13 raises too: "value cannot be converted to type int without overflow".
    expectError(
      () => clamp(tensor([1], { dtype: "int32" }), { min: 2 ** 31 }),
      "INVALID_ARGUMENT",
      "clamp: min must fit int32 for an int32 x, got 2147483648",
    );
    expect(caught(() => clamp(x, undefined as unknown as { min: number })).code).toBe(
      "INVALID_ARGUMENT",
    );
  });
});
