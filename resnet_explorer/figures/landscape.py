"""Loss-landscape figures (Li et al. 2018): 1-D curves, 2-D contours and a 3-D surface."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import style

#: Loss levels of the contour plots: log10 of the loss, from 0.1 to 100.
LOG_LOSS_RANGE = (-1.0, 2.0)


def _as_list(results) -> list:
    return list(results) if isinstance(results, Sequence) else [results]


def _axis_title(landscape) -> str:
    if landscape.kind == "interpolation":
        return f"interpolation: 0 = {landscape.model_name}, 1 = {landscape.towards_name}"
    return "step along a filter-normalized random direction"


def landscape_curves_figure(
    landscapes,
    *,
    title: str | None = "Loss along a random direction (Li et al. 2018, Section 6)",
    width: int | None = None,
    height: int | None = None,
    large: bool | None = None,
) -> go.Figure:
    """1-D slices: the loss (log scale, left) and the error (right) against the step, one line
    per net (plain vermillion, ResNets blue)."""
    landscapes = _as_list(landscapes)
    if any(landscape.y is not None for landscape in landscapes):
        raise ValueError("landscape_curves_figure draws 1-D slices; draw a grid with "
                         "landscape_contour_figure or landscape_surface_figure")
    look = style.theme(large)
    styles = style.series_styles([landscape.model_name for landscape in landscapes])
    figure = make_subplots(rows=1, cols=2, horizontal_spacing=0.1, subplot_titles=("loss", "error"))
    for landscape, series in zip(landscapes, styles):
        name = landscape.model_name
        for column, values, quantity, fmt in ((1, landscape.loss, "loss", ".3g"),
                                              (2, landscape.error, "error", ".1%")):
            figure.add_trace(go.Scatter(
                x=landscape.x, y=values, mode="lines+markers", name=name, legendgroup=name,
                showlegend=column == 1,
                line=dict(color=series.color, dash=series.dash, width=look.bold_line * 0.6),
                marker=dict(size=look.marker_size * 0.7, color=series.color),
                hovertemplate=f"{name}<br>step %{{x:.2f}}: {quantity} %{{y:{fmt}}}<extra></extra>"),
                row=1, col=column)
    subtitle = f"{landscapes[0].images} images per point; the trained weights are at 0"
    figure.update_layout(**style.base_layout("curves", title, width, height, large, subtitle),
                         legend=dict(x=0.01, xanchor="left", y=0.98, yanchor="top"),
                         margin=dict(t=2 * look.title_size + 3 * look.font_size + 40))
    figure.update_annotations(font_size=look.font_size)
    figure.update_xaxes(title_text=_axis_title(landscapes[0]))
    figure.update_yaxes(row=1, col=1, **style.log_axis([landscape.loss for landscape in landscapes]))
    figure.update_yaxes(row=1, col=2, tickformat=".0%", range=[0, 1])
    return figure


def _log_loss(landscape) -> np.ndarray:
    return np.log10(np.clip(np.asarray(landscape.loss, dtype=float), 10 ** LOG_LOSS_RANGE[0], None))


def _log_colorbar(look: style.Theme) -> dict:
    ticks = np.arange(LOG_LOSS_RANGE[0], LOG_LOSS_RANGE[1] + 1)
    return dict(title=dict(text="loss", side="right"), tickvals=ticks,
                ticktext=[f"{10 ** tick:g}" for tick in ticks], tickfont=dict(size=look.font_size - 4))


def landscape_contour_figure(
    landscapes,
    *,
    title: str | None = "Loss around the trained weights (Li et al. 2018, Fig. 5)",
    width: int | None = None,
    height: int | None = None,
    large: bool | None = None,
) -> go.Figure:
    """2-D grids as contour maps side by side, one per net, on one colour scale of log10(loss)
    from 0.1 to 100 (higher losses share the top colour). The cross marks the trained weights."""
    landscapes = _as_list(landscapes)
    if any(landscape.y is None for landscape in landscapes):
        raise ValueError("landscape_contour_figure draws 2-D grids (directions=2); draw 1-D slices "
                         "with landscape_curves_figure")
    look = style.theme(large)
    figure = make_subplots(rows=1, cols=len(landscapes), horizontal_spacing=0.08,
                           subplot_titles=[landscape.model_name for landscape in landscapes])
    for column, landscape in enumerate(landscapes, start=1):
        figure.add_trace(go.Contour(
            x=landscape.x, y=landscape.y, z=_log_loss(landscape), zmin=LOG_LOSS_RANGE[0],
            zmax=LOG_LOSS_RANGE[1], colorscale="Viridis", showscale=column == len(landscapes),
            contours=dict(start=LOG_LOSS_RANGE[0], end=LOG_LOSS_RANGE[1], size=0.25),
            colorbar=_log_colorbar(look), customdata=landscape.loss, name=landscape.model_name,
            hovertemplate="(%{x:.2f}, %{y:.2f}): loss %{customdata:.3g}<extra></extra>"),
            row=1, col=column)
        figure.add_trace(go.Scatter(x=[0], y=[0], mode="markers", showlegend=False, hoverinfo="skip",
                                    marker=dict(symbol="x", size=look.marker_size * 1.5, color="white",
                                                line=dict(width=2, color="black"))), row=1, col=column)
    subtitle = (f"two filter-normalized random directions, {landscapes[0].images} images per point; "
                "contours every quarter decade of the loss")
    figure.update_layout(**style.base_layout("curves", title, width, height, large, subtitle),
                         margin=dict(t=2 * look.title_size + 3 * look.font_size + 40))
    figure.update_annotations(font_size=look.font_size)
    figure.update_xaxes(title_text="first direction")
    figure.update_yaxes(title_text="second direction", row=1, col=1)
    return figure


def landscape_surface_figure(
    landscape,
    *,
    title: str | None = "The loss surface in 3-D (Li et al. 2018, Fig. 1)",
    width: int | None = None,
    height: int | None = None,
    large: bool | None = None,
) -> go.Figure:
    """One 2-D grid as a surface you can turn with the mouse; height and colour are log10(loss)."""
    if landscape.y is None:
        raise ValueError("landscape_surface_figure draws a 2-D grid (directions=2)")
    look = style.theme(large)
    figure = go.Figure(go.Surface(
        x=landscape.x, y=landscape.y, z=_log_loss(landscape), cmin=LOG_LOSS_RANGE[0],
        cmax=LOG_LOSS_RANGE[1], colorscale="Viridis", colorbar=_log_colorbar(look),
        customdata=landscape.loss, hovertemplate="(%{x:.2f}, %{y:.2f}): loss %{customdata:.3g}<extra></extra>"))
    subtitle = f"{landscape.model_name}, {landscape.images} images per point; drag to turn it"
    ticks = np.arange(LOG_LOSS_RANGE[0], LOG_LOSS_RANGE[1] + 1)
    axis_font, tick_font = dict(size=look.font_size - 6), dict(size=look.font_size - 10)
    figure.update_layout(
        **style.base_layout("responses", title, width, height, large, subtitle),
        scene=dict(xaxis=dict(title=dict(text="first direction", font=axis_font), tickfont=tick_font),
                   yaxis=dict(title=dict(text="second direction", font=axis_font), tickfont=tick_font),
                   zaxis=dict(title=dict(text="loss", font=axis_font), tickfont=tick_font, tickvals=ticks,
                              ticktext=[f"{10 ** t:g}" for t in ticks]),
                   camera=dict(eye=dict(x=1.6, y=1.6, z=1.1))),
        margin=dict(t=2 * look.title_size + 3 * look.font_size + 40))
    return figure
