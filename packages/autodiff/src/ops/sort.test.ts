import { describe, expect, it } from "vitest";
import {
  TapegradError,
  grad,
  mul,
  scatterAddAlongAxis,
  sort,
  stack,
  sum,
  takeAlongAxis,
  tensor,
  topk,
  vmap,
  type Tensor,
} from "../index.js";
import { checkGrads } from "../testing/checkGrads.js";

const f64 = (values: number[] | number[][]) => tensor(values, { dtype: "float64" });
const idx = (values: number[] | number[][]) => tensor(values, { dtype: "int32" });
const arrays = ([values, indices]: readonly [Tensor, Tensor]) => [
  values.toArray(),
  indices.toArray(),
];

function errorOf(f: () => unknown): TapegradError {
  try {
    f();
  } catch (e) {
    if (e instanceof TapegradError) return e;
    throw e;
  }
  throw new Error("expected a TapegradError");
}

describe("sort", () => {
  it("sorts the last axis ascending and returns int32 indices", () => {
    const [values, indices] = sort(f64([3, 1, 2]));
    expect(values.toArray()).toEqual([1, 2, 3]);
    expect(indices.toArray()).toEqual([1, 2, 0]);
    expect(values.dtype).toBe("float64");
    expect(indices.dtype).toBe("int32");
  });

  it("is stable: ties keep their order, ascending and descending", () => {
    // torch.sort(tensor([2.,1,2,1]), stable=True) = ([1,1,2,2], [1,3,0,2]), and with
    // descending=True ([2,2,1,1], [0,2,1,3]) (PyTorch 1.13).
    expect(arrays(sort(f64([2, 1, 2, 1])))).toEqual([
      [1, 1, 2, 2],
      [1, 3, 0, 2],
    ]);
    expect(arrays(sort(f64([2, 1, 2, 1]), { descending: true }))).toEqual([
      [2, 2, 1, 1],
      [0, 2, 1, 3],
    ]);
  });

  it("puts NaN last, or first when descending, as PyTorch 1.13 does", () => {
    // torch.sort(tensor([2., nan, -1, nan, 0]), stable=True): indices [2,4,0,1,3]; descending:
    // [1,3,0,4,2] (PyTorch 1.13).
    const x = f64([2, NaN, -1, NaN, 0]);
    const [values, indices] = sort(x);
    expect(Array.from(values.data)).toEqual([-1, 0, 2, NaN, NaN]);
    expect(indices.toArray()).toEqual([2, 4, 0, 1, 3]);
    expect(sort(x, { descending: true })[1].toArray()).toEqual([1, 3, 0, 4, 2]);
  });

  it("sorts along any axis, each line on its own", () => {
    const x = f64([
      [3, 1, 2],
      [0, 5, 4],
    ]);
    expect(arrays(sort(x, { axis: 0 }))).toEqual([
      [
        [0, 1, 2],
        [3, 5, 4],
      ],
      [
        [1, 0, 0],
        [0, 1, 1],
      ],
    ]);
    expect(arrays(sort(x, { axis: -1, descending: true }))).toEqual([
      [
        [3, 2, 1],
        [5, 4, 0],
      ],
      [
        [0, 2, 1],
        [1, 2, 0],
      ],
    ]);
  });

  it("takes int32 and scalars (torch.sort(tensor(3.)) = (3, 0)) and empty axes", () => {
    expect(arrays(sort(idx([5, -2, 7])))).toEqual([
      [-2, 5, 7],
      [1, 0, 2],
    ]);
    expect(sort(idx([5, -2, 7]))[0].dtype).toBe("int32");
    expect(arrays(sort(tensor(3, { dtype: "float64" })))).toEqual([3, 0]);
    expect(sort(tensor([], { shape: [2, 0] }))[0].shape).toEqual([2, 0]);
  });

  it("values are x taken along the axis at indices", () => {
    const x = f64([
      [0.5, -1, 2],
      [3, 0.25, -2],
    ]);
    const [values, indices] = sort(x, { axis: 1 });
    expect(takeAlongAxis(x, indices, { axis: 1 }).toArray()).toEqual(values.toArray());
  });

  it("gradient: dy goes back to where each value came from", () => {
    // d/dx Σ w_j·sorted(x)_j at x = [0.3, 0.1, 0.2]: x_0 is the largest, so it gets w_2.
    const w = f64([10, 20, 30]);
    const dx = grad((x: Tensor) => sum(mul(sort(x)[0], w)))(f64([0.3, 0.1, 0.2]));
    expect(dx.toArray()).toEqual([30, 10, 20]);
    const x = f64([
      [0.4, -0.3, 1.2],
      [2.1, 0.7, -1.5],
    ]);
    checkGrads((x: Tensor) => sort(x, { axis: 0 })[0], [x], { order: 2, modes: ["rev", "fwd"] });
  });
});

