"""Lesion-study figures: per-block error, error against blocks removed or swapped, path lengths."""

import numpy as np
import pytest
import torch

import resnet_explorer as rx
from resnet_explorer.figures import style
from resnet_explorer.figures.lesion import (
    block_deletion_figure,
    lesion_curves_figure,
    path_lengths_figure,
    removal_figure,
)


@pytest.fixture(scope="module")
def studies():
    generator = torch.Generator().manual_seed(0)
    images, labels = torch.randn(8, 1, 8, 8, generator=generator), torch.randint(0, 10, (8,), generator=generator)
    results = []
    for shortcut in ("none", "A"):
        torch.manual_seed(0)
        model = rx.build_model(20, shortcut, in_channels=1)
        results.append(rx.lesion_study(model, images, labels, max_removed=3, max_swaps=2, draws=2, progress=False))
    return results


def colors(figure):
    return {trace.name: trace.line.color for trace in figure.data if trace.name and trace.mode}


def test_block_deletion_draws_one_point_per_block_in_the_kinds_colours(studies):
    figure = block_deletion_figure(studies)
    lines = [trace for trace in figure.data if trace.mode == "lines+markers"]
    assert [trace.name for trace in lines] == ["plain-20", "ResNet-20 (A)"]
    assert lines[0].line.color == style.PLAIN_COLOR and lines[1].line.color == style.RESIDUAL_COLOR
    assert all(len(trace.x) == 9 for trace in lines)
    assert np.isnan(np.asarray(lines[0].y, dtype=float)[[3, 6]]).all()  # plain: no point at downsampling
    assert len([shape for shape in figure.layout.shapes if shape.type == "rect"]) == 2
    assert list(figure.layout.xaxis.ticktext[:4]) == ["1.1", "1.2", "1.3", "2.1"]
    assert any("chance" in (annotation.text or "") for annotation in figure.layout.annotations)


def test_lesion_curves_have_a_mean_and_a_band_per_net_and_panel(studies):
    figure = lesion_curves_figure(studies)
    means = [trace for trace in figure.data if trace.mode == "lines+markers"]
    bands = [trace for trace in figure.data if trace.fill == "toself"]
    assert len(means) == 4 and len(bands) == 4
    assert list(means[0].x) == [0, 1, 2, 3] and list(means[1].x) == [0, 1, 2]
    np.testing.assert_allclose(means[0].y, studies[0].removed_error.mean(1))
    assert [trace.showlegend for trace in means] == [True, False, True, False]
    look = style.theme(None)
    chance_labels = [a for a in figure.layout.annotations if (a.text or "").startswith("chance")]
    assert len(chance_labels) == 2 and {a.font.size for a in chance_labels} == {look.font_size - 4}
    titles = [a for a in figure.layout.annotations if a.text in ("blocks removed at random", "pairs of blocks swapped")]
    assert {a.font.size for a in titles} == {look.font_size}


def test_lesion_curves_without_swaps_draw_one_panel_and_distinct_colours_per_net():
    images, labels = torch.randn(8, 1, 8, 8), torch.randint(0, 10, (8,))
    results = []
    for options in (dict(), dict(stochastic_depth=0.5)):
        torch.manual_seed(0)
        model = rx.build_model(20, in_channels=1, **options)
        results.append(rx.lesion_study(model, images, labels, max_removed=2, max_swaps=0, draws=2, progress=False))
    figure = lesion_curves_figure(results, distinct=True)
    assert "xaxis2" not in figure.layout and "pairs of blocks swapped" not in [a.text for a in figure.layout.annotations]
    means = [trace for trace in figure.data if trace.mode == "lines+markers"]
    assert [trace.name for trace in means] == ["ResNet-20 (A)", "ResNet-20 (A), stochastic depth 0.5"]
    assert means[0].line.color == style.RESIDUAL_COLOR and means[1].line.color != means[0].line.color
    by_kind = [trace for trace in lesion_curves_figure(results).data if trace.mode == "lines+markers"]
    assert by_kind[0].line.color == by_kind[1].line.color  # without distinct: one family, one depth


def test_removal_figure_marks_the_current_lesion(studies):
    figure = removal_figure(studies, current={"plain-20": (2, 0.8), "ResNet-20 (A)": (2, 0.3)})
    markers = [trace for trace in figure.data if trace.mode == "markers"]
    assert [(trace.x[0], trace.y[0]) for trace in markers] == [(2, 0.8), (2, 0.3)]
    assert markers[0].marker.color == style.PLAIN_COLOR
    assert removal_figure(current={"ResNet-20": (0, 0.1)}).data[0].y == (0.1,)  # without studies


def test_path_lengths_figure_has_the_three_panels_of_veits_fig_6():
    result = rx.PathGradients("ResNet-8 (A)", 3, np.arange(4), np.array([[1.0, 2], [1, 1], [0.5, 0.5], [0.1, 0.2]]),
                              np.array([1.0, 3, 3, 1]), images=4)
    figure = path_lengths_figure(result)
    assert [annotation.text for annotation in figure.layout.annotations][:3] == [
        "paths of each length", "gradient through one path", "total gradient by length"]
    np.testing.assert_allclose(figure.data[0].y, [1 / 8, 3 / 8, 3 / 8, 1 / 8])
    np.testing.assert_allclose(np.sum(figure.data[-1].y), 1.0)
    assert figure.layout.yaxis2.type == "log"
