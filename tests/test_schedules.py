"""Schedules: the paper's recipe, the presets, and what a bad schedule is told."""

from dataclasses import replace

import pytest

from resnet_explorer.models import build_model
from resnet_explorer.schedules import (BRIEF_SCHEDULE, FAST_SCHEDULE, SCHEDULES, Schedule,
                                       resolve_schedule)
from resnet_explorer.training import train


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
    (dict(steps=0), "steps must be >= 1, got 0"),
    (dict(steps=10, batch_size=0), "batch_size must be >= 1, got 0"),
    (dict(steps=10, lr=-1.0), "lr must be > 0, got -1"),
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


@pytest.mark.parametrize("arguments, message", [
    (dict(steps=10, lr=True), "lr must be a finite number, got True"),
    (dict(steps=10, momentum="0.5"), "momentum must be a finite number, got '0.5'"),
    (dict(steps=10, milestones=5), "milestones must be increasing"),
    (dict(steps=True), "steps must be a whole number, got True"),
])
def test_schedules_refuse_values_that_only_look_right(arguments, message):
    with pytest.raises(ValueError, match=message):
        Schedule(**arguments)


def test_the_paper_schedule_is_section_4_2s():
    paper = SCHEDULES["paper"]
    assert (paper.steps, paper.batch_size, paper.lr, paper.momentum, paper.weight_decay) == (
        64_000, 128, 0.1, 0.9, 1e-4)
    rates = paper.learning_rates(build_model(20, device="cpu"))
    lrs = [rates.at(step) for step in (0, 31_999, 32_000, 47_999, 48_000, 63_999)]
    assert lrs == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    assert paper.eval_size is None  # Table 6: all 10,000 test images


def test_the_paper_warm_up_lasts_until_the_training_error_is_below_80_percent():
    """ResNet-110 (and anything as deep) warms up at 0.01; ResNet-56 does not."""
    paper = SCHEDULES["paper"]
    assert paper.learning_rates(build_model(56, device="cpu")).at(0) == pytest.approx(0.1)
    for shortcut in ("A", "none"):
        rates = paper.learning_rates(build_model(110, shortcut, device="cpu"))
        errors = [0.9] * 300 + [0.6] * 40  # the mean of the last 20 is 0.795 after step 306
        lrs = []
        for step, error in enumerate(errors):
            lrs.append(rates.at(step))
            rates.observe(step, error)
        assert lrs[:307] == pytest.approx([0.01] * 307)
        assert lrs[307:] == pytest.approx([0.1] * 33)
        assert rates.warmup_ended_at == 307


def test_train_follows_a_warm_up_that_ends_on_the_training_error(tiny_model, tiny_data):
    # Every error is below 1.0, so the warm-up ends after its first step, not after 5.
    schedule = Schedule(steps=8, batch_size=16, lr=0.1, milestones=(1.0,), warmup_steps=5,
                        warmup_until_error=1.0, eval_every=8, eval_size=8)
    history = train(tiny_model(), tiny_data(), schedule=schedule, progress=False)
    assert history.lr == pytest.approx([0.01] + [0.1] * 7)
    too_shallow = replace(schedule, warmup_min_depth=20)
    history = train(tiny_model(), tiny_data(), schedule=too_shallow, progress=False)
    assert history.lr == pytest.approx([0.1] * 8)
    fixed = replace(schedule, warmup_until_error=None)
    history = train(tiny_model(), tiny_data(), schedule=fixed, progress=False)
    assert history.lr == pytest.approx([0.01] * 5 + [0.1] * 3)


def test_the_warm_up_fields_leave_the_keys_of_other_schedules_as_they_were():
    assert set(BRIEF_SCHEDULE.as_dict()) == {
        "steps", "batch_size", "lr", "momentum", "weight_decay", "milestones", "warmup_steps",
        "eval_every", "eval_size", "augment"}
    assert SCHEDULES["paper"].as_dict()["warmup_until_error"] == 0.8


@pytest.mark.parametrize("arguments, message", [
    (dict(steps=10, warmup_until_error=1.5), "warmup_until_error is an error rate in \\(0, 1\\]"),
    (dict(steps=10, warmup_until_error=0), "warmup_until_error must be > 0"),
    (dict(steps=10, warmup_min_depth=0), "warmup_min_depth must be >= 1"),
])
def test_bad_warm_up_rules_say_what_is_allowed(arguments, message):
    with pytest.raises(ValueError, match=message):
        Schedule(**arguments)
