import json
import time

import pytest
import torch

from resnet_explorer.run_cache import CachedRun, RunCache, default_root, describe_run
from resnet_explorer.schedules import resolve_schedule
from resnet_explorer.training import train

RUN = dict(steps=8, batch_size=32, eval_every=4, eval_size=64, warmup_steps=1, precision="fp32",
           progress=False)


def same_weights(first, second):
    one, two = first.state_dict(), second.state_dict()
    return one.keys() == two.keys() and all(torch.equal(one[k], two[k]) for k in one)


def test_default_root_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RESNET_EXPLORER_CACHE", str(tmp_path / "elsewhere"))
    assert RunCache().root == tmp_path / "elsewhere" == default_root()
    monkeypatch.delenv("RESNET_EXPLORER_CACHE")
    assert default_root().parts[-3:] == (".cache", "resnet_explorer", "runs")


def test_key_depends_on_content_not_on_order():
    assert RunCache.key({"a": 1, "b": [1, 2]}) == RunCache.key({"b": [1, 2], "a": 1})
    assert RunCache.key({"a": 1}) != RunCache.key({"a": 2})


def test_an_entry_is_keyed_by_the_description_of_its_run(run_cache, tiny_data, tiny_model):
    data = tiny_data()
    model = tiny_model()
    history = train(model, data, cache=run_cache, seed=2, **RUN)
    described = describe_run(tiny_model(), data, resolve_schedule(None, **{
        name: value for name, value in RUN.items() if name not in ("precision", "progress")}),
        seed=2, precision="fp32")
    assert described == {"model": history.config, **history.setup}
    (run,) = run_cache.list()
    assert run.key == RunCache.key(described)
    assert json.loads((run.path / "config.json").read_text()) == json.loads(json.dumps(described))


def test_resolve_turns_the_cache_argument_into_a_cache(monkeypatch, tmp_path, run_cache):
    monkeypatch.setenv("RESNET_EXPLORER_CACHE", str(tmp_path / "default"))
    assert RunCache.resolve(None) is None and RunCache.resolve(False) is None
    assert RunCache.resolve(True).root == tmp_path / "default"
    assert RunCache.resolve(run_cache) is run_cache
    with pytest.raises(TypeError, match="cache must be a RunCache, True .* or None"):
        RunCache.resolve("yes")


def test_a_second_identical_run_comes_from_the_cache_with_the_same_numbers_and_weights(
        run_cache, tiny_data, tiny_model):
    data = tiny_data()
    first_model = tiny_model()
    first = train(first_model, data, cache=run_cache, **RUN)
    assert first.status == "finished" and not first.from_cache

    second_model = tiny_model()
    started = time.perf_counter()
    second = train(second_model, data, cache=run_cache, **RUN)
    assert time.perf_counter() - started < 1.0
    assert second.from_cache
    assert second.train_loss == first.train_loss and second.test_error == first.test_error
    assert second.config == first.config and second.model_name == first.model_name
    assert same_weights(first_model, second_model)
    assert second.model is second_model


def test_a_different_schedule_or_seed_is_a_different_entry(run_cache, tiny_data, tiny_model):
    data = tiny_data()
    train(tiny_model(), data, cache=run_cache, **RUN)
    assert not train(tiny_model(), data, cache=run_cache, seed=1, **RUN).from_cache
    assert not train(tiny_model(), data, cache=run_cache, **{**RUN, "lr": 0.05}).from_cache
    assert len(run_cache.list()) == 3


def test_list_describes_each_run_and_load_model_rebuilds_it(run_cache, tiny_data, tiny_model):
    data = tiny_data()
    model = tiny_model("none")
    history = train(model, data, cache=run_cache, **RUN)
    (run,) = run_cache.list()
    assert isinstance(run, CachedRun)
    assert run.model_name == "plain-8" and run.status == "finished"
    assert run.final_test_error == history.final_test_error
    assert run.final_train_error == history.final_train_error
    assert run.config == history.config == model.config.as_dict()
    assert run.setup == json.loads(json.dumps(history.setup))
    assert (run.path / "config.json").is_file()
    assert run.created <= time.time()
    rebuilt = run_cache.load_model(run)
    assert rebuilt.config == model.config and same_weights(rebuilt, model)


def test_stopped_runs_are_not_stored_but_diverged_ones_are(run_cache, tiny_data, tiny_model):
    data = tiny_data()

    def interrupt(history):
        raise KeyboardInterrupt

    stopped = train(tiny_model(), data, cache=run_cache, callback=interrupt, callback_every=1, **RUN)
    assert stopped.status == "stopped" and run_cache.list() == []

    wild = tiny_model("none", norm="none")
    diverged = train(wild, data, cache=run_cache, **{**RUN, "lr": 1e6, "warmup_steps": 0})
    assert diverged.status == "diverged"
    assert [run.status for run in run_cache.list()] == ["diverged"]


def test_a_model_trained_already_skips_the_cache(run_cache, tiny_data, tiny_model):
    data = tiny_data()
    model = tiny_model()
    train(model, data, cache=run_cache, **RUN)
    with pytest.warns(UserWarning, match="already trained"):
        again = train(model, data, cache=run_cache, **RUN)
    assert not again.from_cache


def test_damaged_entries_are_skipped_with_a_warning(run_cache, tiny_data, tiny_model):
    data = tiny_data()
    train(tiny_model(), data, cache=run_cache, **RUN)
    train(tiny_model("none"), data, cache=run_cache, **RUN)
    broken, intact = run_cache.list()
    (broken.path / "history.json").write_text("{not json")
    (run_cache.root / ".abc-unfinished").mkdir()  # what a crash during put() leaves behind
    with pytest.warns(UserWarning, match="damaged"):
        assert [run.key for run in run_cache.list()] == [intact.key]
    with pytest.warns(UserWarning, match="damaged"):
        assert run_cache.get(broken.key) is None


def test_damaged_weights_mean_training_again(run_cache, tiny_data, tiny_model):
    data = tiny_data()
    first = train(tiny_model(), data, cache=run_cache, **RUN)
    (run,) = run_cache.list()
    (run.path / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="damaged"):
        again = train(tiny_model(), data, cache=run_cache, **RUN)
    assert not again.from_cache and again.train_loss == first.train_loss
    assert len(run_cache.list()) == 1  # the entry was replaced by a good one


def test_remove_and_clear(run_cache, tiny_data, tiny_model):
    data = tiny_data()
    train(tiny_model(), data, cache=run_cache, **RUN)
    train(tiny_model("none"), data, cache=run_cache, **RUN)
    first, second = run_cache.list()
    run_cache.remove(first.key)
    assert [run.key for run in run_cache.list()] == [second.key]
    run_cache.remove("no-such-key")
    run_cache.clear()
    assert run_cache.list() == [] and first.key not in run_cache


def test_cache_true_uses_the_default_root(monkeypatch, tmp_path, tiny_data, tiny_model):
    data = tiny_data()
    monkeypatch.setenv("RESNET_EXPLORER_CACHE", str(tmp_path / "default"))
    train(tiny_model(), data, cache=True, **RUN)
    assert len(RunCache().list()) == 1


def test_load_model_of_an_unknown_key_says_so(run_cache):
    with pytest.raises(KeyError, match="no run"):
        run_cache.load_model("0123")
