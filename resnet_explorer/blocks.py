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

**He et al. 2016 ("Identity Mappings in Deep Residual Networks").** A residual unit is
``y_l = h(x_l) + F(x_l)``, ``x_{l+1} = f(y_l)`` (Eq. 1-2). When the shortcut ``h`` and the
after-addition ``f`` are both identities, ``x_{l+1} = x_l + F(x_l)``, and unrolled from any
block ``l`` to any deeper block ``L``::

    x_L = x_l + sum_{i=l}^{L-1} F(x_i)                                     (Eq. 4)
    dE/dx_l = dE/dx_L * (1 + d/dx_l sum_{i=l}^{L-1} F(x_i))                (Eq. 5)

The "1" carries the gradient of the loss ``E`` straight from block ``L`` to block ``l``. With a
shortcut ``h(x) = lambda * x`` instead, Eq. 4 becomes ``x_L = (prod lambda_i) x_l + ...`` and the
"1" of Eq. 5 becomes ``prod_{i=l}^{L-1} lambda_i`` (Eq. 7): ``0.5 ** 54`` over ResNet-110's 54
blocks, about 5e-17, so the direct path vanishes; a factor above 1 would make it explode. Each
block's ``addition`` module computes ``y_l`` for one row of the paper's Table 1 (``ADDITIONS``:
constant scaling, gates, dropout on the shortcut); ``"conv1x1"`` shortcuts are its Fig. 2(e).
The post-activation blocks put their layers in any order of the paper's Fig. 4 (``ORDERS``);
full pre-activation is ``PreActBasicBlock`` / ``PreActBottleneck``. ``StochasticDepth`` drops a
block's branch at random while training (Huang et al. 2016).

Every activation is its own non-inplace module and the addition is not in place, so that
forward/backward hooks and captum see every step of the computation.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_choice
from .options import ACTIVATIONS, CONSTANT_SCALE, GATE_BIAS, NORMS, SHORTCUT_DROPOUT

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


