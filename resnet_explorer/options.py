"""Every choice a net can be built with, in one place.

``build_model`` checks its arguments against these tuples, ``layout.net_layout`` reads the
shortcut registry to decide each block's shortcut, the architecture diagram reads how each
kind of shortcut is drawn, and the explorers offer the same choices on their buttons.

**Shortcuts.** A *shortcut option* is what ``build_model(shortcut=...)`` takes ("A", "B", "C",
"none", "dense"); it decides a *shortcut kind* for every block: one where the block keeps its
shape, one where the block changes it (stride 2 or more filters). He et al. 2015, Section 3.3:
option A is "zero-padding for increasing dimensions" and identity elsewhere, B uses
"projection shortcuts for increasing dimensions" and identity elsewhere, C makes "all shortcuts
projections". To add a shortcut option, add a ``ShortcutOption`` here (and, if it needs a new
kind of shortcut, a ``ShortcutKind`` here and its module in ``blocks.SHORTCUT_MODULES``).
"""

from __future__ import annotations

from dataclasses import dataclass

FAMILIES = ("cifar", "imagenet")
NORMS = ("batch", "none")
ACTIVATIONS = ("relu", "tanh", "sigmoid")
INITS = ("kaiming", "xavier", "default")
BOTTLENECK_STRIDES = ("1x1", "3x3")

#: Block type and blocks per stage of the ImageNet nets (He et al. 2015, Table 1).
IMAGENET_STAGES = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}


# ---- shortcuts -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ShortcutKind:
    """One kind of shortcut a block can have, and how the architecture diagram draws it."""

    name: str
    legend: str  # the diagram's legend entry
    dash: str  # plotly line dash; Fig. 3 draws shortcuts that change dimensions dotted or dashed
    merge: str = "add"  # how the block joins branch and shortcut: "add" or "concatenate"


@dataclass(frozen=True)
class ShortcutOption:
    """One value of ``build_model(shortcut=...)``: which kind of shortcut each block gets.

    ``same_shape`` is the kind where a block keeps its shape, ``shape_changes`` where it
    halves the maps or widens the channels; ``None`` means no shortcut (a plain block).
    """

    name: str
    same_shape: str | None
    shape_changes: str | None
    summary: str  # one line, e.g. the diagram's subtitle
    net_name: str = "ResNet-{depth} ({name})"  # how ModelConfig.name writes a net with it
    button: str | None = None  # its label on the explorers' buttons; None: not offered there
    families: tuple[str, ...] = FAMILIES  # the families it can be built in
    allows_preact: bool = True

    def kind(self, shape_changes: bool) -> str | None:
        """The kind of shortcut of a block that keeps (or changes) its shape."""
        return self.shape_changes if shape_changes else self.same_shape

    @property
    def concatenates(self) -> bool:
        """True for dense nets: blocks append their output to their input instead of adding."""
        return self.same_shape is not None and SHORTCUT_KINDS[self.same_shape].merge == "concatenate"


SHORTCUT_KINDS: dict[str, ShortcutKind] = {kind.name: kind for kind in (
    ShortcutKind("identity", "identity shortcut", "solid"),
    ShortcutKind("zero-pad", "zero-padding shortcut (A)", "dot"),
    ShortcutKind("projection", "projection shortcut (1×1 conv, B/C)", "dash"),
    ShortcutKind("concatenation", "concatenation (dense)", "longdash", merge="concatenate"),
    ShortcutKind("conv1x1", "1×1 conv shortcut (He 2016, Fig. 2(e))", "dashdot"),
)}

SHORTCUTS: dict[str, ShortcutOption] = {option.name: option for option in (
    ShortcutOption("A", "identity", "zero-pad",
                   "shortcuts A: identity, zero-padding where shapes change", button="A"),
    ShortcutOption("B", "identity", "projection",
                   "shortcuts B: projections where shapes change", button="B"),
    ShortcutOption("C", "projection", "projection",
                   "shortcuts C: projections everywhere", button="C"),
    ShortcutOption("none", None, None, "no shortcuts (plain net)", net_name="plain-{depth}",
                   button="none (plain)"),
    ShortcutOption("dense", "concatenation", "concatenation",
                   "dense: each block's output is concatenated to its input; transitions between stages",
                   net_name="dense-{depth}", families=("cifar",), allows_preact=False),
)}
SHORTCUT_OPTIONS = tuple(SHORTCUTS)


