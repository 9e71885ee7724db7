"""Probes: what happens inside a network, as plain numbers (they never plot).

- ``layer_responses(model, images)``: how strongly each 3x3 layer responds, the measurement of
  He et al. 2015, Fig. 7 ("ResNets have generally smaller responses than their plain
  counterparts": a residual branch only adds a small correction to its input).
- ``gradient_flow(model, images, labels)``: how large the gradients are, layer by layer, after
  one backward pass. Deep plain nets without BN, or ResNets whose identity path passes through a
  squashing activation, let them vanish on the way to the first layers; the clean identity path
  of pre-activation ResNets (He et al. 2016) carries them back intact.
- ``Recorder(model)``: a context manager that watches modules while a model trains.

**Layers and their responses.** A *layer* is one 3x3 convolution, named after its conv module
(``"stage1.block1.conv1"``), or ``"stem"`` for the first convolution (the 7x7 one in the
ImageNet nets). Its *response* is read where the paper reads it: after BN, before the activation
or the addition. In a basic block that is the output of ``bn1`` / ``bn2``; in a pre-activation
block, whose BN comes before the convolution, it is the conv's own output. Bottleneck blocks
contribute their 3x3 layer only. ``response_layers(model)`` maps layer names to these modules;
the blocks name them in their ``response_modules`` attribute. Anything else the probes watch (a
BN, an activation, the fc) is named by its module name, as in ``model.named_modules()``.

**The contract.** Like every function that computes, the probes check their input with the
shared checks (``checks.py``), compute where the model is (or on ``device``, moving the model
back after) and leave the model as they found it: every module's train/eval mode, BN's
running statistics, no hooks and no ``.grad``.

**Which standard deviation.** The paper plots "the standard deviations (std) of layer
responses" without saying over what. We take, for each channel, the std over the images and
the positions of the map, and average it over the channels (``channel_std``). That measures how
much each unit's output varies with the input, which is what BN's scale controls and what a
residual branch close to zero keeps small. The std of the whole tensor would also count how far
apart the channels' *means* are (BN's shifts), constant offsets that are not responses to
anything.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.graph import register_multi_grad_hook
from torch.utils.hooks import RemovableHandle

from .checks import check_images, check_labels, check_model, check_whole_number, model_name
from .device import computing_on
from ._model_state import as_found
from .speed import follows_thread_policy


# --------------------------------------------------------------------------------------------
# Which layers
# --------------------------------------------------------------------------------------------

def response_layers(model: nn.Module) -> dict[str, str]:
    """The net's 3x3 layers in forward order: layer name -> name of the module giving its response.

    ``{"stem": "stem.bn", "stage1.block1.conv1": "stage1.block1.bn1", ...}`` for a ResNet;
    a pre-activation net reads its responses at the convs: ``"stem": "stem.conv"``, ...
    A CIFAR net of depth 6n+2 has 6n+1 of them (every weighted layer but the fc).
    """
    check_model(model, needs_config=True, what="response_layers")
    layers = {"stem": "stem.bn" if hasattr(model.stem, "bn") else "stem.conv"}
    for stage_index, stage in enumerate(model.stages(), start=1):
        for block_name, block in stage.named_children():
            prefix = f"stage{stage_index}.{block_name}"
            for module_name in block.response_modules:
                # The response of conv k is read at bn k (or at conv k itself, pre-activation).
                layers[f"{prefix}.{module_name.replace('bn', 'conv')}"] = f"{prefix}.{module_name}"
    return layers


def _norms(tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    """The L2 norm of each tensor, in float64, on the CPU: a 1-d tensor.

    In float64 because the gradients of a deep plain net can be so small (1e-24) that the sum of
    their squares underflows float32 and the norm would read 0.
    """
    norms = [torch.linalg.vector_norm(tensor.detach(), dtype=torch.float64) for tensor in tensors]
    return torch.stack(norms).cpu() if norms else torch.zeros(0, dtype=torch.float64)


def channel_std(responses: torch.Tensor) -> torch.Tensor:
    """Std of each channel over images and positions, averaged over channels (a 0-d tensor).

    ``responses`` is (N, C, H, W), or (N, C) for a fully connected layer. The std is the
    population one (no Bessel correction), so a single value gives 0, not NaN.
    """
    dims = [0, *range(2, responses.ndim)]
    return responses.float().std(dim=dims, correction=0).mean()


def _unknown_names_error(unknown: list[str], valid: list[str]) -> ValueError:
    """An error that names the unknown modules, close matches, and a few valid names."""
    hints = sorted({m for name in unknown for m in difflib.get_close_matches(name, valid, n=2)})
    examples = ", ".join(repr(name) for name in (hints or valid[:6]))
    return ValueError(
        f"unknown module(s) {', '.join(repr(name) for name in unknown)}; "
        f"{'did you mean' if hints else 'valid names include'} {examples} "
        f"(all of them: [name for name, _ in model.named_modules()])"
    )


# --------------------------------------------------------------------------------------------
# Running a model without changing it
# --------------------------------------------------------------------------------------------

def _probing(model: nn.Module, modules: dict[str, nn.Module], hook: Callable, *, training: bool):
    """Run the model in train or eval mode with ``hook(layer, module, inputs, output)`` after each
    of ``modules``; then restore every module's mode, every buffer, and remove the hooks.

    A forward pass in train mode updates BN's running statistics; a probe must not change the
    model it looks at, so ``as_found`` puts the buffers back after.
    """
    return as_found(model, training=training,
                    hooks={module: partial(hook, layer) for layer, module in modules.items()})


def _response_modules(model: nn.Module) -> dict[str, nn.Module]:
    """Layer name -> the module whose output is that layer's response."""
    modules = dict(model.named_modules())
    return {layer: modules[module_name] for layer, module_name in response_layers(model).items()}


