"""Races on an executor: a Dask LocalCluster of 2 single-thread worker processes, and local processes.

The same small race (plain-8 and ResNet-8 of width 4, 30 steps of 32 on 8x8 Fashion-MNIST, fp32)
runs in this process and on the executors; with the same seed the numbers must be equal, since
every run is built and trained by the same code on the same single-threaded CPU. The cluster
(``dask_client`` in conftest.py) is started once for the session.
"""

import os
import signal
import threading
import time
import warnings

import pytest
import torch

import resnet_explorer as rx
from resnet_explorer.cluster import (LocalProcessPool, RunRequest, compare_on_executor,
                                     estimated_seconds, make_requests, submit_request)
from resnet_explorer.run_cache import RunCache
from resnet_explorer.schedules import Schedule

pytestmark = pytest.mark.cluster

CONFIGS = [dict(depth=8, shortcut="none", width=4), dict(depth=8, shortcut="A", width=4)]
RACE = dict(steps=30, batch_size=32, eval_every=10, eval_size=64, precision="fp32", progress=False)
SEED = 3
CURVES = ("steps", "train_loss", "train_error", "lr", "eval_steps", "test_error",
          "train_subset_error")


@pytest.fixture(scope="module")
def data():
    return rx.load_dataset(image_size=8, train_size=512, test_size=64)


@pytest.fixture(scope="module")
def in_process(data):
    """The race in this process, without a cache: the reference."""
    started = time.perf_counter()
    histories = rx.compare(CONFIGS, data, seed=SEED, cache=None, **RACE)
    print(f"\nin-process race: {time.perf_counter() - started:.1f} s")
    return histories


@pytest.fixture
def client(dask_client):
    """The session's LocalCluster (conftest), with both workers up."""
    dask_client.wait_for_workers(2, timeout=60)
    return dask_client


def assert_same_runs(expected, actual):
    assert [history.model_name for history in actual] == [history.model_name for history in expected]
    for ours, theirs in zip(expected, actual):
        assert theirs.status == "finished", theirs.message
        for curve in CURVES:
            assert getattr(theirs, curve) == getattr(ours, curve), (theirs.model_name, curve)
        assert (theirs.config, theirs.setup) == (ours.config, ours.setup)
        for name, tensor in ours.model.state_dict().items():
            assert torch.equal(theirs.model.state_dict()[name].cpu(), tensor.cpu()), name


def test_a_dask_race_gives_the_in_process_numbers_and_a_second_call_reads_the_cache(
        client, data, in_process, tmp_path):
    executor = client.get_executor()
    cache = RunCache(tmp_path / "runs")
    started = time.perf_counter()
    first = rx.compare(CONFIGS, data, seed=SEED, executor=executor, cache=cache, **RACE)
    print(f"\nDask race (2 workers): {time.perf_counter() - started:.1f} s")
    assert_same_runs(in_process, first)
    assert not any(history.from_cache for history in first)
    assert len(cache.list()) == 2

    started = time.perf_counter()
    again = rx.compare(CONFIGS, data, seed=SEED, executor=executor, cache=cache, **RACE)
    print(f"the same race again: {time.perf_counter() - started:.1f} s")
    assert all(history.from_cache for history in again)
    assert_same_runs(in_process, again)
    assert len(cache.list()) == 2


def _executing(dask_worker) -> int:
    return len(dask_worker.state.executing)


def test_a_run_sent_again_to_dask_runs_again_and_reads_the_cache(client, data, tmp_path):
    """Dask hands back the result of an identical "pure" task it still holds: CI once saw a second
    race report its runs as trained, not cached. Holding the first future makes that certain."""
    executor = client.get_executor()
    schedule = Schedule(steps=RACE["steps"], batch_size=RACE["batch_size"], eval_every=RACE["eval_every"],
                        eval_size=RACE["eval_size"])
    (request,) = make_requests([(dict(CONFIGS[0], in_channels=1), SEED)], data, schedule, precision="fp32",
                               cache=RunCache(tmp_path / "runs"))
    first = submit_request(executor, request)
    assert not first.result(timeout=120).history.from_cache
    again = submit_request(executor, request)  # while `first` is still held
    assert again.result(timeout=120).history.from_cache


def test_a_worker_killed_mid_run_is_survived(client, data, in_process, tmp_path):
    executor = client.get_executor()
    results = {}
    race = threading.Thread(target=lambda: results.setdefault("histories", rx.compare(
        CONFIGS, data, seed=SEED, executor=executor, cache=RunCache(tmp_path / "runs"), **RACE)))
    race.start()
    pids = client.run(os.getpid)
    deadline = time.monotonic() + 60
    victim = None
    while victim is None and time.monotonic() < deadline:
        time.sleep(0.05)
        victim = next((address for address, running in client.run(_executing).items() if running), None)
    assert victim is not None, "no worker started a run within 60 s"
    os.kill(pids[victim], signal.SIGKILL)  # at once: a run takes about a second on a quiet machine
    race.join(timeout=240)
    assert not race.is_alive()
    assert_same_runs(in_process, results["histories"])
    client.wait_for_workers(2, timeout=60)  # the nanny restarted the killed worker


