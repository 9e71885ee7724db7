"""The builder: exact sizes from the paper, every option runs, and bad input is explained."""

import itertools

import pytest
import torch
from torch import nn

import resnet_explorer as rx
from resnet_explorer.blocks import IdentityShortcut, ProjectionShortcut, ZeroPadShortcut
from resnet_explorer.options import ACTIVATIONS, INITS, NORMS, SHORTCUT_OPTIONS

CIFAR_PARAMS = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962, 1202: 19_421_274}


@pytest.mark.parametrize("depth,expected", CIFAR_PARAMS.items())
@pytest.mark.parametrize("shortcut", ["A", "none"])
def test_cifar_parameter_counts_match_the_paper(depth, expected, shortcut):
    assert rx.count_params(rx.build_model(depth, shortcut=shortcut)) == expected


def test_projection_shortcuts_add_the_expected_parameters():
    assert rx.count_params(rx.build_model(20, shortcut="B")) == 272_474
    assert rx.count_params(rx.build_model(20, shortcut="C")) == 283_962


def test_option_a_is_subsampling_with_zero_channels_appended():
    shortcut = ZeroPadShortcut(16, 32, stride=2)
    assert sum(p.numel() for p in shortcut.parameters()) == 0
    x = torch.randn(2, 16, 8, 8)
    out = shortcut(x)
    assert out.shape == (2, 32, 4, 4)
    torch.testing.assert_close(out[:, :16], x[:, :, ::2, ::2])
    assert torch.count_nonzero(out[:, 16:]) == 0


def test_shortcut_modules_follow_the_chosen_option():
    def shortcut_types(model):
        return [type(block.shortcut) for stage in model.stages() for block in stage]

    assert set(shortcut_types(rx.build_model(20, "A"))) == {IdentityShortcut, ZeroPadShortcut}
    b_types = shortcut_types(rx.build_model(20, "B"))
    assert b_types.count(ProjectionShortcut) == 2 and IdentityShortcut in b_types
    assert set(shortcut_types(rx.build_model(20, "C"))) == {ProjectionShortcut}
    assert set(shortcut_types(rx.build_model(20, "none"))) == {type(None)}


def test_module_names_are_readable():
    names = dict(rx.build_model(20).named_modules())
    for name in ("stem.conv", "stage1.block1.conv1", "stage2.block3.bn2", "stage3.block1.shortcut", "fc"):
        assert name in names


def test_activations_are_never_shared_or_inplace():
    model = rx.build_model(20, activation="relu")
    activations = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert len(activations) == len({id(m) for m in activations}) == 19
    assert not any(m.inplace for m in activations)


def test_plain_twin_has_the_same_layers_but_different_outputs():
    torch.manual_seed(0)
    residual = rx.build_model(20, "A").eval()
    plain = rx.build_model(20, "none").eval()
    plain.load_state_dict(residual.state_dict())
    x = torch.randn(2, 3, 32, 32)
    assert not torch.allclose(residual(x), plain(x))


OPTION_GRID = list(
    itertools.product(["cifar", "imagenet"], ["A", "B", "C", "none"], [False, True], ["batch", "none"])
)


@pytest.mark.parametrize("family,shortcut,preact,norm", OPTION_GRID)
def test_forward_and_backward_work_for_every_option(family, shortcut, preact, norm):
    depth, size = (8, 16) if family == "cifar" else (50, 64)
    model = rx.build_model(
        depth, shortcut, family, preact=preact, norm=norm, num_classes=5, width=8, in_channels=1
    )
    x = torch.randn(2, 1, size, size)
    out = model(x)
    assert out.shape == (2, 5)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("init", ["kaiming", "xavier", "default"])
def test_every_activation_and_init_trains_a_step(activation, init):
    torch.manual_seed(0)
    model = rx.build_model(8, activation=activation, init=init)
    x, y = torch.randn(4, 3, 16, 16), torch.tensor([0, 1, 2, 3])
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    assert torch.isfinite(loss)


def test_imagenet_basic_net_small_input_runs():
    model = rx.build_model(18, "A", "imagenet", num_classes=3)
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 3)


@pytest.mark.parametrize("options", [dict(depth=20), dict(depth=50, family="imagenet", shortcut="B", preact=True)])
def test_whole_models_survive_save_and_load(tmp_path, options):
    model = rx.build_model(**options).eval()
    path = tmp_path / "model.pt"
    torch.save(model, path)
    loaded = torch.load(path, weights_only=False).eval()
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(model(x), loaded(x))
    assert loaded.config == model.config


def test_config_rebuilds_the_same_architecture():
    model = rx.build_model(32, "B", activation="tanh", width=8)
    again = rx.build_model(**model.config.as_dict())
    assert again.config == model.config
    assert rx.count_params(again) == rx.count_params(model)
    assert model.config.name == "ResNet-32 (B), tanh"
    assert rx.build_model(20, "none").config.name == "plain-20"


