"""Loss-landscape figures: 1-D curves, 2-D contours, 3-D surface."""

import numpy as np
import pytest

from resnet_explorer.figures import style
from resnet_explorer.figures.landscape import (
    landscape_contour_figure,
    landscape_curves_figure,
    landscape_surface_figure,
)
from resnet_explorer.landscape import LossLandscape

X = np.linspace(-1, 1, 5)


def curve(name, scale=1.0):
    return LossLandscape(name, "random", X, None, scale * (X**2 + 0.1), np.clip(X**2, 0, 1), 10, 0)


def grid(name):
    loss = np.add.outer(X**2, X**2) * 500 + 0.05
    return LossLandscape(name, "random", X, X.copy(), loss, np.zeros((5, 5)), 10, 0)


def test_curves_show_loss_and_error_for_each_net_in_its_kind_colour():
    figure = landscape_curves_figure([curve("plain-56"), curve("ResNet-56 (A)", 2)])
    assert [trace.name for trace in figure.data] == ["plain-56", "plain-56", "ResNet-56 (A)", "ResNet-56 (A)"]
    assert figure.data[0].line.color == style.PLAIN_COLOR and figure.data[2].line.color == style.RESIDUAL_COLOR
    assert figure.layout.yaxis.type == "log" and figure.layout.yaxis2.tickformat == ".0%"


def test_contours_share_one_log_scale_and_clip_at_its_ends():
    figure = landscape_contour_figure([grid("plain-56"), grid("ResNet-56 (A)")])
    contours = [trace for trace in figure.data if trace.type == "contour"]
    assert len(contours) == 2 and [c.showscale for c in contours] == [False, True]
    z = np.asarray(contours[0].z)
    assert z.min() == pytest.approx(-1.0)  # 0.05 shown as 0.1, the bottom of the scale
    assert z.max() == pytest.approx(np.log10(1000.05))
    assert (contours[0].zmin, contours[0].zmax) == (-1.0, 2.0)
    np.testing.assert_allclose(np.asarray(contours[0].customdata), grid("x").loss)


def test_the_surface_is_the_log_loss_of_one_grid():
    figure = landscape_surface_figure(grid("ResNet-56 (A)"))
    assert figure.data[0].type == "surface" and figure.layout.scene.zaxis.ticktext[0] == "0.1"


def test_each_figure_refuses_the_other_kind_of_landscape():
    with pytest.raises(ValueError, match="draws 1-D slices"):
        landscape_curves_figure(grid("x"))
    with pytest.raises(ValueError, match="draws 2-D grids"):
        landscape_contour_figure(curve("x"))
    with pytest.raises(ValueError, match="2-D grid"):
        landscape_surface_figure(curve("x"))
