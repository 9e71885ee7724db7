"""Shattered gradients (Balduzzi et al. 2017): gradients along a line, their autocorrelation."""

import numpy as np
import pytest
import torch

import resnet_explorer as rx
from resnet_explorer.shattering import autocorrelation, gradient_along_line, shattered_gradients


def test_autocorrelation_tells_brown_noise_from_white_noise():
    rng = np.random.default_rng(0)
    white = rng.standard_normal(256)
    brown = np.cumsum(white)
    assert autocorrelation(brown, 1)[1] > 0.9
    assert abs(autocorrelation(white, 1)[1]) < 0.15
    assert autocorrelation(white)[0] == 1 and len(autocorrelation(white)) == 256
    assert np.isnan(autocorrelation(np.ones(10), 2)[1:]).all()


@pytest.mark.parametrize("values, lag, message", [
    ([1.0], None, "at least 2 numbers"),
    (np.ones((3, 3)), None, "one series"),
    ([1.0, 2.0, 3.0], 3, "max_lag must be <= 2"),
])
def test_autocorrelation_says_what_is_wrong(values, lag, message):
    with pytest.raises(ValueError, match=message):
        autocorrelation(values, lag)


def test_the_gradient_along_a_line_is_the_derivative_of_the_output():
    torch.manual_seed(0)
    net = rx.fully_connected_net(4, "plain", width=16, batch_norm=False).double()
    line = gradient_along_line(net, -1.0, 3.0, points=9, train_mode=False)
    assert line.positions.tolist() == pytest.approx(np.linspace(-1, 3, 9).tolist())
    x = torch.tensor(line.positions, dtype=torch.float64).view(-1, 1)
    step = 1e-6
    with torch.no_grad():
        finite = (net(x + step) - net(x - step)).view(-1) / (2 * step) * 4.0  # d/dt, x = -1 + 4t
    np.testing.assert_allclose(line.gradient, finite.numpy(), rtol=1e-5, atol=1e-8)


def test_along_a_line_between_images_the_directional_derivative_matches_finite_differences():
    torch.manual_seed(0)
    model = rx.build_model(8, "A", in_channels=1).double().eval()
    start, end = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    line = gradient_along_line(model, start, end, points=5, target=3, train_mode=False)
    t = torch.tensor(line.positions, dtype=torch.float64)
    step = 1e-6
    with torch.no_grad():
        f = lambda s: model(start + s.view(-1, 1, 1, 1) * (end - start))[:, 3]  # noqa: E731
        finite = (f(t + step) - f(t - step)) / (2 * step)
    np.testing.assert_allclose(line.gradient, finite.numpy(), rtol=1e-4, atol=1e-7)


def test_gradient_along_line_leaves_the_model_as_it_was():
    model = rx.build_model(8, "none", in_channels=1)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    start, end = torch.randn(2, 1, 8, 8)
    gradient_along_line(model, start, end, points=8)
    assert model.training
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert all(m.momentum == 0.1 for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))


@pytest.mark.parametrize("start, end, message", [
    (1.0, 1.0, "start and end are both 1; the line needs two different points"),
    (0.0, float("nan"), "end must be a finite number"),
    (torch.zeros(1, 8, 8), 2.0, "end must be one image of shape"),
    (torch.zeros(8, 8), torch.zeros(8, 8), "start must be one image of shape"),
    (torch.zeros(1, 8, 8), torch.zeros(1, 8, 8), "same image"),
    (torch.zeros(1, 8, 8), torch.zeros(1, 9, 9), "differ in shape"),
    (torch.zeros(3, 8, 8), torch.ones(3, 8, 8), "images have 3 channel"),
])
def test_gradient_along_line_says_what_is_wrong(start, end, message):
    model = rx.build_model(8, in_channels=1)
    with pytest.raises(ValueError, match=message):
        gradient_along_line(model, start, end)


def test_gradient_along_line_checks_points_and_target():
    model = rx.build_model(8, in_channels=1)
    start, end = torch.randn(2, 1, 8, 8)
    with pytest.raises(ValueError, match="points must be >= 3"):
        gradient_along_line(model, start, end, points=2)
    with pytest.raises(ValueError, match="target must be <= 9"):
        gradient_along_line(model, start, end, target=10)


def test_deep_plain_gradients_shatter_and_residual_ones_do_not():
    """The paper's setting (width 200, BN, 256 points in [-2, 2]); measured at depth 24:
    plain -0.07 ± 0.05, residual 0.93 ± 0.03 over seeds 0-2."""
    result = shattered_gradients(depths=(2, 24), seeds=(0,), progress=False)
    plain, residual = result.lag1[0, :, 0], result.lag1[1, :, 0]
    assert plain[0] > 0.9 and residual[0] > 0.9  # shallow: brown noise both
    assert plain[1] < 0.3 and residual[1] > 0.7
    assert result.gradients.shape == (2, 2, 1, 256) and result.autocorrelations.shape == (2, 2, 1, 33)
    assert result.names[1][1] == "residual fully connected, depth 24"
    assert "depth" in result.table()


def test_without_bn_and_biases_a_relu_net_of_a_scalar_cannot_shatter():
    """The pitfall: f(a x) = a f(x) for a > 0, so the gradient takes two values only."""
    torch.manual_seed(0)
    net = rx.fully_connected_net(24, "plain", batch_norm=False)
    for module in net.modules():
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.zeros_(module.bias)
    line = gradient_along_line(net, -2.0, 2.0)
    assert len(np.unique(np.round(line.gradient, 4))) <= 3  # one value per side (and 0 at 0)
    assert autocorrelation(line.gradient, 1)[1] > 0.95


def test_the_convolutional_setting_runs_our_nets_along_a_line_between_two_images():
    start, end = torch.randn(2, 1, 8, 8)
    result = shattered_gradients("convolutional", depths=(8,), seeds=(0,), points=16, start=start, end=end,
                                 max_lag=4, progress=False)
    assert result.names == [["plain-8"], ["ResNet-8 (A)"]]
    assert result.positions.tolist() == pytest.approx(np.linspace(0, 1, 16).tolist())


@pytest.mark.parametrize("arguments, message", [
    (dict(setting="conv"), "unknown setting 'conv'"),
    (dict(depths=()), "depths is empty"),
    (dict(depths=(0,)), "each depth must be >= 1"),
    (dict(seeds=()), "seeds is empty"),
    (dict(points=2), "points must be >= 3"),
    (dict(max_lag=300), "max_lag must be <= 255"),
    (dict(batch_norm=1), "batch_norm must be True or False"),
    (dict(setting="convolutional"), "needs two images"),
    (dict(setting="convolutional", depths=(21,), start=torch.zeros(1, 8, 8), end=torch.ones(1, 8, 8)),
     "depth 21 is not 6n\\+2.*20 and 26"),
])
def test_shattered_gradients_says_what_is_wrong(arguments, message):
    with pytest.raises(ValueError, match=message):
        shattered_gradients(progress=False, **arguments)
