"""Shattered-gradients figures (Balduzzi et al. 2017): gradient traces stacked by depth, as in the
paper's Fig. 1, and their autocorrelation against lag with a depth slider."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import style

#: Vertical distance between stacked traces, each scaled to [-1, 1].
SPACING = 2.4
KIND_TITLES = {"plain": "plain nets", "residual": "residual nets"}


def gradient_traces_figure(
    result,
    *,
    seed_index: int = 0,
    title: str | None = "Gradients along a line of inputs, at initialization (Balduzzi et al. 2017, Fig. 1)",
    width: int | None = None,
    height: int | None = None,
    large: bool | None = None,
) -> go.Figure:
    """One trace per depth, stacked from shallow (top) to deep (bottom), plain nets left, ResNets
    right. Each trace is scaled to the same height so their shapes compare: a random walk
    (brown noise) wanders, white noise looks like a comb.

    Args:
        result: a ``ShatteredGradients`` (``resnet_explorer.shattered_gradients``).
        seed_index: which of its seeds to draw.
    """
    look = style.theme(large)
    kinds = list(result.kinds)
    figure = make_subplots(rows=1, cols=len(kinds), shared_yaxes=True, horizontal_spacing=0.04,
                           subplot_titles=[KIND_TITLES.get(kind, kind) for kind in kinds])
    depths = list(result.depths)
    for column, kind in enumerate(kinds, start=1):
        color = style.kind_color(kind)
        for row, depth in enumerate(depths):
            trace = np.asarray(result.gradients[column - 1, row, seed_index], dtype=float)
            centred = trace - trace.mean()
            peak = np.abs(centred).max() or 1.0
            offset = -SPACING * row
            lag1 = result.lag1[column - 1, row, seed_index]
            figure.add_trace(go.Scatter(
                x=result.positions, y=offset + centred / peak, mode="lines",
                line=dict(color=color, width=look.thin_line * 0.8), showlegend=False,
                name=f"{kind}, depth {depth}",
                hovertemplate=f"{KIND_TITLES.get(kind, kind)}, depth {depth}<br>"
                              f"lag-1 correlation {lag1:.2f}<extra></extra>"),
                row=1, col=column)
    subtitle = (f"{result.setting.replace('_', ' ')} nets, seed {result.seeds[seed_index]}; "
                "each trace scaled to the same height; lag-1 correlation on hover")
    figure.update_layout(**style.base_layout("responses", title, width, height, large, subtitle),
                         margin=dict(t=2 * look.title_size + 3 * look.font_size + 40))
    figure.update_annotations(font_size=look.font_size)
    figure.update_xaxes(title_text=result.position_label)
    figure.update_yaxes(tickmode="array", tickvals=[-SPACING * row for row in range(len(depths))],
                        ticktext=[f"depth {depth}" for depth in depths], showgrid=False, zeroline=False)
    return figure


def autocorrelation_figure(
    result,
    *,
    title: str | None = "Autocorrelation of the gradient (Balduzzi et al. 2017, Fig. 2)",
    width: int | None = None,
    height: int | None = None,
    large: bool | None = None,
) -> go.Figure:
    """Left: the correlation at lag 1 against depth, plain and residual, mean over the seeds
    with their spread. Right: the autocorrelation against lag for one depth, chosen with the
    slider under the figure (it works without a kernel, in exported HTML too)."""
    look = style.theme(large)
    kinds = list(result.kinds)
    depths = list(result.depths)
    figure = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                           subplot_titles=("correlation at lag 1", "autocorrelation against lag"))
    for f, kind in enumerate(kinds):
        color = style.kind_color(kind)
        lag1 = result.lag1[f]
        figure.add_trace(go.Scatter(
            x=depths, y=lag1.mean(1), mode="lines+markers", name=KIND_TITLES.get(kind, kind),
            legendgroup=kind, error_y=dict(type="data", array=lag1.std(1), color=color, thickness=2),
            line=dict(color=color, width=look.bold_line * 0.6), marker=dict(size=look.marker_size, color=color),
            hovertemplate=f"{kind}, depth %{{x}}: lag-1 correlation %{{y:.2f}}<extra></extra>"),
            row=1, col=1)
    lags = np.arange(result.autocorrelations.shape[-1])
    always = len(figure.data)
    for d, depth in enumerate(depths):
        for f, kind in enumerate(kinds):
            color = style.kind_color(kind)
            curves = result.autocorrelations[f, d]
            figure.add_trace(go.Scatter(
                x=lags, y=curves.mean(0), mode="lines+markers", name=f"{kind}, depth {depth}",
                legendgroup=kind, showlegend=False, visible=d == len(depths) - 1,
                line=dict(color=color, width=look.bold_line * 0.6), marker=dict(size=look.marker_size * 0.6),
                hovertemplate=f"{kind}, depth {depth}<br>lag %{{x}}: %{{y:.2f}}<extra></extra>"),
                row=1, col=2)
    per_depth = len(kinds)
    steps = []
    for d, depth in enumerate(depths):
        visible = [True] * always + [index // per_depth == d for index in range(len(depths) * per_depth)]
        steps.append(dict(method="restyle", label=str(depth), args=[{"visible": visible}]))
    figure.add_hline(y=0, line=dict(color="#999999", width=1, dash="dot"), row=1, col=2)
    subtitle = (f"{result.setting.replace('_', ' ')} nets at initialization, {len(result.seeds)} seeds, "
                f"{len(result.positions)} points; 1 = brown noise, 0 = white noise")
    figure.update_layout(
        **style.base_layout("curves", title, width, height, large, subtitle),
        legend=dict(x=0.01, xanchor="left", y=0.02, yanchor="bottom"),
        sliders=[dict(active=len(depths) - 1, steps=steps, currentvalue=dict(prefix="depth (right panel): "),
                      pad=dict(t=70), x=0.55, len=0.45, font=dict(size=look.font_size - 4))],
        margin=dict(t=2 * look.title_size + 3 * look.font_size + 40, b=40))
    figure.update_annotations(font_size=look.font_size)
    figure.update_xaxes(title_text="depth", row=1, col=1)
    figure.update_xaxes(title_text="lag (points)", row=1, col=2)
    figure.update_yaxes(range=[-0.4, 1.05])
    return figure
