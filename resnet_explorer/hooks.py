"""Look inside a model for the length of a ``with`` block, and leave it exactly as it was.

Probes, counters and explorers attach forward hooks and run the model in eval or train mode.
``hooked`` does both and undoes both on any exit, an error or a KeyboardInterrupt included::

    with hooked(model, {model.stem.bn: record, model.fc: record}, training=False):
        model(images)

Each module gets back its *own* mode. ``model.train(was_training)`` would instead put every
module in the model's mode, which turns the frozen (eval-mode) BN layers of a fine-tuned model
back into training mode.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping

from torch import nn

#: ``hook(module, inputs, output)``, as ``nn.Module.register_forward_hook`` calls it.
ForwardHook = Callable[[nn.Module, tuple, object], object]


@contextlib.contextmanager
def hooked(model: nn.Module, hooks: Mapping[nn.Module, ForwardHook] | None = None, *,
           training: bool | None = None) -> Iterator[nn.Module]:
    """Attach a forward hook to each module in ``hooks`` and set ``model``'s mode; undo both after.

    Args:
        model: the model to run; its modules' train/eval modes are saved and restored.
        hooks: ``{module: hook}``; each hook is called as ``hook(module, inputs, output)`` after
            that module's forward pass. The modules need not be part of ``model``.
        training: ``True`` (train mode), ``False`` (eval mode) or ``None`` (leave the modes
            alone) inside the block.

    Yields ``model``. On exit every hook is removed and, unless ``training`` is ``None``,
    every module of ``model`` gets back the mode it had on entry.
    """
    modes = [] if training is None else [(module, module.training) for module in model.modules()]
    handles = []
    try:
        for module, hook in (hooks or {}).items():
            if not isinstance(module, nn.Module):
                raise TypeError(f"hooks must map modules to hook functions; got a key of type "
                                f"{type(module).__name__}")
            handles.append(module.register_forward_hook(hook))
        if training is not None:
            model.train(training)
        yield model
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in modes:
            module.training = mode
