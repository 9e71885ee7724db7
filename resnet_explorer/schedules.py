"""The numbers of a training run (He et al. 2015, Section 4.2) and the presets the lessons use.

The paper's CIFAR-10 recipe: SGD with momentum 0.9, weight decay 1e-4, batch 128, learning rate
0.1 divided by 10 at 32k and 48k of 64k iterations; ResNet-110 first warms up at lr 0.01.
A ``Schedule`` bundles those numbers. The presets (``SCHEDULES``):

- ``"brief"`` (``BRIEF_SCHEDULE``): 600 steps of 128, lr 0.01 for the first 100 steps, then 0.1,
  divided by 10 at steps 300 and 450. On 16x16 images (``BRIEF_IMAGE_SIZE``) it shows the
  degradation problem in minutes on a laptop CPU: plain-56 ends with a clearly higher
  *training* error than plain-20, while ResNet-56 does not (``benchmarks/bench_degradation.py``).
  Without the warm-up (lr 0.1 from the first step), ResNet-56 also lags ResNet-20 in so short a
  run, which hides what the paper shows.
- ``"fast"`` (``FAST_SCHEDULE``): a few seconds, for tests and the notebooks' fast mode
  (``RESNET_EXPLORER_FAST=1``, which makes it the default).
- ``"paper"`` (``PAPER_SCHEDULE``): the paper's schedule, for full-length runs on GPUs
  (``python -m resnet_explorer.reproduce table6``; days on a CPU). See its docstring for what
  it follows and the few things that differ.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, replace

from typing import TYPE_CHECKING

from .checks import check_choice, check_positive_number, check_whole_number
from .environment_check import fast_mode

if TYPE_CHECKING:
    from torch import nn

#: The image size the brief schedule was tuned for: ``load_dataset(image_size=BRIEF_IMAGE_SIZE)``.
BRIEF_IMAGE_SIZE = 16


@dataclass(frozen=True)
class Schedule:
    """The numbers of a training run: how long, how fast, and how it is measured.

    ``milestones`` are fractions of ``steps`` where the learning rate is divided by 10 (the
    paper's 32k and 48k of 64k iterations are 0.5 and 0.75). For the first ``warmup_steps`` the
    learning rate is ``lr / 10`` (the paper's warm-up for ResNet-110). Every ``eval_every`` steps
    and at the end, the test error and the training error are measured on ``eval_size`` fixed
    images of each split (``None``: all of them).

    The paper's warm-up ends on a measurement, not a count: "we use 0.01 to warm up the training
    until the training error is below 80% (about 400 iterations), and then go back to 0.1"
    (Section 4.2). With ``warmup_until_error`` (0.8) the warm-up ends once the mean error of the
    last ``WARMUP_ERROR_WINDOW`` training batches is below it, and ``warmup_steps`` is only its
    longest length. With ``warmup_min_depth`` (110) only nets at least that deep warm up.
    ``learning_rates(model)`` follows one run's warm-up; ``lr_at`` is the rate without it ending early.
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
    warmup_until_error: float | None = None
    warmup_min_depth: int | None = None

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_every"):
            check_whole_number(name, getattr(self, name), minimum=1)
        check_whole_number("warmup_steps", self.warmup_steps, minimum=0)
        if self.eval_size is not None:
            check_whole_number("eval_size", self.eval_size, minimum=1)
        check_positive_number("lr", self.lr)
        check_positive_number("momentum", self.momentum, allow_zero=True)
        if self.momentum >= 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        check_positive_number("weight_decay", self.weight_decay, allow_zero=True)
        check_choice("augment", self.augment, (True, False))
        try:
            milestones = tuple(self.milestones)
        except TypeError:
            milestones = None
        if (milestones is None
                or any(isinstance(m, bool) or not isinstance(m, (int, float)) for m in milestones)
                or any(not 0 < m <= 1 for m in milestones) or list(milestones) != sorted(milestones)):
            raise ValueError(f"milestones must be increasing fractions of the steps in (0, 1], "
                             f"e.g. (0.5, 0.75); got {self.milestones!r}")
        object.__setattr__(self, "milestones", tuple(float(m) for m in milestones))
        if self.warmup_steps > self.steps:
            raise ValueError(f"warmup_steps ({self.warmup_steps}) cannot exceed steps ({self.steps})")
        if self.warmup_until_error is not None:
            check_positive_number("warmup_until_error", self.warmup_until_error)
            if self.warmup_until_error > 1:
                raise ValueError(f"warmup_until_error is an error rate in (0, 1], e.g. 0.8; "
                                 f"got {self.warmup_until_error!r}")
        if self.warmup_min_depth is not None:
            check_whole_number("warmup_min_depth", self.warmup_min_depth, minimum=1)

    def lr_at(self, step: int) -> float:
        """The learning rate of step ``step`` (counted from 0), the warm-up lasting ``warmup_steps``."""
        if step < self.warmup_steps:
            return self.lr / 10
        return self.decayed_lr(step)

    def decayed_lr(self, step: int) -> float:
        """The learning rate of step ``step`` after the warm-up: ``lr`` / 10 per milestone passed."""
        decays = sum(step >= round(m * self.steps) for m in self.milestones)
        return self.lr * 0.1**decays

    def learning_rates(self, model: nn.Module | None = None) -> LearningRates:
        """The learning rates of one run of ``model`` (its depth decides ``warmup_min_depth``)."""
        depth = getattr(getattr(model, "config", None), "depth", None)
        warms_up = self.warmup_min_depth is None or depth is None or depth >= self.warmup_min_depth
        return LearningRates(self, warmup_steps=self.warmup_steps if warms_up else 0)

    def as_dict(self) -> dict:
        """The fields as JSON-ready values (part of a run's cache key).

        The warm-up fields added for the paper's schedule are left out while unset, so a run
        cached before they existed keeps its key.
        """
        values = asdict(self)
        values["milestones"] = list(self.milestones)
        for name in _LEFT_OUT_WHILE_UNSET:
            if values[name] is None:
                del values[name]
        return values


_LEFT_OUT_WHILE_UNSET = ("warmup_until_error", "warmup_min_depth")

#: Training batches whose mean error ends a warm-up with ``warmup_until_error``: one batch of 128
#: at chance (90% error on 10 classes) varies by about +-2.7 points, the mean of 20 by about 0.6.
WARMUP_ERROR_WINDOW = 20


class LearningRates:
    """The learning rate of each step of one run, with a warm-up that may end on the training error.

    ``train`` asks ``at(step)`` before each step and tells ``observe(step, error)`` the batch's
    training error after it. ``warmup_ended_at`` is the first step after the warm-up (0: none),
    ``None`` while it lasts.
    """

    def __init__(self, schedule: Schedule, warmup_steps: int):
        self.schedule = schedule
        self.warmup_steps = warmup_steps
        self.warmup_ended_at: int | None = None if warmup_steps else 0
        self._recent: deque[float] = deque(maxlen=WARMUP_ERROR_WINDOW)

    def at(self, step: int) -> float:
        """The learning rate of step ``step`` (counted from 0)."""
        if self.warmup_ended_at is None and step >= self.warmup_steps:
            self.warmup_ended_at = step
        if self.warmup_ended_at is None:
            return self.schedule.lr / 10
        return self.schedule.decayed_lr(step)

    def observe(self, step: int, train_error: float) -> None:
        """The training error of step ``step``; ends the warm-up once it is low enough."""
        threshold = self.schedule.warmup_until_error
        if threshold is None or self.warmup_ended_at is not None:
            return
        self._recent.append(train_error)
        if sum(self._recent) / len(self._recent) < threshold:
            self.warmup_ended_at = step + 1


BRIEF_SCHEDULE = Schedule(steps=600, warmup_steps=100, eval_every=100, eval_size=1000)
FAST_SCHEDULE = Schedule(steps=30, batch_size=64, warmup_steps=5, eval_every=10, eval_size=256)
PAPER_SCHEDULE = Schedule(steps=64_000, batch_size=128, lr=0.1, momentum=0.9, weight_decay=1e-4,
                          milestones=(0.5, 0.75), warmup_steps=32_000, warmup_until_error=0.8,
                          warmup_min_depth=110, eval_every=1000, eval_size=None, augment=True)
"""The paper's CIFAR-10 schedule (He et al. 2015, Section 4.2), as Table 6 was trained.

What it follows: mini-batches of 128; SGD with momentum 0.9 and weight decay 1e-4; lr 0.1,
divided by 10 at 32k and 48k iterations, stopping at 64k; 4-pixel padding, random 32x32 crop
and horizontal flip (``augment``); the test error of the single original view, on all 10,000
test images (``eval_size=None``, every 1,000 iterations). ResNet-110 "use[s] 0.01 to warm up the
training until the training error is below 80% (about 400 iterations), and then go[es] back to
0.1": here nets of 110 layers or more (``warmup_min_depth``) warm up at 0.01 until the mean error
of the last 20 training batches is below 0.8 (``warmup_until_error``); 32k (``warmup_steps``)
is only a bound that never binds, since from 32k on the rate is 0.01 anyway.

What differs, and why:

- Which nets warm up. The paper names ResNet-110 only; it does not say whether plain-110 or
  ResNet-1202 warmed up. Here the rule is by depth, so plain-110 and ResNet-110 differ only in
  their shortcuts.
- "Training error below 80%": the paper does not say over how many iterations; one batch of 128
  is noisy (+-2.7 points near chance), so the mean of the last 20 batches decides.
- The 45k/5k split. The paper chose 64k iterations "on a 45k/5k train/val split" and reports
  Table 6 on the test set, after training on the training set. A schedule does not pick data:
  ``python -m resnet_explorer.reproduce table6`` trains on all 50k images and measures the
  10k test images (Table 6); ``--split validation`` holds out 5k (500 per class) and measures
  them instead, as the paper did to choose the schedule.
- Batch-norm statistics. The paper trained on two GPUs, so each batch-norm layer saw 64
  images; here one device sees all 128.
- Momentum. PyTorch's SGD scales the whole update by the current lr (v = 0.9 v + g;
  w -= lr v); Caffe, which the paper used, folds lr into the velocity (v = 0.9 v + lr g).
  They differ only for a few dozen iterations after each lr change.
- Inputs. The paper subtracts the per-pixel mean; ``load_dataset`` standardizes each channel
  (mean 0, standard deviation 1). Both centre the inputs; ours also scales them.
"""
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
        check_choice("schedule", schedule, SCHEDULES)
        schedule = SCHEDULES[schedule]
    elif not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a name ({', '.join(SCHEDULES)}) or a Schedule, "
                        f"not {type(schedule).__name__}")
    given = {name: value for name, value in overrides.items() if value is not None}
    if "steps" in given and "warmup_steps" not in given and schedule.warmup_steps:
        check_whole_number("steps", given["steps"], minimum=1)
        given["warmup_steps"] = round(schedule.warmup_steps * given["steps"] / schedule.steps)
    return replace(schedule, **given)