def shortcut_buttons() -> tuple[tuple[str, str], ...]:
    """``(label, option)`` for the shortcut options the explorers offer, in order."""
    return tuple((option.button, option.name) for option in SHORTCUTS.values() if option.button)


# ---- depths ----------------------------------------------------------------------------------

def is_cifar_depth(depth) -> bool:
    """True for the CIFAR nets' depths 6n+2 (n >= 1): 8, 14, 20, ..., 56, 110, 1202."""
    return isinstance(depth, int) and not isinstance(depth, bool) and depth >= 8 and (depth - 2) % 6 == 0


def nearest_cifar_depths(depth: int) -> tuple[int, int]:
    """The valid 6n+2 depths just below and above ``depth`` (for error messages and sliders)."""
    below = max(8, depth - (depth - 2) % 6)
    above = below + 6 if below < depth else below
    return below, above


#: The deepest net that a file (a run cache entry, a teacher's scenario) may ask the package to
#: build: ResNet-1202, the paper's deepest (Section 4.2, Table 6). It builds in about 3 s on one
#: CPU core; a file that names a deeper net is damaged or a mistake, and building what it asks
#: (a 1,000,004-layer net) would take minutes and then run out of memory.
DEEPEST_NET = 1202


def cifar_depths(smallest: int = 8, largest: int = 110) -> tuple[int, ...]:
    """The CIFAR depths 6n+2 from ``smallest`` to ``largest``; by default the explorers' choices,
    8 to 110 (ResNet-110)."""
    return tuple(depth for depth in range(smallest, largest + 1) if is_cifar_depth(depth))


def cifar_blocks_per_stage(depth: int) -> int:
    """n of a 6n+2-layer CIFAR net: each of its three stages has n blocks of two 3x3 layers."""
    return (depth - 2) // 6


# ---- He et al. 2016: what multiplies the shortcut, and where BN and ReLU sit -----------------

@dataclass(frozen=True)
class ShortcutVariant:
    """One value of ``build_model(shortcut_variant=...)``: a row of He et al. 2016, Table 1.

    A residual unit computes ``x_{l+1} = f(h(x_l) + F(x_l))`` (He 2016, Eq. 1-2). The original
    unit (He 2015) has ``h(x) = x``; each variant puts something else on the shortcut ``h``
    (and sometimes on the branch ``F``), as the paper's Fig. 2 draws them. ``on_shortcut`` and
    ``on_branch`` are Table 1's two columns; ``paper_error`` is its CIFAR-10 test error (%) of
    ResNet-110 with the paper's best setting ("fail": over 20%).
    """

    name: str
    figure: str  # the panel of He 2016, Fig. 2
    label: str  # readable, for buttons, legends and lessons
    on_shortcut: str
    on_branch: str
    paper_error: str
    tag: str  # what ModelConfig.name adds: "ResNet-56 (A), exclusive gating"
    identity_kind: str | None = None  # the kind that replaces identity shortcuts ("conv1x1"), if any
    shortcut_mark: str = ""  # what the architecture diagram writes on each shortcut ("×½")
    branch_mark: str = ""  # ... and on each residual branch


