"""Teacher scenarios: explorers' state saved to JSON and loaded back; bad files get clear errors."""

from __future__ import annotations

import json

import ipywidgets as widgets
import pytest
import torch

from resnet_explorer.widgets.architecture_explorer import VARIANT_CONTROLS, ArchitectureExplorer
from resnet_explorer.widgets.scenarios import (
    Explorer,
    InvalidStateError,
    load_scenario,
    save_scenario,
)


class CountingExplorer(Explorer):
    """The smallest explorer: what the training race explorer will build on."""

    CONTROL_NAMES = ("steps", "rate", "mode", "warmup")

    def __init__(self, steps=100, rate=0.1, mode="fast", warmup=False):
        super().__init__()
        self.refreshes = 0
        self.add_controls({
            "steps": widgets.IntSlider(min=10, max=1000, value=100),
            "rate": widgets.FloatSlider(min=0.001, max=1.0, value=0.1),
            "mode": widgets.Dropdown(options=[("fast run", "fast"), ("full run", "full")], value="fast"),
            "warmup": widgets.Checkbox(value=False),
        })
        self.widget = widgets.VBox(list(self.controls.values()))
        self.set_state({"steps": steps, "rate": rate, "mode": mode, "warmup": warmup})

    def refresh(self):
        self.refreshes += 1


@pytest.fixture
def architecture_explorer():
    images = torch.randn(4, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    return ArchitectureExplorer(depth=8, images=images, labels=torch.arange(4), compare_twin=False)


def test_a_scenario_round_trips_values_and_hidden_controls(tmp_path, architecture_explorer):
    explorer = architecture_explorer
    explorer.set_state({"depth": 14, "shortcut": "none", "batch_norm": False, "init": "xavier"})
    explorer.hide_controls(["depth", "init"])
    path = save_scenario(explorer, tmp_path / "lesson.json")
    saved = json.loads(path.read_text())
    # the He 2016 controls are hidden by default, and a scenario says so
    assert saved["explorer"] == "ArchitectureExplorer" and saved["hidden"] == ["depth", "init", *VARIANT_CONTROLS]

    images = torch.randn(4, 1, 16, 16)
    fresh = ArchitectureExplorer(depth=8, images=images, labels=torch.arange(4), compare_twin=False)
    assert load_scenario(fresh, path) is fresh
    assert fresh.state() == explorer.state()
    assert fresh.controls["depth"].layout.display == "none"
    assert fresh.controls["shortcut"].layout.display is None
    assert "plain-14" in fresh.counts.value


def test_load_scenario_builds_an_explorer_from_its_class(tmp_path):
    path = tmp_path / "race.json"
    path.write_text(json.dumps({"format": "resnet_explorer.scenario", "version": 1,
                                "explorer": "CountingExplorer",
                                "controls": {"steps": 500, "mode": "full"}, "hidden": ["rate"]}))
    explorer = load_scenario(CountingExplorer, path)
    assert explorer.state() == {"controls": {"steps": 500, "rate": 0.1, "mode": "full", "warmup": False},
                                "hidden": ["rate"]}


def test_set_state_refreshes_once_however_many_controls_change():
    explorer = CountingExplorer()
    before = explorer.refreshes
    explorer.set_state({"steps": 200, "rate": 0.5, "warmup": True})
    assert explorer.refreshes == before + 1
    explorer.controls["steps"].value = 300  # a student moving one control
    assert explorer.refreshes == before + 2
    explorer.show_controls("rate")
    explorer.hide_controls("rate")
    assert explorer.hidden_controls() == ["rate"]


@pytest.mark.parametrize(
    "content, message",
    [
        ("this is not json", "is not JSON"),
        (json.dumps([1, 2]), "not a resnet_explorer scenario"),
        (json.dumps({"format": "resnet_explorer.scenario", "version": 7}), "version 7"),
        (json.dumps({"format": "resnet_explorer.scenario", "version": 1, "explorer": "TrainingRace"}),
         "is for TrainingRace, not CountingExplorer"),
        (json.dumps({"format": "resnet_explorer.scenario", "version": 1, "controls": {"speed": 3}}),
         "has no control 'speed'; its controls are steps, rate, mode, warmup"),
        (json.dumps({"format": "resnet_explorer.scenario", "version": 1, "controls": {"steps": 5000}}),
         "steps: 5000 is out of range; allowed: 10 to 1000"),
        (json.dumps({"format": "resnet_explorer.scenario", "version": 1, "controls": {"steps": 2.5}}),
         "must be a whole number"),
        (json.dumps({"format": "resnet_explorer.scenario", "version": 1, "controls": {"mode": "slow"}}),
         "mode: 'slow' is not allowed; allowed: 'fast', 'full'"),
        (json.dumps({"format": "resnet_explorer.scenario", "version": 1, "controls": {"warmup": "yes"}}),
         "allowed: true or false"),
        (json.dumps({"format": "resnet_explorer.scenario", "version": 1, "hidden": ["knob"]}),
         "has no control 'knob'"),
    ],
)
def test_bad_scenario_files_are_rejected_with_a_clear_message(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    explorer = CountingExplorer()
    with pytest.raises(InvalidStateError, match="bad.json") as error:
        load_scenario(explorer, path)
    assert message in str(error.value)
    assert explorer.state()["controls"]["steps"] == 100  # nothing changed


def test_bad_architecture_scenarios_name_the_valid_choices(tmp_path, architecture_explorer):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"format": "resnet_explorer.scenario", "version": 1,
                                "controls": {"depth": 51, "shortcut": "B"}}))
    with pytest.raises(InvalidStateError, match="depth 51 is not 6n\\+2; nearest valid depths are 50 and 56"):
        load_scenario(architecture_explorer, path)
    assert architecture_explorer.controls["shortcut"].value == "A"
    path.write_text(json.dumps({"format": "resnet_explorer.scenario", "version": 1,
                                "controls": {"shortcut": "D"}}))
    with pytest.raises(InvalidStateError, match="allowed: 'A', 'B', 'C', 'none'"):
        load_scenario(ArchitectureExplorer, path)
    with pytest.raises(InvalidStateError, match="does not exist"):
        load_scenario(architecture_explorer, tmp_path / "missing.json")


def test_a_scenario_can_show_the_he_2016_controls_that_are_hidden_by_default(tmp_path):
    images = torch.randn(4, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    explorer = ArchitectureExplorer(depth=8, images=images, labels=torch.arange(4), compare_twin=False)
    assert explorer.hidden_controls() == list(VARIANT_CONTROLS)  # lessons 01-05 see five controls
    path = tmp_path / "identity.json"
    path.write_text(json.dumps({"format": "resnet_explorer.scenario", "version": 1,
                                "explorer": "ArchitectureExplorer",
                                "controls": {"depth": 14, "shortcut_variant": "exclusive_gate",
                                             "stochastic_depth": 0.5},
                                "hidden": ["init", "activation"]}))
    shown = load_scenario(ArchitectureExplorer, path)
    assert shown.hidden_controls() == ["activation", "init"]
    assert shown.model.config.shortcut_variant == "exclusive_gate"
    assert "ResNet-14 (A), exclusive gating, stochastic depth 0.5" in shown.counts.value


def test_a_folder_or_a_deeply_nested_file_is_not_a_scenario(tmp_path):
    with pytest.raises(InvalidStateError, match=f"scenario file {tmp_path} is a folder"):
        load_scenario(CountingExplorer(), tmp_path)
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InvalidStateError, match="nested.json is not JSON .*nested too deeply"):
        load_scenario(CountingExplorer(), nested)
