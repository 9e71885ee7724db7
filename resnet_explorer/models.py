"""ResNets and their plain twins, as in He et al. 2015 ("Deep Residual Learning").

Two families:

- ``"cifar"`` (Section 4.2): a 3x3 conv with 16 filters, three stages of ``n`` basic
  blocks with 16, 32 and 64 filters on 32x32, 16x16 and 8x8 maps, global average pooling,
  a fully connected layer: ``6n + 2`` weighted layers (20, 32, 44, 56, 110, 1202, ...).
- ``"imagenet"`` (Table 1): a 7x7 conv and max pooling, then four stages; ResNet-18/34
  use basic blocks, ResNet-50/101/152 bottleneck blocks.

``shortcut="none"`` gives the plain twin: the same layers, no shortcuts.
``shortcut="dense"`` (cifar family) concatenates instead of adding, as DenseNet does.

He et al. 2016 ("Identity Mappings in Deep Residual Networks") asks what else the shortcut
could be: ``shortcut_variant`` builds the rows of its Table 1 (constant scaling, gates, a 1x1
conv, dropout on the shortcut), ``activation_order`` the units of its Fig. 4 (BN after the
addition, ReLU before it, ReLU-only and full pre-activation), and ``stochastic_depth`` drops
whole branches at random while training (Huang et al. 2016). The reason the identity wins is
one line of algebra (``blocks`` says it in full): with ``x_{l+1} = x_l + F(x_l)``,
``x_L = x_l + sum_i F(x_i)`` and ``dE/dx_l = dE/dx_L (1 + d/dx_l sum_i F(x_i))``; any factor on
the shortcut multiplies into that "1", block after block.

Example::

    import resnet_explorer as rx
    model = rx.build_model(56, shortcut="A")            # ResNet-56, 853,018 parameters
    plain = rx.build_model(56, shortcut="none")         # plain-56, same size
    gated = rx.build_model(110, shortcut_variant="shortcut_gate", stochastic_depth=0.5)
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from .blocks import Gate, make_activation, make_block, make_norm
from .checks import check_positive_number
from .device import default_device
from .layout import NetLayout, StemLayout, net_layout
from .options import (
    ACTIVATION_ORDER_NAMES,
    ACTIVATION_ORDERS,
    ACTIVATIONS,
    BOTTLENECK_STRIDES,
    FAMILIES,
    IMAGENET_STAGES,
    INITS,
    NORMS,
    SHORTCUT_OPTIONS,
    SHORTCUT_VARIANT_NAMES,
    SHORTCUT_VARIANTS,
    SHORTCUTS,
    cifar_blocks_per_stage,
    is_cifar_depth,
    nearest_cifar_depths,
)

#: What a net's name adds, after its depth and shortcut, for each choice other than the default
#: (the defaults add nothing); family, width, classes and input channels it leaves out.
NAME_TAGS = {
    "preact": {True: "pre-act"},
    "shortcut_variant": {variant.name: variant.tag for variant in SHORTCUT_VARIANTS.values() if variant.tag},
    "activation_order": {order.name: order.tag for order in ACTIVATION_ORDERS.values() if order.tag},
    "norm": {"none": "no BN"},
    "activation": {activation: activation for activation in ACTIVATIONS if activation != "relu"},
    "init": {init: f"{init} init" for init in INITS if init != "kaiming"},
}


#: How a name states stochastic depth: "ResNet-110 (A), stochastic depth 0.5" (p_L, Huang et al. 2016).
STOCHASTIC_DEPTH_TAG = "stochastic depth {!r}"
STOCHASTIC_DEPTH_PATTERN = re.compile(r"stochastic\s*depth\s+([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)", re.IGNORECASE)

#: The longest net name ``arguments_from_name`` reads (the longest real one has about 50).
MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class ModelConfig:
    """Everything that defines an architecture; ``build_model`` takes the same arguments.

    ``layout`` is the net's stages and blocks, worked out once (``layout.net_layout``);
    ``name`` a short label ("ResNet-56 (A)"), and ``from_name`` its inverse.
    """

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
    shortcut_variant: str = "original"  # He 2016, Fig. 2 / Table 1
    activation_order: str = "original"  # He 2016, Fig. 4; "full_preact" is preact=True
    stochastic_depth: float | None = None  # p_L, the last block's survival probability (Huang et al. 2016)
    stage_blocks: tuple[int, ...] = field(init=False)
    block_type: str = field(init=False)

    def __post_init__(self) -> None:
        _agree_on_preact(self)
        validate_options(self)
        if self.stochastic_depth is not None:  # a plain float, so that names and JSON read it back
            object.__setattr__(self, "stochastic_depth", float(self.stochastic_depth))
        if self.family == "cifar":
            block_type, stage_blocks = "basic", (cifar_blocks_per_stage(self.depth),) * 3
        else:
            block_type, stage_blocks = IMAGENET_STAGES[self.depth]
        default_width = 16 if self.family == "cifar" else 64
        object.__setattr__(self, "width", self.width or default_width)
        object.__setattr__(self, "block_type", block_type)
        object.__setattr__(self, "stage_blocks", stage_blocks)

    @property
    def layout(self) -> NetLayout:
        """The net's stem, stages and blocks (strides, widths, shortcut kinds): what
        ``ResNet`` builds and the architecture diagram draws."""
        return net_layout(self)

    @property
    def name(self) -> str:
        """A short label a student can read, e.g. ``"ResNet-56 (A)"`` or ``"plain-20"``.

        It states the depth, the shortcut option and each choice that differs from the
        default (``"ResNet-32 (B), pre-act, no BN, tanh, xavier init"``); ``from_name`` reads it back.
        """
        base = SHORTCUTS[self.shortcut].net_name.format(depth=self.depth, name=self.shortcut)
        tags = [tag for tag, what, value in _name_tags() if getattr(self, what) == value]
        if self.stochastic_depth is not None:
            tags.append(STOCHASTIC_DEPTH_TAG.format(self.stochastic_depth))
        return ", ".join([base, *tags])

    @classmethod
    def from_name(cls, name: str, **fields) -> ModelConfig:
        """The config a name describes: the inverse of ``ModelConfig.name``.

        What a name does not state (family, width, num_classes, in_channels,
        bottleneck_stride) comes from ``fields``, else the defaults:
        ``ModelConfig.from_name("ResNet-50 (B)", family="imagenet", num_classes=1000)``.
        See ``arguments_from_name`` for the names it reads.
        """
        stated = arguments_from_name(name, **fields)
        repeated = sorted(set(stated) & set(fields))
        if repeated:
            raise ValueError(f"the name {name!r} already states {', '.join(repeated)}; "
                             "pass only what a name leaves out (family, width, num_classes, ...)")
        return cls(**stated, **fields)

    def as_dict(self) -> dict:
        """The arguments of ``build_model`` that rebuild this architecture.

        The He 2016 options are left out where they change nothing (the original shortcut and
        order; full pre-activation, which ``preact=True`` already says; no stochastic depth), so
        that the run cache's keys and saved configs of the nets made before them stay the same.
        """
        values = asdict(self)
        del values["stage_blocks"], values["block_type"]
        for name, unchanged in (("shortcut_variant", ("original",)), ("activation_order", ("original", "full_preact")),
                                ("stochastic_depth", (None,))):
            if values[name] in unchanged:
                del values[name]
        return values


def _agree_on_preact(config: ModelConfig) -> None:
    """``preact=True`` and ``activation_order="full_preact"`` are one choice: set both, or refuse
    ``preact=True`` with another order."""
    if config.preact is not True and config.preact is not False:
        raise _choice_error("preact", config.preact, (True, False))
    if config.activation_order not in ACTIVATION_ORDERS:
        raise _choice_error("activation_order", config.activation_order, ACTIVATION_ORDER_NAMES)
    if config.activation_order == "full_preact":
        object.__setattr__(config, "preact", True)
    elif config.preact and config.activation_order == "original":
        object.__setattr__(config, "activation_order", "full_preact")
    elif config.preact:
        raise ValueError(f"preact=True is activation_order='full_preact' (He 2016, Fig. 4(e)); it cannot "
                         f"also be {config.activation_order!r}: pass one of them")


def _name_tags() -> list[tuple[str, str, object]]:
    """``(tag, field, value)`` for every tag of ``NAME_TAGS``, in the order names list them."""
    return [(tag, what, value) for what, tags in NAME_TAGS.items() for value, tag in tags.items()]


def _name_pattern(template: str) -> re.Pattern:
    """A case-insensitive pattern for one option's ``net_name``, its depth in a group; spaces optional."""
    parts = [re.escape(part) for part in template.split("{depth}")]
    pattern = r"(\d+)".join(parts).replace(r"\ ", r"\s*")
    return re.compile(pattern, re.IGNORECASE)


