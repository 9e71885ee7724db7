"""Does a cheap loss landscape show Li et al.'s chaotic plain net? The same slices at several budgets.

Li et al. 2018 (Section 6, Fig. 5) show ResNet-56 without shortcuts with a chaotic loss surface
and ResNet-56 smooth, for nets trained 300 epochs on CIFAR-10. A cheap reproduction (short
training, few images, coarse grids) may not show that. This script measures, for pairs of
shipped checkpoints (plain, ResNet), 1-D slices at several budgets (points x images) and
direction seeds, and 2-D grids, and prints for each: the loss at the trained weights, the
highest loss on the slice, the number of local minima (a bowl has 1) and the share of points
where the loss curves upwards ("convex"), over the whole slice and where the loss is below
ln 10 (the basin, without the plateau where the error reaches chance).

    python benchmarks/bench_landscape_budgets.py
    python benchmarks/bench_landscape_budgets.py --pairs plain20-fashion-mnist:resnet20-fashion-mnist

Each point is the mean cross-entropy over the first N training images at the checkpoint's
image size, in eval mode (``rx.loss_landscape``). Prints one line per slice; rerunnable.
"""

from __future__ import annotations

import argparse
import math
import time

import resnet_explorer as rx

PAIRS = ["plain56-fashion-mnist-long:resnet56-fashion-mnist-long",
         "plain20-fashion-mnist-long:resnet20-fashion-mnist-long",
         "plain20-fashion-mnist:resnet20-fashion-mnist"]
SLICES = [(11, 250, (0, 1, 2)), (21, 1000, (0, 1, 2)), (41, 2000, (0,))]  # points, images, seeds
GRIDS = [(11, 250)]


def describe(result) -> str:
    return (f"centre {result.center_loss:7.3f}  max {result.loss.max():9.3g}  "
            f"minima {result.local_minima():2d}  convex {result.convex_fraction():4.0%} "
            f"(below ln 10: {result.convex_fraction(math.log(10)):4.0%})  {result.seconds:6.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", nargs="+", default=PAIRS, help="plain:resnet checkpoint names")
    parser.add_argument("--no-grids", action="store_true")
    args = parser.parse_args()
    known = {info.name for info in rx.list_checkpoints()}
    for pair in args.pairs:
        names = pair.split(":")
        missing = [name for name in names if name not in known]
        if missing:
            print(f"skipping {pair}: not shipped ({', '.join(missing)})")
            continue
        size = rx.checkpoint_info(names[0]).data["image_size"]
        data = rx.load_dataset(image_size=size)
        print(f"== {pair} ({size}x{size})")
        for name in names:
            model = rx.load_checkpoint(name)
            for points, count, seeds in SLICES:
                images, labels = data.train_images[:count], data.train_labels[:count]
                for seed in seeds:
                    result = rx.loss_landscape(model, images, labels, points=points, seed=seed, progress=False)
                    print(f"{name:<30} 1-D {points:>3} pts {count:>5} img seed {seed}: {describe(result)}")
            if not args.no_grids:
                for points, count in GRIDS:
                    started = time.perf_counter()
                    result = rx.loss_landscape(model, data.train_images[:count], data.train_labels[:count],
                                               directions=2, points=points, progress=False)
                    print(f"{name:<30} 2-D {points}x{points} {count:>5} img seed 0: {describe(result)} "
                          f"(wall {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
