"""The method registry: one entry per method, its options checked, its words and its sign."""

import math

import numpy as np
import pytest
import torch

from resnet_explorer.attribution import METHODS, attribute
from resnet_explorer.attribution_methods import (
    ATTRIBUTION_METHODS,
    AttributionMethod,
    Option,
    normalize_method_name,
)
from resnet_explorer.models import build_model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model(8, in_channels=1, num_classes=4).eval()


@pytest.fixture(scope="module")
def images():
    return torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(1))


def test_every_method_has_one_complete_entry():
    assert tuple(ATTRIBUTION_METHODS) == METHODS == (
        "saliency", "integrated_gradients", "smoothgrad", "guided_backprop", "gradcam", "occlusion")
    labels = [entry.label for entry in ATTRIBUTION_METHODS.values()]
    colors = [entry.color for entry in ATTRIBUTION_METHODS.values()]
    assert len(set(labels)) == len(set(colors)) == len(METHODS)
    for name, entry in ATTRIBUTION_METHODS.items():
        assert entry.name == name and entry.paper and entry.summary
        assert entry.color not in ("blue", "vermillion")  # those mean ResNet and plain net
    assert [name for name, entry in ATTRIBUTION_METHODS.items() if entry.takes_layer] == ["gradcam"]


def test_every_label_and_alias_names_its_method():
    for name, entry in ATTRIBUTION_METHODS.items():
        assert normalize_method_name(entry.label) == name
        assert normalize_method_name(name.replace("_", "-").upper()) == name
        for alias in entry.aliases:
            assert normalize_method_name(alias) == name
    assert normalize_method_name(" IG ") == "integrated_gradients"
    with pytest.raises(ValueError, match="choose one of saliency, integrated_gradients"):
        normalize_method_name("lime")
    with pytest.raises(ValueError, match="must be a string"):
        normalize_method_name(3)


def test_defaults_pass_their_own_checks():
    for entry in ATTRIBUTION_METHODS.values():
        for option in entry.options:
            if option.default is not None:
                assert option.check(option.name, option.default) == option.default
        resolved = entry.resolve_options({}, (32, 32))
        assert set(resolved) == set(entry.defaults)
    occlusion = ATTRIBUTION_METHODS["occlusion"]
    # Sized to the image: 1/8 of the side, stride half of it.
    assert occlusion.resolve_options({}, (32, 32))["window"] == 4
    assert occlusion.resolve_options({}, (224, 224))["window"] == 28
    assert occlusion.resolve_options({"window": 6}, (32, 32))["stride"] == 3


def test_the_status_line_names_the_options_in_words():
    methods = ATTRIBUTION_METHODS
    integrated_gradients = methods["integrated_gradients"]
    assert integrated_gradients.describe_options(integrated_gradients.defaults) == "32 steps, baseline 0"
    assert methods["gradcam"].describe_options(methods["gradcam"].defaults) == "positive evidence only"
    assert (methods["smoothgrad"].describe_options(methods["smoothgrad"].defaults)
            == "16 noisy copies, noise 15% of the value range")
    assert methods["occlusion"].describe_options({"window": 4, "stride": 2, "baseline": 0.0,
                                                  "perturbations_per_eval": 64}) == "4 px window, stride 2 px, baseline 0"
    assert methods["saliency"].describe_options({}) == ""
    assert integrated_gradients.describe_options({"n_steps": 8, "baseline": torch.zeros(1, 4, 4)}) == (
        "8 steps, baseline image")


def test_the_sign_of_a_map_follows_the_method_and_its_options(model, images):
    signed = {name: attribute(model, images, name, n_steps=4) if name == "integrated_gradients"
              else attribute(model, images, name, nt_samples=2) if name == "smoothgrad"
              else attribute(model, images, name) for name in METHODS}
    assert {name: result.signed for name, result in signed.items()} == {
        "saliency": False, "integrated_gradients": True, "smoothgrad": False,
        "guided_backprop": True, "gradcam": False, "occlusion": True}
    both_ways = attribute(model, images, "gradcam", relu_attributions=False)
    assert both_ways.signed and both_ways.options["relu_attributions"] is False


# --- options refuse what only looks valid (issue 15, item 11) -----------------------------------


