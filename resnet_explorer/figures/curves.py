"""Training curves in the style of the paper's Fig. 6: training error thin, test error bold.

Curves are drawn against training steps (iterations), never wall time: plain nets run a few
percent faster per step than their ResNet twins, so wall time would distort the comparison.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from . import style


def _key(history) -> dict | str:
    """What decides a history's colour: its config (shortcut, depth), else its model name."""
    config = getattr(history, "config", None)
    return config if config else history.model_name


def _legend_name(history) -> str:
    status = getattr(history, "status", "finished")
    name = history.model_name
    return name if status in ("finished", "running", "") else f"{name} ({status})"


def training_curves(
    histories,
    *,
    title: str | None = "Training (thin) and test (bold) error",
    show_train: bool = True,
    show_test: bool = True,
    width: int | None = None,
    height: int | None = None,
    large: bool | None = None,
) -> go.Figure:
    """Error against training steps for one or several runs, overlaid (Fig. 6 style).

    Args:
        histories: a ``History`` (``resnet_explorer.training``) or a list of them; any object
            with ``model_name``, ``config``, ``steps``, ``train_error``, ``eval_steps``,
            ``test_error`` and ``status`` works. Earlier runs in the list stay on the figure.
        show_train, show_test: draw the thin training-error or bold test-error curves.

    Each run has one colour: plain nets vermillion, ResNets blue, deeper nets darker and solid,
    shallower ones lighter and dashed. Errors are fractions, shown as percentages on the axis.
    A run that diverged or was stopped says so in the legend.
    """
    if not isinstance(histories, Sequence):
        histories = [histories]
    look = style.theme(large)
    styles = style.series_styles([_key(h) for h in histories])
    figure = go.Figure()
    for history, series in zip(histories, styles):
        name = _legend_name(history)
        line = dict(color=series.color, dash=series.dash)
        if show_train:
            figure.add_trace(go.Scatter(
                x=np.asarray(history.steps), y=np.asarray(history.train_error, dtype=float),
                mode="lines", name=name, legendgroup=name, showlegend=not show_test,
                line=dict(color=series.color, width=look.thin_line), opacity=0.85,
                meta="train", hovertemplate=f"{name}<br>step %{{x}}<br>training error %{{y:.1%}}<extra></extra>",
            ))
        if show_test:
            figure.add_trace(go.Scatter(
                x=np.asarray(history.eval_steps), y=np.asarray(history.test_error, dtype=float),
                mode="lines+markers" if len(history.eval_steps) < 3 else "lines",
                name=name, legendgroup=name,
                line=dict(line, width=look.bold_line), marker=dict(size=look.marker_size),
                meta="test", hovertemplate=f"{name}<br>step %{{x}}<br>test error %{{y:.1%}}<extra></extra>",
            ))
    figure.update_layout(
        **style.base_layout("curves", title, width, height, large),
        xaxis_title="training steps (iterations)",
        yaxis=dict(title="error", tickformat=".0%", rangemode="tozero"),
        legend=dict(x=1.0, xanchor="right", y=1.0, yanchor="top"),
        hovermode="closest",
    )
    return figure
