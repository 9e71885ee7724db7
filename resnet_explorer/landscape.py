"""Loss-landscape slices (Li, Xu, Taylor, Studer, Goldstein 2018, "Visualizing the Loss Landscape
of Neural Nets").

The loss of a trained net is a function of millions of weights; a picture can only show a
line or a plane through them. ``loss_landscape`` evaluates the loss (and error) at
``theta + a d`` (one direction, a curve) or ``theta + a d + b e`` (two, a grid), around the
trained weights ``theta``:

- **Filter-normalized random directions** (Li et al., Section 4): a Gaussian random direction
  is rescaled filter by filter, so that each filter of the direction has the norm of the
  corresponding filter of the net (a *filter* is what makes one output channel of a conv, or
  one output of a fully connected layer). Without this, a net with large weights would look
  flat and one with small weights sharp, for no reason but scale: ReLU nets and BN are
  unchanged when a layer's weights are scaled. BN parameters and biases get a zero direction,
  as in the paper (``--xignore biasbn`` in its code); BN's running statistics are kept.
- **Interpolation** (``towards=other_model``): the straight line from this net's weights
  (a = 0) to another's (a = 1), BN's running statistics included (the paper's
  ``--dir_type states``), as in Goodfellow et al. 2015. Beyond the two nets, an extrapolated
  running variance can fall below zero; it is clipped at zero.

The loss is the mean cross-entropy over ``images`` in eval mode (BN uses its running
statistics). **Budget**: every point costs one pass over ``images``; a 1-D slice of 21
points on 1,000 images is 21,000 forward passes, a 21x21 grid on 500 images 220,500
(``benchmarks/bench_why_resnets_train.py`` measures both for ResNet-56). The model's weights are
put back exactly as they were, also when the run fails or is stopped.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._model_state import as_found
from .checks import (
    check_images,
    check_labels,
    check_model,
    check_positive_number,
    check_whole_number,
    model_name,
)
from .device import computing_on
from .speed import follows_thread_policy


@dataclass
class LossLandscape:
    """Loss and error around a trained net, along one direction or on a plane of two.

    Attributes:
        model_name: e.g. ``"ResNet-56 (A)"``.
        kind: ``"random"`` (filter-normalized random directions) or ``"interpolation"``.
        x: coordinates along the first direction (0 = the trained weights).
        y: coordinates along the second direction, or ``None`` for a 1-D slice.
        loss: mean cross-entropy; shape (len(x),), or (len(y), len(x)) for a grid (rows are
            y, as plotly's contour and surface expect).
        error: the fraction of images misclassified, same shape.
        images: how many images each point is evaluated on.
        seed: the random directions' seed.
    """

    model_name: str
    kind: str
    x: np.ndarray
    y: np.ndarray | None
    loss: np.ndarray
    error: np.ndarray
    images: int
    seed: int
    seconds: float = 0.0
    towards_name: str | None = None

    @property
    def dimensions(self) -> int:
        return 1 if self.y is None else 2

    @property
    def center_loss(self) -> float:
        """The loss at the trained weights (the point nearest 0, 0)."""
        i = int(np.abs(self.x).argmin())
        if self.y is None:
            return float(self.loss[i])
        return float(self.loss[int(np.abs(self.y).argmin()), i])

    def local_minima(self) -> int:
        """Points lower than all their neighbours (2 in 1-D, 8 on a grid): 1 for a bowl.

        A coarse but honest count of "chaotic": a smooth landscape around a minimum has one;
        bumps and valleys add more. Edge points count when they are lower than the neighbours
        they have.
        """
        loss = np.where(np.isfinite(self.loss), self.loss, np.inf)
        padded = np.pad(loss, 1, constant_values=np.inf)
        centre = padded[(slice(1, -1),) * loss.ndim]
        lower = np.ones(loss.shape, dtype=bool)
        for shift in np.ndindex(*(3,) * loss.ndim):
            if all(step == 1 for step in shift):
                continue
            neighbour = padded[tuple(slice(step, step + size) for step, size in zip(shift, loss.shape))]
            lower &= centre < neighbour
        return int(lower.sum())

    def convex_fraction(self, below: float | None = None) -> float:
        """The share of interior points where the loss curves upwards along every direction
        measured (second differences >= 0): 1 for a convex bowl, lower for a bumpy surface.

        ``below``: count only points whose loss is below this, e.g. ``math.log(10)`` (the loss
        of a uniform guess over 10 classes) to look at the basin around the minimum and not at
        the plateau far away, where every net's loss levels off (bends downwards) as its error
        reaches chance.
        """
        loss = self.loss
        curvatures = [np.diff(loss, 2, axis=axis) for axis in range(loss.ndim)]
        if loss.ndim == 1:
            convex, interior = curvatures[0] >= 0, loss[1:-1]
        else:
            convex = (curvatures[0][:, 1:-1] >= 0) & (curvatures[1][1:-1, :] >= 0)
            interior = loss[1:-1, 1:-1]
        if below is not None:
            convex = convex[interior < below]
        return float(convex.mean()) if convex.size else float("nan")

    def __repr__(self) -> str:
        shape = f"{len(self.x)} points" if self.y is None else f"{len(self.y)}x{len(self.x)} grid"
        minima = self.local_minima()
        return (f"LossLandscape({self.model_name}, {self.kind}, {shape} from {self.x[0]:g} to "
                f"{self.x[-1]:g}, {self.images} images: loss {self.center_loss:.3f} at the centre, "
                f"{np.nanmax(self.loss):.3g} at most; {minima} local minim{'um' if minima == 1 else 'a'}, "
                f"{self.convex_fraction():.0%} convex ({self.convex_fraction(math.log(10)):.0%} where "
                f"the loss is below ln 10); {self.seconds:.0f} s)")


def filter_normalized_direction(model: nn.Module, generator: torch.Generator | None = None
                                ) -> dict[str, torch.Tensor]:
    """A random direction in weight space, rescaled filter by filter (Li et al. 2018, Section 4).

    Parameter name -> direction tensor. For a weight of 2 or more dimensions (a conv's
    ``(out, in, kh, kw)``, a linear layer's ``(out, in)``), each filter ``d[i]`` of a Gaussian
    draw is rescaled to the norm of the weight's ``w[i]``. Parameters of one dimension (BN's
    scales and shifts, biases) get zeros.
    """
    direction = {}
    for name, parameter in model.named_parameters():
        weights = parameter.detach()
        if weights.dim() <= 1:
            direction[name] = torch.zeros_like(weights)
            continue
        draw = torch.randn(weights.shape, generator=generator, dtype=weights.dtype).to(weights.device)
        scale = weights.flatten(1).norm(dim=1) / (draw.flatten(1).norm(dim=1) + 1e-10)
        direction[name] = draw * scale.view(-1, *[1] * (weights.dim() - 1))
    return direction


@follows_thread_policy
def loss_landscape(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    directions: int = 1,
    points: int = 21,
    span: float | tuple[float, float] | None = None,
    towards: nn.Module | None = None,
    seed: int = 0,
    batch_size: int = 500,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> LossLandscape:
    """The loss around a trained net along 1 or 2 filter-normalized random directions.

    Args:
        directions: 1 (a curve) or 2 (a ``points`` x ``points`` grid).
        points: evaluations along each direction; odd counts put one at the trained weights.
        span: coordinates from ``-span`` to ``span`` (a number), or ``(first, last)``;
            default 1 (the paper's plots run from -1 to 1), or (-0.5, 1.5) with ``towards``.
        towards: another net of the same architecture: interpolate from ``model`` (0) to it
            (1) instead of a random direction (``directions`` must be 1).
        seed: the random directions; the same seed gives the same directions for nets of the
            same architecture.

    See the module docstring for the budget; a tqdm bar shows the progress. The model runs
    in eval mode where it is (or on ``device``) and gets its weights back exactly.
    """
    check_model(model, what="loss_landscape")
    images = check_images(model, images)
    labels = check_labels(model, images, labels)
    directions = check_whole_number("directions", directions, minimum=1, maximum=2)
    points = check_whole_number("points", points, minimum=2)
    seed = check_whole_number("seed", seed, minimum=0)
    batch_size = check_whole_number("batch_size", batch_size, minimum=1)
    first, last = _span(span, towards is not None)
    if towards is not None:
        _check_same_architecture(model, towards)
        if directions != 1:
            raise ValueError("an interpolation towards another net is a 1-D slice; use directions=1")

    from tqdm.auto import tqdm

    coordinates = np.linspace(first, last, points)
    grid = ([(a, 0.0) for a in coordinates] if directions == 1
            else [(a, b) for b in coordinates for a in coordinates])
    loss = np.full(len(grid), np.nan)
    error = np.full(len(grid), np.nan)
    started = time.perf_counter()
    with computing_on(model, device) as target, as_found(model, training=False):
        images, labels = images.to(target), labels.to(target)
        state = _floating_state(model, include_buffers=towards is not None)
        origin = {name: tensor.detach().clone() for name, tensor in state.items()}
        if towards is None:
            generator = torch.Generator().manual_seed(seed)
            first_direction = filter_normalized_direction(model, generator)
            second_direction = filter_normalized_direction(model, generator) if directions == 2 else None
        else:
            other = dict(towards.state_dict())
            first_direction = {name: other[name].to(target, origin[name].dtype) - origin[name]
                               for name in origin}
            second_direction = None
        bar = tqdm(total=len(grid), desc=f"loss landscape of {model_name(model)}", disable=not progress)
        try:
            with torch.no_grad():
                for index, (a, b) in enumerate(grid):
                    for name, tensor in state.items():
                        moved = origin[name] + a * first_direction[name]
                        if second_direction is not None:
                            moved = moved + b * second_direction[name]
                        if name.endswith("running_var"):
                            moved = moved.clamp(min=0)  # extrapolated variances can turn negative
                        tensor.copy_(moved)
                    loss[index], error[index] = _loss_and_error(model, images, labels, batch_size)
                    bar.update(1)
        finally:
            bar.close()
            with torch.no_grad():
                for name, tensor in state.items():
                    tensor.copy_(origin[name])
    shape = (points,) if directions == 1 else (points, points)
    return LossLandscape(
        model_name=model_name(model), kind="random" if towards is None else "interpolation",
        x=coordinates, y=None if directions == 1 else coordinates.copy(),
        loss=loss.reshape(shape), error=error.reshape(shape), images=len(images), seed=seed,
        seconds=time.perf_counter() - started,
        towards_name=None if towards is None else model_name(towards))


def _loss_and_error(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                    batch_size: int) -> tuple[float, float]:
    total_loss, wrong = 0.0, 0
    for start in range(0, len(images), batch_size):
        logits = model(images[start:start + batch_size]).float()
        batch_labels = labels[start:start + batch_size]
        total_loss += float(F.cross_entropy(logits, batch_labels, reduction="sum"))
        wrong += int((logits.argmax(1) != batch_labels).sum())
    return total_loss / len(images), wrong / len(images)


def _floating_state(model: nn.Module, *, include_buffers: bool) -> dict[str, torch.Tensor]:
    """The tensors a slice moves: the parameters, and BN's running statistics for interpolations."""
    state = dict(model.named_parameters())
    if include_buffers:
        state.update({name: buffer for name, buffer in model.named_buffers()
                      if torch.is_floating_point(buffer)})
    return state


def _span(span, interpolation: bool) -> tuple[float, float]:
    if span is None:
        return (-0.5, 1.5) if interpolation else (-1.0, 1.0)
    if isinstance(span, numbers.Real) and not isinstance(span, bool):
        value = check_positive_number("span", span)
        return -value, value
    if (isinstance(span, (tuple, list)) and len(span) == 2
            and all(isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v) for v in span)
            and span[0] < span[1]):
        return float(span[0]), float(span[1])
    raise ValueError(f"span must be a positive number (coordinates -span..span) or a pair "
                     f"(first, last) with first < last, got {span!r}")


def _check_same_architecture(model: nn.Module, other) -> None:
    if not isinstance(other, nn.Module):
        raise TypeError(f"towards must be another net of the same architecture, not {type(other).__name__}")
    configs = [getattr(net, "config", None) for net in (model, other)]
    if all(config is not None for config in configs) and configs[0] != configs[1]:
        raise ValueError(f"towards must have the same architecture as the model, but {model_name(model)} "
                         f"and {model_name(other)} differ; interpolate between two trainings of one net")
    mine, theirs = model.state_dict(), other.state_dict()
    if mine.keys() != theirs.keys() or any(mine[k].shape != theirs[k].shape for k in mine):
        raise ValueError(f"towards must have the same architecture as the model: {model_name(model)} and "
                         f"{model_name(other)} differ in their weights' names or shapes")
