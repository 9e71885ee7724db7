"""He et al. 2016's shortcut variants and activation orders, and stochastic depth (Huang et al.
2016): exact parameter counts, each unit computes its equation, names read back, and every
combination that makes no sense is refused with a reason."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

import resnet_explorer as rx
from resnet_explorer.blocks import (
    BasicBlock,
    ConvShortcut,
    DropoutAddition,
    Gate,
    GatedAddition,
    ScaledAddition,
    StochasticDepth,
)
from resnet_explorer.models import ModelConfig
from resnet_explorer.options import (
    ACTIVATION_ORDER_NAMES,
    GATE_BIAS,
    SHORTCUT_VARIANT_NAMES,
    survival_probabilities,
)

RESNET_56_A = 853_018  # He 2015, Table 6 (paper-facts.md)


def _extra_parameters(model: nn.Module) -> int:
    """Parameters beyond those of the same net with the original unit."""
    options = {key: value for key, value in model.config.as_dict().items()
               if key not in ("shortcut_variant", "activation_order", "stochastic_depth")}
    return rx.count_params(model) - rx.count_params(rx.build_model(**options, device="cpu"))


# ---- parameter counts ------------------------------------------------------------------------

def test_gates_add_a_1x1_conv_with_bias_per_block_counted_by_hand():
    # ResNet-56 (A): 9 blocks 16->16, then 16->32 and 8 blocks 32->32, then 32->64 and 8 blocks 64->64;
    # a gate is a 1x1 conv in->out with a bias: in*out + out.
    by_hand = 9 * (16 * 16 + 16) + (16 * 32 + 32) + 8 * (32 * 32 + 32) + (32 * 64 + 64) + 8 * (64 * 64 + 64)
    assert by_hand == 46_832
    for variant in ("exclusive_gate", "shortcut_gate"):
        model = rx.build_model(56, shortcut_variant=variant, device="cpu")
        assert rx.count_params(model) == RESNET_56_A + 46_832


def test_the_1x1_conv_shortcut_replaces_only_identity_shortcuts_and_has_no_bn():
    # the 52 blocks that keep their shape get a bias-free 1x1 conv; the 2 that change it keep option A's zero-padding
    by_hand = 9 * 16 * 16 + 8 * 32 * 32 + 8 * 64 * 64
    model = rx.build_model(56, shortcut_variant="conv_shortcut", device="cpu")
    assert rx.count_params(model) == RESNET_56_A + by_hand == RESNET_56_A + 43_264
    kinds = [block.shortcut for block in model.config.layout.blocks]
    assert kinds.count("conv1x1") == 25 and kinds.count("zero-pad") == 2
    assert all(isinstance(block.shortcut, ConvShortcut) for stage in model.stages() for block in stage
               if block.shortcut is not None and not hasattr(block.shortcut, "stride"))
    # with option B the two shape-changing shortcuts are projections (conv + BN), as without the variant
    option_b = rx.build_model(56, "B", shortcut_variant="conv_shortcut", device="cpu")
    assert rx.count_params(option_b) == rx.count_params(rx.build_model(56, "B", device="cpu")) + 43_264


@pytest.mark.parametrize("depth", [20, 56, 110])
def test_every_variant_adds_exactly_what_its_layout_says(depth):
    for variant in SHORTCUT_VARIANT_NAMES:
        model = rx.build_model(depth, shortcut_variant=variant, device="cpu")
        blocks = model.config.layout.blocks
        gates = sum(b.in_channels * b.out_channels + b.out_channels for b in blocks)
        convs = sum(b.in_channels * b.out_channels for b in blocks if b.shortcut == "conv1x1")
        expected = {"exclusive_gate": gates, "shortcut_gate": gates, "conv_shortcut": convs}.get(variant, 0)
        assert _extra_parameters(model) == expected, variant


def test_activation_orders_move_layers_without_adding_any():
    for order in ACTIVATION_ORDER_NAMES:
        assert rx.count_params(rx.build_model(56, activation_order=order, device="cpu")) == RESNET_56_A, order
    assert rx.count_params(rx.build_model(56, stochastic_depth=0.5, device="cpu")) == RESNET_56_A


def test_variants_work_in_bottleneck_blocks_with_the_same_extra_parameters():
    for variant in ("exclusive_gate", "conv_shortcut", "scale_both"):
        model = rx.build_model(50, "B", "imagenet", width=8, num_classes=5, shortcut_variant=variant,
                               stochastic_depth=0.5, device="cpu")
        blocks = model.config.layout.blocks
        gates = sum(b.in_channels * b.out_channels + b.out_channels for b in blocks)
        convs = sum(b.in_channels * b.out_channels for b in blocks if b.shortcut == "conv1x1")
        assert _extra_parameters(model) == {"exclusive_gate": gates, "conv_shortcut": convs}.get(variant, 0)
        model(torch.randn(2, 3, 64, 64)).sum().backward()


@pytest.mark.parametrize("family,order,variant", list(itertools.product(
    ["cifar", "imagenet"], ACTIVATION_ORDER_NAMES, ["original", "shortcut_gate", "dropout_shortcut"])))
def test_every_order_and_variant_runs_forward_and_backward(family, order, variant):
    depth, size = (8, 16) if family == "cifar" else (50, 32)
    model = rx.build_model(depth, "B", family, width=4, in_channels=1, num_classes=3, activation_order=order,
                           shortcut_variant=variant, stochastic_depth=0.5, device="cpu")
    out = model(torch.randn(3, 1, size, size))
    out.sum().backward()
    assert out.shape == (3, 3) and torch.isfinite(out).all()
    model.eval()
    assert torch.isfinite(model(torch.randn(2, 1, size, size))).all()


# ---- each unit computes its equation ---------------------------------------------------------

def _calls(block: nn.Module, x: torch.Tensor) -> list[str]:
    """The block's modules in the order its forward calls them."""
    calls = []
    handles = [module.register_forward_hook(lambda m, i, o, name=name: calls.append(name))
               for name, module in block.named_children()]
    block(x)
    for handle in handles:
        handle.remove()
    return calls


