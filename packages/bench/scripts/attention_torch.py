"""PyTorch's side of scripts/attention.ts: one training step of nn.TransformerEncoderLayer.

d_model 128, 4 heads, dim_feedforward 512, dropout 0, batch_first, ReLU, post-norm (PyTorch's
defaults otherwise), on a random [32, 64, 128] float32 batch: forward, mean squared error against
a random target, backward, torch.optim.Adam update (lr 1e-3). The same step attention.ts times in
tapegrad, with the same repetition rule as packages/bench/src/timing.ts.

Run with Debian's PyTorch: /usr/bin/python3 scripts/attention_torch.py [--threads 2] [--json]
With --json it prints one JSON object (what attention.ts reads), else a line of text.
"""

import torch
import torch.nn.functional as F

from torch_bench import parse_args, report, time_step

D_MODEL = 128
HEADS = 4
FEEDFORWARD = 512
SEQUENCE = 64
BATCH = 32


def main():
    args = parse_args(__doc__)
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(
        d_model=D_MODEL,
        nhead=HEADS,
        dim_feedforward=FEEDFORWARD,
        dropout=0.0,
        batch_first=True,
    )
    # Training mode: PyTorch's fused inference fast path does not apply, as in tapegrad's step.
    layer.train()
    x = torch.randn(BATCH, SEQUENCE, D_MODEL)
    target = torch.randn(BATCH, SEQUENCE, D_MODEL)
    optimizer = torch.optim.Adam(layer.parameters(), lr=1e-3)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.mse_loss(layer(x), target)
        loss.backward()
        optimizer.step()
        return loss.item()

    median, runs = time_step(step, args)
    report(
        args,
        {"medianMs": median, "runs": runs},
        f"transformerEncoderLayer training step (Adam included) {median:.1f} ms median over "
        f"{runs} steps",
    )


if __name__ == "__main__":
    main()
