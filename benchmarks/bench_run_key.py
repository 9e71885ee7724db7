"""What a run cache key costs: hashing every image and label and the starting weights.

``train`` computes ``describe_run`` once per run; its key covers a SHA-256 of the whole dataset
(so that a relabelled or changed dataset is never served another run) and of the model's
starting weights and buffers. For each dataset on this machine (the shipped 12,000 images at
16x16 and 28x28, and all 70,000 of Fashion-MNIST when Debian's package is installed), this
times ``describe_run`` for ResNet-20 (median of ``--repeats``) against a short real training run
of the same net on the same data (``--steps`` steps of the brief schedule, batch 128), scaled to
the brief schedule's 600 steps. Goal: the key costs at most 2% of a brief run.

    python benchmarks/bench_run_key.py [--repeats 5] [--steps 20] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import resnet_explorer as rx
from resnet_explorer.data import DatasetNotFoundError
from resnet_explorer.run_cache import describe_run
from resnet_explorer.schedules import BRIEF_SCHEDULE, resolve_schedule

GOAL = 0.02
DATASETS = (("fashion-mnist-mini", 16), ("fashion-mnist-mini", None), ("fashion-mnist", None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20, help="training steps timed per dataset")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared core)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    worst = 0.0
    for name, image_size in DATASETS:
        try:
            data = rx.load_dataset(name, image_size=image_size)
        except DatasetNotFoundError:
            print(f"{name}: not on this machine, skipped")
            continue
        torch.manual_seed(0)
        model = rx.build_model(20, in_channels=data.in_channels, num_classes=data.num_classes)
        schedule = resolve_schedule("brief")
        seconds = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            describe_run(model, data, schedule, 0, "fp32")
            seconds.append(time.perf_counter() - start)
        key = statistics.median(seconds)
        start = time.perf_counter()
        rx.train(model, data, schedule="brief", steps=args.steps, eval_every=args.steps,
                 progress=False)
        run = (time.perf_counter() - start) * BRIEF_SCHEDULE.steps / args.steps
        megabytes = sum(tensor.numel() * tensor.element_size() for tensor in (
            data.train_images, data.train_labels, data.test_images, data.test_labels)) / 1e6
        ratio = key / run
        worst = max(worst, ratio)
        print(f"{name} at {data.image_size}x{data.image_size} ({megabytes:.1f} MB): key "
              f"{key * 1000:.0f} ms, brief run about {run:.0f} s, ratio {ratio:.4f}")
    print(f"worst ratio {worst:.4f} (goal <= {GOAL}): {'met' if worst <= GOAL else 'NOT met'}")


if __name__ == "__main__":
    main()
