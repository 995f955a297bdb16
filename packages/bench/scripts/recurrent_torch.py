"""PyTorch's side of scripts/recurrent.ts: training steps of nn.LSTM and nn.GRU.

One layer each, input 32, hidden 128, batch_first, on a random [64, 16, 32] float32 batch: forward,
mean squared error of every step's output against a random target, backward, torch.optim.Adam
update (lr 1e-3). The same steps recurrent.ts times in tapegrad, with the same repetition rule
as packages/bench/src/timing.ts.

Run with Debian's PyTorch: /usr/bin/python3 scripts/recurrent_torch.py [--threads 2] [--json]
With --json it prints one JSON object (what recurrent.ts reads), else a line of text.
"""

import torch
import torch.nn.functional as F

from torch_bench import parse_args, report, time_step

INPUT = 32
HIDDEN = 128
SEQUENCE = 16
BATCH = 64


def time_layer(layer_type, args):
    """Median ms and runs of one training step of a one-layer `layer_type`."""
    torch.manual_seed(0)
    layer = layer_type(INPUT, HIDDEN, batch_first=True)
    x = torch.randn(BATCH, SEQUENCE, INPUT)
    target = torch.randn(BATCH, SEQUENCE, HIDDEN)
    optimizer = torch.optim.Adam(layer.parameters(), lr=1e-3)

    def step():
        optimizer.zero_grad(set_to_none=True)
        output, _ = layer(x)
        loss = F.mse_loss(output, target)
        loss.backward()
        optimizer.step()
        return loss.item()

    return time_step(step, args)


def main():
    args = parse_args(__doc__)
    lstm_ms, lstm_runs = time_layer(torch.nn.LSTM, args)
    gru_ms, gru_runs = time_layer(torch.nn.GRU, args)
    report(
        args,
        {"lstmMs": lstm_ms, "lstmRuns": lstm_runs, "gruMs": gru_ms, "gruRuns": gru_runs},
        f"LSTM training step {lstm_ms:.1f} ms, GRU {gru_ms:.1f} ms (medians, Adam included)",
    )


if __name__ == "__main__":
    main()
