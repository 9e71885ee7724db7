"""Train a ResNet (or its plain twin) with the paper's recipe, fast enough to watch on a laptop CPU.

He et al. 2015, Section 4.2: SGD with momentum 0.9, weight decay 1e-4, batch 128, learning
rate 0.1 divided by 10 at 50% and 75% of training, 4-pixel pad + random crop + horizontal flip;
ResNet-110 first warms up at lr 0.01. ``train`` follows that recipe on whole-tensor datasets
(``load_dataset``): batches are sliced from one tensor and augmented as a batch, so no
DataLoader processes compete with the model for the CPU's cores.

A ``Schedule`` bundles the recipe's numbers. The presets (``SCHEDULES``):

- ``"brief"`` (``BRIEF_SCHEDULE``): 600 steps of 128, lr 0.01 for the first 100 steps, then 0.1,
  divided by 10 at steps 300 and 450. On 16x16 images (``BRIEF_IMAGE_SIZE``) it shows the
  degradation problem in a few minutes on two CPU cores: plain-56 ends with a clearly higher
  *training* error than plain-20, while ResNet-56 does not (``benchmarks/bench_degradation.py``).
  Without the warm-up (lr 0.1 from the first step), ResNet-56 also lags ResNet-20 in so short a
  run, which hides what the paper shows.
- ``"fast"`` (``FAST_SCHEDULE``): a few seconds, for tests and the notebooks' fast mode
  (``RESNET_EXPLORER_FAST=1``, which makes it the default).
- ``"paper"``: the paper's 64k iterations, for reference (days on a CPU).

The training error to compare between nets is ``History.final_train_error``: the error on a fixed
subset of the training images, measured in eval mode without augmentation at the end of the run
(the paper's Fig. 6 also plots training error). The per-batch errors are noisier: they come from
augmented images, in train mode, while the weights are still moving.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from threading import Event

import torch
import torch.nn.functional as F
from torch import nn

from .augment import random_crop_flip
from .device import resolve_device
from .environment_check import fast_mode
from .models import ModelConfig, build_model
from .speed import SpeedSettings, choose_settings, thread_limit

STATUSES = ("running", "finished", "stopped", "diverged")
#: The image size the brief schedule was tuned for: ``load_dataset(image_size=BRIEF_IMAGE_SIZE)``.
BRIEF_IMAGE_SIZE = 16
#: Per-batch errors averaged for ``final_train_error`` when no eval-mode measurement exists.
LAST_BATCHES = 20
# The evaluation subsets do not depend on the run's seed, so every run is measured on the same images.
_EVAL_SUBSET_SEED = 1234


def _check_whole(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")


@dataclass(frozen=True)
class Schedule:
    """The numbers of a training run: how long, how fast, and how it is measured.

    ``milestones`` are fractions of ``steps`` where the learning rate is divided by 10 (the
    paper's 32k and 48k of 64k iterations are 0.5 and 0.75). For the first ``warmup_steps`` the
    learning rate is ``lr / 10`` (the paper's warm-up for ResNet-110). Every ``eval_every`` steps
    and at the end, the test error and the training error are measured on ``eval_size`` fixed
    images of each split (``None``: all of them).
    """

    steps: int
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    milestones: tuple[float, ...] = (0.5, 0.75)
    warmup_steps: int = 0
    eval_every: int = 100
    eval_size: int | None = 1000
    augment: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "milestones", tuple(float(m) for m in self.milestones))
        for name in ("steps", "batch_size", "eval_every"):
            _check_whole(name, getattr(self, name), minimum=1)
        _check_whole("warmup_steps", self.warmup_steps, minimum=0)
        if self.eval_size is not None:
            _check_whole("eval_size", self.eval_size, minimum=1)
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if any(not 0 < m <= 1 for m in self.milestones) or list(self.milestones) != sorted(self.milestones):
            raise ValueError(f"milestones must be increasing fractions of the steps in (0, 1], "
                             f"e.g. (0.5, 0.75); got {self.milestones!r}")
        if self.warmup_steps > self.steps:
            raise ValueError(f"warmup_steps ({self.warmup_steps}) cannot exceed steps ({self.steps})")

    def lr_at(self, step: int) -> float:
        """The learning rate of step ``step`` (counted from 0)."""
        if step < self.warmup_steps:
            return self.lr / 10
        decays = sum(step >= round(m * self.steps) for m in self.milestones)
        return self.lr * 0.1**decays

    def as_dict(self) -> dict:
        values = asdict(self)
        values["milestones"] = list(self.milestones)
        return values


BRIEF_SCHEDULE = Schedule(steps=600, warmup_steps=100, eval_every=100, eval_size=1000)
FAST_SCHEDULE = Schedule(steps=30, batch_size=64, warmup_steps=5, eval_every=10, eval_size=256)
PAPER_SCHEDULE = Schedule(steps=64_000, eval_every=1000, eval_size=None)
SCHEDULES = {"brief": BRIEF_SCHEDULE, "fast": FAST_SCHEDULE, "paper": PAPER_SCHEDULE}


def default_schedule() -> str:
    """``"fast"`` in the notebooks' fast mode (env ``RESNET_EXPLORER_FAST=1``), else ``"brief"``."""
    return "fast" if fast_mode() else "brief"


def resolve_schedule(schedule: str | Schedule | None = None, **overrides) -> Schedule:
    """A preset (or ``default_schedule()``) with the given fields replaced; ``None`` keeps a field.

    Overriding ``steps`` alone keeps the preset's shape: milestones are fractions already, and
    the warm-up is scaled by the same factor (600 steps with 100 warm-up -> 300 with 50).
    """
    if schedule is None:
        schedule = default_schedule()
    if isinstance(schedule, str):
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}; allowed: {', '.join(SCHEDULES)}")
        schedule = SCHEDULES[schedule]
    elif not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a name ({', '.join(SCHEDULES)}) or a Schedule, "
                        f"not {type(schedule).__name__}")
    given = {name: value for name, value in overrides.items() if value is not None}
    if "steps" in given and "warmup_steps" not in given and schedule.warmup_steps:
        _check_whole("steps", given["steps"], minimum=1)
        given["warmup_steps"] = round(schedule.warmup_steps * given["steps"] / schedule.steps)
    return replace(schedule, **given)


