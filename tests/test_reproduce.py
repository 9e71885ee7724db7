"""The Table 6 command: its runs, its messages, its table; and the command itself on a Dask cluster.

The command's runs are tried on the shipped Fashion-MNIST subset with a tiny schedule (CIFAR-10
cannot be downloaded here), on the session's Dask LocalCluster (``dask_client`` in conftest.py).
"""

import math

import pytest

import resnet_explorer as rx
from resnet_explorer.cluster import LocalProcessPool, executor_from_address
from resnet_explorer.reproduce import REFUSED, main, readable_duration, results_table, table6_runs
from resnet_explorer.run_cache import RunCache

TINY = ["--data", "fashion-mnist-mini", "--image-size", "8", "--train-size", "256",
        "--test-size", "64", "--depths", "8", "--steps", "8", "--precision", "fp32"]


@pytest.fixture(scope="module")
def data():
    return rx.load_dataset(image_size=8, train_size=256, test_size=64)


def test_table6_has_plain_and_resnet_of_each_depth_and_five_runs_of_resnet_110(data):
    runs = table6_runs((20, 32, 44, 56, 110), ("plain", "resnet"), None, data)
    names = [(rx.ModelConfig(**arguments).name, seed) for arguments, seed in runs]
    assert names[:5] == [(f"plain-{depth}", 0) for depth in (20, 32, 44, 56, 110)]
    assert [seed for name, seed in names if name == "ResNet-110 (A)"] == [0, 1, 2, 3, 4]
    assert len(runs) == 5 + 4 + 5
    assert all(arguments["in_channels"] == 1 and arguments["num_classes"] == 10 for arguments, _ in runs)
    assert len(table6_runs((20,), ("resnet",), 3, data)) == 3


@pytest.mark.parametrize("seconds, text", [(40, "40 seconds"), (720, "12 minutes"),
                                           (5.1 * 3600, "5.1 hours"), (3.2 * 86400, "3.2 days"),
                                           (math.inf, "forever")])
def test_durations_read_in_the_unit_that_fits(seconds, text):
    assert readable_duration(seconds) == text


def test_missing_cifar10_says_where_to_put_it_and_how_to_try_without(tmp_path, capsys):
    assert main(["table6", "--data-root", str(tmp_path)]) == REFUSED
    error = capsys.readouterr().err
    assert "cifar-10-batches-py" in error and "--download" in error
    assert "--data fashion-mnist-mini --image-size 16 --depths 20,56 --steps 20 --force" in error


@pytest.mark.parametrize("option, message", [
    (["--depths", "21"], "depth 21 is not 6n+2"),
    (["--nets", "resnet,dense"], "--nets 'resnet,dense': give a comma-separated list: plain, resnet"),
    (["--executor", "slurm://x"], "--executor 'slurm://x' is not known; allowed: local:N"),
    (["--executor", "local:0"], "N must be a whole number >= 1"),
])
def test_bad_options_are_refused_with_what_is_allowed(option, message, capsys, tmp_path):
    assert main(["table6", *TINY, "--cache", str(tmp_path), *option]) == REFUSED
    assert message in capsys.readouterr().err


def test_local_n_names_a_pool_of_n_processes():
    executor, slots, close = executor_from_address("local:3")
    try:
        assert isinstance(executor, LocalProcessPool) and executor.max_workers == slots == 3
    finally:
        close()


@pytest.mark.cluster
def test_on_cpu_workers_it_says_how_long_and_refuses_without_force(dask_client, tmp_path, capsys):
    address = "dask://" + dask_client.scheduler.address.removeprefix("tcp://")
    assert main(["table6", *TINY, "--executor", address, "--cache", str(tmp_path)]) == REFUSED
    output = capsys.readouterr()
    assert "2 runs of 8 steps (fashion-mnist-mini, 8x8, 256 training images)" in output.out
    assert "plain-8" in output.out and "s per step of 128 on cpu" in output.out
    assert "The workers have no GPU (cpu): these runs would take about" in output.err
    assert "add --force to train on these CPUs anyway" in output.err
    assert RunCache(tmp_path).list() == []


@pytest.mark.cluster
def test_with_force_it_trains_the_runs_into_the_cache_and_then_reads_them(dask_client, tmp_path,
                                                                          capsys):
    address = "dask://" + dask_client.scheduler.address.removeprefix("tcp://")
    command = ["table6", *TINY, "--executor", address, "--cache", str(tmp_path), "--force"]
    assert main(command) == 0
    table = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in table[-2:]] == ["plain-8", "ResNet-8"]
    assert all("1/1 finished" in line for line in table[-2:])
    assert len(RunCache(tmp_path).list()) == 2

    assert main(command) == 0
    table = capsys.readouterr().out.splitlines()
    assert all("1/1 finished; 1 from the cache" in line for line in table[-2:])


def test_the_table_gives_best_and_mean_and_std_over_seeds(data, tmp_path):
    histories = rx.compare([dict(depth=8, width=4)], data, seed=0, steps=4, batch_size=32,
                           eval_every=4, eval_size=64, progress=False, precision="fp32")
    first = histories[0]
    second = rx.History.from_dict({**first.to_dict(), "test_error": [0.5]})
    second.model = first.model
    table = results_table([first, second], "validation")
    assert "validation error % best (mean±std)" in table
    errors = [100 * first.final_test_error, 50.0]
    mean, spread = sum(errors) / 2, abs(errors[0] - errors[1]) / math.sqrt(2)
    assert f"{min(errors):.2f} ({mean:.2f}±{spread:.2f})" in table
    assert "2/2 finished" in table
