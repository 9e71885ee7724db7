"""Can an attribution map be trusted? Two checks with known answers.

1. **Cascading randomization** (Adebayo et al. 2018, "Sanity Checks for Saliency Maps",
   Section 3.1): re-initialize the trained model's weights from the top (``fc``, then the last
   block, ... down to the stem), and after each step compare each method's maps with the maps
   of the trained model by Spearman rank correlation of their absolute values. A map that
   explains the model must change when the model's weights are destroyed; a map that stays
   highly correlated (guided backprop often does) shows the image's edges, not the model.

2. **A task with a known answer** (``known_region_images``, ``mass_in_region``): images of
   noise with one bright or dark patch that alone decides the class. A model that learned the
   task can only use the patch, so a faithful map puts most of its mass around it.

Example::

    from resnet_explorer.sanity import cascading_randomization
    result = cascading_randomization(model, dataset.test_images[:4], ["saliency", "gradcam"])
    result.correlations["gradcam"]        # one mean correlation per step, step_names says which
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from .attribution import attribute
from .attribution_methods import ATTRIBUTION_METHODS, normalize_method_name
from .checks import check_images, check_model, model_name
from .device import computing_on, model_device
from .models import build_model


@dataclass(repr=False)
class SanityCheckResult:
    """Rank correlations between the trained model's maps and those of ever more random models.

    Attributes:
        model_name: e.g. ``"ResNet-20 (A)"``.
        methods: the methods compared, in order.
        step_names: what was re-initialized at each step, cumulatively from the top: ``"fc"``,
            ``"stage3.block3"``, ..., ``"stem"`` (or whole stages with ``steps="stages"``).
        correlations: per method, the Spearman correlation averaged over the images, one value
            per step (``nan`` where a map became constant, e.g. an all-zero Grad-CAM).
        per_image: per method, a (steps, N) array of the correlations of each image.
        original_maps: per method, the trained model's (N, H, W) maps.
        randomized_maps: per method, one (N, H, W) tensor per step.
        absolute: whether maps were compared by absolute value (the paper's choice).
    """

    model_name: str
    methods: list[str]
    step_names: list[str]
    correlations: dict[str, list[float]]
    per_image: dict[str, np.ndarray]
    original_maps: dict[str, torch.Tensor]
    randomized_maps: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    absolute: bool = True

    def __repr__(self) -> str:
        finals = ", ".join(f"{ATTRIBUTION_METHODS[m].label} {self.correlations[m][-1]:+.2f}" for m in self.methods)
        return (f"SanityCheckResult({self.model_name}, {len(self.step_names)} steps; "
                f"correlation after the last step: {finals})")


def randomization_steps(model: nn.Module, steps: str = "blocks") -> list[tuple[str, list[nn.Module]]]:
    """The cascade, from the top: ``[(name, modules to re-initialize), ...]``.

    ``steps="blocks"``: ``fc`` (with the final BN of pre-activation nets), each block from the
    last to the first, then the stem. ``steps="stages"``: ``fc``, each stage, the stem.
    """
    if steps not in ("blocks", "stages"):
        raise ValueError(f"steps must be 'blocks' or 'stages', got {steps!r}")
    children = dict(model.named_children())
    head = [children[name] for name in ("final_bn", "fc") if name in children]
    stages = [name for name in children if name.startswith("stage")]
    if not head or not stages or "stem" not in children:
        raise ValueError(
            "cascading randomization needs a resnet_explorer model (stem, stage1..., fc); "
            "build one with build_model or convert one with from_torchvision"
        )
    cascade: list[tuple[str, list[nn.Module]]] = [("fc", head)]
    for stage_name in reversed(stages):
        stage = children[stage_name]
        if steps == "stages":
            cascade.append((stage_name, [stage]))
            continue
        for block_name, block in reversed(list(stage.named_children())):
            cascade.append((f"{stage_name}.{block_name}", [block]))
    cascade.append(("stem", [children["stem"]]))
    return cascade


def reinitialize(module: nn.Module, generator: torch.Generator | None = None) -> None:
    """Give ``module``'s layers fresh random weights, as a newly built model has.

    Convolutions and linear layers: He (Kaiming) normal init, the builder's; biases zero.
    BN layers: weight 1, bias 0 and fresh running statistics (mean 0, variance 1).
    """
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu", generator=generator)
                if layer.bias is not None:
                    layer.bias.zero_()
            elif isinstance(layer, nn.modules.batchnorm._BatchNorm):
                layer.reset_parameters()  # weight 1, bias 0, running mean 0 and variance 1


def spearman_correlation(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> np.ndarray:
    """Spearman rank correlation of each pair of maps: ``a``, ``b`` of shape (N, ...) -> (N,).

    Ties get their average rank (Grad-CAM maps hold many zeros). A constant map has no ranks to
    correlate: its correlation is ``nan``.
    """
    a = _as_rows(a)
    b = _as_rows(b)
    if a.shape != b.shape:
        raise ValueError(f"maps to compare have different shapes {a.shape} and {b.shape}")
    result = np.empty(len(a))
    for i, (x, y) in enumerate(zip(a, b)):
        rx_, ry = average_ranks(x), average_ranks(y)
        rx_ -= rx_.mean()
        ry -= ry.mean()
        denominator = np.sqrt((rx_ * rx_).sum() * (ry * ry).sum())
        result[i] = (rx_ * ry).sum() / denominator if denominator > 0 else np.nan
    return result


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of a 1-D array, ties sharing their average rank (as scipy's ``rankdata``)."""
    values = np.asarray(values)
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts_group = np.r_[True, ordered[1:] != ordered[:-1]]
    group = np.cumsum(starts_group) - 1
    starts = np.flatnonzero(starts_group)
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values))
    ranks[order] = ((starts + ends - 1) / 2.0 + 1.0)[group]
    return ranks


