"""rx.deepen: the deeper net built from a shallower one plus identity blocks (He et al. 2015, Section 1)."""

import pytest
import torch

import resnet_explorer as rx
from resnet_explorer.training import error_rate


def settle_batch_norm(model, channels=3, size=32, passes=3):
    """Give BN running statistics that are not its initial ones (as training would)."""
    generator = torch.Generator().manual_seed(1)
    model.train()
    with torch.no_grad():
        for _ in range(passes):
            model(torch.randn(16, channels, size, size, generator=generator) * 2 + 0.5)
    return model.eval()


@pytest.mark.parametrize("name", ["plain20-fashion-mnist", "resnet20-fashion-mnist"])
def test_a_trained_net_deepened_to_56_layers_gives_the_same_logits_and_errors(name):
    data = rx.load_dataset()  # the images the shipped checkpoints were trained on (28x28)
    model = rx.load_checkpoint(name, device="cpu")
    deeper = rx.deepen(model, 56)
    assert deeper.config.depth == 56 and deeper.config.shortcut == model.config.shortcut
    images = data.test_images[:256]
    with torch.no_grad():
        difference = (deeper(images) - model(images)).abs().max().item()
    assert difference <= 1e-4
    labels = data.test_labels[:len(images)]
    assert (error_rate(deeper, images, labels, precision="fp32")
            == error_rate(model, images, labels, precision="fp32"))


@pytest.mark.parametrize("options, depth", [
    (dict(depth=8, shortcut="none"), 20),
    (dict(depth=8, shortcut="A"), 26),
    (dict(depth=8, shortcut="B"), 14),
    (dict(depth=8, shortcut="C"), 14),
    (dict(depth=8, shortcut="A", preact=True), 14),
    (dict(depth=8, shortcut="B", preact=True, activation="sigmoid"), 14),
    (dict(depth=8, shortcut="none", norm="none"), 14),
    (dict(depth=8, shortcut="A", norm="none"), 14),
    (dict(depth=18, shortcut="none", family="imagenet", width=4), 34),
    (dict(depth=50, shortcut="B", family="imagenet", width=4), 101),
])
def test_every_family_that_allows_the_construction_keeps_its_outputs(options, depth):
    torch.manual_seed(0)
    model = settle_batch_norm(rx.build_model(**options, device="cpu"))
    deeper = rx.deepen(model, depth)
    images = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(deeper(images), model(images), atol=1e-5, rtol=1e-5)


def test_original_blocks_keep_their_weights_and_the_added_ones_come_last_in_each_stage():
    torch.manual_seed(0)
    model = settle_batch_norm(rx.build_model(14, "none", width=4, device="cpu"))
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    deeper = rx.deepen(model, 26)
    for name, tensor in model.state_dict().items():  # the model itself is unchanged
        torch.testing.assert_close(tensor, before[name])
    state = deeper.state_dict()
    for name, tensor in before.items():
        torch.testing.assert_close(state[name], tensor)
    assert [len(stage) for stage in deeper.stages()] == [4, 4, 4]
    added = deeper.stage2.block4  # never the first (shape-changing) block of a stage
    assert added.conv1.weight[:, :, 1, 1].diag().eq(1).all() and added.conv1.weight.abs().sum() == 8
    assert added.bn1.running_mean.eq(0).all() and added.bn1.weight.eq(1).all()
    torch.testing.assert_close(added.bn1.running_var + added.bn1.eps, torch.ones(8))


def test_a_residual_nets_added_branch_is_zero_so_it_is_the_identity_in_train_mode_too():
    torch.manual_seed(0)
    deeper = rx.deepen(rx.build_model(8, "A", width=4, device="cpu"), 14)
    assert deeper.stage3.block2.conv2.weight.abs().sum() == 0
    block = deeper.stage3.block2.train()
    x = torch.relu(torch.randn(4, 16, 8, 8))
    torch.testing.assert_close(block(x), x)


def test_modes_device_and_random_numbers_are_kept():
    torch.manual_seed(0)
    model = rx.build_model(8, "A", width=4, device="cpu").train()
    model.stem.bn.eval()  # a frozen BN, as in fine-tuning
    state = torch.random.get_rng_state()
    deeper = rx.deepen(model, 20)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert deeper.training and not deeper.stem.bn.training and deeper.stage1.block3.training
    assert next(deeper.parameters()).device == next(model.parameters()).device


@pytest.mark.parametrize("make, depth, message", [
    (lambda: rx.build_model(20, device="cpu"), 20, "must be larger than the model's 20"),
    (lambda: rx.build_model(20, device="cpu"), 8, "must be larger"),
    (lambda: rx.build_model(20, device="cpu"), 21, "not 6n\\+2.*20 and 26"),
    (lambda: rx.build_model(20, device="cpu"), 56.0, "depth must be an integer"),
    (lambda: rx.build_model(20, "dense", device="cpu"), 32, "dense block appends"),
    (lambda: rx.build_model(20, "none", preact=True, device="cpu"), 32,
     "plain pre-activation net.*can be negative"),
    (lambda: rx.build_model(20, "C", preact=True, device="cpu"), 32, "pre-activated input"),
    (lambda: rx.build_model(50, "none", "imagenet", width=4, device="cpu"), 101, "quarter of the channels"),
    (lambda: rx.build_model(20, activation="tanh", device="cpu"), 32, "tanh\\(x\\) differs from x"),
    (lambda: rx.build_model(34, "B", "imagenet", width=4, device="cpu"), 50, "same type.*bottleneck"),
    (lambda: rx.build_model(50, "B", "imagenet", width=4, device="cpu"), 152 + 1, "101, 152"),
    (lambda: torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3)), 56, "made by build_model"),
    (lambda: "plain-20", 56, "made by build_model"),
])
def test_bad_input_says_why_the_construction_does_not_apply(make, depth, message):
    with pytest.raises(ValueError, match=message):
        rx.deepen(make(), depth)
