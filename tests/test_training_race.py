"""The training race widget: trains in a thread, grows one FigureWidget in place, stops, fails readably."""

import json
import math
import threading
import time

import pytest

from resnet_explorer import race as race_engine
from resnet_explorer import training
from resnet_explorer.data import load_dataset
from resnet_explorer.run_cache import RunCache
from resnet_explorer.schedules import SCHEDULES, Schedule
from resnet_explorer.widgets.scenarios import InvalidStateError, load_scenario, save_scenario
from resnet_explorer.widgets.training_race import TrainingRace, configuration_arguments

TINY = Schedule(steps=8, batch_size=16, warmup_steps=0, eval_every=4, eval_size=32)
NETS = ["plain-8", "ResNet-14 (A)"]


@pytest.fixture(scope="module")
def data():
    return load_dataset(image_size=16, train_size=128, test_size=32)



@pytest.fixture
def make_race(data, tmp_path):
    races = []

    def make(configurations=NETS, schedule=TINY, **options):
        options.setdefault("cache", RunCache(tmp_path / "runs"))
        race = TrainingRace(configurations, schedule, data=data, **options)
        races.append(race)
        return race

    yield make
    for race in races:  # never leave a training thread behind
        race.stop()
        race.wait(30)


def trace_lengths(race):
    return [len(trace.y) for trace in race.figure.data]


def controls_disabled(race):
    return [control.disabled for control in race.controls.values()] + [
        race.train_button.disabled, race.add_button.disabled, race.clear_button.disabled,
        race.show_button.disabled]


def gate_compare(monkeypatch, *, on_step=None):
    """Make the race's ``compare`` (called by its engine, ``race.RaceRunner``) wait for ``release``
    before training; ``on_step(history)`` runs after the race's own callback on every step."""
    started, release = threading.Event(), threading.Event()
    real_compare = race_engine.compare

    def gated(configs, data, **kwargs):
        started.set()
        assert release.wait(30), "the test never released the race"
        if on_step is not None:
            callback = kwargs["callback"]

            def both(history):
                callback(history)
                on_step(history)

            kwargs["callback"] = both
        return real_compare(configs, data, **kwargs)

    monkeypatch.setattr(race_engine, "compare", gated)
    return started, release


def test_train_runs_in_a_thread_and_grows_the_same_figure(make_race, monkeypatch):
    race = make_race(redraws_per_second=1000)
    figure, children = race.figure, race.widget.children
    seen = []
    started, release = gate_compare(monkeypatch, on_step=lambda h: seen.append(trace_lengths(race)))

    thread = race.train()
    assert started.wait(30)
    assert thread.daemon and thread is not threading.current_thread() and race.running
    assert all(controls_disabled(race)) and not race.stop_button.disabled
    release.set()
    assert race.wait(60)

    assert not any(controls_disabled(race)) and race.stop_button.disabled
    assert [h.model_name for h in race.histories] == NETS
    assert [h.status for h in race.histories] == ["finished", "finished"]
    assert trace_lengths(race) == [2, 2, 2, 2]  # per net: training and test error at steps 4 and 8
    first_net = sorted({lengths[0] for lengths in seen if lengths})
    assert first_net[0] < 2 and first_net[-1] == 2, f"the plot did not grow with the evaluations: {first_net}"
    history = race.histories[0]  # the dashed curve is the training error the results line prints
    assert list(race.figure.data[0].y) == history.train_subset_error
    assert race.figure.data[0].y[-1] == history.final_train_error
    assert race.figure is figure and race.widget.children == children
    assert race.status_text.startswith("Race finished: 2 nets")
    assert "plain-8" in race.results.value and "%" in race.results.value
    assert race.progress.value == race.progress.max == 16


def test_stop_during_a_run_keeps_its_points(make_race, monkeypatch):
    race = make_race(["plain-8"])
    reached, resume = threading.Event(), threading.Event()

    def pause_at_step_five(history):  # after the evaluation at step 4
        if len(history.steps) == 5 and not reached.is_set():
            reached.set()
            resume.wait(30)

    started, release = gate_compare(monkeypatch, on_step=pause_at_step_five)
    race.train()
    release.set()
    assert reached.wait(60)
    race.stop_button.click()  # what a click in the browser does, while the thread is training
    assert "Stopping" in race.status_text
    resume.set()
    assert race.wait(60)

    (history,) = race.histories
    assert history.status == "stopped" and len(history.steps) == 5
    assert "stopped" in race.status_text and "step 5" in race.status_text
    assert trace_lengths(race)[0] == 1  # the evaluation at step 4 stays on the plot
    assert "(stopped)" in race.figure.data[0].name
    assert not any(controls_disabled(race))


