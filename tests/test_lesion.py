"""Lesion study (Veit et al. 2016): removing and swapping blocks, and the study's numbers."""

import numpy as np
import pytest
import torch

import resnet_explorer as rx
from resnet_explorer.lesion import (
    lesion_study,
    lesioned,
    network_blocks,
    random_removal,
    removable,
    test_error,
)


def random_images(n=16, channels=1, size=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, channels, size, size, generator=generator), torch.randint(0, 10, (n,), generator=generator)


def small_net(depth=14, shortcut="A", seed=0, **options):
    torch.manual_seed(seed)
    model = rx.build_model(depth, shortcut, in_channels=1, **options)
    return model.eval()


def no_hooks_left(model):
    return not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def capture(module):
    """A hook that keeps a module's input and output."""
    seen = {}

    def hook(module, inputs, output):
        seen["input"], seen["output"] = inputs[0], output
    return module.register_forward_hook(hook), seen


# --------------------------------------------------------------------------------------------
# The blocks
# --------------------------------------------------------------------------------------------

def test_network_blocks_lists_blocks_in_forward_order_with_the_downsampling_ones():
    blocks = network_blocks(small_net(20))
    assert [b.path for b in blocks][:4] == ["stage1.block1", "stage1.block2", "stage1.block3", "stage2.block1"]
    assert len(blocks) == 9
    assert [b.path for b in blocks if b.shape_changes] == ["stage2.block1", "stage3.block1"]
    assert all(block.shortcut is not None and removable(block) for block in blocks)


def test_a_plain_net_cannot_lose_its_downsampling_blocks():
    blocks = network_blocks(small_net(20, "none"))
    assert [b.path for b in blocks if not removable(b)] == ["stage2.block1", "stage3.block1"]
    assert all(block.shortcut is None for block in blocks)


def test_option_c_projections_on_blocks_that_keep_the_shape_are_not_downsampling():
    blocks = network_blocks(small_net(14, "C"))
    assert [b.path for b in blocks if b.shape_changes] == ["stage2.block1", "stage3.block1"]


def test_a_dense_net_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="dense nets concatenate"):
        network_blocks(rx.build_model(14, "dense"))


# --------------------------------------------------------------------------------------------
# lesioned: what a removed or swapped block computes
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["stage1.block2", "stage2.block1"])
def test_a_removed_residual_block_computes_its_shortcut_alone(name):
    model = small_net()
    images, _ = random_images()
    block = dict(model.named_modules())[name]
    handle, seen = capture(block)
    with lesioned(model, remove=[name]), torch.no_grad():
        model(images)
    handle.remove()
    expected = torch.relu(block.shortcut(seen["input"]))  # the post-activation block's final ReLU
    torch.testing.assert_close(seen["output"], expected)


@pytest.mark.parametrize("options", [dict(activation_order=order) for order in
                                     ("bn_after_add", "relu_before_add", "relu_preact")]
                         + [dict(shortcut_variant=variant) for variant in
                            ("scale_shortcut", "exclusive_gate", "conv_shortcut", "dropout_shortcut")]
                         + [dict(stochastic_depth=0.5)])
def test_a_removed_block_of_every_he2016_unit_keeps_only_its_shortcut(options):
    """Whatever the order of its layers (He 2016, Fig. 4) or its addition (Table 1), a removed
    block computes f(y) with y its addition of a zero branch and the shortcut h(x)."""
    model = small_net(**options)
    images, _ = random_images()
    block = model.stage1[1]
    handle, seen = capture(block)
    with lesioned(model, remove=["stage1.block2"]), torch.no_grad():
        model(images)
        x = seen["input"]
        shortcut = block.shortcut(x)
        expected = block._run(block.after_addition, block.addition(x, torch.zeros_like(shortcut), shortcut))
    handle.remove()
    torch.testing.assert_close(seen["output"], expected)


def test_a_removed_preactivation_block_passes_its_input_on_unchanged():
    model = small_net(preact=True)
    images, _ = random_images()
    block = model.stage1[1]
    handle, seen = capture(block)
    with lesioned(model, remove=["stage1.block2"]), torch.no_grad():
        model(images)
    handle.remove()
    torch.testing.assert_close(seen["output"], seen["input"])


def test_a_removed_plain_block_is_the_identity():
    model = small_net(shortcut="none")
    images, _ = random_images()
    with lesioned(model, remove=["stage3.block2"]), torch.no_grad():
        handle, seen = capture(model.stage3[1])  # after lesioned's own hook, so it sees its output
        model(images)
    handle.remove()
    torch.testing.assert_close(seen["output"], seen["input"])


