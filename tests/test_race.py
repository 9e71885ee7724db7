"""The race's engine, driven without any widget: threads, stop, errors, kept runs, events."""

import subprocess
import sys
import threading

import pytest

from resnet_explorer import race as race_engine
from resnet_explorer import training
from resnet_explorer.data import load_dataset
from resnet_explorer.race import RaceRunner, distinct_labels
from resnet_explorer.run_cache import RunCache
from resnet_explorer.schedules import SCHEDULES, Schedule

TINY = Schedule(steps=8, batch_size=16, warmup_steps=0, eval_every=4, eval_size=32)
NETS = ["plain-8", "ResNet-14 (A)"]


@pytest.fixture(scope="module")
def data():
    return load_dataset(image_size=16, train_size=128, test_size=32)


@pytest.fixture
def make_runner(data, tmp_path):
    runners = []

    def make(**options):
        options.setdefault("cache", RunCache(tmp_path / "runs"))
        runner = RaceRunner(data, **options)
        runners.append(runner)
        return runner

    yield make
    for runner in runners:  # never leave a training thread behind
        runner.stop()
        runner.wait(30)


def test_the_engine_needs_neither_ipywidgets_nor_plotly():
    code = ("import sys, resnet_explorer.race; "
            "print(sorted(m for m in ('ipywidgets', 'plotly', 'traitlets') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_a_race_trains_each_net_in_a_thread_and_reports_every_step(make_runner):
    events = []
    runner = make_runner(on_event=lambda event, progress, history: events.append(
        (event, history.model_name if history else None, threading.current_thread().name)))
    thread = runner.start(NETS, TINY)
    assert thread.daemon and runner.running
    assert runner.start(NETS, TINY) is thread  # a second start while racing does nothing
    assert not runner.clear()  # nor does clearing
    assert runner.wait(60) and not runner.running

    assert events[0] == ("started", None, threading.current_thread().name)
    assert [e[:2] for e in events if e[0] != "step"] == [("started", None), ("new run", "plain-8"),
                                                         ("new run", "ResNet-14 (A)"), ("ended", None)]
    # train() reports after every step and once at the end: per net 8 + 1, the first one as "new run"
    assert sum(e[0] == "step" for e in events) == 2 * 8
    assert {e[2] for e in events[1:]} == {"resnet_explorer training race"}
    assert [h.model_name for h in runner.histories] == NETS
    progress = runner.current
    assert progress.done_steps == progress.total_steps == 16
    text, bad = progress.summary()
    assert text.startswith("Race finished: 2 nets in") and not bad


def test_stop_keeps_the_run_so_far(make_runner):
    def stop_at_step_three(event, progress, history):
        if event == "step" and len(history.steps) == 3:
            runner.stop()

    runner = make_runner(on_event=stop_at_step_three)
    runner.start(NETS, TINY)
    assert runner.wait(60)
    (history,) = runner.histories
    assert history.status == "stopped" and len(history.steps) == 3
    assert runner.current.summary() == (
        "Race stopped: plain-8 stopped at step 3 of 8 (its curve is kept); 0 of 2 nets finished.", False)


def test_an_error_ends_the_race_as_one_line(make_runner, monkeypatch):
    def broken_train(*args, **kwargs):
        raise RuntimeError("out of memory\n  while training")

    monkeypatch.setattr(training, "train", broken_train)
    runner = make_runner()
    runner.start(NETS, TINY)
    assert runner.wait(30) and not runner.running
    assert runner.current.summary() == ("Training failed: RuntimeError: out of memory while training", True)
    assert runner.histories == []


def test_names_are_checked_before_any_thread_starts(make_runner):
    runner = make_runner()
    with pytest.raises(ValueError, match="nearest valid depths are 20 and 26"):
        runner.start(["plain-20", "ResNet-21 (A)"], TINY)
    assert not runner.running and runner.current is None
    assert runner.start([], TINY) is None
    with pytest.raises(TypeError, match="cache must be a RunCache"):
        make_runner(cache="yes")


def test_a_race_trains_again_live_and_show_gives_the_stored_run_at_once(make_runner):
    runner = make_runner()
    runner.start([{"depth": 8, "shortcut": "none"}], TINY)
    assert runner.wait(60)
    assert runner.current.names == ("plain-8",)
    (first,) = runner.histories
    assert first.grad_steps == [1] and "stem" in first.grad_norms  # the race records them
    runner.start(["plain-8"], TINY)  # Train again: trained live, not read from the cache
    assert runner.wait(60)
    (second,) = runner.histories  # replaces the earlier run of the same net
    assert not second.from_cache and "from the cache" not in runner.current.summary()[0]
    assert second.train_loss == pytest.approx(first.train_loss, rel=0.05)
    (shown,) = runner.show(["plain-8"], TINY)
    assert shown.source == "run cache" and shown.history.from_cache
    assert shown.history.train_loss == second.train_loss and runner.histories == [shown.history]
    (missing,) = runner.show(["plain-14"], TINY)
    assert missing.history is None and missing.source == ""
    assert runner.clear() and runner.histories == []


def test_the_listener_is_called_outside_the_runners_lock(make_runner):
    answered = []

    def read_from_another_thread(event, progress, history):
        if event in ("new run", "ended"):
            reader = threading.Thread(target=lambda: answered.append(len(runner.histories)))
            reader.start()
            reader.join(10)
            assert not reader.is_alive(), "the runner's lock was held while it called its listener"

    runner = make_runner(on_event=read_from_another_thread)
    runner.start(["plain-8"], TINY)
    assert runner.wait(60)
    assert answered == [1, 1]


def test_runs_of_one_net_with_two_schedules_are_labelled_by_schedule(make_runner):
    runner = make_runner()
    for schedule in (TINY, Schedule(steps=4, batch_size=16, warmup_steps=0, eval_every=4, eval_size=32)):
        runner.start(["plain-8"], schedule)
        assert runner.wait(60)
    labels = [history.model_name for history in distinct_labels(runner.histories)]
    assert labels == ["plain-8, 8 steps", "plain-8, 4 steps"]
    assert [history.model_name for history in runner.histories] == ["plain-8", "plain-8"]
    assert race_engine.schedule_name({"schedule": SCHEDULES["brief"].as_dict()}) == "brief"


def test_a_cache_that_cannot_be_written_keeps_every_run_of_the_race(make_runner, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    runner = make_runner(cache=RunCache(tmp_path / "a-file" / "runs"))
    with pytest.warns(UserWarning, match="could not store"):
        runner.start(NETS, TINY)
        assert runner.wait(60)
    assert [history.status for history in runner.histories] == ["finished", "finished"]
    text, bad = runner.current.summary()
    assert text.startswith("Race finished: 2 nets in") and not bad
