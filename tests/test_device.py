import torch

import resnet_explorer as rx
from resnet_explorer.device import model_device, resolve_device


def test_default_device_prefers_an_accelerator():
    device = rx.default_device()
    if torch.cuda.is_available():
        assert device.type == "cuda"
    elif torch.backends.mps.is_available():
        assert device.type == "mps"
    else:
        assert device == torch.device("cpu")


def test_resolve_device_honours_an_override():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(None) == rx.default_device()


def test_model_device_is_where_the_parameters_are():
    assert model_device(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert model_device(torch.nn.ReLU()) == torch.device("cpu")  # no parameters
    if torch.cuda.is_available():
        assert model_device(torch.nn.Linear(2, 2).cuda()).type == "cuda"


def test_computing_on_uses_the_models_device_unless_told():
    from resnet_explorer.device import computing_on

    model = torch.nn.Linear(2, 2)
    with computing_on(model) as device:
        assert device == torch.device("cpu")
    with computing_on(model, "cpu:0") as device:  # the same place, so nothing moves
        assert device == torch.device("cpu")
        assert model.weight.device == torch.device("cpu")
    if torch.cuda.is_available():
        try:
            with computing_on(model, "cuda") as device:
                assert model.weight.device.type == "cuda"
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        assert model.weight.device == torch.device("cpu")  # moved back, also after an error
