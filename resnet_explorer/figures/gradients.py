"""Gradient flow: how large the gradient is at each layer after one backward pass, on a log scale."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from . import style
from .variants import variant_styles

QUANTITIES = {
    "output": ("layer_names", "output_grad_norm", "gradient norm at each layer"),
    "weight": ("weight_names", "weight_grad_norm", "gradient norm of each weight"),
}


def gradient_flow_figure(
    results,
    *,
    quantity: str = "output",
    title: str | None = "Gradient flow",
    subtitle: str | None = None,
    distinct: bool = False,
    width: int | None = None,
    height: int | None = None,
    large: bool | None = None,
) -> go.Figure:
    """Gradient norm per layer (first layer left, last right), log-scale y, nets overlaid.

    Args:
        results: a ``GradientFlow`` (``resnet_explorer.probes.gradient_flow``) or a list of them.
        quantity: ``"output"`` (gradient with respect to each 3x3 layer's response; the same
            layers as Fig. 7) or ``"weight"`` (gradient of each conv and fc weight).
        distinct: each net its own colour (the variants of one net, He 2016), instead of one
            colour per family shaded by depth.

    A plain net's gradient shrinks (or explodes) towards the first layers; a ResNet's identity
    shortcuts carry it back at a similar size. Zeros cannot be drawn on a log axis and are left out.
    """
    if quantity not in QUANTITIES:
        raise ValueError(f"unknown quantity {quantity!r}; allowed: {', '.join(QUANTITIES)}")
    if not isinstance(results, Sequence):
        results = [results]
    names_field, values_field, axis_title = QUANTITIES[quantity]
    look = style.theme(large)
    names = [result.model_name for result in results]
    styles = variant_styles(names) if distinct else style.series_styles(names)
    figure = go.Figure()
    for result, series in zip(results, styles):
        values = np.asarray(getattr(result, values_field), dtype=float)
        values = np.where(values > 0, values, np.nan)  # log axis: leave zeros out, visibly
        figure.add_trace(style.per_layer_trace(result.model_name, list(getattr(result, names_field)),
                                               values, series, look, "gradient norm"))
    figure.update_layout(
        **style.base_layout("gradients", title, width, height, large, subtitle),
        xaxis_title="layer index (input → output)",
        yaxis=dict(title=axis_title, **style.log_axis([trace.y for trace in figure.data])),
        legend=style.OUTSIDE_LEGEND,
    )
    return figure
