"""What the PyTorch peers of the bench scripts share: their command line, the repetition rule of
packages/bench/src/timing.ts, and the facts about the process they report beside their timings
(src/torch.ts runs them and reads the JSON line they print)."""

import argparse
import gc
import json
import os
import time

import torch


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


def parse_args(doc):
    """The flags src/torch.ts passes (threads and timing.ts's repetition rule); sets the thread
    count."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--warmup-budget-ms", type=float, default=1000)
    parser.add_argument("--min-runs", type=int, default=3)
    parser.add_argument("--max-runs", type=int, default=15)
    parser.add_argument("--budget-ms", type=float, default=700)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    return args


def time_step(step, args):
    """time_adaptive with the repetition rule given on the command line."""
    return time_adaptive(
        step, args.warmup, args.warmup_budget_ms, args.min_runs, args.max_runs, args.budget_ms
    )


def report(args, timings, text):
    """Prints the timings with the process's facts: one JSON object with --json, else a line."""
    result = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": blas_libraries(),
        "matmulGflops": matmul_gflops(),
        **timings,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"PyTorch {result['torch']}, {result['threads']} threads: {text}; "
            f"BLAS {result['blas']}, 512³ matmul {result['matmulGflops']:.1f} GFLOP/s"
        )
