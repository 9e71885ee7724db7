"""Bring torchvision ResNets (pretrained ones too) into resnet_explorer, weights and all."""

from __future__ import annotations

import re

from torch import nn

from .models import ResNet, build_model
from .options import IMAGENET_STAGES

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
    gives the same outputs. ResNeXt and wide ResNets are not supported.
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
    return model.to(device).train(tv_model.training)
