"""Which pixels does a ResNet look at? Attribution maps with captum, one call for six methods.

``attribute(model, images, method)`` explains the model's score for a class (by default the
predicted one) with one of ``METHODS``:

============================  ==============================================================
``"saliency"``                the gradient of the class score with respect to the pixels
                              (Simonyan et al. 2014); map: ``|gradient|`` summed over channels.
``"integrated_gradients"``    gradients averaged along the straight path from a baseline
                              (default: all zeros, the mean image in standardized units) to
                              the image, times ``image - baseline`` (Sundararajan et al. 2017);
                              map: signed, summed over channels, so it adds up to
                              ``f(image) - f(baseline)`` (completeness).
``"smoothgrad"``              saliency averaged over noisy copies of the image (Smilkov et al.
                              2017); map: mean ``|gradient|`` summed over channels.
``"guided_backprop"``         the gradient with negative gradients stopped at every ReLU
                              (Springenberg et al. 2015); map: signed, summed over channels.
``"gradcam"``                 Grad-CAM (Selvaraju et al. 2017) on a stage's output, upsampled
                              bilinearly to the image; map: ReLU'd (non-negative) by default.
``"occlusion"``               how much the class score drops when a gray (zero) square covers
                              each place (Zeiler & Fergus 2014); map: signed, positive where
                              the square hurt the score.
============================  ==============================================================

The result is an ``Attribution`` with ``maps`` of shape (N, H, W), the raw captum output and
the model's prediction. ``Attribution.signed`` says whether a map can be negative.

Example::

    import resnet_explorer as rx
    from resnet_explorer.attribution import attribute
    result = attribute(model, dataset.test_images[:4], "gradcam", layer="stage2")
    result.maps.shape            # (4, 28, 28)

Guided backprop needs every ReLU to be its own, non-inplace module; ``build_model`` and
``from_torchvision`` give exactly that. For nets with tanh or sigmoid there is no ReLU to
guide, and guided backprop equals the plain gradient.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_images, check_model, model_name
from .device import computing_on
from .hooks import hooked

METHODS: tuple[str, ...] = (
    "saliency",
    "integrated_gradients",
    "smoothgrad",
    "guided_backprop",
    "gradcam",
    "occlusion",
)

#: Readable names for legends and menus.
METHOD_LABELS: dict[str, str] = {
    "saliency": "Saliency",
    "integrated_gradients": "Integrated Gradients",
    "smoothgrad": "SmoothGrad",
    "guided_backprop": "Guided Backprop",
    "gradcam": "Grad-CAM",
    "occlusion": "Occlusion",
}

#: Options each method takes, with their defaults. ``None`` means "sized to the input" (see
#: ``_resolve_options``). The defaults keep all six methods on one 32x32 image of ResNet-56
#: within about 2 s on two CPU cores (benchmarks/bench_attribution.py).
DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "saliency": {},
    # Gauss-Legendre quadrature. Measured on ResNet-20 trained on Fashion-MNIST (8 test images):
    # 32 steps give maps with rank correlation 0.999 to 256 steps' maps and a convergence delta
    # of about 1.6% of the attributions' sum (median). Raise n_steps for tighter completeness.
    "integrated_gradients": {"n_steps": 32, "baseline": 0.0, "internal_batch_size": 64},
    # Noise of 15% of the image's value range (Smilkov et al. recommend 10-20%). On the same
    # model 16 samples give maps with rank correlation 0.95 to a 128-sample map (8: 0.92, 32: 0.97).
    "smoothgrad": {"nt_samples": 16, "noise_level": 0.15, "seed": 0, "nt_samples_batch_size": 16},
    "guided_backprop": {},
    "gradcam": {"relu_attributions": True},
    # window: 1/8 of the image side (4 px on 32x32, 4 on 28x28, 28 on 224x224), stride half of
    # it, so each pixel is covered by about four windows and the map is not blocky.
    "occlusion": {"window": None, "stride": None, "baseline": 0.0, "perturbations_per_eval": 64},
}

# The informational warning captum prints on every guided backprop call.
_CAPTUM_RELU_HOOK_WARNING = "Setting backward hooks on ReLU activations"


@dataclass(repr=False)
class Attribution:
    """One method's explanation of a batch of images.

    Attributes:
        method: one of ``METHODS``.
        maps: (N, H, W) float32 tensor on the CPU, one map per image, same H and W as the
            images. Per-channel attributions are summed over channels (occlusion, whose
            channels all hold the same value, takes it once). See ``signed``.
        raw: captum's output, detached, on the CPU: (N, C, H, W) for pixel methods, the
            layer's (N, 1, h, w) map before upsampling for Grad-CAM.
        target: (N,) the class each map explains.
        predicted_class: (N,) the model's prediction.
        probability: (N,) the softmax probability of the predicted class.
        target_probability: (N,) the softmax probability of the explained class.
        convergence_delta: (N,) for integrated gradients: ``sum(attributions) -
            (f(image) - f(baseline))``, the quadrature error; ``None`` for other methods.
        signed: whether maps carry a sign (negative = evidence against the class); saliency
            and SmoothGrad maps are magnitudes, Grad-CAM maps are non-negative after its ReLU.
        layer: the module Grad-CAM used (e.g. ``"stage3"``), else ``None``.
        options: the options used, defaults filled in.
    """

    method: str
    maps: torch.Tensor
    raw: torch.Tensor
    target: torch.Tensor
    predicted_class: torch.Tensor
    probability: torch.Tensor
    target_probability: torch.Tensor
    convergence_delta: torch.Tensor | None = None
    signed: bool = True
    layer: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """A readable name, e.g. ``"Grad-CAM (stage2)"``."""
        text = METHOD_LABELS[self.method]
        return f"{text} ({self.layer})" if self.layer else text

    def __repr__(self) -> str:
        n, h, w = self.maps.shape
        return f"Attribution({self.label}, {n} maps of {h}x{w}, target={self.target.tolist()})"


def normalize_method_name(method: str) -> str:
    """``"Integrated Gradients"``, ``"integrated-gradients"`` -> ``"integrated_gradients"``."""
    if not isinstance(method, str):
        raise ValueError(f"method must be a string, one of {', '.join(METHODS)}; got {method!r}")
    name = method.strip().lower().replace("-", "_").replace(" ", "_")
    aliases = {"grad_cam": "gradcam", "ig": "integrated_gradients", "guided_backpropagation":
               "guided_backprop", "smooth_grad": "smoothgrad"}
    name = aliases.get(name, name)
    if name not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; choose one of {', '.join(METHODS)}")
    return name


def layer_names(model: nn.Module) -> list[str]:
    """The names Grad-CAM's ``layer`` accepts in short form: ``stem``, ``stage1``, ... ."""
    names = [name for name, _ in model.named_children() if name == "stem" or name.startswith("stage")]
    return names or [name for name, _ in model.named_children()]