def cascading_randomization(
    model: nn.Module,
    images: torch.Tensor,
    methods: Sequence[str] = ("saliency", "integrated_gradients", "guided_backprop", "gradcam"),
    target: int | Sequence[int] | torch.Tensor | None = None,
    *,
    steps: str = "blocks",
    absolute: bool = True,
    seed: int = 0,
    layer: str | None = None,
    keep_maps: bool = True,
    device: torch.device | str | None = None,
    method_options: dict[str, dict[str, Any]] | None = None,
) -> SanityCheckResult:
    """Adebayo et al.'s cascading randomization test on a copy of ``model``.

    Args:
        model: a trained model; it is deep-copied and never changed.
        images: (N, C, H, W) standardized images (or one image).
        methods: attribution methods (see ``resnet_explorer.attribution.METHODS``).
        target: the class to explain; default the trained model's prediction, kept fixed
            through the cascade so every map explains the same class.
        steps: ``"blocks"`` (fc, each block from the last, the stem) or ``"stages"``.
        absolute: compare absolute values of the maps (the paper's main figures) or signed.
        seed: for the random weights.
        layer: Grad-CAM's layer (default the last stage).
        keep_maps: keep every step's maps in the result (for figures).
        device: where to compute; default where the model is. The copy is made there.
        method_options: per method, options passed to ``attribute`` (e.g. fewer IG steps).
    """
    methods = [normalize_method_name(m) for m in methods]
    if not methods:
        raise ValueError("give at least one method to check")
    check_model(model, what="cascading_randomization")
    images = check_images(model, images, allow_single=True)
    method_options = {normalize_method_name(k): v for k, v in (method_options or {}).items()}

    def maps_of(net: nn.Module, method: str, tgt) -> torch.Tensor:
        options = method_options.get(method, {})
        return attribute(net, images, method, tgt, layer, **options).maps

    with computing_on(model, device):
        randomized = copy.deepcopy(model)
        cascade = randomization_steps(randomized, steps)
        generator = torch.Generator(device=model_device(randomized)).manual_seed(seed)
        original = {m: maps_of(model, m, target) for m in methods}
        if target is None:
            # Fix the class: after randomization the prediction changes, the question does not.
            target = attribute(model, images, "saliency").target

        per_image = {m: np.empty((len(cascade), len(images))) for m in methods}
        randomized_maps: dict[str, list[torch.Tensor]] = {m: [] for m in methods}
        for step, (_, modules) in enumerate(cascade):
            for module in modules:
                reinitialize(module, generator)
            for method in methods:
                maps = maps_of(randomized, method, target)
                a, b = (original[method].abs(), maps.abs()) if absolute else (original[method], maps)
                per_image[method][step] = spearman_correlation(a, b)
                if keep_maps:
                    randomized_maps[method].append(maps)

    correlations = {m: [_nanmean(row) for row in per_image[m]] for m in methods}
    return SanityCheckResult(
        model_name=model_name(model),
        methods=methods,
        step_names=[name for name, _ in cascade],
        correlations=correlations,
        per_image=per_image,
        original_maps=original,
        randomized_maps=randomized_maps if keep_maps else {},
        absolute=absolute,
    )


# ---------------------------------------------------------------------------------------------
# A task with a known answer


RULES = ("stripes", "polarity", "quadrant")


