"""The compute API's one contract, checked function by function.

Every public function that runs a model:

1. computes where the model is (not on ``default_device()``), or on ``device`` if told, and
   leaves the model where it was;
2. leaves every module's train/eval mode as it found it (a fine-tuned net's frozen BN layers
   stay frozen), and no hooks behind;
3. rejects bad input with the shared messages of ``checks.py``.

On a machine without a GPU, (1) is checked by making ``default_device()`` answer a device no
model could run on ("meta"): a function that consulted it would run there or fail. With a GPU,
an explicit ``device="cuda"`` is checked too.
"""

from __future__ import annotations

import pytest
import torch

import resnet_explorer as rx
from resnet_explorer.attribution import attribute_all
from resnet_explorer.probes import Recorder
from resnet_explorer.training import error_rate

TRAIN = dict(steps=4, batch_size=16, eval_every=2, eval_size=16, warmup_steps=0,
             precision="fp32", progress=False)

# The functions that take (model, images[, labels]), each called the cheapest way.
IMAGE_FUNCTIONS = {
    "layer_responses": lambda model, images, labels, **kw: rx.layer_responses(model, images, **kw),
    "gradient_flow": lambda model, images, labels, **kw: rx.gradient_flow(
        model, images, labels, **kw),
    "attribute": lambda model, images, labels, **kw: rx.attribute(model, images, "saliency", **kw),
    "attribute_all": lambda model, images, labels, **kw: attribute_all(
        model, images, ["saliency", "gradcam"], **kw),
    "cascading_randomization": lambda model, images, labels, **kw: rx.cascading_randomization(
        model, images, ["saliency"], steps="stages", **kw),
    "error_rate": lambda model, images, labels, **kw: error_rate(
        model, images, labels, precision="fp32", **kw),
}


@pytest.fixture
def fine_tuned_net(tiny_model):
    """``fine_tuned_net()``: ResNet-8 (1 channel, 4 classes) in train mode with its BN layers
    frozen in eval mode, as when fine-tuning."""
    def make() -> torch.nn.Module:
        model = tiny_model().train()
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.eval()
        return model

    return make


def batch(n=4, channels=1, size=8):
    generator = torch.Generator().manual_seed(0)
    return (torch.randn(n, channels, size, size, generator=generator),
            torch.arange(n) % 4)


def modes(model):
    return [(name, module.training) for name, module in model.named_modules()]


def no_hooks(model):
    return not any(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks
                   for m in model.modules())


@pytest.fixture
def default_device_elsewhere(monkeypatch):
    """``default_device()`` answers "meta": computing there would give no numbers at all."""
    meta = lambda: torch.device("meta")  # noqa: E731
    monkeypatch.setattr("resnet_explorer.device.default_device", meta)
    monkeypatch.setattr("resnet_explorer.training.default_device", meta)


def forward_devices(model) -> list[torch.device]:
    """Where each forward pass of ``model`` runs from now on (the device of its input)."""
    devices = []
    model.register_forward_pre_hook(lambda module, inputs: devices.append(inputs[0].device))
    return devices


# ---- functions of (model, images, ...) ------------------------------------------------------

@pytest.mark.parametrize("name", IMAGE_FUNCTIONS)
def test_computes_where_the_model_is_and_leaves_it_as_it_was(name, default_device_elsewhere,
                                                            fine_tuned_net):
    model = fine_tuned_net()
    before, state = modes(model), {k: v.clone() for k, v in model.state_dict().items()}
    devices = forward_devices(model)
    IMAGE_FUNCTIONS[name](model, *batch())
    assert devices and set(devices) == {torch.device("cpu")}
    assert {p.device for p in model.parameters()} == {torch.device("cpu")}
    assert modes(model) == before
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    model._forward_pre_hooks.clear()
    assert no_hooks(model)
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="a second device needs a GPU")
@pytest.mark.parametrize("name", IMAGE_FUNCTIONS)
def test_an_explicit_device_is_used_and_the_model_moves_back(name, fine_tuned_net):
    model = fine_tuned_net()
    devices = forward_devices(model)
    IMAGE_FUNCTIONS[name](model, *batch(), device="cuda")
    assert {device.type for device in devices} == {"cuda"}
    assert {p.device.type for p in model.parameters()} == {"cpu"}


@pytest.mark.parametrize("name", IMAGE_FUNCTIONS)
@pytest.mark.parametrize("images, message", [
    (batch(channels=3)[0],
     r"images have 3 channel\(s\), but ResNet-8 \(A\) expects 1 \(grayscale\)"),
    (batch()[0][:0], "images is an empty batch"),
    (batch()[0].masked_fill(torch.eye(8, dtype=torch.bool), float("nan")),
     "4 of the 4 images contain NaN or infinite values"),
    (batch()[0].to(torch.uint8), "the model expects standardized floats"),
    (batch()[0].numpy().tolist(), r"images must be a tensor of shape \(N, C, H, W\), got list"),
    (batch(size=2)[0], "too small for ResNet-8 \\(A\\).*at least 4 pixels"),
])
def test_bad_images_get_the_shared_message(name, images, message, fine_tuned_net):
    labels = torch.arange(4) % 4
    with pytest.raises(ValueError, match=message):
        IMAGE_FUNCTIONS[name](fine_tuned_net(), images, labels)


