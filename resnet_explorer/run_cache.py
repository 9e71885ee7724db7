"""Finished training runs on disk, so a lesson opened again shows its curves at once.

A run is keyed by a hash of everything that decides its numbers, ``describe_run``: the model's
configuration (``History.config``, the ``build_model`` arguments) and ``History.setup``: the
model's starting state (a SHA-256 of every weight and buffer, and which parameters are frozen),
the data (its name, sizes and a SHA-256 of every image and label), the schedule, the seed and
the precision. So a hit means the same run: a pretrained net, a net built after another
``torch.manual_seed`` or a relabelled dataset is a run of its own. ``RunCache.key`` is the one
function that turns that description into a key. Each entry is a folder::

    <root>/<key>/config.json    what was hashed: {"model": config, "start": ..., "data": ..., ...}
    <root>/<key>/history.json   the History (curves, status, message)
    <root>/<key>/model.pt       the trained weights (a state_dict)

Entries are written into a hidden temporary folder and then renamed into place, so a crash
never leaves half an entry, and several processes may write the same key at once (the last
complete write wins). Entries are checked when read (types, ranges, the configuration through
``ModelConfig``, at most ``DEEPEST_NET`` layers); a damaged entry is skipped with a warning.
Only folders that are entries (named by a key, holding only an entry's files) or this cache's
own leftovers are ever deleted, and keys are hex digits, never paths, so nothing outside the
root is touched.
The default root is ``$RESNET_EXPLORER_CACHE`` or ``~/.cache/resnet_explorer/runs``;
``RunCache.resolve(cache)`` turns the ``cache=True | None | RunCache`` argument of ``train``,
``compare`` and the explorers into a cache (or ``None``).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .checkpoints import load_weights, model_with_weights, read_state_dict
from .checks import (check_finite_number, check_positive_number, check_whole_number,
                     has_model_config, number_of_classes)
from .history import History
from .models import ModelConfig, ResNet
from .options import DEEPEST_NET
from .schedules import Schedule

CACHE_ENV = "RESNET_EXPLORER_CACHE"
FILES = ("config.json", "history.json", "model.pt")
#: How a stored run may end (running and stopped runs are not stored, but may be seeded).
STORED_STATUSES = ("finished", "diverged", "stopped")
# What RunCache.key gives (hex digits); entries are folders named so, and no other name is used.
_KEY = re.compile(r"[0-9a-f]{1,64}")
# Hidden folders this cache makes: ".<key>-<random>" while writing, ".trash-<random>" while deleting.
_STAGING = re.compile(r"\.[0-9a-f]{1,64}-[A-Za-z0-9_]+")
_TRASH_PREFIX = ".trash-"
# Rename attempts when other processes keep replacing the same entry.
_WRITE_ATTEMPTS = 50


def default_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "resnet_explorer" / "runs")


def describe_run(model: nn.Module, data, schedule: Schedule, seed: int, precision: str) -> dict:
    """Everything that decides a run's numbers, as JSON-ready values; the cache key hashes it.

    ``{"model": build_model arguments, "start": describe_start(model), "data":
    describe_data(data), "schedule": ..., "seed": ..., "precision": ...}``. ``train`` keeps
    ``"model"`` as ``History.config`` and the rest as ``History.setup``; a cache entry stores it
    whole in ``config.json``. What a key covers is decided here and nowhere else. Call it
    before training: ``"start"`` describes the model's weights as they are now.
    """
    arguments = (model.config.as_dict() if has_model_config(model)
                 else {"class": type(model).__name__})
    return {"model": arguments, "start": describe_start(model), "data": describe_data(data),
            "schedule": schedule.as_dict(), "seed": seed, "precision": precision}


def description_of(history: History) -> dict:
    """The ``describe_run`` description a finished run was keyed by (its config and setup)."""
    return {"model": history.config, **history.setup}


def describe_start(model: nn.Module) -> dict:
    """The state a run starts from: ``{"weights": SHA-256, "frozen": [parameter names]}``.

    The hash covers every entry of ``model.state_dict()`` (parameters and buffers such as BN's
    running statistics), with its name, shape, dtype and values. ``frozen`` lists the
    parameters with ``requires_grad=False``, which SGD leaves alone. Not covered: each
    module's train/eval mode, since ``train`` trains every module in train mode.
    """
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        _hash_tensor(digest, name, tensor)
    frozen = [name for name, parameter in model.named_parameters() if not parameter.requires_grad]
    return {"weights": digest.hexdigest(), "frozen": frozen}


def describe_data(data) -> dict:
    """Name, sizes and a SHA-256 of every image and label (so any change is a different key).

    Hashing all of it costs about 50 ms for the shipped 12,000 images at 16x16, 0.13 s at
    28x28 and 0.7-0.8 s for all 70,000 of Fashion-MNIST (one shared CPU core): at most about
    0.1% of a brief training run (``benchmarks/bench_run_key.py``).
    """
    digest = hashlib.sha256()
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        _hash_tensor(digest, name, getattr(data, name))
    return {"name": getattr(data, "name", "custom"), "train_size": len(data.train_images),
            "test_size": len(data.test_images), "image_size": int(data.train_images.shape[-1]),
            "in_channels": int(data.train_images.shape[1]), "num_classes": number_of_classes(data),
            "fingerprint": digest.hexdigest()}


def _hash_tensor(digest, name: str, tensor: torch.Tensor) -> None:
    """Add a tensor's name, shape, dtype and bytes (in the standard layout, from the CPU)."""
    values = tensor.detach().cpu().contiguous().reshape(-1)
    digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
    digest.update(values.view(torch.uint8).numpy())


