"""The constructed solution: a deeper net that computes exactly what a shallower one computes.

He et al. 2015, Section 1: "There exists a solution by construction to the deeper model: the
added layers are identity mapping, and the other layers are copied from the learned shallower
model. The existence of this constructed solution indicates that a deeper model should produce
no higher training error than its shallower counterpart." Yet a deep plain net trained from
scratch ends with a *higher* training error (Fig. 1): the solution exists, and SGD does not
find it. ``deepen`` builds that solution, so a student can measure both.

``deepen(model, depth)`` returns the net of ``model``'s configuration at the new depth, whose
original blocks keep their weights and whose added blocks, appended at the end of each stage
(never as the first, shape-changing block), compute the identity in eval mode:

- every convolution is Dirac-initialized (a 3x3 kernel with a single 1 in its centre, channel
  to the same channel), so it passes its input through;
- every BN outputs its input: running mean 0, running variance ``1 - eps`` (so that
  ``sqrt(var + eps) = 1``), weight 1, bias 0;
- in a plain block (``shortcut="none"``) that is enough with ReLU: the block's input is the
  previous block's output after a ReLU, so it is non-negative, and a ReLU leaves it unchanged;
- in a residual block the branch's last convolution is zero instead, so the branch adds 0 and
  ``relu(0 + x) = x`` (post-activation) or ``x + 0 = x`` (pre-activation).
"""

from __future__ import annotations

import torch
from torch import nn

from .checks import has_model_config
from .models import ModelConfig, ResNet
from .options import IMAGENET_STAGES, SHORTCUTS


def deepen(model: nn.Module, depth: int) -> ResNet:
    """The deeper net of ``model``'s configuration that computes what ``model`` computes.

    ``model`` is a plain net or ResNet made by ``build_model`` (trained or not); ``depth`` a
    larger depth of its family (6n+2 for CIFAR nets; for ImageNet nets one with the same kind
    of block and at least as many blocks in every stage: 18 -> 34, 50 -> 101 or 152). In eval
    mode the deepened net's outputs equal ``model``'s (up to float rounding), so its training
    error is ``model``'s. See the module docstring for the construction.

    The new net is on ``model``'s device, in its dtype, with each copied module in the train/eval
    mode it had in ``model`` (the added ones in ``model``'s mode). ``model`` is not changed, and
    neither is torch's random number generator.

    Raises ``ValueError`` when the construction does not apply: a depth that is not larger or not
    valid for the family, a model not made by ``build_model``, dense nets, plain pre-activation
    nets and pre-activation nets with projection shortcuts everywhere (option C), plain
    bottleneck nets, and post-activation nets with tanh or sigmoid (each message says why).
    """
    config = _deeper_config(model, depth)
    parameter = next(model.parameters())
    with torch.random.fork_rng(devices=[]):  # building initializes weights we overwrite anyway
        deeper = ResNet(config)
    deeper.to(device=parameter.device, dtype=parameter.dtype)
    _copy_weights(model, deeper)
    residual = SHORTCUTS[config.shortcut].same_shape is not None
    for stage, original in zip(deeper.stages(), model.stages()):
        for block in list(stage.children())[len(original):]:
            _make_identity(block, residual)
    deeper.train(model.training)
    modes = {name: module.training for name, module in model.named_modules()}
    for name, module in deeper.named_modules():
        module.training = modes.get(name, module.training)
    return deeper


