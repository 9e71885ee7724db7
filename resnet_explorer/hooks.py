"""Hooks that always come off: one context manager for every probe that watches a model.

``hooked(model, {module: hook, ...}, training=...)`` registers a forward hook on each module,
puts the model in training or evaluation mode (or leaves the modes alone with ``None``), and on
any exit, an error included, removes every hook and gives each submodule back its own mode (a
model may have some BN layers in eval mode while the rest trains; ``model.train(was_training)``
alone would lose that).

Example::

    with hooked(model, {model.stage1.block1.bn1: record}, training=False):
        model(images)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from torch import nn

ForwardHook = Callable[[nn.Module, tuple, object], object]


@contextmanager
def hooked(model: nn.Module, hooks: Mapping[nn.Module, ForwardHook] | None = None, *,
           training: bool | None = None) -> Iterator[nn.Module]:
    """Forward ``hooks`` on their modules and ``model`` in ``training`` mode for the block."""
    modes = {module: module.training for module in model.modules()}
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
        for module, mode in modes.items():
            module.training = mode