@dataclass(frozen=True)
class CachedRun:
    """One stored run, as ``RunCache.list()`` shows it."""

    key: str
    model_name: str
    config: dict  # build_model arguments
    setup: dict  # start, data, schedule, seed, precision
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
        return all((self._folder(key) / name).is_file() for name in FILES)

    def get(self, key: str, model: nn.Module | None = None) -> History | None:
        """The stored History for ``key`` (loading its weights into ``model`` if given), or None.

        A damaged entry counts as missing (with a warning), so the run is simply trained again
        and the entry replaced; ``model`` is left untouched then.
        """
        folder = self._folder(key)
        if key not in self:
            return None
        try:
            history, _ = _read_history(folder)
            if model is not None:
                load_weights(model, read_state_dict(folder / "model.pt"))
        except FileNotFoundError:
            return None  # another process is replacing the entry just now
        except (OSError, ValueError) as error:
            warnings.warn(f"ignoring the damaged run cache entry {folder}: {error}; the run is "
                          "trained again and the entry replaced", stacklevel=2)
            return None
        history.from_cache = True
        return history

    def put(self, key: str, history: History, model: nn.Module) -> CachedRun:
        """Store a run (replacing any entry with the same key) and return its record.

        The files are written into a hidden folder, which is then renamed into place: readers
        see the old entry or the new one, never half of one. When other processes write the
        same key at once, each write succeeds and the last one stays.
        """
        target = self._folder(key)
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=self.root))
        try:
            values = history.to_dict()
            values["from_cache"] = False
            values["created"] = time.time()
            _write_json(staging / "config.json", description_of(history))
            _write_json(staging / "history.json", values)
            state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
            torch.save(state, staging / "model.pt")
            self._move_into_place(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return _record(key, History.from_dict(values), values["created"], target)

    def list(self) -> list[CachedRun]:
        """Every readable entry, oldest first; damaged entries are skipped with a warning."""
        if not self.root.is_dir():
            return []
        runs = []
        for folder in sorted(self.root.iterdir()):
            if not _is_entry(folder):
                continue
            try:
                runs.append(self._record(folder.name))
            except FileNotFoundError:
                continue  # removed or being replaced by another process just now
            except (OSError, ValueError) as error:
                warnings.warn(f"skipping the damaged run cache entry {folder}: {error}; delete it "
                              f"with {self!r}.remove({folder.name!r})", stacklevel=2)
        return sorted(runs, key=lambda run: run.created)

    def load_model(self, run: CachedRun | str, device: torch.device | str | None = None) -> ResNet:
        """Rebuild a stored run's model with ``build_model(**run.config)`` and load its weights.

        The model is put on ``device``, by default ``default_device()`` (the GPU when there is one).
        A damaged entry raises a ``ValueError`` that says so and how to remove it.
        """
        key = run.key if isinstance(run, CachedRun) else run
        folder = self._folder(key)
        if key not in self:
            raise KeyError(f"no run {key!r} in {self.root}")
        try:
            history, _ = _read_history(folder)
            return model_with_weights(history.config, read_state_dict(folder / "model.pt"), device)
        except (OSError, ValueError) as error:
            raise ValueError(f"the run cache entry {folder} is damaged ({error}); delete it with "
                             f"{self!r}.remove({key!r}) and train the run again") from None

    def remove(self, key: str) -> None:
        """Delete one entry (nothing happens if it is not there).

        ``ValueError`` if ``key`` names a folder that is not an entry: it is left alone.
        """
        target = self._folder(key)
        if not target.exists() and not target.is_symlink():
            return
        if not _is_entry(target):
            raise ValueError(f"{target} is not a run cache entry (it holds other files); it is "
                             "left as it is")
        self._discard(target)

    def clear(self) -> None:
        """Delete every entry, and any leftovers of interrupted writes; nothing else in the folder."""
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            if _is_entry(folder) or _is_leftover(folder):
                shutil.rmtree(folder, ignore_errors=True)

    def _folder(self, key: str) -> Path:
        """The folder of ``key`` (hex digits, as ``key`` makes them): inside the root, never a
        path that leaves it."""
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ValueError(f"a run cache key is what RunCache.key gives (hex digits such as "
                             f"'3fa2c41b0e'), not a path or another name; got {key!r}")
        return self.root / key

    def _record(self, key: str) -> CachedRun:
        folder = self._folder(key)
        if not (folder / "model.pt").is_file():
            raise FileNotFoundError(f"{folder / 'model.pt'} is missing")
        history, values = _read_history(folder)
        created = values.get("created", folder.stat().st_mtime)
        return _record(key, history, created, folder)

    def _move_into_place(self, staging: Path, target: Path) -> None:
        """Rename ``staging`` to ``target``, replacing what is there (other writers included)."""
        for _ in range(_WRITE_ATTEMPTS):
            try:
                os.replace(staging, target)  # atomic; refused while target is a full folder
                return
            except OSError as error:
                if error.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.EISDIR):
                    raise
            self._discard(target)
        raise OSError(f"could not replace {target}: other processes kept writing it")

    def _discard(self, folder: Path) -> None:
        # Rename first (atomic), so readers never see a half-deleted entry.
        trash = Path(tempfile.mkdtemp(prefix=_TRASH_PREFIX, dir=self.root))
        try:
            os.replace(folder, trash / folder.name)
        except FileNotFoundError:
            pass  # another process moved it first
        finally:
            shutil.rmtree(trash, ignore_errors=True)


