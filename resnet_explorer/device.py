"""Where computation runs: the GPU when there is one, the CPU otherwise."""

from __future__ import annotations

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
