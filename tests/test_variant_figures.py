"""Figures of a net's variants: each its own colour, the race's errors and curves, the diagram's marks."""

from __future__ import annotations

import numpy as np
import pytest

import resnet_explorer as rx
from resnet_explorer.figures import style
from resnet_explorer.figures.architecture import TRACE_NAMES
from resnet_explorer.figures.variants import race_curves_figure, race_errors_figure, variant_styles
from resnet_explorer.history import History


def _run(label: str, seed: int, train: float, test: float) -> History:
    return History(model_name=label, config={"depth": 56}, setup={"seed": seed}, steps=[100, 200],
                   train_error=[0.5, train], eval_steps=[100, 200], test_error=[0.6, test],
                   train_subset_error=[0.55, train], status="finished")


RUNS = [_run("ResNet-56 (A)", seed, 0.2 + seed / 100, 0.22) for seed in range(3)] + \
       [_run("ResNet-56 (A), exclusive gating", seed, 0.3, 0.32 + seed / 100) for seed in range(3)]


def test_the_original_keeps_the_resnet_blue_and_each_variant_gets_its_own_colour():
    labels = ["ResNet-56 (A)", "ResNet-56 (A), exclusive gating", "ResNet-56 (A), pre-act", "plain-56",
              "ResNet-56 (A)"]
    colours = [s.color for s in variant_styles(labels)]
    assert colours[0] == colours[4] == style.RESIDUAL_COLOR and colours[3] == style.PLAIN_COLOR
    assert len(set(colours[:4])) == 4


def test_race_errors_show_the_mean_over_seeds_with_bars_to_the_best_and_worst():
    figure = race_errors_figure(RUNS)
    points = {trace.name: trace for trace in figure.data if trace.x[0] is not None}
    original = points["ResNet-56 (A): training"]
    assert original.x[0] == pytest.approx(0.21)
    assert original.error_x.array[0] == pytest.approx(0.01) and original.error_x.arrayminus[0] == pytest.approx(0.01)
    assert points["ResNet-56 (A), exclusive gating: test"].x[0] == pytest.approx(0.33)
    assert list(figure.layout.yaxis.ticktext) == ["ResNet-56 (A)", "ResNet-56 (A), exclusive gating"]


def test_race_curves_average_the_seeds_at_each_evaluation():
    figure = race_curves_figure(RUNS)
    test_curve = next(trace for trace in figure.data if trace.name == "ResNet-56 (A), exclusive gating"
                      and trace.showlegend)
    assert list(test_curve.y) == pytest.approx([0.6, 0.33])


def test_the_diagram_marks_every_variant_and_keeps_its_traces_in_one_order():
    for variant, shortcut_mark, branch_mark in (("scale_shortcut", "×½", None), ("scale_both", "×½", "×½"),
                                                ("exclusive_gate", "1−g", "g"), ("dropout_shortcut", "drop", None)):
        figure = rx.figures.architecture_diagram(dict(depth=20, shortcut_variant=variant))
        assert tuple(trace.name for trace in figure.data) == TRACE_NAMES
        marks = {trace.name: list(trace.text) for trace in figure.data if trace.name.endswith("marks")}
        assert marks["shortcut marks"] == [shortcut_mark] * 9
        assert marks["branch marks"] == ([branch_mark] * 9 if branch_mark else [])
    conv = rx.figures.architecture_diagram(dict(depth=20, shortcut_variant="conv_shortcut"))
    arcs = next(trace for trace in conv.data if trace.name.startswith("1×1 conv shortcut"))
    assert sum(x is None for x in arcs.x) == 7 and arcs.line.dash == "dashdot"  # 9 blocks, 2 zero-padded
    survival = next(trace for trace in rx.figures.architecture_diagram(dict(depth=20, stochastic_depth=0.5)).data
                    if trace.name == "survival")
    assert list(survival.text) == [f"{1 - (i + 1) / 9 * 0.5:.2f}" for i in range(9)]
    order = rx.figures.architecture_diagram(dict(depth=20, activation_order="bn_after_add"))
    assert "BN after addition: F = conv-BN-ReLU-conv, after ⊕: BN-ReLU" in order.layout.title.text


def test_gradient_flow_figure_can_give_each_variant_its_own_colour():
    flows = [rx.GradientFlow(name, ["stem", "stage1.block1.conv1"], np.array([1.0, 0.5]), [], np.array([]), 2.3)
             for name in ("ResNet-56 (A)", "ResNet-56 (A), shortcut scaled 0.5")]
    shaded = rx.figures.gradient_flow_figure(flows)
    distinct = rx.figures.gradient_flow_figure(flows, distinct=True)
    assert shaded.data[0].line.color == shaded.data[1].line.color
    assert distinct.data[0].line.color != distinct.data[1].line.color


def test_a_net_whose_runs_diverged_says_so_on_its_label():
    diverged = _run("ResNet-56 (A), 1x1 conv shortcut", 0, 0.35, 0.36)
    diverged.status = "diverged"
    figure = race_errors_figure(RUNS + [diverged])
    assert figure.layout.yaxis.ticktext[-1] == "ResNet-56 (A), 1x1 conv shortcut (diverged: 1 of 1)"
