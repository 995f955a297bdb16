"""PyTorch's side of scripts/attention.ts: one training step of nn.TransformerEncoderLayer.

d_model 128, 4 heads, dim_feedforward 512, dropout 0, batch_first, ReLU, post-norm (PyTorch's
defaults otherwise), on a random [32, 64, 128] float32 batch: forward, mean squared error against
a random target, backward, torch.optim.Adam update (lr 1e-3). The same step attention.ts times in
tapegrad, with the same repetition rule as packages/bench/src/timing.ts.

Run with Debian's PyTorch: /usr/bin/python3 scripts/attention_torch.py [--threads 2] [--json]
With --json it prints one JSON object (what attention.ts reads), else a line of text.
"""

import argparse
import gc
import json
import os
import time

import torch
import torch.nn.functional as F

D_MODEL = 128
HEADS = 4
FEEDFORWARD = 512
SEQUENCE = 64
BATCH = 32


def time_adaptive(run, warmup, warmup_budget_ms, min_runs, max_runs, budget_ms):
    """timing.ts's timeAdaptive: a full collection, untimed warm-up calls until `warmup` calls or
    `warmup_budget_ms` (at least one), then timed calls until both `min_runs` calls and
    `budget_ms` are done, at most `max_runs`. Returns (median ms, timed calls)."""
    gc.collect()
    start = time.perf_counter()
    for i in range(warmup):
        if i > 0 and (time.perf_counter() - start) * 1e3 >= warmup_budget_ms:
            break
        run()
    times = []
    total = 0.0
    while len(times) < max_runs and (len(times) < min_runs or total < budget_ms):
        t0 = time.perf_counter()
        run()
        elapsed = (time.perf_counter() - t0) * 1e3
        times.append(elapsed)
        total += elapsed
    times.sort()
    mid = len(times) // 2
    median = times[mid] if len(times) % 2 == 1 else (times[mid - 1] + times[mid]) / 2
    return median, len(times)


def blas_libraries():
    """The BLAS libraries this process has mapped, or None where /proc is missing. Debian's torch
    calls whatever libblas.so.3 its alternatives select: by default the netlib reference BLAS,
    a few GFLOP/s, which then bounds every linear layer's time."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "/" in line}
    except OSError:
        return None
    names = sorted(p for p in paths if any(n in os.path.basename(p) for n in ("blas", "mkl")))
    return ", ".join(names) or "none mapped"


def matmul_gflops():
    """GFLOP/s of one 512³ float32 matmul (median of 5 after 2 warm-ups): the GEMM rate."""
    a = torch.randn(512, 512)
    b = torch.randn(512, 512)
    median, _ = time_adaptive(lambda: a @ b, 2, 1000, 5, 5, 0)
    return 2 * 512**3 / (median * 1e-3) / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--warmup-budget-ms", type=float, default=1000)
    parser.add_argument("--min-runs", type=int, default=3)
    parser.add_argument("--max-runs", type=int, default=15)
    parser.add_argument("--budget-ms", type=float, default=700)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
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

    median, runs = time_adaptive(
        step,
        args.warmup,
        args.warmup_budget_ms,
        args.min_runs,
        args.max_runs,
        args.budget_ms,
    )
    result = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": blas_libraries(),
        "matmulGflops": matmul_gflops(),
        "medianMs": median,
        "runs": runs,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"PyTorch {result['torch']}, {result['threads']} threads: transformerEncoderLayer "
            f"training step (Adam included) {median:.1f} ms median over {runs} steps; "
            f"BLAS {result['blas']}, 512³ matmul {result['matmulGflops']:.1f} GFLOP/s"
        )


if __name__ == "__main__":
    main()