@pytest.mark.parametrize("name", IMAGE_FUNCTIONS)
def test_what_is_not_a_model_gets_the_shared_message(name):
    with pytest.raises(TypeError, match="needs a torch.nn.Module such as build_model"):
        IMAGE_FUNCTIONS[name]("resnet20", *batch())


@pytest.mark.parametrize("name", ["gradient_flow", "error_rate"])
def test_bad_labels_get_the_shared_message(name, fine_tuned_net):
    images, labels = batch()
    message = r"labels must lie in 0\.\.3 \(ResNet-8 \(A\) has 4 classes\)"
    with pytest.raises(ValueError, match=message):
        IMAGE_FUNCTIONS[name](fine_tuned_net(), images, labels + 4)
    with pytest.raises(ValueError, match="labels must be a tensor of 4 class indices"):
        IMAGE_FUNCTIONS[name](fine_tuned_net(), images, labels[:3])


# ---- train --------------------------------------------------------------------------------

def test_train_computes_where_the_model_is_and_gives_each_module_its_mode_back(
        default_device_elsewhere, tiny_data, fine_tuned_net):
    model = fine_tuned_net()
    before = modes(model)
    devices = forward_devices(model)
    history = rx.train(model, tiny_data(), **TRAIN)
    assert history.status == "finished" and history.runtime["device"] == "cpu"
    assert set(devices) == {torch.device("cpu")}
    assert modes(model) == before


@pytest.mark.skipif(not torch.cuda.is_available(), reason="a second device needs a GPU")
def test_train_on_an_explicit_device_moves_the_model_back(tiny_data, fine_tuned_net):
    model = fine_tuned_net()
    devices = forward_devices(model)
    history = rx.train(model, tiny_data(), device="cuda", **TRAIN)
    assert {device.type for device in devices} == {"cuda"}
    assert history.runtime["device"].startswith("cuda")
    assert {p.device.type for p in model.parameters()} == {"cpu"}


def test_train_rejects_bad_input_with_the_shared_messages(tiny_data, fine_tuned_net):
    with pytest.raises(TypeError, match="train needs a torch.nn.Module"):
        rx.train("resnet20", tiny_data(), **TRAIN)
    with pytest.raises(ValueError, match="callback_every must be a whole number, got True"):
        rx.train(fine_tuned_net(), tiny_data(), callback_every=True, **TRAIN)
    with pytest.raises(ValueError, match="steps must be >= 1, got 0"):
        rx.train(fine_tuned_net(), tiny_data(), **{**TRAIN, "steps": 0})


# ---- counting -------------------------------------------------------------------------------

@pytest.mark.parametrize("count", [rx.count_flops, rx.describe])
def test_counting_computes_where_the_model_is_and_restores_modes(count, default_device_elsewhere,
                                                                fine_tuned_net):
    model = fine_tuned_net()
    before = modes(model)
    devices = forward_devices(model)
    count(model, 8)
    assert set(devices) == {torch.device("cpu")}
    assert modes(model) == before


@pytest.mark.parametrize("count", [rx.count_flops, rx.describe])
def test_counting_rejects_bad_sizes_with_the_shared_messages(count, fine_tuned_net):
    with pytest.raises(ValueError, match=r"images have 3 channel\(s\), but ResNet-8 \(A\) expects"):
        count(fine_tuned_net(), (3, 8, 8))
    with pytest.raises(ValueError, match="too small for ResNet-8 \\(A\\)"):
        count(fine_tuned_net(), 2)
    with pytest.raises(ValueError, match="input_size must be >= 1, got 0"):
        count(fine_tuned_net(), (0, 8))
    with pytest.raises(TypeError, match="needs a torch.nn.Module"):
        count("resnet20", 8)


# ---- Recorder -------------------------------------------------------------------------------

def test_the_recorder_watches_where_the_model_trains_and_changes_no_mode(default_device_elsewhere,
                                                                        fine_tuned_net):
    model = fine_tuned_net()
    before = modes(model)
    images, labels = batch()
    with Recorder(model, every=1) as recorder:
        torch.nn.functional.cross_entropy(model(images), labels).backward()
    assert modes(model) == before and no_hooks(model)
    assert recorder.stats["stem.bn"]["std"].shape == (1,)
    assert recorder.parameter_stats["fc.weight"]["grad_norm"][0] > 0


def test_the_recorder_rejects_bad_input_with_the_shared_messages(fine_tuned_net):
    with pytest.raises(TypeError, match="Recorder needs a torch.nn.Module"):
        Recorder("resnet20")
    with pytest.raises(ValueError, match="sample must be a whole number, got 2.5"):
        Recorder(fine_tuned_net(), sample=2.5)


# ---- load_checkpoint ------------------------------------------------------------------------

def test_load_checkpoint_loads_onto_the_default_device_unless_told(default_device_elsewhere):
    assert rx.load_checkpoint("resnet20-fashion-mnist").fc.weight.device.type == "meta"
    model = rx.load_checkpoint("resnet20-fashion-mnist", device="cpu")
    assert model.fc.weight.device == torch.device("cpu") and not model.training
