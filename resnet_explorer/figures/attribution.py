"""Attribution maps over their images, side by side for plain nets and ResNets, and sanity checks.

The figures take results (``resnet_explorer.attribution.Attribution``,
``resnet_explorer.sanity.SanityCheckResult``) and images for display (values in [0, 1], e.g.
``dataset.to_display(images)``); they never run a model.

Colours: evidence *for* the explained class is orange, evidence *against* it (only methods whose
maps carry a sign) purple: the purple-orange scale reads for colour-blind viewers, and it
leaves blue and vermillion to mean ResNet and plain net, as everywhere in this package. Each
map is scaled by its own 99th percentile of absolute values, so one hot pixel cannot wash out
the rest; the maps show *where*, not how much across models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from ..attribution_methods import ATTRIBUTION_METHODS
from . import style

ORANGE = "230,97,1"  # evidence for the class (PuOr's orange)
PURPLE = "94,60,153"  # evidence against it (PuOr's purple)
#: Unsigned maps: transparent where the map is small, orange where it is large.
MAGNITUDE_SCALE = [
    [0.0, f"rgba({ORANGE},0)"],
    [0.15, f"rgba({ORANGE},0)"],
    [0.5, f"rgba({ORANGE},0.55)"],
    [1.0, "rgba(253,184,99,0.95)"],
]
#: Signed maps: purple (against) - transparent (nothing) - orange (for).
SIGNED_SCALE = [
    [0.0, "rgba(178,171,210,0.95)"],
    [0.25, f"rgba({PURPLE},0.75)"],
    [0.43, f"rgba({PURPLE},0)"],
    [0.57, f"rgba({ORANGE},0)"],
    [0.75, f"rgba({ORANGE},0.75)"],
    [1.0, "rgba(253,184,99,0.95)"],
]
CLIP_PERCENTILE = 99.0


def _method_label(method: str) -> str:
    """The method's readable name; a key that is no method (a user's own) is shown as it is."""
    entry = ATTRIBUTION_METHODS.get(method)
    return entry.label if entry else method


def _method_color(method: str, number: int) -> str:
    """The method's line colour (an Okabe-Ito name or a CSS colour), else the next series colour."""
    entry = ATTRIBUTION_METHODS.get(method)
    if entry is None:
        return style.SERIES_COLORS[number % len(style.SERIES_COLORS)]
    return style.OKABE_ITO.get(entry.color, entry.color)


