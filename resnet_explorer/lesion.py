"""Lesion study: remove or reorder blocks of a trained net and measure its test error.

Veit, Wilber and Belongie 2016, "Residual Networks Behave Like Ensembles of Relatively Shallow
Networks", Section 4. A residual block computes ``y = x + F(x)`` (followed by a ReLU in the
original ResNet); removing it leaves ``y = x``, the shortcut alone, and the net still runs.
A plain block has no shortcut: it can only be replaced by the identity where its input and
output have the same shape, and a block that changes the shape cannot be removed at all.

- ``lesioned(model, remove=[...], swap=[...])``: a ``with`` block inside which the model runs
  with those blocks removed, or those pairs of blocks swapped; the model is unchanged after.
- ``lesion_study(model, images, labels)``: the test error with each single block removed
  (Veit's Fig. 3), with k randomly chosen blocks removed for k = 0..K, several random draws
  each (Fig. 4a), and with k random pairs of same-shape blocks swapped (Fig. 4b).

**How a block is removed.** A residual block's branch ``F(x)`` is replaced by zeros, so the
block computes what its shortcut alone gives (followed by the block's final ReLU in a
post-activation ResNet; its input is already the output of a ReLU, so that changes nothing
for identity shortcuts). At a downsampling block the shortcut is kept as it is (option A:
subsample and pad with zeros; B/C: the projection), as Veit does. A plain block whose input
and output shapes match is replaced by the identity.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ._model_state import as_found
from .checks import (
    check_images,
    check_labels,
    check_model,
    check_whole_number,
    model_name,
)
from .device import computing_on
from .hooks import hooked
from .layout import BlockLayout
from .speed import follows_thread_policy


# --------------------------------------------------------------------------------------------
# The blocks of a net
# --------------------------------------------------------------------------------------------

def removable(block: BlockLayout) -> bool:
    """A residual block always (its shortcut remains); a plain one only if it keeps the shape."""
    return block.shortcut is not None or not block.shape_changes


def network_blocks(model: nn.Module) -> tuple[BlockLayout, ...]:
    """The blocks of a ResNet or plain net made by ``build_model``, in forward order (its layout)."""
    check_model(model, needs_config=True, what="a lesion study")
    if model.config.shortcut == "dense":
        raise ValueError("a lesion study needs a residual net (shortcut 'A', 'B' or 'C') or a plain "
                         "net (shortcut 'none'); dense nets concatenate, so their blocks cannot be "
                         "removed")
    return model.config.layout.blocks


def _block_modules(model: nn.Module) -> dict[str, nn.Module]:
    """Block path (``"stage2.block1"``) -> block module, in forward order."""
    return {block.path: model.get_submodule(block.path) for block in network_blocks(model)}


# --------------------------------------------------------------------------------------------
# Running a net with blocks removed or swapped
# --------------------------------------------------------------------------------------------

def _zero_branch(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(output)


def _identity_block(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
    return inputs[0]


def _runs_instead(other: nn.Module):
    """A hook that makes a block compute ``other``'s function of its input (a swap)."""
    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        return other.forward(inputs[0])
    return hook


@contextlib.contextmanager
def lesioned(model: nn.Module, remove: Iterable[str] = (),
             swap: Iterable[tuple[str, str]] = ()) -> Iterator[nn.Module]:
    """Inside the ``with`` block, ``model`` runs with blocks removed or swapped (Veit et al. 2016).

    Args:
        remove: block names (``"stage1.block3"``) to remove: a residual block keeps only its
            shortcut, a plain block becomes the identity (only where it keeps the shape).
        swap: pairs of block names, applied one after the other; each pair trades places.
            Only blocks of the same stage that keep the shape can be swapped.

    The model's weights, modes and buffers are not touched; the hooks that do the work are
    removed on exit. Removing and swapping cannot be combined in one ``with`` block.
    """
    remove = _as_names(remove, "remove")
    swap = _as_pairs(swap)
    if remove and swap:
        raise ValueError("remove and swap cannot be combined in one lesioned() block; use one, "
                         "then the other")
    blocks = {block.path: block for block in network_blocks(model)}
    modules = {path: model.get_submodule(path) for path in blocks}
    hooks: dict[nn.Module, object] = {}
    for name in remove:
        block, module = _block(blocks, name), modules[name]
        if block.shortcut is not None:
            hooks[getattr(module, module.branch_output)] = _zero_branch
        elif block.shape_changes:
            raise ValueError(f"{name} changes the shape of its input and {model_name(model)} has no "
                             "shortcut there, so the net cannot run without it; removable blocks: "
                             f"{_names(b for b in blocks.values() if removable(b))}")
        else:
            hooks[module] = _identity_block
    order = _swapped_order(blocks, swap)
    for position, name in order.items():
        if position != name:
            hooks[modules[position]] = _runs_instead(modules[name])
    with hooked(model, hooks):
        yield model


