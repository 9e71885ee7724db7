"""Run a model for a ``with`` block and leave it as it was: modes, buffers and hooks.

The lesion study, the path gradients, the shattered-gradients probe and the loss landscape all
run a model in a mode of their choosing, some with forward hooks, some in train mode (which
updates BN's running statistics). ``as_found`` undoes all of that on any exit::

    with as_found(model, training=False, hooks={model.fc: hook}):
        model(images)

Each module gets back its *own* mode (``model.train(was_training)`` would put a fine-tuned
model's frozen BN layers back into training mode), every buffer its values.

(This is the shape of ``hooks.hooked`` of the package restructure, plus the buffers; when that
lands, this becomes a thin wrapper around it.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping

import torch
from torch import nn

#: ``hook(module, inputs, output)``, as ``nn.Module.register_forward_hook`` calls it.
ForwardHook = Callable[[nn.Module, tuple, object], object]


@contextlib.contextmanager
def as_found(model: nn.Module, *, training: bool | None = None,
             hooks: Mapping[nn.Module, ForwardHook] | None = None) -> Iterator[nn.Module]:
    """Set ``model``'s mode (``None``: leave it) and attach forward ``hooks``; undo both after,
    and put every buffer (BN's running statistics) back as it was."""
    modes = [(module, module.training) for module in model.modules()]
    buffers = [(buffer, buffer.clone()) for buffer in model.buffers()]
    handles = []
    try:
        for module, hook in (hooks or {}).items():
            handles.append(module.register_forward_hook(hook))
        if training is not None:
            model.train(training)
        yield model
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in modes:
            module.training = mode
        with torch.no_grad():
            for buffer, saved in buffers:
                buffer.copy_(saved)