class ConvShortcut(nn.Module):
    """He 2016, Fig. 2(e): a 1x1 convolution in place of the identity, ``h(x) = W x`` (no BN).

    Unlike the projections of options B and C, nothing normalizes it: it is the paper's "1x1
    conv" on the shortcut, whose factor ``W`` multiplies up over the blocks like a scale does.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv = conv1x1(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


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
    "conv1x1": lambda in_channels, out_channels, stride, norm: ConvShortcut(in_channels, out_channels, stride),
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


# ---- the addition y = h(x) + F(x), and what He 2016 (Table 1) multiplies into it -------------

class Addition(nn.Module):
    """``y = h(x) + F(x)``: the original unit's addition (He 2016, Fig. 2(a)), no parameters.

    Every addition module takes ``(x, residual, shortcut)``: the block's input ``x``, the
    branch's output ``F(x)`` and the shortcut's output ``h(x)``.
    """

    def forward(self, x: torch.Tensor, residual: torch.Tensor, shortcut: torch.Tensor) -> torch.Tensor:
        return residual + shortcut


class ScaledAddition(nn.Module):
    """Constant scaling (He 2016, Fig. 2(b)): ``y = lambda_h * h(x) + lambda_F * F(x)``.

    ``lambda_h = 0.5`` alone "fails" in the paper (Table 1); with ``lambda_F = 0.5`` as well (a
    "frozen gate") ResNet-110 reaches 12.35%, against 6.61% for the identity. By Eq. 7 the
    shortcut's factor multiplies up: ``0.5 ** k`` after ``k`` blocks.
    """

    def __init__(self, shortcut_scale: float = 1.0, branch_scale: float = 1.0):
        super().__init__()
        self.shortcut_scale, self.branch_scale = shortcut_scale, branch_scale

    def forward(self, x: torch.Tensor, residual: torch.Tensor, shortcut: torch.Tensor) -> torch.Tensor:
        return self.branch_scale * residual + self.shortcut_scale * shortcut

    def extra_repr(self) -> str:
        return f"shortcut_scale={self.shortcut_scale}, branch_scale={self.branch_scale}"


class Gate(nn.Module):
    """``g(x) = sigmoid(W_g x + b_g)``, element-wise, with ``W_g`` a 1x1 convolution (He 2016,
    Section 3.1). ``b_g`` starts at ``bias`` (-6, the paper's best: ``1 - g(x)`` starts near 1)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, bias: float = GATE_BIAS):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=True)
        self.initial_bias = bias
        self.reset_bias()

    def reset_bias(self) -> None:
        """Set ``b_g`` to its initial value (``models.initialize`` calls it after zeroing biases)."""
        nn.init.constant_(self.conv.bias, self.initial_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv(x))


class GatedAddition(nn.Module):
    """Gating (He 2016): exclusive, ``y = (1 - g(x)) h(x) + g(x) F(x)`` (Fig. 2(c), as in
    Highway networks), or shortcut-only, ``y = (1 - g(x)) h(x) + F(x)`` (Fig. 2(d)).

    Adds ``in * out + out`` parameters per block (the gate's 1x1 conv and its bias).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, exclusive: bool):
        super().__init__()
        self.gate = Gate(in_channels, out_channels, stride)
        self.exclusive = exclusive

    def forward(self, x: torch.Tensor, residual: torch.Tensor, shortcut: torch.Tensor) -> torch.Tensor:
        gate = self.gate(x)
        branch = gate * residual if self.exclusive else residual
        return branch + (1 - gate) * shortcut

    def extra_repr(self) -> str:
        return "exclusive" if self.exclusive else "shortcut-only"


class DropoutAddition(nn.Module):
    """Dropout on the shortcut (He 2016, Fig. 2(f)): ``y = dropout(h(x)) + F(x)``, ratio 0.5.

    As the paper describes it, dropout "statistically imposes a scale of lambda with an
    expectation of 0.5 on the shortcut": each element of ``h(x)`` is kept with probability 0.5
    while training, and multiplied by 0.5 at test time. (``nn.Dropout`` would instead double the
    kept elements while training, an expectation of 1.)
    """

    def __init__(self, ratio: float = SHORTCUT_DROPOUT):
        super().__init__()
        self.ratio = ratio

    def forward(self, x: torch.Tensor, residual: torch.Tensor, shortcut: torch.Tensor) -> torch.Tensor:
        keep = 1 - self.ratio
        if self.training:
            return residual + shortcut * torch.bernoulli(torch.full_like(shortcut, keep))
        return residual + keep * shortcut

    def extra_repr(self) -> str:
        return f"ratio={self.ratio}"


#: The addition module of each shortcut variant (``options.SHORTCUT_VARIANTS``), from
#: ``(in_channels, out_channels, stride)``. The 1x1 conv variant changes the shortcut instead.
ADDITIONS = {
    "original": lambda in_channels, out_channels, stride: Addition(),
    "scale_shortcut": lambda in_channels, out_channels, stride: ScaledAddition(shortcut_scale=CONSTANT_SCALE),
    "scale_branch": lambda in_channels, out_channels, stride: ScaledAddition(branch_scale=CONSTANT_SCALE),
    "scale_both": lambda in_channels, out_channels, stride: ScaledAddition(CONSTANT_SCALE, CONSTANT_SCALE),
    "exclusive_gate": partial(GatedAddition, exclusive=True),
    "shortcut_gate": partial(GatedAddition, exclusive=False),
    "conv_shortcut": lambda in_channels, out_channels, stride: Addition(),
    "dropout_shortcut": lambda in_channels, out_channels, stride: DropoutAddition(),
}


class StochasticDepth(nn.Module):
    """Huang et al. 2016: while training, keep the branch with probability ``survival`` (one draw
    per mini-batch), else drop it, so the block is its shortcut: ``y = h(x) + b F(x)``,
    ``b ~ Bernoulli(survival)``. At test time ``y = h(x) + survival * F(x)`` (their Eq. 5).

    The branch is computed and multiplied by 0 rather than skipped, so every layer's hooks (and
    the probes) see every block; Huang et al. skip it, which saves training time.
    """

    def __init__(self, survival: float):
        super().__init__()
        self.survival = survival

    def forward(self, residual: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self.survival * residual
        kept = bool(torch.rand(()) < self.survival)  # the CPU generator: seeded by torch.manual_seed
        return residual if kept else residual * 0

    def extra_repr(self) -> str:
        return f"survival={self.survival:.3f}"


class ResidualUnit(nn.Module):
    """What every residual (or plain) block shares: ``x_{l+1} = f(h(x_l) + F(x_l))`` (He 2016, Eq. 1-2).

    A subclass makes its layers and its ``shortcut`` (``None`` for a plain block), then calls
    ``_join``, which adds the ``addition`` of its shortcut variant and, with stochastic depth,
    its ``stochastic_depth``. ``ORDERS`` names, for each activation order of the paper's Fig. 4,
    the modules of the branch ``F`` in order and those of ``f`` after the addition.
    """

    ORDERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    #: The convolutions whose responses are Fig. 7's layers (the 3x3 ones).
    RESPONSE_CONVS: tuple[str, ...] = ()

    def _join(self, order: str, variant: str, survival: float, in_channels: int, out_channels: int,
              stride: int) -> None:
        check_choice("activation order", order, self.ORDERS)
        check_choice("shortcut variant", variant, ADDITIONS)
        self.order = order
        self.branch_modules, self.after_addition = self.ORDERS[order]
        self.addition = None if self.shortcut is None else ADDITIONS[variant](in_channels, out_channels, stride)
        self.stochastic_depth = StochasticDepth(survival) if survival < 1 else None

    @property
    def branch_output(self) -> str:
        """The module whose output is the branch ``F(x)``, just before the addition: what a lesion
        study zeroes to leave the block its shortcut alone (Veit et al. 2016), in any order."""
        return self.branch_modules[-1]

    @property
    def response_modules(self) -> tuple[str, ...]:
        """Modules whose outputs are the responses of the block's 3x3 layers (Fig. 7): after the
        conv's own BN (``conv2`` -> ``bn2``), before the activation or the addition; the conv
        itself where its BN does not follow it in the branch (pre-activation, BN after addition)."""
        names = self.branch_modules
        following = dict(zip(names, names[1:]))
        return tuple(following.get(name) if following.get(name) == name.replace("conv", "bn") else name
                     for name in names if name in self.RESPONSE_CONVS)

    def _run(self, names: tuple[str, ...], x: torch.Tensor) -> torch.Tensor:
        for name in names:
            x = getattr(self, name)(x)
        return x

    def _add(self, x: torch.Tensor, residual: torch.Tensor, shortcut: torch.Tensor) -> torch.Tensor:
        """``y = h(x) + F(x)`` as the shortcut variant computes it, after stochastic depth's drop."""
        if self.stochastic_depth is not None:
            residual = self.stochastic_depth(residual)
        return self.addition(x, residual, shortcut)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self._run(self.branch_modules, x)
        if self.shortcut is not None:
            out = self._add(x, out, self.shortcut(x))
        return self._run(self.after_addition, out)


