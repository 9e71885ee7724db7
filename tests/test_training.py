import math
import threading
from dataclasses import replace

import pytest
import torch

from resnet_explorer.data import load_dataset
from resnet_explorer.models import build_model
from resnet_explorer.training import compare, error_rate, train

TINY = dict(steps=12, batch_size=16, eval_every=4, eval_size=32, warmup_steps=2,
            precision="fp32", progress=False)


# ---- a run -----------------------------------------------------------------------------------

def test_history_records_every_step_and_the_evaluations(tiny_model, tiny_data):
    history = train(tiny_model(), tiny_data(), **TINY)
    assert history.status == "finished" and history.model_name == "ResNet-8 (A)"
    assert history.steps == list(range(1, 13))
    for values in (history.train_loss, history.train_error, history.lr, history.wall_time):
        assert len(values) == 12
    assert history.lr[:2] == pytest.approx([0.01, 0.01]) and history.lr[2] == pytest.approx(0.1)
    assert history.lr[-1] == pytest.approx(0.001)
    assert history.eval_steps == [4, 8, 12]
    assert len(history.test_error) == len(history.train_subset_error) == 3
    assert history.final_train_error == history.train_subset_error[-1]
    assert 0 <= history.final_test_error <= 1
    assert history.wall_time == sorted(history.wall_time)
    assert history.config == build_model(8, in_channels=1, num_classes=4, width=4).config.as_dict()
    assert history.setup["schedule"]["steps"] == 12 and history.setup["precision"] == "fp32"
    assert history.setup["data"]["name"] == "tiny" and history.setup["seed"] == 0


def test_training_leaves_the_model_in_its_usual_layout_and_mode(tiny_model, tiny_data):
    model = tiny_model()
    model.eval()
    train(model, tiny_data(), **TINY)
    assert not model.training
    assert all(p.is_contiguous() for p in model.parameters())
    model.stem.conv.weight.view(-1)  # would fail on channels_last weights


def test_the_same_seed_gives_the_same_losses_and_another_seed_does_not(tiny_model, tiny_data):
    data = tiny_data()
    first = train(tiny_model(seed=0), data, seed=3, **TINY)
    second = train(tiny_model(seed=0), data, seed=3, **TINY)
    other = train(tiny_model(seed=0), data, seed=4, **TINY)
    assert first.train_loss == second.train_loss
    assert first.test_error == second.test_error
    assert first.train_loss != other.train_loss


def test_training_learns_the_real_dataset():
    data = load_dataset(train_size=512, test_size=256, image_size=8)
    torch.manual_seed(0)
    model = build_model(8, in_channels=1, width=8)
    history = train(model, data, steps=40, batch_size=64, lr=0.05, warmup_steps=5, eval_every=20,
                    eval_size=256, precision="fp32", progress=False)
    assert history.final_test_error < 0.6  # chance is 0.9
    assert history.final_train_error < history.train_subset_error[0] + 0.05


def test_error_rate_counts_wrong_predictions(tiny_model, tiny_data):
    model = tiny_model()
    data = tiny_data()
    rate = error_rate(model, data.test_images, data.test_labels, precision="fp32")
    predictions = model.eval()(data.test_images).argmax(1)
    assert rate == pytest.approx((predictions != data.test_labels).float().mean().item())


# ---- watching and stopping ----------------------------------------------------------------------

def test_callback_is_called_every_few_steps_and_at_the_end(tiny_model, tiny_data):
    seen = []
    train(tiny_model(), tiny_data(), callback=lambda h: seen.append((len(h.steps), h.status)),
          callback_every=5, **TINY)
    assert seen == [(5, "running"), (10, "running"), (12, "finished")]


def test_stop_event_stops_the_run_and_keeps_its_history(tiny_model, tiny_data):
    stop = threading.Event()

    def stop_after_three(history):
        if len(history.steps) == 3:
            stop.set()

    history = train(tiny_model(), tiny_data(), callback=stop_after_three, callback_every=1,
                    stop_event=stop, **TINY)
    assert history.status == "stopped" and "before step 4" in history.message
    assert history.steps == [1, 2, 3] and len(history.train_loss) == 3