def default_layer(model: nn.Module) -> str:
    """The last stage (``"stage3"`` for CIFAR nets, ``"stage4"`` for ImageNet nets), as Grad-CAM uses."""
    stages = [name for name in layer_names(model) if name.startswith("stage")]
    if stages:
        return stages[-1]
    convs = [name for name, module in model.named_modules() if isinstance(module, nn.Conv2d)]
    if not convs:
        raise ValueError("the model has no convolution for Grad-CAM to look at; pass layer=...")
    return convs[-1]


def resolve_layer(model: nn.Module, layer: str | nn.Module | None) -> tuple[str, nn.Module]:
    """``(name, module)`` for a stage name, a module name such as ``"stage3.block9"``, or a module."""
    modules = dict(model.named_modules())
    if layer is None:
        layer = default_layer(model)
    if isinstance(layer, nn.Module):
        for name, module in modules.items():
            if module is layer and name:
                return name, module
        raise ValueError("the layer module given is not part of this model")
    if isinstance(layer, str) and layer and layer in modules:
        return layer, modules[layer]
    stages = ", ".join(layer_names(model))
    example = next((n for n in modules if n.count(".") == 1), "")
    hint = f", e.g. {example!r}" if example else ""
    raise ValueError(
        f"unknown layer {layer!r} for {model_name(model)}; use a stage name ({stages}) or any "
        f"module name from model.named_modules(){hint}"
    )


