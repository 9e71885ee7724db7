"""Schedules: the paper's recipe, the presets, and what a bad schedule is told."""

import pytest

from resnet_explorer.schedules import (BRIEF_SCHEDULE, FAST_SCHEDULE, Schedule,
                                       resolve_schedule)


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
