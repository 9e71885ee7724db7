"""What a training run measured: the ``History`` that ``train`` fills in step by step.

The training error to compare between nets is ``History.final_train_error``: the error on a fixed
subset of the training images, measured in eval mode without augmentation at the end of the run
(the paper's Fig. 6 also plots training error). The per-batch errors are noisier: they come from
augmented images, in train mode, while the weights are still moving.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from torch import nn

#: Per-batch errors averaged for ``final_train_error`` when no eval-mode measurement exists.
LAST_BATCHES = 20


@dataclass
class History:
    """Everything measured during a run; filled in step by step, so a live plot can read it.

    Per step (``steps``, counted from 1): ``train_loss`` and ``train_error`` of the batch
    (augmented, train mode), the learning rate ``lr`` and ``wall_time`` in seconds since the
    start. At ``eval_steps``: ``test_error`` and ``train_subset_error`` (a fixed subset of the
    training images, eval mode, no augmentation). ``status`` ends as ``"finished"``,
    ``"stopped"`` (stop_event, KeyboardInterrupt or an error) or ``"diverged"`` (the loss
    became NaN or infinite; the lists keep the last finite values); ``message`` says more.
    ``model_name`` is the net's readable name (``"ResNet-56 (A)"``), used as its legend.
    ``config`` holds the ``build_model`` arguments (``build_model(**history.config)`` rebuilds
    the architecture) and ``setup`` the rest of what decides the numbers: ``start`` (a hash of
    the starting weights), ``data`` (name, sizes, fingerprint), ``schedule``, ``seed`` and
    ``precision`` (``run_cache.describe_run``). ``model`` is the trained model in
    this session (not saved with the history).

    With ``train(..., record_gradients=...)``: at ``grad_steps`` (step 1, then every N steps),
    ``grad_norms[layer]`` is the L2 norm of the gradient of the loss with respect to each
    weighted layer's output: each 3x3 layer's response (``"stem"``, ``"stage1.block1.conv1"``,
    ...) and the fully connected layer's (``"fc"``); the backward propagated gradients of He et
    al. 2015, Section 4.1 (``gradient_norms.py``). Empty when nothing was recorded (histories
    saved before these fields existed load with them empty).
    """

    model_name: str
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
    grad_steps: list[int] = field(default_factory=list)
    grad_norms: dict[str, list[float]] = field(default_factory=dict)
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
    def recorded_gradients(self) -> bool:
        """Whether the run recorded its layers' gradient norms (``grad_steps``, ``grad_norms``)."""
        return bool(self.grad_steps)

    def to_dict(self) -> dict:
        """Plain JSON-ready values (without ``model``)."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "model"}
        return {name: list(value) if isinstance(value, tuple) else value
                for name, value in values.items()}

    @classmethod
    def from_dict(cls, values: dict) -> History:
        """The inverse of ``to_dict``; unknown keys are ignored.

        Histories saved before ``label`` was renamed ``model_name`` still load.
        """
        if "model_name" not in values and "label" in values:
            values = {**values, "model_name": values["label"]}
        known = {name: values[name] for name in cls.__dataclass_fields__
                 if name in values and name != "model"}
        return cls(**known)

    def __repr__(self) -> str:
        return (f"History({self.model_name!r}, {self.status}, {len(self.steps)} steps, final train "
                f"error {self.final_train_error:.3f}, test error {self.final_test_error:.3f})")


def runs_by_net(histories: Iterable[History]) -> dict[str, list[History]]:
    """``{model_name: its runs}`` in the order the nets first appear (a race of several seeds
    has one run per net and seed)."""
    nets: dict[str, list[History]] = {}
    for history in histories:
        nets.setdefault(history.model_name, []).append(history)
    return nets
