"""The degradation problem (He et al. 2015, Fig. 1 and Fig. 6) in a few CPU minutes.

Trains plain-20, plain-56, ResNet-20 and ResNet-56 with one schedule (default: the "brief"
preset on 16x16 Fashion-MNIST-mini) and prints their final training errors (eval mode, a fixed
subset of 1,000 training images), test errors, the two depth gaps and the wall time.
The paper's claim holds when the plain gap (plain-56 minus plain-20) is clearly positive while
the residual gap (ResNet-56 minus ResNet-20) is near zero or negative.

    python benchmarks/bench_degradation.py --seed 0
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from resnet_explorer.data import load_dataset
from resnet_explorer.schedules import BRIEF_IMAGE_SIZE, resolve_schedule
from resnet_explorer.training import compare

CONFIGS = [{"depth": 20, "shortcut": "none"}, {"depth": 56, "shortcut": "none"},
           {"depth": 20, "shortcut": "A"}, {"depth": 56, "shortcut": "A"}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--schedule", default="brief")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--warmup-steps", type=int)
    parser.add_argument("--milestones", type=lambda text: tuple(float(m) for m in text.split(",")),
                        help="fractions of the steps, e.g. 0.5,0.75")
    parser.add_argument("--eval-size", type=int)
    parser.add_argument("--image-size", type=int, default=BRIEF_IMAGE_SIZE)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--threads", type=int, help="PyTorch threads (default: the physical "
                        "cores; 1 is much faster when other programs keep the cores busy)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    data = load_dataset(image_size=args.image_size)
    plan = resolve_schedule(args.schedule, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                            warmup_steps=args.warmup_steps, milestones=args.milestones,
                            eval_size=args.eval_size)
    print(f"data: {data}; schedule: {plan}; seed {args.seed}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"load average before: {os.getloadavg()[0]:.2f}")

    def report(history):
        if history.status != "running":
            print(f"  {history.model_name:<14} {history.status:<9} train error "
                  f"{history.final_train_error:.3f} (last 20 batches "
                  f"{sum(history.train_error[-20:]) / 20:.3f}), test error "
                  f"{history.final_test_error:.3f}, {history.wall_time[-1]:.0f} s, "
                  f"{history.runtime['precision']}", flush=True)

    started, cpu_started = time.perf_counter(), time.process_time()
    histories = compare(CONFIGS, data, schedule=plan, seed=args.seed, precision=args.precision,
                        progress=False, callback=report, callback_every=10**9)
    total, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    errors = {h.model_name: h.final_train_error for h in histories}
    tests = {h.model_name: h.final_test_error for h in histories}
    plain_gap = errors["plain-56"] - errors["plain-20"]
    residual_gap = errors["ResNet-56 (A)"] - errors["ResNet-20 (A)"]
    print(f"training error  plain-20 {errors['plain-20']:.3f}  plain-56 {errors['plain-56']:.3f}  "
          f"ResNet-20 {errors['ResNet-20 (A)']:.3f}  ResNet-56 {errors['ResNet-56 (A)']:.3f}")
    print(f"test error      plain-20 {tests['plain-20']:.3f}  plain-56 {tests['plain-56']:.3f}  "
          f"ResNet-20 {tests['ResNet-20 (A)']:.3f}  ResNet-56 {tests['ResNet-56 (A)']:.3f}")
    print(f"gap 56 - 20 (training error): plain {plain_gap:+.3f}, residual {residual_gap:+.3f}")
    shown = plain_gap > 0.03 and residual_gap < plain_gap / 2
    print(f"degradation shown: {'yes' if shown else 'NO'}; wall time for all four: {total:.0f} s "
          f"(CPU time {cpu_seconds:.0f} s); load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
