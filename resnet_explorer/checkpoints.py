"""Small trained models shipped in ``data/checkpoints/``, so lessons need no training and no download.

Each checkpoint is a ``state_dict`` (``NAME.pt``, loaded with ``weights_only=True``) beside a
``NAME.json`` that says how it was made: the model's ``build_model`` arguments, the data, the
schedule, the seed, the script (``scripts/make_checkpoints.py``) and the measured test error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from .data import DATA_DIR
from .device import resolve_device
from .models import ResNet, build_model

CHECKPOINT_DIR = DATA_DIR / "checkpoints"


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint is and how it was made (the contents of its JSON file)."""

    name: str
    description: str
    model: dict  # build_model arguments
    data: dict  # dataset name, image size, classes
    schedule: dict
    seed: int
    test_error: float
    script: str
    seconds: float  # training time, on `notes`' threads
    notes: str = ""  # threads, and who ran the recipe


def list_checkpoints(directory: Path = CHECKPOINT_DIR) -> list[CheckpointInfo]:
    """Every shipped checkpoint, by name."""
    return [_read_info(path) for path in sorted(directory.glob("*.json"))]


def checkpoint_info(name: str, directory: Path = CHECKPOINT_DIR) -> CheckpointInfo:
    """How the checkpoint ``name`` was made; ``ValueError`` listing the names if unknown."""
    path = directory / f"{name}.json"
    if not path.exists():
        known = ", ".join(info.name for info in list_checkpoints(directory)) or "none"
        raise ValueError(f"unknown checkpoint {name!r}; shipped checkpoints: {known}")
    return _read_info(path)


def load_checkpoint(name: str, *, device: torch.device | str | None = None,
                    directory: Path = CHECKPOINT_DIR) -> ResNet:
    """The trained model ``name`` in eval mode, rebuilt with ``build_model`` and its weights loaded.

    The model is put on ``device``, by default ``default_device()`` (the GPU when there is one);
    the probes and ``train`` then compute there.
    """
    info = checkpoint_info(name, directory)
    weights = directory / f"{name}.pt"
    if not weights.exists():
        raise FileNotFoundError(
            f"{weights} is missing; rebuild it with `python scripts/make_checkpoints.py {name}`"
        )
    model = build_model(**info.model)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.to(resolve_device(device)).eval()


def save_checkpoint(model: ResNet, info: CheckpointInfo, directory: Path = CHECKPOINT_DIR) -> Path:
    """Write ``NAME.pt`` and ``NAME.json`` (used by ``scripts/make_checkpoints.py``)."""
    directory.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    torch.save(state, directory / f"{info.name}.pt")
    (directory / f"{info.name}.json").write_text(json.dumps(info.__dict__, indent=2) + "\n")
    return directory / f"{info.name}.pt"


def _read_info(path: Path) -> CheckpointInfo:
    return CheckpointInfo(**json.loads(path.read_text()))
