import math
import threading

import pytest
import torch

from resnet_explorer.data import Dataset, load_dataset
from resnet_explorer.models import build_model
from resnet_explorer.training import (
    BRIEF_SCHEDULE,
    FAST_SCHEDULE,
    History,
    Schedule,
    compare,
    error_rate,
    resolve_schedule,
    train,
)

TINY = dict(steps=12, batch_size=16, eval_every=4, eval_size=32, warmup_steps=2,
            precision="fp32", progress=False)


def tiny_data(channels=1, classes=4, size=8, train_size=64, test_size=32):
    generator = torch.Generator().manual_seed(0)
    return Dataset(
        name="tiny", source="random numbers",
        train_images=torch.randn(train_size, channels, size, size, generator=generator),
        train_labels=torch.arange(train_size) % classes,
        test_images=torch.randn(test_size, channels, size, size, generator=generator),
        test_labels=torch.arange(test_size) % classes,
        class_names=[f"class {i}" for i in range(classes)], mean=(0.0,) * channels,
        std=(1.0,) * channels)


def tiny_model(shortcut="A", seed=0, **options):
    torch.manual_seed(seed)
    options = {"in_channels": 1, "num_classes": 4, "width": 4, **options}
    return build_model(8, shortcut, **options)


# ---- schedules -------------------------------------------------------------------------------

def test_brief_schedule_warms_up_then_divides_by_ten_at_half_and_three_quarters():
    lrs = [BRIEF_SCHEDULE.lr_at(step) for step in (0, 99, 100, 299, 300, 449, 450, 599)]
    assert lrs == pytest.approx([0.01, 0.01, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001])


def test_overrides_replace_fields_and_scale_the_warm_up_with_the_steps():
    plan = resolve_schedule("brief", steps=300, lr=0.05)
    assert (plan.steps, plan.lr, plan.warmup_steps, plan.batch_size) == (300, 0.05, 50, 128)
    assert resolve_schedule("brief", steps=300, warmup_steps=0).warmup_steps == 0
    assert resolve_schedule(Schedule(steps=10), lr=None).lr == 0.1


def test_fast_mode_makes_the_fast_schedule_the_default(monkeypatch):
    monkeypatch.setenv("RESNET_EXPLORER_FAST", "1")
    assert resolve_schedule() == FAST_SCHEDULE
    monkeypatch.setenv("RESNET_EXPLORER_FAST", "0")
    assert resolve_schedule() == BRIEF_SCHEDULE


@pytest.mark.parametrize("arguments, message", [
    (dict(steps=0), "steps must be a whole number >= 1"),
    (dict(steps=10, batch_size=0), "batch_size must be a whole number >= 1"),
    (dict(steps=10, lr=-1.0), "lr must be a positive number"),
    (dict(steps=10, momentum=1.0), "momentum"),
    (dict(steps=10, milestones=(0.75, 0.5)), "milestones must be increasing"),
    (dict(steps=10, warmup_steps=11), "warmup_steps"),
    (dict(steps=10, eval_size=0), "eval_size"),
])
def test_bad_schedules_say_what_is_allowed(arguments, message):
    with pytest.raises(ValueError, match=message):
        Schedule(**arguments)


def test_unknown_schedule_name_lists_the_presets():
    with pytest.raises(ValueError, match="'long'.*brief, fast, paper"):
        resolve_schedule("long")


# ---- a run -----------------------------------------------------------------------------------

def test_history_records_every_step_and_the_evaluations():
    history = train(tiny_model(), tiny_data(), **TINY)
    assert history.status == "finished" and history.label == "ResNet-8 (A)"
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


def test_training_leaves_the_model_in_its_usual_layout_and_mode():
    model = tiny_model()
    model.eval()
    train(model, tiny_data(), **TINY)
    assert not model.training
    assert all(p.is_contiguous() for p in model.parameters())
    model.stem.conv.weight.view(-1)  # would fail on channels_last weights


def test_the_same_seed_gives_the_same_losses_and_another_seed_does_not():
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


def test_error_rate_counts_wrong_predictions():
    model = tiny_model()
    data = tiny_data()
    rate = error_rate(model, data.test_images, data.test_labels, precision="fp32")
    predictions = model.eval()(data.test_images).argmax(1)
    assert rate == pytest.approx((predictions != data.test_labels).float().mean().item())


# ---- watching and stopping ----------------------------------------------------------------------

