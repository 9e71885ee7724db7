"""Shattered gradients (Balduzzi et al. 2017, "The Shattered Gradients Problem").

At initialization, take the gradient of a net's output with respect to its input at many
points along a line of inputs. In a shallow net, or a ResNet, neighbouring points have
similar gradients: plotted along the line, the gradient wanders like *brown noise* (a random
walk). In a deep plain net it jumps from point to point like *white noise*: "the correlation
between gradients in standard feedforward networks decays exponentially with depth resulting
in gradients that resemble white noise" (the paper's abstract). A gradient that changes
completely between neighbouring inputs says little about what a small step will do.

- ``gradient_along_line(model, start, end)``: the directional derivative ``d f(x(t)) / dt``
  along ``x(t) = start + t (end - start)``, at ``points`` values of t in [0, 1]. For the
  paper's fully connected nets, ``start`` and ``end`` are numbers (the scalar input, -2 and 2
  in the paper); for our convolutional nets, two images, and ``f`` is one class's logit.
- ``autocorrelation(values)``: the sample autocorrelation against lag (1 at lag 0); the
  lag-1 value is near 1 for brown noise and near 0 for white noise.
- ``shattered_gradients(...)``: both kinds (plain and residual) at several depths and
  seeds, freshly initialized, in the paper's fully connected setting or with our CIFAR-style
  nets along a line between two images.

**Batch normalization.** The paper's nets use BN, whose statistics at initialization come from
the batch. With ``train_mode=True`` (the default) BN normalizes with the mean and variance of
the points on the line, held fixed while differentiating (as at test time, with these points'
statistics), so each point's gradient is its own. Without BN, give the net non-zero biases
(``fully_connected.py`` says why).
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ._model_state import as_found, use_batch_statistics
from .checks import check_images, check_model, check_whole_number, model_name
from .device import computing_on
from .speed import follows_thread_policy
from .fully_connected import KINDS, FullyConnectedNet, fully_connected_net
from .models import ModelConfig, build_model

SETTINGS = ("fully_connected", "convolutional")
DEFAULT_DEPTHS = {"fully_connected": (2, 10, 24, 50), "convolutional": (8, 20, 56)}
CONVOLUTIONAL_SHORTCUTS = {"plain": "none", "residual": "A"}


@dataclass
class GradientAlongLine:
    """The directional derivative of a net's output along a line of inputs.

    ``positions``: where each point lies (the scalar input for a fully connected net, t in
    [0, 1] between two images); ``gradient``: ``d f(x(t)) / dt`` there; ``output``: ``f(x(t))``.
    """

    model_name: str
    positions: np.ndarray
    gradient: np.ndarray
    output: np.ndarray


@follows_thread_policy
def gradient_along_line(
    model: nn.Module,
    start,
    end,
    *,
    points: int = 256,
    target: int | None = None,
    train_mode: bool = True,
    device: torch.device | str | None = None,
) -> GradientAlongLine:
    """``d f(x(t)) / dt`` at ``points`` evenly spaced t in [0, 1], ``x(t) = start + t (end - start)``.

    Args:
        model: a net taking (N, 1) scalars (``fully_connected_net``) with numbers ``start``,
            ``end``; or a net from ``build_model`` with two images ``start``, ``end`` (C, H, W).
        target: for a classifier, the class whose logit is ``f``; default the class the net
            scores highest at ``start``.
        train_mode: BN normalizes with the statistics of the points on the line (see the
            module docstring); ``False`` uses the model's running statistics (a trained net).

    The model is left as it was: modes, BN statistics, parameters' ``.grad``.
    """
    check_model(model, what="gradient_along_line")
    points = check_whole_number("points", points, minimum=3)
    scalar = isinstance(start, numbers.Real) and not isinstance(start, bool)
    if scalar:
        first, last = _check_scalar_line(start, end)
        line_start, line_end = torch.tensor([[first]]), torch.tensor([[last]])
    else:
        pair = check_images(model, torch.stack(_as_image_pair(start, end)))
        line_start, line_end = pair[:1], pair[1:]
        if torch.equal(line_start, line_end):
            raise ValueError("start and end are the same image; the line needs two different images")
    if target is not None:
        classes = getattr(getattr(model, "config", None), "num_classes", None)
        target = check_whole_number("target", target, minimum=0,
                                    maximum=None if classes is None else classes - 1)
    dtype = next(model.parameters()).dtype  # the model's precision (float64 for exact checks)
    line_start, line_end = line_start.to(dtype), line_end.to(dtype)
    t = torch.linspace(0, 1, points, dtype=dtype)
    with computing_on(model, device) as where:
        direction = (line_end - line_start).to(where)
        inputs = (line_start.to(where) + t.to(where).view(-1, *[1] * (line_start.dim() - 1)) * direction)
        inputs = inputs.detach().requires_grad_(True)
        with as_found(model, training=False):
            if train_mode:
                use_batch_statistics(model, inputs.detach())
            with torch.enable_grad():
                outputs = model(inputs)
                if target is None:
                    target = int(outputs[0].argmax()) if outputs.shape[1] > 1 else 0
                values = outputs[:, target]
                (gradient,) = torch.autograd.grad(values.sum(), inputs)
        derivative = (gradient * direction).flatten(1).sum(1)
    positions = np.linspace(first, last, points) if scalar else t.double().numpy()
    name = model.name if isinstance(model, FullyConnectedNet) else model_name(model)
    return GradientAlongLine(name, positions, derivative.detach().cpu().double().numpy(),
                             values.detach().cpu().double().numpy())


def _check_scalar_line(start, end) -> tuple[float, float]:
    values = []
    for what, value in (("start", start), ("end", end)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ValueError(f"{what} must be a finite number for a net of a scalar input, got {value!r}")
        values.append(float(value))
    if values[0] == values[1]:
        raise ValueError(f"start and end are both {values[0]:g}; the line needs two different points")
    return values[0], values[1]


def _as_image_pair(start, end) -> list[torch.Tensor]:
    pair = []
    for what, image in (("start", start), ("end", end)):
        if isinstance(image, np.ndarray):
            image = torch.from_numpy(image)
        if not isinstance(image, torch.Tensor) or image.dim() != 3:
            shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
            raise ValueError(f"{what} must be one image of shape (C, H, W), such as "
                             f"dataset.test_images[0], or a number for a net of a scalar input; got {shape}")
        pair.append(image)
    if pair[0].shape != pair[1].shape:
        raise ValueError(f"start and end images differ in shape: {tuple(pair[0].shape)} and "
                         f"{tuple(pair[1].shape)}")
    return pair


def autocorrelation(values, max_lag: int | None = None) -> np.ndarray:
    """The sample autocorrelation of a series at lags 0..``max_lag`` (1 at lag 0).

    ``r(k) = sum_i (g_i - mean)(g_{i+k} - mean) / sum_i (g_i - mean)**2``, the usual estimate.
    Near 1 at small lags for brown noise (a random walk), near 0 for white noise. A constant
    series has no autocorrelation: ``nan`` beyond lag 0.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or len(values) < 2:
        raise ValueError(f"values must be one series of at least 2 numbers, got shape {values.shape}")
    max_lag = len(values) - 1 if max_lag is None else check_whole_number(
        "max_lag", max_lag, minimum=0, maximum=len(values) - 1)
    centred = values - values.mean()
    energy = float(centred @ centred)
    if energy == 0:
        return np.concatenate([[1.0], np.full(max_lag, np.nan)])
    return np.array([float(centred[:len(centred) - lag] @ centred[lag:]) / energy
                     for lag in range(max_lag + 1)])


