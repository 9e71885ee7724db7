"""Shipped races: the JSON loads back as histories, bad files are explained, and a re-run of the
shipped short configuration lands within the noise measured over its seeds."""

from __future__ import annotations

import json

import pytest

import resnet_explorer as rx
from resnet_explorer.shipped_races import RACE_DIR, RaceCheck, load_race, save_race
from resnet_explorer.history import History
from resnet_explorer.schedules import BRIEF_IMAGE_SIZE, BRIEF_SCHEDULE


def test_a_race_round_trips_its_histories_and_check(tmp_path):
    history = History(model_name="ResNet-8 (A)", config={"depth": 8}, setup={"seed": 1}, steps=[1, 2],
                      train_error=[0.5, 0.25], eval_steps=[2], test_error=[0.123456789],
                      train_subset_error=[0.2], status="finished")
    check = RaceCheck({"depth": 8}, {"steps": 2}, [0, 1], [0.2, 0.3], [0.25, 0.35])
    path = save_race(tmp_path / "race.json", "tiny", "a tiny race", "nobody", [history], check=check)
    race = load_race(path)
    assert race.name == "tiny" and race.labels() == ["ResNet-8 (A)"]
    assert race.histories[0].final_test_error == pytest.approx(0.12346)  # rounded to 5 digits
    assert race.select(seed=1) == race.histories and race.select(seed=0) == []
    assert race.check.tolerance(race.check.final_train_errors) == pytest.approx(3 * 0.0707107, rel=1e-3)
    assert race.summary()[0]["test_mean"] == pytest.approx(0.12346)


@pytest.mark.parametrize("content, message", [
    ("not json", "is not JSON"),
    (json.dumps({"format": "something else"}), "is not a shipped race"),
    (json.dumps({"format": "resnet_explorer.race", "version": 9}), "has version 9"),
])
def test_bad_race_files_are_explained(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_race(path)


def test_an_unknown_race_names_the_shipped_ones():
    with pytest.raises(FileNotFoundError, match="no shipped race 'nope'.*shipped: .*identity_mappings"):
        load_race("nope")


def test_the_identity_race_is_what_its_script_says():
    race = load_race("identity_mappings")
    assert (RACE_DIR / "identity_mappings.json").stat().st_size < 2_000_000  # histories only, no weights
    assert race.made_by.startswith("scripts/make_identity_race.py")
    for history in race.histories:
        assert history.status in ("finished", "diverged") and history.config["depth"] >= 56
        assert history.setup["schedule"] == BRIEF_SCHEDULE.as_dict()
        assert history.setup["data"]["image_size"] == BRIEF_IMAGE_SIZE
        assert history.setup["seed"] in (0, 1, 2)
    assert "ResNet-56 (A)" in race.labels() and "ResNet-56 (A), exclusive gating" in race.labels()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_rerun_of_the_shipped_check_lands_within_the_noise_of_its_seeds():
    check = load_race("identity_mappings").check
    assert check is not None and len(check.seeds) >= 3
    data = rx.load_dataset(image_size=BRIEF_IMAGE_SIZE)
    schedule = rx.Schedule(**{**check.schedule, "milestones": tuple(check.schedule["milestones"])})
    seed = check.seeds[0]
    history = rx.compare([check.config], data, seed=seed, schedule=schedule, progress=False)[0]
    assert abs(history.final_train_error - check.final_train_errors[0]) <= check.tolerance(check.final_train_errors)
    assert abs(history.final_test_error - check.final_test_errors[0]) <= check.tolerance(check.final_test_errors)
