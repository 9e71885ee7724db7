"""Training speed of ``train`` against a textbook PyTorch loop, measured in the same run.

The textbook loop: a DataLoader over a TensorDataset (shuffled, default settings, no workers),
fp32, NCHW, PyTorch's default threads, ``torch.optim.SGD``. ``train`` slices batches from the
tensor, augments them as a batch (the baseline does not augment at all, which favours it), uses
channels_last, and bf16 autocast where the CPU has native bf16. Same model (ResNet-20, 32x32x3,
batch 128), same number of steps; the two alternate, and the medians are compared. The first
steps of each measurement (warm-up) and ``train``'s final evaluation are not timed.

    python benchmarks/bench_training_speed.py [--steps 30] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from resnet_explorer.data import Dataset
from resnet_explorer.models import build_model
from resnet_explorer.training import train

WARMUP = 3


def random_data(images: int, size: int = 32) -> Dataset:
    generator = torch.Generator().manual_seed(0)
    return Dataset(name="random", train_images=torch.randn(images, 3, size, size, generator=generator),
                   train_labels=torch.randint(0, 10, (images,), generator=generator),
                   test_images=torch.randn(64, 3, size, size, generator=generator),
                   test_labels=torch.randint(0, 10, (64,), generator=generator),
                   class_names=[str(i) for i in range(10)], mean=(0.0,) * 3, std=(1.0,) * 3,
                   source="random numbers")


def textbook_loop(data: Dataset, steps: int, batch_size: int) -> float:
    """Images per second of the plain loop, after WARMUP steps."""
    torch.manual_seed(0)
    model = build_model(20)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    loader = DataLoader(TensorDataset(data.train_images, data.train_labels),
                        batch_size=batch_size, shuffle=True, drop_last=True)
    model.train()
    done, start = 0, None
    while done < steps:
        for images, labels in loader:
            if done == WARMUP:
                start = time.perf_counter()
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            done += 1
            if done == steps:
                break
    return (steps - WARMUP) * batch_size / (time.perf_counter() - start)


def explorer_train(data: Dataset, steps: int, batch_size: int, precision: str) -> tuple[float, str]:
    """Images per second of ``train`` between its steps WARMUP and the last (before its evaluation)."""
    torch.manual_seed(0)
    history = train(build_model(20), data, steps=steps, batch_size=batch_size, warmup_steps=0,
                    eval_every=steps, eval_size=64, precision=precision, progress=False)
    seconds = history.wall_time[-2] - history.wall_time[WARMUP - 1]
    return (steps - 1 - WARMUP) * batch_size / seconds, history.runtime["precision"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, help="PyTorch threads for both loops (default: "
                        "PyTorch's; 1 is much faster when other programs keep the cores busy)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = random_data(args.batch_size * 20)
    print(f"ResNet-20, 32x32x3, batch {args.batch_size}, {args.steps} steps x {args.rounds} rounds; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}; load average before: {os.getloadavg()[0]:.2f}")

    results: dict[str, list[float]] = {"textbook": [], "train fp32": [], "train auto": []}
    auto_precision = "?"
    for round_number in range(args.rounds):
        results["textbook"].append(textbook_loop(data, args.steps, args.batch_size))
        results["train fp32"].append(explorer_train(data, args.steps, args.batch_size, "fp32")[0])
        speed, auto_precision = explorer_train(data, args.steps, args.batch_size, "auto")
        results["train auto"].append(speed)
        print(f"round {round_number + 1}: " + ", ".join(
            f"{name} {values[-1]:.0f} img/s" for name, values in results.items()), flush=True)

    baseline = statistics.median(results["textbook"])
    print(f"textbook loop (DataLoader, fp32, NCHW):     {baseline:7.0f} img/s")
    for name, label in (("train fp32", "rx.train fp32 + channels_last:"),
                        ("train auto", f"rx.train auto ({auto_precision}) + channels_last:")):
        median = statistics.median(results[name])
        print(f"{label:<43} {median:7.0f} img/s  = {median / baseline:.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
