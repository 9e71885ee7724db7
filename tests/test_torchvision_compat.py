"""Torchvision ResNets become resnet_explorer models with the same weights and outputs."""

import pytest
import torch
import torchvision

import resnet_explorer as rx


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_from_torchvision_gives_the_same_outputs(name):
    torch.manual_seed(0)
    theirs = getattr(torchvision.models, name)(num_classes=7)
    # Random BN statistics, so that the comparison covers every buffer.
    for module in theirs.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 1.5)
    theirs.eval()
    ours = rx.from_torchvision(theirs)
    assert not ours.training
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-4, atol=1e-5)
    assert rx.count_params(ours) == rx.count_params(theirs)


def test_from_torchvision_rejects_what_it_cannot_map():
    with pytest.raises(ValueError, match="not a torchvision ResNet"):
        rx.from_torchvision(torchvision.models.vgg11())
    with pytest.raises(ValueError, match="ResNeXt and wide ResNets are not supported"):
        rx.from_torchvision(torchvision.models.resnext50_32x4d())
