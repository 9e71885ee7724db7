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


# ---- what is not a standard torchvision ResNet is refused, not converted wrongly (issue 15) ------

def three_by_three_stem(model):
    model.conv1 = torch.nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)  # a CIFAR adaptation


def head_with_dropout(model):
    model.fc = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(512, 10))


@pytest.mark.parametrize("change, message", [
    (lambda m: setattr(m, "maxpool", torch.nn.Identity()), r"maxpool is Identity\(\).*MaxPool2d"),
    (lambda m: setattr(m, "avgpool", torch.nn.AdaptiveMaxPool2d(1)),
     r"avgpool is AdaptiveMaxPool2d.*AdaptiveAvgPool2d"),
    (three_by_three_stem, r"conv1 is Conv2d\(3, 64, kernel_size=\(3, 3\).*a 7x7 conv"),
    (head_with_dropout, r"fc is Sequential.*a Linear layer"),
    (lambda m: setattr(m.layer2[0], "relu", torch.nn.GELU()), r"layer2.0.relu is GELU\(.*ReLU"),
])
def test_a_changed_resnet_is_refused_with_what_differs(change, message):
    model = torchvision.models.resnet18()
    change(model)
    with pytest.raises(ValueError, match=f"{message}.*from_torchvision converts torchvision's "
                                         "standard ResNets only"):
        rx.from_torchvision(model)


class ScaledResNet(torchvision.models.ResNet):
    """Every module as torchvision builds it, but a forward pass of its own."""

    def forward(self, x):
        return 2 * super().forward(x)


def test_outputs_are_compared_on_a_probe_batch():
    torch.manual_seed(0)
    model = ScaledResNet(torchvision.models.resnet.BasicBlock, [2, 2, 2, 2]).train()
    before = {name: value.clone() for name, value in model.state_dict().items()}
    with pytest.raises(ValueError, match=r"outputs differ from ScaledResNet's by up to .* on a probe batch"):
        rx.from_torchvision(model)
    assert model.training and all(m.training for m in model.modules())
    assert all(torch.equal(before[name], value) for name, value in model.state_dict().items())