def test_callback_is_called_every_few_steps_and_at_the_end():
    seen = []
    train(tiny_model(), tiny_data(), callback=lambda h: seen.append((len(h.steps), h.status)),
          callback_every=5, **TINY)
    assert seen == [(5, "running"), (10, "running"), (12, "finished")]


def test_stop_event_stops_the_run_and_keeps_its_history():
    stop = threading.Event()

    def stop_after_three(history):
        if len(history.steps) == 3:
            stop.set()

    history = train(tiny_model(), tiny_data(), callback=stop_after_three, callback_every=1,
                    stop_event=stop, **TINY)
    assert history.status == "stopped" and "before step 4" in history.message
    assert history.steps == [1, 2, 3] and len(history.train_loss) == 3


def test_stop_event_from_another_thread_stops_a_background_run():
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


def test_keyboard_interrupt_returns_the_history_as_stopped():
    def interrupt(history):
        if len(history.steps) == 2:
            raise KeyboardInterrupt

    history = train(tiny_model(), tiny_data(), callback=interrupt, callback_every=1, **TINY)
    assert history.status == "stopped" and "interrupted" in history.message
    assert history.steps == [1, 2]


def test_other_errors_propagate_and_mark_the_history_stopped():
    seen = []

    def broken(history):
        seen.append(history)
        raise ZeroDivisionError("bug in a plot")

    with pytest.raises(ZeroDivisionError):
        train(tiny_model(), tiny_data(), callback=broken, callback_every=2, **TINY)
    assert seen[0].status == "stopped" and "ZeroDivisionError" in seen[0].message


def test_an_exploding_loss_ends_as_diverged_with_the_finite_history_kept():
    # A plain net without BN at an absurd learning rate: the loss is infinite by step 2.
    model = tiny_model("none", norm="none")
    history = train(model, tiny_data(), **{**TINY, "lr": 1e6, "warmup_steps": 0})
    assert history.status == "diverged"
    assert "step" in history.message and ("inf" in history.message or "nan" in history.message)
    assert 1 <= len(history.steps) < 12
    assert all(math.isfinite(value) for value in history.train_loss)


# ---- bad input ----------------------------------------------------------------------------------

def test_channel_mismatch_names_both_and_the_fix():
    model = tiny_model(in_channels=3)
    with pytest.raises(ValueError, match=r"3-channel.*1-channel.*in_channels=1"):
        train(model, tiny_data(channels=1), **TINY)


def test_class_count_mismatch_names_both_and_the_fix():
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
def test_bad_arguments_are_refused_before_training(arguments, message):
    with pytest.raises(ValueError, match=message):
        train(tiny_model(), tiny_data(), **{**TINY, **arguments})


def test_data_that_is_not_a_dataset_is_refused():
    with pytest.raises(TypeError, match="Dataset"):
        train(tiny_model(), [1, 2, 3], **TINY)


# ---- the degradation race ---------------------------------------------------------------------

def test_compare_trains_each_config_from_the_same_start():
    configs = [{"depth": 8, "width": 4}, {"depth": 8, "width": 4, "shortcut": "none"}]
    data = tiny_data()
    first = compare(configs, data, seed=1, **TINY)
    again = compare(configs, data, seed=1, **TINY)
    assert [h.label for h in first] == ["ResNet-8 (A)", "plain-8"]
    assert all(h.status == "finished" for h in first)
    assert [h.train_loss for h in first] == [h.train_loss for h in again]
    # in_channels and num_classes came from the data.
    assert first[0].config["in_channels"] == 1 and first[0].config["num_classes"] == 4
    assert first[0].model is not None and first[0].model is not first[1].model


def test_a_stopped_race_does_not_start_the_remaining_runs():
    stop = threading.Event()

    def stop_soon(history):
        if len(history.steps) == 2:
            stop.set()

    configs = [{"depth": 8, "width": 4}] * 3
    histories = compare(configs, tiny_data(), callback=stop_soon, callback_every=1,
                        stop_event=stop, **TINY)
    assert [h.status for h in histories] == ["stopped"]


def test_history_survives_a_round_trip_through_plain_values():
    history = train(tiny_model(), tiny_data(), **TINY)
    copy = History.from_dict(history.to_dict())
    assert copy.train_loss == history.train_loss and copy.status == history.status
    assert copy.model is None and copy.final_test_error == history.final_test_error
