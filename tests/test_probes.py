"""Probes: layer responses (Fig. 7), gradient flow, and the Recorder that watches training.

The measured numbers quoted in comments come from 2 CPU cores, torch 2.14.1; they feed the
lessons on vanishing gradients and on Fig. 7.
"""

import gc
import weakref

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from resnet_explorer.data import load_dataset
from resnet_explorer.models import build_model
from resnet_explorer.probes import (
    LayerResponses,
    Recorder,
    gradient_flow,
    layer_responses,
    response_layers,
)


def random_batch(n=8, channels=3, size=16, seed=0):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(n, channels, size, size, generator=generator)
    return images, torch.randint(0, 10, (n,), generator=generator)


def cifar_layer_names(depth):
    blocks = (depth - 2) // 6
    return ["stem"] + [f"stage{stage}.block{block}.conv{conv}"
                       for stage in (1, 2, 3) for block in range(1, blocks + 1) for conv in (1, 2)]


def no_hooks_left(model):
    return (not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())
            and not any(p._backward_hooks for p in model.parameters()))


def train_briefly(model, images, labels, steps, *, batch_size=64, seed=0):
    """A minimal SGD loop with the paper's settings (lr 0.1, momentum 0.9, weight decay 1e-4)."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    model.train()
    for _ in range(steps):
        batch = torch.randint(0, len(labels), (batch_size,), generator=generator)
        loss = F.cross_entropy(model(images[batch]), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


# --------------------------------------------------------------------------------------------
# layer_responses
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("depth", [8, 20, 56])
def test_one_response_per_3x3_layer_of_a_cifar_net(depth):
    responses = layer_responses(build_model(depth), random_batch()[0])
    assert isinstance(responses, LayerResponses)
    assert len(responses) == len(responses.std) == depth - 1  # 6n+1: every weighted layer but fc
    assert responses.layer_names == cifar_layer_names(depth)
    assert responses.model_name == f"ResNet-{depth} (A)"
    assert np.all(np.isfinite(responses.std)) and np.all(responses.std > 0)


@pytest.mark.parametrize("options", [
    dict(shortcut="none"),
    dict(preact=True),
    dict(norm="none"),
    dict(shortcut="none", norm="none", activation="sigmoid"),
    dict(preact=True, shortcut="B"),
])
def test_layer_responses_work_on_plain_preact_and_unnormalized_nets(options):
    responses = layer_responses(build_model(20, **options), random_batch()[0])
    assert responses.layer_names == cifar_layer_names(20)
    assert np.all(np.isfinite(responses.std)) and np.all(responses.std > 0)


@pytest.mark.parametrize("preact", [False, True])
def test_bottleneck_nets_report_their_3x3_layers_only(preact):
    model = build_model(50, "B", "imagenet", preact=preact, width=8)
    responses = layer_responses(model, random_batch(size=32)[0], device="cpu")
    assert len(responses) == 1 + 3 + 4 + 6 + 3  # the 7x7 stem and one 3x3 layer per block
    assert responses.layer_names[:3] == ["stem", "stage1.block1.conv2", "stage1.block2.conv2"]
    assert np.all(np.isfinite(responses.std))


def test_responses_are_read_after_bn_or_at_the_conv_in_pre_activation_nets():
    assert list(response_layers(build_model(8)).items())[:3] == [
        ("stem", "stem.bn"), ("stage1.block1.conv1", "stage1.block1.bn1"),
        ("stage1.block1.conv2", "stage1.block1.bn2")]
    assert list(response_layers(build_model(8, preact=True)).items())[:2] == [
        ("stem", "stem.conv"), ("stage1.block1.conv1", "stage1.block1.conv1")]


def test_std_is_per_channel_then_averaged_and_sorted_like_fig_7_bottom():
    # A fresh net's BN in eval mode has running statistics (0, 1) and weight 1: the stem's
    # response is its conv output; check the std definition against that directly.
    model = build_model(8)
    images = random_batch()[0]
    with torch.no_grad():
        stem_output = model.stem.conv(images)
    expected = stem_output.std(dim=(0, 2, 3), correction=0).mean().item() / np.sqrt(1 + 1e-5)
    responses = layer_responses(model, images)
    assert responses.std[0] == pytest.approx(expected, rel=1e-4)
    assert list(responses.sorted()) == sorted(responses.std, reverse=True)
    assert responses.median == pytest.approx(np.median(responses.std))


def test_layer_responses_leave_the_model_as_it_was():
    model = build_model(8).train()
    model.stage1.block1.bn1.eval()  # a mixed state is restored module by module
    before = {name: buffer.clone() for name, buffer in model.named_buffers()}
    layer_responses(model, random_batch()[0])
    assert model.training and model.stage1.block1.bn2.training
    assert not model.stage1.block1.bn1.training
    assert all(torch.equal(before[name], buffer) for name, buffer in model.named_buffers())
    assert no_hooks_left(model)


# --------------------------------------------------------------------------------------------
# Fig. 7 after brief training
# --------------------------------------------------------------------------------------------

def test_after_ten_training_steps_plain_20_responds_more_than_resnet_20():
    """Fig. 7's comparison after a brief run, and why a brief run does not yet show the paper's gap.

    Fashion-MNIST (the shipped subset, 2,000 training images downscaled to 8x8), 10 SGD steps
    of 64 images (lr 0.1, momentum 0.9, weight decay 1e-4), the same seed and batches for
    both nets; responses of 200 test images. Measured medians, seeds 0-5: ResNet-20 28-67,
    plain-20 164-561; plain / ResNet 16.4, 8.7, 9.1, 5.0, 5.2, 5.7.

    These responses are huge because in eval mode BN divides by its running statistics, which
    after 10 steps still lag far behind the batch statistics; the mismatch compounds from layer
    to layer, and more in the plain net. It is not yet the paper's reason. With BN
    recalibrated on training images the two medians are within 13% of each other (ratios
    0.87-1.04), the sign depending on the seed: the BN scales, which set the calibrated
    responses, have barely moved from 1. The lag itself fades within 15-25 steps, and then
    the comparison can flip (seed 4, step 15: ratio 0.15; at 16x16 most seeds flip by step
    15-20). The paper's gap, residual functions closer to zero, comes with long training: in
    one run of 4,000 steps (16x16, 10,000 images, batch 128, lr 0.1, then 0.01 for the last
    1,000), plain / ResNet was 1.01, 1.02, 1.08, 1.11, 1.11 at steps 500, 1k, 2k, 3k, 4k
    (medians 0.84 vs 0.76 at the end, equal to the median BN scale of each net).
    """
    data = load_dataset(image_size=8, train_size=2000, test_size=200)
    for seed in (0, 1, 2):
        medians = {}
        for shortcut in ("A", "none"):
            torch.manual_seed(seed)
            model = build_model(20, shortcut, in_channels=1)
            train_briefly(model, data.train_images, data.train_labels, steps=10, seed=seed)
            medians[shortcut] = layer_responses(model, data.test_images).median
        assert medians["none"] >= 3 * medians["A"], (seed, medians)


# --------------------------------------------------------------------------------------------
# gradient_flow
# --------------------------------------------------------------------------------------------

def test_gradient_flow_lines_up_with_layer_responses_and_lists_every_weight():
    model = build_model(20)
    images, labels = random_batch()
    flow = gradient_flow(model, images, labels)
    assert flow.layer_names == layer_responses(model, images).layer_names
    assert len(flow.output_grad_norm) == 19
    assert flow.weight_names[0] == "stem.conv.weight" and flow.weight_names[-1] == "fc.weight"
    assert len(flow.weight_names) == len(flow.weight_grad_norm) == 20  # 19 convs (option A) + fc
    assert np.all(flow.output_grad_norm > 0) and np.all(flow.weight_grad_norm > 0)
    assert flow.loss > 0


def test_gradient_flow_matches_a_plain_backward_pass():
    model = build_model(8)
    images, labels = random_batch()
    flow = gradient_flow(model, images, labels)
    F.cross_entropy(model(images), labels).backward()  # in train mode, as the probe by default
    for index, weight in ((0, model.stem.conv.weight), (-1, model.fc.weight)):
        assert flow.weight_grad_norm[index] == pytest.approx(weight.grad.norm().item(), rel=1e-5)


@pytest.mark.parametrize("train_mode", [True, False])
def test_gradient_flow_leaves_no_gradients_and_keeps_mode_and_bn_statistics(train_mode):
    model = build_model(8).eval()
    before = {name: buffer.clone() for name, buffer in model.named_buffers()}
    gradient_flow(model, *random_batch(), train_mode=train_mode)
    assert not model.training
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[name], buffer) for name, buffer in model.named_buffers())
    assert no_hooks_left(model)


@pytest.mark.parametrize("init", ["default", "xavier"])
def test_without_bn_plain_56_gradients_at_the_first_layers_are_orders_of_magnitude_smaller(init):
    """ReLU, norm="none", at initialization; gradients w.r.t. the first 3 layers' outputs.

    Measured (16 images of 16x16, 3 seeds), mean of the first three layers' output-gradient norms:
    - init "default" (PyTorch's, weight variance 1/(3 fan_in)): plain-56 about 1e-24 (its
      last layer 4e-4: the signal shrinks ~2.4x per layer, forward and backward); ResNet-56
      0.012, nearly flat (0.03 at its last layer). Ratio about 1e22.
    - init "xavier" (gain sqrt(2)): plain-56 0.0007-0.006 (0.08 at its last layer); ResNet-56
      220-730, because without BN each block adds its variance to the identity path and the
      ResNet explodes (loss 4e3-2e4 at initialization). Ratio about 1e5: the plain net
      vanishes and the ResNet explodes; neither trains well without BN.
    """
    images, labels = random_batch(16, seed=100)
    first = {}
    for shortcut in ("A", "none"):
        torch.manual_seed(0)
        model = build_model(56, shortcut, norm="none", init=init)
        first[shortcut] = gradient_flow(model, images, labels).output_grad_norm[:3].mean()
    assert first["none"] * 100 <= first["A"]
    assert first["none"] > 0 or init == "default"  # float64 norms: 1e-24 does not read as 0


@pytest.mark.parametrize("norm,ratio", [("none", 1e6), ("batch", 100)])
def test_sigmoid_gradients_vanish_in_post_activation_resnets_not_in_preact_ones(norm, ratio):
    """Sigmoid, depth 56, at initialization (PyTorch's default init), 16 images of 16x16.

    In the original block the sigmoid follows the addition, so the gradient on the identity
    path is multiplied by sigmoid' <= 1/4 in every block; the pre-activation block (He et al.
    2016) leaves the identity path clean. Measured, first three layers' output-gradient norms:
    - norm="none": post-activation 2e-20 (7.6e-3 at its last layer), pre-activation 2.2e-3
      to 2.6e-3 (7.3e-3 at its last layer): ratio about 1e17. (Depth 20: 1.1e-8 vs 2.5e-3.)
    - norm="batch": post-activation 3.1e-6 to 3.5e-6 (7e-3 at its last layer), pre-activation
      6.1e-3 to 6.4e-3 (1.4e-2 at its last layer): ratio about 1,800. (Depth 20: only ~12x.)
    """
    images, labels = random_batch(16, seed=100)
    flows = {}
    for preact in (False, True):
        torch.manual_seed(0)
        model = build_model(56, norm=norm, activation="sigmoid", init="default", preact=preact)
        flows[preact] = gradient_flow(model, images, labels).output_grad_norm
    post, pre = flows[False], flows[True]
    assert pre[:3].mean() >= ratio * post[:3].mean()
    assert pre[:3].mean() >= 0.1 * pre[-1]  # the pre-activation net keeps its gradient
    assert post[:3].mean() <= 0.01 * post[-1]  # the post-activation net loses it


# --------------------------------------------------------------------------------------------
# Recorder
# --------------------------------------------------------------------------------------------

def run_steps(model, steps, images, labels, evaluate_between=False):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    for _ in range(steps):
        model.train()
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if evaluate_between:  # evaluation passes are not steps
            model.eval()
            with torch.no_grad():
                model(images)
    model.train()


def test_recorder_records_one_step_in_every():
    model = build_model(8, width=4)
    with Recorder(model, every=3, sample=4) as recorder:
        run_steps(model, 10, *random_batch(), evaluate_between=True)
    assert recorder.steps == [0, 3, 6, 9]
    stats = recorder.stats
    assert list(stats) == list(response_layers(model).values())
    for layer in stats.values():
        assert list(layer["step"]) == [0, 3, 6, 9]
        assert layer["mean"].shape == layer["std"].shape == layer["grad_norm"].shape == (4,)
        assert np.all(np.isfinite(layer["grad_norm"])) and np.all(layer["std"] > 0)
    conv = recorder.parameter_stats["stem.conv.weight"]
    assert list(conv["step"]) == [0, 3, 6, 9] and np.all(conv["grad_norm"] > 0)
    assert no_hooks_left(model)


def test_recorder_numbers_agree_with_the_probes():
    model = build_model(8, width=4)
    images, labels = random_batch()
    flow = gradient_flow(model, images, labels)  # train mode, the same weights as the step below
    with Recorder(model, every=1, sample=len(images)) as recorder:
        run_steps(model, 1, images, labels)
    stats = recorder.stats
    recorded = [stats[module]["grad_norm"][0] for module in response_layers(model).values()]
    np.testing.assert_allclose(recorded, flow.output_grad_norm, rtol=1e-4)
    recorded = [recorder.parameter_stats[name]["grad_norm"][0] for name in flow.weight_names]
    np.testing.assert_allclose(recorded, flow.weight_grad_norm, rtol=1e-4)
    # In train mode BN's output has per-channel std 1 (its weight) on the batch it normalizes.
    assert stats["stage1.block1.bn1"]["std"][0] == pytest.approx(1.0, abs=1e-3)


def test_recorder_reads_vanished_gradients_without_underflow():
    # Plain-56 without BN, PyTorch's default init: about 1e-24 at the stem (see above), where
    # float32 squares underflow to 0.
    model = build_model(56, "none", norm="none", init="default")
    images, labels = random_batch(16, seed=100)
    expected = gradient_flow(model, images, labels).output_grad_norm[0]
    with Recorder(model, ["stem.bn"], every=1) as recorder:
        run_steps(model, 1, images, labels)
    assert 0 < expected < 1e-15
    assert recorder.stats["stem.bn"]["grad_norm"][0] == pytest.approx(expected, rel=1e-4)


def test_recorder_keeps_maps_only_for_the_layers_asked_for():
    model = build_model(8, width=4)
    with Recorder(model, ["stem.act", "stage1.block1.bn2", "fc"], every=2, sample=3,
                  keep_maps=["stage1.block1.bn2"]) as recorder:
        run_steps(model, 5, *random_batch())
    assert list(recorder.maps) == ["stage1.block1.bn2"]
    kept = recorder.maps["stage1.block1.bn2"]
    assert kept.shape == (3, 4, 16, 16) and kept.device.type == "cpu" and not kept.requires_grad
    assert list(recorder.stats) == ["stem.act", "stage1.block1.bn2", "fc"]
    assert recorder.stats["fc"]["std"].shape == (3,)  # steps 0, 2, 4


def test_recorder_removes_its_hooks_when_the_body_raises():
    model = build_model(8, width=4)
    with pytest.raises(RuntimeError, match="boom"):
        with Recorder(model, every=1, keep_maps=["stem.bn"]) as recorder:
            run_steps(model, 2, *random_batch())
            raise RuntimeError("boom")
    assert no_hooks_left(model)
    assert recorder.steps == [0, 1]
    run_steps(model, 1, *random_batch())  # training goes on, unrecorded
    assert recorder.steps == [0, 1]


def test_a_thousand_recorders_leak_no_hooks_and_no_memory():
    model = build_model(8, width=1)
    images, labels = random_batch(2, size=8)

    def use_once():
        with Recorder(model, every=1, keep_maps=["stem.bn"]) as recorder:
            F.cross_entropy(model(images), labels).backward()
        return weakref.ref(recorder)

    for _ in range(20):
        use_once()
    gc.collect()
    objects_before = len(gc.get_objects())
    recorders = [use_once() for _ in range(1000)]
    gc.collect()
    assert no_hooks_left(model)
    assert not any(recorder() is not None for recorder in recorders)  # nothing keeps them alive
    # The list of 1000 weak references is the only growth expected here, but other threads (the
    # event loop of the Dask cluster another test started) make a few hundred objects meanwhile
    # (CI once counted 1,115). A leak of one object per use would add 1,000 more.
    assert len(gc.get_objects()) - objects_before < 2 * 1000


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("probe", ["layer_responses", "gradient_flow"])
def test_images_with_the_wrong_channel_count_are_explained(probe):
    model = build_model(8, in_channels=1)
    images, labels = random_batch(4, channels=3)
    with pytest.raises(ValueError, match=r"in_channels=1.*\(4, 3, 16, 16\)"):
        if probe == "layer_responses":
            layer_responses(model, images)
        else:
            gradient_flow(model, images, labels)


def test_labels_that_do_not_fit_are_explained():
    model = build_model(8)
    images, labels = random_batch(4)
    with pytest.raises(ValueError, match="4 class indices"):
        gradient_flow(model, images, labels[:3])
    with pytest.raises(ValueError, match=r"0\.\.9"):
        gradient_flow(model, images, labels + 10)


def test_unknown_layer_names_in_the_recorder_are_explained():
    model = build_model(8)
    with pytest.raises(ValueError, match="'stage1.block1.bn3'.*did you mean.*'stage1.block1.bn1'"):
        Recorder(model, ["stage1.block1.bn3"])
    with pytest.raises(ValueError, match="'nonsense'.*valid names include 'stem'"):
        Recorder(model, ["nonsense"])
    with pytest.raises(ValueError, match="keep_maps.*'fc'.*'stem.bn'"):
        Recorder(model, ["stem.bn"], keep_maps=["fc"])
    with pytest.raises(ValueError, match="every must be >= 1, got 0"):
        Recorder(model, every=0)


def test_probes_need_a_net_from_build_model_or_named_layers():
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    with pytest.raises(TypeError, match="build_model"):
        layer_responses(other, random_batch()[0])
    with pytest.raises(TypeError, match="name the modules"):
        Recorder(other)
    with Recorder(other, ["0"], every=1) as recorder:
        other(random_batch()[0]).sum().backward()
    assert recorder.stats["0"]["std"].shape == (1,)
    assert recorder.parameter_stats["0.weight"]["grad_norm"] > 0