def test_the_activation_orders_are_the_units_of_fig_4():
    x = torch.randn(2, 8, 6, 6)
    expected = {  # He 2016, Fig. 4 (a)-(d), written out from the figure
        "original": ["conv1", "bn1", "act1", "conv2", "bn2", "shortcut", "addition", "act2"],
        "bn_after_add": ["conv1", "bn1", "act1", "conv2", "shortcut", "addition", "bn2", "act2"],
        "relu_before_add": ["conv1", "bn1", "act1", "conv2", "bn2", "act2", "shortcut", "addition"],
        "relu_preact": ["act1", "conv1", "bn1", "act2", "conv2", "bn2", "shortcut", "addition"],
    }
    for order, calls in expected.items():
        assert _calls(BasicBlock(8, 8, order=order), x) == calls, order
    # the net around them: ReLU-only pre-activation ends with a ReLU, full pre-activation with BN-ReLU
    relu_only = rx.build_model(8, activation_order="relu_preact", device="cpu")
    assert isinstance(relu_only.final_act, nn.ReLU) and isinstance(relu_only.final_bn, nn.Identity)
    full = rx.build_model(8, activation_order="full_preact", device="cpu")
    assert isinstance(full.final_bn, nn.BatchNorm2d) and full.config.preact


def test_constant_scaling_and_gates_compute_their_rows_of_table_1():
    x, residual, shortcut = torch.randn(3, 2, 8, 4, 4).unbind(0)
    torch.testing.assert_close(ScaledAddition(0.5, 1.0)(x, residual, shortcut), 0.5 * shortcut + residual)
    torch.testing.assert_close(ScaledAddition(0.5, 0.5)(x, residual, shortcut), 0.5 * shortcut + 0.5 * residual)
    for exclusive in (True, False):
        addition = GatedAddition(8, 8, 1, exclusive=exclusive)
        g = torch.sigmoid(addition.gate.conv(x))
        expected = (1 - g) * shortcut + (g * residual if exclusive else residual)
        torch.testing.assert_close(addition(x, residual, shortcut), expected)


