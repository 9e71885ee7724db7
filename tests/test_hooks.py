"""hooked(): hooks come off and every submodule gets its own mode back, on any exit."""

import pytest
import torch

import resnet_explorer as rx
from resnet_explorer.hooks import hooked


def _modes(model):
    return {name: module.training for name, module in model.named_modules()}


def test_hooks_run_inside_and_are_gone_after():
    model = rx.build_model(8, in_channels=1)
    seen = []
    with hooked(model, {model.stage1.block1.bn1: lambda module, inputs, output: seen.append(output.shape)}):
        model(torch.zeros(2, 1, 8, 8))
    model(torch.zeros(2, 1, 8, 8))
    assert seen == [(2, 16, 8, 8)]
    assert not model.stage1.block1.bn1._forward_hooks


@pytest.mark.parametrize("training", [True, False])
def test_the_mode_is_set_inside_and_each_module_gets_its_own_back_after_an_error(training):
    model = rx.build_model(8, in_channels=1).train()
    model.stage2.block1.bn1.eval()  # a frozen BN, as when fine-tuning
    before = _modes(model)
    with pytest.raises(RuntimeError, match="boom"):
        with hooked(model, {model.fc: lambda *args: None}, training=training):
            assert all(module.training == training for module in model.modules())
            raise RuntimeError("boom")
    assert _modes(model) == before
    assert not model.fc._forward_hooks


def test_none_leaves_the_modes_alone():
    model = rx.build_model(8, in_channels=1).eval()
    with hooked(model, {}, training=None):
        assert not model.training