def test_swapped_blocks_compute_each_other_in_each_others_place():
    model = small_net(20)
    images, _ = random_images()
    second, third = model.stage1[1], model.stage1[2]
    with lesioned(model, swap=[("stage1.block2", "stage1.block3")]), torch.no_grad():
        handle, seen = capture(second)
        model(images)
        at_second = seen["output"]
        expected = third.forward(seen["input"])
    handle.remove()
    torch.testing.assert_close(at_second, expected)


def test_swapping_twice_restores_the_net():
    model = small_net(20)
    images, _ = random_images()
    with torch.no_grad():
        intact = model(images)
        with lesioned(model, swap=[("stage1.block2", "stage1.block3"), ("stage1.block2", "stage1.block3")]):
            twice = model(images)
    torch.testing.assert_close(twice, intact)


def test_lesioned_leaves_the_model_as_it_was_also_after_an_error():
    model = small_net()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(RuntimeError, match="inside"):
        with lesioned(model, remove=["stage1.block1", "stage3.block2"]):
            raise RuntimeError("inside")
    assert no_hooks_left(model)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert not model.training


@pytest.mark.parametrize("arguments, message", [
    (dict(remove=["stage9.block1"]), "unknown block 'stage9.block1'; this net's blocks are stage1.block1"),
    (dict(remove="stage1.block1 stage1.block2"), "unknown block"),
    (dict(remove=["stage1.block1", "stage1.block1"]), "names a block twice"),
    (dict(remove=[3]), "block names such as 'stage1.block2'"),
    (dict(swap=[("stage1.block1", "stage2.block2")]), "in different stages"),
    (dict(swap=[("stage2.block1", "stage2.block2")]), "changes the shape of its input, so it fits nowhere"),
    (dict(swap=["stage1.block1"]), "swap must be pairs of block names"),
    (dict(remove=["stage1.block1"], swap=[("stage1.block1", "stage1.block2")]), "cannot be combined"),
])
def test_lesioned_says_what_is_wrong(arguments, message):
    model = small_net()
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        with lesioned(model, **arguments):
            pass
    assert no_hooks_left(model)


def test_a_plain_downsampling_block_cannot_be_removed():
    model = small_net(shortcut="none")
    with pytest.raises(ValueError, match="stage2.block1 changes the shape.*no shortcut there"):
        with lesioned(model, remove=["stage2.block1"]):
            pass


# --------------------------------------------------------------------------------------------
# The study
# --------------------------------------------------------------------------------------------

def test_the_study_has_every_number_in_its_place():
    model = small_net(20)
    images, labels = random_images(24)
    study = lesion_study(model, images, labels, max_removed=3, max_swaps=2, draws=2, progress=False)
    assert study.model_name == "ResNet-20 (A)"
    assert study.base_error == test_error(model, images, labels)
    assert study.single_block_error.shape == (9,) and np.isfinite(study.single_block_error).all()
    assert study.removed_error.shape == (4, 2) and study.swap_error.shape == (3, 2)
    assert (study.removed_error[0] == study.base_error).all()
    assert [len(chosen) for chosen in study.removed_sets[2]] == [2, 2]
    assert (study.swap_kendall_tau[0] == 1).all() and (study.swap_kendall_tau[1:] < 1).all()
    assert study.chance_error == pytest.approx(0.9)
    assert study.images == 24
    with lesioned(model, remove=study.removed_sets[3][1]):
        assert test_error(model, images, labels) == study.removed_error[3, 1]


def test_the_study_draws_the_same_sets_as_random_removal_and_for_every_call():
    model = small_net(20)
    images, labels = random_images(8)
    first = lesion_study(model, images, labels, max_removed=4, max_swaps=1, draws=3, seed=5, progress=False)
    second = lesion_study(model, images, labels, max_removed=4, max_swaps=1, draws=3, seed=5, progress=False)
    assert first.removed_sets == second.removed_sets
    assert first.removed_sets[4][2] == random_removal(model, 4, draw=2, seed=5)
    other_seed = lesion_study(model, images, labels, max_removed=4, max_swaps=0, draws=3, seed=6, progress=False)
    assert other_seed.removed_sets[4] != first.removed_sets[4]


