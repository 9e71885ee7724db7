"""Train lesson 02's default race once and ship it as data/races/default.json, so a class sees the result at once.

    python scripts/make_race_runs.py                   # about 5 minutes on 2 free CPU cores
    python scripts/make_race_runs.py --out FILE.json   # somewhere else

The race is ``race.DEFAULT_CONFIGURATIONS`` (plain-20, plain-56, ResNet-20, ResNet-56, option A)
trained as ``RaceRunner`` trains them: ``compare`` with seed 0, the brief schedule on 16x16
Fashion-MNIST, recording the gradient norms. The runs are saved as a shipped race
(``shipped_races.save_race``: the histories as JSON), with the weights only of the nets a lesson
needs (``shipped_races.WEIGHTS_SHIPPED``, in ``data/races/default/``: lesson 02 deepens the
trained plain-20 and compares it with plain-56).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from resnet_explorer.data import load_dataset
from resnet_explorer.models import arguments_from_name
from resnet_explorer.race import DEFAULT_CONFIGURATIONS, RACE_SCHEDULE, RACE_SEED
from resnet_explorer.schedules import BRIEF_IMAGE_SIZE
from resnet_explorer.shipped_races import DEFAULT_RACE, RACE_DIR, WEIGHTS_SHIPPED, save_race
from resnet_explorer.training import compare

MADE_BY = "scripts/make_race_runs.py"


def describe(histories) -> str:
    """The race's description: its nets, seed, schedule and data (from the runs themselves)."""
    setup = histories[0].setup
    data = setup["data"]
    return (f"Lesson 02's race ({', '.join(history.model_name for history in histories)}): seed {setup['seed']}, "
            f"the {RACE_SCHEDULE} schedule on {data['name']} at {data['image_size']}x{data['image_size']}, "
            f"with the gradient norms; the weights of {', '.join(WEIGHTS_SHIPPED)} ship beside it")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RACE_DIR / f"{DEFAULT_RACE}.json")
    parser.add_argument("--nets", nargs="*", default=list(DEFAULT_CONFIGURATIONS))
    arguments = parser.parse_args()
    data = load_dataset(image_size=BRIEF_IMAGE_SIZE)
    histories = []
    for name in arguments.nets:
        start = time.perf_counter()
        (history,) = compare([arguments_from_name(name)], data, seed=RACE_SEED, schedule=RACE_SCHEDULE,
                             record_gradients=True, progress=False)
        if history.status != "finished":
            raise SystemExit(f"{name}: the run ended as {history.status}: {history.message}")
        histories.append(history)
        print(f"{history.model_name}: training error {history.final_train_error:.3f}, test error "
              f"{history.final_test_error:.3f}, {time.perf_counter() - start:.0f} s", flush=True)
    weights = {history.model_name: history.model.state_dict() for history in histories
               if history.model_name in WEIGHTS_SHIPPED}
    path = save_race(arguments.out, DEFAULT_RACE, describe(histories), MADE_BY, histories, weights=weights)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