def _display_image(image, index: int = 0) -> np.ndarray:
    """An (H, W, 3) uint8 picture from (H, W), (C, H, W) or (N, C, H, W) values in [0, 1]."""
    pixels = torch.as_tensor(image).detach().cpu().float()
    if pixels.ndim == 4:
        pixels = pixels[index]
    if pixels.ndim == 2:
        pixels = pixels[None]
    if pixels.ndim != 3 or pixels.shape[0] not in (1, 3):
        raise ValueError(
            f"image must be (H, W), (C, H, W) or (N, C, H, W) with 1 or 3 channels and values in "
            f"[0, 1] (e.g. dataset.to_display(images)); got shape {tuple(pixels.shape)}"
        )
    if pixels.min() < -0.01 or pixels.max() > 1.01:
        raise ValueError(
            "image values must be in [0, 1]: pass dataset.to_display(images), not the standardized images"
        )
    pixels = (pixels.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels


def _map_and_sign(attribution, index: int = 0) -> tuple[np.ndarray, bool]:
    """The (H, W) map of one image and whether it is signed."""
    if hasattr(attribution, "maps"):
        return attribution.maps[index].detach().cpu().double().numpy(), bool(attribution.signed)
    values = torch.as_tensor(attribution).detach().cpu().double()
    if values.ndim == 3:
        values = values[index]
    if values.ndim != 2:
        raise ValueError(f"attribution must be an Attribution or an (H, W) map, got shape {tuple(values.shape)}")
    values = values.numpy()
    return values, bool((values < 0).any())


def scaled_map(values: np.ndarray, signed: bool) -> np.ndarray:
    """The map divided by its 99th percentile of absolute values, clipped to [-1, 1] (or [0, 1])."""
    magnitude = np.abs(values)
    scale = np.percentile(magnitude, CLIP_PERCENTILE, method="lower") if magnitude.size else 0.0
    if not np.isfinite(scale) or scale <= 0:
        scale = magnitude.max() if magnitude.size and magnitude.max() > 0 else 1.0
    scaled = values / scale
    return np.clip(scaled, -1.0, 1.0) if signed else np.clip(np.abs(scaled), 0.0, 1.0)


def _overlay_traces(image_pixels: np.ndarray, values: np.ndarray, signed: bool, *, show_scale: bool,
                    name: str, look: style.Theme, colorbar_x: float = 1.02) -> list:
    height, width = values.shape
    if image_pixels.shape[:2] != (height, width):
        raise ValueError(
            f"the map is {height}x{width} but the image is {image_pixels.shape[0]}x{image_pixels.shape[1]}; "
            "pass the image the attribution was computed on"
        )
    dimmed = (image_pixels.astype(np.float32) * 0.75).astype(np.uint8)  # so the colours stand out
    colorbar = dict(
        title=dict(text="evidence", side="right"), x=colorbar_x, len=0.9, thickness=14,
        tickvals=[-1, 0, 1] if signed else [0, 1],
        ticktext=["against", "0", "for"] if signed else ["0", "most"],
        tickfont=dict(size=look.font_size - 4),
    )
    return [
        go.Image(z=dimmed, hoverinfo="skip", name="image"),
        go.Heatmap(
            z=scaled_map(values, signed), zmin=-1 if signed else 0, zmax=1,
            colorscale=SIGNED_SCALE if signed else MAGNITUDE_SCALE, showscale=show_scale,
            colorbar=colorbar if show_scale else None, name=name,
            customdata=values, hovertemplate="x %{x}, y %{y}<br>attribution %{customdata:.3g}<extra></extra>",
        ),
    ]


def _title_on_top(figure: go.Figure) -> go.Figure:
    """Pin the title (and its subtitle) to the top edge, so it never runs into the plots."""
    return figure.update_layout(title=dict(y=1.0, yref="container", yanchor="top", pad=dict(t=12)))


def _class_text(class_names: Sequence[str] | None, index: int) -> str:
    if class_names is not None and 0 <= index < len(class_names):
        return str(class_names[index])
    return f"class {index}"


def attribution_overlay(
    image,
    attribution,
    *,
    index: int = 0,
    class_names: Sequence[str] | None = None,
    label: int | None = None,
    model_name: str | None = None,
    title: str | None = None,
    side_by_side: bool = True,
    width: int | None = None,
    height: int | None = None,
    large: bool | None = None,
) -> go.Figure:
    """One image and its attribution map drawn over it (orange: for the class, purple: against).

    Args:
        image: the picture in [0, 1]: (H, W), (C, H, W), or (N, C, H, W) with ``index``.
        attribution: an ``Attribution`` (its map number ``index``) or an (H, W) map.
        class_names: to name the predicted and explained classes; ``label`` the true class.
        side_by_side: the image alone on the left, the overlay on the right; else only the overlay.
    """
    look = style.theme(large)
    pixels = _display_image(image, index)
    values, signed = _map_and_sign(attribution, index)
    method = getattr(attribution, "label", None) or "attribution"
    columns = 2 if side_by_side else 1
    cell = 330 if style.is_large(large) else 250
    top = 2 * look.title_size + 3 * look.font_size + 20
    width = width or columns * cell + 140
    height = height or cell + top + 20
    lines = []
    if hasattr(attribution, "predicted_class"):
        predicted = int(attribution.predicted_class[index])
        target = int(attribution.target[index])
        lines.append(f"predicts {_class_text(class_names, predicted)} "
                     f"({float(attribution.probability[index]):.0%})")
        if target != predicted:
            lines.append(f"explains {_class_text(class_names, target)} "
                         f"({float(attribution.target_probability[index]):.0%})")
    if label is not None:
        lines.append(f"true: {_class_text(class_names, int(label))}")
    default_title = " · ".join(part for part in (model_name, method) if part)
    figure = make_subplots(rows=1, cols=columns, horizontal_spacing=0.04,
                           subplot_titles=["image", "map over image"] if side_by_side else None)
    if side_by_side:
        figure.add_trace(go.Image(z=pixels, hoverinfo="skip", name="image"), row=1, col=1)
    for trace in _overlay_traces(pixels, values, signed, show_scale=True, name=method, look=look):
        figure.add_trace(trace, row=1, col=columns)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False, scaleanchor="x", autorange="reversed")
    # The info lines go into the title itself: a FigureWidget's first draw can put a separate
    # subtitle on top of the title.
    text = title if title is not None else default_title
    if lines:
        text += (f"<br><span style='font-size:{look.font_size - 2}px;color:#444444'>"
                 f"{' · '.join(lines)}</span>")
    figure.update_layout(**style.base_layout("panel", text, width, height, large),
                         margin=dict(l=10, r=10, t=top, b=10))
    return figure


