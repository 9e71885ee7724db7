"""The building blocks of residual and plain networks (He et al. 2015, Sections 3.2-3.3).

A residual block computes ``out = activation(F(x) + shortcut(x))``, where ``F`` is the
*residual branch* (two 3x3 convolutions for the basic block, 1x1-3x3-1x1 for the
bottleneck) and ``shortcut`` is one of three kinds of module (``SHORTCUT_MODULES``):

- ``"identity"``: ``x`` itself, where the block keeps its shape;
- ``"zero-pad"`` (option A where the shape changes): take every second pixel and pad the new
  channels with zeros (no parameters);
- ``"projection"`` (options B and C): a 1x1 convolution (+ BN);
- ``None``: no shortcut at all, the block of the *plain* net: ``out = activation(F(x))``.

Which kind each block gets is decided once, from the paper's options "A", "B", "C", "none",
in ``options.SHORTCUTS`` and ``layout.net_layout``. ``DenseBlock`` concatenates instead of
adding (DenseNet, Huang et al. 2017): ``out = concat(x, F(x))``, so every block's input reaches
every later block of its stage.

Each block class names its branch's layers in ``branch_layers`` (what the diagram prints) and
the modules whose outputs are its layers' responses in ``response_modules`` (Fig. 7).

Every activation is its own non-inplace module and the addition is not in place, so that
forward/backward hooks and captum see every step of the computation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_choice
from .options import ACTIVATIONS, NORMS

if TYPE_CHECKING:
    from .layout import BlockLayout

_ACTIVATION_CLASSES = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


class Layer(NamedTuple):
    """One layer of a block as the architecture diagram labels it ("3×3, 16, /2")."""

    kernel: int
    filters: int
    stride: int = 1
    kind: str = "conv"  # or "avg pool", "max pool"


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias (BN supplies the bias)."""
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution, used by bottlenecks and projection shortcuts."""
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


def make_norm(norm: str, channels: int) -> nn.Module:
    """Batch normalization, or an identity when ``norm="none"`` (same module names either way)."""
    check_choice("norm", norm, NORMS)
    return nn.BatchNorm2d(channels) if norm == "batch" else nn.Identity()


def make_activation(activation: str) -> nn.Module:
    """A fresh, non-inplace activation module (never shared between uses)."""
    check_choice("activation", activation, ACTIVATIONS)
    return _ACTIVATION_CLASSES[activation]()


class ZeroPadShortcut(nn.Module):
    """Option A: identity that subsamples and appends zero channels where the shape grows.

    Adds no parameters, which is why the paper can compare plain and residual nets of
    exactly the same size.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(
                f"option A cannot shrink channels ({in_channels} -> {out_channels}); use option B or C"
            )
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        extra = self.out_channels - self.in_channels
        if extra:
            x = F.pad(x, (0, 0, 0, 0, 0, extra))
        return x

    def extra_repr(self) -> str:
        return f"{self.in_channels}->{self.out_channels}, stride={self.stride}"


