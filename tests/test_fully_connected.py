"""The fully connected nets of the shattered-gradients paper."""

import pytest
import torch

import resnet_explorer as rx


def test_plain_and_residual_nets_have_the_same_layers():
    plain, residual = (rx.fully_connected_net(5, kind) for kind in ("plain", "residual"))
    assert [tuple(p.shape) for p in plain.parameters()] == [tuple(p.shape) for p in residual.parameters()]
    assert sum(isinstance(m, torch.nn.Linear) for m in plain.modules()) == 6  # 5 hidden + output
    assert plain(torch.randn(7, 1)).shape == (7, 1)
    assert residual.name == "residual fully connected, depth 5"


def test_a_residual_layer_adds_to_its_input():
    torch.manual_seed(0)
    residual = rx.fully_connected_net(2, "residual", width=6).eval()
    x = torch.randn(3, 1)
    hidden = residual.input(x)
    expected = residual.output(hidden + residual.layers[0](hidden))
    torch.testing.assert_close(residual(x), expected)


def test_without_batch_norm_the_biases_are_not_zero():
    net = rx.fully_connected_net(3, batch_norm=False)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in net.modules())
    assert all(m.bias.abs().sum() > 0 for m in net.modules() if isinstance(m, torch.nn.Linear))


@pytest.mark.parametrize("arguments, message", [
    (dict(depth=0), "depth must be >= 1"),
    (dict(depth=3, kind="resnet"), "unknown kind 'resnet'; allowed: plain, residual"),
    (dict(depth=3, width=2.5), "width must be a whole number"),
    (dict(depth=3, batch_norm="yes"), "must be True or False"),
])
def test_bad_arguments_are_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        rx.fully_connected_net(**arguments)