class BasicBlock(ResidualUnit):
    """Two 3x3 convolutions (Fig. 2 / Fig. 5 left): conv-BN-act-conv-BN, (+ shortcut), act.

    ``shortcut`` is the kind of shortcut (see ``make_shortcut``), or ``None`` for a plain block.
    ``order`` places the same layers as one of He 2016's Fig. 4 units (``ORDERS``), ``variant``
    picks the addition of Fig. 2 (``ADDITIONS``), ``survival`` < 1 adds stochastic depth.
    """

    expansion = 1
    ORDERS = {  # He 2016, Fig. 4: (the branch F, then f after the addition)
        "original": (("conv1", "bn1", "act1", "conv2", "bn2"), ("act2",)),
        "bn_after_add": (("conv1", "bn1", "act1", "conv2"), ("bn2", "act2")),
        "relu_before_add": (("conv1", "bn1", "act1", "conv2", "bn2", "act2"), ()),
        "relu_preact": (("act1", "conv1", "bn1", "act2", "conv2", "bn2"), ()),
    }
    RESPONSE_CONVS = ("conv1", "conv2")

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        shortcut: str | None = "identity",
        norm: str = "batch",
        activation: str = "relu",
        *,
        order: str = "original",
        variant: str = "original",
        survival: float = 1.0,
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
        self._join(order, variant, survival, in_channels, out_channels, stride)

    @staticmethod
    def branch_layers(channels: int, stride: int = 1, stride_on: str = "1x1") -> tuple[Layer, ...]:
        """The branch's layers for ``channels`` filters (what the diagram prints; the same for
        every block class, so ``layout.net_layout`` can ask any of them)."""
        return (Layer(3, channels, stride), Layer(3, channels))


