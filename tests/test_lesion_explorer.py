"""The lesion explorer, driven without a browser: sliders, block buttons, errors and bad input."""

import numpy as np
import pytest
import torch

import resnet_explorer as rx
from resnet_explorer.lesion import lesioned, test_error
from resnet_explorer.widgets import InvalidStateError, LesionExplorer


@pytest.fixture(scope="module")
def nets_and_data():
    generator = torch.Generator().manual_seed(0)
    images, labels = torch.randn(16, 1, 8, 8, generator=generator), torch.randint(0, 10, (16,), generator=generator)
    nets = {}
    for label, shortcut in (("plain-20", "none"), ("ResNet-20", "A")):
        torch.manual_seed(0)
        nets[label] = rx.build_model(20, shortcut, in_channels=1).eval()
    return nets, images, labels


def test_a_random_draw_removes_that_many_blocks_from_every_net(nets_and_data):
    nets, images, labels = nets_and_data
    explorer = LesionExplorer(nets, images, labels, removed_count=3, draw=1)
    assert len(explorer.removed) == 3
    assert not {"stage2.block1", "stage3.block1"} & set(explorer.removed)  # plain nets need those
    assert [name for name, button in explorer.buttons.items() if button.value] == list(explorer.removed)
    for label, model in nets.items():
        with lesioned(model, remove=explorer.removed):
            assert explorer.errors[label] == test_error(model, images, labels)
    markers = [trace for trace in explorer.figure.data if trace.mode == "markers"]
    assert [trace.x[0] for trace in markers] == [3, 3]
    assert "Removed (random draw 1)" in explorer.summary.value


def test_moving_a_slider_draws_again_and_a_button_removes_one_block_by_hand(nets_and_data):
    nets, images, labels = nets_and_data
    explorer = LesionExplorer(nets, images, labels)
    assert explorer.removed == () and "none" in explorer.summary.value
    explorer.controls["removed_count"].value = 2
    first = explorer.removed
    explorer.controls["draw"].value = 5
    assert len(explorer.removed) == 2 and explorer.removed != first
    explorer.buttons["stage3.block3"].value = not explorer.buttons["stage3.block3"].value
    assert ("stage3.block3" in explorer.removed) == explorer.buttons["stage3.block3"].value
    assert "chosen by hand" in explorer.summary.value
    assert explorer.last_update_seconds < 5


def test_a_plain_net_that_cannot_run_says_so_and_the_resnet_still_answers(nets_and_data):
    nets, images, labels = nets_and_data
    explorer = LesionExplorer(nets, images, labels)
    explorer.buttons["stage2.block1"].value = True
    assert np.isnan(explorer.errors["plain-20"]) and np.isfinite(explorer.errors["ResNet-20"])
    assert "plain-20 cannot run without stage2.block1" in explorer.status.value
    assert "⇣" in explorer.buttons["stage2.block1"].description


def test_the_explorer_leaves_the_nets_as_they_were(nets_and_data):
    nets, images, labels = nets_and_data
    nets["ResNet-20"].train()
    state = {k: v.clone() for k, v in nets["ResNet-20"].state_dict().items()}
    LesionExplorer(nets, images, labels, removed_count=4)
    assert nets["ResNet-20"].training
    assert all(torch.equal(state[k], v) for k, v in nets["ResNet-20"].state_dict().items())
    nets["ResNet-20"].eval()


def test_studies_are_drawn_behind_the_current_lesion(nets_and_data):
    nets, images, labels = nets_and_data
    study = rx.lesion_study(nets["ResNet-20"], images, labels, max_removed=2, max_swaps=0, draws=1, progress=False)
    explorer = LesionExplorer(nets, images, labels, studies=[study])
    assert any(trace.fill == "toself" for trace in explorer.figure.data)
    assert "ResNet-20 (A)" in [trace.name for trace in explorer.figure.data]


def test_bad_input_and_states_get_clear_messages(nets_and_data):
    nets, images, labels = nets_and_data
    with pytest.raises(ValueError, match="models is empty"):
        LesionExplorer({}, images, labels)
    with pytest.raises(TypeError, match="models must be a dict"):
        LesionExplorer("ResNet-56", images, labels)
    with pytest.raises(ValueError, match="same blocks to share one grid"):
        LesionExplorer({"a": nets["ResNet-20"], "b": rx.build_model(14, in_channels=1)}, images, labels)
    with pytest.raises(ValueError, match="labels must be a tensor of 16"):
        LesionExplorer(nets, images, labels[:3])
    explorer = LesionExplorer(list(nets.values()), images, labels)
    assert list(explorer.models) == ["plain-20", "ResNet-20 (A)"]
    twins = LesionExplorer([nets["ResNet-20"], nets["ResNet-20"]], images, labels)  # none dropped
    assert list(twins.models) == ["ResNet-20 (A)", "ResNet-20 (A)′"]
    for option, value, message in (("batch_size", 0, "batch_size must be >= 1, got 0"),
                                   ("threads", True, "threads must be a whole number, got True"),
                                   ("seed", -1, "seed must be >= 0, got -1")):
        with pytest.raises(ValueError, match=message):
            LesionExplorer(nets, images, labels, **{option: value})
    with pytest.raises(InvalidStateError, match="removed_count: 9 is out of range; these nets can lose 0 to 7"):
        explorer.set_state({"removed_count": 9})
    with pytest.raises(InvalidStateError, match="has no control 'blocks'"):
        explorer.set_state({"blocks": 2})