def arguments_from_name(name: str, **fields) -> dict:
    """The ``build_model`` arguments a net's name states: ``"plain-56"`` -> ``{"depth": 56,
    "shortcut": "none"}``, ``"ResNet-56 (B), no BN"`` -> ``{..., "shortcut": "B", "norm": "none"}``.

    Names are ``ModelConfig.name``s: ``"plain-20"``, ``"ResNet-56 (A)"`` (any shortcut option
    in the parentheses), ``"dense-20"``, then, after commas, any of the tags ``name`` adds
    (``"pre-act"``, ``"no BN"``, ``"tanh"``, ``"xavier init"``, ...). Case and spaces do not
    matter, and ``"ResNet-56"`` without an option means option A, as in the paper's CIFAR-10
    nets. The arguments are checked (with ``fields``, e.g. ``family="imagenet"``) as
    ``build_model`` checks them; a name that cannot be read raises a ``ValueError`` that says
    how to write one.
    """
    if not isinstance(name, str):
        raise TypeError(f"a net's name is text such as 'plain-20' or 'ResNet-56 (A)', not {name!r}")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"a net's name is at most {MAX_NAME_LENGTH} characters ('plain-20', "
                         f"'ResNet-56 (B), pre-act, no BN'); got one of {len(name)}")
    base, *tags = (part.strip() for part in name.split(","))
    arguments = _read_base(name, base)
    by_tag = {tag.lower(): (what, value) for tag, what, value in _name_tags()}
    for tag in tags:
        stochastic = STOCHASTIC_DEPTH_PATTERN.fullmatch(tag)
        if stochastic and "stochastic_depth" not in arguments:
            arguments["stochastic_depth"] = float(stochastic[1])
            continue
        if tag.lower() not in by_tag:
            raise ValueError(f"{tag!r} in the net name {name!r} is not understood; after a comma a name "
                             f"may say {', '.join(repr(t) for t, _, _ in _name_tags())} or "
                             f"{STOCHASTIC_DEPTH_TAG.format(0.5)!r}")
        what, value = by_tag[tag.lower()]
        if what in arguments:
            raise ValueError(f"the net name {name!r} states {what} twice")
        arguments[what] = value
    try:
        ModelConfig(**{**fields, **arguments})
    except ValueError as error:
        hint = ""
        if arguments["depth"] in IMAGENET_STAGES and "family" not in fields:
            hint = "; for the ImageNet net pass family='imagenet'"
        raise ValueError(f"{error}{hint}") from None
    return arguments