class Bottleneck(ResidualUnit):
    """1x1 (reduce) - 3x3 - 1x1 (restore, 4x channels), for ResNet-50/101/152 (Fig. 5 right).

    ``stride_on="1x1"`` puts the stride-2 on the first 1x1 convolution, as in the paper;
    ``"3x3"`` puts it on the 3x3 convolution, as torchvision does ("ResNet v1.5"): same
    parameters, a few percent more multiply-adds. ``order``, ``variant``, ``survival``: as in
    ``BasicBlock``.
    """

    expansion = 4
    ORDERS = {  # He 2016, Fig. 4, with a third convolution
        "original": (("conv1", "bn1", "act1", "conv2", "bn2", "act2", "conv3", "bn3"), ("act3",)),
        "bn_after_add": (("conv1", "bn1", "act1", "conv2", "bn2", "act2", "conv3"), ("bn3", "act3")),
        "relu_before_add": (("conv1", "bn1", "act1", "conv2", "bn2", "act2", "conv3", "bn3", "act3"), ()),
        "relu_preact": (("act1", "conv1", "bn1", "act2", "conv2", "bn2", "act3", "conv3", "bn3"), ()),
    }
    RESPONSE_CONVS = ("conv2",)

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        shortcut: str | None = "identity",
        norm: str = "batch",
        activation: str = "relu",
        stride_on: str = "1x1",
        *,
        order: str = "original",
        variant: str = "original",
        survival: float = 1.0,
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
        self._join(order, variant, survival, in_channels, out_channels, stride)

    @staticmethod
    def branch_layers(channels: int, stride: int = 1, stride_on: str = "1x1") -> tuple[Layer, ...]:
        stride_1x1, stride_3x3 = (stride, 1) if stride_on == "1x1" else (1, stride)
        return (Layer(1, channels, stride_1x1), Layer(3, channels, stride_3x3),
                Layer(1, channels * Bottleneck.expansion))


class PreActBasicBlock(ResidualUnit):
    """Pre-activation basic block (He et al. 2016, Fig. 4(e)): BN-act-conv, twice, then a clean
    addition: ``x_{l+1} = x_l + F(x_l)``, Eq. 4 and 5 exactly.

    Nothing follows the addition, so the identity path runs from block to block untouched.
    A projection shortcut reads the pre-activated input, as in the authors' code.
    """

    expansion = 1
    ORDERS = {"full_preact": (("bn1", "act1", "conv1", "bn2", "act2", "conv2"), ())}
    RESPONSE_CONVS = ("conv1", "conv2")
    branch_layers = staticmethod(BasicBlock.branch_layers)

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        shortcut: str | None = "identity",
        norm: str = "batch",
        activation: str = "relu",
        *,
        order: str = "full_preact",
        variant: str = "original",
        survival: float = 1.0,
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
        self._join(order, variant, survival, in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activated = self.act1(self.bn1(x))
        residual = self.conv2(self.act2(self.bn2(self.conv1(activated))))
        if self.shortcut is None:
            return residual
        shortcut_input = activated if isinstance(self.shortcut, ProjectionShortcut) else x
        return self._add(x, residual, self.shortcut(shortcut_input))


class PreActBottleneck(ResidualUnit):
    """Pre-activation bottleneck (He et al. 2016): (BN-act-conv) x3 with 1x1, 3x3, 1x1 convs."""

    expansion = 4
    ORDERS = {"full_preact": (("bn1", "act1", "conv1", "bn2", "act2", "conv2", "bn3", "act3", "conv3"), ())}
    RESPONSE_CONVS = ("conv2",)
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
        *,
        order: str = "full_preact",
        variant: str = "original",
        survival: float = 1.0,
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
        self._join(order, variant, survival, in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activated = self.act1(self.bn1(x))
        out = self.conv1(activated)
        out = self.conv2(self.act2(self.bn2(out)))
        residual = self.conv3(self.act3(self.bn3(out)))
        if self.shortcut is None:
            return residual
        shortcut_input = activated if isinstance(self.shortcut, ProjectionShortcut) else x
        return self._add(x, residual, self.shortcut(shortcut_input))


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
                       order=block.order, variant=block.variant, survival=block.survival, **options)
