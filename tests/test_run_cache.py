import json
import multiprocessing
import time
from dataclasses import replace
from fractions import Fraction

import pytest
import torch

import resnet_explorer as rx
from resnet_explorer.data import load_dataset
from resnet_explorer.history import History
from resnet_explorer.run_cache import CachedRun, RunCache, default_root, describe_run
from resnet_explorer.schedules import resolve_schedule
from resnet_explorer.training import compare, train

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
    run_cache.remove("0123abcd")  # no such entry
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


# ---- a hit means the same run: every image and label, and the starting weights (issue 15) ----

def test_the_key_covers_every_image_and_label_of_the_shipped_data():
    from resnet_explorer.run_cache import describe_data

    data = load_dataset(image_size=8)
    original = describe_data(data)
    relabelled = replace(data, train_labels=data.train_labels.clone())
    relabelled.train_labels[1::5] = (relabelled.train_labels[1::5] + 1) % 10  # 2,000 of 10,000
    blanked = replace(data, test_images=data.test_images.clone())
    blanked.test_images[1] = 0.0  # one image of 2,000
    assert describe_data(relabelled)["fingerprint"] != original["fingerprint"]
    assert describe_data(blanked)["fingerprint"] != original["fingerprint"]
    assert describe_data(replace(data))["fingerprint"] == original["fingerprint"]


def test_a_pretrained_net_is_not_served_the_run_of_a_scratch_net(run_cache):
    data = load_dataset(image_size=16, train_size=256, test_size=200)
    pretrained = rx.load_checkpoint("resnet20-fashion-mnist", device="cpu")
    scratch = rx.build_model(**pretrained.config.as_dict(), device="cpu")
    from_scratch = train(scratch, data, cache=run_cache, **{**RUN, "lr": 0.01})
    fine_tuned = train(pretrained, data, cache=run_cache, **{**RUN, "lr": 0.01})
    assert not fine_tuned.from_cache and len(run_cache.list()) == 2
    assert not same_weights(pretrained, scratch)  # its own run, not the scratch run's weights
    assert fine_tuned.final_test_error < from_scratch.final_test_error - 0.2


def test_nets_built_after_different_manual_seeds_are_different_entries(run_cache, tiny_data,
                                                                        tiny_model):
    data = tiny_data()
    train(tiny_model(seed=0), data, cache=run_cache, **RUN)
    assert not train(tiny_model(seed=1), data, cache=run_cache, **RUN).from_cache
    assert train(tiny_model(seed=1), data, cache=run_cache, **RUN).from_cache
    assert len(run_cache.list()) == 2


def test_training_further_continues_from_the_trained_weights_and_is_cached_too(
        run_cache, tiny_data, tiny_model):
    data = tiny_data()
    model = tiny_model()
    first = train(model, data, cache=run_cache, **RUN)
    second = train(model, data, cache=run_cache, **RUN)  # starts where the first ended
    assert not second.from_cache and second.setup["start"] != first.setup["start"]
    assert second.train_loss[0] < first.train_loss[0]
    rerun = tiny_model()  # the same two calls again, as when a notebook is run again
    assert train(rerun, data, cache=run_cache, **RUN).from_cache
    again = train(rerun, data, cache=run_cache, **RUN)
    assert again.from_cache and again.train_loss == second.train_loss
    assert same_weights(rerun, model)


def test_the_start_says_what_is_hashed(tiny_model, tiny_data):
    model = tiny_model()
    model.fc.weight.requires_grad_(False)
    start = describe_run(model, tiny_data(), resolve_schedule("fast"), 0, "fp32")["start"]
    assert set(start) == {"weights", "frozen"} and len(start["weights"]) == 64
    assert start["frozen"] == ["fc.weight"]
    with torch.no_grad():
        model.stem.bn.running_mean += 1  # a buffer, not a parameter
    again = describe_run(model, tiny_data(), resolve_schedule("fast"), 0, "fp32")["start"]
    assert again["weights"] != start["weights"]


# ---- nothing outside the cache is touched ------------------------------------------------------

def entry_and_neighbours(run_cache, tiny_data, tiny_model):
    """A cache with one entry, a user's folder and file inside its root, and a folder beside it."""
    train(tiny_model(), tiny_data(), cache=run_cache, **RUN)
    photos = run_cache.root / "photos"
    photos.mkdir()
    (photos / "cat.jpg").write_bytes(b"a cat")
    (run_cache.root / "notes.txt").write_text("mine")
    beside = run_cache.root.parent / "beside"
    beside.mkdir()
    (beside / "thesis.tex").write_text("mine too")
    return photos, beside


def test_clear_deletes_entries_and_leftovers_only(run_cache, tiny_data, tiny_model):
    photos, beside = entry_and_neighbours(run_cache, tiny_data, tiny_model)
    staging = run_cache.root / ".0123abcd-x1y2"  # what a crash during put() leaves
    staging.mkdir()
    (staging / "history.json").write_text("{")
    damaged = run_cache.root / "0123456789abcdef0123"  # an entry without its weights
    damaged.mkdir()
    (damaged / "history.json").write_text("{")
    run_cache.clear()
    assert run_cache.list() == [] and not staging.exists() and not damaged.exists()
    assert (photos / "cat.jpg").read_bytes() == b"a cat"
    assert (run_cache.root / "notes.txt").is_file() and (beside / "thesis.tex").is_file()


@pytest.mark.parametrize("key", ["../beside", "", "/abs/beside", "runs/../../beside", ".", "..",
                                 ".trash-x", "a/b", "photos", 7])
