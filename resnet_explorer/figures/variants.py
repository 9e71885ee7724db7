"""Figures for the variants of one net (He et al. 2016, stochastic depth): each its own colour.

The other figures colour by kind (plain vermillion, ResNets blue) and shade by depth, so five
ResNet-56 variants would share one blue. Here the original net keeps the ResNet blue and every
variant takes the next colour of the colour-blind-safe palette, in the order the nets first
appear. ``race_errors_figure`` shows a race's final errors (mean over seeds, bars from the best
to the worst seed), ``race_curves_figure`` its error curves averaged over seeds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ..history import runs_by_net
from . import style


def variant_styles(labels: Sequence[str]) -> list[style.SeriesStyle]:
    """One style per label: nets without a variant (no tag after a comma) in the ResNet blue,
    plain nets vermillion, every other net its own palette colour; equal labels, equal styles."""
    palette = iter(style.SERIES_COLORS * 4)
    chosen: dict[str, style.SeriesStyle] = {}
    for label in labels:
        if label in chosen:
            continue
        kind = style.kind_of(label)
        if kind == "plain":
            color = style.PLAIN_COLOR
        elif "," not in label and style.RESIDUAL_COLOR not in {s.color for s in chosen.values()}:
            color = style.RESIDUAL_COLOR
        else:
            color = next(palette)
        chosen[label] = style.SeriesStyle(color, "solid", kind)
    return [chosen[label] for label in labels]


def _diverged_note(runs) -> str:
    """``" (diverged: 1 of 3)"`` when some runs diverged: their errors are the last measured."""
    diverged = sum(run.status == "diverged" for run in runs)
    return f" (diverged: {diverged} of {len(runs)})" if diverged else ""


def race_errors_figure(histories, *, title: str | None = "Final errors (mean over seeds; bars: best to worst)",
                       width: int | None = None, height: int | None = None,
                       large: bool | None = None) -> go.Figure:
    """Final training error (hollow) and test error (filled) of each net, one row per net.

    ``histories``: runs of several nets, each with one or more seeds (``ShippedRace.histories``
    or ``rx.compare``'s result). The training error is ``final_train_error`` (eval mode, fixed
    training images), as in lesson 02. A run that diverged keeps the errors last measured before
    it did; its net's label says how many of its seeds diverged.
    """
    nets = runs_by_net(histories)
    labels = list(nets)
    look = style.theme(large)
    styles = variant_styles(labels)
    ticks = [label + _diverged_note(nets[label]) for label in labels]
    figure = go.Figure()
    for label, series in zip(labels, styles):
        runs = nets[label]
        for what, hollow, offset in (("training", True, -0.15), ("test", False, 0.15)):
            values = np.array([run.final_train_error if what == "training" else run.final_test_error
                               for run in runs], dtype=float)
            mean = float(np.nanmean(values))
            figure.add_trace(go.Scatter(
                x=[mean], y=[labels.index(label) + offset], mode="markers", name=f"{label}: {what}",
                legendgroup=what, showlegend=False,
                marker=dict(size=look.marker_size * 1.6, color="white" if hollow else series.color,
                            symbol="circle", line=dict(color=series.color, width=3)),
                error_x=dict(type="data", symmetric=False, array=[np.nanmax(values) - mean],
                             arrayminus=[mean - np.nanmin(values)], color=series.color, thickness=2),
                hovertemplate=(f"{label}<br>{what} error: mean %{{x:.1%}} over {len(values)} seed(s)"
                               f" ({', '.join(f'{v:.1%}' for v in values)})<extra></extra>")))
    for what, hollow in (("training error (eval mode)", True), ("test error", False)):  # the legend's key
        figure.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=what,
                                    marker=dict(size=look.marker_size * 1.6, color="white" if hollow else "#555555",
                                                line=dict(color="#555555", width=3))))
    size = style.figure_size("curves", width, height, large)
    figure.update_layout(
        **style.base_layout("curves", title, width, height or min(size[1], 200 + 80 * len(labels)), large),
        xaxis=dict(title="error", tickformat=".0%", rangemode="tozero"),
        yaxis=dict(tickmode="array", tickvals=list(range(len(labels))), ticktext=ticks,
                   range=[len(labels) - 0.5, -0.5]),  # the first net on top
        legend=dict(orientation="h", x=1.0, xanchor="right", y=1.0, yanchor="bottom",
                    font=dict(size=look.font_size - 4)),
        margin=dict(l=20, t=look.title_size + 2 * look.font_size + 40),
    )
    return figure


def race_curves_figure(histories, *, title: str | None = "Error during training (mean over seeds)",
                       width: int | None = None, height: int | None = None,
                       large: bool | None = None) -> go.Figure:
    """Test error (bold) and eval-mode training error (thin, dashed) at each evaluation step,
    averaged over each net's seeds; each net its own colour."""
    nets = runs_by_net(histories)
    look = style.theme(large)
    figure = go.Figure()
    for (label, runs), series in zip(nets.items(), variant_styles(list(nets))):
        length = min(len(run.eval_steps) for run in runs)
        steps = np.asarray(runs[0].eval_steps[:length])
        for what, values, line in (
                ("test", [run.test_error[:length] for run in runs], dict(width=look.bold_line)),
                ("training", [run.train_subset_error[:length] for run in runs],
                 dict(width=look.thin_line, dash="dash"))):
            mean = np.mean(np.asarray(values, dtype=float), axis=0)
            figure.add_trace(go.Scatter(
                x=steps, y=mean, mode="lines+markers" if length < 3 else "lines", name=label,
                legendgroup=label, showlegend=what == "test", line=dict(color=series.color, **line),
                hovertemplate=f"{label}<br>step %{{x}}<br>{what} error %{{y:.1%}}<extra></extra>"))
    figure.update_layout(
        **style.base_layout("curves", title, width, height, large),
        xaxis_title="training steps (iterations)",
        yaxis=dict(title="error (bold: test; dashed: training)", tickformat=".0%", rangemode="tozero"),
        legend=dict(x=1.0, xanchor="right", y=1.0, yanchor="top", font=dict(size=look.font_size - 6)),
        hovermode="closest",
    )
    return figure
