"""Train a ResNet (or its plain twin) with the paper's recipe, fast enough to watch on a laptop CPU.

He et al. 2015, Section 4.2: SGD with momentum 0.9, weight decay 1e-4, batch 128, learning
rate 0.1 divided by 10 at 50% and 75% of training, 4-pixel pad + random crop + horizontal flip;
ResNet-110 first warms up at lr 0.01. ``train`` follows that recipe on whole-tensor datasets
(``load_dataset``): batches are sliced from one tensor and augmented as a batch, so no
DataLoader processes compete with the model for the CPU's cores.

The recipe's numbers are a ``Schedule`` (``schedules.py``: the ``"brief"``, ``"fast"`` and
``"paper"`` presets); what a run measured is a ``History`` (``history.py``). This module holds
the loop (``train``), the race of several nets (``compare``) and ``error_rate``.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from threading import Event

import torch
import torch.nn.functional as F
from torch import nn

from .augment import random_crop_flip
from .checks import (check_choice, check_images, check_labels, check_model, check_seed,
                     check_training_data, check_whole_number, has_model_config, model_name, number_of_classes)
from .device import computing_on, default_device, model_device
from .gradient_norms import GradientNormRecorder
from .history import History
from .hooks import hooked
from .models import ModelConfig, build_model
from .run_cache import RunCache, describe_run
from .schedules import Schedule, resolve_schedule
from .speed import SpeedSettings, choose_settings, thread_limit

__all__ = ["compare", "error_rate", "model_arguments", "run_description", "seeded_model", "train"]

# The evaluation subsets do not depend on the run's seed, so every run is measured on the same images.
_EVAL_SUBSET_SEED = 1234

#: ``record_gradients=True`` records the gradient norms at step 1 and then every this many steps.
GRADIENT_EVERY = 10


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
    rerun: bool = False,
    record_gradients: bool | int = False,
) -> History:
    """Train ``model`` on ``data`` (a ``Dataset``) with SGD; return its ``History``.

    The schedule comes from ``schedule`` (a name in ``SCHEDULES`` or a ``Schedule``; default
    ``"brief"``, or ``"fast"`` when ``RESNET_EXPLORER_FAST=1``); any of ``steps``, ``batch_size``,
    ``lr``, ``momentum``, ``weight_decay``, ``milestones``, ``warmup_steps``, ``eval_every``,
    ``eval_size``, ``augment`` given here replaces the schedule's value.

    Args:
        seed: batch order and augmentation; two runs of the same freshly built model with the
            same seed give the same numbers in fp32. (``compare`` also seeds the model's init.)
        device: where to train; default where the model is (``build_model`` puts it on
            ``default_device()``). Given a device, the model trains there and is moved back
            where it was afterwards, like every function that computes.
        precision: ``"auto"`` (bf16 autocast only where the hardware does bf16, see
            ``speed.py``), ``"fp32"`` or ``"bf16"``.
        progress: a tqdm bar (a widget in JupyterLab).
        callback: ``callback(history)`` every ``callback_every`` steps and once at the end, from
            the training thread (for live plots).
        stop_event: a ``threading.Event``; once set, the run stops before its next step with
            status ``"stopped"`` and keeps its history. KeyboardInterrupt (a notebook's stop
            button) does the same. Other errors also mark the history stopped, then propagate.
        cache: a ``RunCache``, or ``True`` for the default one. A run with the same model
            configuration, starting weights and buffers, data (every image and label),
            schedule, seed and precision (``describe_run``) returns at once, with its weights
            loaded into ``model``; a pretrained or already trained model is a run of its own.
            Finished and diverged runs are stored, stopped ones are not (they depend on when
            the stop came). A cache that cannot be written gives a warning; the run is
            returned all the same.
        rerun: with a cache, train even when it holds this run, and store the new run in its
            place (the training race's Train button: watch it happen again).
        record_gradients: ``True`` (every ``GRADIENT_EVERY`` steps) or a number of steps N:
            at step 1 and every N steps, the L2 norm of the gradient that reaches each weighted
            layer's output goes into ``history.grad_steps`` and ``history.grad_norms`` (He et
            al. 2015, Section 4.1; see ``gradient_norms.py``). A cached run that did not record
            them is trained again.
            ``benchmarks/bench_gradient_recording.py`` measures what it costs.

    The model ends in the train/eval mode each of its modules had, in its usual memory layout.
    """
    plan = resolve_schedule(schedule, steps=steps, batch_size=batch_size, lr=lr,
                            momentum=momentum, weight_decay=weight_decay, milestones=milestones,
                            warmup_steps=warmup_steps, eval_every=eval_every,
                            eval_size=eval_size, augment=augment)
    check_whole_number("callback_every", callback_every, minimum=1)
    check_choice("rerun", rerun, (True, False))
    gradient_every = _gradient_every(record_gradients)
    check_seed(seed)
    check_training_data(model, data, plan.batch_size)
    run_cache = _usable_cache(cache, model)
    with computing_on(model, device) as target:
        settings = choose_settings(target, precision)
        run = describe_run(model, data, plan, seed, settings.precision)
        key = RunCache.key(run)
        history = History(model_name=model_name(model), config=run["model"], model=model,
                          setup={name: value for name, value in run.items() if name != "model"},
                          runtime=settings.as_dict())
        cached = run_cache.get(key, model=model) if run_cache is not None and not rerun else None
        if cached is not None and gradient_every is not None and not cached.recorded_gradients:
            cached = None  # asked for gradient norms this cached run did not record
        if cached is not None:
            cached.model = model
            if callback is not None:
                callback(cached)
            return cached
        recorder = GradientNormRecorder(model, gradient_every) if gradient_every is not None else None
        with thread_limit(settings.num_threads), hooked(model, recorder.hooks() if recorder else None,
                                                        training=True):
            _run(model, data, plan, seed, settings, history, progress, callback, callback_every,
                 stop_event, recorder)
    if run_cache is not None and history.status in ("finished", "diverged"):
        try:
            run_cache.put(key, history, model)
        except Exception as error:  # noqa: BLE001 - a finished run is never lost to the cache
            warnings.warn(f"could not store {history.model_name} in the run cache at "
                          f"{run_cache.root} ({type(error).__name__}: {error}); the run is "
                          "returned but not cached", stacklevel=2)
    return history


def compare(configs: Sequence[dict | ModelConfig], data, *, seed: int = 0,
            executor: Executor | None = None, **train_kwargs) -> list[History]:
    """Train one model per configuration with the same data, schedule and seed (Fig. 6's race).

    ``configs`` are ``build_model`` arguments (``{"depth": 56, "shortcut": "none"}``) or
    ``ModelConfig``s; a dict without ``in_channels`` or ``num_classes`` takes them from ``data``.
    Each model is built right after ``torch.manual_seed(seed)``, so the same depth starts from the
    same weights in every race, on ``train_kwargs["device"]`` if given, else ``default_device()``.
    ``train_kwargs`` go to ``train`` (schedule, callback, stop_event, cache, progress, ...).
    A stopped run ends the race: the histories so far are returned.

    ``executor``: any ``concurrent.futures.Executor`` (``cluster.local_executor(n)``, a
    ``ProcessPoolExecutor``, or a Dask cluster's ``distributed.Client(...).get_executor()``)
    trains the runs there, side by side; see ``cluster.compare_on_executor`` for how callbacks,
    the stop event, the cache (on by default there) and failed workers are handled.
    """
    check_seed(seed)
    if executor is not None:
        from .cluster import compare_on_executor  # noqa: PLC0415 - only scripts and clusters need it

        return compare_on_executor(executor, configs, data, seed=seed, **train_kwargs)
    device = train_kwargs.get("device") or default_device()
    histories = []
    for config in configs:
        model = seeded_model(model_arguments(config, data), seed, device)
        history = train(model, data, seed=seed, **train_kwargs)
        histories.append(history)
        if history.status == "stopped":
            break
    return histories


def seeded_model(arguments: dict, seed: int, device: torch.device | str) -> nn.Module:
    """``build_model(**arguments)`` right after ``torch.manual_seed(seed)``, moved to ``device``.

    The one way a race makes its nets, in this process or on a cluster's worker, so that a
    configuration starts from the same weights everywhere. (The lock keeps two threads of one
    process from interleaving the seed and the initialization.)
    """
    with _SEEDING:
        torch.manual_seed(seed)
        return build_model(**arguments).to(device)


_SEEDING = threading.Lock()


def run_description(model: nn.Module, data, *, schedule: str | Schedule | None = None, seed: int = 0,
                    precision: str = "auto", device: torch.device | str | None = None) -> dict:
    """What ``train(model, data, schedule=..., seed=..., precision=...)`` would hash into its cache
    key on this machine (``describe_run``, with ``precision="auto"`` resolved here: bf16 or fp32),
    without training. ``RunCache.key(run_description(...))`` is that key."""
    plan = resolve_schedule(schedule)
    target = model_device(model) if device is None else torch.device(device)
    return describe_run(model, data, plan, seed, choose_settings(target, precision).precision)


def model_arguments(config: dict | ModelConfig, data) -> dict:
    """``build_model`` keyword arguments for one entry of ``compare``'s ``configs``."""
    if isinstance(config, ModelConfig):
        return config.as_dict()
    if not isinstance(config, dict) or "depth" not in config:
        raise TypeError(f"each config must be a ModelConfig or a dict of build_model arguments "
                        f"with at least 'depth', got {config!r}")
    arguments = dict(config)
    arguments.setdefault("in_channels", int(data.train_images.shape[1]))
    arguments.setdefault("num_classes", number_of_classes(data))
    return arguments


def error_rate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *,
               device: torch.device | str | None = None, precision: str = "auto",
               batch_size: int = 500) -> float:
    """The fraction of ``images`` that ``model`` misclassifies, in eval mode, without gradients.

    Computed where the model is, or on ``device`` (the model is moved back after); every
    module's train/eval mode is restored.
    """
    check_model(model, what="error_rate")
    images = check_images(model, images)
    labels = check_labels(model, images, labels)
    batch_size = check_whole_number("batch_size", batch_size, minimum=1)
    with computing_on(model, device) as target:
        settings = choose_settings(target, precision)
        with thread_limit(settings.num_threads):
            return _error_rate(model, images, labels, settings, batch_size)


# ---- the loop --------------------------------------------------------------------------------

def _gradient_every(record_gradients: bool | int) -> int | None:
    """Steps between two recordings of the gradient norms, or None when nothing is recorded."""
    if record_gradients is True:
        return GRADIENT_EVERY
    if record_gradients is False or record_gradients is None:
        return None
    if isinstance(record_gradients, int) and record_gradients >= 1:
        return record_gradients
    raise ValueError(f"record_gradients must be True, False or a number of steps >= 1, "
                     f"got {record_gradients!r}")


def _usable_cache(cache, model: nn.Module) -> RunCache | None:
    """``RunCache.resolve(cache)``, unless this model cannot be cached (with the reason why)."""
    run_cache = RunCache.resolve(cache)
    if run_cache is not None and not has_model_config(model):
        raise ValueError("the run cache needs a model made by build_model (it rebuilds models "
                         "from model.config); pass cache=None for other models")
    return run_cache


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
    """The error rate in eval mode; every module's mode is restored on any exit."""
    wrong = 0
    memory_format = torch.channels_last if settings.channels_last else torch.contiguous_format
    with hooked(model, training=False), torch.inference_mode(), settings.autocast():
        for start in range(0, len(images), batch_size):
            batch = images[start:start + batch_size].to(settings.device, torch.float32,
                                                        non_blocking=True)
            batch = batch.contiguous(memory_format=memory_format)
            predictions = model(batch).argmax(1).cpu()
            wrong += int((predictions != labels[start:start + batch_size].cpu()).sum())
    return wrong / max(1, len(images))


def _run(model, data, plan: Schedule, seed: int, settings: SpeedSettings, history: History,
         progress: bool, callback, callback_every: int, stop_event: Event | None,
         recorder: GradientNormRecorder | None = None) -> None:
    """The training loop; fills ``history`` in place and always leaves it with a final status."""
    from tqdm.auto import tqdm

    device = settings.device
    memory_format = torch.channels_last if settings.channels_last else torch.contiguous_format
    model.to(memory_format=memory_format)  # already on settings.device (train's computing_on)
    # The data moves to the device once (float32 images, int64 labels, whatever it was given as);
    # batches are then sliced from it there.
    train_images = data.train_images.to(device, torch.float32)
    train_labels = data.train_labels.to(device, torch.long)
    test_subset = _fixed_subset(len(data.test_images), plan.eval_size, stream=0)
    train_subset = _fixed_subset(len(data.train_images), plan.eval_size, stream=1)
    eval_sets = [(data.test_images[test_subset], data.test_labels[test_subset], history.test_error),
                 (data.train_images[train_subset], data.train_labels[train_subset],
                  history.train_subset_error)]

    generator = torch.Generator().manual_seed(seed)
    batches = _batch_indices(len(train_images), plan.batch_size, generator)
    rates = plan.learning_rates(model)  # the warm-up may end on the training error (ResNet-110)
    optimizer = torch.optim.SGD(model.parameters(), lr=rates.at(0), momentum=plan.momentum,
                                weight_decay=plan.weight_decay)
    scaler = torch.amp.GradScaler(device.type) if settings.grad_scaler else None
    bar = tqdm(total=plan.steps, desc=history.model_name, disable=not progress, leave=True)
    start = time.perf_counter()
    step = 0
    try:
        for step in range(1, plan.steps + 1):
            if stop_event is not None and stop_event.is_set():
                history.status, history.message = "stopped", f"stopped before step {step}"
                break
            lr = rates.at(step - 1)
            for group in optimizer.param_groups:
                group["lr"] = lr
            index = next(batches).to(device)
            images, labels = train_images[index], train_labels[index]
            if plan.augment:
                images = random_crop_flip(images, generator=generator)
            images = images.contiguous(memory_format=memory_format)
            if recorder is not None:
                recorder.start_step(step)

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
                if recorder is not None:
                    recorder.finish_step(history, scale=float(scaler.get_scale()))
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                if recorder is not None:
                    recorder.finish_step(history)
                optimizer.step()

            rates.observe(step - 1, error_value)
            history.steps.append(step)
            history.train_loss.append(loss_value)
            history.train_error.append(error_value)
            history.lr.append(lr)
            if step % plan.eval_every == 0 or step == plan.steps:
                for images_, labels_, errors in eval_sets:
                    errors.append(_error_rate(model, images_, labels_, settings))
                history.eval_steps.append(step)
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
        # Back to the usual layout, so that code like weight.view(-1) keeps working. (train's
        # hooked() gives every module its own train/eval mode back.)
        model.to(memory_format=torch.contiguous_format)
    if callback is not None:
        with contextlib.suppress(KeyboardInterrupt):  # a second interrupt while we stop anyway
            callback(history)
