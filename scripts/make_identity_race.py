"""Make data/races/identity_mappings.json: lesson 12's race, run once and shipped.

He et al. 2016 (Table 1, Table 2) on our data: ResNet-56 with the original unit, constant
scaling of the shortcut (0.5), exclusive gating, the 1x1 conv shortcut and full pre-activation,
plus stochastic depth (Huang et al. 2016, p_L = 0.5); each with seeds 0, 1, 2, on the brief
schedule of lesson 02 (the degradation race: 600 steps of 128 on 16x16 Fashion-MNIST). Then the
check: a short configuration (ResNet-56, 200 steps) with the same three seeds, whose spread is the
noise that ``tests/test_shipped_races.py`` compares a re-run against.

    taskset -c 0 env OMP_NUM_THREADS=1 python scripts/make_identity_race.py [--cache DIR] [--extra]

Parts of the race can run in parallel processes that share the cache (``--seeds 1 --no-check
--out part.json``); a last run without ``--seeds`` then reads them from the cache.

Runs go through the run cache (``--cache``, default a folder under ``~/.cache``), so an
interrupted script picks up where it stopped; the JSON is rewritten after every run, so a
partial race can be looked at. ``--extra`` adds the other variants of He 2016 (shortcut-only
gating, both scaled by 0.5, dropout on the shortcut, BN after addition, ReLU before addition,
ReLU-only pre-activation). 18 runs without ``--extra``, 36 with it; on one free core (one
thread, bf16) a run takes 75 s (90 s with exclusive gating), so the whole race with ``--extra``
takes about 50 minutes on one core (half that with two processes, ``--seeds``). The description
in the JSON names the seeds it holds.

The trained weights of seed 0's original ResNet-56 and of its stochastic-depth twin ship beside
the file (``identity_mappings/``): lesson 12 compares them in a lesion study.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import resnet_explorer as rx
from resnet_explorer.shipped_races import RACE_DIR, RaceCheck, load_race, save_race
from resnet_explorer.schedules import BRIEF_IMAGE_SIZE, resolve_schedule

DEPTH = 56
SEEDS = (0, 1, 2)
RACE = [
    dict(depth=DEPTH),
    dict(depth=DEPTH, shortcut_variant="scale_shortcut"),
    dict(depth=DEPTH, shortcut_variant="exclusive_gate"),
    dict(depth=DEPTH, shortcut_variant="conv_shortcut"),
    dict(depth=DEPTH, preact=True),
    dict(depth=DEPTH, stochastic_depth=0.5),
]
EXTRA = [
    dict(depth=DEPTH, shortcut_variant="shortcut_gate"),
    dict(depth=DEPTH, shortcut_variant="scale_both"),
    dict(depth=DEPTH, shortcut_variant="dropout_shortcut"),
    dict(depth=DEPTH, activation_order="bn_after_add"),
    dict(depth=DEPTH, activation_order="relu_before_add"),
    dict(depth=DEPTH, activation_order="relu_preact"),
]
#: The nets whose trained weights ship, of the runs with seed ``WEIGHTS_SEED``.
WEIGHTS_SHIPPED = [dict(depth=DEPTH), dict(depth=DEPTH, stochastic_depth=0.5)]
WEIGHTS_SEED = 0
#: The check: short enough for a test (about 30 s of training on a free core), long enough that
#: its seeds agree (at 60 steps their training errors spread from 0.67 to 0.92).
CHECK_CONFIG = dict(depth=DEPTH)
CHECK_STEPS = 200


def check_schedule():
    """The brief schedule cut to ``CHECK_STEPS`` (its warm-up scaled with it)."""
    return resolve_schedule("brief", steps=CHECK_STEPS)


def run_check(data, seeds=SEEDS) -> RaceCheck:
    """The short configuration, once per seed (no cache: the test re-runs it the same way)."""
    histories = [rx.compare([CHECK_CONFIG], data, seed=seed, schedule=check_schedule(), progress=False)[0]
                 for seed in seeds]
    return RaceCheck(config=dict(CHECK_CONFIG), schedule=check_schedule().as_dict(), seeds=list(seeds),
                     final_train_errors=[h.final_train_error for h in histories],
                     final_test_errors=[h.final_test_error for h in histories])


def describe(histories, data) -> str:
    """The race's description, naming the seeds its runs have (a partial race says so)."""
    seeds = sorted({history.setup["seed"] for history in histories})
    return (f"ResNet-{DEPTH} variants of He et al. 2016 and stochastic depth (Huang et al. 2016), "
            f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}; the brief schedule on "
            f"{data.name} at {BRIEF_IMAGE_SIZE}x{BRIEF_IMAGE_SIZE}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "resnet_explorer" / "identity_race")
    parser.add_argument("--extra", action="store_true", help="also the other variants of He 2016")
    parser.add_argument("--out", type=Path, default=RACE_DIR / "identity_mappings.json")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS),
                        help="train only these seeds (to split the race over processes sharing one cache)")
    parser.add_argument("--no-check", action="store_true", help="skip the check (for such a part of the race)")
    parser.add_argument("--check-only", action="store_true",
                        help="only run the check and add it to the runs already in --out")
    arguments = parser.parse_args()

    data = rx.load_dataset(image_size=BRIEF_IMAGE_SIZE)
    if arguments.check_only:
        race = load_race(arguments.out)
        check = run_check(data)
        print(f"check: training errors {check.final_train_errors}, test errors {check.final_test_errors}")
        save_race(arguments.out, race.name, race.description, race.made_by, race.histories, check=check,
                  notes=race.notes)
        return
    cache = rx.RunCache(arguments.cache)
    configs = RACE + (EXTRA if arguments.extra else [])
    histories, weights = [], {}
    made_by = "scripts/make_identity_race.py" + (" --extra" if arguments.extra else "")
    notes = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    for seed in arguments.seeds:  # seed by seed, so a partial race already compares every net
        for config in configs:
            started = time.perf_counter()
            history = rx.compare([config], data, seed=seed, schedule="brief", cache=cache, progress=False)[0]
            histories.append(history)
            if seed == WEIGHTS_SEED and config in WEIGHTS_SHIPPED:
                weights[history.model_name] = history.model.state_dict()
            print(f"seed {seed}  {history.model_name:<40} {history.status:<9} training error "
                  f"{history.final_train_error:.3f}  test error {history.final_test_error:.3f}  "
                  f"({time.perf_counter() - started:.0f} s{', cached' if history.from_cache else ''})", flush=True)
            save_race(arguments.out, "identity_mappings", describe(histories, data), made_by, histories,
                      notes=notes)
    if arguments.no_check:
        return
    check = run_check(data)
    print(f"check: {CHECK_CONFIG} {CHECK_STEPS} steps, training errors {check.final_train_errors}, "
          f"test errors {check.final_test_errors}", flush=True)
    save_race(arguments.out, "identity_mappings", describe(histories, data), made_by, histories, check=check,
              notes=notes, weights=weights, weights_seed=WEIGHTS_SEED if weights else None)
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