SHORTCUT_VARIANTS: dict[str, ShortcutVariant] = {variant.name: variant for variant in (
    ShortcutVariant("original", "2(a)", "original (identity)", "1", "1", "6.61", ""),
    ShortcutVariant("scale_shortcut", "2(b)", "constant scaling, shortcut × 0.5", "0.5", "1", "fail",
                    "shortcut scaled 0.5", shortcut_mark="×½"),
    ShortcutVariant("scale_branch", "-", "constant scaling, branch × 0.5", "1", "0.5", "not in the paper",
                    "branch scaled 0.5", branch_mark="×½"),
    ShortcutVariant("scale_both", "2(b)", "constant scaling, both × 0.5", "0.5", "0.5", "12.35",
                    "both scaled 0.5", shortcut_mark="×½", branch_mark="×½"),
    ShortcutVariant("exclusive_gate", "2(c)", "exclusive gating", "1 − g(x)", "g(x)", "8.70",
                    "exclusive gating", shortcut_mark="1−g", branch_mark="g"),
    ShortcutVariant("shortcut_gate", "2(d)", "shortcut-only gating", "1 − g(x)", "1", "6.91",
                    "shortcut-only gating", shortcut_mark="1−g"),
    ShortcutVariant("conv_shortcut", "2(e)", "1×1 conv shortcut", "1×1 conv", "1", "12.22",
                    "1x1 conv shortcut", identity_kind="conv1x1"),
    ShortcutVariant("dropout_shortcut", "2(f)", "dropout shortcut (0.5)", "dropout 0.5", "1", "fail",
                    "dropout shortcut", shortcut_mark="drop"),
)}
SHORTCUT_VARIANT_NAMES = tuple(SHORTCUT_VARIANTS)

#: He 2016: the scale of "constant scaling" (Fig. 2(b)) and the dropout ratio of Fig. 2(f).
CONSTANT_SCALE = 0.5
SHORTCUT_DROPOUT = 0.5
#: He 2016, Section 3.1: the initial bias b_g of the gates g(x) = sigmoid(W_g x + b_g); -6 gave
#: the best results of both gating variants ("init b_g = -6" in Table 1), so 1 - g(x) starts at
#: about 0.998 and the shortcut starts close to the identity.
GATE_BIAS = -6.0


@dataclass(frozen=True)
class ActivationOrder:
    """One value of ``build_model(activation_order=...)``: a unit of He et al. 2016, Fig. 4.

    The same layers (conv, BN, ReLU) in a different order around the addition; ``branch`` is
    what ``F`` computes and ``after_addition`` what ``f`` applies to the sum (basic block; the
    bottleneck has a third conv). ``paper_error`` is Table 2's CIFAR-10 test error (%) of
    ResNet-110 / ResNet-164.
    """

    name: str
    figure: str
    label: str
    branch: str
    after_addition: str
    paper_error: str
    tag: str  # what ModelConfig.name adds ("" where ``preact`` already says it: "pre-act")
    residual_only: bool = True  # needs an addition (refused for plain and dense nets)


ACTIVATION_ORDERS: dict[str, ActivationOrder] = {order.name: order for order in (
    ActivationOrder("original", "4(a)", "original", "conv-BN-ReLU-conv-BN", "ReLU", "6.61 / 5.93", "",
                    residual_only=False),
    ActivationOrder("bn_after_add", "4(b)", "BN after addition", "conv-BN-ReLU-conv", "BN-ReLU",
                    "8.17 / 6.50", "BN after addition"),
    ActivationOrder("relu_before_add", "4(c)", "ReLU before addition", "conv-BN-ReLU-conv-BN-ReLU", "none",
                    "7.84 / 6.14", "ReLU before addition"),
    ActivationOrder("relu_preact", "4(d)", "ReLU-only pre-activation", "ReLU-conv-BN-ReLU-conv-BN", "none",
                    "6.71 / 5.91", "ReLU-only pre-act"),
    ActivationOrder("full_preact", "4(e)", "full pre-activation", "BN-ReLU-conv-BN-ReLU-conv", "none",
                    "6.37 / 5.46", "", residual_only=False),
)}
ACTIVATION_ORDER_NAMES = tuple(ACTIVATION_ORDERS)

#: Huang et al. 2016 ("Deep Networks with Stochastic Depth"), Section 3: the survival
#: probability of the last block, p_L = 0.5, "throughout" their experiments.
STOCHASTIC_DEPTH_DEFAULT = 0.5


def survival_probabilities(blocks: int, last: float) -> tuple[float, ...]:
    """Huang et al. 2016, Eq. 4, the linear decay rule: ``p_l = 1 - l / L * (1 - p_L)`` for the
    blocks ``l = 1 .. L``; the first block survives almost always, the last with ``p_L``."""
    return tuple(1 - index / blocks * (1 - last) for index in range(1, blocks + 1))
