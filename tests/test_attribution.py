"""Attribution maps: every method on every kind of net, completeness, a task with a known answer."""

import io

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from resnet_explorer.attribution import (
    METHODS,
    Attribution,
    attribute,
    attribute_all,
    layer_names,
    load_image,
)
from resnet_explorer.models import build_model
from resnet_explorer.sanity import known_region_images, mass_in_region, train_known_region_model
from resnet_explorer.torchvision_compat import from_torchvision

# Cheaper settings than the defaults, for tests that only check that a method runs.
QUICK = {
    "integrated_gradients": {"n_steps": 4},
    "smoothgrad": {"nt_samples": 2},
    "occlusion": {"window": 16},
}



def randomize_batch_norm(model, seed=0):
    """BN statistics and affine parameters as a trained net has them (not the identity)."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            for tensor, low, high in ((module.running_mean, -0.5, 0.5), (module.running_var, 0.5, 2.0),
                                      (module.weight.data, 0.2, 1.0), (module.bias.data, -0.3, 0.3)):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) * (high - low) + low)
    return model


def run_all_methods(model, images, **kwargs):
    return {m: attribute(model, images, m, **QUICK.get(m, {}), **kwargs) for m in METHODS}


def check_result(result, images):
    n, _, h, w = images.shape
    assert isinstance(result, Attribution)
    assert result.maps.shape == (n, h, w)
    assert result.maps.dtype == torch.float32
    assert torch.isfinite(result.maps).all()
    assert result.predicted_class.shape == result.probability.shape == result.target.shape == (n,)
    assert ((result.probability > 0) & (result.probability <= 1)).all()


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("depth", [20, 56])
@pytest.mark.parametrize("shortcut", ["A", "none"])
@pytest.mark.parametrize("in_channels", [1, 3])
def test_every_method_runs_on_plain_and_residual_nets(depth, shortcut, in_channels):
    torch.manual_seed(depth)
    model = build_model(depth, shortcut=shortcut, in_channels=in_channels)
    images = torch.randn(2, in_channels, 32, 32)
    model.train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    results = run_all_methods(model, images)
    for method, result in results.items():
        check_result(result, images)
        assert result.method == method
    # Mode restored, no gradients left, no BN statistics changed (attribution runs in eval mode).
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert all(not m._forward_hooks and not m._backward_hooks for m in model.modules())
    assert results["saliency"].maps.min() >= 0 and not results["saliency"].signed
    assert results["integrated_gradients"].convergence_delta.shape == (2,)
    assert results["gradcam"].layer == "stage3" and results["gradcam"].raw.shape == (2, 1, 8, 8)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize(
    "options",
    [
        dict(depth=14, preact=True),
        dict(depth=14, preact=True, shortcut="B"),
        dict(depth=8, shortcut="C", norm="none"),
        dict(depth=8, activation="tanh"),
    ],
    ids=["preact", "preact-B", "C-no-BN", "tanh"],
)
def test_every_method_runs_on_other_architectures(options):
    model = build_model(**options, in_channels=3)
    images = torch.randn(2, 3, 32, 32)
    for result in run_all_methods(model, images).values():
        check_result(result, images)


@pytest.mark.filterwarnings("error")
def test_every_method_runs_on_a_model_from_torchvision():
    torch.manual_seed(0)
    model = from_torchvision(torchvision.models.resnet18(num_classes=5).eval())
    images = torch.randn(1, 3, 64, 64)
    results = run_all_methods(model, images, layer="stage3")
    for result in results.values():
        check_result(result, images)
    assert results["gradcam"].raw.shape == (1, 1, 4, 4)  # 64 px halved four times


def test_guided_backprop_refuses_inplace_relus_with_a_fix():
    with pytest.raises(ValueError, match="from_torchvision"):
        attribute(torchvision.models.resnet18(num_classes=3), torch.randn(1, 3, 64, 64), "guided_backprop")


def test_integrated_gradients_is_complete():
    """Attributions add up to f(x) - f(baseline), within captum's convergence delta."""
    torch.manual_seed(0)
    model = randomize_batch_norm(build_model(20, in_channels=3)).eval()
    images = torch.randn(2, 3, 32, 32)
    result = attribute(model, images, "integrated_gradients", n_steps=128)
    with torch.no_grad():
        index = torch.arange(2)
        difference = model(images)[index, result.target] - model(torch.zeros_like(images))[index, result.target]
    total = result.raw.sum(dim=(1, 2, 3))
    delta = result.convergence_delta
    assert torch.allclose(result.maps.sum(dim=(1, 2)), total, atol=1e-4)  # the map keeps the sum
    assert ((total - difference).abs() <= delta.abs() + 1e-4).all()
    assert (delta.abs() <= 0.02 * difference.abs() + 1e-3).all(), (delta, difference)
    print(f"IG, ResNet-20, 128 steps: f(x)-f(0) {difference.tolist()}, delta {delta.tolist()}")


