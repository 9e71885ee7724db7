"""The shared input checks: the same mistake gets the same clear message everywhere."""

import numpy as np
import pytest
import torch

import resnet_explorer as rx
from resnet_explorer.checks import (check_choice, check_finite_number, check_images, check_labels,
                                    check_model, check_positive_number, check_whole_number,
                                    minimum_image_size)


@pytest.fixture(scope="module")
def grayscale_net():
    return rx.build_model(8, in_channels=1, num_classes=10)


@pytest.mark.parametrize("value", [True, 2.0, "3", None, np.float64(2)])
def test_whole_numbers_reject_what_only_looks_like_one(value):
    with pytest.raises(ValueError, match="steps must be a whole number"):
        check_whole_number("steps", value, minimum=1)


def test_whole_numbers_accept_numpy_ints_and_check_the_range():
    assert check_whole_number("steps", np.int64(5), minimum=1) == 5
    with pytest.raises(ValueError, match="steps must be >= 1, got 0"):
        check_whole_number("steps", 0, minimum=1)
    with pytest.raises(ValueError, match="depth must be <= 1202, got 60002"):
        check_whole_number("depth", 60002, maximum=1202)


@pytest.mark.parametrize("value", [True, "0.5", float("nan"), float("inf"), -1.0, 0])
def test_positive_numbers_reject_bools_strings_and_non_finite_values(value):
    with pytest.raises(ValueError, match="lr must be"):
        check_positive_number("lr", value)


@pytest.mark.parametrize("value", [True, "-0.5", float("nan"), float("-inf"), None])
def test_finite_numbers_reject_bools_strings_and_non_finite_values(value):
    with pytest.raises(ValueError, match="baseline must be a finite number"):
        check_finite_number("baseline", value)


def test_finite_numbers_may_be_negative():
    assert check_finite_number("baseline", np.float32(-0.5)) == -0.5
    assert type(check_finite_number("baseline", 2)) is float


def test_positive_numbers_may_allow_zero():
    assert check_positive_number("noise_level", 0, allow_zero=True) == 0.0


def test_choices_compare_types_too():
    check_choice("shortcut", "A", ("A", "B"))
    with pytest.raises(ValueError, match=r"unknown preact 'False'; allowed: True, False"):
        check_choice("preact", "False", (True, False))
    with pytest.raises(ValueError, match="unknown preact 1"):
        check_choice("preact", 1, (True, False))


def test_check_model_names_what_is_needed():
    with pytest.raises(TypeError, match="needs a torch.nn.Module"):
        check_model("resnet20")
    with pytest.raises(TypeError, match="made by build_model"):
        check_model(torch.nn.Linear(2, 2), needs_config=True)


def test_check_images_rejects_empty_nan_and_integer_batches(grayscale_net):
    images = torch.randn(2, 1, 16, 16)
    assert check_images(grayscale_net, images) is images
    with pytest.raises(ValueError, match="empty batch"):
        check_images(grayscale_net, images[:0])
    broken = images.clone()
    broken[1, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="1 of the 2 images contain NaN"):
        check_images(grayscale_net, broken)
    with pytest.raises(ValueError, match="standardized floats"):
        check_images(grayscale_net, images.to(torch.uint8))


def test_check_images_explains_channels_sizes_and_single_images(grayscale_net):
    with pytest.raises(ValueError, match=r"3 channel\(s\).*expects 1 \(grayscale\)"):
        check_images(grayscale_net, torch.randn(1, 3, 16, 16))
    with pytest.raises(ValueError, match="too small"):
        check_images(grayscale_net, torch.randn(1, 1, 2, 2))
    assert minimum_image_size(grayscale_net) == 4
    with pytest.raises(ValueError, match=r"shape \(N, C, H, W\), got shape \(1, 16, 16\)"):
        check_images(grayscale_net, torch.randn(1, 16, 16))
    assert check_images(grayscale_net, torch.randn(16, 16), allow_single=True).shape == (1, 1, 16, 16)
    with pytest.raises(ValueError, match="trained on 28x28"):
        check_images(grayscale_net, torch.randn(1, 1, 16, 16), image_size=28)


def test_check_labels_wants_one_class_index_per_image(grayscale_net):
    images = torch.randn(3, 1, 16, 16)
    assert check_labels(grayscale_net, images, torch.tensor([0, 9, 3])).dtype == torch.int64
    with pytest.raises(ValueError, match="labels must lie in 0..9"):
        check_labels(grayscale_net, images, torch.tensor([0, 12, 3]))
    with pytest.raises(ValueError, match="3 class indices"):
        check_labels(grayscale_net, images, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="integer class indices"):
        check_labels(grayscale_net, images, torch.tensor([0.0, 1.0, 2.0]))
