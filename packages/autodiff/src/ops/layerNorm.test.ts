import { describe, expect, it } from "vitest";
import {
  cast,
  grad,
  layerNorm,
  layerNormBackward,
  mul,
  ones,
  sum,
  tensor,
  zeros,
  type Tensor,
} from "../index.js";
import { expectError, expectValues, f64 } from "../../test/helpers.js";

// References from PyTorch 1.13 (CPU), float64:
//   import torch, torch.nn.functional as F
//   x = torch.tensor([[1.,2.,3.,6.],[0.5,-1.,4.,2.]], dtype=torch.float64, requires_grad=True)
//   w = torch.tensor([0.5,1.,-2.,1.5], dtype=torch.float64, requires_grad=True)
//   b = torch.tensor([0.1,0.,0.2,-0.3], dtype=torch.float64, requires_grad=True)
//   dy = torch.tensor([[1.,-1.,0.5,2.],[0.,1.,-0.5,0.25]], dtype=torch.float64)
//   y = F.layer_norm(x, (4,), w, b, 1e-5); y.backward(dy)
//   torch.ops.aten.native_layer_norm(x, [4], w, b, 1e-5)   # (y, mean, rstd)
const x = f64([
  [1, 2, 3, 6],
  [0.5, -1, 4, 2],
]);
const weight = f64([0.5, 1, -2, 1.5]);
const bias = f64([0.1, 0, 0.2, -0.3]);
const dy = f64([
  [1, -1, 0.5, 2],
  [0, 1, -0.5, 0.25],
]);
const torchY = [
  -0.4345217202229369, -0.5345217202229369, 0.20000000000000023, 2.1053477410032153,
  -0.1365077368579913, -1.2838991429433815, -2.6380928422958956, 0.20680229326712418,
];
const torchMean = [3, 1.375];
const torchRstd = [0.53452172022293676, 0.54058911281826583];
const torchDx = [
  0.7540554631995054, -0.39134724122071884, -0.7349673653065381, 0.3722591433277517,
  -0.30423570259298843, 0.2650489813273177, 0.16939707765384993, -0.1302103563881791,
];
const torchDweight = [
  -1.0690434404458737, -0.7493774227204446, -0.7095232105739739, 3.291597370215474,
];
const torchDbias = [1, 0, 0, 2.25];

describe("layerNorm", () => {
  it("matches PyTorch's F.layer_norm, with the per-row mean and rstd", () => {
    const [y, mean, rstd] = layerNorm(x, weight, bias);
    expectValues(y, [2, 4], torchY);
    expectValues(mean, [2], torchMean);
    expectValues(rstd, [2], torchRstd);
  });

  it("matches PyTorch's gradients, from the op and through grad", () => {
    const [, mean, rstd] = layerNorm(x, weight, bias);
    const [dx, dweight, dbias] = layerNormBackward(dy, x, weight, mean, rstd);
    expectValues(dx, [2, 4], torchDx);
    expectValues(dweight, [4], torchDweight);
    expectValues(dbias, [4], torchDbias);
    const loss = (v: Tensor, w: Tensor, b: Tensor) => sum(mul(layerNorm(v, w, b)[0], dy));
    const [gx, gw, gb] = grad(loss, { argnums: [0, 1, 2] })(x, weight, bias);
    expectValues(gx, [2, 4], torchDx);
    expectValues(gw, [4], torchDweight);
    expectValues(gb, [4], torchDbias);
  });

  it("matches PyTorch at second order", () => {
    // gx = torch.autograd.grad((y*dy).sum(), x, create_graph=True)[0]
    // torch.autograd.grad((gx*gx).sum(), x)[0]
    const torchHessianProduct = [
      -0.11807660764210753, 0.4690214119223865, 0.5051005976676385, -0.8560454019479176,
      0.03829271923694691, 0.062201211065691764, -0.08643846683948109, -0.014055463463157575,
    ];
    const gx = (v: Tensor) => grad((u: Tensor) => sum(mul(layerNorm(u, weight, bias)[0], dy)))(v);
    const h = grad((v: Tensor) => sum(mul(gx(v), gx(v))))(x);
    expectValues(h, [2, 4], torchHessianProduct, 10);
  });

  it("normalises over as many trailing axes as weight has, in float32", () => {
    // F.layer_norm(torch.arange(12, dtype=torch.float32).reshape(2,2,3)**1.5, (2,3), eps=1e-5)
    const torchY32 = [
      -1.197790265083313, -0.9429857134819031, -0.4770941734313965, 0.1262129694223404,
      0.8406461477279663, 1.6510112285614014, -1.4035429954528809, -0.8905928730964661,
      -0.33956241607666016, 0.24707861244678497, 0.8672863245010376, 1.5193337202072144,
    ];
    const values = Array.from({ length: 12 }, (_, i) => Math.fround(i ** 1.5));
    const x32 = tensor(values, { shape: [2, 2, 3] });
    const [y, mean, rstd] = layerNorm(x32, ones([2, 3]), zeros([2, 3]));
    expect(y.dtype).toBe("float32");
    expect(mean.shape).toEqual([2]);
    expect(rstd.dtype).toBe("float32");
    expectValues(y, [2, 2, 3], torchY32, 5);
    const [y64] = layerNorm(
      cast(x32, "float64"),
      ones([2, 3], "float64"),
      zeros([2, 3], "float64"),
    );
    expectValues(y64, [2, 2, 3], torchY32, 6);
  });

  it("names the argument whose shape or dtype does not fit", () => {
    expectError(
      () => layerNorm(x, f64([1, 1, 1]), f64([0, 0, 0])),
      "SHAPE_MISMATCH",
      "layerNorm: weight must have the shape of x's trailing axes it normalises over: x is " +
        "[2,4], weight is [3]",
    );
    expectError(
      () => layerNorm(x, weight, f64([0, 0])),
      "SHAPE_MISMATCH",
      "layerNorm: bias must have shape [4], got [2]",
    );
    expectError(
      () => layerNorm(x, ones([4]), bias),
      "DTYPE_MISMATCH",
      "layerNorm: weight is float32 but x is float64: they must match",
    );
    expectError(
      () => layerNorm(x, weight, bias, { eps: 0 }),
      "INVALID_ARGUMENT",
      "layerNorm: eps must be a positive finite number, got 0",
    );
    expectError(
      () => layerNormBackward(dy, x, weight, f64([0, 0, 0]), f64([1, 1])),
      "SHAPE_MISMATCH",
      "layerNormBackward: mean must have shape [2], got [3]",
    );
  });
});