def _read_base(name: str, base: str) -> dict:
    """Depth and shortcut option from the first part of a name ("ResNet-56 (A)")."""
    for option in SHORTCUTS.values():
        template = option.net_name.replace("{name}", option.name)
        match = _name_pattern(template).fullmatch(base)
        if match:
            return {"depth": int(match[1]), "shortcut": option.name}
    default = ModelConfig.__dataclass_fields__["shortcut"].default
    match = _name_pattern("ResNet-{depth}").fullmatch(base)
    if match:
        return {"depth": int(match[1]), "shortcut": default}
    residual = [option.name for option in SHORTCUTS.values() if "{name}" in option.net_name]
    others = [option.net_name.format(depth=20) for option in SHORTCUTS.values() if "{name}" not in option.net_name]
    raise ValueError(
        f"the net name {name!r} is not understood; write it as {others[0]!r} or 'ResNet-56 ({default})' "
        f"(shortcut {', '.join(residual[:-1])} or {residual[-1]})"
        + "".join(f" or {other!r}" for other in others[1:])
        + ", then any of ', pre-act', ', no BN', ', tanh', ', xavier init'")


def _choice_error(what: str, value, allowed) -> ValueError:
    allowed_text = ", ".join(str(a) for a in allowed)
    return ValueError(f"unknown {what} {value!r}; allowed: {allowed_text}")


