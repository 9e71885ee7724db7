"""Races that were run once and shipped in ``data/races/``, so a lesson shows their result at once.

A shipped race (``NAME.json``) is the ``History`` of every run (curves, final errors, gradient
norms where recorded, configuration, data, schedule, seed, precision), optionally a *check* (a
short configuration run with several seeds, whose spread is the noise that a re-run is compared
against; ``tests/test_shipped_races.py`` re-runs it), and optionally the trained weights of some
of its nets, beside the file as ``NAME/STEM.pt`` (a state_dict; ``"ResNet-56 (A)"`` ->
``resnet-56-a.pt``); in a race of several seeds, the weights are those of one seed
(``weights_seed``). The script named in ``made_by`` makes the race again from scratch.

The default race (``DEFAULT_RACE``: lesson 02's race, ``race.DEFAULT_CONFIGURATIONS`` with seed
``RACE_SEED`` on the brief schedule at 16x16, made by ``scripts/make_race_runs.py``) ships the
weights of plain-20 and plain-56 (``WEIGHTS_SHIPPED``: lesson 02 deepens the trained plain-20
and sets it beside plain-56). ``seed_run_cache(cache, data)`` puts its runs that have weights
into a run cache, under the key that ``describe_run`` gives their configuration *now* (so a
change of what the key hashes changes the seeded keys too). A key includes the precision: the
shipped runs were made in bf16 (``precision="auto"`` on a CPU with native bf16), so on a machine
that trains in fp32 ``train`` and ``compare`` do not find them, and train; ``race_results`` (the
race's "Show result") then draws the shipped histories themselves, labelled as shipped.

Example::

    race = rx.load_race("identity_mappings")          # data/races/identity_mappings.json
    race.histories[0].final_train_error
    rx.figures.training_curves(race.select(seed=0))
    rx.load_race("default").state_dict("plain-20")    # data/races/default/plain-20.pt
    rx.load_race("identity_mappings").load_model("ResNet-56 (A), stochastic depth 0.5")  # its seed-0 net
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from .checkpoints import load_weights, model_with_weights, read_state_dict
from .data import DATA_DIR
from .history import History, runs_by_net
from .run_cache import RunCache, describe_run
from .schedules import Schedule
from .training import model_arguments, seeded_model

RACE_DIR = DATA_DIR / "races"
RACE_FORMAT = "resnet_explorer.race"
RACE_VERSION = 1
#: Errors are fractions of 1,000 images at most: 5 decimals keep them exact; values below 1
#: (gradient norms down to 0.001) keep 5 significant digits too.
_DIGITS = 5

#: Lesson 02's race, ``data/races/default.json`` (``scripts/make_race_runs.py``).
DEFAULT_RACE = "default"
#: The nets of the default race whose trained weights ship (lesson 02's ``rx.deepen`` cell needs them).
WEIGHTS_SHIPPED = ("plain-20", "plain-56")


@dataclass
class RaceCheck:
    """A short configuration run with several seeds: the spread of its final errors is the noise
    a re-run is compared against (``tolerance``)."""

    config: dict  # build_model arguments
    schedule: dict  # the Schedule's fields
    seeds: list[int]
    final_train_errors: list[float]
    final_test_errors: list[float]

    def tolerance(self, errors: Sequence[float]) -> float:
        """Three standard deviations over the seeds, and at least 0.01 (ten of 1,000 images)."""
        return max(0.01, 3 * statistics.stdev(errors)) if len(errors) > 1 else 0.05


@dataclass
class ShippedRace:
    """The runs of one shipped race, in the order they ran, and its check."""

    name: str
    description: str
    made_by: str  # the script that makes the file
    histories: list[History]
    check: RaceCheck | None = None
    notes: dict = field(default_factory=dict)
    weights: dict[str, str] = field(default_factory=dict)  # model_name -> file, relative to the race file's folder
    weights_seed: int | None = None  # the seed of the runs whose weights ship (None: the race's only seed)
    path: Path | None = field(default=None, compare=False)  # the race file, where the weights' paths start

    def has_weights(self, model_name: str) -> bool:
        """Whether the trained weights of this net ship with the race."""
        return model_name in self.weights

    def state_dict(self, model_name: str) -> dict | None:
        """The trained weights of this net (a state_dict on the CPU), or None where they do not ship.

        In a race of several seeds they are the weights of the run with seed ``weights_seed``.
        """
        if model_name not in self.weights:
            return None
        race_file = Path(self.path) if self.path is not None else RACE_DIR / f"{self.name}.json"
        path = race_file.parent / self.weights[model_name]
        if not path.is_file():
            raise FileNotFoundError(f"{model_name}: the race {self.name!r} names its weights {path}, which is "
                                    f"missing; make the race again with {self.made_by}")
        return read_state_dict(path)

    def load_model(self, model_name: str, device: torch.device | str | None = None) -> nn.Module:
        """The trained net itself: ``build_model`` of its run's configuration, with its shipped
        weights, on ``device`` (by default ``default_device()``, the GPU when there is one).

        ``ValueError`` names the nets whose weights ship when this one's do not.
        """
        if not self.has_weights(model_name):
            raise ValueError(f"the race {self.name!r} ships no weights for {model_name!r}; it ships them for "
                             f"{', '.join(self.weights) or 'no net'}")
        seed = self.weights_seed
        history = next((history for history in self.histories if history.model_name == model_name
                        and (seed is None or history.setup.get("seed") == seed)), None)
        if history is None:
            raise ValueError(f"the race {self.name!r} ships weights for {model_name!r} of seed {seed}, but has no "
                             f"run of it with that seed; make the race again with {self.made_by}")
        return model_with_weights(history.config, self.state_dict(model_name), device)

    def select(self, seed: int | None = None, **config) -> list[History]:
        """The runs with this seed and these ``build_model`` arguments (all runs by default)."""
        return [history for history in self.histories
                if (seed is None or history.setup.get("seed") == seed)
                and all(history.config.get(key, _DEFAULTS.get(key)) == value for key, value in config.items())]

    def labels(self) -> list[str]:
        """The nets of the race, each once, in order."""
        return list(runs_by_net(self.histories))

    def summary(self) -> list[dict]:
        """Per net: its label, the seeds, and the mean and spread of its final errors."""
        rows = []
        for label, runs in runs_by_net(self.histories).items():
            train = [run.final_train_error for run in runs]
            test = [run.final_test_error for run in runs]
            rows.append({"label": label, "seeds": [run.setup.get("seed") for run in runs],
                         "train_mean": statistics.fmean(train), "train_min": min(train), "train_max": max(train),
                         "test_mean": statistics.fmean(test), "test_min": min(test), "test_max": max(test),
                         "statuses": [run.status for run in runs]})
        return rows


_DEFAULTS = {"shortcut_variant": "original", "activation_order": "original", "stochastic_depth": None}


def file_stem(model_name: str) -> str:
    """A file name for a net: ``"ResNet-56 (A)"`` -> ``"resnet-56-a"``, ``"plain-20"`` -> ``"plain-20"``."""
    return re.sub(r"[^a-z0-9]+", "-", model_name.lower()).strip("-")


def _rounded(values: dict) -> dict:
    def tidy(value):
        if isinstance(value, float) and math.isfinite(value):
            if value == 0:
                return value
            return round(value, max(_DIGITS, _DIGITS - 1 - math.floor(math.log10(abs(value)))))
        if isinstance(value, list):
            return [tidy(item) for item in value]
        if isinstance(value, dict):
            return {key: tidy(item) for key, item in value.items()}
        return value
    return tidy(values)


def save_race(path: str | Path, name: str, description: str, made_by: str, histories: Sequence[History],
              check: RaceCheck | None = None, notes: dict | None = None,
              weights: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
              weights_seed: int | None = None) -> Path:
    """Write a race's histories and its check as JSON; returns the path.

    ``weights`` maps a net's ``model_name`` to its trained state_dict, for the nets whose weights
    ship: each is saved on the CPU beside the file (``NAME/STEM.pt`` for ``path`` ``NAME.json``).
    A race of several seeds ships the weights of one, ``weights_seed``.
    """
    path = Path(path)
    names = {history.model_name for history in histories}
    unknown = sorted(set(weights or {}) - names)
    if unknown:
        raise ValueError(f"weights for {', '.join(unknown)}, which the race does not run; its nets: "
                         f"{', '.join(sorted(names))}")
    seeds = sorted({history.setup.get("seed") for history in histories}, key=str)
    if weights and weights_seed is None and len(seeds) > 1:
        raise ValueError(f"the race has seeds {', '.join(map(str, seeds))}: say with weights_seed= which "
                         "seed's runs the weights are")
    if weights_seed is not None and weights_seed not in seeds:
        raise ValueError(f"weights_seed={weights_seed!r}, but the race has seeds {', '.join(map(str, seeds))}")
    files = {}
    for model_name, state in (weights or {}).items():
        files[model_name] = f"{path.stem}/{file_stem(model_name)}.pt"
        (path.parent / path.stem).mkdir(parents=True, exist_ok=True)
        torch.save({key: tensor.detach().cpu().contiguous() for key, tensor in state.items()},
                   path.parent / files[model_name])
    document = {"format": RACE_FORMAT, "version": RACE_VERSION, "name": name, "description": description,
                "made_by": made_by, "notes": notes or {}, "weights": files, "weights_seed": weights_seed,
                "check": None if check is None else _rounded(check.__dict__),
                "runs": [_rounded({key: value for key, value in history.to_dict().items() if key != "from_cache"})
                         for history in histories]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, separators=(",", ":")) + "\n", encoding="utf-8")
    return path


def load_race(name_or_path: str | Path) -> ShippedRace:
    """A shipped race by name (``"identity_mappings"``, from ``data/races/``) or from a file.

    Raises ``FileNotFoundError`` naming the races that are shipped, or ``ValueError`` when the
    file is not a race.
    """
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = RACE_DIR / f"{name_or_path}.json"
    if not path.exists():
        shipped = sorted(p.stem for p in RACE_DIR.glob("*.json"))
        raise FileNotFoundError(f"no shipped race {str(name_or_path)!r} ({path}); shipped: "
                                f"{', '.join(shipped) or 'none'}")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not JSON ({error}); make it again with its script") from None
    if not isinstance(document, dict) or document.get("format") != RACE_FORMAT:
        raise ValueError(f'{path} is not a shipped race (it needs "format": "{RACE_FORMAT}")')
    if document.get("version") != RACE_VERSION:
        raise ValueError(f"{path} has version {document.get('version')!r}; this resnet_explorer reads "
                         f"version {RACE_VERSION}")
    check = document.get("check")
    return ShippedRace(name=document["name"], description=document["description"], made_by=document["made_by"],
                       histories=[History.from_dict(run) for run in document["runs"]],
                       check=None if check is None else RaceCheck(**check), notes=document.get("notes", {}),
                       weights=document.get("weights", {}), weights_seed=document.get("weights_seed"), path=path)


# -- the default race in the run cache ---------------------------------------------------------

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


def seed_run_cache(cache: RunCache, data, race: ShippedRace | None = None) -> list[str]:
    """Put the runs of ``race`` (the default race) that have weights into ``cache``; return the
    keys it now holds for them.

    Each key is computed now, from the run's configuration, ``data`` and the shipped precision,
    by ``describe_run`` (so it is the key ``train`` computes for that run on a machine that trains
    in that precision). Runs that ``data`` does not match (another dataset or image size) are
    left out. An entry already in the cache is not written again.
    """
    race = load_race(DEFAULT_RACE) if race is None else race
    keys = []
    for history in race.histories:
        if not race.has_weights(history.model_name):
            continue
        setup = history.setup
        with torch.random.fork_rng(devices=[]):
            model = seeded_model(model_arguments(history.config, data), setup["seed"], "cpu")
        run = describe_run(model, data, Schedule(**setup["schedule"]), setup["seed"], setup["precision"])
        if not matches(history, run):
            continue
        key = RunCache.key(run)
        if key not in cache:
            load_weights(model, race.state_dict(history.model_name))
            seeded = replace(history, setup={name: value for name, value in run.items() if name != "model"})
            cache.put(key, seeded, model)
        keys.append(key)
    return keys
