"""Where computation runs: the GPU when there is one, the CPU otherwise."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


def default_device() -> torch.device:
    """CUDA when available, then Apple's MPS, then the CPU.

    Every entry point that computes also takes a ``device`` argument to override this.
    """
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(device: torch.device | str | None) -> torch.device:
    """``device`` as a ``torch.device``, or ``default_device()`` when it is ``None``."""
    return default_device() if device is None else torch.device(device)


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of ``model``'s parameters (the CPU for a model without any)."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


@contextlib.contextmanager
def computing_on(model: torch.nn.Module, device: torch.device | str | None = None
                 ) -> Iterator[torch.device]:
    """The one device rule of the compute API: compute where the model is unless told; leave
    the model where it was.

    Yields the device to compute on: ``device`` if given (the model is moved there for the
    block and moved back after, also on errors), else the model's own device.
    """
    original = model_device(model)
    target = original if device is None else _normalized(torch.device(device))
    moved = target != _normalized(original)
    if moved:
        model.to(target)
    try:
        yield target
    finally:
        if moved:
            model.to(original)


def _normalized(device: torch.device) -> torch.device:
    """``cuda`` and ``cuda:0`` are the same place; compare them as such."""
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    if device.type == "cpu":
        return torch.device("cpu")
    return device
