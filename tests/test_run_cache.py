import json
import time

import pytest
import torch

from resnet_explorer.data import load_dataset
from resnet_explorer.models import build_model
from resnet_explorer.run_cache import CachedRun, RunCache, config_key, default_root
from resnet_explorer.training import train

RUN = dict(steps=8, batch_size=32, eval_every=4, eval_size=64, warmup_steps=1, precision="fp32",
           progress=False)


@pytest.fixture(scope="module")
def data():
    return load_dataset(train_size=128, test_size=64, image_size=8)


@pytest.fixture
def cache(tmp_path):
    return RunCache(tmp_path / "runs")


def fresh_model(shortcut="A"):
    torch.manual_seed(0)
    return build_model(8, shortcut, in_channels=1, width=4)


def same_weights(first, second):
    one, two = first.state_dict(), second.state_dict()
    return one.keys() == two.keys() and all(torch.equal(one[k], two[k]) for k in one)


def test_default_root_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RESNET_EXPLORER_CACHE", str(tmp_path / "elsewhere"))
    assert RunCache().root == tmp_path / "elsewhere" == default_root()
    monkeypatch.delenv("RESNET_EXPLORER_CACHE")
    assert default_root().parts[-3:] == (".cache", "resnet_explorer", "runs")


def test_key_depends_on_content_not_on_order():
    assert config_key({"a": 1, "b": [1, 2]}) == config_key({"b": [1, 2], "a": 1})
    assert config_key({"a": 1}) != config_key({"a": 2})


def test_a_second_identical_run_comes_from_the_cache_with_the_same_numbers_and_weights(cache, data):
    first_model = fresh_model()
    first = train(first_model, data, cache=cache, **RUN)
    assert first.status == "finished" and not first.from_cache

    second_model = fresh_model()
    started = time.perf_counter()
    second = train(second_model, data, cache=cache, **RUN)
    assert time.perf_counter() - started < 1.0
    assert second.from_cache
    assert second.train_loss == first.train_loss and second.test_error == first.test_error
    assert second.config == first.config and second.label == first.label
    assert same_weights(first_model, second_model)
    assert second.model is second_model


def test_a_different_schedule_or_seed_is_a_different_entry(cache, data):
    train(fresh_model(), data, cache=cache, **RUN)
    assert not train(fresh_model(), data, cache=cache, seed=1, **RUN).from_cache
    assert not train(fresh_model(), data, cache=cache, **{**RUN, "lr": 0.05}).from_cache
    assert len(cache.list()) == 3


def test_list_describes_each_run_and_load_model_rebuilds_it(cache, data):
    model = fresh_model("none")
    history = train(model, data, cache=cache, **RUN)
    (run,) = cache.list()
    assert isinstance(run, CachedRun)
    assert run.label == "plain-8" and run.status == "finished"
    assert run.final_test_error == history.final_test_error
    assert run.final_train_error == history.final_train_error
    assert run.config == history.config == model.config.as_dict()
    assert run.setup == json.loads(json.dumps(history.setup))
    assert (run.path / "config.json").is_file()
    assert run.created <= time.time()
    rebuilt = cache.load_model(run)
    assert rebuilt.config == model.config and same_weights(rebuilt, model)


def test_stopped_runs_are_not_stored_but_diverged_ones_are(cache, data):
    def interrupt(history):
        raise KeyboardInterrupt

    stopped = train(fresh_model(), data, cache=cache, callback=interrupt, callback_every=1, **RUN)
    assert stopped.status == "stopped" and cache.list() == []

    torch.manual_seed(0)
    wild = build_model(8, "none", in_channels=1, width=4, norm="none")
    diverged = train(wild, data, cache=cache, **{**RUN, "lr": 1e6, "warmup_steps": 0})
    assert diverged.status == "diverged"
    assert [run.status for run in cache.list()] == ["diverged"]


def test_a_model_trained_already_skips_the_cache(cache, data):
    model = fresh_model()
    train(model, data, cache=cache, **RUN)
    with pytest.warns(UserWarning, match="already trained"):
        again = train(model, data, cache=cache, **RUN)
    assert not again.from_cache


def test_damaged_entries_are_skipped_with_a_warning(cache, data):
    train(fresh_model(), data, cache=cache, **RUN)
    train(fresh_model("none"), data, cache=cache, **RUN)
    broken, intact = cache.list()
    (broken.path / "history.json").write_text("{not json")
    (cache.root / ".abc-unfinished").mkdir()  # what a crash during put() leaves behind
    with pytest.warns(UserWarning, match="damaged"):
        assert [run.key for run in cache.list()] == [intact.key]
    with pytest.warns(UserWarning, match="damaged"):
        assert cache.get(broken.key) is None


def test_damaged_weights_mean_training_again(cache, data):
    first = train(fresh_model(), data, cache=cache, **RUN)
    (run,) = cache.list()
    (run.path / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="damaged"):
        again = train(fresh_model(), data, cache=cache, **RUN)
    assert not again.from_cache and again.train_loss == first.train_loss
    assert len(cache.list()) == 1  # the entry was replaced by a good one


def test_remove_and_clear(cache, data):
    train(fresh_model(), data, cache=cache, **RUN)
    train(fresh_model("none"), data, cache=cache, **RUN)
    first, second = cache.list()
    cache.remove(first.key)
    assert [run.key for run in cache.list()] == [second.key]
    cache.remove("no-such-key")
    cache.clear()
    assert cache.list() == [] and first.key not in cache


def test_cache_true_uses_the_default_root(monkeypatch, tmp_path, data):
    monkeypatch.setenv("RESNET_EXPLORER_CACHE", str(tmp_path / "default"))
    train(fresh_model(), data, cache=True, **RUN)
    assert len(RunCache().list()) == 1


def test_load_model_of_an_unknown_key_says_so(cache):
    with pytest.raises(KeyError, match="no run"):
        cache.load_model("0123")