def validate_options(config: ModelConfig) -> None:
    """Raise ``ValueError`` with what was wrong and what is allowed."""
    for what, value, allowed in (
        ("family", config.family, FAMILIES),
        ("shortcut", config.shortcut, SHORTCUT_OPTIONS),
        ("norm", config.norm, NORMS),
        ("activation", config.activation, ACTIVATIONS),
        ("init", config.init, INITS),
        ("bottleneck_stride", config.bottleneck_stride, BOTTLENECK_STRIDES),
        ("shortcut_variant", config.shortcut_variant, SHORTCUT_VARIANT_NAMES),
    ):
        if value not in allowed:
            raise _choice_error(what, value, allowed)
    if not isinstance(config.depth, int) or isinstance(config.depth, bool):
        raise ValueError(f"depth must be an integer, got {config.depth!r}")
    if config.family == "cifar" and not is_cifar_depth(config.depth):
        below, above = nearest_cifar_depths(config.depth)
        nearest = f"{below} and {above}" if below != above else f"{below}"
        raise ValueError(
            f"depth {config.depth} is not 6n+2 (n >= 1) for the CIFAR family; "
            f"nearest valid depths are {nearest}"
        )
    option = SHORTCUTS[config.shortcut]
    if config.family not in option.families or (config.preact and not option.allows_preact):
        families = " or ".join(f'family="{family}"' for family in option.families)
        preact = "" if option.allows_preact else " without preact"
        raise ValueError(f'shortcut="{option.name}" is available for {families}{preact} only')
    if config.family == "imagenet" and config.depth not in IMAGENET_STAGES:
        allowed = ", ".join(str(d) for d in IMAGENET_STAGES)
        raise ValueError(f"ImageNet depth {config.depth} is not one of {allowed}")
    for what, value in (("num_classes", config.num_classes), ("in_channels", config.in_channels)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{what} must be a positive integer, got {value!r}")
    if config.width is not None and (not isinstance(config.width, int) or isinstance(config.width, bool)
                                     or config.width < 1):
        raise ValueError(f"width must be a positive integer, got {config.width!r}")
    _validate_identity_mapping_options(config)


def _validate_identity_mapping_options(config: ModelConfig) -> None:
    """The He 2016 and stochastic-depth options: their values, and the combinations that make no sense."""
    option = SHORTCUTS[config.shortcut]
    residual = option.same_shape is not None and not option.concatenates
    what_net = "a plain net (shortcut='none')" if option.same_shape is None else f"a {option.name} net"
    residual_options = "shortcut 'A', 'B' or 'C'"
    if config.shortcut_variant != "original" and not residual:
        raise ValueError(f"shortcut_variant={config.shortcut_variant!r} changes what a residual block adds "
                         f"on its shortcut, and {what_net} has no such addition; use {residual_options}")
    order = ACTIVATION_ORDERS[config.activation_order]
    if order.residual_only and not residual:
        raise ValueError(f"activation_order={order.name!r} places BN and ReLU around the addition of a "
                         f"residual block (He 2016, Fig. 4), and {what_net} has no addition; use "
                         f"{residual_options}, or the order 'original' or 'full_preact'")
    if order.name == "bn_after_add" and config.norm == "none":
        raise ValueError("activation_order='bn_after_add' moves BN after the addition, but norm='none' "
                         "has no BN to move; use norm='batch'")
    identity_kind = SHORTCUT_VARIANTS[config.shortcut_variant].identity_kind
    if identity_kind and option.same_shape != "identity":
        raise ValueError(f"shortcut_variant={config.shortcut_variant!r} replaces identity shortcuts with "
                         f"1x1 convolutions (He 2016, Fig. 2(e)), but shortcut={option.name!r} has no "
                         "identity shortcuts (its projections are 1x1 convolutions already); use "
                         "shortcut 'A' or 'B'")
    if config.stochastic_depth is not None:
        p_last = config.stochastic_depth
        if isinstance(p_last, bool):
            raise ValueError(f"stochastic_depth is the survival probability p_L of the last block, a number "
                             f"between 0 and 1 (Huang et al. 2016 use 0.5), or None; got {p_last!r}")
        try:
            check_positive_number("stochastic_depth (p_L, the last block's survival probability)", p_last,
                                  maximum=1)
        except ValueError as error:
            raise ValueError(f"{error}; Huang et al. 2016 use 0.5, and None turns stochastic depth off") from None
        if p_last == 1:
            raise ValueError("stochastic_depth=1 would keep every block always: that is no stochastic depth; "
                             "pass None, or a survival probability below 1 such as 0.5")
        if not residual:
            raise ValueError(f"stochastic depth drops a block's residual branch and keeps its shortcut "
                             f"(Huang et al. 2016), and {what_net} has no shortcut to keep: dropping a "
                             f"block would cut the net in two; use {residual_options}")


def make_stem(stem: StemLayout, in_channels: int, norm: str, activation: str) -> nn.Sequential:
    """The first layer(s): a 3x3 conv (cifar) or 7x7 conv + 3x3 max pool (imagenet).

    Pre-activation CIFAR nets start with a bare conv: the first block's BN-act follows it.
    """
    conv = stem.conv
    layers = [("conv", nn.Conv2d(in_channels, conv.filters, conv.kernel, stride=conv.stride,
                                 padding=conv.kernel // 2, bias=False))]
    if stem.normalized:
        layers += [("bn", make_norm(norm, conv.filters)), ("act", make_activation(activation))]
    if stem.pool is not None:
        layers.append(("pool", nn.MaxPool2d(stem.pool.kernel, stride=stem.pool.stride,
                                            padding=stem.pool.kernel // 2)))
    return nn.Sequential(OrderedDict(layers))


class ResNet(nn.Module):
    """A residual (or, with ``shortcut="none"``, plain) net: stem, stages of blocks, head.

    Module names follow the paper's words: ``stem``, ``stage1.block1.conv1``, ...,
    ``stage3.block9.shortcut``, ``pool``, ``fc``. ``model.config`` holds the architecture and
    ``model.config.layout`` the stages and blocks it is built from.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        layout = config.layout
        self.stem = make_stem(layout.stem, config.in_channels, config.norm, config.activation)
        for stage in layout.stages:
            blocks = [(block.name, make_block(block, config.norm, config.activation, config.bottleneck_stride))
                      for block in stage.blocks]
            self.add_module(stage.name, nn.Sequential(OrderedDict(blocks)))
        self.num_stages = len(layout.stages)

        # Pre-activation nets end with BN-act (ReLU-only pre-activation with act), since their
        # blocks end with a bare addition (He 2016, Section 4.1).
        features = layout.features
        self.final_bn = make_norm(config.norm, features) if layout.final_norm else nn.Identity()
        self.final_act = make_activation(config.activation) if layout.final_activation else nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(features, config.num_classes)
        initialize(self, config.init, config.activation)

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
    Gates (He 2016) start with their bias ``b_g`` whatever the init: it is part of the design.
    """
    if init != "default":
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
    for module in model.modules():
        if isinstance(module, Gate):
            module.reset_bias()


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
    shortcut_variant: str = "original",
    activation_order: str = "original",
    stochastic_depth: float | None = None,
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
        shortcut_variant: what multiplies the shortcut ``h`` and the branch ``F`` of every
            residual block, He 2016's Fig. 2 / Table 1 (``options.SHORTCUT_VARIANTS``):
            ``"original"`` (``h(x) + F(x)``), ``"scale_shortcut"`` (``0.5 h(x) + F(x)``),
            ``"scale_branch"`` (``h(x) + 0.5 F(x)``), ``"scale_both"`` (``0.5 h + 0.5 F``),
            ``"exclusive_gate"`` (``(1 - g) h + g F``), ``"shortcut_gate"`` (``(1 - g) h + F``),
            with ``g(x) = sigmoid(W_g x + b_g)``, ``b_g`` starting at -6), ``"conv_shortcut"`` (a
            1x1 conv in place of each identity shortcut), ``"dropout_shortcut"`` (dropout 0.5 on
            ``h``). Residual nets only.
        activation_order: where BN and ReLU sit around the addition, He 2016's Fig. 4
            (``options.ACTIVATION_ORDERS``): ``"original"``, ``"bn_after_add"``,
            ``"relu_before_add"``, ``"relu_preact"`` (ReLU-only pre-activation) or
            ``"full_preact"`` (the same as ``preact=True``). All but the first and the last
            need a residual net.
        stochastic_depth: ``p_L``, the survival probability of the last block (Huang et al.
            2016 use 0.5), or ``None``. Block ``l`` of ``L`` keeps its branch with probability
            ``1 - l / L * (1 - p_L)`` at each training step and is scaled by it at test time.
            Residual nets only.
        device: where to put the model; default ``default_device()`` (the GPU when there is
            one), so that training and probes run there; ``"cpu"`` to keep it on the CPU.
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
        shortcut_variant=shortcut_variant,
        activation_order=activation_order,
        stochastic_depth=stochastic_depth,
    )
    return ResNet(config).to(default_device() if device is None else device)