def attribute(
    model: nn.Module,
    images: torch.Tensor,
    method: str,
    target: int | Sequence[int] | torch.Tensor | None = None,
    layer: str | nn.Module | None = None,
    *,
    device: torch.device | str | None = None,
    image_size: int | tuple[int, int] | None = None,
    **options: Any,
) -> Attribution:
    """Explain ``model``'s score for ``target`` on ``images`` with one attribution method.

    Args:
        model: a ResNet or plain net from ``build_model``, ``from_torchvision`` or the run
            cache (any image classifier works for all methods but guided backprop, which
            needs non-shared, non-inplace ReLU modules).
        images: (N, C, H, W) standardized images, or one (C, H, W) image.
        method: one of ``METHODS``.
        target: the class to explain: ``None`` for each image's predicted class, an int for
            all images, or one class per image.
        layer: Grad-CAM only (ignored by the others): a stage (``"stage1"`` ... , ``"stem"``),
            any module name (``"stage3.block9.conv2"``) or the module; default the last stage.
        device: where to compute; default the model's device. The model is moved back after.
        image_size: if given, the (H, W) (or side) the model was trained on; other sizes raise.
        **options: per method, see ``DEFAULT_OPTIONS``: ``n_steps``, ``baseline``,
            ``internal_batch_size`` (integrated gradients); ``nt_samples``, ``noise_level``
            (noise std as a fraction of the image's value range), ``seed``,
            ``nt_samples_batch_size`` (SmoothGrad); ``relu_attributions`` (Grad-CAM);
            ``window``, ``stride``, ``baseline``, ``perturbations_per_eval`` (occlusion).

    The model runs in eval mode; every module gets its mode back afterwards, and the model its
    device. Only the inputs' gradients are computed, so no ``.grad`` is left on the model's
    parameters.
    """
    method = normalize_method_name(method)
    check_model(model, what="attribute")
    images = check_images(model, images, image_size=image_size, allow_single=True)
    resolved = _resolve_options(method, options, images.shape)

    if method == "guided_backprop":
        _check_guided_backprop_relus(model)
    layer_name, layer_module = resolve_layer(model, layer) if method == "gradcam" else (None, None)
    with computing_on(model, device) as compute_device, hooked(model, training=False):
        images = images.detach().to(compute_device, torch.float32)
        with torch.no_grad():
            probabilities = F.softmax(model(images), dim=1)
        predicted = probabilities.argmax(dim=1)
        target_tensor = _resolve_target(target, predicted, probabilities.shape[1])
        raw, maps, delta = _run_method(model, images, method, target_tensor, layer_module, resolved)

    signed = method not in ("saliency", "smoothgrad") and not (
        method == "gradcam" and resolved["relu_attributions"]
    )
    index = torch.arange(len(target_tensor), device=probabilities.device)
    return Attribution(
        method=method,
        maps=maps.detach().float().cpu(),
        raw=raw.detach().cpu(),
        target=target_tensor.cpu(),
        predicted_class=predicted.cpu(),
        probability=probabilities.max(dim=1).values.cpu(),
        target_probability=probabilities[index, target_tensor].cpu(),
        convergence_delta=None if delta is None else delta.detach().cpu(),
        signed=signed,
        layer=layer_name,
        options=resolved,
    )


def attribute_all(
    model: nn.Module,
    images: torch.Tensor,
    methods: Sequence[str] = METHODS,
    target: int | Sequence[int] | torch.Tensor | None = None,
    layer: str | nn.Module | None = None,
    device: torch.device | str | None = None,
    **kwargs: Any,
) -> dict[str, Attribution]:
    """``attribute`` for several methods at once: ``{method: Attribution}``.

    With a ``device``, the model moves there once for all the methods, and back after.
    """
    check_model(model, what="attribute_all")
    with computing_on(model, device):
        return {normalize_method_name(m): attribute(model, images, m, target, layer, **kwargs)
                for m in methods}