@dataclass
class ShatteredGradients:
    """Gradients along a line for plain and residual nets at initialization, by depth and seed.

    ``gradients[f, d, s]`` is the gradient trace of kind ``kinds[f]`` (plain, residual)
    at depth ``depths[d]`` with seed ``seeds[s]``; ``autocorrelations[f, d, s]`` its
    autocorrelation at lags 0..``max_lag``; ``names[f][d]`` the nets' names.
    """

    setting: str
    kinds: tuple[str, ...]
    depths: list[int]
    seeds: list[int]
    positions: np.ndarray
    position_label: str
    gradients: np.ndarray
    autocorrelations: np.ndarray
    names: list[list[str]]
    seconds: float = 0.0

    @property
    def lag1(self) -> np.ndarray:
        """Correlation at lag 1, (kinds, depths, seeds): near 1 brown noise, near 0 white."""
        return self.autocorrelations[..., 1]

    def table(self) -> str:
        """Lag-1 correlation by depth, mean ± spread over seeds, one column per kind."""
        header = f"{'depth':>6}" + "".join(f"{kind:>18}" for kind in self.kinds)
        rows = [header]
        for index, depth in enumerate(self.depths):
            cells = "".join(f"{self.lag1[f, index].mean():>11.2f} ± {self.lag1[f, index].std():.2f}"
                            for f in range(len(self.kinds)))
            rows.append(f"{depth:>6}{cells}")
        return "\n".join(rows)

    def __repr__(self) -> str:
        return (f"ShatteredGradients({self.setting}, depths {self.depths}, {len(self.seeds)} seeds, "
                f"{len(self.positions)} points; lag-1 correlation:\n{self.table()})")