# --------------------------------------------------------------------------------------------
# Fig. 7: layer responses
# --------------------------------------------------------------------------------------------

@dataclass
class LayerResponses:
    """The std of each 3x3 layer's response, in forward order (He et al. 2015, Fig. 7, top)."""

    model_name: str
    layer_names: list[str]
    std: np.ndarray  # float, one per layer

    def sorted(self) -> np.ndarray:
        """The stds in descending order, as in Fig. 7's bottom panel."""
        return np.sort(self.std)[::-1]

    @property
    def median(self) -> float:
        """One number per net, to compare nets (trained ResNets respond less than plain nets)."""
        return float(np.median(self.std))

    def __len__(self) -> int:
        return len(self.layer_names)


@follows_thread_policy
def layer_responses(
    model: nn.Module, images: torch.Tensor, *, device: torch.device | str | None = None
) -> LayerResponses:
    """Std of every 3x3 layer's response to ``images``: the measurement of Fig. 7.

    The model runs in eval mode (BN uses its running statistics, as at test time) without
    autograd; its mode is restored after. See the module docstring for where each response is
    read and which std is taken. ``device``: where to compute; default where the model is (an
    explicit device moves the model there for the pass and back after).

    The paper measured fully trained nets. After a few dozen steps, BN's running statistics
    still lag behind the batch statistics, and eval-mode responses can be far larger than 1
    for reasons that have nothing to do with Fig. 7; the gap between trained ResNets and plain
    nets grows over thousands of steps.
    """
    check_model(model, needs_config=True, what="layer_responses")
    images = check_images(model, images)
    modules = _response_modules(model)
    stds: dict[str, float] = {}

    def record(layer: str, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        stds[layer] = channel_std(output).item()

    with (computing_on(model, device) as target, _probing(model, modules, record, training=False),
          torch.no_grad()):
        model(images.to(target))
    std = np.array([stds[layer] for layer in modules])
    return LayerResponses(model_name(model), list(modules), std)


# --------------------------------------------------------------------------------------------
# Gradient flow
# --------------------------------------------------------------------------------------------

@dataclass
class GradientFlow:
    """Gradient norms after one backward pass of the cross-entropy loss.

    ``output_grad_norm[i]``: L2 norm of the gradient with respect to the response of layer
    ``layer_names[i]`` (the same layers, in the same order, as ``layer_responses``).
    ``weight_grad_norm[j]``: L2 norm of the gradient of conv or fc weight ``weight_names[j]``.
    """

    model_name: str
    layer_names: list[str]
    output_grad_norm: np.ndarray
    weight_names: list[str]
    weight_grad_norm: np.ndarray
    loss: float


@follows_thread_policy
def gradient_flow(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    train_mode: bool = True,
    device: torch.device | str | None = None,
) -> GradientFlow:
    """One forward and backward pass (cross-entropy); the gradient's size at every layer.

    ``train_mode=True`` (the default) computes what a training step sees: BN normalizes with
    the batch's own statistics. In eval mode a freshly built net's BN would use its initial
    running statistics (mean 0, variance 1), do nothing, and the gradients would be those of a
    net without BN. Either way the model is left as it was: its mode, its BN statistics, and
    its parameters' ``.grad`` (the gradients are computed with ``torch.autograd.grad``, which
    returns them instead of adding them to ``.grad``). Frozen weights are left out.
    ``device``: where to compute; default where the model is.
    """
    check_model(model, needs_config=True, what="gradient_flow")
    images = check_images(model, images)
    labels = check_labels(model, images, labels)
    modules = _response_modules(model)
    weights = {
        f"{name}.weight": module.weight
        for name, module in model.named_modules()
        if isinstance(module, (nn.Conv2d, nn.Linear)) and module.weight.requires_grad
    }
    responses: dict[str, torch.Tensor] = {}

    def keep(layer: str, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        responses[layer] = output

    with (computing_on(model, device) as target, _probing(model, modules, keep, training=train_mode),
          torch.enable_grad()):
        loss = F.cross_entropy(model(images.to(target)), labels.to(target))
        outputs = [responses[layer] for layer in modules]
        grads = torch.autograd.grad(loss, [*outputs, *weights.values()])
    norms = _norms(grads).numpy()
    return GradientFlow(
        model_name=model_name(model),
        layer_names=list(modules),
        output_grad_norm=norms[: len(outputs)],
        weight_names=list(weights),
        weight_grad_norm=norms[len(outputs):],
        loss=loss.item(),
    )


# --------------------------------------------------------------------------------------------
# Recorder: watching modules during training
# --------------------------------------------------------------------------------------------

class Recorder:
    """Watch modules of a model while it trains: a context manager that hooks and always unhooks.

    Example::

        with Recorder(model, every=10) as recorder:
            for images, labels in batches:
                loss = F.cross_entropy(model(images), labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        recorder.stats["stage1.block1.bn1"]["std"]   # one value per recorded step
        recorder.stats["stage1.block1.bn1"]["step"]  # which steps: 0, 10, 20, ...

    A *step* is a forward pass in training mode with autograd on; evaluation passes in between
    are neither counted nor recorded. On one step in ``every`` (steps 0, every, 2*every, ...)
    the recorder keeps, for each module in ``modules``:

    - ``"mean"`` and ``"std"`` of the module's output, on the first ``sample`` images of the
      batch (``std`` as in ``layer_responses``: per channel, averaged over channels);
    - ``"grad_norm"``: L2 norm of the gradient with respect to that output, over the whole
      batch (NaN if no backward pass followed);

    and, for every trainable parameter, the L2 norm of its gradient (``parameter_stats``).
    ``maps[name]`` is the last recorded output of each module named in ``keep_maps`` (first
    ``sample`` images, detached, on the CPU).

    The statistics are keyed by module name; ``response_layers(model)`` maps the layer names
    of ``layer_responses`` and ``gradient_flow`` to them. During training BN normalizes with
    the batch's own statistics, so the std of a BN output stays near BN's scale (1 at the
    start), whereas ``layer_responses`` runs in eval mode with the running statistics.
    The recorder computes where the model trains and changes neither the model nor its modes.

    Args:
        model: any ``nn.Module``; the default ``modules`` need a net from ``build_model``.
        modules: module names (as in ``model.named_modules()``) to watch; default the modules
            giving the 3x3 layers' responses (``response_layers(model).values()``), e.g.
            ``"stem.bn"``, ``"stage1.block1.bn1"``.
        every: record one step in ``every``. The hooks return at once on other steps.
        sample: how many images of the batch the activation statistics use.
        keep_maps: modules (among ``modules``) whose whole feature maps are kept.

    What it costs per training step is measured by ``benchmarks/bench_recorder.py`` (goal: the
    defaults ``every=10, sample=16`` within 1.15x a bare step). Where steps are short (a GPU),
    the hooks' Python work weighs more, one more reason to record one step in ten.
    """

    def __init__(
        self,
        model: nn.Module,
        modules: Iterable[str] | None = None,
        *,
        every: int = 10,
        sample: int = 16,
        keep_maps: Iterable[str] = (),
    ):
        check_model(model, what="Recorder")
        named = {name: module for name, module in model.named_modules() if name}
        if modules is None:
            try:
                modules = list(response_layers(model).values())
            except TypeError:
                raise TypeError(f"the default modules need a net made by build_model(); for a "
                                f"{type(model).__name__}, name the modules to watch") from None
        modules = _as_names(modules)
        keep_maps = _as_names(keep_maps)
        unknown = [name for name in modules if name not in named]
        if unknown:
            raise _unknown_names_error(unknown, list(named))
        not_recorded = [name for name in keep_maps if name not in modules]
        if not_recorded:
            raise ValueError(f"keep_maps must name recorded modules; {not_recorded} are not among "
                             f"them (the first recorded modules: {modules[:4]})")
        self.every = check_whole_number("every", every, minimum=1)
        self.sample = check_whole_number("sample", sample, minimum=1)

        self.model = model
        self.module_names = modules
        self.keep_maps = keep_maps
        self.steps: list[int] = []  # the recorded steps
        self.maps: dict[str, torch.Tensor] = {}
        self._modules = {name: named[name] for name in modules}
        self._parameters = {name: p for name, p in model.named_parameters() if p.requires_grad}
        # Per module: recorded steps, (mean, std) tensors, gradient norms (NaN until backward).
        self._traces = {name: {"step": [], "moments": [], "grad_norm": []} for name in modules}
        self._parameter_steps: list[int] = []
        self._parameter_norms: list[torch.Tensor] = []
        self._next_step = 0
        self._recording_forward = False  # inside the forward pass of a recorded step
        self._parameter_step: int | None = None  # the recorded step whose backward comes next
        self._handles: list[RemovableHandle] = []

    # -- the context manager ---------------------------------------------------------------

    def __enter__(self) -> Recorder:
        if self._handles:
            raise RuntimeError("this Recorder is already recording; leave its `with` block first")
        handles = self._handles
        try:
            handles.append(self.model.register_forward_pre_hook(self._on_model_forward_start))
            handles.append(self.model.register_forward_hook(self._on_model_forward_end))
            for name, module in self._modules.items():
                handles.append(module.register_forward_hook(partial(self._on_layer_output, name)))
            if self._parameters:
                # One call per backward pass with the gradients of all parameters at once.
                parameters = list(self._parameters.values())
                handles.append(register_multi_grad_hook(parameters, self._on_parameter_grads))
        except BaseException:
            self._remove_hooks()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self._remove_hooks()

    def _remove_hooks(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._recording_forward = False
        self._parameter_step = None

    # -- results as plain numbers ----------------------------------------------------------

    @property
    def stats(self) -> dict[str, dict[str, np.ndarray]]:
        """Module name -> ``{"step", "mean", "std", "grad_norm"}``, arrays over recorded steps."""
        results = {}
        for name, trace in self._traces.items():
            moments = (torch.stack(trace["moments"]).cpu().numpy() if trace["moments"]
                       else np.zeros((0, 2), dtype=np.float32))
            results[name] = {
                "step": np.array(trace["step"], dtype=np.int64),
                "mean": moments[:, 0],
                "std": moments[:, 1],
                "grad_norm": np.array([float(norm) for norm in trace["grad_norm"]]),
            }
        return results

    @property
    def parameter_stats(self) -> dict[str, dict[str, np.ndarray]]:
        """Parameter name -> ``{"step", "grad_norm"}``, one entry per recorded backward pass."""
        steps = np.array(self._parameter_steps, dtype=np.int64)
        norms = (torch.stack(self._parameter_norms).numpy() if self._parameter_norms
                 else np.zeros((0, len(self._parameters))))
        return {name: {"step": steps, "grad_norm": norms[:, index]}
                for index, name in enumerate(self._parameters)}

    def __repr__(self) -> str:
        state = "recording" if self._handles else "not recording"
        return (f"Recorder({len(self.module_names)} modules, every={self.every}, sample={self.sample}, "
                f"{len(self.steps)} steps recorded, {state})")

    # -- hooks -----------------------------------------------------------------------------

    def _on_model_forward_start(self, model: nn.Module, inputs: tuple) -> None:
        if not (model.training and torch.is_grad_enabled()):
            self._recording_forward = False  # an evaluation pass: not a step
            return
        step = self._next_step
        self._next_step += 1
        self._recording_forward = step % self.every == 0
        self._parameter_step = step if self._recording_forward else None
        if self._recording_forward:
            self.steps.append(step)

    def _on_model_forward_end(self, model: nn.Module, inputs: tuple, output) -> None:
        self._recording_forward = False

    def _on_layer_output(self, name: str, module: nn.Module, inputs: tuple, output) -> None:
        if not self._recording_forward or not isinstance(output, torch.Tensor):
            return
        trace = self._traces[name]
        sample = output.detach()[: self.sample]
        trace["step"].append(self.steps[-1])
        trace["moments"].append(torch.stack([sample.float().mean(), channel_std(sample)]))
        trace["grad_norm"].append(float("nan"))
        if name in self.keep_maps:
            self.maps[name] = sample.to("cpu", copy=True)
        if output.requires_grad:  # fills in the NaN above during the backward pass
            index = len(trace["grad_norm"]) - 1
            output.register_hook(partial(self._on_output_grad, trace["grad_norm"], index))

    @staticmethod
    def _on_output_grad(grad_norms: list, index: int, grad: torch.Tensor) -> None:
        norm = torch.linalg.vector_norm(grad.detach())
        if norm < 1e-15:  # the squares may have underflowed float32: redo it in float64
            norm = torch.linalg.vector_norm(grad.detach(), dtype=torch.float64)
        grad_norms[index] = norm

    def _on_parameter_grads(self, grads: list[torch.Tensor | None]) -> None:
        if self._parameter_step is None:
            return
        norms = torch.full((len(grads),), float("nan"), dtype=torch.float64)
        present = [index for index, grad in enumerate(grads) if grad is not None]
        if present:
            norms[present] = _norms(grads[index] for index in present)
        self._parameter_steps.append(self._parameter_step)
        self._parameter_norms.append(norms)
        self._parameter_step = None


def _as_names(names: Iterable[str] | str) -> list[str]:
    return [names] if isinstance(names, str) else list(names)