def test_an_error_in_training_is_one_readable_line_and_controls_come_back(make_race, monkeypatch):
    def broken_train(*args, **kwargs):
        raise RuntimeError("out of memory\n  while training")

    monkeypatch.setattr(training, "train", broken_train)
    race = make_race()
    race.train_button.click()
    assert race.wait(30)
    assert race.status_text == "Training failed: RuntimeError: out of memory while training"
    assert "Training failed" in race.status.value and "Traceback" not in race.status.value
    assert not any(controls_disabled(race)) and race.stop_button.disabled
    assert race.histories == []


def test_a_diverged_run_says_so_and_its_curve_ends_while_finite(make_race):
    race = make_race(["plain-8"], Schedule(steps=8, batch_size=16, warmup_steps=0, eval_every=4,
                                           eval_size=32, lr=1e12))
    race.train()
    assert race.wait(60)
    (history,) = race.histories
    assert history.status == "diverged"
    assert "diverged" in race.status_text and "plain-8" in race.status_text
    train_trace = race.figure.data[0]
    assert len(train_trace.y) < 2 and all(math.isfinite(y) for y in train_trace.y)
    assert "(diverged)" in train_trace.name


def test_show_result_draws_a_stored_run_at_once_and_train_trains_it_again(make_race):
    race = make_race(["plain-8"])
    race.train()
    assert race.wait(60)
    (first,) = race.histories
    assert not first.from_cache
    race.clear()

    started = time.perf_counter()
    (shown,) = race.show_result()
    seconds = time.perf_counter() - started
    assert shown.source == "run cache" and race.histories == [shown.history]
    assert shown.history.train_error == first.train_error and max(trace_lengths(race)) > 0
    assert "plain-8 from this machine's run cache" in race.status_text and "▶ Train" in race.status_text
    assert seconds < 5, f"showing a cached run took {seconds:.1f} s"

    race.train()  # Train trains live again, even a net the cache holds
    assert race.wait(60)
    (again,) = race.histories
    assert not again.from_cache


def test_show_result_says_which_nets_have_no_stored_run(make_race):
    race = make_race(["plain-8"], cache=None)
    (missing,) = race.show_result()
    assert missing.history is None and race.histories == []
    assert "No stored run of plain-8" in race.status_text and "press ▶ Train" in race.status_text
    race.controls["configurations"].value = ()
    assert race.show_result() is None and "Tick at least one net" in race.status_text


def test_earlier_runs_stay_on_the_plot_until_clear(make_race):
    race = make_race(["plain-8"])
    race.train()
    assert race.wait(60)
    race.set_state({"configurations": ["ResNet-8 (A)"]})
    race.train()
    assert race.wait(60)
    assert [h.model_name for h in race.histories] == ["plain-8", "ResNet-8 (A)"]
    assert len(race.figure.data) == 4

    race.clear_button.click()
    assert race.histories == [] and len(race.figure.data) == 0 and race.results.value == ""


def test_scenario_round_trip(make_race, data, tmp_path):
    race = make_race(["plain-8"], TINY)
    race.add_configuration(8, "B")
    race.hide_controls(["add_depth", "add_shortcut"])
    assert race.add_button.layout.display == "none"
    path = save_scenario(race, tmp_path / "race.json")

    state = race.state()
    assert state["controls"]["configurations"] == ["plain-8", "ResNet-8 (B)"]
    assert state["controls"]["schedule"]["steps"] == 8

    other = make_race(["ResNet-20 (A)"], "fast")
    load_scenario(other, path)
    assert other.state() == state
    assert other.schedule == TINY and other.add_button.layout.display == "none"
    assert other.controls["configurations"].names[-1] == "ResNet-8 (B)"

    rebuilt = TrainingRace.from_state(state, data=data, cache=None)
    assert rebuilt.state() == state


