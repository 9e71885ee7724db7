"""Run a model for a ``with`` block and leave it as it was: modes, buffers and hooks.

The lesion study, the path gradients, the shattered-gradients probe and the loss landscape all
run a model in a mode of their choosing, some with forward hooks, some in train mode (which
updates BN's running statistics). ``as_found`` is ``hooks.hooked`` (hooks on, a mode, both
undone on any exit) that also puts every buffer back::

    with as_found(model, training=False, hooks={model.fc: hook}):
        model(images)

``use_batch_statistics(model, images)`` makes BN normalize with the statistics of a batch in
eval mode (nets at initialization: the architecture explorer, the shattered-gradients probe).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import torch
from torch import nn

from .device import model_device
from .hooks import ForwardHook, hooked


@contextlib.contextmanager
def as_found(model: nn.Module, *, training: bool | None = None,
             hooks: Mapping[nn.Module, ForwardHook] | None = None) -> Iterator[nn.Module]:
    """``hooked(model, hooks, training=training)``, and every buffer (BN's running statistics)
    back as it was on exit."""
    buffers = [(buffer, buffer.clone()) for buffer in model.buffers()]
    try:
        with hooked(model, hooks, training=training):
            yield model
    finally:
        with torch.no_grad():
            for buffer, saved in buffers:
                buffer.copy_(saved)


def use_batch_statistics(model: nn.Module, images: torch.Tensor) -> None:
    """Set every BN layer's running statistics to those of ``images`` (one forward pass).

    A freshly built net's BN layers hold mean 0 and variance 1, so in eval mode they do nothing
    and the net behaves as if it had no BN. After this, eval mode normalizes as a training step
    would, and the layer responses show what training starts from.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [norm.momentum for norm in norms]
    try:
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # cumulative average: after one batch, exactly its statistics
        with hooked(model, {}, training=True), torch.no_grad():
            model(images.to(model_device(model)))
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
