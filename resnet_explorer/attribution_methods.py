"""The attribution methods, each described once: one ``AttributionMethod`` entry per method.

An entry says everything the package knows about a method: its name and label, the paper, how
captum computes it, its options (default, check, and the words the explorer's status line uses),
whether its maps carry a sign (which picks the figures' colour scale: purple-orange for signed
maps, orange for magnitudes), its colour in line plots, and whether it looks at a layer.
``attribution.attribute`` runs an entry, ``figures.attribution`` labels and colours by it, and
the attribution explorer builds its menu and status line from it.

Adding a method means writing one ``compute`` function and one entry below, and adding the
entry to ``ATTRIBUTION_METHODS``; the probe, the figures, the explorer, the sanity check and
the benchmark pick it up from there.

This module imports captum only when a method runs, and never plotly.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .checks import check_choice, check_finite_number, check_positive_number, check_whole_number

#: What a method's ``compute`` returns: captum's output, the (N, H, W) maps and, for
#: integrated gradients, the convergence delta (else ``None``).
Computed = tuple[torch.Tensor, torch.Tensor, "torch.Tensor | None"]


@dataclass(frozen=True)
class Option:
    """One option of a method.

    Attributes:
        name: the keyword ``attribute`` takes.
        default: its value when not given (``None``: sized to the image by the method's
            ``fit_to_image``).
        check: ``check(what, value)`` returns the value to use or raises ``ValueError``
            naming ``what`` and what is allowed; it refuses values that only look right
            (``True`` for 1, ``"3"`` for 3, NaN).
        words: how the explorer's status line says the value ("32 steps"); ``None`` for
            options that change the speed only, not the map (batch sizes).
    """

    name: str
    default: Any
    check: Callable[[str, Any], Any]
    words: Callable[[Any], str] | None = None


@dataclass(frozen=True)
class AttributionMethod:
    """Everything about one attribution method, read by the probe, the figures and the explorer.

    Attributes:
        name: the key ``attribute`` takes (``"integrated_gradients"``).
        label: the readable name for legends and menus (``"Integrated Gradients"``).
        paper: where it comes from (``"Sundararajan et al. 2017"``).
        summary: what the map shows, in one line (the explorer's tooltip).
        compute: ``compute(model, images, target, layer, options)`` calls captum on images
            that require gradients and returns ``(raw, maps, convergence_delta)``;
            ``layer`` is the module for methods that ``takes_layer``, else ``None``.
        options: the options it takes, in the order the status line names them.
        signed: whether its maps carry a sign (negative = evidence against the class), or a
            function of the resolved options that says so. Figures draw signed maps on the
            purple-orange diverging scale and the others on the orange magnitude scale.
        color: its colour in line plots: an Okabe-Ito name of ``figures.style.OKABE_ITO``
            or a CSS colour; one of those left after blue (ResNets) and vermillion (plain nets).
        aliases: other spellings ``normalize_method_name`` accepts (``"ig"``).
        takes_layer: whether it explains a layer's output (Grad-CAM) and so uses ``layer``.
        fit_to_image: fills in options sized to the image (``None`` defaults) and checks
            those that depend on it: ``fit_to_image(options, (H, W)) -> options``.
        check_model: raises ``ValueError`` before anything runs if the method cannot explain
            this model (guided backprop and inplace ReLUs).
    """

    name: str
    label: str
    paper: str
    summary: str
    compute: Callable[..., Computed]
    color: str
    options: tuple[Option, ...] = ()
    signed: bool | Callable[[Mapping[str, Any]], bool] = True
    aliases: tuple[str, ...] = ()
    takes_layer: bool = False
    fit_to_image: Callable[[dict[str, Any], tuple[int, int]], dict[str, Any]] | None = None
    check_model: Callable[[nn.Module], None] | None = None

    @property
    def defaults(self) -> dict[str, Any]:
        """``{option: default}``, e.g. ``{"n_steps": 32, "baseline": 0.0, ...}``."""
        return {option.name: option.default for option in self.options}

    def resolve_options(self, given: Mapping[str, Any], image_size: tuple[int, int]) -> dict[str, Any]:
        """The options to run with: ``given`` checked, defaults filled in, sized to the image."""
        known = {option.name: option for option in self.options}
        unknown = sorted(set(given) - set(known))
        if unknown:
            allowed = ", ".join(known) or "none"
            raise ValueError(f"{self.name} does not take option(s) {', '.join(unknown)}; its options: {allowed}")
        resolved = {
            name: option.check(f"{self.name} option {name}", given[name]) if name in given else option.default
            for name, option in known.items()
        }
        return self.fit_to_image(resolved, tuple(image_size)) if self.fit_to_image else resolved

    def is_signed(self, options: Mapping[str, Any]) -> bool:
        """Whether maps computed with these (resolved) options carry a sign."""
        return self.signed(options) if callable(self.signed) else self.signed

    def describe_options(self, options: Mapping[str, Any]) -> str:
        """The options that shape a map, in words for the status line ("32 steps, baseline 0")."""
        words = {option.name: option.words for option in self.options if option.words}
        said = (words[name](value) for name, value in options.items() if name in words)
        return ", ".join(text for text in said if text)


# ---------------------------------------------------------------------------------------------
# Checks and words shared by several options


def _positive_whole_number(what: str, value) -> int:
    return check_whole_number(what, value, minimum=1)


def _positive_whole_number_or_none(what: str, value) -> int | None:
    return None if value is None else _positive_whole_number(what, value)


def _true_or_false(what: str, value) -> bool:
    check_choice(what, value, (True, False))
    return value


def _baseline_value(what: str, value) -> float | torch.Tensor:
    """A number or a tensor of finite standardized values (0 is the dataset's mean image)."""
    if isinstance(value, torch.Tensor):
        if not torch.is_floating_point(value) or not torch.isfinite(value).all():
            raise ValueError(f"{what} must be a number or a float tensor of finite standardized values "
                             f"shaped like one image (C, H, W) or the batch; got a {value.dtype} tensor "
                             "with non-finite or integer values")
        return value
    return check_finite_number(f"{what} (a number or a tensor shaped like the images)", value)


def _baseline_words(value) -> str:
    return f"baseline {value:g}" if isinstance(value, numbers.Real) else "baseline image"


def _baseline(value: float | torch.Tensor, images: torch.Tensor) -> torch.Tensor | float:
    """The baseline as captum takes it: a float, or a tensor the shape of ``images``."""
    if not isinstance(value, torch.Tensor):
        return float(value)
    batched = value[None] if value.dim() == 3 else value
    if batched.dim() != 4 or batched.shape[0] not in (1, len(images)) or batched.shape[1:] != images.shape[1:]:
        raise ValueError(f"the baseline tensor has shape {tuple(value.shape)}; give one image "
                         f"{tuple(images.shape[1:])} or one per image {tuple(images.shape)}")
    return batched.to(images.device, images.dtype).expand_as(images).contiguous()


# The informational warning captum prints on every guided backprop call.
_CAPTUM_RELU_HOOK_WARNING = "Setting backward hooks on ReLU activations"


# ---------------------------------------------------------------------------------------------
# The methods


def _saliency(model: nn.Module, images, target, layer, options) -> Computed:
    from captum.attr import Saliency

    raw = Saliency(model).attribute(images, target=target, abs=True)
    return raw, raw.sum(dim=1), None


SALIENCY = AttributionMethod(
    name="saliency",
    label="Saliency",
    paper="Simonyan et al. 2014",
    summary="the gradient of the class score with respect to the pixels; map: |gradient| summed "
            "over channels",
    compute=_saliency,
    color="sky blue",
    signed=False,
)


def _integrated_gradients(model: nn.Module, images, target, layer, options) -> Computed:
    from captum.attr import IntegratedGradients

    raw, delta = IntegratedGradients(model).attribute(
        images,
        baselines=_baseline(options["baseline"], images),
        target=target,
        n_steps=options["n_steps"],
        internal_batch_size=max(options["internal_batch_size"], len(images)),
        return_convergence_delta=True,
    )
    return raw, raw.sum(dim=1), delta


INTEGRATED_GRADIENTS = AttributionMethod(
    name="integrated_gradients",
    label="Integrated Gradients",
    paper="Sundararajan et al. 2017",
    summary="gradients averaged along the straight path from a baseline (default all zeros, the "
            "mean image) to the image, times image - baseline; map: signed, summed over channels, "
            "so it adds up to f(image) - f(baseline)",
    compute=_integrated_gradients,
    color="bluish green",
    # Gauss-Legendre quadrature. Measured on ResNet-20 trained on Fashion-MNIST (8 test images):
    # 32 steps give maps with rank correlation 0.999 to 256 steps' maps and a convergence delta
    # of about 1.6% of the attributions' sum (median). Raise n_steps for tighter completeness.
    options=(
        Option("n_steps", 32, _positive_whole_number, lambda value: f"{value} steps"),
        Option("baseline", 0.0, _baseline_value, _baseline_words),
        Option("internal_batch_size", 64, _positive_whole_number),
    ),
    aliases=("ig",),
)


def _smoothgrad(model: nn.Module, images, target, layer, options) -> Computed:
    from captum.attr import NoiseTunnel, Saliency

    value_range = float(images.detach().max() - images.detach().min()) or 1.0
    with torch.random.fork_rng(devices=[images.device] if images.device.type == "cuda" else []):
        torch.manual_seed(options["seed"])
        raw = NoiseTunnel(Saliency(model)).attribute(
            images,
            nt_type="smoothgrad",
            nt_samples=options["nt_samples"],
            nt_samples_batch_size=options["nt_samples_batch_size"],
            stdevs=float(options["noise_level"] * value_range),
            target=target,
            abs=True,
        )
    return raw, raw.sum(dim=1), None


SMOOTHGRAD = AttributionMethod(
    name="smoothgrad",
    label="SmoothGrad",
    paper="Smilkov et al. 2017",
    summary="saliency averaged over noisy copies of the image; map: mean |gradient| summed over "
            "channels",
    compute=_smoothgrad,
    color="reddish purple",
    # Noise of 15% of the image's value range (Smilkov et al. recommend 10-20%). On the same
    # model 16 samples give maps with rank correlation 0.95 to a 128-sample map (8: 0.92, 32: 0.97).
    options=(
        Option("nt_samples", 16, _positive_whole_number, lambda value: f"{value} noisy copies"),
        Option("noise_level", 0.15, lambda what, value: check_positive_number(what, value, allow_zero=True),
               lambda value: f"noise {value:.0%} of the value range"),
        Option("seed", 0, lambda what, value: check_whole_number(what, value, 0, 2**64 - 1)),
        Option("nt_samples_batch_size", 16, _positive_whole_number),
    ),
    signed=False,
    aliases=("smooth_grad",),
)


def _check_relus_are_separate(model: nn.Module) -> None:
    """Guided backprop hooks every ReLU module: each must be its own and not inplace."""
    if any(isinstance(m, nn.ReLU) and m.inplace for m in model.modules()):
        raise ValueError(
            "guided backprop needs non-inplace ReLU modules, each used once; this model has "
            "inplace ones (torchvision's ResNets share one). Convert it with rx.from_torchvision(model)"
        )


def _guided_backprop(model: nn.Module, images, target, layer, options) -> Computed:
    from captum.attr import GuidedBackprop

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_CAPTUM_RELU_HOOK_WARNING)
        raw = GuidedBackprop(model).attribute(images, target=target)
    return raw, raw.sum(dim=1), None


GUIDED_BACKPROP = AttributionMethod(
    name="guided_backprop",
    label="Guided Backprop",
    paper="Springenberg et al. 2015",
    summary="the gradient with negative gradients stopped at every ReLU; map: signed, summed over "
            "channels",
    compute=_guided_backprop,
    color="orange",
    aliases=("guided_backpropagation",),
    check_model=_check_relus_are_separate,
)


def _gradcam(model: nn.Module, images, target, layer, options) -> Computed:
    from captum.attr import LayerAttribution, LayerGradCam

    raw = LayerGradCam(model, layer).attribute(images, target=target,
                                               relu_attributions=options["relu_attributions"])
    if raw.dim() != 4:
        raise ValueError(
            f"Grad-CAM needs a layer whose output is an image-like (N, C, h, w) map; this one "
            f"gives shape {tuple(raw.shape)}; pick a stage or a conv layer"
        )
    upsampled = LayerAttribution.interpolate(raw, tuple(images.shape[-2:]), interpolate_mode="bilinear")
    return raw, upsampled[:, 0], None


GRADCAM = AttributionMethod(
    name="gradcam",
    label="Grad-CAM",
    paper="Selvaraju et al. 2017",
    summary="a stage's output weighted by the class score's gradient, upsampled bilinearly to the "
            "image; map: non-negative after its ReLU by default",
    compute=_gradcam,
    color="black",
    options=(
        Option("relu_attributions", True, _true_or_false,
               lambda value: "positive evidence only" if value else "positive and negative evidence"),
    ),
    signed=lambda options: not options["relu_attributions"],
    aliases=("grad_cam",),
    takes_layer=True,
)


def _occlusion(model: nn.Module, images, target, layer, options) -> Computed:
    from captum.attr import Occlusion

    channels = images.shape[1]
    raw = Occlusion(model).attribute(
        images,
        sliding_window_shapes=(channels, options["window"], options["window"]),
        strides=(channels, options["stride"], options["stride"]),
        baselines=_baseline(options["baseline"], images),
        target=target,
        perturbations_per_eval=options["perturbations_per_eval"],
    )
    return raw, raw.mean(dim=1), None  # every channel holds the same value


def _fit_occlusion_window(options: dict[str, Any], image_size: tuple[int, int]) -> dict[str, Any]:
    # window: 1/8 of the image side (4 px on 32x32, 4 on 28x28, 28 on 224x224), stride half of
    # it, so each pixel is covered by about four windows and the map is not blocky.
    side = min(image_size)
    window = options["window"] if options["window"] is not None else max(1, round(side / 8))
    check_whole_number(f"occlusion option window (a square's side, at most the image's {side} px)",
                       window, 1, side)
    stride = options["stride"] if options["stride"] is not None else max(1, window // 2)
    return {**options, "window": window, "stride": stride}


OCCLUSION = AttributionMethod(
    name="occlusion",
    label="Occlusion",
    paper="Zeiler & Fergus 2014",
    summary="how much the class score drops when a gray (zero) square covers each place; map: "
            "signed, positive where the square hurt the score",
    compute=_occlusion,
    color="#B5A800",  # Okabe-Ito yellow, darkened to read on white
    options=(
        Option("window", None, _positive_whole_number_or_none, lambda value: f"{value} px window" if value else ""),
        Option("stride", None, _positive_whole_number_or_none, lambda value: f"stride {value} px" if value else ""),
        Option("baseline", 0.0, _baseline_value, _baseline_words),
        Option("perturbations_per_eval", 64, _positive_whole_number),
    ),
    fit_to_image=_fit_occlusion_window,
)

#: Every method, by name, in the order menus and figures list them. The defaults keep all six
#: methods on one 32x32 image of ResNet-56 within about 2 s on two CPU cores
#: (benchmarks/bench_attribution.py).
ATTRIBUTION_METHODS: dict[str, AttributionMethod] = {
    method.name: method
    for method in (SALIENCY, INTEGRATED_GRADIENTS, SMOOTHGRAD, GUIDED_BACKPROP, GRADCAM, OCCLUSION)
}
METHODS: tuple[str, ...] = tuple(ATTRIBUTION_METHODS)


def normalize_method_name(method: str) -> str:
    """``"Integrated Gradients"``, ``"integrated-gradients"``, ``"IG"`` -> ``"integrated_gradients"``."""
    if not isinstance(method, str):
        raise ValueError(f"method must be a string, one of {', '.join(METHODS)}; got {method!r}")
    name = method.strip().lower().replace("-", "_").replace(" ", "_")
    for entry in ATTRIBUTION_METHODS.values():
        if name in entry.aliases:
            return entry.name
    if name not in ATTRIBUTION_METHODS:
        raise ValueError(f"unknown attribution method {method!r}; choose one of {', '.join(METHODS)}")
    return name

