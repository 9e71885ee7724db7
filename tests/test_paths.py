"""Paths of an unrolled ResNet (Veit et al. 2016, Section 5): counts and gradient per path length."""

import itertools
from math import comb

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import resnet_explorer as rx
from resnet_explorer.paths import _SinglePathGates, path_gradients, path_length_distribution


def batch(n=8, size=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, size, size, generator=generator), torch.randint(0, 10, (n,), generator=generator)


def small_resnet(depth=8, seed=0, **options):
    torch.manual_seed(seed)
    return rx.build_model(depth, "A", in_channels=1, **options)


def test_path_lengths_follow_the_binomial_distribution():
    assert path_length_distribution(3).tolist() == [1, 3, 3, 1]
    counts = path_length_distribution(54)  # Veit's ResNet-110
    assert counts.sum() == pytest.approx(2.0**54)
    assert counts.argmax() == 27 and counts[27] == comb(54, 27)


def sum_of_all_paths_and_whole_gradient(model, train_mode):
    images, labels = batch()
    with _SinglePathGates(model, training=train_mode) as gates:
        first_input, loss = gates.forward(images, labels)
        total = sum(gates.gradient(loss, first_input, set(chosen))
                    for k in range(7) for chosen in itertools.combinations(range(6), k))
    inputs = []
    handle = model.stage1[0].register_forward_hook(lambda module, i, o: inputs.append(i[0]))
    model.train(train_mode)
    (whole,) = torch.autograd.grad(F.cross_entropy(model(images), labels), inputs[0])
    handle.remove()
    return total, whole


@pytest.mark.parametrize("train_mode", [True, False])
def test_the_gradients_of_all_paths_add_up_to_the_whole_gradient(train_mode):
    """The unrolled view is exact: 2**n single-path gradients sum to the ordinary gradient."""
    total, whole = sum_of_all_paths_and_whole_gradient(small_resnet(14), train_mode)  # 6 blocks, 64 paths
    torch.testing.assert_close(total, whole, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("options", [dict(shortcut_variant="scale_shortcut"), dict(shortcut_variant="conv_shortcut"),
                                     dict(activation_order="bn_after_add"), dict(stochastic_depth=0.5)])
def test_the_paths_of_he2016_units_without_gates_add_up_too(options):
    total, whole = sum_of_all_paths_and_whole_gradient(small_resnet(14, **options), train_mode=False)
    torch.testing.assert_close(total, whole, rtol=1e-4, atol=1e-7)


def test_gated_shortcuts_are_refused_because_their_paths_do_not_add_up():
    model = small_resnet(14, shortcut_variant="exclusive_gate")
    total, whole = sum_of_all_paths_and_whole_gradient(model, train_mode=False)
    assert not torch.allclose(total, whole, rtol=1e-4, atol=1e-7)  # the gates' own route is missing
    images, labels = batch()
    with pytest.raises(ValueError, match=r"gates its shortcuts \(exclusive_gate\).*shortcut_variant 'original'"):
        path_gradients(model, images, labels, progress=False)


def test_path_gradients_measures_every_length_by_default():
    model = small_resnet(14)
    images, labels = batch()
    result = path_gradients(model, images, labels, samples=2, progress=False)
    assert result.num_blocks == 6 and result.lengths.tolist() == list(range(7))
    assert result.gradient_norm.shape == (7, 2) and (result.gradient_norm > 0).all()
    assert result.path_counts.tolist() == [1, 6, 15, 20, 15, 6, 1]
    np.testing.assert_allclose(result.total_gradient, result.path_counts * result.mean_gradient_norm)
    low, high = result.effective_lengths()
    assert 0 <= low <= high <= 6
    assert "90% of the gradient" in repr(result)


def test_effective_lengths_finds_the_shortest_range_holding_the_share():
    result = rx.PathGradients("x", 4, np.arange(5), np.array([[0.0], [1.0], [8.0], [1.0], [0.0]]),
                              np.ones(5), images=1)
    assert result.effective_lengths(0.8) == (2, 2)
    assert result.effective_lengths(0.9) == (1, 2)  # 9 of 10
    assert result.effective_lengths(0.95) == (1, 3)


def test_path_gradients_leaves_the_model_as_it_was():
    model = small_resnet().eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    images, labels = batch()
    path_gradients(model, images, labels, lengths=[0, 3], samples=1, train_mode=True, progress=False)
    assert not model.training
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert not any(m._forward_hooks for m in model.modules())


def test_path_gradients_says_what_is_wrong():
    images, labels = batch()
    with pytest.raises(ValueError, match="has no shortcuts, so it has one path only"):
        path_gradients(rx.build_model(8, "none", in_channels=1), images, labels, progress=False)
    with pytest.raises(ValueError, match="each path length must be <= 3"):
        path_gradients(small_resnet(), images, labels, lengths=[4], progress=False)
    with pytest.raises(ValueError, match="lengths is empty"):
        path_gradients(small_resnet(), images, labels, lengths=[], progress=False)
    with pytest.raises(ValueError, match="samples must be >= 1"):
        path_gradients(small_resnet(), images, labels, samples=0, progress=False)
    with pytest.raises(ValueError, match="labels must lie in 0..9"):
        path_gradients(small_resnet(), images, labels + 10, progress=False)


def test_in_the_shipped_resnet56_longer_paths_carry_far_less_gradient():
    """Veit et al. 2016, Fig. 6b, on the shipped ResNet-56 (lesson 09): 10x less every 2 or 3 branches."""
    data = rx.load_dataset(image_size=16)
    model = rx.load_checkpoint("resnet56-fashion-mnist-long")
    result = path_gradients(model, data.train_images[:16], data.train_labels[:16], lengths=[0, 9, 18, 27],
                            samples=2, progress=False)
    means = result.mean_gradient_norm
    assert all(later < earlier / 100 for earlier, later in zip(means, means[1:]))

