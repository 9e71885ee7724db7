"""What watching a model train costs: training steps with a ``Recorder`` against bare steps.

ResNet-20, batch 128 of random 32x32x3 images, SGD with momentum, fp32, channels_last, 2
threads. One model and one optimizer; blocks of steps with and without the recorder alternate
(the order flips every round). The result is the median over rounds of each block's mean
step time divided by the bare block's of the same round. Each block is a multiple of 10
steps, so a recorder with ``every=10`` records the same share of steps in every block.
Goal: the default recorder (``every=10, sample=16``) costs at most 1.15x a bare step.
Recording every step is shown for comparison.

    python benchmarks/bench_recorder.py [--steps 10] [--rounds 7] [--threads 2]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time

import torch
import torch.nn.functional as F

from resnet_explorer.models import build_model
from resnet_explorer.probes import Recorder

WARMUP = 3
GOAL = 1.15


def step_seconds(model, optimizer, batches, recorder: Recorder | None) -> float:
    """Mean seconds per training step over ``batches``, with ``recorder`` active (or none).

    The mean, not the median: with ``every=10`` the median step would be one not recorded.
    """
    start = time.perf_counter()
    with recorder if recorder is not None else contextlib.nullcontext():
        for images, labels in batches:
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return (time.perf_counter() - start) / len(batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="steps per block (a multiple of 10)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (1 on a shared core)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    model = build_model(20).to(memory_format=torch.channels_last).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    images = torch.randn(args.batch_size, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (args.batch_size,))
    batches = [(images, labels)] * args.steps
    settings = {
        "bare step": None,
        "Recorder() defaults: every=10, sample=16": {},
        "Recorder(every=1, sample=16)": {"every": 1},
    }
    print(f"ResNet-20, 32x32x3, batch {args.batch_size}, fp32, channels_last, "
          f"{torch.get_num_threads()} threads, {args.steps} steps x {args.rounds} rounds; "
          f"torch {torch.__version__}; load average before: {os.getloadavg()[0]:.2f}")

    step_seconds(model, optimizer, batches[:WARMUP], None)
    results: dict[str, list[float]] = {name: [] for name in settings}
    for round_number in range(args.rounds):
        order = list(settings) if round_number % 2 == 0 else list(settings)[::-1]
        for name in order:
            options = settings[name]
            recorder = None if options is None else Recorder(model, **options)
            results[name].append(step_seconds(model, optimizer, batches, recorder))
        times = ", ".join(f"{name.split(':')[0]} {values[-1] * 1000:.0f} ms"
                          for name, values in results.items())
        print(f"round {round_number + 1}: {times}", flush=True)

    # Each round's blocks ran back to back, so a ratio within a round is fair even when other
    # work on the machine comes and goes; the median over rounds is the result.
    bare_times = results["bare step"]
    ratios = {name: statistics.median(value / bare for value, bare in zip(values, bare_times))
              for name, values in results.items()}
    for name, values in results.items():
        print(f"{name:<42} {statistics.median(values) * 1000:6.1f} ms/step  = {ratios[name]:.3f}x")
    ratio = ratios["Recorder() defaults: every=10, sample=16"]
    verdict = "met" if ratio <= GOAL else "NOT met"
    print(f"default recorder: {ratio:.3f}x a bare step (goal <= {GOAL}x): {verdict}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
