"""How long the "why ResNets train" probes take on the shipped ResNet-56 and plain-56, against goals.

    python benchmarks/bench_why_resnets_train.py                 # all, with the lessons' budgets
    python benchmarks/bench_why_resnets_train.py --threads 1     # as on a busy machine
    python benchmarks/bench_why_resnets_train.py --grid-points 21 --grid-images 500   # the full grid

Measured in one run, each beside its baseline (a bare forward pass of the same net over the
same images, as many times as the probe evaluates them), so the ratio says what the probe adds
and the wall time says what a teacher waits:

- a lesion-explorer update (a new random draw, both nets re-measured) on ``--explorer-images``
  test images; goal 1 s;
- a 1-D loss-landscape slice of ResNet-56, ``--slice-points`` points on ``--slice-images``
  training images; goal 30 s on 2 cores;
- a 2-D grid of ResNet-56, ``--grid-points`` squared on ``--grid-images``; goal 5 minutes for
  21x21 on 2 cores. By default a 5x5 grid is timed and the 21x21 time extrapolated per point
  (said so in the output); ``--grid-points 21`` runs the whole grid;
- the lesson's lesion studies, path gradients and shattered gradients, for the teacher's note.

Wall time on a shared machine depends on what else runs: the CPU time of this process is
printed too (``cpu s``); with ``--threads 2`` it can exceed the wall time.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import resnet_explorer as rx
from resnet_explorer.lesion import test_error
from resnet_explorer.speed import thread_limit
from resnet_explorer.widgets import LesionExplorer

CHECKPOINTS = {"ResNet-56": "resnet56-fashion-mnist-long", "plain-56": "plain56-fashion-mnist-long"}
GOALS = {"explorer update": 1.0, "1-D slice": 30.0, "21x21 grid": 300.0}


class Timer:
    """Wall and process CPU time of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc_info):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def bare_passes(model, images, labels, passes: int) -> Timer:
    """``passes`` plain evaluations of ``model`` on ``images`` in eval mode: the baseline."""
    model.eval()
    with Timer() as timer:
        for _ in range(passes):
            test_error(model, images, labels)
    return timer


SHARES: list[float] = []  # CPU time / wall time of each measurement: 1.0 on an idle core