def _is_entry(folder: Path) -> bool:
    """Whether ``folder`` is a run this cache wrote (damaged or not): named by a key, holding
    only the files of an entry."""
    if not _KEY.fullmatch(folder.name) or folder.is_symlink() or not folder.is_dir():
        return False
    names = {path.name for path in folder.iterdir()}
    return bool(names) and names <= set(FILES)


def _is_leftover(folder: Path) -> bool:
    """Whether ``folder`` is what an interrupted write or delete of this cache left behind."""
    if folder.is_symlink() or not folder.is_dir():
        return False
    if folder.name.startswith(_TRASH_PREFIX):
        return all(_is_entry(inner) or (inner.is_dir() and not any(inner.iterdir()))
                   for inner in folder.iterdir())
    return bool(_STAGING.fullmatch(folder.name)) and {p.name for p in folder.iterdir()} <= set(FILES)


def _record(key: str, history: History, created, folder: Path) -> CachedRun:
    return CachedRun(key=key, model_name=history.model_name, config=history.config,
                     setup=history.setup, status=history.status,
                     final_train_error=history.final_train_error,
                     final_test_error=history.final_test_error,
                     created=check_finite_number("created", created), path=folder)


# ---- reading an entry: nothing is trusted -------------------------------------------------------

def _read_history(folder: Path) -> tuple[History, dict]:
    """The entry's History and its raw values, checked; ``ValueError`` saying what is wrong."""
    values = _read_json(folder / "history.json")
    return checked_history(values), values


