"""The shipped checkpoints load offline and are as accurate as their JSON files say."""

import json

import pytest
import torch

import resnet_explorer as rx
from resnet_explorer.checkpoints import CHECKPOINT_DIR, CheckpointInfo, save_checkpoint
from resnet_explorer.training import error_rate

BRIEF = ("resnet20-fashion-mnist", "plain20-fashion-mnist", "resnet20-fashion-mnist-first5")
LONG = ("plain20-fashion-mnist-long", "resnet20-fashion-mnist-long", "plain56-fashion-mnist-long",
        "resnet56-fashion-mnist-long", "resnet110-fashion-mnist-long")
SHIPPED = BRIEF + LONG


def test_every_lesson_checkpoint_is_shipped_with_its_recipe():
    names = {info.name for info in rx.list_checkpoints()}
    assert set(SHIPPED) <= names
    for name in SHIPPED:
        info = rx.checkpoint_info(name)
        assert info.script == "scripts/make_checkpoints.py" and info.seed == 0
        limit = 2_000_000 * (1 + info.model["depth"] // 20)  # about 4 bytes a parameter
        assert (CHECKPOINT_DIR / f"{name}.pt").stat().st_size < limit


def test_the_long_checkpoints_follow_the_long_recipe():
    for name in LONG:
        info = rx.checkpoint_info(name)
        assert info.data["image_size"] == 16 and info.schedule["steps"] == 16_000
        assert info.schedule["milestones"] == [0.5, 0.75] and info.schedule["warmup_steps"] == 100
        assert "1 torch thread" in info.notes


@pytest.mark.parametrize("name", SHIPPED)
def test_checkpoint_reproduces_its_recorded_test_error(name):
    info = rx.checkpoint_info(name)
    model = rx.load_checkpoint(name)
    assert not model.training and model.config.as_dict() == info.model
    data = rx.load_dataset(image_size=info.data["image_size"])
    if info.data["classes"] != list(range(10)):
        data = data.with_classes(info.data["classes"])
    measured = error_rate(model, data.test_images, data.test_labels, precision="fp32")
    assert measured == pytest.approx(info.test_error, abs=0.01)
    assert measured < 0.2


def test_unknown_checkpoint_lists_the_shipped_ones():
    with pytest.raises(ValueError, match="resnet20-fashion-mnist"):
        rx.load_checkpoint("resnet1202-imagenet")


def test_save_and_load_round_trip_with_weights_only(tmp_path):
    model = rx.build_model(8, in_channels=1).eval()
    info = CheckpointInfo(name="tiny", description="test", model=model.config.as_dict(), data={},
                          schedule={}, seed=0, test_error=0.5, script="test", seconds=0.0)
    save_checkpoint(model, info, tmp_path)
    assert json.loads((tmp_path / "tiny.json").read_text())["model"]["depth"] == 8
    loaded = rx.load_checkpoint("tiny", directory=tmp_path)
    x = torch.randn(2, 1, 16, 16)
    torch.testing.assert_close(loaded(x), model(x))
    (tmp_path / "tiny.pt").unlink()
    with pytest.raises(FileNotFoundError, match="make_checkpoints.py tiny"):
        rx.load_checkpoint("tiny", directory=tmp_path)


# ---- damaged files and names that reach outside the folder (issue 15) ------------------------------

@pytest.fixture
def folder_with_one_checkpoint(tmp_path):
    model = rx.build_model(8, in_channels=1, device="cpu").eval()
    info = CheckpointInfo(name="tiny", description="test", model=model.config.as_dict(), data={},
                          schedule={}, seed=0, test_error=0.5, script="test", seconds=0.0)
    save_checkpoint(model, info, tmp_path)
    return tmp_path


def test_a_directory_may_be_given_as_text(folder_with_one_checkpoint):
    assert rx.load_checkpoint("tiny", directory=str(folder_with_one_checkpoint)).config.depth == 8
    assert [info.name for info in rx.list_checkpoints(str(folder_with_one_checkpoint))] == ["tiny"]


def test_one_broken_description_does_not_hide_the_others(folder_with_one_checkpoint):
    (folder_with_one_checkpoint / "broken.json").write_text("{not json")
    (folder_with_one_checkpoint / "other.json").write_text('{"name": "other"}')
    with pytest.warns(UserWarning) as warned:
        assert [info.name for info in rx.list_checkpoints(folder_with_one_checkpoint)] == ["tiny"]
    messages = sorted(str(warning.message) for warning in warned)
    assert len(messages) == 2
    assert messages[0].startswith("skipping the checkpoint 'broken'") and "JSONDecodeError" in messages[0]
    assert messages[1].startswith("skipping the checkpoint 'other'") and "missing 8" in messages[1]


@pytest.mark.parametrize("name", ["../checkpoints/resnet20-fashion-mnist", "/etc/passwd", "", ".hidden",
                                  "a/../b"])
def test_checkpoint_names_are_plain_names(name):
    with pytest.raises(ValueError, match="a checkpoint name must be a plain name"):
        rx.load_checkpoint(name)


class NotWeights:
    """A Python object where tensors belong: loading it would need weights_only=False."""


@pytest.mark.parametrize("content", [b"not a checkpoint", None])
def test_damaged_weights_say_what_to_do_and_never_suggest_weights_only_false(
        content, folder_with_one_checkpoint):
    path = folder_with_one_checkpoint / "tiny.pt"
    if content is None:
        torch.save({"fc.weight": NotWeights()}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError) as caught:
        rx.load_checkpoint("tiny", directory=folder_with_one_checkpoint)
    message = str(caught.value)
    assert "is damaged" in message and "make_checkpoints.py tiny" in message
    assert "weights_only" not in message and caught.value.__cause__ is None


def test_weights_that_do_not_fit_leave_the_model_untouched(folder_with_one_checkpoint):
    from resnet_explorer.checkpoints import load_weights, read_state_dict

    state = read_state_dict(folder_with_one_checkpoint / "tiny.pt")
    model = rx.build_model(14, in_channels=1, device="cpu")
    before = {name: value.clone() for name, value in model.state_dict().items()}
    with pytest.raises(ValueError, match=r"do not fit ResNet-14 \(A\): missing stage1.block2"):
        load_weights(model, state)
    assert all(torch.equal(before[name], value) for name, value in model.state_dict().items())


def test_model_with_weights_builds_the_net_loads_the_weights_and_puts_it_on_the_default_device():
    from resnet_explorer.checkpoints import model_with_weights

    source = rx.build_model(8, in_channels=1, device="cpu")
    model = model_with_weights(source.config.as_dict(), source.state_dict())
    assert next(model.parameters()).device.type == rx.default_device().type
    assert all(torch.equal(value.cpu(), source.state_dict()[name]) for name, value in model.state_dict().items())
    assert next(model_with_weights(source.config.as_dict(), source.state_dict(), "cpu").parameters()).device.type == "cpu"
    with pytest.raises(ValueError, match=r"do not fit ResNet-14 \(A\): missing"):
        model_with_weights(rx.build_model(14, in_channels=1).config.as_dict(), source.state_dict())
