"""ResNets and their plain twins, as in He et al. 2015 ("Deep Residual Learning").

Two families:

- ``"cifar"`` (Section 4.2): a 3x3 conv with 16 filters, three stages of ``n`` basic
  blocks with 16, 32 and 64 filters on 32x32, 16x16 and 8x8 maps, global average pooling,
  a fully connected layer: ``6n + 2`` weighted layers (20, 32, 44, 56, 110, 1202, ...).
- ``"imagenet"`` (Table 1): a 7x7 conv and max pooling, then four stages; ResNet-18/34
  use basic blocks, ResNet-50/101/152 bottleneck blocks.

``shortcut="none"`` gives the plain twin: the same layers, no shortcuts.
``shortcut="dense"`` (cifar family) concatenates instead of adding, as DenseNet does.

Example::

    import resnet_explorer as rx
    model = rx.build_model(56, shortcut="A")            # ResNet-56, 853,018 parameters
    plain = rx.build_model(56, shortcut="none")         # plain-56, same size
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from .blocks import (
    ACTIVATIONS,
    NORMS,
    SHORTCUT_OPTIONS,
    BasicBlock,
    Bottleneck,
    DenseBlock,
    PreActBasicBlock,
    PreActBottleneck,
    Transition,
    conv3x3,
    make_activation,
    make_norm,
)

FAMILIES = ("cifar", "imagenet")
INITS = ("kaiming", "xavier", "default")
BOTTLENECK_STRIDES = ("1x1", "3x3")

#: Blocks per stage for the ImageNet nets (Table 1).
IMAGENET_STAGES = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}


@dataclass(frozen=True)
class ModelConfig:
    """Everything that defines an architecture; ``build_model`` takes the same arguments."""

    depth: int
    shortcut: str = "A"
    family: str = "cifar"
    preact: bool = False
    norm: str = "batch"
    activation: str = "relu"
    init: str = "kaiming"
    num_classes: int = 10
    in_channels: int = 3
    width: int | None = None  # filters of the first stage; 16 (cifar) or 64 (imagenet)
    bottleneck_stride: str = "1x1"
    stage_blocks: tuple[int, ...] = field(init=False)
    block_type: str = field(init=False)

    def __post_init__(self) -> None:
        validate_options(self)
        if self.family == "cifar":
            block_type, stage_blocks = "basic", ((self.depth - 2) // 6,) * 3
        else:
            block_type, stage_blocks = IMAGENET_STAGES[self.depth]
        default_width = 16 if self.family == "cifar" else 64
        object.__setattr__(self, "width", self.width or default_width)
        object.__setattr__(self, "block_type", block_type)
        object.__setattr__(self, "stage_blocks", stage_blocks)

    @property
    def name(self) -> str:
        """A short label a student can read, e.g. ``"ResNet-56 (A)"`` or ``"plain-20"``."""
        if self.shortcut == "dense":
            base = f"dense-{self.depth}"
        elif self.shortcut == "none":
            base = f"plain-{self.depth}"
        else:
            base = f"ResNet-{self.depth} ({self.shortcut})"
        extras = [
            label
            for label, active in (
                ("pre-act", self.preact),
                ("no BN", self.norm == "none"),
                (self.activation, self.activation != "relu"),
                (f"{self.init} init", self.init != "kaiming"),
            )
            if active
        ]
        return base + (", " + ", ".join(extras) if extras else "")

    def as_dict(self) -> dict:
        """The arguments of ``build_model`` that rebuild this architecture."""
        values = asdict(self)
        del values["stage_blocks"], values["block_type"]
        return values


def _choice_error(what: str, value, allowed) -> ValueError:
    allowed_text = ", ".join(str(a) for a in allowed)
    return ValueError(f"unknown {what} {value!r}; allowed: {allowed_text}")


def nearest_cifar_depths(depth: int) -> tuple[int, int]:
    """The valid 6n+2 depths just below and above ``depth`` (for error messages and sliders)."""
    below = max(8, depth - (depth - 2) % 6)
    above = below + 6 if below < depth else below
    return below, above


def validate_options(config: ModelConfig) -> None:
    """Raise ``ValueError`` with what was wrong and what is allowed."""
    for what, value, allowed in (
        ("family", config.family, FAMILIES),
        ("shortcut", config.shortcut, SHORTCUT_OPTIONS),
        ("norm", config.norm, NORMS),
        ("activation", config.activation, ACTIVATIONS),
        ("init", config.init, INITS),
        ("bottleneck_stride", config.bottleneck_stride, BOTTLENECK_STRIDES),
    ):
        if value not in allowed:
            raise _choice_error(what, value, allowed)
    if not isinstance(config.depth, int) or isinstance(config.depth, bool):
        raise ValueError(f"depth must be an integer, got {config.depth!r}")
    if config.family == "cifar" and (config.depth < 8 or (config.depth - 2) % 6):
        below, above = nearest_cifar_depths(config.depth)
        nearest = f"{below} and {above}" if below != above else f"{below}"
        raise ValueError(
            f"depth {config.depth} is not 6n+2 (n >= 1) for the CIFAR family; "
            f"nearest valid depths are {nearest}"
        )
    if config.shortcut == "dense" and (config.family != "cifar" or config.preact):
        raise ValueError('shortcut="dense" is available for family="cifar" without preact only')
    if config.family == "imagenet" and config.depth not in IMAGENET_STAGES:
        allowed = ", ".join(str(d) for d in IMAGENET_STAGES)
        raise ValueError(f"ImageNet depth {config.depth} is not one of {allowed}")
    for what, value in (("num_classes", config.num_classes), ("in_channels", config.in_channels)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{what} must be a positive integer, got {value!r}")
    if config.width is not None and (not isinstance(config.width, int) or config.width < 1):
        raise ValueError(f"width must be a positive integer, got {config.width!r}")


def _block_class(config: ModelConfig) -> type[nn.Module]:
    if config.block_type == "basic":
        return PreActBasicBlock if config.preact else BasicBlock
    return PreActBottleneck if config.preact else Bottleneck


def _make_stem(config: ModelConfig) -> nn.Sequential:
    """The first layer(s): a 3x3 conv (cifar) or 7x7 conv + 3x3 max pool (imagenet).

    Pre-activation CIFAR nets start with a bare conv: the first block's BN-act follows it.
    """
    width, activation = config.width, config.activation
    if config.family == "cifar":
        layers = [("conv", conv3x3(config.in_channels, width))]
        if not config.preact:
            layers += [("bn", make_norm(config.norm, width)), ("act", make_activation(activation))]
    else:
        layers = [
            ("conv", nn.Conv2d(config.in_channels, width, 7, stride=2, padding=3, bias=False)),
            ("bn", make_norm(config.norm, width)),
            ("act", make_activation(activation)),
            ("pool", nn.MaxPool2d(3, stride=2, padding=1)),
        ]
    return nn.Sequential(OrderedDict(layers))


class ResNet(nn.Module):
    """A residual (or, with ``shortcut="none"``, plain) net: stem, stages of blocks, head.

    Module names follow the paper's words: ``stem``, ``stage1.block1.conv1``, ...,
    ``stage3.block9.shortcut``, ``pool``, ``fc``. ``model.config`` holds the architecture.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        block_class = _block_class(config)
        block_options = dict(shortcut=config.shortcut, norm=config.norm, activation=config.activation)
        if config.block_type == "bottleneck":
            block_options["stride_on"] = config.bottleneck_stride

        self.stem = _make_stem(config)
        if config.shortcut == "dense":
            in_channels = self._add_dense_stages(config)
        else:
            in_channels = self._add_residual_stages(config, block_class, block_options)
        self.num_stages = len(config.stage_blocks)

        # Pre-activation nets end with BN-act, since their blocks end with a bare addition.
        self.final_bn = make_norm(config.norm, in_channels) if config.preact else nn.Identity()
        self.final_act = make_activation(config.activation) if config.preact else nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(in_channels, config.num_classes)
        initialize(self, config.init, config.activation)

    def _add_residual_stages(self, config: ModelConfig, block_class, block_options) -> int:
        """Stages of residual (or plain) blocks; returns the channels of the last block."""
        in_channels = config.width
        for index, num_blocks in enumerate(config.stage_blocks):
            channels = config.width * 2**index
            stride = 1 if index == 0 else 2
            blocks = []
            for position in range(num_blocks):
                block = block_class(
                    in_channels, channels, stride if position == 0 else 1, **block_options
                )
                blocks.append((f"block{position + 1}", block))
                in_channels = channels * block_class.expansion
            self.add_module(f"stage{index + 1}", nn.Sequential(OrderedDict(blocks)))
        return in_channels

    def _add_dense_stages(self, config: ModelConfig) -> int:
        """Stages of dense blocks, each adding half a stage width; transitions between stages."""
        in_channels = config.width
        for index, num_blocks in enumerate(config.stage_blocks):
            stage_width = config.width * 2**index
            modules = []
            if index > 0:
                modules.append(("transition", Transition(in_channels, stage_width, config.norm, config.activation)))
                in_channels = stage_width
            growth = max(1, stage_width // 2)
            for position in range(num_blocks):
                block = DenseBlock(in_channels, growth, config.norm, config.activation)
                modules.append((f"block{position + 1}", block))
                in_channels += growth
            self.add_module(f"stage{index + 1}", nn.Sequential(OrderedDict(modules)))
        return in_channels

    def stages(self) -> list[nn.Sequential]:
        """The stages in order (``stage1``, ``stage2``, ...)."""
        return [getattr(self, f"stage{i + 1}") for i in range(self.num_stages)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages():
            x = stage(x)
        x = self.final_act(self.final_bn(x))
        return self.fc(self.flatten(self.pool(x)))


def initialize(model: nn.Module, init: str, activation: str = "relu") -> None:
    """Initialize conv and linear weights: He (``"kaiming"``), Glorot (``"xavier"``) or PyTorch's.

    Kaiming init is the paper's (Section 3.4, ref. [13]); Xavier and PyTorch's default are
    kept for the lessons on vanishing signals. BN starts as the identity (weight 1, bias 0).
    """
    if init == "default":
        return
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            if init == "kaiming":
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            else:
                gain = nn.init.calculate_gain(activation if activation != "sigmoid" else "linear")
                nn.init.xavier_normal_(module.weight, gain=gain)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def build_model(
    depth: int,
    shortcut: str = "A",
    family: str = "cifar",
    *,
    preact: bool = False,
    norm: str = "batch",
    activation: str = "relu",
    init: str = "kaiming",
    num_classes: int = 10,
    in_channels: int = 3,
    width: int | None = None,
    bottleneck_stride: str = "1x1",
    device: torch.device | str | None = None,
) -> ResNet:
    """Build a ResNet (or its plain twin with ``shortcut="none"``).

    Args:
        depth: weighted layers: 6n+2 for ``family="cifar"``; 18, 34, 50, 101 or 152 for
            ``family="imagenet"``.
        shortcut: ``"A"`` (zero-padding identity), ``"B"`` (projections where the shape
            changes), ``"C"`` (projections everywhere) or ``"none"`` (plain net).
        preact: pre-activation blocks (He et al. 2016).
        norm: ``"batch"`` or ``"none"``.
        activation: ``"relu"``, ``"tanh"`` or ``"sigmoid"``.
        init: ``"kaiming"`` (the paper's), ``"xavier"`` or ``"default"`` (PyTorch's).
        num_classes, in_channels: the data's classes and image channels (1 for grayscale).
        width: filters of the first stage (default 16 for cifar, 64 for imagenet).
        bottleneck_stride: ``"1x1"`` (the paper) or ``"3x3"`` (torchvision's "v1.5").
        device: where to put the model; default CPU (see ``default_device()``).
    """
    config = ModelConfig(
        depth=depth,
        shortcut=shortcut,
        family=family,
        preact=preact,
        norm=norm,
        activation=activation,
        init=init,
        num_classes=num_classes,
        in_channels=in_channels,
        width=width,
        bottleneck_stride=bottleneck_stride,
    )
    model = ResNet(config)
    return model.to(device) if device is not None else model
