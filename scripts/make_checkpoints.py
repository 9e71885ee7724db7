"""Train the small checkpoints the lessons ship with (data/checkpoints/), reproducibly.

    python scripts/make_checkpoints.py            # all of them (about 15 minutes on 2 CPU cores)
    python scripts/make_checkpoints.py NAME ...   # some of them

Each run is seeded; the measured test error goes into the checkpoint's JSON file.
"""

from __future__ import annotations

import sys
import time

import torch

import resnet_explorer as rx
from resnet_explorer.checkpoints import CheckpointInfo, save_checkpoint
from resnet_explorer.schedules import Schedule
from resnet_explorer.training import error_rate, train

SCHEDULE = Schedule(steps=1000, warmup_steps=100, eval_every=500, eval_size=1000)
FIRST_FIVE = (0, 1, 2, 3, 4)  # T-shirt/top, trouser, pullover, dress, coat

RECIPES = {
    "resnet20-fashion-mnist": dict(
        description="ResNet-20 (option A) trained on the shipped Fashion-MNIST subset, 28x28",
        model=dict(depth=20, shortcut="A", in_channels=1, num_classes=10), classes=None),
    "plain20-fashion-mnist": dict(
        description="plain-20 (no shortcuts) trained on the shipped Fashion-MNIST subset, 28x28",
        model=dict(depth=20, shortcut="none", in_channels=1, num_classes=10), classes=None),
    "resnet20-fashion-mnist-first5": dict(
        description="ResNet-20 (option A) pre-trained on Fashion-MNIST classes 0-4 only "
                    "(tops, trousers, pullovers, dresses, coats), for the transfer-learning lesson",
        model=dict(depth=20, shortcut="A", in_channels=1, num_classes=5), classes=FIRST_FIVE),
}


def make(name: str, seed: int = 0) -> CheckpointInfo:
    recipe = RECIPES[name]
    data = rx.load_dataset()
    if recipe["classes"] is not None:
        data = data.with_classes(recipe["classes"])
    torch.manual_seed(seed)
    model = rx.build_model(**recipe["model"])
    start = time.perf_counter()
    history = train(model, data, schedule=SCHEDULE, seed=seed, progress=False)
    seconds = time.perf_counter() - start
    if history.status != "finished":
        raise RuntimeError(f"{name}: training ended as {history.status}: {history.message}")
    test_error = error_rate(model, data.test_images, data.test_labels)
    info = CheckpointInfo(
        name=name, description=recipe["description"], model=model.config.as_dict(),
        data={"name": data.name, "image_size": data.image_size,
              "classes": list(recipe["classes"] or range(10)), "class_names": data.class_names},
        schedule=SCHEDULE.as_dict(), seed=seed, test_error=round(test_error, 4),
        script="scripts/make_checkpoints.py", seconds=round(seconds, 1),
    )
    save_checkpoint(model, info)
    print(f"{name}: test error {test_error:.4f} on {len(data.test_images)} images, {seconds:.0f} s")
    return info


if __name__ == "__main__":
    for checkpoint_name in sys.argv[1:] or RECIPES:
        make(checkpoint_name)