def report(what: str, timer: Timer, baseline: Timer | None, goal: float | None = None, note: str = "") -> bool:
    ratio = f"{timer.wall / baseline.wall:>7.2f}" if baseline else f"{'':>7}"
    base = f"{baseline.wall:>9.2f}" if baseline else f"{'':>9}"
    ok = goal is None or timer.wall <= goal
    SHARES.append(timer.cpu / max(timer.wall, 1e-9))
    verdict = "" if goal is None else f"{goal:>7.0f}  {'yes' if ok else 'NO'}"
    print(f"{what:<34}{timer.wall:>9.2f}{timer.cpu:>8.2f}{base}{ratio}{verdict:>13}  {note}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--explorer-images", type=int, default=200, help="as in lesson 09")
    parser.add_argument("--slice-points", type=int, default=21)
    parser.add_argument("--slice-images", type=int, default=1000)
    parser.add_argument("--grid-points", type=int, default=5)
    parser.add_argument("--grid-images", type=int, default=500)
    parser.add_argument("--skip-lessons", action="store_true", help="only the three budgets")
    args = parser.parse_args()

    data = rx.load_dataset(image_size=16)
    nets = {label: rx.load_checkpoint(name) for label, name in CHECKPOINTS.items()}
    resnet = nets["ResNet-56"]
    train_images, train_labels = data.train_images, data.train_labels
    with thread_limit(args.threads):
        print(f"torch threads {torch.get_num_threads()}, CPU: {rx.default_device()}, "
              f"checkpoints {', '.join(CHECKPOINTS.values())}")
        print(f"{'':<34}{'wall s':>9}{'cpu s':>8}{'bare s':>9}{'ratio':>7}{'goal s':>8}  ok")
        ok = True

        # The explorer: the median of several new draws (each re-measures both nets).
        images, labels = data.test_images[:args.explorer_images], data.test_labels[:args.explorer_images]
        explorer = LesionExplorer(nets, images, labels, threads=args.threads)
        walls, cpus = [], []
        for count in range(1, 8):
            with Timer() as timer:
                explorer.controls["removed_count"].value = count
            walls.append(timer.wall)
            cpus.append(timer.cpu)
        update = Timer()
        update.wall, update.cpu = statistics.median(walls), statistics.median(cpus)
        baseline = Timer()
        pieces = [bare_passes(net, images, labels, 1) for net in nets.values()]
        baseline.wall, baseline.cpu = sum(p.wall for p in pieces), sum(p.cpu for p in pieces)
        ok &= report("explorer update (2 nets)", update, baseline, GOALS["explorer update"],
                     f"median of 7, {args.explorer_images} images")

        # A 1-D slice of ResNet-56.
        images, labels = train_images[:args.slice_images], train_labels[:args.slice_images]
        with Timer() as timer:
            rx.loss_landscape(resnet, images, labels, points=args.slice_points, progress=False)
        ok &= report("1-D slice, ResNet-56", timer, bare_passes(resnet, images, labels, args.slice_points),
                     GOALS["1-D slice"], f"{args.slice_points} points x {args.slice_images} images")

        # A 2-D grid of ResNet-56 (timed at --grid-points, extrapolated to 21x21 if smaller).
        images, labels = train_images[:args.grid_images], train_labels[:args.grid_images]
        with Timer() as timer:
            rx.loss_landscape(resnet, images, labels, directions=2, points=args.grid_points, progress=False)
        baseline = bare_passes(resnet, images, labels, args.grid_points**2)
        if args.grid_points == 21:
            ok &= report("21x21 grid, ResNet-56", timer, baseline, GOALS["21x21 grid"], f"{args.grid_images} images")
        else:
            scale = 21**2 / args.grid_points**2
            report(f"{args.grid_points}x{args.grid_points} grid, ResNet-56", timer, baseline, None,
                   f"{args.grid_images} images")
            estimate = Timer()
            estimate.wall, estimate.cpu = timer.wall * scale, timer.cpu * scale
            ok &= report("21x21 grid (extrapolated)", estimate, None, GOALS["21x21 grid"],
                         f"{args.grid_points}x{args.grid_points} time x {scale:.1f}")

        if not args.skip_lessons:
            print("-- what the lessons run (not goals; for the teacher's notes) --")
            images, labels = data.test_images[:500], data.test_labels[:500]
            for label, net in nets.items():
                with Timer() as timer:
                    study = rx.lesion_study(net, images, labels, max_removed=8, max_swaps=6, draws=3,
                                            progress=False)
                evaluations = 1 + len(study.blocks) + 3 * (8 + 6)
                report(f"lesion study, {label}", timer, bare_passes(net, images, labels, evaluations), None,
                       f"{evaluations} evaluations x 500 images")
            with Timer() as timer:
                rx.path_gradients(resnet, train_images[:32], train_labels[:32], samples=6, progress=False)
            report("path gradients, ResNet-56", timer, None, None, "28 lengths x 6 paths, 32 images")
            with Timer() as timer:
                rx.shattered_gradients(progress=False)
            report("shattered gradients, fully connected", timer, None, None, "4 depths x 2 x 3 seeds")
            with Timer() as timer:
                rx.shattered_gradients("convolutional", start=data.test_images[0], end=data.test_images[1],
                                       progress=False)
            report("shattered gradients, convolutional", timer, None, None, "depths 8, 20, 56 x 2 x 3 seeds")
        share = statistics.median(SHARES) / torch.get_num_threads()
        if share < 0.8:
            print(f"NOTE: this process got {share:.0%} of a core per thread (other work shared the CPU); "
                  "the wall times above are that much longer than on an idle machine, and the cpu s "
                  "column is the better estimate of the time on idle cores")
        print("all goals met" if ok else "SOME GOALS NOT MET")


if __name__ == "__main__":
    main()