describe("topk", () => {
  it("the k largest, ties to the earlier position", () => {
    // torch.topk(tensor([1.,3,3,2]), 2) = ([3,3], [1,2]) (PyTorch 1.13).
    expect(arrays(topk(f64([1, 3, 3, 2]), 2))).toEqual([
      [3, 3],
      [1, 2],
    ]);
    // The k smallest; the tie between positions 1 and 2 goes to 1 (torch.topk leaves the order
    // of ties unspecified; this is torch.sort(stable=True)[:3]).
    expect(arrays(topk(f64([1, 3, 3, 2]), 3, { largest: false }))).toEqual([
      [1, 2, 3],
      [0, 3, 1],
    ]);
  });

  it("sorted: false keeps the chosen entries in their order in x", () => {
    expect(arrays(topk(f64([5, 1, 4, 3]), 2, { sorted: false }))).toEqual([
      [5, 4],
      [0, 2],
    ]);
    expect(arrays(topk(f64([5, 1, 4, 3]), 3, { sorted: false, largest: false }))).toEqual([
      [1, 4, 3],
      [1, 2, 3],
    ]);
  });

  it("along an axis, k = 0 and NaN as the largest (torch.topk([2, nan, -1, 5], 2) = [nan, 5])", () => {
    const x = f64([
      [3, 1, 2],
      [0, 5, 4],
    ]);
    expect(arrays(topk(x, 1, { axis: 0 }))).toEqual([[[3, 5, 4]], [[0, 1, 1]]]);
    expect(topk(x, 0)[0].shape).toEqual([2, 0]);
    const [values, indices] = topk(f64([2, NaN, -1, 5]), 2);
    expect(Array.from(values.data)).toEqual([NaN, 5]);
    expect(indices.toArray()).toEqual([1, 3]);
  });

  it("gradient: dy at the chosen positions, zero elsewhere", () => {
    const x = f64([0.5, -0.2, 0.9, 0.1]);
    const dx = grad((x: Tensor) => sum(mul(topk(x, 2)[0], f64([1, 2]))))(x);
    expect(dx.toArray()).toEqual([2, 0, 1, 0]);
    const m = f64([
      [0.4, -0.3, 1.2, 0.8],
      [2.1, 0.7, -1.5, 0.2],
    ]);
    checkGrads((m: Tensor) => topk(m, 2, { largest: false })[0], [m], { order: 2 });
  });

  it("under vmap, maps each slice (a batch along the last axis too)", () => {
    const xs = f64([
      [0.3, 0.9, 0.1],
      [0.8, 0.2, 0.5],
    ]);
    const [values, indices] = vmap((x: Tensor) => topk(x, 2), { inAxes: 1 })(xs);
    const rows = xs.toArray() as number[][];
    const slices = [0, 1, 2].map((j) => topk(f64([rows[0]![j]!, rows[1]![j]!]), 2));
    expect(values.toArray()).toEqual(stack(slices.map((s) => s[0])).toArray());
    expect(indices.toArray()).toEqual(stack(slices.map((s) => s[1])).toArray());
  });
});