@pytest.mark.parametrize("init", ["kaiming", "xavier", "default"])
def test_gates_start_with_the_papers_bias_whatever_the_init(init):
    model = rx.build_model(20, shortcut_variant="shortcut_gate", init=init, device="cpu")
    gates = [module for module in model.modules() if isinstance(module, Gate)]
    assert len(gates) == 9 and GATE_BIAS == -6
    assert all(torch.all(gate.conv.bias == -6) for gate in gates)
    # so 1 - g(x) starts near 1: the shortcut starts close to the identity (Table 1, "init b_g = -6")
    x = torch.relu(torch.randn(4, 16, 8, 8))
    assert (1 - gates[0](x)).mean() > 0.98


def test_dropout_on_the_shortcut_keeps_half_of_it_while_training_and_halves_it_at_test():
    addition = DropoutAddition()
    residual, shortcut = torch.zeros(1000, 10), torch.ones(1000, 10)
    torch.manual_seed(0)
    kept = addition(None, residual, shortcut)
    assert set(kept.unique().tolist()) == {0.0, 1.0} and abs(kept.mean().item() - 0.5) < 0.02
    addition.eval()
    torch.testing.assert_close(addition(None, residual, shortcut), 0.5 * shortcut)


def test_stochastic_depth_survival_decays_linearly_to_p_l():
    layout = rx.build_model(56, stochastic_depth=0.5, device="cpu").config.layout
    survival = [block.survival for block in layout.blocks]
    assert len(survival) == 27 and survival[-1] == pytest.approx(0.5)
    assert survival[0] == pytest.approx(1 - 0.5 / 27)  # Huang et al. 2016, Eq. 4: p_l = 1 - l/L (1 - p_L)
    assert survival == pytest.approx(list(survival_probabilities(27, 0.5)))
    assert all(a > b for a, b in zip(survival, survival[1:]))
    assert all(block.survival == 1 for block in rx.build_model(56, device="cpu").config.layout.blocks)


def test_stochastic_depth_drops_whole_branches_while_training_and_scales_them_at_test():
    drop = StochasticDepth(0.7)
    residual = torch.ones(4, 3)
    torch.manual_seed(0)
    outcomes = [drop(residual) for _ in range(2000)]
    assert all(torch.equal(out, residual) or torch.equal(out, 0 * residual) for out in outcomes)
    kept = sum(bool(out.any()) for out in outcomes) / len(outcomes)
    assert abs(kept - 0.7) < 0.04
    drop.eval()
    torch.testing.assert_close(drop(residual), 0.7 * residual)
    # in a block: a dropped branch leaves f(h(x)), the original unit's ReLU of the shortcut
    block = BasicBlock(8, 8, survival=1e-9)
    x = torch.randn(2, 8, 5, 5)
    torch.testing.assert_close(block(x), torch.relu(x))


def test_stochastic_depth_draws_follow_torch_manual_seed():
    model = rx.build_model(20, stochastic_depth=0.5, device="cpu")
    x = torch.randn(2, 3, 16, 16)
    outputs = []
    for _ in range(2):
        torch.manual_seed(3)
        outputs.append(model(x))
    torch.testing.assert_close(outputs[0], outputs[1])


def test_a_scaled_shortcut_multiplies_up_over_the_blocks():
    """Eq. 7: with h(x) = 0.5 x the first layers' gradient is set apart from the last layers' by a
    factor that grows with depth (measured at initialization, 32 training images)."""
    data = rx.load_dataset(train_size=32, test_size=10, image_size=16)

    def spread(**options):
        torch.manual_seed(0)
        model = rx.build_model(56, in_channels=1, device="cpu", **options)
        flow = rx.gradient_flow(model, data.train_images, data.train_labels)
        return flow.output_grad_norm[0] / flow.output_grad_norm[-1]

    assert spread(shortcut_variant="scale_shortcut") > 10 * spread()


# ---- names -----------------------------------------------------------------------------------