def test_device_argument_moves_the_model():
    model = rx.build_model(8, device="cpu")
    assert next(model.parameters()).device.type == "cpu"


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(depth=21), "nearest valid depths are 20 and 26"),
        (dict(depth=4), "nearest valid depths are 8"),
        (dict(depth=20, shortcut="D"), "allowed: A, B, C, none"),
        (dict(depth=50, family="imagenet", shortcut="dense"), "family=.cifar. without preact only"),
        (dict(depth=19, family="imagenet"), "18, 34, 50, 101, 152"),
        (dict(depth=20, family="vgg"), "allowed: cifar, imagenet"),
        (dict(depth=20, activation="gelu"), "allowed: relu, tanh, sigmoid"),
        (dict(depth=20, norm="layer"), "allowed: batch, none"),
        (dict(depth=20, init="orthogonal"), "allowed: kaiming, xavier, default"),
        (dict(depth=50, family="imagenet", bottleneck_stride="5x5"), "allowed: 1x1, 3x3"),
        (dict(depth=20, num_classes=0), "num_classes must be a positive integer"),
        (dict(depth=20.0), "depth must be an integer"),
        (dict(depth=20, width=True), "width must be a positive integer, got True"),
        (dict(depth=20, num_classes=True), "num_classes must be a positive integer, got True"),
        (dict(depth=20, in_channels=True), "in_channels must be a positive integer, got True"),
        (dict(depth=20, in_channels=2.0), "in_channels must be a positive integer, got 2.0"),
        (dict(depth=20, preact="False"), "unknown preact 'False'; allowed: True, False"),
        (dict(depth=20, preact=0), "unknown preact 0; allowed: True, False"),
    ],
)
def test_bad_options_say_what_is_allowed(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rx.build_model(**kwargs)


def test_dense_blocks_concatenate_instead_of_adding():
    model = rx.build_model(20, "dense")
    assert model.config.name == "dense-20"
    block = model.stage1.block1
    x = torch.randn(2, 16, 8, 8)
    out = block(x)
    assert out.shape == (2, 16 + 8, 8, 8)
    torch.testing.assert_close(out[:, :16], x)  # the input passes through untouched
    stage_out_channels = [stage[-1].conv1.in_channels + stage[-1].conv2.out_channels for stage in model.stages()]
    assert stage_out_channels == [16 + 3 * 8, 32 + 3 * 16, 64 + 3 * 32]
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert "stage2.transition" in dict(model.named_modules())


NAMEABLE = [
    dict(depth=depth, shortcut=shortcut, preact=preact, norm=norm, activation=activation, init=init)
    for depth, shortcut, preact, norm, activation, init in itertools.product(
        [8, 56, 1202], SHORTCUT_OPTIONS, [False, True], NORMS, ACTIVATIONS, INITS)
    if not (shortcut == "dense" and preact)
]


def test_from_name_inverts_name_for_every_option_it_can_express():
    names = set()
    for fields in NAMEABLE:
        config = rx.ModelConfig(**fields)
        assert rx.ModelConfig.from_name(config.name) == config
        assert rx.ModelConfig.from_name(config.name).name == config.name
        names.add(config.name)
    assert len(names) == len(NAMEABLE)  # no two configurations share a name


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
@pytest.mark.parametrize("shortcut", ["A", "B", "C", "none"])
def test_from_name_takes_what_a_name_leaves_out_as_arguments(depth, shortcut):
    config = rx.ModelConfig(depth, shortcut, "imagenet", preact=True, num_classes=1000, width=32,
                            in_channels=1, bottleneck_stride="3x3")
    unstated = dict(family="imagenet", num_classes=1000, width=32, in_channels=1, bottleneck_stride="3x3")
    assert rx.ModelConfig.from_name(config.name, **unstated) == config


def test_from_name_reads_names_as_people_write_them():
    assert rx.ModelConfig.from_name("resnet-110 (b)") == rx.ModelConfig(110, "B")
    assert rx.ModelConfig.from_name("ResNet-56") == rx.ModelConfig(56, "A")  # the paper's CIFAR option
    assert rx.ModelConfig.from_name(" plain-20 ,  NO BN ") == rx.ModelConfig(20, "none", norm="none")
    assert rx.ModelConfig.from_name("ResNet-20 (A), tanh, pre-act") == rx.ModelConfig(20, preact=True,
                                                                                     activation="tanh")


@pytest.mark.parametrize("name, error, message", [
    ("VGG-19", ValueError, "not understood; write it as 'plain-20' or 'ResNet-56 \\(A\\)' "
                           "\\(shortcut A, B or C\\) or 'dense-20'"),
    ("ResNet-56 (D)", ValueError, "'ResNet-56 \\(D\\)' is not understood"),
    ("ResNet-21 (A)", ValueError, "depth 21 is not 6n\\+2.*nearest valid depths are 20 and 26"),
    ("ResNet-34 (A)", ValueError, "for the ImageNet net pass family='imagenet'"),
    ("plain-20, gelu", ValueError, "'gelu' in the net name 'plain-20, gelu' is not understood; .*'tanh'"),
    ("plain-20, tanh, sigmoid", ValueError, "states activation twice"),
    ("dense-20, pre-act", ValueError, "without preact only"),
    (20, TypeError, "text such as 'plain-20'"),
    ("plain-" + "9" * 5000, ValueError, "a net's name is at most 200 characters .* got one of 5006"),
])
def test_from_name_says_how_to_write_a_name_it_cannot_read(name, error, message):
    with pytest.raises(error, match=message) as caught:
        rx.ModelConfig.from_name(name)
    assert len(str(caught.value)) < 400


def test_from_name_refuses_arguments_the_name_already_states():
    with pytest.raises(ValueError, match="already states shortcut"):
        rx.ModelConfig.from_name("plain-20", shortcut="A")


def test_models_are_built_on_the_default_device():
    assert next(rx.build_model(8).parameters()).device == rx.default_device()
