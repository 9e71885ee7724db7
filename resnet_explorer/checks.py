"""Checks of user input shared by every public function, so that the same mistake gets the same
message everywhere: what was wrong, and what is allowed.

Every probe and analysis takes ``(model, images, ...)`` and starts with the same few calls::

    check_model(model, needs_config=True)       # a net made by build_model()
    images = check_images(model, images)        # (N, C, H, W) finite floats the model can take
    labels = check_labels(model, images, labels)  # one class index per image, in range

``train`` checks its data with ``check_training_data``.

Numbers and choices use ``check_whole_number``, ``check_finite_number``,
``check_positive_number`` and ``check_choice``, which reject booleans and strings that only look like numbers ("0.5", ``True``) instead of
coercing them: a silently coerced argument is a wrong result the user never sees. Names of
files in a folder the package reads or writes (checkpoint names) go through
``check_plain_name``, so that no name reaches outside it.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

IMAGES_HINT = "pass standardized images such as dataset.test_images[:4], or load_image(file, ...)"

#: The largest seed ``train`` and ``compare`` take: torch's generators hold a signed 64-bit seed.
MAX_SEED = 2**63 - 1

_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def check_choice(what: str, value, allowed: Iterable) -> None:
    """``ValueError`` unless ``value`` is one of ``allowed`` (compared by equality and type)."""
    allowed = tuple(allowed)
    if not any(value == option and type(value) is type(option) for option in allowed):
        allowed_text = ", ".join(str(option) for option in allowed)
        raise ValueError(f"unknown {what} {value!r}; allowed: {allowed_text}")


def check_whole_number(what: str, value, minimum: int | None = None,
                       maximum: int | None = None) -> int:
    """``value`` as an ``int`` if it is a whole number (not a bool, float or string) in range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{what} must be a whole number, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{what} must be <= {maximum}, got {value}")
    return value


