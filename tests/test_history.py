"""History: what a run measured, and its round trip through plain (JSON-ready) values."""

import math

from resnet_explorer.history import History
from resnet_explorer.training import train

TINY = dict(steps=12, batch_size=16, eval_every=4, eval_size=32, warmup_steps=2,
            precision="fp32", progress=False)


def test_history_survives_a_round_trip_through_plain_values(tiny_model, tiny_data):
    history = train(tiny_model(), tiny_data(), **TINY)
    copy = History.from_dict(history.to_dict())
    assert copy.train_loss == history.train_loss and copy.status == history.status
    assert copy.model is None and copy.final_test_error == history.final_test_error


def test_final_errors_come_from_the_last_evaluation_or_the_last_batches():
    empty = History("plain-8", {"depth": 8, "shortcut": "none"})
    assert math.isnan(empty.final_train_error) and math.isnan(empty.final_test_error)
    batches = History("plain-8", {}, train_error=[1.0] * 30 + [0.5] * 20)
    assert batches.final_train_error == 0.5  # the mean of the last 20 batches
    evaluated = History("plain-8", {}, train_error=[0.5], train_subset_error=[0.4, 0.3],
                        test_error=[0.6, 0.35])
    assert (evaluated.final_train_error, evaluated.final_test_error) == (0.3, 0.35)


def test_histories_saved_with_the_old_label_key_still_load():
    saved = {"label": "ResNet-20 (A)", "config": {"depth": 20}, "status": "finished"}
    history = History.from_dict(saved)
    assert history.model_name == "ResNet-20 (A)" and history.status == "finished"


def test_gradient_norms_survive_the_round_trip_and_old_histories_load_without_them(
        tiny_model, tiny_data):
    history = train(tiny_model(), tiny_data(), record_gradients=4, **TINY)
    copy = History.from_dict(history.to_dict())
    assert copy.grad_steps == [1, 4, 8, 12] and copy.grad_norms == history.grad_norms
    saved_before = {name: value for name, value in history.to_dict().items()
                    if name not in ("grad_steps", "grad_norms")}
    old = History.from_dict(saved_before)
    assert old.grad_steps == [] and old.grad_norms == {} and not old.recorded_gradients


def test_runs_by_net_keeps_each_nets_seeds_together_in_the_order_the_nets_first_ran():
    from resnet_explorer.history import runs_by_net

    runs = [History(model_name=name, config={}, setup={"seed": seed})
            for seed in (0, 1) for name in ("ResNet-56 (A)", "ResNet-56 (A), pre-act")]
    grouped = runs_by_net(runs)
    assert list(grouped) == ["ResNet-56 (A)", "ResNet-56 (A), pre-act"]
    assert [run.setup["seed"] for run in grouped["ResNet-56 (A), pre-act"]] == [0, 1]
    assert runs_by_net([]) == {}