def _swapped_order(blocks: dict[str, BlockLayout], swap: list[tuple[str, str]]) -> dict[str, str]:
    """Position -> the block that runs there, after the swaps (in the order given)."""
    order = {name: name for name in blocks}
    for first, second in swap:
        for name in (first, second):
            if _block(blocks, name).shape_changes:
                raise ValueError(f"{name} changes the shape of its input, so it fits nowhere else; "
                                 "swap blocks that keep the shape, within one stage")
        if blocks[first].stage != blocks[second].stage:
            raise ValueError(f"{first} and {second} are in different stages (different shapes); "
                             "swap blocks of one stage")
        order[first], order[second] = order[second], order[first]
    return order


def _block(blocks: dict[str, BlockLayout], name: str) -> BlockLayout:
    if name not in blocks:
        names = list(blocks)
        raise ValueError(f"unknown block {name!r}; this net's blocks are {names[0]} ... {names[-1]}")
    return blocks[name]


def _names(blocks: Iterable[BlockLayout]) -> str:
    names = [block.path for block in blocks]
    return ", ".join(names) if len(names) <= 6 else f"{', '.join(names[:3])}, ... {names[-1]}"


def _as_names(names, what: str) -> list[str]:
    if isinstance(names, str):
        return [names]
    names = list(names)
    if not all(isinstance(name, str) for name in names):
        raise ValueError(f"{what} must be block names such as 'stage1.block2', got {names!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"{what} names a block twice: {names!r}")
    return names


def _as_pairs(pairs) -> list[tuple[str, str]]:
    pairs = list(pairs)
    if not all(isinstance(pair, (tuple, list)) and len(pair) == 2
               and all(isinstance(name, str) for name in pair) for pair in pairs):
        raise ValueError(f"swap must be pairs of block names such as [('stage1.block2', "
                         f"'stage1.block5')], got {pairs!r}")
    return [tuple(pair) for pair in pairs]


# --------------------------------------------------------------------------------------------
# Test error, and the study
# --------------------------------------------------------------------------------------------

def test_error(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
               batch_size: int = 500) -> float:
    """The fraction of ``images`` misclassified, computed as the model is set up (mode, device).

    No checks, no mode change: the building block of the study, called hundreds of times.
    """
    wrong = 0
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            predictions = model(images[start:start + batch_size]).argmax(1)
            wrong += int((predictions != labels[start:start + batch_size]).sum())
    return wrong / len(images)


test_error.__test__ = False  # not a pytest test, despite its name


@dataclass
class LesionStudy:
    """Test errors of a net with blocks removed or swapped (Veit et al. 2016, Figs. 3 and 4).

    Attributes:
        model_name: e.g. ``"ResNet-56 (A)"``.
        blocks: the net's blocks in forward order (its ``config.layout.blocks``).
        base_error: the error of the intact net.
        single_block_error: one per block, the error with that block alone removed (``nan``
            where it cannot be removed: a plain block that changes the shape).
        removed_counts: k = 0, 1, ..., K blocks removed at random.
        removed_error: (K + 1, draws): the error of each random draw (row 0: the intact net).
        removed_sets: the blocks removed in each draw, ``removed_sets[k][draw]``.
        swap_counts: k = 0, 1, ..., S random swaps of two same-shape blocks of one stage.
        swap_error: (S + 1, draws), like ``removed_error``.
        swap_kendall_tau: (S + 1, draws): Kendall's tau between the original and the swapped
            block order (1 = unchanged), the x axis of Veit's Fig. 4b.
        chance_error: the error of guessing, 1 - 1/classes.
        images: how many images each error is measured on.
        seconds: how long the study took.
        seed: the seed of the random draws.
        swap_pairs: the pairs swapped in each draw, ``swap_pairs[k][draw]``.
    """

    model_name: str
    blocks: tuple[BlockLayout, ...]
    base_error: float
    single_block_error: np.ndarray
    removed_counts: np.ndarray
    removed_error: np.ndarray
    removed_sets: list[list[tuple[str, ...]]]
    swap_counts: np.ndarray
    swap_error: np.ndarray
    swap_kendall_tau: np.ndarray
    chance_error: float
    images: int
    seconds: float = 0.0
    seed: int = 0
    swap_pairs: list[list[tuple[tuple[str, str], ...]]] = field(default_factory=list)

    @property
    def block_names(self) -> list[str]:
        return [block.path for block in self.blocks]

    @property
    def downsampling(self) -> np.ndarray:
        """True for the blocks that change the shape (the first block of stages 2, 3, ...)."""
        return np.array([block.shape_changes for block in self.blocks])

    def single_block_summary(self) -> dict[str, float]:
        """Mean and largest error with one block removed, apart and at the downsampling blocks."""
        errors = self.single_block_error
        other = ~self.downsampling & np.isfinite(errors)
        down = self.downsampling & np.isfinite(errors)
        return {
            "base": self.base_error,
            "mean_other": float(errors[other].mean()) if other.any() else float("nan"),
            "max_other": float(errors[other].max()) if other.any() else float("nan"),
            "mean_downsampling": float(errors[down].mean()) if down.any() else float("nan"),
            "not_removable": int((~np.isfinite(errors)).sum()),
        }

    def __repr__(self) -> str:
        summary = self.single_block_summary()
        removed = ", ".join(f"k={k}: {row.mean():.3f}" for k, row in
                            zip(self.removed_counts[1::max(1, len(self.removed_counts) // 4)],
                                self.removed_error[1::max(1, len(self.removed_counts) // 4)]))
        return (f"LesionStudy({self.model_name}, {self.images} images: intact {self.base_error:.3f}; "
                f"one block removed: mean {summary['mean_other']:.3f} (max {summary['max_other']:.3f}) "
                f"apart from downsampling blocks, {summary['mean_downsampling']:.3f} at them; "
                f"random removals {removed}; chance {self.chance_error:.3f})")


@follows_thread_policy
def lesion_study(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    max_removed: int = 10,
    max_swaps: int = 10,
    draws: int = 5,
    seed: int = 0,
    batch_size: int = 500,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> LesionStudy:
    """Veit et al. 2016's lesion study of a trained net, on ``images`` (test images, say).

    Measures the test error (1) with each single block removed, (2) with k = 1..``max_removed``
    blocks removed at random, ``draws`` random sets each, and (3) after k = 1..``max_swaps``
    swaps of k different random pairs of same-shape blocks of one stage (applied one after
    the other), ``draws`` times each. Random sets come
    from ``seed``, so two nets of the same depth (plain and ResNet) can be given the same draws.
    For a plain net only the blocks that keep the shape are candidates for removal.

    Cost: ``1 + blocks + draws * (max_removed + max_swaps)`` evaluations on ``images``; for
    ResNet-56 with the defaults, 128 passes over the images (``benchmarks/bench_why_resnets_train.py``
    measures the time). The model runs in eval mode where it is (or on ``device``) and is left
    as it was. ``max_removed=0`` or ``max_swaps=0`` skips that part.
    """
    check_model(model, needs_config=True, what="lesion_study")
    images = check_images(model, images)
    labels = check_labels(model, images, labels)
    max_removed = check_whole_number("max_removed", max_removed, minimum=0)
    max_swaps = check_whole_number("max_swaps", max_swaps, minimum=0)
    draws = check_whole_number("draws", draws, minimum=1)
    seed = check_whole_number("seed", seed, minimum=0)
    batch_size = check_whole_number("batch_size", batch_size, minimum=1)
    blocks = network_blocks(model)
    candidates = [block.path for block in blocks if removable(block)]
    max_removed = min(max_removed, len(candidates))
    pairs = _swappable_pairs(blocks)
    max_swaps = min(max_swaps, len(pairs))
    removed_sets = [[()] * draws] + [[random_blocks(candidates, blocks, k, draw, seed) for draw in range(draws)]
                                     for k in range(1, max_removed + 1)]
    rng = np.random.default_rng([seed, 1])
    swap_pairs = [[()] * draws] + [
        [tuple(pairs[index] for index in rng.choice(len(pairs), size=k, replace=False)) for _ in range(draws)]
        for k in range(1, max_swaps + 1)]

    from tqdm.auto import tqdm

    total = 1 + len(blocks) + draws * (max_removed + max_swaps)
    started = time.perf_counter()
    with computing_on(model, device) as target, as_found(model, training=False):
        images, labels = images.to(target), labels.to(target)
        bar = tqdm(total=total, desc=f"lesion study of {model_name(model)}", disable=not progress)

        def error(remove=(), swap=()) -> float:
            with lesioned(model, remove=remove, swap=swap):
                value = test_error(model, images, labels, batch_size)
            bar.update(1)
            return value

        try:
            base = error()
            single = np.full(len(blocks), np.nan)
            for index, block in enumerate(blocks):
                if removable(block):
                    single[index] = error(remove=[block.path])
                else:
                    bar.update(1)
            removed = np.array([[base] * draws] + [[error(remove=chosen) for chosen in row]
                                                   for row in removed_sets[1:]])
            swapped = np.array([[base] * draws] + [[error(swap=chosen) for chosen in row]
                                                   for row in swap_pairs[1:]])
        finally:
            bar.close()
    by_path = {block.path: block for block in blocks}
    tau = np.array([[_kendall_tau(list(by_path), _swapped_order(by_path, list(chosen))) for chosen in row]
                    for row in swap_pairs])
    return LesionStudy(
        model_name=model_name(model), blocks=blocks, base_error=base, single_block_error=single,
        removed_counts=np.arange(max_removed + 1), removed_error=removed.reshape(max_removed + 1, draws),
        removed_sets=removed_sets, swap_counts=np.arange(max_swaps + 1),
        swap_error=swapped.reshape(max_swaps + 1, draws), swap_kendall_tau=tau,
        chance_error=1 - 1 / model.config.num_classes, images=len(images),
        seconds=time.perf_counter() - started, seed=seed, swap_pairs=swap_pairs)


def random_removal(model: nn.Module, count: int, draw: int = 0, seed: int = 0) -> tuple[str, ...]:
    """The blocks ``lesion_study(..., seed=seed)`` removes in draw ``draw`` of ``count`` blocks.

    Explorers use it to show and re-measure the study's own draws. Two nets with the same
    removable blocks (two ResNets of one depth, say) get the same draws.
    """
    blocks = network_blocks(model)
    candidates = [block.path for block in blocks if removable(block)]
    count = check_whole_number("count", count, minimum=0, maximum=len(candidates))
    draw = check_whole_number("draw", draw, minimum=0)
    seed = check_whole_number("seed", seed, minimum=0)
    return random_blocks(candidates, blocks, count, draw, seed)


def random_blocks(candidates: list[str], blocks: Sequence[BlockLayout], count: int, draw: int,
                  seed: int) -> tuple[str, ...]:
    """``count`` of the ``candidates``, in forward order; one fixed draw for each (seed, count, draw)."""
    rng = np.random.default_rng([seed, count, draw])
    chosen = set(rng.choice(candidates, size=count, replace=False).tolist())
    return tuple(block.path for block in blocks if block.path in chosen)


def _swappable_pairs(blocks: Sequence[BlockLayout]) -> list[tuple[str, str]]:
    """Every pair of same-stage blocks that keep the shape."""
    keep = [block for block in blocks if not block.shape_changes]
    return [(a.path, b.path) for i, a in enumerate(keep) for b in keep[i + 1:] if a.stage == b.stage]


def _kendall_tau(names: list[str], order: dict[str, str]) -> float:
    """Kendall's tau between the original order and the order after swaps (1 = unchanged)."""
    rank = {name: index for index, name in enumerate(names)}
    ranks = np.array([rank[order[name]] for name in names])
    upper = np.triu_indices(len(ranks), k=1)
    signs = np.sign(ranks[upper[1]] - ranks[upper[0]])
    return float(signs.mean()) if len(signs) else 1.0
