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


def gradient_norms_over_training(
    histories,
    *,
    layers: Sequence[str] | None = None,
    title: str | None = "Gradient norms during training",
    width: int | None = None,
    height: int | None = None,
    large: bool | None = None,
) -> go.Figure:
    """The gradient reaching chosen layers against training steps, one panel per layer, log scale.

    He et al. 2015, Section 4.1: the plain nets are trained with BN, and "the backward propagated
    gradients exhibit healthy norms with BN. So neither forward nor backward signals vanish."
    The norms are those ``train(..., record_gradients=True)`` records: the gradient of the loss
    with respect to each layer's output (see ``gradient_norms.py``).

    Args:
        histories: ``History``s (or one) that recorded gradient norms:
            ``train(..., record_gradients=True)``, as the training race does.
        layers: names in ``history.grad_norms`` (``"stem"``, ``"stage3.block9.conv2"``,
            ``"fc"``); default the first and the last weighted layer.

    Colours as in every figure: plain nets vermillion, ResNets blue, deeper nets darker and solid.
    """
    from plotly.subplots import make_subplots

    if not isinstance(histories, Sequence):
        histories = [histories]
    if not histories:
        raise ValueError("gradient_norms_over_training needs at least one History")
    unrecorded = [history.model_name for history in histories if not getattr(history, "grad_steps", None)]
    if unrecorded:
        raise ValueError(f"{', '.join(unrecorded)} recorded no gradient norms; train with "
                         "record_gradients=True (the training race does)")
    names = list(histories[0].grad_norms)
    layers = [names[0], names[-1]] if layers is None else list(layers)
    for history in histories:
        unknown = [layer for layer in layers if layer not in history.grad_norms]
        if unknown:
            known = list(history.grad_norms)
            raise ValueError(f"{history.model_name} has no layer {', '.join(map(repr, unknown))}; its "
                             f"layers run from {known[0]!r} to {known[-1]!r} (history.grad_norms)")
    look = style.theme(large)
    styles = style.series_styles([history.config or history.model_name for history in histories])
    figure = make_subplots(rows=1, cols=len(layers), shared_yaxes=True, horizontal_spacing=0.04,
                           subplot_titles=[_layer_title(layer, names) for layer in layers])
    for column, layer in enumerate(layers, start=1):
        for history, series in zip(histories, styles):
            figure.add_trace(go.Scatter(
                x=np.asarray(history.grad_steps), y=np.asarray(history.grad_norms[layer], dtype=float),
                mode="lines", name=history.model_name, legendgroup=history.model_name,
                showlegend=column == 1, line=dict(color=series.color, dash=series.dash, width=look.bold_line * 0.6),
                hovertemplate=f"{history.model_name}<br>{layer}<br>step %{{x}}<br>gradient norm %{{y:.3g}}<extra></extra>",
            ), row=1, col=column)
        figure.update_xaxes(title_text="training steps", row=1, col=column)
    values = [trace.y for trace in figure.data]
    figure.update_yaxes(style.log_axis(values))
    figure.update_yaxes(title_text="gradient norm at the layer", row=1, col=1)
    figure.update_layout(**style.base_layout("gradients", title, width, height, large),
                         legend=dict(orientation="h", x=0.0, xanchor="left", y=-0.2, yanchor="top"),
                         hovermode="closest")
    for annotation in figure.layout.annotations:  # the panel titles, as large as axis titles
        annotation.font = dict(size=look.font_size)
    return figure


def _layer_title(layer: str, names: list[str]) -> str:
    """A panel's title: the layer and where it sits ("first layer: stem.conv")."""
    position = {names[0]: "first layer", names[-1]: "last layer"}.get(layer, f"layer {names.index(layer) + 1}"
                                                                      if layer in names else "layer")
    return f"{position}: {layer}"
