"""Layer responses, the paper's Fig. 7: std of each 3x3 layer's response, in order and sorted."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import style


def layer_responses_figure(
    results,
    *,
    title: str | None = "Std of layer responses (Fig. 7)",
    subtitle: str | None = None,
    log_y: bool = False,
    show_sorted: bool = True,
    width: int | None = None,
    height: int | None = None,
    large: bool | None = None,
) -> go.Figure:
    """Fig. 7: top panel in layer order, bottom panel sorted by magnitude, one line per net.

    Args:
        results: a ``LayerResponses`` (``resnet_explorer.probes.layer_responses``) or a list of
            them, e.g. for plain-20, plain-56, ResNet-20, ResNet-56 and ResNet-110.

    Plain nets are vermillion, ResNets blue, deeper nets darker. The y values are the stds as
    given; the bottom panel shows the same numbers in descending order. ``log_y`` draws both
    panels on a log scale (the paper's are linear), for nets whose responses grow by orders
    of magnitude, as ResNets without BN do at initialization. ``show_sorted=False`` draws the
    top panel only (for nets of one depth the sorted panel adds little).
    """
    if not isinstance(results, Sequence):
        results = [results]
    look = style.theme(large)
    styles = style.series_styles([result.model_name for result in results])
    rows = 2 if show_sorted else 1
    figure = make_subplots(rows=rows, cols=1, vertical_spacing=0.22)
    for result, series in zip(results, styles):
        name = result.model_name
        std = np.asarray(result.std, dtype=float)
        figure.add_trace(style.per_layer_trace(name, list(result.layer_names), std, series, look, "std"),
                         row=1, col=1)
        if not show_sorted:
            continue
        order = np.argsort(-std, kind="stable")
        figure.add_trace(
            style.per_layer_trace(name, [result.layer_names[i] for i in order], std[order], series, look,
                            "std", showlegend=False),
            row=2, col=1)
    figure.update_layout(**style.base_layout("responses", title, width, height, large, subtitle),
                         legend=style.OUTSIDE_LEGEND)
    figure.update_xaxes(title_text="layer index (original order)", row=1, col=1)
    if show_sorted:
        figure.update_xaxes(title_text="layer index (sorted by magnitude)", row=2, col=1)
    if log_y:
        figure.update_yaxes(title_text="std (log)", **style.log_axis([result.std for result in results]))
    else:
        figure.update_yaxes(title_text="std", rangemode="tozero")
    return figure
