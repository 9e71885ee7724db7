"""Train lesson 02's default race once and ship its runs in data/race/, so a class sees the result at once.

    python scripts/make_race_runs.py              # about 5 minutes on 2 free CPU cores
    python scripts/make_race_runs.py --out DIR    # somewhere else (the test that reproduces them)

The race is ``race.DEFAULT_CONFIGURATIONS`` (plain-20, plain-56, ResNet-20, ResNet-56, option A)
trained as ``RaceRunner`` trains them: ``compare`` with seed 0, the brief schedule on 16x16
Fashion-MNIST, recording the gradient norms. Each run is saved as its History (JSON); the
weights only of the nets a lesson needs (``shipped_race.WEIGHTS_SHIPPED``: lesson 02 deepens
the trained plain-20 and compares it with plain-56).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from resnet_explorer.data import load_dataset
from resnet_explorer.models import arguments_from_name
from resnet_explorer.race import DEFAULT_CONFIGURATIONS, RACE_SCHEDULE, RACE_SEED
from resnet_explorer.schedules import BRIEF_IMAGE_SIZE
from resnet_explorer.shipped_race import SHIPPED_RACE_DIR, save_shipped_run
from resnet_explorer.training import compare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SHIPPED_RACE_DIR)
    parser.add_argument("--nets", nargs="*", default=list(DEFAULT_CONFIGURATIONS))
    arguments = parser.parse_args()
    data = load_dataset(image_size=BRIEF_IMAGE_SIZE)
    for name in arguments.nets:
        start = time.perf_counter()
        (history,) = compare([arguments_from_name(name)], data, seed=RACE_SEED, schedule=RACE_SCHEDULE,
                             record_gradients=True, progress=False)
        if history.status != "finished":
            raise SystemExit(f"{name}: the run ended as {history.status}: {history.message}")
        path = save_shipped_run(history, arguments.out)
        print(f"{history.model_name}: training error {history.final_train_error:.3f}, test error "
              f"{history.final_test_error:.3f}, {time.perf_counter() - start:.0f} s -> {path}", flush=True)


if __name__ == "__main__":
    main()