def checked_history(values: dict) -> History:
    """A ``History`` from stored values, after checking each of them; ``ValueError`` if one is wrong.

    Names and the message are text; the configuration is a net ``ModelConfig`` accepts, at
    most ``DEEPEST_NET`` layers deep (so that no explorer spends minutes building what a
    damaged file asks for); the curves are lists of numbers in range (error rates in [0, 1],
    steps counted from 1), each as long as its steps (or empty: not measured).
    """
    if not isinstance(values, dict):
        raise ValueError("it does not hold a JSON object")
    for name in ("model_name", "message"):
        if not isinstance(values.get(name, ""), str):
            raise ValueError(f"{name} must be text, got {values[name]!r}")
    if values.get("status") not in STORED_STATUSES:
        raise ValueError(f"status must be one of {', '.join(STORED_STATUSES)}, "
                         f"got {values.get('status')!r}")
    _check_config(values.get("config"))
    for name in ("setup", "runtime"):
        if not isinstance(values.get(name, {}), dict):
            raise ValueError(f"{name} must be a JSON object, got {values[name]!r}")
    curves: dict[str, Callable[[str, object], object]] = {
        "steps": lambda what, v: check_whole_number(what, v, minimum=1),
        "eval_steps": lambda what, v: check_whole_number(what, v, minimum=1),
        "train_loss": check_finite_number,
        "lr": check_positive_number,
        "wall_time": lambda what, v: check_positive_number(what, v, allow_zero=True),
        "train_error": _check_error_rate,
        "test_error": _check_error_rate,
        "train_subset_error": _check_error_rate,
    }
    for name, check in curves.items():
        curve = values.get(name, [])
        if not isinstance(curve, list):
            raise ValueError(f"{name} must be a list of numbers, got {type(curve).__name__}")
        for index, value in enumerate(curve):
            check(f"{name}[{index}]", value)
    for steps, curves_of_steps in (("steps", ("train_loss", "train_error", "lr", "wall_time")),
                                   ("eval_steps", ("test_error", "train_subset_error"))):
        count = len(values.get(steps, []))
        for name in curves_of_steps:
            if len(values.get(name, [])) not in (0, count):
                raise ValueError(f"{name} has {len(values[name])} values for {count} {steps}")
    return History.from_dict(values)


def _check_error_rate(what: str, value) -> float:
    return check_positive_number(what, value, allow_zero=True, maximum=1)


def _check_config(config) -> None:
    """``ValueError`` unless ``config`` is the ``build_model`` arguments of a net at most ``DEEPEST_NET`` deep."""
    if not isinstance(config, dict):
        raise ValueError(f"config must be a JSON object of build_model arguments, got {config!r}")
    depth = config.get("depth")
    if isinstance(depth, int) and depth > DEEPEST_NET:
        raise ValueError(f"config asks for a net of depth {depth}, deeper than {DEEPEST_NET} "
                         f"(ResNet-{DEEPEST_NET}, the deepest net the package builds from a file)")
    try:
        ModelConfig(**config)
    except (TypeError, ValueError) as error:
        raise ValueError(f"config {config!r} is not a net build_model can make: {error}") from None


def _read_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as file:
            values = json.load(file)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"{path.name} is not valid JSON ({type(error).__name__})") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path.name} does not hold a JSON object")
    return values


def _write_json(path: Path, values: dict) -> None:
    with open(path, "w", encoding="utf-8") as file:
        json.dump(values, file, indent=1)
        file.flush()
        os.fsync(file.fileno())