describe("takeAlongAxis and scatterAddAlongAxis", () => {
  const x = f64([
    [1, 2, 3],
    [4, 5, 6],
  ]);

  it("takeAlongAxis reads x at the indices along the axis (numpy.take_along_axis)", () => {
    // Hand: row 0 reads [x00, x02, x00], row 1 [x11, x11, x12]; −1 is the last column.
    expect(
      takeAlongAxis(
        x,
        idx([
          [0, 2, 0],
          [1, 1, -1],
        ]),
        { axis: 1 },
      ).toArray(),
    ).toEqual([
      [1, 3, 1],
      [5, 5, 6],
    ]);
    expect(takeAlongAxis(x, idx([[1, 0, 1]]), { axis: 0 }).toArray()).toEqual([[4, 2, 6]]);
  });

  it("scatterAddAlongAxis adds updates at the indices, repeats accumulating (torch.scatter_add)", () => {
    const y = scatterAddAlongAxis(
      f64([
        [1, 2, 3],
        [4, 5, 6],
      ]),
      idx([
        [0, 0, 2],
        [1, 1, 1],
      ]),
      {
        shape: [2, 3],
        axis: 1,
      },
    );
    expect(y.toArray()).toEqual([
      [3, 0, 3],
      [0, 15, 0],
    ]);
  });

  it("each is the other's gradient", () => {
    const indices = idx([
      [0, 2, 0, 1],
      [1, 1, -1, 0],
    ]);
    checkGrads((x: Tensor) => takeAlongAxis(x, indices, { axis: 1 }), [x], { order: 2 });
    const updates = f64([
      [0.5, -1, 2, 0.25],
      [1.5, 3, -0.5, 1],
    ]);
    checkGrads(
      (u: Tensor) => scatterAddAlongAxis(u, indices, { shape: [2, 3], axis: 1 }),
      [updates],
      { order: 2 },
    );
    const dx = grad((x: Tensor) => sum(takeAlongAxis(x, indices, { axis: 1 })))(x);
    expect(dx.toArray()).toEqual([
      [2, 1, 1],
      [1, 2, 1],
    ]);
  });
});

describe("errors name the op, the argument, what was expected and what was got", () => {
  it("sort and topk check axis, k and their flags", () => {
    const x = f64([
      [1, 2],
      [3, 4],
    ]);
    expect(errorOf(() => sort(x, { axis: 2 })).message).toBe(
      "sort: axis 2 is out of range for a tensor of rank 2",
    );
    expect(errorOf(() => sort(x, { descending: "yes" as unknown as boolean })).message).toBe(
      "sort: descending must be a boolean, got yes",
    );
    const k = errorOf(() => topk(x, 3));
    expect(k.code).toBe("INVALID_ARGUMENT");
    expect(k.message).toBe(
      "topk: k must be an integer in 0…2 (the size of axis 1 of x, shape [2,2]), got 3",
    );
    expect(errorOf(() => topk(x, 1.5, { axis: 0 })).message).toMatch(/got 1\.5$/);
    expect(errorOf(() => topk(tensor(1, { dtype: "float64" }), 1)).message).toBe(
      "topk: x is a scalar; topk needs rank ≥ 1",
    );
    expect(errorOf(() => sort(x, 1 as unknown as object)).message).toBe(
      "sort: options must be an object, got 1",
    );
  });

  it("takeAlongAxis and scatterAddAlongAxis check the indices' dtype, shape and range", () => {
    const x = f64([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const dtype = errorOf(() => takeAlongAxis(x, f64([[0], [1]]), { axis: 1 }));
    expect(dtype.code).toBe("DTYPE_MISMATCH");
    expect(dtype.message).toBe(
      "takeAlongAxis: indices must be int32 (as sort and topk give them), got float64",
    );
    expect(errorOf(() => takeAlongAxis(x, idx([[0], [1], [2]]), { axis: 1 })).message).toBe(
      "takeAlongAxis: indices has shape [3,1], expected [2,*]: x of shape [2,3] with any size " +
        "along axis 1",
    );
    expect(errorOf(() => takeAlongAxis(x, idx([[0], [3]]), { axis: 1 })).message).toBe(
      "takeAlongAxis: indices[1,0] = 3 is out of range for axis 1 of x of shape [2,3]; " +
        "expected -3 ≤ index < 3",
    );
    expect(
      errorOf(() => scatterAddAlongAxis(f64([1, 2]), idx([0, 1, 1]), { shape: [3], axis: 0 }))
        .message,
    ).toBe("scatterAddAlongAxis: updates has shape [2], expected indices' shape [3]");
    expect(
      errorOf(() => scatterAddAlongAxis(f64([1]), idx([0]), { shape: [-1], axis: 0 })).code,
    ).toBe("INVALID_ARGUMENT");
  });
});
