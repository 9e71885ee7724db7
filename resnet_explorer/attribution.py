"""Which pixels does a ResNet look at? Attribution maps with captum, one call for six methods.

``attribute(model, images, method)`` explains the model's score for a class (by default the
predicted one) with one of ``METHODS``: ``"saliency"``, ``"integrated_gradients"``,
``"smoothgrad"``, ``"guided_backprop"``, ``"gradcam"`` and ``"occlusion"``. What each computes
(and its paper), its options and defaults, and whether its maps carry a sign are written once,
in its entry of ``resnet_explorer.attribution_methods.ATTRIBUTION_METHODS``.

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

from .attribution_methods import ATTRIBUTION_METHODS, METHODS, normalize_method_name
from .checks import check_images, check_model, check_whole_number, model_name
from .device import computing_on
from .hooks import hooked
from .speed import follows_thread_policy


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
            and SmoothGrad maps are magnitudes, Grad-CAM maps are non-negative after its ReLU
            (each method's ``signed`` in ``ATTRIBUTION_METHODS``).
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
        text = ATTRIBUTION_METHODS[self.method].label
        return f"{text} ({self.layer})" if self.layer else text

    def __repr__(self) -> str:
        n, h, w = self.maps.shape
        return f"Attribution({self.label}, {n} maps of {h}x{w}, target={self.target.tolist()})"


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


@follows_thread_policy
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
        **options: per method, see its entry in ``ATTRIBUTION_METHODS``: ``n_steps``, ``baseline``,
            ``internal_batch_size`` (integrated gradients); ``nt_samples``, ``noise_level``
            (noise std as a fraction of the image's value range), ``seed``,
            ``nt_samples_batch_size`` (SmoothGrad); ``relu_attributions`` (Grad-CAM);
            ``window``, ``stride``, ``baseline``, ``perturbations_per_eval`` (occlusion).

    The model runs in eval mode; every module gets its mode back afterwards, and the model its
    device. Only the inputs' gradients are computed, so no ``.grad`` is left on the model's
    parameters.
    """
    entry = ATTRIBUTION_METHODS[normalize_method_name(method)]
    check_model(model, what="attribute")
    images = check_images(model, images, image_size=image_size, allow_single=True)
    resolved = _resolve_options(entry.name, options, images.shape)
    if entry.check_model is not None:  # before anything moves or runs
        entry.check_model(model)
    layer_name, layer_module = resolve_layer(model, layer) if entry.takes_layer else (None, None)
    with computing_on(model, device) as compute_device, hooked(model, training=False):
        images = images.detach().to(compute_device, torch.float32)
        with torch.no_grad():
            probabilities = F.softmax(model(images), dim=1)
        predicted = probabilities.argmax(dim=1)
        target_tensor = _resolve_target(target, predicted, probabilities.shape[1])
        raw, maps, delta = _run_method(model, images, entry.name, target_tensor, layer_module,
                                       resolved)

    index = torch.arange(len(target_tensor), device=probabilities.device)
    return Attribution(
        method=entry.name,
        maps=maps.detach().float().cpu(),
        raw=raw.detach().cpu(),
        target=target_tensor.cpu(),
        predicted_class=predicted.cpu(),
        probability=probabilities.max(dim=1).values.cpu(),
        target_probability=probabilities[index, target_tensor].cpu(),
        convergence_delta=None if delta is None else delta.detach().cpu(),
        signed=entry.is_signed(resolved),
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


def _run_method(model, images, method, target, layer_module, options):
    """Call the method's captum algorithm; return ``(raw, maps, convergence_delta)``."""
    images = images.clone().requires_grad_(True)  # captum warns when it has to do this itself
    return ATTRIBUTION_METHODS[method].compute(model, images, target, layer_module, options)


def _resolve_options(method: str, options: dict[str, Any], shape: torch.Size) -> dict[str, Any]:
    return ATTRIBUTION_METHODS[method].resolve_options(options, tuple(shape[-2:]))


def _resolve_target(target, predicted: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``target`` as one class index per image; refuses what only looks like one ("3", 3.7, True)."""
    if target is None:
        return predicted
    if isinstance(target, (torch.Tensor, np.ndarray)):
        values = torch.as_tensor(target) if isinstance(target, torch.Tensor) or target.dtype.kind in "iu" else None
        if values is None or torch.is_floating_point(values) or values.is_complex() or values.dtype == torch.bool:
            kind = target.dtype if values is None else values.dtype
            raise ValueError(f"target must hold whole class indices, got a {type(target).__name__} of {kind}; "
                             "give one int per image, one int, or None for the predicted class")
        result = values.to(predicted.device, torch.long).reshape(-1)
    elif isinstance(target, (list, tuple)):
        result = torch.tensor([check_whole_number("each target class", value) for value in target],
                              dtype=torch.long, device=predicted.device)
    else:
        result = torch.tensor([check_whole_number("target (a class index, or None for the predicted class)", target)],
                              dtype=torch.long, device=predicted.device)
    if result.numel() == 1:
        result = result.expand_as(predicted).clone()
    if result.shape != predicted.shape:
        raise ValueError(
            f"target has {result.numel()} classes for {len(predicted)} images; give one per image, one int, or None"
        )
    if result.min() < 0 or result.max() >= num_classes:
        raise ValueError(f"target classes must be in 0..{num_classes - 1}, got {result.tolist()}")
    return result


# ---------------------------------------------------------------------------------------------
# Images from files

#: The largest picture ``load_image`` opens: 50 megapixels (a phone camera's 48 fit). Larger
#: ones, and files that only claim to be larger (a "decompression bomb" of a few bytes that
#: would unpack to gigabytes), are refused before their pixels are decoded.
MAX_PICTURE_PIXELS = 50_000_000
#: The largest side ``load_image`` makes: ImageNet nets take 224, the lessons' nets 8 to 32; a
#: 20,000-pixel side would take gigabytes.
MAX_IMAGE_SIDE = 2048
# Pillow modes of one channel deeper than 8 bits, and what their largest value means.
_DEEP_MODES = {"I;16": 65535, "I;16B": 65535, "I;16L": 65535, "I;16N": 65535, "I": 65535, "F": 1.0}


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

    Pixels are scaled by the picture's depth: 8-bit values by 255, 16-bit ones (PNG) by 65,535,
    and floating-point ones (TIFF) are taken as they are if they lie in [0, 1] (else refused).
    Pictures of more than ``MAX_PICTURE_PIXELS`` and sides above ``MAX_IMAGE_SIDE`` are refused.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if isinstance(in_channels, bool) or in_channels not in (1, 3):
        raise ValueError(f"load_image makes grayscale (in_channels=1) or RGB (3) images, not {in_channels!r} channels")
    sides = tuple(image_size) if isinstance(image_size, (tuple, list)) else (image_size, image_size)
    if len(sides) != 2:
        raise ValueError(f"image_size must be a whole number or an (H, W) pair, got {image_size!r}")
    size = tuple(check_whole_number("image_size", side, minimum=1, maximum=MAX_IMAGE_SIDE)
                 for side in sides)
    if isinstance(file, (bytes, bytearray, memoryview)):
        source, description = io.BytesIO(bytes(file)), name or f"the uploaded file ({len(bytes(file))} bytes)"
    elif isinstance(file, (str, PathLike)):
        path = Path(file)
        if not path.is_file():
            raise ValueError(f"{path} is not a file")
        source, description = path, name or str(path)
    else:
        source, description = file, name or "the file"
    too_large = (f"{description} has more pixels than load_image opens ({MAX_PICTURE_PIXELS // 10**6} "
                 "megapixels, e.g. 8000x6000): shrink it first")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused just below
            with Image.open(source) as opened:
                width, height = opened.size
                if width * height > MAX_PICTURE_PIXELS:
                    raise ValueError(f"{too_large}; it is {width}x{height}")
                opened.load()
                picture = ImageOps.exif_transpose(opened)
    except Image.DecompressionBombError:
        raise ValueError(too_large) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        if str(error).startswith(too_large):
            raise
        reason = "" if isinstance(error, UnidentifiedImageError) else f" ({error})"
        raise ValueError(
            f"{description} is not an image PIL can read (PNG, JPEG, GIF, BMP, WebP, TIFF, ...){reason}"
        ) from None

    if picture.mode in _DEEP_MODES:
        picture = _unit_range_picture(picture, description)  # "F", values in [0, 1]
        scale = 1.0
    else:
        if picture.mode in ("RGBA", "LA", "PA") or (picture.mode == "P" and "transparency" in picture.info):
            rgba = picture.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            picture = Image.alpha_composite(background, rgba)
        picture = picture.convert("L" if in_channels == 1 else "RGB")
        scale = 255.0
    picture = ImageOps.fit(picture, (size[1], size[0]), method=Image.Resampling.BILINEAR)

    pixels = torch.from_numpy(np.asarray(picture, dtype=np.float32) / scale)
    pixels = pixels[None] if pixels.dim() == 2 else pixels.permute(2, 0, 1)
    if pixels.shape[0] != in_channels:  # a one-channel deep picture for an RGB net
        pixels = pixels.expand(in_channels, -1, -1)
    mean_tensor = _per_channel(mean, in_channels, "mean")
    std_tensor = _per_channel(std, in_channels, "std")
    if (std_tensor <= 0).any():
        raise ValueError(f"std must be positive, got {std!r}")
    return ((pixels - mean_tensor) / std_tensor).contiguous()


def _unit_range_picture(picture, description: str):
    """A picture of more than 8 bits per pixel (16-bit PNG, float TIFF) as floats in [0, 1].

    Converting it to 8 bits as Pillow does would clip a 16-bit picture (98% white) and round
    a float one in [0, 1] to 0 or 1; so its values are scaled by the mode's depth instead.
    """
    from PIL import Image

    values = np.asarray(picture, dtype=np.float64)
    largest = _DEEP_MODES[picture.mode]
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if not (np.isfinite(values).all() and low >= 0 and high <= largest):
        if picture.mode == "F":
            raise ValueError(f"{description} holds floating-point pixels from {low:g} to {high:g}; "
                             "load_image takes floats in [0, 1] (scale them first)")
        raise ValueError(f"{description} holds {picture.mode} pixels from {low:g} to {high:g}; "
                         "load_image takes 8- or 16-bit pictures (16-bit: 0 to 65535)")
    return Image.fromarray((values / largest).astype(np.float32))


def _per_channel(value: Sequence[float] | float, channels: int, what: str) -> torch.Tensor:
    values = torch.as_tensor(value, dtype=torch.float32).reshape(-1)
    if values.numel() == 1:
        values = values.expand(channels)
    if values.numel() != channels:
        raise ValueError(f"{what} has {values.numel()} values for {channels} channel(s)")
    return values.reshape(-1, 1, 1)
