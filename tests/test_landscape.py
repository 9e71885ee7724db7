"""Loss-landscape slices (Li et al. 2018): filter-normalized directions, curves, grids, interpolation."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import resnet_explorer as rx
from resnet_explorer.landscape import LossLandscape, filter_normalized_direction, loss_landscape


def batch(n=16, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 8, 8, generator=generator), torch.randint(0, 10, (n,), generator=generator)


def small_net(seed=0, shortcut="A"):
    torch.manual_seed(seed)
    return rx.build_model(8, shortcut, in_channels=1).eval()


def eval_loss(model, images, labels):
    with torch.no_grad():
        return float(F.cross_entropy(model.eval()(images), labels))


def test_each_filter_of_the_direction_has_the_norm_of_the_nets_filter():
    model = small_net()
    direction = filter_normalized_direction(model, torch.Generator().manual_seed(0))
    for name, parameter in model.named_parameters():
        if parameter.dim() <= 1:
            assert torch.equal(direction[name], torch.zeros_like(parameter)), name  # BN and biases
        else:
            torch.testing.assert_close(direction[name].flatten(1).norm(dim=1),
                                       parameter.detach().flatten(1).norm(dim=1))


def test_a_slice_passes_through_the_trained_weights_and_gives_them_back():
    model = small_net()
    images, labels = batch()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    result = loss_landscape(model, images, labels, points=5, span=0.5, progress=False)
    assert result.x.tolist() == [-0.5, -0.25, 0.0, 0.25, 0.5] and result.y is None
    assert result.center_loss == pytest.approx(eval_loss(model, images, labels), rel=1e-5)
    assert result.loss.shape == result.error.shape == (5,)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert result.local_minima() >= 1 and 0 <= result.convex_fraction() <= 1


def test_the_same_seed_gives_the_same_slice_and_a_grid_has_rows_of_y():
    model = small_net()
    images, labels = batch()
    first = loss_landscape(model, images, labels, points=3, progress=False)
    again = loss_landscape(model, images, labels, points=3, progress=False)
    np.testing.assert_array_equal(first.loss, again.loss)
    grid = loss_landscape(model, images, labels, directions=2, points=3, progress=False)
    assert grid.loss.shape == (3, 3) and grid.dimensions == 2
    np.testing.assert_allclose(grid.loss[1], first.loss, rtol=1e-5)  # y = 0: the 1-D slice, same first direction
    assert grid.center_loss == pytest.approx(first.center_loss)


def test_an_interpolation_runs_from_one_net_to_the_other():
    one, other = small_net(0), small_net(1)
    images, labels = batch()
    result = loss_landscape(one, images, labels, towards=other, points=5, progress=False)
    assert result.kind == "interpolation" and result.x.tolist() == [-0.5, 0.0, 0.5, 1.0, 1.5]
    assert result.loss[1] == pytest.approx(eval_loss(one, images, labels), rel=1e-5)
    assert result.loss[3] == pytest.approx(eval_loss(other, images, labels), rel=1e-5)
    assert np.isfinite(result.loss).all()  # extrapolated BN variances are clipped at 0


def test_the_weights_come_back_when_a_slice_fails_half_way():
    model = small_net()
    images, labels = batch()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    calls = []

    def fail_on_the_third_pass(module, inputs, output):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
    handle = model.fc.register_forward_hook(fail_on_the_third_pass)
    with pytest.raises(KeyboardInterrupt):
        loss_landscape(model, images, labels, points=5, progress=False)
    handle.remove()
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


def test_local_minima_and_convex_fraction_tell_a_bowl_from_a_bumpy_surface():
    x = np.linspace(-1, 1, 9)
    bowl = LossLandscape("bowl", "random", x, x, np.add.outer(x**2, x**2), np.zeros((9, 9)), 1, 0)
    bumpy_values = np.add.outer(x**2, x**2) + 0.3 * np.cos(9 * np.add.outer(x, 0 * x))
    bumpy = LossLandscape("bumpy", "random", x, x, bumpy_values, np.zeros((9, 9)), 1, 0)
    assert bowl.local_minima() == 1 and bowl.convex_fraction() == 1
    assert bumpy.local_minima() > 1 and bumpy.convex_fraction() < 0.7
    curve = LossLandscape("w", "random", x, None, np.array([3, 1, 2, 1, 0.5, 1, 2, 1, 3.0]), np.zeros(9), 1, 0)
    assert curve.local_minima() == 3 and curve.center_loss == 0.5
    plateau = LossLandscape("p", "random", x, None, np.array([3, 3, 2.9, 1, 0.5, 1, 2.9, 3, 3.0]), np.zeros(9), 1, 0)
    assert plateau.convex_fraction() < 0.8 and plateau.convex_fraction(below=2.5) == 1


@pytest.mark.parametrize("arguments, error, message", [
    (dict(directions=3), ValueError, "directions must be <= 2"),
    (dict(points=1), ValueError, "points must be >= 2"),
    (dict(span=0), ValueError, "span must be > 0"),
    (dict(span=(1, -1)), ValueError, "span must be a positive number .* or a pair"),
    (dict(span="wide"), ValueError, "span must be a positive number"),
    (dict(towards="net"), TypeError, "towards must be another net"),
    (dict(towards=rx.build_model(8, "none", in_channels=1)), ValueError, "same architecture.*differ"),
    (dict(towards=rx.build_model(14, in_channels=1)), ValueError, "same architecture"),
])
def test_loss_landscape_says_what_is_wrong(arguments, error, message):
    images, labels = batch(4)
    with pytest.raises(error, match=message):
        loss_landscape(small_net(), images, labels, progress=False, **arguments)


def test_an_interpolation_is_one_dimensional():
    images, labels = batch(4)
    with pytest.raises(ValueError, match="use directions=1"):
        loss_landscape(small_net(0), images, labels, towards=small_net(1), directions=2, progress=False)