def check_finite_number(what: str, value) -> float:
    """``value`` as a ``float`` if it is a finite real number (not a bool, string or NaN)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def check_positive_number(what: str, value, *, allow_zero: bool = False,
                          maximum: float | None = None) -> float:
    """``value`` as a ``float`` if it is a finite real number > 0 (or >= 0), not a bool or string."""
    value = check_finite_number(what, value)
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{what} must be {'>= 0' if allow_zero else '> 0'}, got {value:g}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{what} must be <= {maximum:g}, got {value:g}")
    return value


def check_plain_name(what: str, value) -> str:
    """``value`` if it names one entry of a folder: letters, digits, ``-``, ``_`` and ``.``.

    A path (``"../x"``, ``"/abs/x"``), an empty name or a hidden one (``.trash-1``, the
    package's own leftovers) is refused, so that the name cannot reach outside the folder.
    """
    if not isinstance(value, str) or not _PLAIN_NAME.fullmatch(value) or ".." in value:
        raise ValueError(f"{what} must be a plain name (letters, digits, '-', '_' and '.'), not a "
                         f"path or an empty name; got {value!r}")
    return value


def check_seed(value) -> int:
    """A random seed: a whole number from 0 to ``MAX_SEED`` (what torch's generators take)."""
    return check_whole_number("seed", value, minimum=0, maximum=MAX_SEED)


def check_model(model, *, needs_config: bool = False, what: str = "this function") -> None:
    """``TypeError`` unless ``model`` is an ``nn.Module`` (made by ``build_model`` if ``needs_config``)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"{what} needs a torch.nn.Module such as build_model(20), "
                        f"not {type(model).__name__}")
    if needs_config and not has_model_config(model):
        raise TypeError(f"{what} needs a ResNet or plain net made by build_model() (it reads "
                        f"model.config); got {type(model).__name__}")


def model_name(model: nn.Module) -> str:
    """The readable name of a net (``"ResNet-56 (A)"``), or its class name for other modules."""
    return model.config.name if has_model_config(model) else type(model).__name__


def expected_in_channels(model: nn.Module) -> int | None:
    """The channels the model's first layer takes: ``model.config.in_channels`` or the first conv's."""
    if has_model_config(model):
        return int(model.config.in_channels)
    first_conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    return None if first_conv is None else first_conv.in_channels


def minimum_image_size(model: nn.Module) -> int:
    """The smallest side an image may have so that the last stage still sees at least 1x1.

    CIFAR-family nets halve the image twice (8x8 maps in stage 3 from 32x32 inputs), the
    ImageNet family five times (a 224x224 image becomes 7x7).
    """
    if not has_model_config(model):
        return 1
    config = model.config
    halvings = len(config.stage_blocks) - 1
    if config.family == "imagenet":
        halvings += 2  # the stride-2 7x7 conv and the max pool
    return 2**halvings


def check_images(model: nn.Module, images, *, image_size: int | tuple[int, int] | None = None,
                 allow_single: bool = False, what: str = "images") -> torch.Tensor:
    """``images`` as an (N, C, H, W) float tensor that ``model`` can take, or a ``ValueError``.

    Rejects an empty batch (its statistics would be NaN or zeros that look like results),
    NaN or infinite values, integer pixels (the nets expect standardized floats), the wrong
    number of channels, and images too small for the net's downsampling. With
    ``allow_single``, one (C, H, W) image (or an (H, W) one for a grayscale net) is batched;
    a numpy array is taken as a tensor. ``image_size``: the (H, W) or side the model was
    trained on, if the caller knows it; other sizes are refused. ``what``: how the messages
    name the images (``"data.test_images"``).
    """
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"{what} must be a tensor of shape (N, C, H, W), got "
                         f"{type(images).__name__}; {IMAGES_HINT}")
    channels = expected_in_channels(model)
    if allow_single and images.dim() == 2 and channels == 1:
        images = images[None]
    if allow_single and images.dim() == 3:
        images = images[None]
    if images.dim() != 4:
        shapes = "(N, C, H, W) or one (C, H, W) image" if allow_single else "(N, C, H, W)"
        raise ValueError(f"{what} must have shape {shapes}, got shape {tuple(images.shape)}; "
                         f"{IMAGES_HINT}")
    if not torch.is_floating_point(images):
        raise ValueError(f"{what} are {images.dtype}, but the model expects standardized floats "
                         "(mean 0, std 1 per channel); load_image(...) or dataset.test_images "
                         "give those")
    count, got_channels, height, width = images.shape
    if count == 0:
        raise ValueError(f"{what} is an empty batch (shape {tuple(images.shape)}); pass at least "
                         "one image, e.g. dataset.test_images[:1]")
    if channels is not None and got_channels != channels:
        kind = {1: "grayscale", 3: "RGB"}.get(channels, "channels")
        raise ValueError(
            f"{what} have {got_channels} channel(s), but {model_name(model)} expects {channels} "
            f"({kind}), its in_channels={channels}; got shape {tuple(images.shape)}. Use images of "
            f"the model's dataset (dataset.test_images[:4]), load_image(file, in_channels="
            f"{channels}, ...), or a model built with in_channels={got_channels}")
    if image_size is not None:
        size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        if (height, width) != size:
            raise ValueError(
                f"{what} are {height}x{width}, but the model was trained on {size[0]}x{size[1]} "
                f"images; resize them (load_image(file, ..., image_size={size[0]})) or use the "
                "dataset's test images")
    smallest = minimum_image_size(model)
    if min(height, width) < smallest:
        raise ValueError(
            f"{what} are {height}x{width}, too small for {model_name(model)}: it halves the image "
            f"until its last stage, so each side needs at least {smallest} pixels")
    if not torch.isfinite(images).all():
        bad = int((~torch.isfinite(images)).flatten(1).any(1).sum())
        raise ValueError(f"{bad} of the {count} {what} contain NaN or infinite values; check how "
                         "they were made (a division by a zero std?)")
    return images


def check_labels(model: nn.Module, images: torch.Tensor, labels, *, classes: int | None = None,
                 what: str = "labels") -> torch.Tensor:
    """``labels`` as an int64 tensor of one class index per image, each within the model's classes.

    ``classes``: the number of classes when the model does not say (a model without a config).
    """
    if has_model_config(model):
        classes = model.config.num_classes
    if not isinstance(labels, torch.Tensor) or labels.shape != images.shape[:1]:
        shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"{what} must be a tensor of {images.shape[0]} class indices, one per "
                         f"image; got {shape}")
    if torch.is_floating_point(labels) or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"{what} must be integer class indices, got {labels.dtype}")
    labels = labels.long()
    if classes is not None and labels.numel() and (labels.min() < 0 or labels.max() >= classes):
        owner = f"{model_name(model)} has" if has_model_config(model) else "there are"
        raise ValueError(
            f"{what} must lie in 0..{classes - 1} ({owner} {classes} classes); "
            f"got values from {int(labels.min())} to {int(labels.max())}")
    return labels


def check_training_data(model: nn.Module, data, batch_size: int) -> None:
    """``TypeError`` / ``ValueError`` unless ``model`` can train on ``data`` in batches of ``batch_size``.

    ``data`` is a ``Dataset`` (``load_dataset()``) or any object with the same four tensors; a
    net from ``build_model`` must take its channels and have one output per class. Both splits
    get the checks of ``check_images`` and ``check_labels``: an empty split, a NaN image or a
    label beyond the classes would otherwise give a run that "finishes" with meaningless
    numbers, or fails with an error that blames something else.
    """
    check_model(model, what="train")
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        if not isinstance(getattr(data, name, None), torch.Tensor):
            raise TypeError(f"data must be a Dataset (load_dataset()) with tensor {name}; got "
                            f"{type(data).__name__}")
    images = data.train_images
    if images.ndim != 4:
        raise ValueError(f"data.train_images must be (N, C, H, W), got shape {tuple(images.shape)}")
    if len(images) != len(data.train_labels):
        raise ValueError(f"data has {len(images)} training images but {len(data.train_labels)} labels")
    if batch_size > len(images):
        raise ValueError(f"batch_size {batch_size} is larger than the {len(images)} training "
                         f"images; use batch_size <= {len(images)}")
    if has_model_config(model):
        config = model.config
        channels, classes = images.shape[1], number_of_classes(data)
        name = getattr(data, "name", "the data")
        if config.in_channels != channels:
            raise ValueError(
                f"{config.name} takes {config.in_channels}-channel images but {name} has "
                f"{channels}-channel images; build the model with "
                f"build_model({config.depth}, ..., in_channels={channels})")
        if config.num_classes != classes:
            raise ValueError(
                f"{config.name} has {config.num_classes} outputs but {name} has {classes} classes; "
                f"build the model with build_model({config.depth}, ..., num_classes={classes})")
    names = getattr(data, "class_names", None)
    for split in ("train", "test"):
        split_images = check_images(model, getattr(data, f"{split}_images"), what=f"data.{split}_images")
        check_labels(model, split_images, getattr(data, f"{split}_labels"),
                     classes=len(names) if names else None, what=f"data.{split}_labels")


def number_of_classes(data) -> int:
    """The classes of a dataset: its ``class_names``, else the largest training label + 1."""
    names = getattr(data, "class_names", None)
    return len(names) if names else int(data.train_labels.max()) + 1


def has_model_config(model) -> bool:
    """Whether ``model`` carries a ``ModelConfig`` (made by ``build_model`` or ``from_torchvision``)."""
    from .models import ModelConfig  # models imports nothing from here; avoid the cycle anyway

    return isinstance(getattr(model, "config", None), ModelConfig)
