"""What recording the gradient norms costs: ``train(record_gradients=True)`` against a bare ``train``.

The race of lesson 02 records, at step 1 and every 10 steps, the gradient norm of every weighted
layer (``History.grad_norms``), so that lesson 05 can plot them without training again. This
script trains the race's nets as the race does (16x16 Fashion-MNIST, batch 128, the brief
schedule's learning rates, ``precision="auto"``), in rounds: each round trains the same model
from the same weights once bare, once with ``record_gradients=True`` (every 10 steps) and once
with ``record_gradients=1`` (every step, for comparison), in an order that flips every round.
A run's step time is read from its ``History.wall_time`` between the ends of steps 10 and 40
(30 steps, 3 of them recorded at every 10; neither the first step nor the evaluation at the end),
and, since a shared machine's other work inflates wall time, also as the CPU time of the whole
``train`` call (``time.process_time``; the same setup and final evaluation in every run). The
result is the median over rounds of each run's time divided by the bare run's of the same round.
Goal: ``record_gradients=True`` costs at most 1.10x a bare run, in CPU time (on a shared machine
the wall time mostly measures the other processes: measured here, 585 ms of wall time for 56 ms
of CPU time per step; on a free machine with one thread the two agree).

    python benchmarks/bench_gradient_recording.py [--rounds 5] [--threads 2] [--nets plain-56 ResNet-20]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time

import torch

from resnet_explorer.data import load_dataset
from resnet_explorer.models import arguments_from_name, build_model
from resnet_explorer.schedules import BRIEF_IMAGE_SIZE
from resnet_explorer.training import train

GOAL = 1.10
STEPS = 41  # steps 11..40 are timed
FIRST, LAST = 10, 40
SETTINGS = {"bare": False, "record_gradients=True (every 10)": True, "record_gradients=1 (every step)": 1}


def step_seconds(model, data, record) -> tuple[float, float]:
    """Wall seconds per step of steps 11..40, and CPU seconds per step of the whole run, of a
    ``train`` run of a copy of ``model``."""
    model = copy.deepcopy(model)
    cpu = time.process_time()
    history = train(model, data, steps=STEPS, warmup_steps=0, eval_every=1000, eval_size=128,
                    record_gradients=record, progress=False, device="cpu")
    cpu = (time.process_time() - cpu) / STEPS
    return (history.wall_time[LAST - 1] - history.wall_time[FIRST - 1]) / (LAST - FIRST), cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (1 on a shared core)")
    parser.add_argument("--nets", nargs="*", default=["plain-56", "ResNet-20 (A)"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_dataset(image_size=BRIEF_IMAGE_SIZE)
    print(f"{BRIEF_IMAGE_SIZE}x{BRIEF_IMAGE_SIZE} Fashion-MNIST, batch 128, precision auto, "
          f"{torch.get_num_threads()} threads, {args.rounds} rounds; torch {torch.__version__}; "
          f"load average before: {os.getloadavg()[0]:.2f}")
    verdicts = []
    for name in args.nets:
        torch.manual_seed(0)
        model = build_model(**arguments_from_name(name), in_channels=data.in_channels,
                            num_classes=data.num_classes, device="cpu")
        step_seconds(model, data, False)  # warm-up
        results: dict[str, list[tuple[float, float]]] = {setting: [] for setting in SETTINGS}
        for round_number in range(args.rounds):
            order = list(SETTINGS) if round_number % 2 == 0 else list(SETTINGS)[::-1]
            for setting in order:
                results[setting].append(step_seconds(model, data, SETTINGS[setting]))
            times = ", ".join(f"{setting.split(' ')[0]} {values[-1][0] * 1000:.0f} ms "
                              f"(CPU {values[-1][1] * 1000:.0f} ms)" for setting, values in results.items())
            print(f"{name} round {round_number + 1}: {times}", flush=True)
        bare = results["bare"]
        for setting, values in results.items():
            wall = statistics.median(value[0] / base[0] for value, base in zip(values, bare))
            cpu = statistics.median(value[1] / base[1] for value, base in zip(values, bare))
            print(f"  {name:<14} {setting:<34} {statistics.median(v[0] for v in values) * 1000:7.1f} "
                  f"ms/step = {wall:.3f}x wall time, {cpu:.3f}x CPU time")
            if SETTINGS[setting] is True:
                verdicts.append((name, cpu))
    for name, ratio in verdicts:
        print(f"{name}: record_gradients=True costs {ratio:.3f}x a bare run in CPU time (goal <= {GOAL}x): "
              f"{'met' if ratio <= GOAL else 'NOT met'}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
