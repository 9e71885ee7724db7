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
- ``"paper"``: the paper's 64k iterations, for reference (days on a CPU).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from .checks import check_choice, check_positive_number, check_whole_number
from .environment_check import fast_mode

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
