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
