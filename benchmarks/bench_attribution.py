"""How long each attribution method takes on one 32x32 image of ResNet-56, on two CPU threads.

Goal: all six methods together within 2 s on two CPU cores (the time a student waits after
moving a slider in the attribution explorer). Prints, per method, the best wall time of a few
repeats, the CPU time of that run, and the ratio to one plain gradient (saliency) measured in
the same run; then the totals. The same is measured on one thread as a baseline: when other
jobs share the two cores, two threads can be several times slower than one, and the
one-thread CPU time is the work itself.

    python benchmarks/bench_attribution.py [--repeats 3] [--depth 56] [--threads 2 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from resnet_explorer.attribution import METHODS, attribute  # noqa: E402
from resnet_explorer.attribution_methods import ATTRIBUTION_METHODS  # noqa: E402
from resnet_explorer.models import build_model  # noqa: E402

GOAL_SECONDS = 2.0


def time_method(model, image, method, repeats):
    best = (float("inf"), 0.0)
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        attribute(model, image, method)
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best


def measure(depth: int, threads: int, repeats: int) -> float:
    """Print one table per input (1 and 3 channels) on ``threads`` threads; return the larger total."""
    torch.set_num_threads(threads)
    worst_total = 0.0
    for in_channels in (1, 3):
        torch.manual_seed(0)
        model = build_model(depth, shortcut="A", in_channels=in_channels)
        image = torch.randn(1, in_channels, 32, 32)
        attribute(model, image, "saliency")  # warm-up: first calls import captum, allocate
        results = {m: time_method(model, image, m, repeats) for m in METHODS}
        gradient = results["saliency"][0]
        print(f"\n{model.config.name}, one {in_channels}x32x32 image, {threads} thread(s)")
        print(f"  {'method':<22}{'wall s':>8}{'cpu s':>8}{'x gradient':>12}")
        for method, (wall, cpu) in results.items():
            print(f"  {method:<22}{wall:8.3f}{cpu:8.3f}{wall / gradient:12.1f}")
        total = sum(wall for wall, _ in results.values())
        cpu_total = sum(cpu for _, cpu in results.values())
        print(f"  {'total':<22}{total:8.3f}{cpu_total:8.3f}{total / gradient:12.1f}")
        worst_total = max(worst_total, total)
    return worst_total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--depth", type=int, default=56)
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    args = parser.parse_args()

    load = f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "unknown"
    print(f"torch {torch.__version__}, best of {args.repeats}, load average {load} on "
          f"{os.cpu_count()} cores (other jobs on the cores slow two threads most)")
    options = {name: method.defaults for name, method in ATTRIBUTION_METHODS.items() if method.options}
    print("defaults:", "; ".join(f"{m} {o}" for m, o in options.items()))
    totals = {threads: measure(args.depth, threads, args.repeats) for threads in args.threads}
    print()
    for threads, total in totals.items():
        verdict = "within" if total <= GOAL_SECONDS else "OVER"
        print(f"{threads} thread(s): slowest total {total:.2f} s, {verdict} the {GOAL_SECONDS:.0f} s goal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