def _run_method(model, images, method, target, layer_module, opts):
    """Call captum; return ``(raw, maps, convergence_delta)``."""
    from captum.attr import (
        GuidedBackprop,
        IntegratedGradients,
        LayerAttribution,
        LayerGradCam,
        NoiseTunnel,
        Occlusion,
        Saliency,
    )

    images = images.clone().requires_grad_(True)  # captum warns when it has to do this itself
    delta = None
    if method == "saliency":
        raw = Saliency(model).attribute(images, target=target, abs=True)
        maps = raw.sum(dim=1)
    elif method == "integrated_gradients":
        baseline = _baseline(opts["baseline"], images)
        raw, delta = IntegratedGradients(model).attribute(
            images,
            baselines=baseline,
            target=target,
            n_steps=opts["n_steps"],
            internal_batch_size=max(opts["internal_batch_size"], len(images)),
            return_convergence_delta=True,
        )
        maps = raw.sum(dim=1)
    elif method == "smoothgrad":
        value_range = float(images.detach().max() - images.detach().min()) or 1.0
        with torch.random.fork_rng(devices=[images.device] if images.device.type == "cuda" else []):
            torch.manual_seed(opts["seed"])
            raw = NoiseTunnel(Saliency(model)).attribute(
                images,
                nt_type="smoothgrad",
                nt_samples=opts["nt_samples"],
                nt_samples_batch_size=opts["nt_samples_batch_size"],
                stdevs=float(opts["noise_level"] * value_range),
                target=target,
                abs=True,
            )
        maps = raw.sum(dim=1)
    elif method == "guided_backprop":
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_CAPTUM_RELU_HOOK_WARNING)
            raw = GuidedBackprop(model).attribute(images, target=target)
        maps = raw.sum(dim=1)
    elif method == "gradcam":
        raw = LayerGradCam(model, layer_module).attribute(
            images, target=target, relu_attributions=opts["relu_attributions"]
        )
        if raw.dim() != 4:
            raise ValueError(
                f"Grad-CAM needs a layer whose output is an image-like (N, C, h, w) map; this one "
                f"gives shape {tuple(raw.shape)}; pick a stage or a conv layer"
            )
        upsampled = LayerAttribution.interpolate(raw, tuple(images.shape[-2:]), interpolate_mode="bilinear")
        maps = upsampled[:, 0]
    else:  # occlusion
        channels = images.shape[1]
        raw = Occlusion(model).attribute(
            images,
            sliding_window_shapes=(channels, opts["window"], opts["window"]),
            strides=(channels, opts["stride"], opts["stride"]),
            baselines=_baseline(opts["baseline"], images),
            target=target,
            perturbations_per_eval=opts["perturbations_per_eval"],
        )
        maps = raw.mean(dim=1)  # every channel holds the same value
    return raw, maps, delta


