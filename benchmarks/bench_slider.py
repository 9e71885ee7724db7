"""How long the architecture explorer takes to follow a slider, and whether it leaks memory.

    python benchmarks/bench_slider.py

A slider change rebuilds the net, counts it, draws the diagram, runs both probes on the net and
its twin, and updates three FigureWidgets in place; all of it runs in the kernel before the next
event. Measured here, in one run:

- the median of 10 depth-slider changes landing on ResNet-56 and on ResNet-110 (goals: 1 s and
  2 s on 2 cores), with the parameter/multiply-add cache cleared before each change;
- as a baseline, one bare forward + backward pass of the same net on the same batch (the
  irreducible cost of a gradient probe), and the ratio of a slider change to it;
- the same changes with torch's own thread setting instead of the explorer's one thread;
- RSS growth over 100 slider changes across depths 8..110, after gc (goal: under 50 MB).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

import torch
import torch.nn.functional as F

from resnet_explorer.speed import thread_limit
from resnet_explorer.widgets.architecture_explorer import ArchitectureExplorer

GOALS = {56: 1.0, 110: 2.0}
MEMORY_GOAL_MB = 50.0


def rss_mb() -> float:
    """Resident memory of this process, from /proc/self/status, after a garbage collection."""
    gc.collect()
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def slider_change_seconds(explorer: ArchitectureExplorer, depth: int, changes: int) -> list[float]:
    """Time `changes` slider moves that land on `depth` (each from the depth below)."""
    slider = explorer.controls["depth"]
    times = []
    for _ in range(changes):
        slider.value = depth - 6
        explorer._count_cache.clear()  # count every change from scratch: the worst case
        started = time.perf_counter()
        slider.value = depth
        times.append(time.perf_counter() - started)
        assert not explorer.errors, explorer.errors
    return times


def bare_step_seconds(explorer: ArchitectureExplorer, repeats: int = 5) -> float:
    """Median time of one forward + backward of the explorer's current net on its batch."""
    model, images, labels = explorer.model, explorer.batch.images, explorer.batch.labels
    model.train()
    times = []
    with thread_limit(explorer.threads):
        for _ in range(repeats):
            started = time.perf_counter()
            F.cross_entropy(model(images), labels).backward()
            times.append(time.perf_counter() - started)
    model.zero_grad(set_to_none=True)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=10, help="slider changes per depth")
    parser.add_argument("--memory-changes", type=int, default=100)
    args = parser.parse_args()

    explorer = ArchitectureExplorer(depth=20)
    print(f"probe batch: {explorer.batch.description}; torch threads outside refresh: "
          f"{torch.get_num_threads()}; explorer threads: {explorer.threads}")
    print(f"{'net':<12}{'median s':>10}{'min s':>8}{'max s':>8}{'bare fwd+bwd s':>16}"
          f"{'ratio':>8}{'goal s':>8}  ok")
    all_ok = True
    for depth, goal in GOALS.items():
        times = slider_change_seconds(explorer, depth, args.changes)
        median = statistics.median(times)
        bare = bare_step_seconds(explorer)
        ok = median <= goal
        all_ok &= ok
        print(f"{'ResNet-' + str(depth):<12}{median:>10.3f}{min(times):>8.3f}{max(times):>8.3f}"
              f"{bare:>16.4f}{median / bare:>8.1f}{goal:>8.1f}  {'yes' if ok else 'NO'}")

    default_threads = ArchitectureExplorer(depth=50, threads=None)
    times = slider_change_seconds(default_threads, 56, max(3, args.changes // 2))
    one_thread = slider_change_seconds(explorer, 56, max(3, args.changes // 2))
    print(f"ResNet-56 with torch's {torch.get_num_threads()} threads: median "
          f"{statistics.median(times):.3f} s = {statistics.median(times) / statistics.median(one_thread):.2f}x "
          f"the explorer's 1 thread ({statistics.median(one_thread):.3f} s, measured alongside)")
    del default_threads

    depths = [8, 20, 56, 110, 32, 86, 14, 104, 44, 62]
    slider = explorer.controls["depth"]
    for depth in depths:  # warm-up: first-touch allocations, caches, plotly validators
        slider.value = depth
    before = rss_mb()
    started = time.perf_counter()
    for index in range(args.memory_changes):
        slider.value = depths[index % len(depths)]
    after = rss_mb()
    growth = after - before
    all_ok &= growth < MEMORY_GOAL_MB
    print(f"memory: RSS {before:.0f} MB -> {after:.0f} MB over {args.memory_changes} slider changes "
          f"({time.perf_counter() - started:.0f} s): growth {growth:+.1f} MB "
          f"(goal < {MEMORY_GOAL_MB:.0f} MB) {'yes' if growth < MEMORY_GOAL_MB else 'NO'}")
    print("all goals met" if all_ok else "SOME GOALS NOT MET")


if __name__ == "__main__":
    main()