def test_target_defaults_to_the_prediction_and_can_be_chosen():
    model = build_model(8, in_channels=1, num_classes=4)
    images = torch.randn(3, 1, 16, 16)
    predicted = attribute(model, images, "saliency")
    assert torch.equal(predicted.target, predicted.predicted_class)
    assert torch.allclose(predicted.target_probability, predicted.probability)
    chosen = attribute(model, images, "saliency", target=[0, 1, 2])
    assert chosen.target.tolist() == [0, 1, 2]
    assert attribute(model, images, "saliency", target=3).target.tolist() == [3, 3, 3]
    with pytest.raises(ValueError, match=r"0\.\.3"):
        attribute(model, images, "saliency", target=4)
    with pytest.raises(ValueError, match="one per image"):
        attribute(model, images, "saliency", target=[0, 1])


def test_a_single_image_is_batched_and_method_names_are_forgiving():
    model = build_model(8, in_channels=1)
    result = attribute(model, torch.randn(1, 20, 20), "Integrated Gradients", n_steps=4)
    assert result.method == "integrated_gradients" and result.maps.shape == (1, 20, 20)
    assert attribute(model, torch.randn(20, 20), "grad-cam").maps.shape == (1, 20, 20)


def test_attribute_all_and_stochastic_methods_are_reproducible():
    model = build_model(8, in_channels=1)
    images = torch.randn(2, 1, 16, 16)
    first = attribute_all(model, images, ["smoothgrad", "occlusion"])
    second = attribute_all(model, images, ["smoothgrad", "occlusion"])
    assert set(first) == {"smoothgrad", "occlusion"}
    assert torch.equal(first["smoothgrad"].maps, second["smoothgrad"].maps)
    assert first["occlusion"].options["window"] == 2 and first["occlusion"].options["stride"] == 1


@pytest.mark.parametrize("layer", ["stem", "stage1", "stage2", "stage3", "stage2.block1", "stage3.block1.conv2"])
def test_gradcam_on_any_stage_is_upsampled_to_the_image(layer):
    model = build_model(8, in_channels=3)
    result = attribute(model, torch.randn(2, 3, 32, 32), "gradcam", layer=layer)
    assert result.layer == layer and result.maps.shape == (2, 32, 32)
    assert result.maps.min() >= 0 and not result.signed


# --- bad input ---------------------------------------------------------------------------------


def test_wrong_channels_say_what_was_given_and_expected():
    model = build_model(8, in_channels=1)
    with pytest.raises(ValueError, match=r"3 channel\(s\).*expects 1 \(grayscale\).*test_images"):
        attribute(model, torch.randn(2, 3, 32, 32), "saliency")


def test_wrong_sizes_and_shapes_are_explained():
    model = build_model(8, in_channels=3)
    with pytest.raises(ValueError, match="too small.*at least 4 pixels"):
        attribute(model, torch.randn(1, 3, 3, 3), "saliency")
    with pytest.raises(ValueError, match="trained on 32x32.*resize"):
        attribute(model, torch.randn(1, 3, 28, 28), "saliency", image_size=32)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        attribute(model, torch.randn(1, 1, 3, 32, 32), "saliency")
    with pytest.raises(ValueError, match="standardized floats"):
        attribute(model, torch.zeros(1, 3, 32, 32, dtype=torch.uint8), "saliency")
    imagenet = from_torchvision(torchvision.models.resnet18(num_classes=2))
    with pytest.raises(ValueError, match="at least 32 pixels"):
        attribute(imagenet, torch.randn(1, 3, 16, 16), "saliency")


def test_unknown_method_option_and_layer_list_what_is_allowed():
    model = build_model(8, in_channels=3)
    images = torch.randn(1, 3, 16, 16)
    with pytest.raises(ValueError, match=", ".join(METHODS)):
        attribute(model, images, "lime")
    with pytest.raises(ValueError, match="stem, stage1, stage2, stage3"):
        attribute(model, images, "gradcam", layer="stage4")
    with pytest.raises(ValueError, match="n_steps"):
        attribute(model, images, "integrated_gradients", steps=10)
    with pytest.raises(ValueError, match="window"):
        attribute(model, images, "occlusion", window=17)
    assert layer_names(model) == ["stem", "stage1", "stage2", "stage3"]


# --- images from files -------------------------------------------------------------------------


