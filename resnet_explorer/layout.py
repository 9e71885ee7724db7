"""The layout of a net, decided once: its stem, stages, blocks, strides, widths and shortcuts.

``net_layout(config)`` (also ``config.layout``) is the one place that works out, from a
``ModelConfig``, which block goes where (He et al. 2015, Section 4.2 and Table 1): the
first stage keeps the stem's maps, each later stage halves them in its first block (or, in a
dense net, in the transition before it) and doubles the filters; the shortcut option decides
each block's kind of shortcut (``options.SHORTCUTS``). ``ResNet`` builds its modules from
this layout, and the architecture diagram draws it, so neither works the other out again.

Example::

    layout = rx.build_model(20, "B").config.layout
    [block.shortcut for block in layout.blocks]   # 'identity' x3, 'projection', 'identity' x2, ...
    layout.stages[1].downsampling                 # 2: stage 2 sees 16x16 maps of a 32x32 image
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .blocks import BLOCK_CLASSES, Layer
from .options import SHORTCUT_VARIANTS, SHORTCUTS, ShortcutOption, survival_probabilities

if TYPE_CHECKING:
    from .models import ModelConfig


@dataclass(frozen=True)
class BlockLayout:
    """One block of a stage (a residual, plain or dense block, or a dense net's transition)."""

    name: str  # its module's name in the stage: "block1", "block2", ..., or "transition"
    stage: int  # 1, 2, 3, ...
    type: str  # "basic", "bottleneck", "dense" or "transition" (a key of blocks.BLOCK_CLASSES)
    in_channels: int
    channels: int  # filters of the branch's 3x3 conv (a dense block's growth)
    out_channels: int
    stride: int  # 2 where the block halves the maps
    layers: tuple[Layer, ...]  # the branch's layers, in order
    shortcut: str | None  # a kind in options.SHORTCUT_KINDS; None for plain blocks and transitions
    preact: bool = False  # pre-activation (He et al. 2016)
    order: str = "original"  # where BN and ReLU sit: an options.ACTIVATION_ORDERS name (He 2016, Fig. 4)
    variant: str = "original"  # what multiplies h and F: an options.SHORTCUT_VARIANTS name (Fig. 2)
    survival: float = 1.0  # the probability that stochastic depth keeps the branch (Huang et al. 2016)

    @property
    def path(self) -> str:
        """The block's module path in the net: ``"stage2.block1"``."""
        return f"stage{self.stage}.{self.name}"

    @property
    def shape_changes(self) -> bool:
        return self.stride != 1 or self.in_channels != self.out_channels


@dataclass(frozen=True)
class StageLayout:
    """One stage: blocks working on maps of one size."""

    index: int  # 1, 2, 3, ...
    width: int  # filters of its blocks' 3x3 convs ("16 filters")
    downsampling: int  # input side / the side of this stage's maps: 1, 2, 4 (CIFAR); 4 ... 32 (ImageNet)
    blocks: tuple[BlockLayout, ...]

    @property
    def name(self) -> str:
        return f"stage{self.index}"


@dataclass(frozen=True)
class StemLayout:
    """The first layer: a 3x3 conv (CIFAR) or a 7x7 conv with stride 2 and a max pool (ImageNet)."""

    conv: Layer
    normalized: bool  # BN and activation after the conv (pre-activation CIFAR nets start bare)
    pool: Layer | None

    @property
    def downsampling(self) -> int:
        return self.conv.stride * (self.pool.stride if self.pool else 1)


@dataclass(frozen=True)
class NetLayout:
    """A whole net: stem, stages, and the head (global average pooling, a fully connected layer)."""

    in_channels: int
    stem: StemLayout
    stages: tuple[StageLayout, ...]
    features: int  # channels that reach the fully connected layer
    final_norm: bool  # pre-activation nets end with BN and activation before pooling
    final_activation: bool  # ... and ReLU-only pre-activation nets with an activation (He 2016, Section 4.1)
    num_classes: int
    block_type: str  # "basic", "bottleneck" or "dense"
    shortcut: str  # the shortcut option ("A", "B", "C", "none", "dense")

    @property
    def blocks(self) -> tuple[BlockLayout, ...]:
        """Every block in forward order (a dense net's transitions too)."""
        return tuple(block for stage in self.stages for block in stage.blocks)


def net_layout(config: ModelConfig) -> NetLayout:
    """The layout of the net ``config`` describes (``config`` is checked already)."""
    option = SHORTCUTS[config.shortcut]
    stem = _stem(config)
    stages, channels, downsampling = [], config.width, stem.downsampling
    for index, count in enumerate(config.stage_blocks, start=1):
        width = config.width * 2 ** (index - 1)
        stride = 1 if index == 1 else 2
        downsampling *= stride
        make_stage = _dense_blocks if option.concatenates else _residual_blocks
        blocks = make_stage(config, option, index, count, width, stride, channels)
        stages.append(StageLayout(index, width, downsampling, blocks))
        channels = blocks[-1].out_channels
    block_type = "dense" if option.concatenates else config.block_type
    final_activation = config.activation_order in ("full_preact", "relu_preact")
    return NetLayout(config.in_channels, stem, tuple(stages), channels, config.preact, final_activation,
                     config.num_classes, block_type, config.shortcut)


def _stem(config: ModelConfig) -> StemLayout:
    if config.family == "cifar":
        return StemLayout(Layer(3, config.width), normalized=not config.preact, pool=None)
    return StemLayout(Layer(7, config.width, 2), normalized=True, pool=Layer(3, config.width, 2, "max pool"))


def _residual_blocks(config: ModelConfig, option: ShortcutOption, stage: int, count: int, width: int,
                     stride: int, in_channels: int) -> tuple[BlockLayout, ...]:
    """``count`` residual (or plain) blocks; the first one strides and widens."""
    block_class = BLOCK_CLASSES[(config.block_type, config.preact)]
    out_channels = width * block_class.expansion
    variant = SHORTCUT_VARIANTS[config.shortcut_variant]
    survival = _survival(config)
    first = sum(config.stage_blocks[:stage - 1])  # blocks before this stage
    blocks = []
    for position in range(count):
        block_stride = stride if position == 0 else 1
        changes = block_stride != 1 or in_channels != out_channels
        kind = option.kind(changes)
        if kind == "identity" and variant.identity_kind:
            kind = variant.identity_kind  # the 1x1 conv shortcut "replaces the identity" (He 2016, Fig. 2(e))
        blocks.append(BlockLayout(
            f"block{position + 1}", stage, config.block_type, in_channels, width, out_channels,
            block_stride, block_class.branch_layers(width, block_stride, config.bottleneck_stride),
            kind, config.preact, config.activation_order, config.shortcut_variant, survival[first + position]))
        in_channels = out_channels
    return tuple(blocks)


def _survival(config: ModelConfig) -> tuple[float, ...]:
    """Each block's survival probability, in forward order: 1 without stochastic depth, else
    Huang et al. 2016's linear decay from about 1 to ``p_L`` over all the net's blocks."""
    blocks = sum(config.stage_blocks)
    if config.stochastic_depth is None:
        return (1.0,) * blocks
    return survival_probabilities(blocks, config.stochastic_depth)


def _dense_blocks(config: ModelConfig, option: ShortcutOption, stage: int, count: int, width: int,
                  stride: int, in_channels: int) -> tuple[BlockLayout, ...]:
    """A transition (where the stage halves the maps), then ``count`` dense blocks that each
    append half the stage's width."""
    blocks = []
    if stride != 1:
        transition = BLOCK_CLASSES[("transition", False)]
        blocks.append(BlockLayout("transition", stage, "transition", in_channels, width, width, stride,
                                  transition.branch_layers(width, stride), None))
        in_channels = width
    growth = max(1, width // 2)
    dense = BLOCK_CLASSES[("dense", False)]
    for position in range(count):
        blocks.append(BlockLayout(f"block{position + 1}", stage, "dense", in_channels, growth,
                                  in_channels + growth, 1, dense.branch_layers(growth),
                                  option.kind(False)))
        in_channels += growth
    return tuple(blocks)