@dataclass
class History:
    """Everything measured during a run; filled in step by step, so a live plot can read it.

    Per step (``steps``, counted from 1): ``train_loss`` and ``train_error`` of the batch
    (augmented, train mode), the learning rate ``lr`` and ``wall_time`` in seconds since the
    start. At ``eval_steps``: ``test_error`` and ``train_subset_error`` (a fixed subset of the
    training images, eval mode, no augmentation). ``status`` ends as ``"finished"``,
    ``"stopped"`` (stop_event, KeyboardInterrupt or an error) or ``"diverged"`` (the loss
    became NaN or infinite; the lists keep the last finite values); ``message`` says more.
    ``config`` holds the ``build_model`` arguments (``build_model(**history.config)`` rebuilds
    the architecture) and ``setup`` the rest of what decides the numbers: ``data`` (name, sizes,
    fingerprint), ``schedule``, ``seed`` and ``precision``. ``model`` is the trained model in
    this session (not saved with the history).
    """

    label: str
    config: dict
    setup: dict = field(default_factory=dict)
    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_error: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    wall_time: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    test_error: list[float] = field(default_factory=list)
    train_subset_error: list[float] = field(default_factory=list)
    status: str = "running"
    message: str = ""
    runtime: dict = field(default_factory=dict)  # device, precision, threads: not part of the key
    from_cache: bool = False
    model: nn.Module | None = field(default=None, repr=False, compare=False)

    @property
    def final_train_error(self) -> float:
        """The last eval-mode training-subset error; else the mean of the last per-batch errors."""
        if self.train_subset_error:
            return self.train_subset_error[-1]
        if self.train_error:
            last = self.train_error[-LAST_BATCHES:]
            return sum(last) / len(last)
        return math.nan

    @property
    def final_test_error(self) -> float:
        return self.test_error[-1] if self.test_error else math.nan

    @property
    def images_per_second(self) -> float:
        """Training throughput, including the evaluations along the way."""
        if not self.wall_time or self.wall_time[-1] <= 0:
            return math.nan
        return len(self.steps) * self.setup["schedule"]["batch_size"] / self.wall_time[-1]

    def to_dict(self) -> dict:
        """Plain JSON-ready values (without ``model``)."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "model"}
        return {name: list(value) if isinstance(value, tuple) else value
                for name, value in values.items()}

    @classmethod
    def from_dict(cls, values: dict) -> History:
        known = {name: values[name] for name in cls.__dataclass_fields__
                 if name in values and name != "model"}
        return cls(**known)

    def __repr__(self) -> str:
        return (f"History({self.label!r}, {self.status}, {len(self.steps)} steps, final train "
                f"error {self.final_train_error:.3f}, test error {self.final_test_error:.3f})")


def train(
    model: nn.Module,
    data,
    *,
    schedule: str | Schedule | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    momentum: float | None = None,
    weight_decay: float | None = None,
    milestones: Sequence[float] | None = None,
    warmup_steps: int | None = None,
    eval_every: int | None = None,
    eval_size: int | None = None,
    augment: bool | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
    precision: str = "auto",
    progress: bool = True,
    callback: Callable[[History], object] | None = None,
    callback_every: int = 10,
    stop_event: Event | None = None,
    cache=None,
) -> History:
    """Train ``model`` on ``data`` (a ``Dataset``) with SGD; return its ``History``.

    The schedule comes from ``schedule`` (a name in ``SCHEDULES`` or a ``Schedule``; default
    ``"brief"``, or ``"fast"`` when ``RESNET_EXPLORER_FAST=1``); any of ``steps``, ``batch_size``,
    ``lr``, ``momentum``, ``weight_decay``, ``milestones``, ``warmup_steps``, ``eval_every``,
    ``eval_size``, ``augment`` given here replaces the schedule's value.

    Args:
        seed: batch order and augmentation; two runs of the same freshly built model with the
            same seed give the same numbers in fp32. (``compare`` also seeds the model's init.)
        device: default ``default_device()``; the model is moved there and stays there.
        precision: ``"auto"`` (bf16 autocast only where the hardware does bf16, see
            ``speed.py``), ``"fp32"`` or ``"bf16"``.
        progress: a tqdm bar (a widget in JupyterLab).
        callback: ``callback(history)`` every ``callback_every`` steps and once at the end, from
            the training thread (for live plots).
        stop_event: a ``threading.Event``; once set, the run stops before its next step with
            status ``"stopped"`` and keeps its history. KeyboardInterrupt (a notebook's stop
            button) does the same. Other errors also mark the history stopped, then propagate.
        cache: a ``RunCache``, or ``True`` for the default one. A run with the same model
            configuration, data, schedule, seed and precision returns at once, with its weights
            loaded into ``model``. Finished and diverged runs are stored, stopped ones are not
            (they depend on when the stop came). The key assumes ``model`` is freshly built: a
            model that ``train`` has already trained in this session skips the cache.
    """
    plan = resolve_schedule(schedule, steps=steps, batch_size=batch_size, lr=lr,
                            momentum=momentum, weight_decay=weight_decay,
                            milestones=None if milestones is None else tuple(milestones),
                            warmup_steps=warmup_steps, eval_every=eval_every,
                            eval_size=eval_size, augment=augment)
    _check_whole("callback_every", callback_every, minimum=1)
    check_model_and_data(model, data, plan.batch_size)
    settings = choose_settings(resolve_device(device), precision)
    history = History(label=model_label(model), config=model_arguments_of(model), model=model,
                      setup=run_setup(data, plan, seed, settings.precision),
                      runtime=settings.as_dict())

    run_cache, key = _open_cache(cache, model, history)
    if run_cache is not None:
        cached = run_cache.get(key, model=model)
        if cached is not None:
            cached.model = model.to(settings.device)
            _TRAINED.add(model)
            if callback is not None:
                callback(cached)
            return cached

    with thread_limit(settings.num_threads):
        _run(model, data, plan, seed, settings, history, progress, callback, callback_every,
             stop_event)
    _TRAINED.add(model)
    if run_cache is not None and history.status in ("finished", "diverged"):
        run_cache.put(key, history, model)
    return history


def compare(configs: Sequence[dict | ModelConfig], data, *, seed: int = 0, **train_kwargs
            ) -> list[History]:
    """Train one model per configuration with the same data, schedule and seed (Fig. 6's race).

    ``configs`` are ``build_model`` arguments (``{"depth": 56, "shortcut": "none"}``) or
    ``ModelConfig``s; a dict without ``in_channels`` or ``num_classes`` takes them from ``data``.
    Each model is built right after ``torch.manual_seed(seed)``, so the same depth starts from the
    same weights in every race. ``train_kwargs`` go to ``train`` (schedule, callback, stop_event,
    cache, progress, ...). A stopped run ends the race: the histories so far are returned.
    """
    histories = []
    for config in configs:
        arguments = model_arguments(config, data)
        torch.manual_seed(seed)
        model = build_model(**arguments)
        history = train(model, data, seed=seed, **train_kwargs)
        histories.append(history)
        if history.status == "stopped":
            break
    return histories


def model_arguments(config: dict | ModelConfig, data) -> dict:
    """``build_model`` keyword arguments for one entry of ``compare``'s ``configs``."""
    if isinstance(config, ModelConfig):
        return config.as_dict()
    if not isinstance(config, dict) or "depth" not in config:
        raise TypeError(f"each config must be a ModelConfig or a dict of build_model arguments "
                        f"with at least 'depth', got {config!r}")
    arguments = dict(config)
    arguments.setdefault("in_channels", int(data.train_images.shape[1]))
    arguments.setdefault("num_classes", _num_classes(data))
    return arguments


def error_rate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *,
               device: torch.device | str | None = None, precision: str = "auto",
               batch_size: int = 500) -> float:
    """The fraction of ``images`` that ``model`` misclassifies, in eval mode, without gradients."""
    settings = choose_settings(resolve_device(device), precision)
    model.to(settings.device)
    with thread_limit(settings.num_threads):
        return _error_rate(model, images, labels, settings, batch_size)


# ---- checks and descriptions -------------------------------------------------------------------

def check_model_and_data(model: nn.Module, data, batch_size: int) -> None:
    """Raise ``ValueError`` when the model cannot train on ``data``, saying how to fix it."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (e.g. build_model(20)), not {type(model).__name__}")
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        if not isinstance(getattr(data, name, None), torch.Tensor):
            raise TypeError(f"data must be a Dataset (load_dataset()) with tensor {name}; got "
                            f"{type(data).__name__}")
    images = data.train_images
    if images.ndim != 4:
        raise ValueError(f"data.train_images must be (N, C, H, W), got shape {tuple(images.shape)}")
    if len(images) != len(data.train_labels):
        raise ValueError(f"data has {len(images)} training images but {len(data.train_labels)} labels")
    if batch_size > len(images):
        raise ValueError(f"batch_size {batch_size} is larger than the {len(images)} training "
                         f"images; use batch_size <= {len(images)}")
    config = getattr(model, "config", None)
    if not isinstance(config, ModelConfig):
        return
    channels, classes = images.shape[1], _num_classes(data)
    name = getattr(data, "name", "the data")
    if config.in_channels != channels:
        raise ValueError(
            f"{config.name} takes {config.in_channels}-channel images but {name} has "
            f"{channels}-channel images; build the model with "
            f"build_model({config.depth}, ..., in_channels={channels})")
    if config.num_classes != classes:
        raise ValueError(
            f"{config.name} has {config.num_classes} outputs but {name} has {classes} classes; "
            f"build the model with build_model({config.depth}, ..., num_classes={classes})")


def model_label(model: nn.Module) -> str:
    config = getattr(model, "config", None)
    return config.name if isinstance(config, ModelConfig) else type(model).__name__


def model_arguments_of(model: nn.Module) -> dict:
    """``build_model`` arguments that rebuild ``model`` (just its class name for other modules)."""
    config = getattr(model, "config", None)
    return config.as_dict() if isinstance(config, ModelConfig) else {"class": type(model).__name__}


def run_setup(data, plan: Schedule, seed: int, precision: str) -> dict:
    """What decides a run's numbers besides the architecture (with it, the run cache's key)."""
    return {"data": describe_data(data), "schedule": plan.as_dict(), "seed": seed,
            "precision": precision}


def describe_data(data) -> dict:
    """Name, sizes and a fingerprint of the images and labels (so a different subset is a different key)."""
    digest = hashlib.sha256()
    for tensor in (data.train_images, data.train_labels, data.test_images, data.test_labels):
        sample = tensor[:: max(1, len(tensor) // 2000)].detach().cpu().contiguous()
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(sample.numpy().tobytes())
    return {"name": getattr(data, "name", "custom"), "train_size": len(data.train_images),
            "test_size": len(data.test_images), "image_size": int(data.train_images.shape[-1]),
            "in_channels": int(data.train_images.shape[1]), "num_classes": _num_classes(data),
            "fingerprint": digest.hexdigest()[:16]}


def _num_classes(data) -> int:
    names = getattr(data, "class_names", None)
    return len(names) if names else int(data.train_labels.max()) + 1


# ---- the loop --------------------------------------------------------------------------------

# Models that train() has changed in this session; their weights no longer match a cache key.
_TRAINED: weakref.WeakSet = weakref.WeakSet()


def _open_cache(cache, model: nn.Module, history: History):
    if cache is None or cache is False:
        return None, None
    from .run_cache import RunCache, config_key

    run_cache = RunCache() if cache is True else cache
    if not isinstance(run_cache, RunCache):
        raise TypeError(f"cache must be a RunCache, True or None, not {type(cache).__name__}")
    if not isinstance(getattr(model, "config", None), ModelConfig):
        raise ValueError("the run cache needs a model made by build_model (it rebuilds models "
                         "from model.config); pass cache=None for other models")
    if model in _TRAINED:
        import warnings

        warnings.warn(f"{model_label(model)} was already trained in this session, so its run is "
                      "not the cached one of a fresh model: training it further without the cache",
                      stacklevel=3)
        return None, None
    return run_cache, config_key({"model": history.config, **history.setup})


def _batch_indices(count: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Endless batches of indices: a new random order each epoch, the incomplete last batch dropped."""
    while True:
        order = torch.randperm(count, generator=generator)
        for start in range(0, count - batch_size + 1, batch_size):
            yield order[start:start + batch_size]