def test_stop_event_from_another_thread_stops_a_background_run(tiny_model, tiny_data):
    stop = threading.Event()
    result = {}
    started = threading.Event()

    def run():
        result["history"] = train(tiny_model(), tiny_data(), callback=lambda h: started.set(),
                                  callback_every=1, stop_event=stop,
                                  **{**TINY, "steps": 100_000})

    worker = threading.Thread(target=run)
    worker.start()
    assert started.wait(30)
    stop.set()
    worker.join(30)
    assert not worker.is_alive()
    assert result["history"].status == "stopped" and len(result["history"].steps) < 100_000


def test_keyboard_interrupt_returns_the_history_as_stopped(tiny_model, tiny_data):
    def interrupt(history):
        if len(history.steps) == 2:
            raise KeyboardInterrupt

    history = train(tiny_model(), tiny_data(), callback=interrupt, callback_every=1, **TINY)
    assert history.status == "stopped" and "interrupted" in history.message
    assert history.steps == [1, 2]


def test_other_errors_propagate_and_mark_the_history_stopped(tiny_model, tiny_data):
    seen = []

    def broken(history):
        seen.append(history)
        raise ZeroDivisionError("bug in a plot")

    with pytest.raises(ZeroDivisionError):
        train(tiny_model(), tiny_data(), callback=broken, callback_every=2, **TINY)
    assert seen[0].status == "stopped" and "ZeroDivisionError" in seen[0].message


def test_an_exploding_loss_ends_as_diverged_with_the_finite_history_kept(tiny_model, tiny_data):
    # A plain net without BN at an absurd learning rate: the loss is infinite by step 2.
    model = tiny_model("none", norm="none")
    history = train(model, tiny_data(), **{**TINY, "lr": 1e6, "warmup_steps": 0})
    assert history.status == "diverged"
    assert "step" in history.message and ("inf" in history.message or "nan" in history.message)
    assert 1 <= len(history.steps) < 12
    assert all(math.isfinite(value) for value in history.train_loss)


# ---- bad input ----------------------------------------------------------------------------------

def test_channel_mismatch_names_both_and_the_fix(tiny_model, tiny_data):
    model = tiny_model(in_channels=3)
    with pytest.raises(ValueError, match=r"3-channel.*1-channel.*in_channels=1"):
        train(model, tiny_data(channels=1), **TINY)


def test_class_count_mismatch_names_both_and_the_fix(tiny_model, tiny_data):
    with pytest.raises(ValueError, match=r"10 outputs.*4 classes.*num_classes=4"):
        train(tiny_model(num_classes=10), tiny_data(classes=4), **TINY)


@pytest.mark.parametrize("arguments, message", [
    (dict(steps=0), "steps must be"),
    (dict(batch_size=0), "batch_size must be"),
    (dict(batch_size=65), "larger than the 64 training images"),
    (dict(precision="fp16"), "unknown precision 'fp16'"),
    (dict(schedule="long"), "unknown schedule"),
    (dict(callback_every=0), "callback_every"),
])
def test_bad_arguments_are_refused_before_training(arguments, message, tiny_model, tiny_data):
    with pytest.raises(ValueError, match=message):
        train(tiny_model(), tiny_data(), **{**TINY, **arguments})


def test_data_that_is_not_a_dataset_is_refused(tiny_model):
    with pytest.raises(TypeError, match="Dataset"):
        train(tiny_model(), [1, 2, 3], **TINY)


# ---- the degradation race ---------------------------------------------------------------------

def test_compare_trains_each_config_from_the_same_start(tiny_data):
    configs = [{"depth": 8, "width": 4}, {"depth": 8, "width": 4, "shortcut": "none"}]
    data = tiny_data()
    first = compare(configs, data, seed=1, **TINY)
    again = compare(configs, data, seed=1, **TINY)
    assert [h.model_name for h in first] == ["ResNet-8 (A)", "plain-8"]
    assert all(h.status == "finished" for h in first)
    assert [h.train_loss for h in first] == [h.train_loss for h in again]
    # in_channels and num_classes came from the data.
    assert first[0].config["in_channels"] == 1 and first[0].config["num_classes"] == 4
    assert first[0].model is not None and first[0].model is not first[1].model


