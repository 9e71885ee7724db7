"""Shattered-gradients figures: traces stacked by depth, autocorrelation with a depth slider."""

import numpy as np
import pytest

from resnet_explorer.figures import style
from resnet_explorer.figures.shattering import autocorrelation_figure, gradient_traces_figure
from resnet_explorer.shattering import shattered_gradients


@pytest.fixture(scope="module")
def result():
    return shattered_gradients(depths=(2, 10, 24), seeds=(0, 1), points=64, width=32, max_lag=8, progress=False)


def test_traces_are_stacked_by_depth_plain_left_residual_right(result):
    figure = gradient_traces_figure(result)
    assert len(figure.data) == 6
    plain, residual = figure.data[:3], figure.data[3:]
    assert all(trace.line.color == style.PLAIN_COLOR for trace in plain)
    assert all(trace.line.color == style.RESIDUAL_COLOR for trace in residual)
    centres = [np.mean(trace.y) for trace in plain]
    assert centres[0] > centres[1] > centres[2]  # shallow on top
    assert all(np.abs(np.asarray(trace.y) - offset).max() <= 1 + 1e-9
               for trace, offset in zip(plain, (0, -2.4, -4.8)))
    assert list(figure.layout.yaxis.ticktext) == ["depth 2", "depth 10", "depth 24"]


def test_the_depth_slider_shows_one_depths_autocorrelation_at_a_time(result):
    figure = autocorrelation_figure(result)
    slider = figure.layout.sliders[0]
    assert [step.label for step in slider.steps] == ["2", "10", "24"]
    always = 2  # the lag-1 curves of both kinds
    for index, step in enumerate(slider.steps):
        visible = step.args[0]["visible"]
        assert visible[:always] == [True, True]
        assert [v for v in visible[always:]] == [i // 2 == index for i in range(6)]
    lag1 = figure.data[0]
    np.testing.assert_allclose(lag1.y, result.lag1[0].mean(1))
    np.testing.assert_allclose(lag1.error_y.array, result.lag1[0].std(1))
    visible_now = [trace.name for trace in figure.data[always:] if trace.visible]
    assert visible_now == ["plain, depth 24", "residual, depth 24"]
