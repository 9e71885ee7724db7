"""Training curves as the paper's Fig. 6 draws them: training error dashed, test error bold.

Both curves are measured the same way, at the same steps: in eval mode, without augmentation, on
fixed images (``History.train_subset_error`` on a fixed subset of the training images, and
``History.test_error``). So the last point of a dashed curve is exactly the training error a
lesson prints (``History.final_train_error``). The per-batch errors of training (augmented
images, train mode, weights moving) swing by 20-30 points from one step to the next on a brief
run; they are not drawn.

Curves are drawn against training steps (iterations), never wall time: plain nets run a few
percent faster per step than their ResNet twins, so wall time would distort the comparison.
Without an explicit ``width`` a figure takes the width of the notebook's output area.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from . import style

#: What the dashed and the bold lines are: the legend's title in every curves figure.
LINE_KEY = "dashed: training error<br>bold: test error"
#: Marker symbols that tell depths of one family apart (with the shade), deepest first.
_SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "star")
# Above this many evaluations a curve is drawn without markers.
_MAX_MARKED_POINTS = 40


def _key(history) -> dict | str:
    """What decides a history's colour: its config (shortcut, depth), else its model name."""
    config = getattr(history, "config", None)
    return config if config else history.model_name


def _legend_name(history) -> str:
    status = getattr(history, "status", "finished")
    name = history.model_name
    return name if status in ("finished", "running", "") else f"{name} ({status})"


def curve_points(history) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The points of a run's two curves: ``{"train": (steps, errors), "test": (steps, errors)}``.

    Both are read at ``history.eval_steps``; a run that is still training may have appended an
    evaluation to one list and not yet to the other, so each curve stops at the shorter length.
    A widget that grows curves in place reads them here, so it draws what the figure draws.
    """
    points = {}
    for meta, errors in (("train", history.train_subset_error), ("test", history.test_error)):
        count = min(len(history.eval_steps), len(errors))
        points[meta] = (np.asarray(history.eval_steps[:count]), np.asarray(errors[:count], dtype=float))
    return points


def training_curves(
    histories,
    *,
    title: str | None = "Training (dashed) and test (bold) error",
    show_train: bool = True,
    show_test: bool = True,
    width: int | None = None,
    height: int | None = None,
    large: bool | None = None,
) -> go.Figure:
    """Error against training steps for one or several runs, overlaid (the paper's Fig. 6).

    Args:
        histories: a ``History`` (``resnet_explorer.training``) or a list of them; any object
            with ``model_name``, ``config``, ``eval_steps``, ``train_subset_error``, ``test_error``
            and ``status`` works. Earlier runs in the list stay on the figure.
        show_train, show_test: draw the dashed training-error or the bold test-error curves.
        width: pixels; ``None`` (the default) fills the width of the output area, so the figure
            and its legend are never cut off at the right edge.

    Each run has one colour: plain nets vermillion, ResNets blue, deeper nets darker, each depth
    with its own marker. Errors are fractions, shown as percentages on the axis. A run that
    diverged or was stopped says so in the legend. The legend sits right of the plot, inside the
    figure, where it hides no curve; its title says which line is which.
    """
    if not isinstance(histories, Sequence):
        histories = [histories]
    look = style.theme(large)
    styles = style.series_styles([_key(h) for h in histories])
    figure = go.Figure()
    for history, series in zip(histories, styles):
        name = _legend_name(history)
        points = curve_points(history)
        symbol = _SYMBOLS[style.DASHES.index(series.dash) % len(_SYMBOLS)]
        for meta, shown, dash, line_width, what in (
            ("train", show_train, "dash", look.thin_line, "training error"),
            ("test", show_test, "solid", look.bold_line, "test error"),
        ):
            if not shown:
                continue
            steps, errors = points[meta]
            figure.add_trace(go.Scatter(
                x=steps, y=errors, name=name, legendgroup=name,
                showlegend=meta == "test" or not show_test,
                mode="lines+markers" if len(steps) <= _MAX_MARKED_POINTS else "lines",
                line=dict(color=series.color, dash=dash, width=line_width),
                marker=dict(size=look.marker_size, symbol=symbol, color=series.color),
                meta=meta, hovertemplate=f"{name}<br>step %{{x}}<br>{what} %{{y:.1%}} (eval mode)<extra></extra>",
            ))
    layout = style.base_layout("curves", title, width, height, large)
    figure.update_layout(
        **layout,
        xaxis_title="training steps (iterations)",
        yaxis=dict(title="error", tickformat=".0%", rangemode="tozero"),
        legend=dict(style.OUTSIDE_LEGEND, title=dict(text=LINE_KEY, font=dict(size=look.font_size - 2))),
        hovermode="closest",
    )
    return figure
