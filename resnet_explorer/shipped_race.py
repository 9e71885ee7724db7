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
from pathlib import Path

import torch

from .data import DATA_DIR
from .history import History

SHIPPED_RACE_DIR = DATA_DIR / "race"

#: The nets whose trained weights ship (lesson 02's ``rx.deepen`` cell needs them).
WEIGHTS_SHIPPED = ("plain-20", "plain-56")

#: What ``save_shipped_run`` records as the maker of the files.
SCRIPT = "scripts/make_race_runs.py"


def file_stem(model_name: str) -> str:
    """A file name for a net: ``"ResNet-56 (A)"`` -> ``"resnet-56-a"``, ``"plain-20"`` -> ``"plain-20"``."""
    return re.sub(r"[^a-z0-9]+", "-", model_name.lower()).strip("-")


def save_shipped_run(history: History, directory: Path = SHIPPED_RACE_DIR) -> Path:
    """Write ``NAME.json`` (the history) and, for ``WEIGHTS_SHIPPED`` nets, ``NAME.pt`` (a state_dict)."""
    directory = Path(directory)
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