def test_a_stopped_race_does_not_start_the_remaining_runs(tiny_data):
    stop = threading.Event()

    def stop_soon(history):
        if len(history.steps) == 2:
            stop.set()

    configs = [{"depth": 8, "width": 4}] * 3
    histories = compare(configs, tiny_data(), callback=stop_soon, callback_every=1,
                        stop_event=stop, **TINY)
    assert [h.status for h in histories] == ["stopped"]


def test_rerun_trains_again_and_replaces_the_cached_run(run_cache, tiny_model, tiny_data):
    data = tiny_data()
    first = train(tiny_model(), data, cache=run_cache, **TINY)
    (before,) = run_cache.list()
    rerun = train(tiny_model(), data, cache=run_cache, rerun=True, **TINY)
    assert not rerun.from_cache and rerun.train_loss == first.train_loss  # fp32: the same numbers
    (after,) = run_cache.list()
    assert after.created > before.created
    with pytest.raises(ValueError, match="unknown rerun"):
        train(tiny_model(), data, cache=run_cache, rerun="yes", **TINY)


# ---- data and arguments that would give a wrong run, or a message that blames something else ----

def with_nan(tensor, index=0):
    tensor = tensor.clone()
    tensor[index] = float("nan")
    return tensor


@pytest.mark.parametrize("change, message", [
    (lambda d: dict(test_images=torch.full_like(d.test_images, float("nan"))),
     "32 of the 32 data.test_images contain NaN"),
    (lambda d: dict(train_images=with_nan(d.train_images, 5)),
     "1 of the 64 data.train_images contain NaN"),
    (lambda d: dict(test_images=d.test_images[:0], test_labels=d.test_labels[:0]),
     "data.test_images is an empty batch"),
    (lambda d: dict(train_images=(d.train_images * 50).clamp(0, 255).to(torch.uint8)),
     "data.train_images are torch.uint8, but the model expects standardized floats"),
    (lambda d: dict(train_labels=torch.where(d.train_labels == 3, 12, d.train_labels)),
     r"data.train_labels must lie in 0..3 \(ResNet-8 \(A\) has 4 classes\); got values from 0 to 12"),
    (lambda d: dict(test_labels=d.test_labels.float()),
     "data.test_labels must be integer class indices, got torch.float32"),
    (lambda d: dict(test_labels=d.test_labels[:5]),
     "data.test_labels must be a tensor of 32 class indices"),
])
def test_data_that_would_give_a_meaningless_run_is_refused(change, message, tiny_model, tiny_data):
    data = tiny_data()
    with pytest.raises(ValueError, match=message):
        train(tiny_model(), replace(data, **change(data)), **TINY)


def test_float64_images_train_as_float32(tiny_model, tiny_data):
    data = tiny_data()
    as_float64 = train(tiny_model(), replace(data, train_images=data.train_images.double(),
                                             test_images=data.test_images.double()), **TINY)
    assert as_float64.status == "finished"
    assert as_float64.train_loss == train(tiny_model(), data, **TINY).train_loss


@pytest.mark.parametrize("arguments, message", [
    (dict(milestones=5), r"milestones must be increasing fractions .* got 5"),
    (dict(milestones="0.5"), "milestones must be increasing fractions"),
    (dict(seed=2**70), r"seed must be <= 9223372036854775807, got 1180591620717411303424"),
    (dict(seed=-1), "seed must be >= 0"),
    (dict(seed=1.5), "seed must be a whole number"),
    (dict(momentum="0.5"), "momentum must be a finite number, got '0.5'"),
    (dict(lr=True), "lr must be a finite number, got True"),
])
def test_arguments_that_only_look_right_are_refused(arguments, message, tiny_model, tiny_data):
    with pytest.raises(ValueError, match=message):
        train(tiny_model(), tiny_data(), **{**TINY, **arguments})


def test_compare_checks_the_seed_before_building_anything(tiny_data):
    with pytest.raises(ValueError, match="seed must be <= "):
        compare([{"depth": 8, "width": 4}], tiny_data(), seed=2**64, **TINY)