def attribution_grid(
    images,
    results_by_model_and_method: Mapping[str, Mapping[str, object]],
    *,
    index: int = 0,
    class_names: Sequence[str] | None = None,
    title: str | None = "Where do plain nets and ResNets look?",
    width: int | None = None,
    height: int | None = None,
    large: bool | None = None,
) -> go.Figure:
    """Methods (rows) x models (columns), each map over the same image, plain vs residual.

    Args:
        images: the pictures in [0, 1], (N, C, H, W) (image ``index`` is drawn) or one image.
        results_by_model_and_method: ``{model name: {method: Attribution}}``, e.g. from
            ``attribute_all`` on plain-20 and ResNet-20. Column titles take the kind's colour
            (plain vermillion, ResNet blue); columns keep the dict's order.
    """
    if not results_by_model_and_method:
        raise ValueError("results_by_model_and_method is empty: give {model name: {method: Attribution}}")
    look = style.theme(large)
    pixels = _display_image(images, index)
    models = list(results_by_model_and_method)
    methods: list[str] = []
    for per_method in results_by_model_and_method.values():
        methods += [m for m in per_method if m not in methods]
    rows, columns = len(methods), len(models) + 1
    cell = 190 if style.is_large(large) else 140
    top = 2 * look.title_size + 4 * look.font_size + 10
    width = width or columns * cell + 30 + 6 * look.font_size
    height = height or rows * cell + top + 20
    figure = make_subplots(rows=rows, cols=columns, horizontal_spacing=0.015, vertical_spacing=0.02)
    for row, method in enumerate(methods, start=1):
        figure.add_trace(go.Image(z=pixels, hoverinfo="skip", name="image"), row=row, col=1)
        for column, model in enumerate(models, start=2):
            result = results_by_model_and_method[model].get(method)
            if result is None:
                continue
            values, signed = _map_and_sign(result, index)
            for trace in _overlay_traces(pixels, values, signed, show_scale=False,
                                         name=f"{model} · {_method_label(method)}", look=look):
                figure.add_trace(trace, row=row, col=column)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False, autorange="reversed")
    for axis in range(1, rows * columns + 1):  # square pixels in every cell
        suffix = "" if axis == 1 else str(axis)
        figure.layout[f"yaxis{suffix}"].scaleanchor = f"x{suffix}"

    annotations = []
    for column, name in enumerate(["image", *models]):
        x_domain = figure.layout[f"xaxis{'' if column == 0 else column + 1}"].domain
        color = "#111111" if column == 0 else style.kind_color(style.kind_of(name))
        annotations.append(dict(text=f"<b>{name}</b>", x=(x_domain[0] + x_domain[1]) / 2, y=1.0,
                                xref="paper", yref="paper", xanchor="center", yanchor="bottom", showarrow=False,
                                font=dict(color=color, size=look.font_size - 2)))
    for row, method in enumerate(methods):
        y_domain = figure.layout[f"yaxis{'' if row == 0 else row * columns + 1}"].domain
        annotations.append(dict(text=_method_label(method).replace(" ", "<br>"), x=0.0,
                                y=(y_domain[0] + y_domain[1]) / 2, xref="paper", yref="paper",
                                xanchor="right", align="right", showarrow=False,
                                font=dict(size=look.font_size - 4)))
    subtitle = "orange: evidence for the predicted class · purple: against"
    first = next(iter(results_by_model_and_method[models[0]].values()))
    if hasattr(first, "predicted_class") and class_names is not None:
        predictions = ", ".join(
            f"{model}: {_class_text(class_names, int(r.predicted_class[index]))}"
            for model, per_method in results_by_model_and_method.items()
            for r in list(per_method.values())[:1]
        )
        subtitle += f"<br>predicted: {predictions}"
    figure.update_layout(**style.base_layout("panel", title, width, height, large, subtitle),
                         annotations=annotations,
                         margin=dict(l=10 + look.font_size * 6, r=10, b=10, t=top))
    return _title_on_top(figure)