class IdentityShortcut(nn.Module):
    """The parameter-free shortcut ``x -> x`` where input and output shapes match."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class ProjectionShortcut(nn.Module):
    """Options B and C: a 1x1 convolution (with stride) and normalization, ``W_s x`` in Eq. 2."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, norm: str):
        super().__init__()
        self.conv = conv1x1(in_channels, out_channels, stride)
        self.bn = make_norm(norm, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


def _identity(in_channels: int, out_channels: int, stride: int, norm: str) -> IdentityShortcut:
    if stride != 1 or in_channels != out_channels:
        raise ValueError(f"an identity shortcut cannot change the shape ({in_channels} -> "
                         f"{out_channels} channels, stride {stride}); use 'zero-pad' or 'projection'")
    return IdentityShortcut()


#: The module of each kind of shortcut (``options.SHORTCUT_KINDS`` that add), from
#: ``(in_channels, out_channels, stride, norm)``.
SHORTCUT_MODULES = {
    "identity": _identity,
    "zero-pad": lambda in_channels, out_channels, stride, norm: ZeroPadShortcut(in_channels, out_channels, stride),
    "projection": ProjectionShortcut,
}


def make_shortcut(
    kind: str | None, in_channels: int, out_channels: int, stride: int, norm: str
) -> nn.Module | None:
    """The shortcut module of one kind (``"identity"``, ``"zero-pad"``, ``"projection"``), or
    ``None`` for a plain block."""
    if kind is None:
        return None
    check_choice("shortcut kind", kind, SHORTCUT_MODULES)
    return SHORTCUT_MODULES[kind](in_channels, out_channels, stride, norm)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions (Fig. 2 / Fig. 5 left): conv-BN-act-conv-BN, (+ shortcut), act.

    ``shortcut`` is the kind of shortcut (see ``make_shortcut``), or ``None`` for a plain block.
    """

    expansion = 1
    #: Modules whose outputs are the "responses" of the block's 3x3 layers (Fig. 7):
    #: after BN, before the activation or the addition.
    response_modules = ("bn1", "bn2")

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        shortcut: str | None = "identity",
        norm: str = "batch",
        activation: str = "relu",
    ):
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = conv3x3(in_channels, channels, stride)
        self.bn1 = make_norm(norm, channels)
        self.act1 = make_activation(activation)
        self.conv2 = conv3x3(channels, out_channels)
        self.bn2 = make_norm(norm, out_channels)
        self.shortcut = make_shortcut(shortcut, in_channels, out_channels, stride, norm)
        self.act2 = make_activation(activation)

    @staticmethod
    def branch_layers(channels: int, stride: int = 1, stride_on: str = "1x1") -> tuple[Layer, ...]:
        """The branch's layers for ``channels`` filters (what the diagram prints; the same for
        every block class, so ``layout.net_layout`` can ask any of them)."""
        return (Layer(3, channels, stride), Layer(3, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        if self.shortcut is None:
            return self.act2(residual)
        return self.act2(residual + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 (reduce) - 3x3 - 1x1 (restore, 4x channels), for ResNet-50/101/152 (Fig. 5 right).

    ``stride_on="1x1"`` puts the stride-2 on the first 1x1 convolution, as in the paper;
    ``"3x3"`` puts it on the 3x3 convolution, as torchvision does ("ResNet v1.5"): same
    parameters, a few percent more multiply-adds.
    """

    expansion = 4
    response_modules = ("bn2",)

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        shortcut: str | None = "identity",
        norm: str = "batch",
        activation: str = "relu",
        stride_on: str = "1x1",
    ):
        super().__init__()
        out_channels = channels * self.expansion
        stride_1x1, stride_3x3 = (stride, 1) if stride_on == "1x1" else (1, stride)
        self.conv1 = conv1x1(in_channels, channels, stride_1x1)
        self.bn1 = make_norm(norm, channels)
        self.act1 = make_activation(activation)
        self.conv2 = conv3x3(channels, channels, stride_3x3)
        self.bn2 = make_norm(norm, channels)
        self.act2 = make_activation(activation)
        self.conv3 = conv1x1(channels, out_channels)
        self.bn3 = make_norm(norm, out_channels)
        self.shortcut = make_shortcut(shortcut, in_channels, out_channels, stride, norm)
        self.act3 = make_activation(activation)

    @staticmethod
    def branch_layers(channels: int, stride: int = 1, stride_on: str = "1x1") -> tuple[Layer, ...]:
        stride_1x1, stride_3x3 = (stride, 1) if stride_on == "1x1" else (1, stride)
        return (Layer(1, channels, stride_1x1), Layer(3, channels, stride_3x3),
                Layer(1, channels * Bottleneck.expansion))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.act2(self.bn2(self.conv2(out)))
        residual = self.bn3(self.conv3(out))
        if self.shortcut is None:
            return self.act3(residual)
        return self.act3(residual + self.shortcut(x))