@pytest.mark.parametrize(
    "method, options, message",
    [
        ("integrated_gradients", {"n_steps": True}, "n_steps must be a whole number, got True"),
        ("integrated_gradients", {"n_steps": "3"}, "n_steps must be a whole number, got '3'"),
        ("integrated_gradients", {"n_steps": 2.0}, "n_steps must be a whole number"),
        ("integrated_gradients", {"n_steps": 0}, "n_steps must be >= 1, got 0"),
        ("integrated_gradients", {"internal_batch_size": True}, "internal_batch_size must be a whole number"),
        ("integrated_gradients", {"baseline": "0"}, "baseline .*must be a finite number, got '0'"),
        ("integrated_gradients", {"baseline": True}, "baseline .*must be a finite number, got True"),
        ("integrated_gradients", {"baseline": math.nan}, "baseline .*must be a finite number, got nan"),
        ("integrated_gradients", {"baseline": torch.zeros(1, 16, 16, dtype=torch.long)},
         "baseline must be a number or a float tensor"),
        ("smoothgrad", {"nt_samples": "16"}, "nt_samples must be a whole number, got '16'"),
        ("smoothgrad", {"nt_samples": True}, "nt_samples must be a whole number, got True"),
        ("smoothgrad", {"noise_level": math.nan}, "noise_level must be a finite number, got nan"),
        ("smoothgrad", {"noise_level": -0.1}, "noise_level must be >= 0, got -0.1"),
        ("smoothgrad", {"noise_level": "0.15"}, "noise_level must be a finite number, got '0.15'"),
        ("smoothgrad", {"noise_level": True}, "noise_level must be a finite number, got True"),
        ("smoothgrad", {"seed": -1}, "seed must be >= 0"),
        ("smoothgrad", {"seed": 1.5}, "seed must be a whole number"),
        ("smoothgrad", {"nt_samples_batch_size": 0}, "nt_samples_batch_size must be >= 1"),
        ("gradcam", {"relu_attributions": "False"}, "relu_attributions 'False'; allowed: True, False"),
        ("gradcam", {"relu_attributions": 1}, "relu_attributions 1; allowed: True, False"),
        ("occlusion", {"window": 0}, "window must be >= 1, got 0"),
        ("occlusion", {"window": True}, "window must be a whole number, got True"),
        ("occlusion", {"window": "4"}, "window must be a whole number, got '4'"),
        ("occlusion", {"window": 2.5}, "window must be a whole number, got 2.5"),
        ("occlusion", {"window": 17}, r"window \(a square's side, at most the image's 16 px\) must be <= 16"),
        ("occlusion", {"stride": 0}, "stride must be >= 1, got 0"),
        ("occlusion", {"stride": True}, "stride must be a whole number"),
        ("occlusion", {"perturbations_per_eval": True}, "perturbations_per_eval must be a whole number"),
        ("saliency", {"n_steps": 4}, "saliency does not take option.s. n_steps; its options: none"),
    ],
)
def test_options_refuse_what_only_looks_valid(model, images, method, options, message):
    with pytest.raises(ValueError, match=message):
        attribute(model, images, method, **options)


def test_options_keep_numpy_numbers_and_say_what_they_used(model, images):
    result = attribute(model, images, "integrated_gradients", n_steps=np.int64(4), baseline=np.float32(-0.5))
    assert result.options["n_steps"] == 4 and type(result.options["n_steps"]) is int
    assert result.options["baseline"] == -0.5
    zero_noise = attribute(model, images, "smoothgrad", nt_samples=2, noise_level=0)
    assert torch.allclose(zero_noise.maps, attribute(model, images, "saliency").maps, atol=1e-6)


def test_a_baseline_image_must_have_the_images_shape(model, images):
    mean_image = images.mean(dim=0)
    assert attribute(model, images, "integrated_gradients", n_steps=4, baseline=mean_image).maps.shape == (2, 16, 16)
    with pytest.raises(ValueError, match=r"baseline tensor has shape \(1, 8, 8\); give one image \(1, 16, 16\)"):
        attribute(model, images, "occlusion", baseline=torch.zeros(1, 8, 8))


@pytest.mark.parametrize(
    "target, message",
    [
        ("3", r"target \(a class index, or None for the predicted class\) must be a whole number, got '3'"),
        (3.7, "target .* must be a whole number, got 3.7"),
        (True, "target .* must be a whole number, got True"),
        ([0, 1.5], "each target class must be a whole number, got 1.5"),
        (torch.tensor([0.0, 1.0]), "target must hold whole class indices, got a Tensor of torch.float32"),
        (torch.tensor([True, False]), "target must hold whole class indices, got a Tensor of torch.bool"),
        (np.array(["1", "2"]), "target must hold whole class indices, got a ndarray of <U1"),
    ],
)
def test_target_refuses_what_only_looks_like_a_class(model, images, target, message):
    with pytest.raises(ValueError, match=message):
        attribute(model, images, "saliency", target=target)


def test_target_takes_numpy_and_tensor_indices(model, images):
    assert attribute(model, images, "saliency", target=np.int64(2)).target.tolist() == [2, 2]
    assert attribute(model, images, "saliency", target=np.array([1, 3])).target.tolist() == [1, 3]
    assert attribute(model, images, "saliency", target=torch.tensor([3, 0])).target.tolist() == [3, 0]
    assert attribute(model, images, "saliency", target=(0, 2)).target.tolist() == [0, 2]


def test_a_new_entry_is_all_a_seventh_method_needs(model, images, monkeypatch):
    """One entry, and attribute, the figures and the explorer's menu know the method."""
    from resnet_explorer.data import load_dataset
    from resnet_explorer.figures.attribution import _method_color, _method_label
    from resnet_explorer.widgets.attribution_explorer import AttributionExplorer

    def input_x_gradient(net, inputs, target, layer, options):
        from captum.attr import InputXGradient

        raw = InputXGradient(net).attribute(inputs, target=target)
        return raw, raw.sum(dim=1), None

    entry = AttributionMethod(
        name="input_x_gradient", label="Input × Gradient", paper="Shrikumar et al. 2016",
        summary="the image times the gradient; map: signed, summed over channels",
        compute=input_x_gradient, color="#777777", aliases=("ixg",),
        options=(Option("scale", 1.0, lambda what, value: value, lambda value: f"times {value:g}"),),
    )
    monkeypatch.setitem(ATTRIBUTION_METHODS, entry.name, entry)
    result = attribute(model, images, "IXG", scale=2.0)
    inputs = images.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(model(inputs)[torch.arange(2), result.target].sum(), inputs)
    torch.testing.assert_close(result.maps, (images * gradient).sum(dim=1))
    assert result.label == "Input × Gradient" and result.signed and result.options == {"scale": 2.0}
    assert _method_label("input_x_gradient") == "Input × Gradient"
    assert _method_color("input_x_gradient", 0) == "#777777"

    explorer = AttributionExplorer({"ResNet-8": model}, load_dataset(train_size=10, test_size=2),
                                   method="input_x_gradient")
    assert not explorer.errors and explorer.result.method == "input_x_gradient"
    assert ("Input × Gradient", "input_x_gradient") in explorer.controls["method"].options
    assert "times 1" in explorer.status.value