def _resolve_options(method: str, options: dict[str, Any], shape: torch.Size) -> dict[str, Any]:
    defaults = DEFAULT_OPTIONS[method]
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        allowed = ", ".join(defaults) or "none"
        raise ValueError(f"{method} does not take option(s) {', '.join(unknown)}; its options: {allowed}")
    resolved = {**defaults, **options}
    for name in ("n_steps", "internal_batch_size", "nt_samples", "nt_samples_batch_size",
                 "perturbations_per_eval"):
        if name in resolved and (not isinstance(resolved[name], int) or resolved[name] < 1):
            raise ValueError(f"{method} option {name} must be a positive integer, got {resolved[name]!r}")
    if method == "occlusion":
        side = min(shape[-2:])
        window = resolved["window"] or max(1, round(side / 8))
        stride = resolved["stride"] or max(1, window // 2)
        if not (isinstance(window, int) and 1 <= window <= side):
            raise ValueError(f"occlusion window must be an integer from 1 to {side}, got {window!r}")
        if not (isinstance(stride, int) and stride >= 1):
            raise ValueError(f"occlusion stride must be a positive integer, got {stride!r}")
        resolved.update(window=window, stride=stride)
    return resolved


def _baseline(value: float | torch.Tensor, images: torch.Tensor) -> torch.Tensor | float:
    if isinstance(value, torch.Tensor):
        value = value.to(images.device, images.dtype)
        if value.dim() == 3:
            value = value[None]
        return value.expand_as(images).contiguous()
    return float(value)


def _resolve_target(target, predicted: torch.Tensor, num_classes: int) -> torch.Tensor:
    if target is None:
        return predicted
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        result = torch.full_like(predicted, int(target))
    else:
        result = torch.as_tensor(target, dtype=torch.long, device=predicted.device).reshape(-1)
        if result.numel() == 1:
            result = result.expand_as(predicted).clone()
        if result.shape != predicted.shape:
            raise ValueError(
                f"target has {result.numel()} classes for {len(predicted)} images; give one per image, one int, or None"
            )
    if result.min() < 0 or result.max() >= num_classes:
        raise ValueError(f"target classes must be in 0..{num_classes - 1}, got {result.tolist()}")
    return result


def _check_guided_backprop_relus(model: nn.Module) -> None:
    if any(isinstance(m, nn.ReLU) and m.inplace for m in model.modules()):
        raise ValueError(
            "guided backprop needs non-inplace ReLU modules, each used once; this model has "
            "inplace ones (torchvision's ResNets share one). Convert it with rx.from_torchvision(model)"
        )


# ---------------------------------------------------------------------------------------------
# Images from files


def load_image(
    file: bytes | bytearray | memoryview | str | PathLike | io.IOBase,
    in_channels: int,
    image_size: int | tuple[int, int],
    mean: Sequence[float] | float,
    std: Sequence[float] | float,
    *,
    name: str | None = None,
) -> torch.Tensor:
    """Decode an image file into a standardized (C, H, W) tensor the model can take.

    ``file`` is a path, the file's bytes (e.g. ``FileUpload``'s ``value[0].content``) or a
    binary file object. The image is turned upright (EXIF), converted to grayscale
    (``in_channels=1``) or RGB (3) with transparent parts on white, scaled so its shorter side
    is ``image_size`` and center-cropped to a square (to ``(H, W)`` if a pair is given), then
    standardized with the dataset's ``mean`` and ``std`` (in [0, 1] pixel units). ``name``
    (e.g. the uploaded file's) is used in error messages.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if in_channels not in (1, 3):
        raise ValueError(f"load_image makes grayscale (in_channels=1) or RGB (3) images, not {in_channels} channels")
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"image_size must be a positive int or an (H, W) pair, got {image_size!r}")
    if isinstance(file, (bytes, bytearray, memoryview)):
        source, description = io.BytesIO(bytes(file)), name or f"the uploaded file ({len(bytes(file))} bytes)"
    elif isinstance(file, (str, PathLike)):
        path = Path(file)
        if not path.is_file():
            raise ValueError(f"{path} is not a file")
        source, description = path, name or str(path)
    else:
        source, description = file, name or "the file"
    try:
        with Image.open(source) as opened:
            opened.load()
            picture = ImageOps.exif_transpose(opened)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        reason = "" if isinstance(error, UnidentifiedImageError) else f" ({error})"
        raise ValueError(
            f"{description} is not an image PIL can read (PNG, JPEG, GIF, BMP, WebP, TIFF, ...){reason}"
        ) from None

    if picture.mode in ("RGBA", "LA", "PA") or (picture.mode == "P" and "transparency" in picture.info):
        rgba = picture.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        picture = Image.alpha_composite(background, rgba)
    picture = picture.convert("L" if in_channels == 1 else "RGB")
    picture = ImageOps.fit(picture, (size[1], size[0]), method=Image.Resampling.BILINEAR)

    pixels = torch.from_numpy(np.asarray(picture, dtype=np.float32) / 255.0)
    pixels = pixels[None] if pixels.dim() == 2 else pixels.permute(2, 0, 1)
    mean_tensor = _per_channel(mean, in_channels, "mean")
    std_tensor = _per_channel(std, in_channels, "std")
    if (std_tensor <= 0).any():
        raise ValueError(f"std must be positive, got {std!r}")
    return ((pixels - mean_tensor) / std_tensor).contiguous()


def _per_channel(value: Sequence[float] | float, channels: int, what: str) -> torch.Tensor:
    values = torch.as_tensor(value, dtype=torch.float32).reshape(-1)
    if values.numel() == 1:
        values = values.expand(channels)
    if values.numel() != channels:
        raise ValueError(f"{what} has {values.numel()} values for {channels} channel(s)")
    return values.reshape(-1, 1, 1)
