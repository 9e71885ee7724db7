"""Races that were run once and shipped as JSON, so a lesson shows their curves at once.

A shipped race is the ``History`` of every run (curves, final errors, configuration, data,
schedule, seed, precision) without model weights, plus a *check*: a short configuration run
with several seeds, whose spread is the noise that a re-run is compared against
(``tests/test_shipped_races.py`` re-runs it). The script named in ``made_by`` makes the file
again from scratch.

Example::

    race = rx.load_race("identity_mappings")          # data/races/identity_mappings.json
    race.histories[0].final_train_error
    rx.figures.training_curves(race.select(seed=0))
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .data import DATA_DIR
from .history import History

RACE_DIR = DATA_DIR / "races"
RACE_FORMAT = "resnet_explorer.race"
RACE_VERSION = 1
_DIGITS = 5  # errors are fractions of 1,000 images at most: 5 digits keep every value exact enough


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

    def select(self, seed: int | None = None, **config) -> list[History]:
        """The runs with this seed and these ``build_model`` arguments (all runs by default)."""
        return [history for history in self.histories
                if (seed is None or history.setup.get("seed") == seed)
                and all(history.config.get(key, _DEFAULTS.get(key)) == value for key, value in config.items())]

    def labels(self) -> list[str]:
        """The nets of the race, each once, in order."""
        return list(dict.fromkeys(history.model_name for history in self.histories))

    def summary(self) -> list[dict]:
        """Per net: its label, the seeds, and the mean and spread of its final errors."""
        rows = []
        for label in self.labels():
            runs = [history for history in self.histories if history.model_name == label]
            train = [run.final_train_error for run in runs]
            test = [run.final_test_error for run in runs]
            rows.append({"label": label, "seeds": [run.setup.get("seed") for run in runs],
                         "train_mean": statistics.fmean(train), "train_min": min(train), "train_max": max(train),
                         "test_mean": statistics.fmean(test), "test_min": min(test), "test_max": max(test),
                         "statuses": [run.status for run in runs]})
        return rows


_DEFAULTS = {"shortcut_variant": "original", "activation_order": "original", "stochastic_depth": None}


def _rounded(values: dict) -> dict:
    def tidy(value):
        if isinstance(value, float) and math.isfinite(value):
            return round(value, _DIGITS)
        if isinstance(value, list):
            return [tidy(item) for item in value]
        if isinstance(value, dict):
            return {key: tidy(item) for key, item in value.items()}
        return value
    return tidy(values)


def save_race(path: str | Path, name: str, description: str, made_by: str, histories: Sequence[History],
              check: RaceCheck | None = None, notes: dict | None = None) -> Path:
    """Write a race's histories (no weights) and its check as JSON; returns the path."""
    path = Path(path)
    document = {"format": RACE_FORMAT, "version": RACE_VERSION, "name": name, "description": description,
                "made_by": made_by, "notes": notes or {},
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
                       check=None if check is None else RaceCheck(**check), notes=document.get("notes", {}))
