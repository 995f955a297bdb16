"""PyTorch's side of scripts/cpuTargets.ts: the same cells, timed with the same repetition rule.

- LeNet-5 and the small ResNet of packages/train/src/models.ts: one training step at batch 64
  (forward, mean cross-entropy, backward, torch.optim.Adam at lr 1e-3) on random [64, 1, 28, 28]
  float32 images and random labels, the steps cycling through 16 such batches (trained on one
  batch for hundreds of steps, a model fits it and its gradients sink into subnormal numbers,
  whose arithmetic is many times slower);
- conv 32×32×32×32 → 64, 3×3, padding 1, and LeNet's second conv 64×6×12×12 → 16, 5×5: forward
  with bias, then the gradients w.r.t. input, weight and bias for a fixed cotangent;
- matmul 1024×1024×1024.

Run with Debian's PyTorch: /usr/bin/python3 scripts/cpu_targets_torch.py [--threads 2] [--json]
[--cells lenetStep,matmul1024] (default: every cell). With --json it prints one JSON object (what
cpuTargets.ts reads), else a line of text.
"""

import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_bench import parse_args, report, time_step

BATCH = 64


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )


def conv_bn(cin, cout, kernel, stride=1):
    return [
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=(kernel - 1) // 2, bias=False),
        nn.BatchNorm2d(cout),
    ]


class BasicBlock(nn.Module):
    """Two 3×3 conv + batch norm layers; a 1×1 projection shortcut where the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.Sequential(
            *conv_bn(cin, cout, 3, stride), nn.ReLU(), *conv_bn(cout, cout, 3)
        )
        projects = stride != 1 or cin != cout
        self.shortcut = nn.Sequential(*conv_bn(cin, cout, 1, stride)) if projects else None

    def forward(self, x):
        skip = x if self.shortcut is None else self.shortcut(x)
        return F.relu(self.body(x) + skip)


def resnet():
    return nn.Sequential(
        *conv_bn(1, 32, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        BasicBlock(32, 32, 1),
        BasicBlock(32, 64, 2),
        BasicBlock(64, 128, 2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(128, 10),
    )


BATCHES = 16


def training_step(model):
    xs = [torch.randn(BATCH, 1, 28, 28) for _ in range(BATCHES)]
    ys = [torch.randint(0, 10, (BATCH,)) for _ in range(BATCHES)]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    calls = [0]

    def step():
        i = calls[0] % BATCHES
        calls[0] += 1
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xs[i]), ys[i])
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def conv_step(n, cin, cout, size, kernel, padding):
    x = torch.randn(n, cin, size, size, requires_grad=True)
    w = torch.randn(cout, cin, kernel, kernel, requires_grad=True)
    b = torch.randn(cout, requires_grad=True)
    out = size + 2 * padding - kernel + 1
    dy = torch.randn(n, cout, out, out)

    def step():
        y = F.conv2d(x, w, b, padding=padding)
        torch.autograd.grad(y, (x, w, b), dy)

    return step


def main():
    # --cells is this script's own flag; torch_bench.parse_args reads the shared ones.
    cells_wanted = None
    if "--cells" in sys.argv:
        at = sys.argv.index("--cells")
        cells_wanted = sys.argv[at + 1].split(",")
        del sys.argv[at : at + 2]
    args = parse_args(__doc__)
    torch.manual_seed(0)
    a = torch.randn(1024, 1024)
    b = torch.randn(1024, 1024)
    cells = {
        "lenetStep": training_step(lenet()),
        "resnetStep": training_step(resnet()),
        "conv32to64": conv_step(32, 32, 64, 32, 3, 1),
        "lenetConv2": conv_step(64, 6, 16, 12, 5, 0),
        "matmul1024": lambda: a @ b,
    }
    wanted = cells_wanted or list(cells)
    medians = {name: time_step(cells[name], args)[0] for name in wanted}
    text = ", ".join(f"{name} {ms:.2f} ms" for name, ms in medians.items())
    report(args, {"medianMs": medians}, text)


if __name__ == "__main__":
    main()
