"""The paths of a ResNet: how many there are of each length, and how much gradient each carries.

Veit, Wilber and Belongie 2016, Sections 3 and 5. Unrolled, a net of ``n`` residual blocks is
a collection of ``2**n`` paths from input to output: each path goes through the residual
branch of some blocks and the shortcut of the others. A path through ``k`` branches has
*length* ``k``, and there are ``C(n, k)`` of them: path lengths follow a binomial
distribution, so most paths are about ``n / 2`` branches long (``path_length_distribution``).

``path_gradients`` measures, as Veit does (Section 5, Fig. 6), how much gradient reaches the
input of the first block through a single path of length ``k``: one forward pass of a batch,
then, for several random sets of ``k`` blocks, a backward pass in which the gradient may only
take the residual branch of those blocks and only the shortcut of the others. Multiplying by
the number of paths of each length gives the total gradient each length contributes. The
path gradients add up exactly to the full gradient (a test checks this on a small net).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from math import comb

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._model_state import as_found
from .checks import check_images, check_labels, check_model, check_whole_number, model_name
from .device import computing_on
from .lesion import _block_modules, network_blocks
from .speed import follows_thread_policy

#: He 2016's gated shortcuts (Fig. 2(c), (d)): a third route for the gradient, through g(x).
GATED_VARIANTS = ("exclusive_gate", "shortcut_gate")


def path_length_distribution(num_blocks: int) -> np.ndarray:
    """``C(n, k)`` for k = 0..n: how many paths of each length a net of ``n`` blocks has."""
    num_blocks = check_whole_number("num_blocks", num_blocks, minimum=0)
    return np.array([float(comb(num_blocks, k)) for k in range(num_blocks + 1)])


@dataclass
class PathGradients:
    """Gradient through single paths of each length (Veit et al. 2016, Fig. 6).

    Attributes:
        model_name: e.g. ``"ResNet-56 (A)"``.
        num_blocks: residual blocks ``n``; paths are 0..n branches long.
        lengths: the path lengths measured.
        gradient_norm: (lengths, samples): the norm of the gradient at the first block's input
            that flows through one random path of each length (over the whole batch).
        path_counts: ``C(n, k)`` for each measured length.
        images: the batch size.
    """

    model_name: str
    num_blocks: int
    lengths: np.ndarray
    gradient_norm: np.ndarray
    path_counts: np.ndarray
    images: int
    seconds: float = 0.0

    @property
    def mean_gradient_norm(self) -> np.ndarray:
        """Mean over the sampled paths of each length (Fig. 6b)."""
        return self.gradient_norm.mean(axis=1)

    @property
    def total_gradient(self) -> np.ndarray:
        """Paths of a length times the gradient each carries: what each length contributes (Fig. 6c)."""
        return self.path_counts * self.mean_gradient_norm

    def effective_lengths(self, share: float = 0.9) -> tuple[int, int]:
        """The shortest range of lengths that carries ``share`` of the total gradient."""
        total = self.total_gradient
        best = (int(self.lengths[0]), int(self.lengths[-1]))
        for first in range(len(total)):
            running = np.cumsum(total[first:])
            reach = np.searchsorted(running, share * total.sum())
            if reach < len(running):
                candidate = (int(self.lengths[first]), int(self.lengths[first + reach]))
                if candidate[1] - candidate[0] < best[1] - best[0]:
                    best = candidate
        return best

    def __repr__(self) -> str:
        low, high = self.effective_lengths()
        return (f"PathGradients({self.model_name}, {self.num_blocks} blocks, {self.images} images: "
                f"90% of the gradient comes through paths {low}-{high} blocks long; most paths are "
                f"{self.num_blocks // 2} long)")


@follows_thread_policy
def path_gradients(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    lengths: Sequence[int] | None = None,
    samples: int = 10,
    seed: int = 0,
    train_mode: bool = True,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> PathGradients:
    """How much gradient flows through single paths of each length (Veit et al. 2016, Section 5).

    One forward pass of ``images`` (cross-entropy with ``labels``), then ``samples`` backward
    passes per length, each through one random path: the gradient passes the residual branch
    of ``k`` randomly chosen blocks and the shortcut of all others. The gradient is read at the
    input of the first block. ``lengths`` defaults to every length 0..n.

    ``train_mode=True`` measures what a training step sees (BN uses the batch's statistics);
    either way the model is left as it was. Veit sampled 1,000 paths per length on ResNet-110;
    a few per length show the same shape, and cost one backward pass each.
    """
    check_model(model, needs_config=True, what="path_gradients")
    images = check_images(model, images)
    labels = check_labels(model, images, labels)
    samples = check_whole_number("samples", samples, minimum=1)
    seed = check_whole_number("seed", seed, minimum=0)
    blocks = network_blocks(model)
    if any(block.shortcut is None for block in blocks):
        raise ValueError(f"{model_name(model)} has no shortcuts, so it has one path only; path "
                         "gradients need a ResNet (shortcut 'A', 'B' or 'C')")
    variant = getattr(model.config, "shortcut_variant", "original")
    if variant in GATED_VARIANTS:
        raise ValueError(f"{model_name(model)} gates its shortcuts ({variant}): the gradient also flows "
                         "through each gate g(x), neither branch nor shortcut, so single paths do not "
                         "add up to the gradient; path gradients need shortcut_variant 'original', a "
                         "constant scaling, 'conv_shortcut' or 'dropout_shortcut'")
    count = len(blocks)
    lengths = list(range(count + 1)) if lengths is None else [
        check_whole_number("each path length", length, minimum=0, maximum=count) for length in lengths]
    if not lengths:
        raise ValueError(f"lengths is empty; give path lengths between 0 and {count}")

    from tqdm.auto import tqdm

    rng = np.random.default_rng(seed)
    norms = np.zeros((len(lengths), samples))
    started = time.perf_counter()
    with computing_on(model, device) as target:
        images, labels = images.to(target), labels.to(target)
        with _SinglePathGates(model, training=train_mode) as gates:
            first_input, loss = gates.forward(images, labels)
            bar = tqdm(total=len(lengths) * samples, desc=f"path gradients of {model_name(model)}",
                       disable=not progress)
            try:
                for row, length in enumerate(lengths):
                    for column in range(samples):
                        through = set(rng.choice(count, size=length, replace=False).tolist())
                        gradient = gates.gradient(loss, first_input, through)
                        norms[row, column] = float(torch.linalg.vector_norm(gradient, dtype=torch.float64))
                        bar.update(1)
            finally:
                bar.close()
    return PathGradients(
        model_name=model_name(model), num_blocks=count, lengths=np.array(lengths), gradient_norm=norms,
        path_counts=path_length_distribution(count)[lengths], images=len(images),
        seconds=time.perf_counter() - started)


class _SinglePathGates:
    """Gradient gates on every block's branch and shortcut, set before each backward pass.

    In the forward pass each branch output and shortcut output gets a tensor hook that
    multiplies its gradient by a gate (1 or 0) read at backward time, so one forward pass
    serves many paths. The forward values are untouched.
    """

    def __init__(self, model: nn.Module, *, training: bool):
        self.model = model
        self.training = training
        self.blocks = list(_block_modules(model).values())
        self.branch_open = [True] * len(self.blocks)
        self.first_input: list[torch.Tensor] = []

    def _gate(self, index: int, branch: bool):
        def hook(module, inputs, output):
            output = output.view_as(output)  # its own node: an identity shortcut returns x itself
            output.register_hook(lambda grad: grad if self.branch_open[index] == branch else grad * 0)
            return output
        return hook

    def _keep_input(self, module, inputs, output):
        self.first_input.append(inputs[0])

    def __enter__(self):
        hooks = {self.blocks[0]: self._keep_input}
        for index, block in enumerate(self.blocks):
            hooks[getattr(block, block.branch_output)] = self._gate(index, branch=True)
            hooks[block.shortcut] = self._gate(index, branch=False)
        self._state = as_found(self.model, training=self.training, hooks=hooks)
        self._state.__enter__()
        return self

    def __exit__(self, *exc_info):
        return self._state.__exit__(*exc_info)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.first_input.clear()
        with torch.enable_grad():
            loss = F.cross_entropy(self.model(images), labels)
        return self.first_input[0], loss

    def gradient(self, loss: torch.Tensor, first_input: torch.Tensor, through: set[int]) -> torch.Tensor:
        """The gradient at the first block's input through the branches of the blocks ``through``."""
        self.branch_open = [index in through for index in range(len(self.blocks))]
        (gradient,) = torch.autograd.grad(loss, first_input, retain_graph=True)
        return gradient
