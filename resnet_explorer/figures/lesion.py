"""Lesion-study figures (Veit et al. 2016): error with one block removed, error against the number
of blocks removed or swapped, and the paths of an unrolled ResNet."""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import style
from .variants import variant_styles


def _as_list(results) -> list:
    return list(results) if isinstance(results, Sequence) else [results]


def _short_block_name(name: str) -> str:
    """``"stage2.block3"`` -> ``"2.3"`` for axis ticks."""
    stage, block = name.split(".")
    return f"{stage.removeprefix('stage')}.{block.removeprefix('block')}"


def _chance_line(figure: go.Figure, chance: float, look: style.Theme, **where) -> None:
    figure.add_hline(y=chance, line=dict(color="#777777", width=1.5, dash="dot"),
                     annotation_text=f"chance {chance:.0%}", annotation_position="bottom right",
                     annotation_font_size=look.font_size - 4, **where)


def block_deletion_figure(
    studies,
    *,
    title: str | None = "Test error with one block removed (Veit et al. 2016, Fig. 3)",
    width: int | None = None,
    height: int | None = None,
    large: bool | None = None,
) -> go.Figure:
    """One point per block: the test error of the net with that block alone removed.

    Args:
        studies: a ``LesionStudy`` (``resnet_explorer.lesion_study``) or a list of them, e.g.
            for plain-56 and ResNet-56.

    A thin dashed line marks each net's error intact, a dotted grey line chance. Downsampling
    blocks (the first of stages 2, 3, ...) are marked by a grey band; a plain net cannot run
    without them, so it has no point there.
    """
    studies = _as_list(studies)
    look = style.theme(large)
    styles = style.series_styles([study.model_name for study in studies])
    figure = go.Figure()
    longest = max(studies, key=lambda study: len(study.blocks))
    for index, block in enumerate(longest.blocks, start=1):
        if block.shape_changes:
            figure.add_vrect(x0=index - 0.5, x1=index + 0.5, fillcolor="#BBBBBB", opacity=0.35,
                             line_width=0, layer="below")
    for study, series in zip(studies, styles):
        x = np.arange(1, len(study.blocks) + 1)
        figure.add_trace(go.Scatter(
            x=x, y=study.single_block_error, mode="lines+markers", name=study.model_name,
            legendgroup=study.model_name, connectgaps=False,
            line=dict(color=series.color, dash=series.dash, width=look.bold_line * 0.6),
            marker=dict(size=look.marker_size, color=series.color),
            customdata=np.asarray(study.block_names, dtype=object),
            hovertemplate=f"{study.model_name}<br>without %{{customdata}}: error %{{y:.1%}}<extra></extra>"))
        figure.add_trace(go.Scatter(
            x=[x[0] - 0.5, x[-1] + 0.5], y=[study.base_error] * 2, mode="lines",
            name=f"{study.model_name}, intact", legendgroup=study.model_name, showlegend=False,
            line=dict(color=series.color, width=look.thin_line, dash="dash"),
            hovertemplate=f"{study.model_name} intact: error {study.base_error:.1%}<extra></extra>"))
    _chance_line(figure, max(study.chance_error for study in studies), look)
    names = longest.block_names
    step = max(1, len(names) // 14)
    subtitle = (f"dashed: intact; grey bands: downsampling blocks; {longest.images} test images")
    figure.update_layout(**style.base_layout("curves", title, width, height, large, subtitle),
                         legend=dict(x=0.99, xanchor="right", y=0.55, yanchor="middle"),
                         margin=dict(t=2 * look.title_size + look.font_size + 30))
    figure.update_xaxes(title_text="block removed (stage.block)", tickmode="array",
                        tickvals=np.arange(1, len(names) + 1)[::step],
                        ticktext=[_short_block_name(name) for name in names][::step],
                        range=[0.5, len(names) + 0.5])
    figure.update_yaxes(title_text="test error", tickformat=".0%", range=[0, 1])
    return figure


def lesion_curves_figure(
    studies,
    *,
    title: str | None = "Removing and reordering blocks (Veit et al. 2016, Fig. 4)",
    distinct: bool = False,
    width: int | None = None,
    height: int | None = None,
    large: bool | None = None,
) -> go.Figure:
    """Test error against the number of blocks removed at random (left) and of random swaps of
    two same-shape blocks (right): the mean over the draws, and a band from the lowest to the
    highest draw. Where no study swapped blocks (``max_swaps=0``), only the left panel.

    ``distinct``: each net its own colour (the variants of one net, He 2016, such as a net
    trained with stochastic depth beside the original), instead of one colour per family
    shaded by depth.
    """
    studies = _as_list(studies)
    look = style.theme(large)
    names = [study.model_name for study in studies]
    styles = variant_styles(names) if distinct else style.series_styles(names)
    swapped = any(len(study.swap_counts) > 1 for study in studies)
    panels = ("blocks removed at random", "pairs of blocks swapped")[:2 if swapped else 1]
    figure = make_subplots(rows=1, cols=len(panels), horizontal_spacing=0.1, subplot_titles=panels)
    for study, series in zip(studies, styles):
        _add_mean_and_band(figure, study.removed_counts, study.removed_error, study.model_name, series,
                           look, "removed", row=1, col=1)
        if swapped:
            _add_mean_and_band(figure, study.swap_counts, study.swap_error, study.model_name, series,
                               look, "swaps", row=1, col=2, showlegend=False)
    figure.update_annotations(font_size=look.font_size)  # the panel titles, before the chance labels
    chance = max(study.chance_error for study in studies)
    for column in range(1, len(panels) + 1):
        _chance_line(figure, chance, look, row=1, col=column)
    draws = studies[0].removed_error.shape[1]
    subtitle = f"line: mean of {draws} random draws; band: lowest to highest; {studies[0].images} test images"
    figure.update_layout(**style.base_layout("curves", title, width, height, large, subtitle),
                         legend=dict(x=0.01, xanchor="left", y=0.98, yanchor="top"),
                         margin=dict(t=2 * look.title_size + 3 * look.font_size + 40))
    figure.update_xaxes(title_text="blocks removed", dtick=1, row=1, col=1)
    if swapped:
        figure.update_xaxes(title_text="random swaps", row=1, col=2)
    figure.update_yaxes(tickformat=".0%", range=[0, 1])
    figure.update_yaxes(title_text="test error", row=1, col=1)
    return figure


def removal_figure(
    studies=(),
    *,
    current: dict[str, tuple[int, float]] | None = None,
    title: str | None = "Test error with blocks removed",
    subtitle: str | None = None,
    width: int | None = None,
    height: int | None = None,
    large: bool | None = None,
) -> go.Figure:
    """Test error against the number of blocks removed: the studies' random draws (mean and band)
    and, marked large, the ``current`` lesion of each net, ``{model name: (blocks removed,
    error)}`` (``nan`` error: the net cannot run without one of the removed blocks).
    The lesion explorer draws this."""
    studies = _as_list(studies)
    current = dict(current or {})
    look = style.theme(large)
    names = list(dict.fromkeys([study.model_name for study in studies] + list(current)))
    styles = dict(zip(names, style.series_styles(names)))
    figure = go.Figure()
    for study in studies:
        _add_mean_and_band(figure, study.removed_counts, study.removed_error, study.model_name,
                           styles[study.model_name], look, "removed", opacity=0.5)
    for name, (count, error) in current.items():
        series = styles[name]
        figure.add_trace(go.Scatter(
            x=[count], y=[error], mode="markers", name=f"{name}: these blocks removed",
            marker=dict(size=look.marker_size * 2.2, color=series.color, symbol="diamond",
                        line=dict(width=2, color="black")),
            hovertemplate=f"{name}<br>%{{x}} removed: error %{{y:.1%}}<extra></extra>"))
    chances = [study.chance_error for study in studies]
    if chances:
        _chance_line(figure, max(chances), look)
    largest = max([len(study.removed_counts) - 1 for study in studies] + [count for count, _ in current.values()] + [1])
    figure.update_layout(**style.base_layout("panel", title, width, height, large, subtitle),
                         legend=dict(style.OUTSIDE_LEGEND, font=dict(size=look.font_size - 6)),
                         margin=dict(t=2 * look.title_size + look.font_size + 30))
    figure.update_xaxes(title_text="blocks removed", range=[-0.5, largest + 0.5], dtick=1)
    figure.update_yaxes(title_text="test error", tickformat=".0%", range=[0, 1])
    return figure


def _add_mean_and_band(figure: go.Figure, counts, errors, name: str, series, look: style.Theme,
                       what: str, *, showlegend: bool = True, opacity: float = 1.0, **where) -> None:
    """The mean error over draws against k, and a band from the lowest to the highest draw."""
    counts = np.asarray(counts)
    if len(counts) < 2:
        return
    errors = np.asarray(errors, dtype=float)
    figure.add_trace(go.Scatter(
        x=np.r_[counts, counts[::-1]], y=np.r_[errors.max(1), errors.min(1)[::-1]],
        fill="toself", mode="lines", line=dict(width=0), fillcolor=style.tint(series.color, 0.7),
        opacity=0.6 * opacity, hoverinfo="skip", showlegend=False, legendgroup=name), **where)
    figure.add_trace(go.Scatter(
        x=counts, y=errors.mean(1), mode="lines+markers", name=name, legendgroup=name,
        showlegend=showlegend, opacity=opacity,
        line=dict(color=series.color, dash=series.dash, width=look.bold_line * 0.6),
        marker=dict(size=look.marker_size, color=series.color),
        hovertemplate=f"{name}<br>%{{x}} {what}: mean error %{{y:.1%}}<extra></extra>"), **where)


def path_lengths_figure(
    paths,
    *,
    title: str | None = "The paths of an unrolled ResNet (Veit et al. 2016, Fig. 6)",
    width: int | None = None,
    height: int | None = None,
    large: bool | None = None,
) -> go.Figure:
    """Three panels for one ``PathGradients``: how many paths there are of each length
    (binomial), the gradient one path of each length carries (log scale; band: lowest to
    highest sample), and their product, the total gradient each length contributes."""
    look = style.theme(large)
    color = style.RESIDUAL_COLOR
    n = paths.num_blocks
    lengths = np.asarray(paths.lengths)
    figure = make_subplots(rows=1, cols=3, horizontal_spacing=0.09,
                           subplot_titles=("paths of each length", "gradient through one path",
                                           "total gradient by length"))
    all_lengths = np.arange(n + 1)
    counts = np.array([float(comb(n, k)) for k in all_lengths])
    figure.add_trace(go.Bar(x=all_lengths, y=counts / counts.sum(), marker_color=style.tint(color, 0.3),
                            name="share of paths", showlegend=False,
                            hovertemplate="length %{x}: %{y:.1%} of the paths<extra></extra>"), row=1, col=1)
    norms = np.asarray(paths.gradient_norm, dtype=float)
    figure.add_trace(go.Scatter(
        x=np.r_[lengths, lengths[::-1]], y=np.r_[norms.max(1), norms.min(1)[::-1]], fill="toself",
        mode="lines", line=dict(width=0), fillcolor=style.tint(color, 0.7), opacity=0.6,
        hoverinfo="skip", showlegend=False), row=1, col=2)
    figure.add_trace(go.Scatter(
        x=lengths, y=paths.mean_gradient_norm, mode="lines+markers", showlegend=False,
        line=dict(color=color, width=look.bold_line * 0.6), marker=dict(size=look.marker_size * 0.8),
        hovertemplate="length %{x}: gradient norm %{y:.2e}<extra></extra>"), row=1, col=2)
    total = paths.total_gradient
    figure.add_trace(go.Bar(x=lengths, y=total / total.sum(), marker_color=color, showlegend=False,
                            hovertemplate="length %{x}: %{y:.1%} of the total gradient<extra></extra>"),
                     row=1, col=3)
    low, high = paths.effective_lengths()
    subtitle = (f"{paths.model_name}: {n} blocks; 90% of the gradient comes through paths {low} to "
                f"{high} blocks long; {paths.gradient_norm.shape[1]} sampled paths per length")
    figure.update_layout(**style.base_layout("curves", title, width, height, large, subtitle),
                         bargap=0.1, margin=dict(t=2 * look.title_size + 3 * look.font_size + 40))
    figure.update_annotations(font_size=look.font_size)
    figure.update_xaxes(title_text="path length (blocks)")
    figure.update_yaxes(tickformat=".0%", row=1, col=1)
    figure.update_yaxes(tickformat=".0%", row=1, col=3)
    figure.update_yaxes(row=1, col=2, **style.log_axis([norms.ravel()], min_decades=1))
    return figure