def _deeper_config(model: nn.Module, depth: int) -> ModelConfig:
    """The configuration at the new depth; ``ValueError`` saying why where deepening cannot work."""
    if not (isinstance(model, ResNet) and has_model_config(model)):
        raise ValueError(f"deepen needs a plain net or ResNet made by build_model() (it rebuilds "
                         f"the net from model.config); got {type(model).__name__}")
    config = model.config
    if isinstance(depth, bool) or not isinstance(depth, int):
        raise ValueError(f"depth must be an integer, got {depth!r}")
    if depth <= config.depth:
        raise ValueError(f"deepen adds layers: depth must be larger than the model's "
                         f"{config.depth}, got {depth}")
    if SHORTCUTS[config.shortcut].concatenates:
        raise ValueError("deepen cannot deepen a dense net: a dense block appends its output to its "
                         "input, so an added block would widen the input of every later layer; "
                         "there is no identity block to add")
    try:
        deeper = ModelConfig(**{**config.as_dict(), "depth": depth})
    except ValueError as error:
        raise ValueError(f"deepen: {error}{_imagenet_hint(config)}") from None
    if deeper.block_type != config.block_type or any(
            new < old for new, old in zip(deeper.stage_blocks, config.stage_blocks)):
        raise ValueError(f"deepen keeps every block of {config.name} and adds blocks of the same "
                         f"type; {deeper.name} has {deeper.block_type} blocks in stages of "
                         f"{list(deeper.stage_blocks)}, {config.name} {config.block_type} blocks in "
                         f"{list(config.stage_blocks)}{_imagenet_hint(config)}")
    plain = SHORTCUTS[config.shortcut].same_shape is None
    if plain and config.preact:
        raise ValueError(
            "deepen cannot add identity blocks to a plain pre-activation net: such a block starts "
            f"with BN and {config.activation} on the previous block's convolution output, which "
            f"can be negative, and {config.activation} changes it, so no block of the same width "
            "can pass its input through unchanged (with shortcuts the added branch is simply 0)")
    if config.preact and SHORTCUTS[config.shortcut].same_shape == "projection":
        raise ValueError(
            f"deepen cannot add identity blocks to a pre-activation net with shortcut "
            f"{config.shortcut!r}: there every shortcut is a projection that reads the block's "
            f"pre-activated input, {config.activation}(BN(x)), not x, and x (a sum) can be "
            "negative, so an added block cannot pass x through unchanged; use shortcut 'A' or 'B'")
    if plain and config.block_type == "bottleneck":
        raise ValueError("deepen cannot add identity blocks to a plain bottleneck net: a bottleneck "
                         "block's first 1x1 convolution narrows its input to a quarter of the "
                         "channels, so it cannot pass the input through unchanged")
    if not config.preact and config.activation != "relu":
        raise ValueError(
            f"deepen needs ReLU in a post-activation net: every block ends with {config.activation}, "
            f"and {config.activation}(x) differs from x, so an added block cannot be the identity "
            "(ReLU leaves the previous block's non-negative output unchanged); pre-activation "
            "ResNets (preact=True) work with any activation")
    return deeper


def _imagenet_hint(config: ModelConfig) -> str:
    if config.family != "imagenet":
        return ""
    deeper = [depth for depth, (block_type, stages) in IMAGENET_STAGES.items()
              if depth > config.depth and block_type == config.block_type
              and all(new >= old for new, old in zip(stages, config.stage_blocks))]
    return (f"; {config.name} can be deepened to {', '.join(map(str, deeper))}" if deeper
            else f"; no deeper ImageNet net has {config.name}'s {config.block_type} blocks")


def _copy_weights(model: nn.Module, deeper: nn.Module) -> None:
    """Every parameter and buffer of ``model`` into the module of the same name in ``deeper``."""
    target = deeper.state_dict()
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name not in target or target[name].shape != tensor.shape:
                raise ValueError(f"deepen: {name} of the model does not match the net its "
                                 f"config describes ({model.config.name}); was the model changed "
                                 "after build_model?")
            target[name].copy_(tensor)


@torch.no_grad()
def _make_identity(block: nn.Module, residual: bool) -> None:
    """Make an added block compute the identity in eval mode (see the module docstring)."""
    for module in block.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.dirac_(module.weight)
        elif isinstance(module, nn.BatchNorm2d):
            module.weight.fill_(1)
            module.bias.zero_()
            module.running_mean.zero_()
            module.running_var.fill_(1 - module.eps)
    if residual:
        branch = [module for name, module in block.named_modules()
                  if isinstance(module, nn.Conv2d) and not name.startswith("shortcut")]
        branch[-1].weight.zero_()