def test_keys_that_are_not_plain_names_are_refused(key, run_cache, tiny_data, tiny_model):
    photos, beside = entry_and_neighbours(run_cache, tiny_data, tiny_model)
    for action in (run_cache.remove, run_cache.load_model, run_cache.get,
                   lambda key: run_cache.put(key, History("x", {}), tiny_model())):
        with pytest.raises(ValueError, match="run cache key"):
            action(key)
    assert (beside / "thesis.tex").is_file() and len(run_cache.list()) == 1


def test_remove_refuses_a_folder_that_is_not_an_entry(run_cache, tiny_data, tiny_model):
    entry_and_neighbours(run_cache, tiny_data, tiny_model)
    mine = run_cache.root / "cafe"  # named like a key, but holding someone's files
    mine.mkdir()
    (mine / "menu.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a run cache entry"):
        run_cache.remove("cafe")
    run_cache.clear()
    assert (mine / "menu.txt").is_file()


# ---- a failed write loses nothing ---------------------------------------------------------------

@pytest.fixture
def cache_under_a_file(tmp_path) -> RunCache:
    """A run cache whose folder cannot be made: its parent is a file."""
    (tmp_path / "a-file").write_text("not a folder")
    return RunCache(tmp_path / "a-file" / "runs")


def test_a_cache_that_cannot_be_written_warns_and_keeps_the_run(cache_under_a_file, tiny_data,
                                                                tiny_model):
    model = tiny_model()
    with pytest.warns(UserWarning, match="could not store .* in the run cache"):
        history = train(model, tiny_data(), cache=cache_under_a_file, **RUN)
    assert history.status == "finished" and len(history.steps) == RUN["steps"]
    assert history.model is model and not same_weights(model, tiny_model())


def test_compare_keeps_every_history_when_the_cache_cannot_be_written(cache_under_a_file,
                                                                       tiny_data):
    configs = [dict(depth=8, shortcut="none", width=4), dict(depth=8, shortcut="A", width=4)]
    with pytest.warns(UserWarning, match="could not store"):
        histories = compare(configs, tiny_data(), cache=cache_under_a_file, **RUN)
    assert [h.status for h in histories] == ["finished", "finished"]


def write_one_key_many_times(root, key, history_values, make_model, start, times, failures):
    """In a process of its own: store the same run ``times`` times; count the errors."""
    cache = RunCache(root)
    history = History.from_dict(history_values)
    model = make_model()
    start.wait()
    for _ in range(times):
        try:
            cache.put(key, history, model)
        except Exception:  # noqa: BLE001 - counted, and the test says how many
            with failures.get_lock():
                failures.value += 1


def test_concurrent_writers_of_one_key_all_succeed_and_leave_no_debris(run_cache, tiny_data,
                                                                       tiny_model):
    history = train(tiny_model(), tiny_data(), **RUN)
    key = RunCache.key({"model": history.config, **history.setup})
    context = multiprocessing.get_context("fork")
    start, failures = context.Event(), context.Value("i", 0)
    writers = [context.Process(target=write_one_key_many_times,
                               args=(run_cache.root, key, history.to_dict(), tiny_model, start, 40,
                                     failures))
               for _ in range(3)]
    for writer in writers:
        writer.start()
    start.set()
    for writer in writers:
        writer.join(120)
    assert [writer.exitcode for writer in writers] == [0, 0, 0]
    assert failures.value == 0
    assert [path.name for path in run_cache.root.iterdir()] == [key]
    assert run_cache.get(key).train_loss == history.train_loss


# ---- entries are checked when read --------------------------------------------------------------

def stored_run(run_cache, tiny_data, tiny_model):
    train(tiny_model(), tiny_data(), cache=run_cache, **RUN)
    (run,) = run_cache.list()
    return run


def rewrite_history(run, **changes):
    values = json.loads((run.path / "history.json").read_text())
    values.update(changes)
    (run.path / "history.json").write_text(json.dumps(values))


@pytest.mark.parametrize("changes, reason", [
    (dict(steps="12345"), "steps"),
    (dict(train_loss=["x"] * RUN["steps"]), "train_loss"),
    (dict(model_name=5), "model_name"),
    (dict(status="done"), "status"),
    (dict(test_error=[1.5, 0.2]), "test_error"),
    (dict(config={"depth": 21}), "depth 21 is not 6n\\+2"),
    (dict(config={"depth": 1_000_004, "shortcut": "A"}), "deeper than 1202"),
    (dict(config=["depth", 20]), "config"),
    (dict(setup="fast"), "setup"),
])
def test_entries_with_wrong_values_are_reported_and_skipped(changes, reason, run_cache, tiny_data,
                                                            tiny_model):
    run = stored_run(run_cache, tiny_data, tiny_model)
    rewrite_history(run, **changes)
    started = time.perf_counter()
    with pytest.warns(UserWarning, match=f"damaged run cache entry .*{reason}"):
        assert run_cache.list() == []
    with pytest.warns(UserWarning, match="damaged"):
        assert run_cache.get(run.key) is None
    with pytest.raises(ValueError, match=f"damaged.*{reason}.*RunCache.*remove"):
        run_cache.load_model(run.key)
    assert time.perf_counter() - started < 5  # nothing deep was built


def test_damaged_weights_never_suggest_weights_only_false(run_cache, tiny_data, tiny_model):
    run = stored_run(run_cache, tiny_data, tiny_model)
    torch.save({"fc.weight": Fraction(1, 3)}, run.path / "model.pt")  # not plain tensors
    with pytest.raises(ValueError) as caught:
        run_cache.load_model(run.key)
    message = str(caught.value)
    assert "damaged" in message and "remove" in message and "weights_only" not in message
    with pytest.warns(UserWarning) as warned:
        assert train(tiny_model(), tiny_data(), cache=run_cache, **RUN).from_cache is False
    assert all("weights_only" not in str(warning.message) for warning in warned)
