"""Train the checkpoints the lessons ship with (data/checkpoints/), reproducibly.

    python scripts/make_checkpoints.py                 # all of them (hours on 2 CPU cores)
    python scripts/make_checkpoints.py NAME ...        # some of them
    python scripts/make_checkpoints.py NAME --weights trained.pt   # see below

Two kinds:

- the brief ones (``resnet20-fashion-mnist``, ``plain20-fashion-mnist``, ``...-first5``): 1,000
  steps on 28x28 images, for the attribution and transfer-learning lessons (about 10 minutes
  each on one core);
- the long ones (``*-fashion-mnist-long``): plain-20/56 and ResNet-20/56/110 trained for 16,000
  steps on 16x16 images (about 200 epochs of the 10,000 training images; the paper's CIFAR-10
  runs are about 180 epochs), for Fig. 7 (lesson 04), the constructed solution and the lesion
  study and loss landscapes. ResNet-110 takes about 70 minutes on one core.

Each run is seeded and uses ONE torch thread (``--threads``), which makes it bitwise
reproducible on the same machine and software: running the same recipe twice gives the same
weights. ``--weights FILE`` adopts weights that another program trained with exactly this
recipe, seed and thread count (``benchmarks/bench_fig7_training_length.py --save-models`` trains
the long ones as part of its study), evaluates them and writes the JSON file; the recipe in the
JSON is still the one this script runs. The measured test error goes into the JSON file, and
``tests/test_checkpoints.py`` checks it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import resnet_explorer as rx
from resnet_explorer.checkpoints import CheckpointInfo, save_checkpoint
from resnet_explorer.schedules import Schedule
from resnet_explorer.training import error_rate, train

BRIEF = Schedule(steps=1000, warmup_steps=100, eval_every=500, eval_size=1000)
FIRST_FIVE = (0, 1, 2, 3, 4)  # T-shirt/top, trouser, pullover, dress, coat


def long_schedule(steps: int = 16_000) -> Schedule:
    """The long recipe: the paper's (lr 0.1, /10 at 50% and 75%), after a 100-step warm-up."""
    return Schedule(steps=steps, warmup_steps=100, eval_every=max(100, steps // 8), eval_size=1000)


def _recipe(description: str, depth: int, shortcut: str, *, image_size: int, schedule: Schedule,
            classes=None) -> dict:
    return dict(description=description, image_size=image_size, schedule=schedule, classes=classes,
                model=dict(depth=depth, shortcut=shortcut, in_channels=1,
                           num_classes=10 if classes is None else len(classes)))


RECIPES = {
    "resnet20-fashion-mnist": _recipe(
        "ResNet-20 (option A) trained on the shipped Fashion-MNIST subset, 28x28",
        20, "A", image_size=28, schedule=BRIEF),
    "plain20-fashion-mnist": _recipe(
        "plain-20 (no shortcuts) trained on the shipped Fashion-MNIST subset, 28x28",
        20, "none", image_size=28, schedule=BRIEF),
    "resnet20-fashion-mnist-first5": _recipe(
        "ResNet-20 (option A) pre-trained on Fashion-MNIST classes 0-4 only (tops, trousers, "
        "pullovers, dresses, coats), for the transfer-learning lesson",
        20, "A", image_size=28, schedule=BRIEF, classes=FIRST_FIVE),
}
for _depth, _shortcut in ((20, "none"), (20, "A"), (56, "none"), (56, "A"), (110, "A")):
    _kind = "plain" if _shortcut == "none" else "resnet"
    _net = f"plain-{_depth}" if _shortcut == "none" else f"ResNet-{_depth} (option A)"
    RECIPES[f"{_kind}{_depth}-fashion-mnist-long"] = _recipe(
        f"{_net} trained for 16,000 steps on the shipped Fashion-MNIST subset, 16x16",
        _depth, _shortcut, image_size=16, schedule=long_schedule())


def make(name: str, *, seed: int = 0, threads: int = 1, weights: Path | None = None,
         seconds: float = 0.0) -> CheckpointInfo:
    recipe = RECIPES[name]
    torch.set_num_threads(threads)
    data = rx.load_dataset(image_size=recipe["image_size"])
    if recipe["classes"] is not None:
        data = data.with_classes(recipe["classes"])
    torch.manual_seed(seed)
    model = rx.build_model(**recipe["model"], device="cpu")
    start = time.perf_counter()
    if weights is None:
        history = train(model, data, schedule=recipe["schedule"], seed=seed, progress=False)
        if history.status != "finished":
            raise RuntimeError(f"{name}: training ended as {history.status}: {history.message}")
        seconds, trained_by = time.perf_counter() - start, "scripts/make_checkpoints.py"
    else:
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        trained_by = f"{weights.name}, trained with this recipe by benchmarks/bench_fig7_training_length.py"
    test_error = error_rate(model, data.test_images, data.test_labels, precision="fp32")
    info = CheckpointInfo(
        name=name, description=recipe["description"], model=model.config.as_dict(),
        data={"name": data.name, "image_size": data.image_size,
              "classes": list(recipe["classes"] or range(10)), "class_names": data.class_names},
        schedule=recipe["schedule"].as_dict(), seed=seed, test_error=round(test_error, 4),
        script="scripts/make_checkpoints.py", seconds=round(seconds, 1),
        notes=f"{threads} torch thread(s); weights: {trained_by}")
    save_checkpoint(model, info)
    print(f"{name}: test error {test_error:.4f} on {len(data.test_images)} images")
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"checkpoints to make (default: all): {', '.join(RECIPES)}")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--weights", type=Path, help="adopt these weights (one NAME only)")
    parser.add_argument("--seconds", type=float, default=0.0,
                        help="with --weights: the training time the other program measured")
    args = parser.parse_args()
    unknown = [name for name in args.names if name not in RECIPES]
    if unknown:
        parser.error(f"unknown checkpoint(s) {', '.join(unknown)}; known: {', '.join(RECIPES)}")
    if args.weights is not None and len(args.names) != 1:
        parser.error("--weights goes with exactly one NAME")
    for name in args.names or RECIPES:
        make(name, threads=args.threads, weights=args.weights, seconds=args.seconds)


if __name__ == "__main__":
    main()