def test_a_failing_run_is_reported_retried_once_and_the_others_go_on(client, data, tmp_path):
    # The driver's copy of the data differs from what its recipe loads on the workers.
    changed = rx.load_dataset(image_size=8, train_size=512, test_size=64)
    changed.train_images[0] += 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        histories = rx.compare(CONFIGS[:1], changed, seed=SEED, executor=client.get_executor(),
                               cache=RunCache(tmp_path / "runs"), **RACE)
    messages = [str(warning.message) for warning in caught]
    assert any("plain-8, seed 3 failed on the executor (DataMismatchError" in message
               and "trying it once more" in message for message in messages), messages
    assert any("plain-8, seed 3 failed again" in message for message in messages), messages
    [history] = histories
    assert history.status == "stopped" and not history.steps
    assert history.message.startswith("failed twice on the executor: DataMismatchError")
    assert "same data files" in history.message


def test_a_dataset_made_by_hand_travels_whole_and_trains_the_same(client, tiny_data, tmp_path):
    by_hand = tiny_data()
    configs = [dict(depth=8, width=4)]
    tiny = dict(steps=4, batch_size=16, eval_every=4, eval_size=16, precision="fp32", progress=False)
    expected = rx.compare(configs, by_hand, seed=1, cache=None, **tiny)
    actual = rx.compare(configs, by_hand, seed=1, executor=client.get_executor(),
                        cache=RunCache(tmp_path / "runs"), **tiny)
    assert_same_runs(expected, actual)


def test_a_stop_event_returns_at_once_with_the_unfinished_runs_marked_stopped(client, data, tmp_path):
    stop = threading.Event()
    stop.set()
    histories = rx.compare(CONFIGS, data, seed=SEED, executor=client.get_executor(),
                           cache=RunCache(tmp_path / "runs"), stop_event=stop, **RACE)
    assert [history.status for history in histories] == ["stopped", "stopped"]
    assert all("stopped before it finished" in history.message for history in histories)


def test_local_processes_survive_a_killed_process(data, in_process, tmp_path):
    """A plain ProcessPoolExecutor breaks for good when a process dies; LocalProcessPool retries
    the lost run on a new pool. (One process, one run: each process imports torch, seconds.)"""
    pool = LocalProcessPool(1, threads=1)  # the in-process runs' thread count: same sums
    try:
        pool.submit(int).result()  # its process is up
        [first] = pool.process_ids()
        results = {}
        race = threading.Thread(target=lambda: results.setdefault("histories", rx.compare(
            CONFIGS[:1], data, seed=SEED, executor=pool, cache=RunCache(tmp_path / "runs"), **RACE)))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            race.start()
            time.sleep(0.3)  # the run is in the process (importing the package takes longer)
            assert race.is_alive()
            os.kill(first, signal.SIGKILL)
            race.join(timeout=240)
        assert any("plain-8, seed 3 failed on the executor (BrokenProcessPool" in str(warning.message)
                   for warning in caught), [str(warning.message) for warning in caught]
        assert first not in pool.process_ids()
        assert_same_runs(in_process[:1], results["histories"])
    finally:
        pool.shutdown()


def test_bad_arguments_are_refused_on_the_driver_before_anything_is_sent(data):
    with pytest.raises(TypeError, match="does not take callbacks; it takes seed and schedule"):
        compare_on_executor(None, CONFIGS, data, callbacks=[])
    with pytest.raises(ValueError, match="depth 9 is not 6n\\+2"):
        compare_on_executor(None, [dict(depth=9)], data)
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        compare_on_executor(None, CONFIGS, data, precision="fp8")


def test_a_request_carries_the_recipe_not_the_tensors(data, tiny_data):
    [request] = make_requests([(dict(depth=8, in_channels=1), 0)], data, Schedule(steps=5))
    assert isinstance(request, RunRequest) and request.dataset is None
    assert request.data_recipe[0] == ("load_dataset", dict(
        name="fashion-mnist-mini", root=None, train_size=512, test_size=64, image_size=8,
        download=False, seed=0))
    assert request.name == "ResNet-8 (A), seed 0"
    by_hand = tiny_data()
    [request] = make_requests([(dict(depth=8, in_channels=1, num_classes=4), 0)], by_hand,
                              Schedule(steps=5))
    assert request.dataset is by_hand and request.data_recipe == ()


def test_the_estimate_adds_training_and_evaluation_and_spreads_runs_over_slots(data):
    schedule = Schedule(steps=1000, batch_size=128, eval_every=100, eval_size=None)
    runs = [(dict(depth=20, in_channels=1), seed) for seed in range(4)]
    requests = make_requests(runs, data, schedule, cache=None)
    step = 0.5
    evaluations = 11 * (512 + 64) * step / 128 / 3  # 11 evaluations of both splits
    one_run = 1000 * step + evaluations
    times = {"ResNet-20 (A)": step}
    assert estimated_seconds(requests, times, slots=1) == pytest.approx(4 * one_run)
    assert estimated_seconds(requests, times, slots=2) == pytest.approx(2 * one_run)
    assert estimated_seconds(requests, times, slots=8) == pytest.approx(one_run)  # the longest run