def known_region_images(
    n: int,
    image_size: int = 16,
    in_channels: int = 1,
    *,
    rule: str = "stripes",
    patch_size: int | None = None,
    brightness: float = 3.0,
    noise: float = 1.0,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Noise images with one square patch in a random quadrant; only the patch tells the class.

    ``rule="polarity"``: class 0 if the patch is bright (``+brightness``), 1 if dark.
    ``rule="quadrant"``: the class (0-3) is the quadrant holding a bright patch: 0 top-left,
    1 top-right, 2 bottom-left, 3 bottom-right. A model that learned the quadrant rule must
    know *where* the patch is, which a CNN with global pooling learns from the image border:
    its last-stage units far from the patch then carry the answer too, and Grad-CAM on the
    last stage often lights up the wrong quadrant. A lesson in itself.

    The patch (default a quarter of the side) sits at a random place inside its quadrant;
    everything else is normal noise with standard deviation ``noise``. Returns ``(images (n, C, S, S), labels (n,),
    masks (n, S, S) bool)``; ``masks`` marks the quadrant holding the patch (a quarter of the
    image): a faithful map of a model that solves the task puts its mass there.
    """
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; allowed: {', '.join(RULES)}")
    if image_size < 4 or image_size % 2:
        raise ValueError(f"image_size must be even and at least 4, got {image_size}")
    half = image_size // 2
    patch = patch_size or max(1, image_size // 4)
    if not 1 <= patch <= half:
        raise ValueError(f"patch_size must be from 1 to {half}, got {patch}")
    generator = torch.Generator().manual_seed(seed)
    images = noise * torch.randn(n, in_channels, image_size, image_size, generator=generator)
    quadrants = torch.randint(0, 4, (n,), generator=generator)
    offsets = torch.randint(0, half - patch + 1, (n, 2), generator=generator)
    labels = quadrants.clone() if rule == "quadrant" else torch.randint(0, 2, (n,), generator=generator)
    alternating = 1.0 - 2.0 * (torch.arange(patch) % 2)  # +1, -1, +1, ...
    horizontal = alternating[:, None].expand(patch, patch)
    patterns = {
        "quadrant": [torch.ones(patch, patch)] * 4,
        "polarity": [torch.ones(patch, patch), -torch.ones(patch, patch)],
        "stripes": [horizontal, horizontal.T],
    }[rule]
    masks = torch.zeros(n, image_size, image_size, dtype=torch.bool)
    for i in range(n):
        top, left = half * (int(quadrants[i]) // 2), half * (int(quadrants[i]) % 2)
        row, column = top + int(offsets[i, 0]), left + int(offsets[i, 1])
        images[i, :, row : row + patch, column : column + patch] = brightness * patterns[int(labels[i])]
        masks[i, top : top + half, left : left + half] = True
    return images, labels, masks


def train_known_region_model(
    rule: str = "stripes",
    *,
    depth: int = 8,
    width: int = 8,
    shortcut: str = "A",
    image_size: int = 16,
    noise: float = 0.5,
    steps: int = 60,
    seed: int = 0,
) -> nn.Module:
    """A small net taught the ``known_region_images`` task in seconds on one CPU core.

    A deliberately bare SGD loop (batch 64, lr 0.05, momentum 0.9) on 2,048 fresh images, so
    this check depends on nothing but the builder. With the defaults the model classifies
    held-out images perfectly. Returned in eval mode.
    """
    torch.manual_seed(seed)
    num_classes = 4 if rule == "quadrant" else 2
    model = build_model(depth, shortcut=shortcut, in_channels=1, num_classes=num_classes, width=width)
    images, labels, _ = known_region_images(2048, image_size, rule=rule, noise=noise, seed=seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        batch = torch.randint(0, len(images), (64,), generator=generator)
        loss = nn.functional.cross_entropy(model(images[batch]), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return model.eval()


def mass_in_region(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """The fraction of each map's absolute mass inside its mask: (N, H, W), (N, H, W) -> (N,).

    A map spread evenly scores the mask's share of the area (0.25 for a quadrant).
    """
    if maps.shape != masks.shape:
        raise ValueError(f"maps {tuple(maps.shape)} and masks {tuple(masks.shape)} differ in shape")
    magnitude = maps.detach().abs().float().flatten(1)
    inside = (magnitude * masks.flatten(1).float()).sum(dim=1)
    total = magnitude.sum(dim=1)
    return torch.where(total > 0, inside / total.clamp_min(1e-30), torch.full_like(total, float("nan")))


def _as_rows(maps: torch.Tensor | np.ndarray) -> np.ndarray:
    array = maps.detach().cpu().double().numpy() if isinstance(maps, torch.Tensor) else np.asarray(maps, float)
    return array.reshape(len(array), -1)


def _nanmean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else float("nan")
