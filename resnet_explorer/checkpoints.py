"""Small trained models shipped in ``data/checkpoints/``, so lessons need no training and no download.

Each checkpoint is a ``state_dict`` (``NAME.pt``, loaded with ``weights_only=True``) beside a
``NAME.json`` that says how it was made: the model's ``build_model`` arguments, the data, the
schedule, the seed, the script (``scripts/make_checkpoints.py``) and the measured test error.

Weights files are read by ``read_state_dict`` (the run cache uses it too): tensors only, so
loading never runs code from the file, and a damaged file is named as damaged.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .checks import check_plain_name
from .data import DATA_DIR
from .device import resolve_device
from .models import ModelConfig, ResNet, build_model

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


def list_checkpoints(directory: str | os.PathLike = CHECKPOINT_DIR) -> list[CheckpointInfo]:
    """Every checkpoint in ``directory``, by name; an unreadable one is skipped with a warning."""
    infos = []
    for path in sorted(_folder(directory).glob("*.json")):
        try:
            infos.append(_read_info(path))
        except ValueError as error:
            warnings.warn(f"skipping the checkpoint {path.stem!r}: {error}", stacklevel=2)
    return infos


def checkpoint_info(name: str, directory: str | os.PathLike = CHECKPOINT_DIR) -> CheckpointInfo:
    """How the checkpoint ``name`` was made; ``ValueError`` listing the names if unknown."""
    check_plain_name("a checkpoint name", name)
    directory = _folder(directory)
    path = directory / f"{name}.json"
    if not path.is_file():
        known = ", ".join(info.name for info in list_checkpoints(directory)) or "none"
        raise ValueError(f"unknown checkpoint {name!r}; shipped checkpoints: {known}")
    return _read_info(path)


def load_checkpoint(name: str, *, device: torch.device | str | None = None,
                    directory: str | os.PathLike = CHECKPOINT_DIR) -> ResNet:
    """The trained model ``name`` in eval mode, rebuilt with ``build_model`` and its weights loaded.

    The model is put on ``device``, by default ``default_device()`` (the GPU when there is one);
    the probes and ``train`` then compute there.
    """
    info = checkpoint_info(name, directory)
    weights = _folder(directory) / f"{name}.pt"
    fix = (f"restore it with `git checkout -- {weights}` or rebuild it with "
           f"`python scripts/make_checkpoints.py {name}`")
    if not weights.exists():
        raise FileNotFoundError(f"{weights} is missing; {fix}")
    model = build_model(**info.model, device="cpu")
    try:
        load_weights(model, read_state_dict(weights))
    except ValueError as error:
        raise ValueError(f"{error}; {fix}") from None
    return model.to(resolve_device(device)).eval()


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a weights file (a ``state_dict``), read with ``weights_only=True``.

    No code from the file runs. A file that is damaged, or holds anything but named tensors,
    raises a ``ValueError`` that says so (never torch's advice to load it with
    ``weights_only=False``, which would run whatever the file holds).
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception:  # noqa: BLE001 - any failure to read tensors alone means a damaged file
        raise ValueError(f"{path} is damaged: it cannot be read as a file of weights (tensors "
                         "only; nothing in it is run)") from None
    if not isinstance(state, dict) or not all(
            isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in state.items()):
        raise ValueError(f"{path} is damaged: it does not hold a state_dict (names -> tensors)")
    return state


def load_weights(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load ``state`` into ``model`` if every name and shape fits; else ``ValueError``, model untouched.

    ``load_state_dict`` alone would copy the tensors that fit before it complains about the rest.
    """
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    misshapen = sorted(name for name in set(state) & set(expected)
                       if state[name].shape != expected[name].shape)
    if missing or unexpected or misshapen:
        problems = [f"{label} {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
                    for label, names in (("missing", missing), ("unexpected", unexpected),
                                         ("wrong shape for", misshapen)) if names]
        name = getattr(getattr(model, "config", None), "name", type(model).__name__)
        raise ValueError(f"the weights do not fit {name}: {'; '.join(problems)}")
    model.load_state_dict(state)


def model_with_weights(config: dict, state: dict[str, torch.Tensor],
                       device: torch.device | str | None = None) -> ResNet:
    """``build_model(**config)`` with ``state`` loaded (``load_weights``), on ``device``: by default
    ``default_device()``, the GPU when there is one. Built on the CPU first, so the weights are
    checked and loaded before anything is put on the device."""
    model = build_model(**config, device="cpu")
    load_weights(model, state)
    return model.to(resolve_device(device))


def save_checkpoint(model: ResNet, info: CheckpointInfo, directory: Path = CHECKPOINT_DIR) -> Path:
    """Write ``NAME.pt`` and ``NAME.json`` (used by ``scripts/make_checkpoints.py``)."""
    check_plain_name("a checkpoint name", info.name)
    directory = _folder(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    torch.save(state, directory / f"{info.name}.pt")
    (directory / f"{info.name}.json").write_text(json.dumps(info.__dict__, indent=2) + "\n")
    return directory / f"{info.name}.pt"


def _folder(directory: str | os.PathLike) -> Path:
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"directory must be a folder's path, not {type(directory).__name__}")
    return Path(directory)


def _read_info(path: Path) -> CheckpointInfo:
    """The checkpoint described by a JSON file; ``ValueError`` naming the file if it is not one."""
    try:
        info = CheckpointInfo(**json.loads(path.read_text(encoding="utf-8")))
        ModelConfig(**info.model)
        return info
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError, ValueError,
            RecursionError) as error:
        raise ValueError(f"{path} is not a checkpoint description ({type(error).__name__}: "
                         f"{error}); see scripts/make_checkpoints.py") from None