def test_a_plain_net_reports_its_downsampling_blocks_as_not_removable():
    model = small_net(14, "none")
    images, labels = random_images(8)
    study = lesion_study(model, images, labels, max_removed=2, max_swaps=0, draws=1, progress=False)
    assert np.isnan(study.single_block_error[study.downsampling]).all()
    assert study.single_block_summary()["not_removable"] == 2
    assert all("stage2.block1" not in chosen for row in study.removed_sets for chosen in row)
    assert len(study.swap_counts) == 1  # max_swaps=0: the intact net only
    one_pair = lesion_study(small_net(14), images, labels, max_removed=0, max_swaps=5, draws=1, progress=False)
    assert one_pair.swap_counts.tolist() == [0, 1]  # ResNet-14 has one pair of swappable blocks


def test_the_study_leaves_the_model_where_and_as_it_was():
    model = small_net(14).train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    images, labels = random_images(8)
    lesion_study(model, images, labels, max_removed=1, max_swaps=1, draws=1, device="cpu", progress=False)
    assert model.training and no_hooks_left(model)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


def test_a_trained_resnet_survives_losing_a_block_better_than_a_trained_plain_net():
    """Veit et al. 2016, Section 4.1, on the shipped 20-layer checkpoints (64 test images)."""
    data = rx.load_dataset()
    images, labels = data.test_images[:64], data.test_labels[:64]
    studies = {name: lesion_study(rx.load_checkpoint(name), images, labels, max_removed=0, max_swaps=0,
                                  progress=False)
               for name in ("resnet20-fashion-mnist", "plain20-fashion-mnist")}
    resnet, plain = (studies[name].single_block_summary() for name in studies)
    assert resnet["base"] < 0.3 and plain["base"] < 0.3
    assert resnet["mean_other"] < plain["mean_other"] - 0.2
    assert plain["mean_other"] > 0.7  # toward chance (0.9)


@pytest.mark.parametrize("arguments, error, message", [
    (dict(draws=0), ValueError, "draws must be >= 1, got 0"),
    (dict(max_removed=-1), ValueError, "max_removed must be >= 0"),
    (dict(max_swaps=1.5), ValueError, "max_swaps must be a whole number"),
    (dict(batch_size=True), ValueError, "batch_size must be a whole number"),
])
def test_the_study_says_what_is_wrong_with_its_arguments(arguments, error, message):
    images, labels = random_images(4)
    with pytest.raises(error, match=message):
        lesion_study(small_net(), images, labels, progress=False, **arguments)


def test_the_study_says_what_is_wrong_with_its_input():
    model = small_net()
    images, labels = random_images(4)
    with pytest.raises(ValueError, match="images have 3 channel"):
        lesion_study(model, torch.randn(4, 3, 8, 8), labels, progress=False)
    with pytest.raises(ValueError, match="labels must be a tensor of 4 class indices"):
        lesion_study(model, images, labels[:3], progress=False)
    with pytest.raises(TypeError, match="lesion_study needs a torch.nn.Module"):
        lesion_study("resnet", images, labels, progress=False)
    with pytest.raises(TypeError, match="made by build_model"):
        lesion_study(torch.nn.Linear(2, 2), images, labels, progress=False)


def test_random_removal_says_how_many_blocks_it_can_remove():
    with pytest.raises(ValueError, match="count must be <= 7"):
        random_removal(small_net(20, "none"), 8)
    assert random_removal(small_net(20), 0) == ()


def test_every_block_class_names_its_branch_output():
    for options in (dict(), dict(preact=True)):
        for depth, family in ((20, "cifar"), (50, "imagenet")):
            model = rx.build_model(depth, "B", family, **options)
            block = model.stage1[0]
            assert isinstance(getattr(block, block.branch_output), torch.nn.Module)


def test_the_shipped_resnet56_hardly_notices_a_middle_block_gone_and_plain56_collapses():
    """Lesson 09's claim on the shipped 56-layer nets (Veit et al. 2016, Fig. 3), on 200 test images."""
    data = rx.load_dataset(image_size=16)
    images, labels = data.test_images[:200], data.test_labels[:200]
    resnet, plain = (rx.load_checkpoint(f"{name}56-fashion-mnist-long").eval() for name in ("resnet", "plain"))
    intact = {net: test_error(net, images, labels) for net in (resnet, plain)}
    for block in ("stage2.block5", "stage3.block5"):
        with lesioned(resnet, remove=[block]):
            assert test_error(resnet, images, labels) < intact[resnet] + 0.05
        with lesioned(plain, remove=[block]):
            assert test_error(plain, images, labels) > 0.6
