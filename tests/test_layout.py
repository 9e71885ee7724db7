"""The layout: the one description of a net that the builder builds and the diagram draws."""

import itertools

import pytest
import torch
from torch import nn

import resnet_explorer as rx
from resnet_explorer.blocks import BLOCK_CLASSES, IdentityShortcut, ProjectionShortcut, ZeroPadShortcut
from resnet_explorer.models import ModelConfig

SHORTCUT_CLASSES = {"identity": IdentityShortcut, "zero-pad": ZeroPadShortcut, "projection": ProjectionShortcut}
POOLS = {"avg pool": nn.AvgPool2d, "max pool": nn.MaxPool2d}

CONFIGS = [
    *(dict(depth=8, shortcut=shortcut, preact=preact, width=8)
      for shortcut, preact in itertools.product(["A", "B", "C", "none"], [False, True])),
    dict(depth=14, shortcut="dense", width=8),
    dict(depth=18, shortcut="A", family="imagenet", width=8),
    *(dict(depth=50, shortcut="B", family="imagenet", width=8, preact=preact, bottleneck_stride=stride)
      for preact, stride in itertools.product([False, True], ["1x1", "3x3"])),
]


def _branch(block: nn.Module) -> list[nn.Module]:
    """The convs and pools of a block, in the order it made them, without its shortcut."""
    return [module for name, module in block.named_modules()
            if isinstance(module, (nn.Conv2d, *POOLS.values())) and not name.startswith("shortcut")]


@pytest.mark.parametrize("options", CONFIGS, ids=lambda options: ModelConfig(**options).name)
def test_the_model_is_built_exactly_as_its_layout_says(options):
    model = rx.build_model(**options, in_channels=1)
    layout = model.config.layout
    modules = dict(model.named_modules())
    assert [stage.name for stage in layout.stages] == [f"stage{i + 1}" for i in range(model.num_stages)]
    for block in layout.blocks:
        module = modules[block.path]
        assert type(module) is BLOCK_CLASSES[(block.type, block.preact)]
        branch = _branch(module)
        assert len(branch) == len(block.layers)
        for layer, part in zip(block.layers, branch):
            if layer.kind == "conv":
                assert (part.kernel_size[0], part.out_channels, part.stride[0]) == \
                       (layer.kernel, layer.filters, layer.stride)
            else:
                assert isinstance(part, POOLS[layer.kind]) and part.stride == layer.stride
        shortcut = getattr(module, "shortcut", None)
        if block.shortcut in SHORTCUT_CLASSES:
            assert type(shortcut) is SHORTCUT_CLASSES[block.shortcut]
        else:
            assert shortcut is None
    assert model.fc.in_features == layout.features


@pytest.mark.parametrize("options", CONFIGS, ids=lambda options: ModelConfig(**options).name)
def test_each_stage_sees_the_map_size_and_channels_its_layout_says(options):
    model = rx.build_model(**options, in_channels=1).eval()
    layout = model.config.layout
    side = 64
    shapes = {}
    handles = [stage.register_forward_hook(lambda m, i, out, index=index: shapes.__setitem__(index, out.shape))
               for index, stage in enumerate(model.stages(), start=1)]
    with torch.no_grad():
        model(torch.zeros(1, 1, side, side))
    for handle in handles:
        handle.remove()
    for stage in layout.stages:
        assert shapes[stage.index][1:] == (stage.blocks[-1].out_channels, side // stage.downsampling,
                                           side // stage.downsampling)


def test_layout_of_resnet_20_with_option_b():
    layout = rx.build_model(20, "B").config.layout
    assert [block.shortcut for block in layout.blocks] == (
        ["identity"] * 3 + ["projection", "identity", "identity"] * 2)
    assert [stage.width for stage in layout.stages] == [16, 32, 64]
    assert [stage.downsampling for stage in layout.stages] == [1, 2, 4]
    assert [block.stride for block in layout.stages[1].blocks] == [2, 1, 1]
    assert layout.blocks[3].path == "stage2.block1" and layout.blocks[3].shape_changes
    assert layout.features == 64 and layout.block_type == "basic"


def test_layout_of_a_dense_net_has_transitions_and_growing_widths():
    layout = rx.build_model(20, "dense").config.layout
    stage2 = layout.stages[1]
    assert [block.name for block in stage2.blocks] == ["transition", "block1", "block2", "block3"]
    assert stage2.blocks[0].shortcut is None and stage2.blocks[0].stride == 2
    assert [block.out_channels for block in stage2.blocks] == [32, 48, 64, 80]
    assert {block.shortcut for block in layout.blocks if block.type == "dense"} == {"concatenation"}
    assert layout.features == 64 + 3 * 32


def test_layer_responses_of_a_dense_net_skip_its_transitions():
    responses = rx.layer_responses(rx.build_model(8, "dense", in_channels=1), torch.randn(4, 1, 16, 16))
    assert responses.layer_names == ["stem", "stage1.block1.conv1", "stage1.block1.conv2",
                                     "stage2.block1.conv1", "stage2.block1.conv2",
                                     "stage3.block1.conv1", "stage3.block1.conv2"]
