"""The gradient that reaches every layer while a net trains: ``train(..., record_gradients=...)``.

He et al. 2015, Section 4.1, on plain nets that degrade: "These plain networks are trained with
BN, which ensures forward propagated signals to have non-zero variances. We also verify that the
backward propagated gradients exhibit healthy norms with BN." The backward propagated gradient
at a layer is the gradient of the loss with respect to that layer's output. ``train`` records
its L2 norm at step 1 and every N steps, for every weighted layer: at each 3x3 layer's response
(after BN, before the ReLU or the addition: the layers of ``probes.response_layers``, the
quantity ``probes.gradient_flow`` measures once) and at the fully connected layer's output.

Why not the gradient of each layer's *weights*? A convolution followed by BN computes the same
function when its weights are scaled, so the gradient of its weights shrinks as its weights
grow: in the race, a deep plain net's first layer took a huge first step, its weights grew
about a hundredfold, and its weight gradients read tiny while the gradient reaching the layer
was not. The gradient at the layer's output has no such dependence.

Cost: a forward hook per layer that returns at once on steps not recorded; on a recorded step,
one tensor hook per layer and one wait for the device. ``benchmarks/bench_gradient_recording.py``
measures it against a bare run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from .checks import has_model_config
from .history import History
from .probes import response_layers


def recorded_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Layer name -> the module whose output's gradient is recorded, in forward order.

    For a net made by ``build_model``: the 3x3 layers of ``response_layers`` (``"stem"``,
    ``"stage1.block1.conv1"``, ...) and ``"fc"``. For other models: every conv and fully
    connected layer, by module name.
    """
    if has_model_config(model):
        named = dict(model.named_modules())
        layers = {layer: named[module] for layer, module in response_layers(model).items()}
        layers["fc"] = model.fc
        return layers
    return {name: module for name, module in model.named_modules()
            if isinstance(module, (nn.Conv2d, nn.Linear))}


class GradientNormRecorder:
    """Records, on chosen steps, the gradient norm at every layer's output into a ``History``.

    ``train`` attaches ``hooks()`` for the run, calls ``start_step(step)`` before each forward
    pass and ``finish_step(history, scale)`` after the backward pass.
    """

    def __init__(self, model: nn.Module, every: int):
        self.every = every
        self.layers = recorded_layers(model)
        self._step: int | None = None  # the step being recorded, else None
        self._norms: dict[str, torch.Tensor] = {}

    def hooks(self) -> dict[nn.Module, Callable]:
        """Forward hooks for ``hooks.hooked``: ``{module: hook}``."""
        return {module: partial(self._on_output, layer) for layer, module in self.layers.items()}

    def start_step(self, step: int) -> None:
        """Record this step (counted from 1) if it is step 1 or a multiple of ``every``."""
        self._step = step if step == 1 or step % self.every == 0 else None
        self._norms = {}

    def _on_output(self, layer: str, module: nn.Module, inputs: tuple, output) -> None:
        if self._step is not None and isinstance(output, torch.Tensor) and output.requires_grad:
            output.register_hook(partial(self._on_gradient, layer))

    def _on_gradient(self, layer: str, gradient: torch.Tensor) -> None:
        # In float64: a deep plain net's gradients can be so small that float32 squares underflow.
        self._norms[layer] = torch.linalg.vector_norm(gradient.detach(), dtype=torch.float64)

    def finish_step(self, history: History, scale: float = 1.0) -> None:
        """Append the recorded step's norms (divided by a loss scaler's ``scale``) to ``history``."""
        if self._step is None:
            return
        norms = [self._norms.get(layer) for layer in self.layers]
        present = [norm.cpu() for norm in norms if norm is not None]
        values = iter((torch.stack(present) / scale).tolist() if present else [])
        history.grad_steps.append(self._step)
        for layer, norm in zip(self.layers, norms):
            history.grad_norms.setdefault(layer, []).append(math.nan if norm is None else next(values))
        self._step, self._norms = None, {}
