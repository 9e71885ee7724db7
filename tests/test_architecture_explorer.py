"""The architecture explorer: controls rebuild the net and update the same FigureWidgets in place."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from resnet_explorer import probes
from resnet_explorer.figures.live import LiveFigureWidget
from resnet_explorer.widgets.architecture_explorer import (
    DEPTHS,
    ArchitectureExplorer,
    probe_training_step,
    responses_at_initialization,
    use_batch_statistics,
)
from resnet_explorer.widgets.scenarios import InvalidStateError
from resnet_explorer.models import build_model


def _batch(n=8, channels=1, side=16):
    generator = torch.Generator().manual_seed(0)
    return torch.randn(n, channels, side, side, generator=generator), torch.arange(n) % 10


@pytest.fixture
def explorer():
    images, labels = _batch()
    return ArchitectureExplorer(depth=20, images=images, labels=labels)


def _block_boxes(explorer):
    return next(trace for trace in explorer.diagram.data if trace.name == "block boxes")


def test_depth_slider_stops_only_on_6n_plus_2():
    assert DEPTHS[0] == 8 and DEPTHS[-1] == 110
    assert all((depth - 2) % 6 == 0 for depth in DEPTHS)


def test_the_first_draw_fills_every_figure_and_shows_the_counts(explorer):
    assert explorer.errors == []
    assert "ResNet-20 (A)" in explorer.counts.value and "269,722" in explorer.counts.value
    assert len(explorer.gradients.data) == 2  # the net and its plain twin
    assert len(explorer.responses.data) == 2  # layer order only
    assert "updated in" in explorer.status.value


def test_moving_the_depth_slider_updates_the_same_figure_widgets_in_place(explorer):
    figures = dict(explorer.figures)
    diagram_boxes = _block_boxes(explorer)
    gradient_trace = explorer.gradients.data[0]
    before = np.array(gradient_trace.y)

    explorer.controls["depth"].value = 56

    assert all(explorer.figures[name] is figure for name, figure in figures.items())
    assert _block_boxes(explorer) is diagram_boxes  # same trace object, new arrays
    assert sum(x is None for x in diagram_boxes.x) == 27
    assert explorer.gradients.data[0] is gradient_trace
    assert len(gradient_trace.y) == 55 != len(before)  # 6n+1 layers of ResNet-56
    assert "853,018" in explorer.counts.value  # Table 6
    assert explorer.model.config.depth == 56


def test_shortcut_batch_norm_and_activation_controls_rebuild_the_net(explorer):
    explorer.controls["shortcut"].value = "B"
    assert "272,474" in explorer.counts.value  # ResNet-20 with option B
    projections = next(t for t in explorer.diagram.data if t.name.startswith("projection"))
    assert sum(x is None for x in projections.x) == 2
    explorer.controls["shortcut"].value = "none"
    assert explorer.gradients.data[0].name == "plain-20" and explorer.gradients.data[1].name == "ResNet-20 (A)"
    explorer.controls["batch_norm"].value = False
    explorer.controls["activation"].value = "tanh"
    assert explorer.model.config.norm == "none" and explorer.model.config.activation == "tanh"
    assert "no BN" in explorer.counts.value and explorer.errors == []


def test_set_state_checks_every_value_then_refreshes_once(explorer, monkeypatch):
    calls = []
    monkeypatch.setattr(explorer, "refresh", lambda: calls.append(1))
    explorer.set_state({"depth": 32, "shortcut": "C", "preact": True})
    assert calls == [1]
    with pytest.raises(InvalidStateError, match="depth 21 is not 6n\\+2; nearest valid depths are 20 and 26"):
        explorer.set_state({"shortcut": "A", "depth": 21})
    assert explorer.controls["shortcut"].value == "C"  # nothing was set
    with pytest.raises(InvalidStateError, match="out of range"):
        explorer.set_state({"depth": 116})


def test_a_failing_probe_shows_one_readable_line_and_the_rest_still_updates(explorer, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("hook exploded")

    monkeypatch.setattr(probes, "gradient_flow", broken)
    explorer.controls["depth"].value = 32
    assert explorer.errors == ["the probes failed: RuntimeError: hook exploded"]
    assert "the probes failed: RuntimeError: hook exploded" in explorer.status.value
    assert "Traceback" not in explorer.status.value
    assert "464,154" in explorer.counts.value  # counts and diagram were still updated
    assert sum(x is None for x in _block_boxes(explorer).x) == 15
    assert len(explorer.gradients.data) == 0 and "failed" in explorer.gradients.layout.title.text
    monkeypatch.undo()
    explorer.controls["depth"].value = 20  # the next change draws again
    assert explorer.errors == [] and len(explorer.gradients.data) == 2


def test_without_labels_the_gradient_panel_says_what_to_pass():
    images, _ = _batch()
    explorer = ArchitectureExplorer(depth=8, images=images, compare_twin=False)
    assert any("pass labels=" in message for message in explorer.errors)
    assert len(explorer.responses.data) == 1 and len(explorer.gradients.data) == 0


def test_default_images_come_from_the_shipped_dataset():
    explorer = ArchitectureExplorer(depth=8, compare_twin=False)
    assert explorer.batch.images.shape == (16, 1, 16, 16)
    assert explorer.errors == []
    assert "fashion-mnist-mini" in explorer.status.value


def test_the_explorer_displays_as_a_vbox_and_its_figures_have_explicit_sizes(explorer):
    assert explorer.widget.children  # a VBox
    assert "application/vnd.jupyter.widget-view+json" in explorer._repr_mimebundle_()
    for figure in explorer.figures.values():
        assert isinstance(figure, LiveFigureWidget)  # several per page without freezing
        assert figure.layout.width and figure.layout.height


def test_one_training_pass_gives_the_responses_layer_responses_gives_with_batch_statistics():
    images, labels = _batch(16)
    for norm in ("batch", "none"):
        torch.manual_seed(1)
        model = build_model(20, in_channels=1, norm=norm)
        flow, responses = probe_training_step(model, images, labels)
        assert responses.layer_names == flow.layer_names
        reference = responses_at_initialization(model, images)
        np.testing.assert_allclose(responses.std, reference.std, rtol=0.02)


def test_use_batch_statistics_makes_eval_mode_normalize_like_a_training_step():
    images, _ = _batch(16)
    model = build_model(20, in_channels=1)
    momentum = model.stem.bn.momentum
    use_batch_statistics(model, images)
    assert model.stem.bn.momentum == momentum and model.training
    responses = probes.layer_responses(model, images)
    np.testing.assert_allclose(responses.std, 1.0, atol=0.05)  # BN outputs, gamma = 1


def test_the_he_2016_controls_are_hidden_until_asked_for_and_build_the_variant(explorer):
    assert explorer.hidden_controls() == ["shortcut_variant", "activation_order", "stochastic_depth"]
    explorer.show_controls(["shortcut_variant", "stochastic_depth"])
    explorer.set_state({"shortcut_variant": "exclusive_gate", "stochastic_depth": 0.5})
    assert explorer.errors == []
    assert explorer.model.config.name == "ResNet-20 (A), exclusive gating, stochastic depth 0.5"
    assert "283,626" in explorer.counts.value  # 269,722 + the nine gates: 3*272 + 544 + 2*1056 + 2112 + 2*4160
    # the twin of a variant is the original ResNet, not the plain net
    assert [trace.name for trace in explorer.gradients.data] == [explorer.model.config.name, "ResNet-20 (A)"]
    marks = next(trace for trace in explorer.diagram.data if trace.name == "shortcut marks")
    assert list(marks.text) == ["1−g"] * 9
    survival = next(trace for trace in explorer.diagram.data if trace.name == "survival")
    assert survival.text[-1] == "0.50"


def test_the_probes_of_a_stochastic_depth_net_are_the_same_for_the_same_settings():
    images, labels = _batch()
    first = ArchitectureExplorer(depth=20, images=images, labels=labels, stochastic_depth=0.5, variants=True)
    state = torch.random.get_rng_state()
    second = ArchitectureExplorer(depth=20, images=images, labels=labels, stochastic_depth=0.5, variants=True)
    assert torch.equal(state, torch.random.get_rng_state())  # the user's random numbers are left alone
    assert np.array_equal(first.gradients.data[0].y, second.gradients.data[0].y, equal_nan=True)


def test_a_combination_that_makes_no_sense_is_one_readable_line(explorer):
    explorer.set_state({"preact": True, "activation_order": "relu_before_add"})
    assert any("preact=True is activation_order='full_preact'" in error for error in explorer.errors)
    assert "Traceback" not in explorer.status.value
    explorer.set_state({"preact": False, "shortcut": "none"})
    assert any("a plain net (shortcut='none') has no addition" in error for error in explorer.errors)
    with pytest.raises(InvalidStateError, match="stochastic_depth: 0.3 is not allowed; allowed: 1.0, 0.8"):
        explorer.set_state({"stochastic_depth": 0.3})


@pytest.mark.parametrize("threads", [0, -2, 2.5, False])
def test_threads_must_be_a_positive_whole_number(threads):
    with pytest.raises(ValueError, match="threads must be"):
        ArchitectureExplorer(depth=8, threads=threads)


def test_nan_or_empty_probe_images_are_reported_not_drawn():
    images, labels = _batch()
    images[2] = float("nan")
    explorer = ArchitectureExplorer(depth=8, images=images, labels=labels, compare_twin=False)
    assert any("1 of the 8 images contain NaN" in message for message in explorer.errors)
    assert "updated in" not in explorer.status.value
    empty = ArchitectureExplorer(depth=8, images=images[:0], labels=labels[:0], compare_twin=False)
    assert any("empty batch" in message for message in empty.errors)
