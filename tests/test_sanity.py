"""Sanity checks for attribution maps: cascading randomization and the known-region task."""

import numpy as np
import pytest
import torch

from resnet_explorer.models import build_model
from resnet_explorer.sanity import (
    SanityCheckResult,
    average_ranks,
    cascading_randomization,
    known_region_images,
    mass_in_region,
    randomization_steps,
    spearman_correlation,
    train_known_region_model,
)



def test_spearman_correlation_handles_ties_and_constant_maps():
    assert average_ranks(np.array([10.0, 30.0, 20.0, 20.0])).tolist() == [1.0, 4.0, 2.5, 2.5]
    generator = torch.Generator().manual_seed(0)
    a = torch.rand(3, 6, 6, generator=generator)
    b = torch.rand(3, 6, 6, generator=generator).round(decimals=1)  # many ties
    ours = spearman_correlation(a, b)
    assert ours.shape == (3,)
    np.testing.assert_allclose(spearman_correlation(a, a), 1.0)
    np.testing.assert_allclose(spearman_correlation(a, -a), -1.0)
    np.testing.assert_allclose(spearman_correlation(a, a.double() ** 3 + 5), 1.0)  # ranks only
    assert np.isnan(spearman_correlation(a[:1], torch.zeros(1, 6, 6)))[0]
    import scipy.stats as scipy_stats  # a dev dependency: the check must run
    expected = [scipy_stats.spearmanr(x.flatten(), y.flatten()).statistic for x, y in zip(a, b)]
    np.testing.assert_allclose(ours, expected, atol=1e-12)


def test_randomization_goes_from_fc_down_to_the_stem():
    names = [name for name, _ in randomization_steps(build_model(14))]
    assert names == ["fc", "stage3.block2", "stage3.block1", "stage2.block2", "stage2.block1",
                     "stage1.block2", "stage1.block1", "stem"]
    stages = [name for name, _ in randomization_steps(build_model(14), "stages")]
    assert stages == ["fc", "stage3", "stage2", "stage1", "stem"]
    preact_head = randomization_steps(build_model(8, preact=True))[0][1]
    assert len(preact_head) == 2  # final BN and fc go together
    with pytest.raises(ValueError, match="'blocks' or 'stages'"):
        randomization_steps(build_model(8), "layers")


def test_randomized_maps_stop_resembling_the_trained_models_maps():
    model = train_known_region_model(seed=0)
    images, _, _ = known_region_images(8, 16, seed=50, noise=0.5)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    methods = ["saliency", "smoothgrad", "guided_backprop", "integrated_gradients", "gradcam"]
    result = cascading_randomization(model, images, methods)

    assert isinstance(result, SanityCheckResult)
    assert result.step_names == ["fc", "stage3.block1", "stage2.block1", "stage1.block1", "stem"]
    assert result.methods == methods
    for method in methods:
        correlations = result.correlations[method]
        assert len(correlations) == 5 and all(-1 <= c <= 1 for c in correlations)
        assert result.per_image[method].shape == (5, 8)
        assert result.original_maps[method].shape == (8, 16, 16)
        assert len(result.randomized_maps[method]) == 5
    print({m: np.round(c, 2).tolist() for m, c in result.correlations.items()})
    # Guided backprop and SmoothGrad maps change step by step as the model is destroyed from
    # the top down; a plain gradient has changed most already once fc is random (2 classes).
    for method in ("smoothgrad", "guided_backprop"):
        assert result.correlations[method][-1] < result.correlations[method][0] - 0.05, method
    for method in ("saliency", "integrated_gradients"):
        assert result.correlations[method][-1] <= result.correlations[method][0] + 0.02, method
    assert max(result.correlations["saliency"]) < 0.3
    # The trained model is untouched.
    assert not model.training
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


def test_cascading_randomization_by_stages_without_maps():
    model = build_model(8, in_channels=1, num_classes=3)
    result = cascading_randomization(
        model, torch.randn(2, 1, 12, 12), ["saliency"], steps="stages", keep_maps=False, absolute=False
    )
    assert result.step_names == ["fc", "stage3", "stage2", "stage1", "stem"]
    assert result.randomized_maps == {} and not result.absolute
    assert "Saliency" in repr(result)
    with pytest.raises(ValueError, match="unknown attribution method"):
        cascading_randomization(model, torch.randn(2, 1, 12, 12), ["deeplift"])


def test_known_region_images_hide_the_answer_in_one_quadrant():
    for rule, classes in (("stripes", 2), ("polarity", 2), ("quadrant", 4)):
        images, labels, masks = known_region_images(40, 16, in_channels=3, rule=rule, seed=1)
        assert images.shape == (40, 3, 16, 16) and labels.shape == (40,) and masks.shape == (40, 16, 16)
        assert set(labels.tolist()) <= set(range(classes))
        assert (masks.float().mean(dim=(1, 2)) == 0.25).all()
        bright = images.abs().amax(dim=1) == 3.0
        assert (bright & ~masks).sum() == 0 and bright.any(dim=(1, 2)).all()
    _, labels, masks = known_region_images(20, 16, rule="quadrant")
    top_left = masks[:, :8, :8].all(dim=(1, 2))
    assert torch.equal(top_left, labels == 0)
    with pytest.raises(ValueError, match="unknown rule"):
        known_region_images(4, rule="circles")


def test_mass_in_region_is_the_masks_share_for_an_even_map():
    _, _, masks = known_region_images(5, 16)
    even = torch.ones(5, 16, 16)
    torch.testing.assert_close(mass_in_region(even, masks), torch.full((5,), 0.25))
    torch.testing.assert_close(mass_in_region(-masks.float(), masks), torch.ones(5))
    assert mass_in_region(torch.zeros(5, 16, 16), masks).isnan().all()