def image_bytes(mode, size, color, fmt="PNG"):
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def test_load_image_converts_resizes_and_standardizes(tmp_path):
    white_rgb = image_bytes("RGB", (40, 30), (255, 255, 255))
    gray = load_image(white_rgb, 1, 16, mean=0.5, std=0.25)
    assert gray.shape == (1, 16, 16) and torch.allclose(gray, torch.full_like(gray, 2.0))
    red_jpeg = image_bytes("RGB", (20, 20), (255, 0, 0), fmt="JPEG")
    rgb = load_image(memoryview(red_jpeg), 3, (8, 12), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    assert rgb.shape == (3, 8, 12)
    assert rgb[0].mean() > 0.9 and rgb[1].mean() < -0.9  # red stays red
    # Transparent parts become white; a path works as well as bytes.
    path = tmp_path / "clear.png"
    path.write_bytes(image_bytes("RGBA", (10, 10), (0, 0, 0, 0)))
    assert torch.allclose(load_image(path, 1, 10, 0.0, 1.0), torch.ones(1, 10, 10))
    # What load_image gives, a model takes.
    model = build_model(8, in_channels=3)
    assert attribute(model, rgb, "saliency").maps.shape == (1, 8, 12)


def test_load_image_rejects_what_is_not_an_image():
    with pytest.raises(ValueError, match="is not an image PIL can read \\(PNG, JPEG"):
        load_image(b"%PDF-1.4 certainly not a picture", 1, 28, 0.5, 0.5)
    with pytest.raises(ValueError, match="grayscale.*or RGB"):
        load_image(image_bytes("RGB", (4, 4), (0, 0, 0)), 2, 28, 0.5, 0.5)
    with pytest.raises(ValueError, match="3 values for 1 channel"):
        load_image(image_bytes("RGB", (4, 4), (0, 0, 0)), 1, 28, (0.5, 0.5, 0.5), 0.5)


def encoded(array: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def test_load_image_scales_16_bit_and_float_pictures_by_their_depth():
    levels = np.linspace(0, 1, 256).reshape(16, 16)
    sixteen_bit = encoded((levels * 65535).round().astype(np.uint16), "PNG")
    float_tiff = encoded(levels.astype(np.float32), "TIFF")
    for picture in (sixteen_bit, float_tiff):
        gray = load_image(picture, 1, 16, mean=0.0, std=1.0)
        np.testing.assert_allclose(gray[0].numpy(), levels, atol=1e-3)
    rgb = load_image(sixteen_bit, 3, 16, mean=0.0, std=1.0)
    assert rgb.shape == (3, 16, 16) and torch.equal(rgb[0], rgb[2])
    np.testing.assert_allclose(rgb[1].numpy(), levels, atol=1e-3)


def test_load_image_refuses_float_pictures_outside_0_1():
    with pytest.raises(ValueError, match=r"floating-point pixels from 0 to 1000; load_image takes "
                                         r"floats in \[0, 1\]"):
        load_image(encoded(np.linspace(0, 1000, 64, dtype=np.float32).reshape(8, 8), "TIFF"),
                   1, 8, 0.0, 1.0, name="scan.tif")


@pytest.mark.parametrize("width, height", [(20_000, 20_000), (10_000, 10_000)])
def test_load_image_refuses_huge_pictures_before_decoding_them(width, height, png_that_claims):
    with pytest.raises(ValueError, match=r"bomb.png .*more pixels than load_image opens "
                                         r"\(50 megapixels"):
        load_image(png_that_claims(width, height), 1, 28, 0.5, 0.5, name="bomb.png")


@pytest.mark.parametrize("image_size, message", [
    (3.5, "image_size must be a whole number, got 3.5"),
    (True, "image_size must be a whole number, got True"),
    (20_000, "image_size must be <= 2048, got 20000"),
    ((0, 8), "image_size must be >= 1, got 0"),
    ((8, 8, 8), r"image_size must be a whole number or an \(H, W\) pair"),
])
def test_load_image_sizes_are_whole_numbers_within_reason(image_size, message):
    with pytest.raises(ValueError, match=message):
        load_image(image_bytes("L", (8, 8), 0), 1, image_size, 0.5, 0.5)


def test_load_image_channels_are_one_or_three_not_true():
    with pytest.raises(ValueError, match="grayscale.*or RGB"):
        load_image(image_bytes("L", (8, 8), 0), True, 8, 0.5, 0.5)


# --- a task with a known answer ----------------------------------------------------------------


def test_gradcam_and_integrated_gradients_find_the_region_that_decides_the_class():
    """Only the striped patch tells the class; its quadrant is 25% of the image.

    At 16x16 the last stage's maps are 4x4, too coarse to place a 4x4 patch, so Grad-CAM is
    checked on stage2 (8x8) and, less strictly, on the default last stage.
    """
    fractions = {"integrated_gradients": [], "gradcam stage2": [], "gradcam stage3": []}
    for seed in (0, 1):
        model = train_known_region_model(seed=seed)
        images, labels, masks = known_region_images(64, 16, seed=100 + seed, noise=0.5)
        assert (attribute(model, images, "saliency").predicted_class == labels).float().mean() > 0.95
        runs = {
            "integrated_gradients": attribute(model, images, "integrated_gradients", target=labels),
            "gradcam stage2": attribute(model, images, "gradcam", target=labels, layer="stage2"),
            "gradcam stage3": attribute(model, images, "gradcam", target=labels),
        }
        for name, result in runs.items():
            fractions[name].append(mass_in_region(result.maps, masks).nan_to_num(0.0).mean().item())
    print("mass in the deciding quadrant (chance 0.25):", {k: np.round(v, 2).tolist() for k, v in fractions.items()})
    assert min(fractions["integrated_gradients"]) > 0.5
    assert min(fractions["gradcam stage2"]) > 0.5
    assert min(fractions["gradcam stage3"]) > 0.4
