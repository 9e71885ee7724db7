"""Gradient norms recorded while training: ``train(..., record_gradients=...)`` (He et al. 2015,
Section 4.1: "the backward propagated gradients exhibit healthy norms with BN")."""

import pytest
import torch

from resnet_explorer.gradient_norms import recorded_layers
from resnet_explorer.training import train

TINY = dict(steps=12, batch_size=16, eval_every=4, eval_size=32, warmup_steps=2,
            precision="fp32", progress=False)


def test_the_recorded_layers_are_the_3x3_layers_then_the_fully_connected_one(tiny_model):
    model = tiny_model()
    layers = recorded_layers(model)
    assert list(layers)[:2] == ["stem", "stage1.block1.conv1"] and list(layers)[-1] == "fc"
    assert layers["stem"] is model.stem.bn and layers["stage1.block1.conv2"] is model.stage1.block1.bn2
    assert len(layers) == 8  # ResNet-8: 7 layers of 3x3, and the fc

def test_gradient_norms_are_recorded_at_step_1_and_every_n_steps_for_every_weighted_layer(
        tiny_model, tiny_data):
    from resnet_explorer.probes import Recorder, response_layers

    model = tiny_model()
    modules = {**response_layers(model), "fc": "fc"}
    with Recorder(model, list(modules.values()), every=1) as recorder:  # an independent measurement
        history = train(model, tiny_data(), record_gradients=4, **TINY)
    assert history.grad_steps == [1, 4, 8, 12] and list(history.grad_norms) == list(modules)
    assert list(history.grad_norms)[:2] == ["stem", "stage1.block1.conv1"]
    stats = recorder.stats  # every step, counted from 0 there
    for layer, module in modules.items():
        expected = stats[module]["grad_norm"][[0, 3, 7, 11]]
        assert history.grad_norms[layer] == pytest.approx(expected.tolist(), rel=1e-5)
        assert all(value > 0 for value in history.grad_norms[layer])
    assert train(tiny_model(), tiny_data(), **TINY).grad_steps == []  # off by default


def test_models_not_made_by_build_model_record_every_conv_and_linear_layer(tiny_data):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(4 * 6 * 6, 4))
    history = train(model, tiny_data(), record_gradients=6, **TINY)
    assert list(history.grad_norms) == ["0", "3"] and history.grad_steps == [1, 6, 12]


def test_record_gradients_true_means_every_ten_steps(tiny_model, tiny_data):
    history = train(tiny_model(), tiny_data(), record_gradients=True, **{**TINY, "steps": 25})
    assert history.grad_steps == [1, 10, 20] and history.recorded_gradients


@pytest.mark.parametrize("value", [0, -3, 2.5, "yes"])
def test_record_gradients_must_be_a_flag_or_a_number_of_steps(value, tiny_model, tiny_data):
    with pytest.raises(ValueError, match="record_gradients must be True, False or a number"):
        train(tiny_model(), tiny_data(), record_gradients=value, **TINY)


def test_a_cached_run_without_gradient_norms_is_trained_again_when_they_are_asked_for(
        run_cache, tiny_model, tiny_data):
    data = tiny_data()
    plain = train(tiny_model(), data, cache=run_cache, **TINY)
    assert not plain.recorded_gradients
    recorded = train(tiny_model(), data, cache=run_cache, record_gradients=2, **TINY)
    assert not recorded.from_cache and recorded.grad_steps[:3] == [1, 2, 4]
    again = train(tiny_model(), data, cache=run_cache, record_gradients=2, **TINY)
    assert again.from_cache and again.grad_norms == recorded.grad_norms
    assert train(tiny_model(), data, cache=run_cache, **TINY).from_cache  # the new run serves all
    assert len(run_cache.list()) == 1
