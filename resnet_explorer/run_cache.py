"""Finished training runs on disk, so a lesson opened again shows its curves at once.

A run is keyed by a hash of everything that decides its numbers, ``describe_run``: the model's
configuration (``History.config``, the ``build_model`` arguments) and ``History.setup`` (the
data's name, sizes and fingerprint, the schedule, the seed and the precision). ``RunCache.key``
is the one function that turns that description into a key. Each entry is a folder::

    <root>/<key>/config.json    what was hashed: {"model": config, "data": ..., "schedule": ...}
    <root>/<key>/history.json   the History (curves, status, message)
    <root>/<key>/model.pt       the trained weights (a state_dict)

Entries are written into a hidden temporary folder and then renamed into place, so a crash
never leaves half an entry; a damaged entry is skipped by ``list()`` with a warning.
The default root is ``$RESNET_EXPLORER_CACHE`` or ``~/.cache/resnet_explorer/runs``;
``RunCache.resolve(cache)`` turns the ``cache=True | None | RunCache`` argument of ``train``,
``compare`` and the explorers into a cache (or ``None``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .checks import has_model_config, number_of_classes
from .device import resolve_device
from .history import History
from .models import ResNet, build_model
from .schedules import Schedule

CACHE_ENV = "RESNET_EXPLORER_CACHE"
FILES = ("config.json", "history.json", "model.pt")


def default_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "resnet_explorer" / "runs")


def describe_run(model: nn.Module, data, schedule: Schedule, seed: int, precision: str) -> dict:
    """Everything that decides a run's numbers, as JSON-ready values; the cache key hashes it.

    ``{"model": build_model arguments, "data": describe_data(data), "schedule": ...,
    "seed": ..., "precision": ...}``. ``train`` keeps ``"model"`` as ``History.config`` and the
    rest as ``History.setup``; a cache entry stores it whole in ``config.json``. What a key
    covers is decided here and nowhere else.
    """
    arguments = (model.config.as_dict() if has_model_config(model)
                 else {"class": type(model).__name__})
    return {"model": arguments, "data": describe_data(data), "schedule": schedule.as_dict(),
            "seed": seed, "precision": precision}


def describe_data(data) -> dict:
    """Name, sizes and a fingerprint of the images and labels (so a different subset is a different key)."""
    digest = hashlib.sha256()
    for tensor in (data.train_images, data.train_labels, data.test_images, data.test_labels):
        sample = tensor[:: max(1, len(tensor) // 2000)].detach().cpu().contiguous()
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(sample.numpy().tobytes())
    return {"name": getattr(data, "name", "custom"), "train_size": len(data.train_images),
            "test_size": len(data.test_images), "image_size": int(data.train_images.shape[-1]),
            "in_channels": int(data.train_images.shape[1]), "num_classes": number_of_classes(data),
            "fingerprint": digest.hexdigest()[:16]}


@dataclass(frozen=True)
class CachedRun:
    """One stored run, as ``RunCache.list()`` shows it."""

    key: str
    model_name: str
    config: dict  # build_model arguments
    setup: dict  # data, schedule, seed, precision
    status: str
    final_train_error: float
    final_test_error: float
    created: float  # seconds since the epoch
    path: Path


class RunCache:
    """A folder of finished runs; see the module docstring for its layout."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()

    @staticmethod
    def key(run: dict) -> str:
        """The one key of a run: a short stable hash of its ``describe_run`` description."""
        text = json.dumps(run, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    @classmethod
    def resolve(cls, cache: RunCache | bool | None) -> RunCache | None:
        """The cache a ``cache=`` argument means: ``True`` the default one, ``None`` or ``False`` none."""
        if cache is None or cache is False:
            return None
        if cache is True:
            return cls()
        if not isinstance(cache, RunCache):
            raise TypeError(f"cache must be a RunCache, True (the default cache) or None (no cache), "
                            f"not {type(cache).__name__}")
        return cache

    def __repr__(self) -> str:
        return f"RunCache({str(self.root)!r})"

    def __contains__(self, key: str) -> bool:
        return all((self.root / key / name).is_file() for name in FILES)

    def get(self, key: str, model: nn.Module | None = None) -> History | None:
        """The stored History for ``key`` (loading its weights into ``model`` if given), or None.

        A damaged entry counts as missing (with a warning), so the run is simply trained again.
        """
        if key not in self:
            return None
        folder = self.root / key
        try:
            history = History.from_dict(_read_json(folder / "history.json"))
            if model is not None:
                model.load_state_dict(self._load_state(folder))
        except Exception as error:  # noqa: BLE001 - any damage means "train again"
            warnings.warn(f"ignoring the damaged run cache entry {folder}: {error!r}", stacklevel=2)
            return None
        history.from_cache = True
        return history

    def put(self, key: str, history: History, model: nn.Module) -> CachedRun:
        """Store a run (replacing any entry with the same key) and return its record."""
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=self.root))
        try:
            values = history.to_dict()
            values["from_cache"] = False
            values["created"] = time.time()
            _write_json(staging / "config.json", {"model": history.config, **history.setup})
            _write_json(staging / "history.json", values)
            state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
            torch.save(state, staging / "model.pt")
            target = self.root / key
            if target.exists():
                self._discard(target)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return self._record(key)

    def list(self) -> list[CachedRun]:
        """Every readable entry, oldest first; damaged entries are skipped with a warning."""
        if not self.root.is_dir():
            return []
        runs = []
        for folder in sorted(self.root.iterdir()):
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            try:
                runs.append(self._record(folder.name))
            except Exception as error:  # noqa: BLE001
                warnings.warn(f"skipping the damaged run cache entry {folder}: {error!r}",
                              stacklevel=2)
        return sorted(runs, key=lambda run: run.created)

    def load_model(self, run: CachedRun | str, device: torch.device | str | None = None) -> ResNet:
        """Rebuild a stored run's model with ``build_model(**run.config)`` and load its weights.

        The model is put on ``device``, by default ``default_device()`` (the GPU when there is one).
        """
        key = run.key if isinstance(run, CachedRun) else run
        folder = self.root / key
        if key not in self:
            raise KeyError(f"no run {key!r} in {self.root}")
        model = build_model(**History.from_dict(_read_json(folder / "history.json")).config)
        model.load_state_dict(self._load_state(folder))
        return model.to(resolve_device(device))

    def remove(self, key: str) -> None:
        """Delete one entry (nothing happens if it is not there)."""
        target = self.root / key
        if target.exists():
            self._discard(target)

    def clear(self) -> None:
        """Delete every entry, and any leftovers of interrupted writes."""
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            if folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)

    def _record(self, key: str) -> CachedRun:
        folder = self.root / key
        if not (folder / "model.pt").is_file():
            raise FileNotFoundError(f"{folder / 'model.pt'} is missing")
        values = _read_json(folder / "history.json")
        history = History.from_dict(values)
        return CachedRun(key=key, model_name=history.model_name, config=history.config, setup=history.setup,
                         status=history.status, final_train_error=history.final_train_error,
                         final_test_error=history.final_test_error,
                         created=float(values.get("created", folder.stat().st_mtime)), path=folder)

    @staticmethod
    def _load_state(folder: Path) -> dict:
        return torch.load(folder / "model.pt", map_location="cpu", weights_only=True)

    def _discard(self, folder: Path) -> None:
        # Rename first (atomic), so readers never see a half-deleted entry.
        trash = Path(tempfile.mkdtemp(prefix=".trash-", dir=self.root))
        os.replace(folder, trash / folder.name)
        shutil.rmtree(trash, ignore_errors=True)


def _read_json(path: Path) -> dict:
    with open(path, encoding="utf-8") as file:
        values = json.load(file)
    if not isinstance(values, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return values


def _write_json(path: Path, values: dict) -> None:
    with open(path, "w", encoding="utf-8") as file:
        json.dump(values, file, indent=1)
        file.flush()
        os.fsync(file.fileno())