def sanity_check_figure(
    result,
    *,
    show_spread: bool | None = None,
    title: str | None = "Sanity check: cascading randomization (Adebayo et al. 2018)",
    width: int | None = None,
    height: int | None = None,
    large: bool | None = None,
) -> go.Figure:
    """Rank correlation with the trained model's maps as layers are randomized from the top.

    The first point is the trained model (correlation 1 by definition); each further point
    randomizes one more block (or stage), from ``fc`` down to the stem. A method whose line
    stays high is not explaining the model. ``show_spread`` shades the spread over images (min
    to max); by default only when there are at most three methods, where bands stay readable.
    """
    look = style.theme(large)
    steps = ["trained", *result.step_names]
    x = np.arange(len(steps))
    if show_spread is None:
        show_spread = len(result.methods) <= 3
    figure = go.Figure()
    lowest = -0.2  # the y axis reaches at least this far below 0, and always to the lowest point
    for number, method in enumerate(result.methods):
        color = _method_color(method, number)
        per_image = np.asarray(result.per_image[method], dtype=float)
        mean = np.r_[1.0, np.asarray(result.correlations[method], dtype=float)]
        label = _method_label(method)
        lowest = min(lowest, np.nanmin(mean), np.nanmin(per_image) if show_spread and per_image.size else 0.0)
        if show_spread and per_image.size:
            with np.errstate(all="ignore"):
                low = np.r_[1.0, np.nanmin(per_image, axis=1)]
                high = np.r_[1.0, np.nanmax(per_image, axis=1)]
            figure.add_trace(go.Scatter(
                x=np.r_[x, x[::-1]], y=np.r_[high, low[::-1]], mode="lines", fill="toself",
                fillcolor=style.tint(color, 0.8), line=dict(width=0), hoverinfo="skip",
                showlegend=False, legendgroup=label, opacity=0.6))
        figure.add_trace(go.Scatter(
            x=x, y=mean, mode="lines+markers", name=label, legendgroup=label,
            line=dict(color=color, width=look.bold_line * 0.7),
            marker=dict(size=look.marker_size, color=color),
            customdata=np.asarray(steps, dtype=object),
            hovertemplate=f"{label}<br>randomized down to %{{customdata}}<br>"
                          "rank correlation %{y:.2f}<extra></extra>"))
    kind = "|map|" if result.absolute else "map"
    count = result.per_image[result.methods[0]].shape[1]
    subtitle = (f"{result.model_name}: Spearman correlation of {kind} with the trained model's, "
                f"mean over {count} images" + (" (band: min to max)" if show_spread else ""))
    tick_step = max(1, len(steps) // 16)
    figure.update_layout(**style.base_layout("curves", title, width, height, large, subtitle),
                         legend=style.OUTSIDE_LEGEND)
    figure.update_xaxes(title_text="randomized from the top down to", tickmode="array",
                        tickvals=x[::tick_step], ticktext=steps[::tick_step], tickangle=-40)
    figure.update_yaxes(title_text="rank correlation", range=[lowest - 0.05, 1.05])
    figure.add_hline(y=0, line=dict(color="#999999", width=1, dash="dot"))
    figure.update_layout(margin=dict(t=2 * look.title_size + 2 * look.font_size + 20))
    return _title_on_top(figure)


def sanity_maps_figure(
    images,
    result,
    *,
    index: int = 0,
    max_steps: int = 6,
    title: str | None = "Maps as the model is randomized",
    width: int | None = None,
    height: int | None = None,
    large: bool | None = None,
) -> go.Figure:
    """The maps themselves through the cascade (Adebayo et al. Fig. 2): methods x steps.

    ``images`` are the pictures in [0, 1] the check ran on; ``result`` must have been computed
    with ``keep_maps=True``. At most ``max_steps`` steps are shown, spread over the cascade
    and always including the last (everything random).
    """
    if not result.randomized_maps:
        raise ValueError("this SanityCheckResult has no maps; run cascading_randomization(..., keep_maps=True)")
    look = style.theme(large)
    pixels = _display_image(images, index)
    count = len(result.step_names)
    chosen = sorted({int(round(i)) for i in np.linspace(0, count - 1, min(max_steps, count))})
    headers = ["image", "trained", *(result.step_names[i] for i in chosen)]
    rows, columns = len(result.methods), len(headers)
    cell = 170 if style.is_large(large) else 120
    top = 2 * look.title_size + 3 * look.font_size + 10
    width = width or columns * cell + 40 + 4 * look.font_size
    height = height or rows * cell + top + 20
    figure = make_subplots(rows=rows, cols=columns, horizontal_spacing=0.012, vertical_spacing=0.02,
                           column_titles=headers, row_titles=[_method_label(m) for m in result.methods])
    for row, method in enumerate(result.methods, start=1):
        figure.add_trace(go.Image(z=pixels, hoverinfo="skip", name="image"), row=row, col=1)
        maps = [result.original_maps[method]] + [result.randomized_maps[method][i] for i in chosen]
        for column, tensor in enumerate(maps, start=2):
            values = tensor[index].detach().cpu().double().numpy()
            signed = bool((values < 0).any())
            for trace in _overlay_traces(pixels, values, signed, show_scale=False, name=method, look=look):
                figure.add_trace(trace, row=row, col=column)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False, autorange="reversed")
    figure.update_annotations(font_size=look.font_size - 6)
    figure.update_layout(**style.base_layout("panel", title, width, height, large, result.model_name),
                         margin=dict(l=10, r=10 + 2 * look.font_size, b=10, t=top))
    return _title_on_top(figure)