def _fixed_subset(count: int, size: int | None, stream: int) -> torch.Tensor:
    if size is None or size >= count:
        return torch.arange(count)
    generator = torch.Generator().manual_seed(_EVAL_SUBSET_SEED + stream)
    return torch.randperm(count, generator=generator)[:size].sort().values


def _error_rate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                settings: SpeedSettings, batch_size: int = 500) -> float:
    was_training = model.training
    model.eval()
    wrong = 0
    memory_format = torch.channels_last if settings.channels_last else torch.contiguous_format
    with torch.inference_mode(), settings.autocast():
        for start in range(0, len(images), batch_size):
            batch = images[start:start + batch_size].to(settings.device, non_blocking=True)
            batch = batch.contiguous(memory_format=memory_format)
            predictions = model(batch).argmax(1).cpu()
            wrong += int((predictions != labels[start:start + batch_size].cpu()).sum())
    model.train(was_training)
    return wrong / max(1, len(images))


def _run(model, data, plan: Schedule, seed: int, settings: SpeedSettings, history: History,
         progress: bool, callback, callback_every: int, stop_event: Event | None) -> None:
    """The training loop; fills ``history`` in place and always leaves it with a final status."""
    from tqdm.auto import tqdm

    device = settings.device
    memory_format = torch.channels_last if settings.channels_last else torch.contiguous_format
    was_training = model.training
    model.to(device=device, memory_format=memory_format)
    # The data moves to the device once; batches are then sliced from it there.
    train_images, train_labels = data.train_images.to(device), data.train_labels.to(device)
    test_subset = _fixed_subset(len(data.test_images), plan.eval_size, stream=0)
    train_subset = _fixed_subset(len(data.train_images), plan.eval_size, stream=1)
    eval_sets = [(data.test_images[test_subset], data.test_labels[test_subset], history.test_error),
                 (data.train_images[train_subset], data.train_labels[train_subset],
                  history.train_subset_error)]

    generator = torch.Generator().manual_seed(seed)
    batches = _batch_indices(len(train_images), plan.batch_size, generator)
    optimizer = torch.optim.SGD(model.parameters(), lr=plan.lr_at(0), momentum=plan.momentum,
                                weight_decay=plan.weight_decay)
    scaler = torch.amp.GradScaler(device.type) if settings.grad_scaler else None
    bar = tqdm(total=plan.steps, desc=history.label, disable=not progress, leave=True)
    start = time.perf_counter()
    step = 0
    try:
        model.train()
        for step in range(1, plan.steps + 1):
            if stop_event is not None and stop_event.is_set():
                history.status, history.message = "stopped", f"stopped before step {step}"
                break
            lr = plan.lr_at(step - 1)
            for group in optimizer.param_groups:
                group["lr"] = lr
            index = next(batches).to(device)
            images, labels = train_images[index], train_labels[index]
            if plan.augment:
                images = random_crop_flip(images, generator=generator)
            images = images.contiguous(memory_format=memory_format)

            with settings.autocast():
                logits = model(images)
            loss = F.cross_entropy(logits.float(), labels)
            error = (logits.argmax(1) != labels).float().mean()
            loss_value, error_value = torch.stack([loss.detach(), error]).tolist()
            if not math.isfinite(loss_value):
                history.status = "diverged"
                history.message = (f"the loss became {loss_value} at step {step} (lr {lr:g}); "
                                   "the history keeps the steps before it")
                break
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()

            history.steps.append(step)
            history.train_loss.append(loss_value)
            history.train_error.append(error_value)
            history.lr.append(lr)
            if step % plan.eval_every == 0 or step == plan.steps:
                for images_, labels_, errors in eval_sets:
                    errors.append(_error_rate(model, images_, labels_, settings))
                history.eval_steps.append(step)
                model.train()
            history.wall_time.append(time.perf_counter() - start)
            bar.update(1)
            if step % 10 == 0 or step == plan.steps:
                bar.set_postfix(loss=f"{loss_value:.3f}", test_error=f"{history.final_test_error:.3f}",
                                refresh=False)
            if callback is not None and step % callback_every == 0:
                callback(history)
        else:
            history.status = "finished"
            history.message = (f"{plan.steps} steps in {time.perf_counter() - start:.1f} s, "
                               f"{settings.precision} on {device}")
    except KeyboardInterrupt:
        history.status, history.message = "stopped", f"interrupted during step {step}"
    except BaseException as error:
        history.status, history.message = "stopped", f"error during step {step}: {error!r}"
        raise
    finally:
        bar.close()
        # Back to the usual layout, so that code like weight.view(-1) keeps working.
        model.to(memory_format=torch.contiguous_format)
        model.train(was_training)
    if callback is not None:
        with contextlib.suppress(KeyboardInterrupt):  # a second interrupt while we stop anyway
            callback(history)
