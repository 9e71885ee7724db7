"""Bring torchvision ResNets (pretrained ones too) into resnet_explorer, weights and all.

Only torchvision's standard ResNets convert: a net whose stem, pooling, head or blocks were
changed (a 3x3 ``conv1`` for small images, no max pool, a ``Sequential`` head, another
activation) is refused with what differs, and the converted net's outputs are compared with the
original's on a probe batch, so that a conversion never silently gives other numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import torch
from torch import nn

from .hooks import hooked
from .models import ResNet, build_model
from .options import IMAGENET_STAGES

# Outputs of the two nets may differ by float rounding only: relative to their size, at most this.
_PROBE_TOLERANCE = 1e-4

# torchvision name -> our name, applied to each state-dict key in turn.
_RENAMES = (
    (r"^conv1\.", "stem.conv."),
    (r"^bn1\.", "stem.bn."),
    (r"\.downsample\.0\.", ".shortcut.conv."),
    (r"\.downsample\.1\.", ".shortcut.bn."),
)


def _rename(key: str) -> str:
    for pattern, replacement in _RENAMES:
        key = re.sub(pattern, replacement, key)
    match = re.match(r"^layer(\d+)\.(\d+)\.(.*)$", key)
    if match:
        stage, block, rest = match.groups()
        key = f"stage{stage}.block{int(block) + 1}.{rest}"
    return key


def from_torchvision(tv_model: nn.Module) -> ResNet:
    """An equivalent resnet_explorer model carrying the same weights as a torchvision ResNet.

    Works for ``torchvision.models.resnet18`` ... ``resnet152`` (pretrained or not); the
    result has option B shortcuts and torchvision's stride placement (``"3x3"``), so it
    gives the same outputs. ResNeXt and wide ResNets are not supported, nor nets whose layers
    were changed: those raise a ``ValueError`` naming the layer. Both nets are then run in
    eval mode on a probe batch of two random 64x64 images (the original is left as it was):
    outputs that differ mean a forward pass of its own, and are refused too.
    """
    from torchvision.models.resnet import BasicBlock as TvBasicBlock
    from torchvision.models.resnet import Bottleneck as TvBottleneck

    stages = [getattr(tv_model, f"layer{i}", None) for i in range(1, 5)]
    if any(stage is None for stage in stages) or not hasattr(tv_model, "fc"):
        raise ValueError(
            f"{type(tv_model).__name__} is not a torchvision ResNet (needs conv1, layer1..layer4, fc)"
        )
    first_block = stages[0][0]
    if isinstance(first_block, TvBasicBlock):
        block_type = "basic"
    elif isinstance(first_block, TvBottleneck):
        block_type = "bottleneck"
        if first_block.conv2.groups != 1 or first_block.conv1.out_channels != tv_model.conv1.out_channels:
            raise ValueError("ResNeXt and wide ResNets are not supported; use resnet18 ... resnet152")
    else:
        raise ValueError(f"unknown torchvision block type {type(first_block).__name__}")
    _check_standard_layers(tv_model, block_type)
    stage_blocks = tuple(len(stage) for stage in stages)
    depth = next(
        (d for d, spec in IMAGENET_STAGES.items() if spec == (block_type, stage_blocks)), None
    )
    if depth is None:
        raise ValueError(f"no standard ResNet has {block_type} blocks {stage_blocks} per stage")

    model = build_model(
        depth,
        shortcut="B",
        family="imagenet",
        num_classes=tv_model.fc.out_features,
        in_channels=tv_model.conv1.in_channels,
        width=tv_model.conv1.out_channels,
        bottleneck_stride="3x3",
        init="default",
    )
    state = {_rename(key): value for key, value in tv_model.state_dict().items()}
    model.load_state_dict(state, strict=True)
    device = next(tv_model.parameters()).device
    model.to(device)
    _check_same_outputs(tv_model, model, device)
    return model.train(tv_model.training)


def _refuse(tv_model: nn.Module, name: str, module, expected: str) -> ValueError:
    described = " ".join(repr(module).split())  # one line, also for a Sequential
    return ValueError(f"{type(tv_model).__name__}.{name} is {described}, where a standard torchvision "
                      f"ResNet has {expected}; from_torchvision converts torchvision's standard "
                      "ResNets only (resnet18 ... resnet152, as torchvision.models builds them)")


def _check_standard_layers(tv_model: nn.Module, block_type: str) -> None:
    """``ValueError`` naming the first layer that is not what torchvision's ResNet builder makes."""
    def conv(kernel: int, stride: int | None = None, padding: int | None = None) -> Callable:
        def fits(module) -> bool:
            return (type(module) is nn.Conv2d and module.kernel_size == (kernel, kernel)
                    and (stride is None or module.stride == (stride, stride))
                    and (padding is None or module.padding == (padding, padding))
                    and module.bias is None and module.groups == 1 and module.dilation == (1, 1))
        return fits

    def pair(value) -> tuple:
        return tuple(value) if isinstance(value, (tuple, list)) else (value, value)

    def is_type(kind: type) -> Callable:
        return lambda module: type(module) is kind

    stem = {
        "conv1": (conv(7, 2, 3), "a 7x7 conv with stride 2, padding 3 and no bias"),
        "bn1": (is_type(nn.BatchNorm2d), "BatchNorm2d"),
        "relu": (is_type(nn.ReLU), "ReLU"),
        "maxpool": (lambda m: type(m) is nn.MaxPool2d and pair(m.kernel_size) == (3, 3)
                    and pair(m.stride) == (2, 2) and pair(m.padding) == (1, 1)
                    and pair(m.dilation) == (1, 1) and not m.ceil_mode,
                    "MaxPool2d(kernel_size=3, stride=2, padding=1)"),
        "avgpool": (lambda m: type(m) is nn.AdaptiveAvgPool2d and pair(m.output_size) == (1, 1),
                    "AdaptiveAvgPool2d((1, 1))"),
        "fc": (is_type(nn.Linear), "a Linear layer"),
    }
    for name, (fits, expected) in stem.items():
        module = getattr(tv_model, name, None)
        if not fits(module):
            raise _refuse(tv_model, name, module, expected)
    branch = ({"conv1": (conv(3, padding=1), "a 3x3 conv"), "conv2": (conv(3, 1, 1), "a 3x3 conv")}
              if block_type == "basic" else
              {"conv1": (conv(1, 1, 0), "a 1x1 conv"), "conv2": (conv(3, padding=1), "a 3x3 conv"),
               "conv3": (conv(1, 1, 0), "a 1x1 conv")})
    for norm in ("bn1", "bn2", "bn3")[:len(branch)]:
        branch[norm] = (is_type(nn.BatchNorm2d), "BatchNorm2d")
    branch["relu"] = (is_type(nn.ReLU), "ReLU")
    for stage in range(1, 5):
        for index, block in enumerate(getattr(tv_model, f"layer{stage}")):
            for name, (fits, expected) in branch.items():
                module = getattr(block, name, None)
                if not fits(module):
                    raise _refuse(tv_model, f"layer{stage}.{index}.{name}", module, expected)
            downsample = block.downsample
            if downsample is not None and not (
                    type(downsample) is nn.Sequential and len(downsample) == 2
                    and conv(1, padding=0)(downsample[0]) and type(downsample[1]) is nn.BatchNorm2d):
                raise _refuse(tv_model, f"layer{stage}.{index}.downsample", downsample,
                              "None or Sequential(1x1 conv, BatchNorm2d)")


def _check_same_outputs(tv_model: nn.Module, model: nn.Module, device: torch.device) -> None:
    """``ValueError`` unless both nets give the same outputs on a probe batch (in eval mode)."""
    generator = torch.Generator().manual_seed(0)
    probe = torch.randn(2, model.config.in_channels, 64, 64, generator=generator).to(device)
    with hooked(tv_model, training=False), hooked(model, training=False), torch.no_grad():
        theirs, ours = tv_model(probe), model(probe)
    if theirs.shape != ours.shape:
        difference = float("inf")
    else:
        difference = (theirs - ours).abs().max().item()
    if not difference <= _PROBE_TOLERANCE * max(1.0, theirs.abs().max().item()):
        raise ValueError(
            f"the converted model's outputs differ from {type(tv_model).__name__}'s by up to "
            f"{difference:.3g} on a probe batch: its forward pass is not torchvision's standard "
            "one; from_torchvision converts torchvision's standard ResNets only")