@follows_thread_policy
def shattered_gradients(
    setting: str = "fully_connected",
    depths: Sequence[int] | None = None,
    *,
    seeds: Sequence[int] = (0, 1, 2),
    points: int = 256,
    start=None,
    end=None,
    width: int = 200,
    batch_norm: bool = True,
    max_lag: int | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> ShatteredGradients:
    """Gradient traces and their autocorrelation for plain and residual nets at initialization.

    Args:
        setting: ``"fully_connected"``, the paper's nets (``fully_connected_net``: scalar
            input, ``width`` ReLUs per layer, ``depths`` default 2, 10, 24, 50, the line from
            ``start=-2`` to ``end=2``); or ``"convolutional"``, our CIFAR-style plain nets and
            ResNets (option A) of ``depths`` 6n+2 (default 8, 20, 56), along the line between
            two images ``start`` and ``end`` (required), ``f`` the logit of the class the net
            scores highest at ``start``.
        seeds: one freshly initialized net per kind, depth and seed.
        points: points on the line (256 in the paper).
        batch_norm: with BN (the paper's setting; statistics of the points on the line).
        max_lag: autocorrelations are kept for lags 0..max_lag (default 32, or fewer points).
    """
    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; allowed: {', '.join(map(repr, SETTINGS))}")
    depths = list(DEFAULT_DEPTHS[setting] if depths is None else depths)
    if not depths:
        raise ValueError("depths is empty; give at least one depth")
    depths = [check_whole_number("each depth", depth, minimum=1) for depth in depths]
    seeds = [check_whole_number("each seed", seed, minimum=0) for seed in seeds]
    if not seeds:
        raise ValueError("seeds is empty; give at least one seed, e.g. seeds=(0, 1, 2)")
    points = check_whole_number("points", points, minimum=3)
    max_lag = min(32, points - 1) if max_lag is None else check_whole_number(
        "max_lag", max_lag, minimum=1, maximum=points - 1)
    if not isinstance(batch_norm, bool):
        raise ValueError(f"batch_norm must be True or False, got {batch_norm!r}")
    norm = "batch" if batch_norm else "none"
    if setting == "fully_connected":
        start, end = _check_scalar_line(-2.0 if start is None else start, 2.0 if end is None else end)
        label = "input x"

        def build(kind: str, depth: int) -> nn.Module:
            return fully_connected_net(depth, kind, width=width, batch_norm=batch_norm)
    else:
        if start is None or end is None:
            raise ValueError('the convolutional setting needs two images: shattered_gradients('
                             '"convolutional", start=data.test_images[0], end=data.test_images[1])')
        start, end = _as_image_pair(start, end)
        for depth in depths:
            ModelConfig(depth=depth)  # a clear message for a depth that is not 6n+2, before any work
        label = "position between the two images (t)"

        def build(kind: str, depth: int) -> nn.Module:
            return build_model(depth, CONVOLUTIONAL_SHORTCUTS[kind], norm=norm,
                               in_channels=start.shape[0], num_classes=10)

    from tqdm.auto import tqdm

    shape = (len(KINDS), len(depths), len(seeds))
    gradients = np.zeros((*shape, points))
    correlations = np.zeros((*shape, max_lag + 1))
    names = [[""] * len(depths) for _ in KINDS]
    positions = None
    started = time.perf_counter()
    with tqdm(total=int(np.prod(shape)), desc="shattered gradients", disable=not progress) as bar:
        for f, kind in enumerate(KINDS):
            for d, depth in enumerate(depths):
                for s, seed in enumerate(seeds):
                    with torch.random.fork_rng(devices=[]):
                        torch.manual_seed(seed)
                        net = build(kind, depth)
                    if device is not None:
                        net.to(device)
                    line = gradient_along_line(net, start, end, points=points)
                    gradients[f, d, s] = line.gradient
                    correlations[f, d, s] = autocorrelation(line.gradient, max_lag)
                    names[f][d] = line.model_name
                    positions = line.positions
                    bar.update(1)
    return ShatteredGradients(setting=setting, kinds=KINDS, depths=depths, seeds=seeds,
                              positions=positions, position_label=label, gradients=gradients,
                              autocorrelations=correlations, names=names,
                              seconds=time.perf_counter() - started)