class PreActBasicBlock(nn.Module):
    """Pre-activation basic block (He et al. 2016): BN-act-conv, twice, then a clean addition.

    Nothing follows the addition, so the identity path runs from block to block untouched.
    A projection shortcut reads the pre-activated input, as in the authors' code.
    """

    expansion = 1
    response_modules = ("conv1", "conv2")
    branch_layers = staticmethod(BasicBlock.branch_layers)

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        shortcut: str | None = "identity",
        norm: str = "batch",
        activation: str = "relu",
    ):
        super().__init__()
        out_channels = channels * self.expansion
        self.bn1 = make_norm(norm, in_channels)
        self.act1 = make_activation(activation)
        self.conv1 = conv3x3(in_channels, channels, stride)
        self.bn2 = make_norm(norm, channels)
        self.act2 = make_activation(activation)
        self.conv2 = conv3x3(channels, out_channels)
        self.shortcut = make_shortcut(shortcut, in_channels, out_channels, stride, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activated = self.act1(self.bn1(x))
        residual = self.conv2(self.act2(self.bn2(self.conv1(activated))))
        if self.shortcut is None:
            return residual
        shortcut_input = activated if isinstance(self.shortcut, ProjectionShortcut) else x
        return residual + self.shortcut(shortcut_input)


class PreActBottleneck(nn.Module):
    """Pre-activation bottleneck (He et al. 2016): (BN-act-conv) x3 with 1x1, 3x3, 1x1 convs."""

    expansion = 4
    response_modules = ("conv2",)
    branch_layers = staticmethod(Bottleneck.branch_layers)

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        shortcut: str | None = "identity",
        norm: str = "batch",
        activation: str = "relu",
        stride_on: str = "1x1",
    ):
        super().__init__()
        out_channels = channels * self.expansion
        stride_1x1, stride_3x3 = (stride, 1) if stride_on == "1x1" else (1, stride)
        self.bn1 = make_norm(norm, in_channels)
        self.act1 = make_activation(activation)
        self.conv1 = conv1x1(in_channels, channels, stride_1x1)
        self.bn2 = make_norm(norm, channels)
        self.act2 = make_activation(activation)
        self.conv2 = conv3x3(channels, channels, stride_3x3)
        self.bn3 = make_norm(norm, channels)
        self.act3 = make_activation(activation)
        self.conv3 = conv1x1(channels, out_channels)
        self.shortcut = make_shortcut(shortcut, in_channels, out_channels, stride, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activated = self.act1(self.bn1(x))
        out = self.conv1(activated)
        out = self.conv2(self.act2(self.bn2(out)))
        residual = self.conv3(self.act3(self.bn3(out)))
        if self.shortcut is None:
            return residual
        shortcut_input = activated if isinstance(self.shortcut, ProjectionShortcut) else x
        return residual + self.shortcut(shortcut_input)


class DenseBlock(nn.Module):
    """Concatenate instead of add: ``out = concat(x, F(x))`` with ``F`` two 3x3 convs.

    Where a residual block *adds* its ``F(x)`` to ``x`` (same width in and out), a dense block
    *appends* ``growth`` new channels: later blocks see every earlier feature map unchanged,
    at the price of wider inputs, hence more multiply-adds and memory per block.
    """

    expansion = 1
    response_modules = ("bn1", "bn2")
    branch_layers = staticmethod(BasicBlock.branch_layers)

    def __init__(self, in_channels: int, growth: int, norm: str = "batch", activation: str = "relu"):
        super().__init__()
        self.conv1 = conv3x3(in_channels, growth)
        self.bn1 = make_norm(norm, growth)
        self.act1 = make_activation(activation)
        self.conv2 = conv3x3(growth, growth)
        self.bn2 = make_norm(norm, growth)
        self.act2 = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        new_features = self.act2(self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x))))))
        return torch.cat([x, new_features], dim=1)


class Transition(nn.Module):
    """Between dense stages: a 1x1 conv to the next stage's width, then 2x2 average pooling."""

    expansion = 1
    response_modules = ()

    def __init__(self, in_channels: int, out_channels: int, norm: str, activation: str):
        super().__init__()
        self.conv = conv1x1(in_channels, out_channels)
        self.bn = make_norm(norm, out_channels)
        self.act = make_activation(activation)
        self.pool = nn.AvgPool2d(2)

    @staticmethod
    def branch_layers(channels: int, stride: int = 2, stride_on: str = "1x1") -> tuple[Layer, ...]:
        return (Layer(1, channels), Layer(2, channels, 2, "avg pool"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.act(self.bn(self.conv(x))))


#: The class of each block type, as ``layout.BlockLayout.type`` and ``preact`` name it.
BLOCK_CLASSES: dict[tuple[str, bool], type[nn.Module]] = {
    ("basic", False): BasicBlock,
    ("basic", True): PreActBasicBlock,
    ("bottleneck", False): Bottleneck,
    ("bottleneck", True): PreActBottleneck,
    ("dense", False): DenseBlock,
    ("transition", False): Transition,
}


def make_block(block: BlockLayout, norm: str, activation: str, bottleneck_stride: str = "1x1") -> nn.Module:
    """The module of one block of a ``layout.NetLayout``."""
    block_class = BLOCK_CLASSES[(block.type, block.preact)]
    if block.type == "dense":
        return block_class(block.in_channels, block.channels, norm, activation)
    if block.type == "transition":
        return block_class(block.in_channels, block.out_channels, norm, activation)
    options = {"stride_on": bottleneck_stride} if block.type == "bottleneck" else {}
    return block_class(block.in_channels, block.channels, block.stride, block.shortcut, norm, activation,
                       **options)
