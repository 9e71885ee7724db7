"""The options module: one list of every choice, and registries that the builder can follow."""

import pytest
from torch import nn

from resnet_explorer import blocks, options
from resnet_explorer.options import SHORTCUT_KINDS, SHORTCUTS


def test_every_shortcut_option_names_kinds_that_exist_and_can_be_built():
    for option in SHORTCUTS.values():
        for kind in (option.same_shape, option.shape_changes):
            assert kind is None or kind in SHORTCUT_KINDS, (option.name, kind)
    additive = {name for name, kind in SHORTCUT_KINDS.items() if kind.merge == "add"}
    assert additive == set(blocks.SHORTCUT_MODULES), "each kind that adds needs its module in blocks.py"
    assert options.SHORTCUT_OPTIONS == ("A", "B", "C", "none", "dense")


def test_the_paper_options_give_the_paper_shortcuts():
    kinds = {name: (option.kind(False), option.kind(True)) for name, option in SHORTCUTS.items()}
    assert kinds["A"] == ("identity", "zero-pad")
    assert kinds["B"] == ("identity", "projection")
    assert kinds["C"] == ("projection", "projection")
    assert kinds["none"] == (None, None)
    assert SHORTCUTS["dense"].concatenates and not SHORTCUTS["A"].concatenates


def test_the_explorers_offer_the_paper_options_with_readable_labels():
    assert options.shortcut_buttons() == (("A", "A"), ("B", "B"), ("C", "C"), ("none (plain)", "none"))


def test_every_activation_and_norm_has_a_module():
    for activation in options.ACTIVATIONS:
        assert isinstance(blocks.make_activation(activation), nn.Module)
    assert isinstance(blocks.make_norm("batch", 4), nn.BatchNorm2d)
    assert isinstance(blocks.make_norm("none", 4), nn.Identity)


@pytest.mark.parametrize("call, message", [
    (lambda: blocks.make_norm("layer", 4), "unknown norm 'layer'; allowed: batch, none"),
    (lambda: blocks.make_activation("gelu"), "unknown activation 'gelu'; allowed: relu, tanh, sigmoid"),
    (lambda: blocks.make_shortcut("A", 16, 32, 2, "batch"), "unknown shortcut kind 'A'"),
    (lambda: blocks.make_shortcut("identity", 16, 32, 2, "batch"), "identity shortcut cannot change the shape"),
])
def test_unknown_names_are_refused_instead_of_giving_an_identity(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_cifar_depths_are_6n_plus_2():
    depths = options.cifar_depths(8, 110)
    assert depths[0] == 8 and depths[-1] == 110 and len(depths) == 18
    assert all(options.is_cifar_depth(depth) for depth in depths)
    assert not any(options.is_cifar_depth(value) for value in (2, 21, 20.0, True, "20"))
    assert options.nearest_cifar_depths(21) == (20, 26)
    assert options.nearest_cifar_depths(4) == (8, 8)
    assert options.cifar_blocks_per_stage(56) == 9
