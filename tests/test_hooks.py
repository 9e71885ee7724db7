"""hooked(): hooks on for a block, each module's own mode kept, everything undone on any exit."""

import pytest
import torch

from resnet_explorer.hooks import hooked
from resnet_explorer.models import build_model


def no_forward_hooks(model):
    return not any(module._forward_hooks for module in model.modules())


def fine_tuned_net():
    """A net in train mode whose BN layers are frozen in eval mode, as when fine-tuning."""
    model = build_model(8, width=4).train()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.eval()
    return model


def modes(model):
    return [module.training for module in model.modules()]


@pytest.mark.parametrize("training", [True, False])
def test_hooks_see_every_pass_and_each_module_gets_its_own_mode_back(training):
    model = fine_tuned_net()
    before = modes(model)
    seen = []
    with hooked(model, {model.stem.conv: lambda module, inputs, output: seen.append(output.shape)},
                training=training) as same:
        assert same is model
        assert all(module.training == training for module in model.modules())
        model(torch.randn(2, 3, 8, 8))
    assert seen == [(2, 4, 8, 8)]
    assert modes(model) == before  # the frozen BN layers stay frozen
    assert no_forward_hooks(model)


def test_an_error_or_an_interrupt_inside_still_undoes_everything():
    model = fine_tuned_net()
    before = modes(model)
    for error in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(error)):
            with hooked(model, {model.fc: lambda *args: None}, training=False):
                raise error
        assert modes(model) == before and no_forward_hooks(model)


def test_training_none_leaves_the_modes_alone():
    model = fine_tuned_net()
    with hooked(model, {model.fc: lambda *args: None}):
        model.eval()  # the block may change modes; hooked does not restore what it did not set
    assert not model.training
    assert no_forward_hooks(model)


def test_a_hook_may_replace_the_output_and_bad_keys_are_refused():
    model = build_model(8, width=4).eval()
    with hooked(model, {model.fc: lambda module, inputs, output: torch.zeros_like(output)}):
        assert model(torch.randn(1, 3, 8, 8)).abs().sum() == 0
    with pytest.raises(TypeError, match="hooks must map modules"):
        with hooked(model, {"fc": lambda *args: None}):
            pass
    assert no_forward_hooks(model)
