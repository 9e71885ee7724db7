"""as_found: a model runs in a chosen mode with hooks, then gets its modes, buffers and hooks back."""

import pytest
import torch
from torch import nn

from resnet_explorer._model_state import as_found


def net():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    model[1].eval()  # a frozen BN inside a model in train mode
    return model


def test_modes_buffers_and_hooks_come_back_also_after_an_error():
    model = net()
    buffers = [b.clone() for b in model.buffers()]
    calls = []
    with pytest.raises(RuntimeError, match="boom"):
        with as_found(model, training=True, hooks={model[0]: lambda m, i, o: calls.append(1)}):
            assert model[1].training
            model(torch.randn(8, 3))
            raise RuntimeError("boom")
    assert calls == [1]
    assert model.training and not model[1].training  # each module its own mode
    assert all(torch.equal(a, b) for a, b in zip(buffers, model.buffers()))
    assert not model[0]._forward_hooks


def test_a_hook_may_replace_an_output():
    model = net()
    with as_found(model, training=False, hooks={model[3]: lambda m, i, o: torch.zeros_like(o)}):
        assert torch.equal(model(torch.randn(2, 3)), torch.zeros(2, 2))
    assert not torch.equal(model.eval()(torch.randn(2, 3)), torch.zeros(2, 2))
