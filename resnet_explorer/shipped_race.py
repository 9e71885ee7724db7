"""The default race's runs, shipped in ``data/race/``, so a class sees the race's result at once.

Lesson 02's race (``race.DEFAULT_CONFIGURATIONS``, seed ``RACE_SEED``, the brief schedule on
16x16 Fashion-MNIST) takes minutes on two CPU cores. ``scripts/make_race_runs.py`` trains it
once, as ``RaceRunner`` does, and saves each run's ``History`` (with the gradient norms it
recorded) as ``data/race/NAME.json``; the weights only of the nets a lesson needs
(``WEIGHTS_SHIPPED``: lesson 02 deepens the trained plain-20 and sets it beside plain-56; about
4.5 MB).

``seed_run_cache(cache, data)`` puts the shipped runs that have weights into a run cache, under
the key that ``describe_run`` gives their configuration *now* (so a change of what the key
hashes changes the seeded keys too). A key includes the precision: the shipped runs were made
in bf16 (``precision="auto"`` on a CPU with native bf16), so on a machine that trains in fp32
``train`` and ``compare`` do not find them, and train. ``race_results`` (the race's "Show
result") then draws the shipped histories themselves, labelled as shipped.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import torch

from .data import DATA_DIR
from .history import History
from .run_cache import RunCache, describe_run
from .schedules import Schedule

SHIPPED_RACE_DIR = DATA_DIR / "race"

#: The nets whose trained weights ship (lesson 02's ``rx.deepen`` cell needs them).
WEIGHTS_SHIPPED = ("plain-20", "plain-56")

#: What ``save_shipped_run`` records as the maker of the files.
SCRIPT = "scripts/make_race_runs.py"


def file_stem(model_name: str) -> str:
    """A file name for a net: ``"ResNet-56 (A)"`` -> ``"resnet-56-a"``, ``"plain-20"`` -> ``"plain-20"``."""
    return re.sub(r"[^a-z0-9]+", "-", model_name.lower()).strip("-")


def save_shipped_run(history: History, directory: Path | None = None) -> Path:
    """Write ``NAME.json`` (the history) and, for ``WEIGHTS_SHIPPED`` nets, ``NAME.pt`` (a state_dict)."""
    directory = _directory(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = file_stem(history.model_name)
    weights = None
    if history.model_name in WEIGHTS_SHIPPED:
        if history.model is None:
            raise ValueError(f"{history.model_name}: its weights ship, but the history has no model")
        weights = f"{stem}.pt"
        state = {name: tensor.detach().cpu().contiguous()
                 for name, tensor in history.model.state_dict().items()}
        torch.save(state, directory / weights)
    values = {**history.to_dict(), "from_cache": False, "weights": weights, "script": SCRIPT}
    path = directory / f"{stem}.json"
    path.write_text(json.dumps(values, indent=None, separators=(",", ":")) + "\n")
    return path


def _directory(directory: Path | None) -> Path:
    return Path(SHIPPED_RACE_DIR if directory is None else directory)


def shipped_runs(directory: Path | None = None) -> list[History]:
    """The shipped runs (their ``History``s, without models), in the race's order."""
    from .race import DEFAULT_CONFIGURATIONS  # race imports this module

    runs = [History.from_dict(json.loads(path.read_text())) for path in sorted(_directory(directory).glob("*.json"))]
    order = {name: index for index, name in enumerate(DEFAULT_CONFIGURATIONS)}
    return sorted(runs, key=lambda run: order.get(run.model_name, len(order)))


def _weights_path(history: History, directory: Path | None) -> Path:
    return _directory(directory) / f"{file_stem(history.model_name)}.pt"


def has_weights(history: History, directory: Path | None = None) -> bool:
    """Whether a shipped run's trained weights ship too (``WEIGHTS_SHIPPED`` nets)."""
    return _weights_path(history, directory).is_file()


def shipped_weights(history: History, directory: Path | None = None) -> dict | None:
    """The state_dict shipped with a run (``WEIGHTS_SHIPPED`` nets), or None."""
    if not has_weights(history, directory):
        return None
    return torch.load(_weights_path(history, directory), map_location="cpu", weights_only=True)


def matches(history: History, run: dict) -> bool:
    """Whether a shipped run is the run ``run`` (a ``describe_run`` description) describes.

    Every field the shipped run recorded must agree, precision aside (it is part of the key,
    not of what was trained); a field that ``describe_run`` has added since (what it hashes
    may grow) cannot be compared and is taken from ``run``.
    """
    if history.config != run["model"]:
        return False
    return all(run[name] == value for name, value in history.setup.items()
               if name in run and name != "precision")


def seed_run_cache(cache: RunCache, data, directory: Path | None = None) -> list[str]:
    """Put the shipped runs that have weights into ``cache``; return the keys it now holds for them.

    Each key is computed now, from the run's configuration, ``data`` and the shipped precision,
    by ``describe_run`` (so it is the key ``train`` computes for that run on a machine that trains
    in that precision). Runs that ``data`` does not match (another dataset or image size) are
    left out. An entry already in the cache is not written again.
    """
    from .training import model_arguments, seeded_model

    keys = []
    for history in shipped_runs(directory):
        if not has_weights(history, directory):
            continue
        setup = history.setup
        with torch.random.fork_rng(devices=[]):
            model = seeded_model(model_arguments(history.config, data), setup["seed"], "cpu")
        run = describe_run(model, data, Schedule(**setup["schedule"]), setup["seed"], setup["precision"])
        if not matches(history, run):
            continue
        key = RunCache.key(run)
        if key not in cache:
            model.load_state_dict(shipped_weights(history, directory))
            seeded = replace(history, setup={name: value for name, value in run.items() if name != "model"})
            cache.put(key, seeded, model)
        keys.append(key)
    return keys