def test_bad_values_get_messages_that_say_what_is_allowed(make_race):
    race = make_race()
    with pytest.raises(InvalidStateError, match="depth 21 is not 6n\\+2.*nearest valid depths are 20 and 26"):
        race.set_state({"configurations": ["ResNet-21 (A)"]})
    with pytest.raises(InvalidStateError, match="'plain-20' or 'ResNet-56 \\(A\\)'"):
        race.set_state({"configurations": ["VGG-19"]})
    with pytest.raises(InvalidStateError, match="list of net names"):
        race.set_state({"configurations": "plain-20"})
    with pytest.raises(InvalidStateError, match="unknown schedule 'slow'; allowed: 'brief', 'fast', 'paper'"):
        race.set_state({"schedule": "slow"})
    with pytest.raises(InvalidStateError, match="schedule: steps must be >= 1, got 0"):
        race.set_state({"schedule": {"steps": 0}})
    assert race.configurations == tuple(NETS) and race.schedule == TINY  # nothing was changed
    with pytest.raises(TypeError, match="cache must be a RunCache"):
        make_race(cache="yes")


def test_names_are_read_as_the_paper_writes_them():
    assert configuration_arguments("plain-56") == {"depth": 56, "shortcut": "none"}
    assert configuration_arguments("ResNet-56") == {"depth": 56, "shortcut": "A"}
    assert configuration_arguments("resnet-110 (b)") == {"depth": 110, "shortcut": "B"}


def test_defaults_are_the_four_nets_of_fig_6_on_the_fast_schedule_in_fast_mode(data, monkeypatch):
    monkeypatch.setenv("RESNET_EXPLORER_FAST", "1")
    race = TrainingRace(data=data, cache=None)
    assert race.configurations == ("plain-20", "plain-56", "ResNet-20 (A)", "ResNet-56 (A)")
    assert race.schedule == SCHEDULES["fast"]
    assert race.figure.layout.width and race.figure.layout.height
    race.set_state({"configurations": []})
    assert race.train() is None and race.train_button.disabled
    assert "Tick at least one net" in race.status_text


def test_the_caption_says_what_the_dashed_and_bold_curves_are(make_race):
    """The curves are eval-mode errors at each evaluation (the paper's Fig. 6 lines), not batches."""
    caption = make_race().caption.value
    assert "dashed, training error on 32 fixed training images" in caption
    assert "bold, test error on 32 test images" in caption and "eval mode" in caption
    assert "each training batch" not in caption


def test_widgets_change_only_under_the_views_lock_from_any_thread(make_race):
    race = make_race(redraws_per_second=1000)
    changes = []

    def watch(change):
        changes.append((threading.current_thread().name, race._lock._is_owned()))

    watched = [race.status, race.progress, race.progress_label, race.results, race.train_button,
               race.stop_button, race.clear_button, race.controls["schedule"]]
    for widget in watched:
        widget.observe(watch, names=["value", "disabled", "max"])
    race.train()
    assert race.wait(60)
    threads = {name for name, _ in changes}
    assert "resnet_explorer training race" in threads and len(threads) == 2
    assert all(owned for _, owned in changes), [change for change in changes if not change[1]]


def test_show_result_draws_the_shipped_default_race_without_training(tmp_path, monkeypatch):
    monkeypatch.setattr(race_engine, "compare", None)  # nothing may train
    race = TrainingRace(schedule="brief", data=load_dataset(image_size=16), cache=RunCache(tmp_path / "runs"))
    runs = race.show_result()
    assert [run.name for run in runs] == list(race_engine.DEFAULT_CONFIGURATIONS)
    assert all(run.history is not None for run in runs) and len(race.histories) == 4
    assert len(race.figure.data) == 8 and min(trace_lengths(race)) > 0
    assert "as shipped with resnet_explorer" in race.status_text and not race.running


@pytest.mark.parametrize("state, message", [
    ({"configurations": ["plain-" + "9" * 5000]}, "a net's name is at most 200 characters"),
    ({"configurations": ["plain-60002"]}, "plain-60002 is deeper than 1202 layers"),
    ({"schedule": {"steps": 10**9}}, "schedule: at most 64,000 steps .* got 1,000,000,000"),
])
def test_states_that_would_never_finish_are_refused(state, message, make_race, tmp_path):
    race = make_race()
    with pytest.raises(InvalidStateError, match=message) as caught:
        race.set_state(state)
    assert len(str(caught.value)) < 400
    assert race.configurations == tuple(NETS) and race.schedule == TINY
    path = save_scenario(race, tmp_path / "race.json")
    scenario = json.loads(path.read_text())
    scenario["controls"].update(state)
    path.write_text(json.dumps(scenario))
    with pytest.raises(InvalidStateError, match=message):
        load_scenario(TrainingRace, path)