@pytest.mark.parametrize("options", [
    *(dict(shortcut_variant=variant) for variant in SHORTCUT_VARIANT_NAMES),
    *(dict(activation_order=order) for order in ACTIVATION_ORDER_NAMES),
    dict(stochastic_depth=0.5), dict(stochastic_depth=0.25, shortcut="B", shortcut_variant="exclusive_gate"),
    dict(preact=True, shortcut_variant="scale_shortcut", norm="none"),
])
def test_names_of_variants_read_back(options):
    config = ModelConfig(depth=110, **options)
    assert ModelConfig.from_name(config.name) == config
    assert rx.build_model(**config.as_dict(), device="cpu").config == config


def test_names_say_the_variant_in_the_papers_words():
    assert ModelConfig(56, shortcut_variant="exclusive_gate").name == "ResNet-56 (A), exclusive gating"
    assert ModelConfig(110, activation_order="relu_preact", stochastic_depth=0.5).name == \
        "ResNet-110 (A), ReLU-only pre-act, stochastic depth 0.5"
    assert ModelConfig(56, activation_order="full_preact").name == "ResNet-56 (A), pre-act"
    assert ModelConfig.from_name("resnet-56 (a), Stochastic Depth 0.5").stochastic_depth == 0.5
    odd = ModelConfig(56, stochastic_depth=np.float32(1 / 3))  # any real number reads back exactly
    assert ModelConfig.from_name(odd.name) == odd and type(odd.stochastic_depth) is float


def test_old_configs_keep_their_dict_so_run_cache_keys_do_not_change():
    assert set(ModelConfig(56).as_dict()) == {"depth", "shortcut", "family", "preact", "norm", "activation",
                                              "init", "num_classes", "in_channels", "width", "bottleneck_stride"}
    assert "activation_order" not in ModelConfig(56, preact=True).as_dict()
    assert ModelConfig(56, stochastic_depth=0.5).as_dict()["stochastic_depth"] == 0.5


# ---- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("options, message", [
    (dict(shortcut_variant="gate"), "unknown shortcut_variant 'gate'; allowed: original, scale_shortcut"),
    (dict(shortcut_variant=None), "unknown shortcut_variant None"),
    (dict(activation_order="preact"), "unknown activation_order 'preact'; allowed: original, bn_after_add"),
    (dict(preact=True, activation_order="relu_before_add"), "preact=True is activation_order='full_preact'"),
    (dict(preact="yes"), "unknown preact 'yes'; allowed: True, False"),
    (dict(shortcut="none", shortcut_variant="scale_shortcut"),
     "changes what a residual block adds on its shortcut, and a plain net .shortcut='none'. has no such addition"),
    (dict(shortcut="dense", shortcut_variant="exclusive_gate"), "a dense net has no such addition"),
    (dict(shortcut="none", activation_order="bn_after_add"), "a plain net .shortcut='none'. has no addition"),
    (dict(norm="none", activation_order="bn_after_add"), "norm='none' has no BN to move"),
    (dict(shortcut="C", shortcut_variant="conv_shortcut"), "shortcut='C' has no identity shortcuts"),
    (dict(stochastic_depth=0), "stochastic_depth .* must be > 0, got 0; Huang et al. 2016 use 0.5"),
    (dict(stochastic_depth=1.5), "must be <= 1, got 1.5"),
    (dict(stochastic_depth=1.0), "stochastic_depth=1 would keep every block always"),
    (dict(stochastic_depth="0.5"), "must be a finite number, got '0.5'"),
    (dict(stochastic_depth=True), "survival probability p_L of the last block"),
    (dict(stochastic_depth=float("nan")), "must be a finite number"),
    (dict(shortcut="none", stochastic_depth=0.5), "has no shortcut to keep: dropping a block would cut the net"),
])
def test_bad_options_are_refused_with_a_reason(options, message):
    with pytest.raises(ValueError, match=message):
        rx.build_model(20, device="cpu", **options)


def test_plain_pre_activation_nets_are_still_allowed():
    assert rx.build_model(20, shortcut="none", activation_order="full_preact", device="cpu").config.preact


def test_unknown_orders_and_variants_of_a_block_are_refused():
    with pytest.raises(ValueError, match="unknown activation order 'full_preact'"):
        BasicBlock(8, 8, order="full_preact")
    with pytest.raises(ValueError, match="unknown shortcut variant 'gated'"):
        BasicBlock(8, 8, variant="gated")
