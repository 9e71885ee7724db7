"""Parameters and multiply-adds of several models side by side (the paper's Fig. 3 / Table 1 numbers).

The numbers come from ``describe`` (``resnet_explorer.counting``), which counts; this module
only draws them. For example, at 224x224: VGG-19 19.6 billion multiply-adds, plain-34 and
ResNet-34 3.6 billion each (He et al. 2015, Section 3.3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import style


@dataclass(frozen=True)
class ModelCost:
    """What the figure needs of one model."""

    name: str
    params: int
    multiply_adds: int
    input_size: tuple[int, ...] | None = None


def as_model_cost(item) -> ModelCost:
    """Accept a ``ModelDescription`` (from ``describe``), a ``ModelCost``, a dict with ``name``,
    ``params`` and ``multiply_adds``, or a tuple ``(name, params, multiply_adds)``."""
    if isinstance(item, ModelCost):
        return item
    if hasattr(item, "total_params") and hasattr(item, "total_multiply_adds"):
        return ModelCost(item.model_name, int(item.total_params), int(item.total_multiply_adds),
                         tuple(getattr(item, "input_size", ()) or ()) or None)
    if isinstance(item, Mapping) and {"name", "params", "multiply_adds"} <= set(item):
        return ModelCost(str(item["name"]), int(item["params"]), int(item["multiply_adds"]),
                         item.get("input_size"))
    if isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 3:
        return ModelCost(str(item[0]), int(item[1]), int(item[2]))
    raise TypeError(
        "cost_comparison takes describe(model, input_size) results, dicts with name/params/"
        f"multiply_adds, or (name, params, multiply_adds) tuples; got {type(item).__name__}. "
        "To compare models, pass [rx.describe(model, (3, 224, 224)) for model in models]."
    )


def _human(value: float, unit: str) -> str:
    for scale, suffix in ((1e9, " billion"), (1e6, " million"), (1e3, " thousand")):
        if value >= scale:
            return f"{value / scale:.3g}{suffix}{unit}"
    return f"{value:,.0f}{unit}"


def cost_comparison(
    items,
    *,
    names: Sequence[str] | None = None,
    title: str | None = "Parameters and multiply-adds",
    width: int | None = None,
    height: int | None = None,
    large: bool | None = None,
) -> go.Figure:
    """Two bar charts side by side: parameters and multiply-adds per image, one bar per model.

    Args:
        items: ``describe(model, input_size)`` results (or see ``as_model_cost``), in the order
            to draw them (top to bottom).
        names: labels to use instead of the models' own names (e.g. ``"VGG-19"`` for
            torchvision's ``VGG``).

    Plain nets are vermillion, ResNets blue, anything else grey. Bars carry their values.
    """
    costs = [as_model_cost(item) for item in items]
    if names is not None:
        if len(names) != len(costs):
            raise ValueError(f"got {len(names)} names for {len(costs)} models")
        costs = [ModelCost(name, c.params, c.multiply_adds, c.input_size) for name, c in zip(names, costs)]
    if not costs:
        raise ValueError("cost_comparison needs at least one model")
    look = style.theme(large)
    labels = [cost.name for cost in costs][::-1]  # first item on top
    colors = [style.kind_color(style.kind_of(cost.name)) for cost in costs][::-1]
    sizes = {cost.input_size for cost in costs if cost.input_size}
    per_image = "multiply-adds per image"
    if len(sizes) == 1:
        size = sizes.pop()
        per_image += f" ({'×'.join(str(s) for s in size[1:])})" if len(size) == 3 else ""
    figure = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.06,
                           subplot_titles=("parameters", per_image))
    for col, values, unit in ((1, [c.params for c in costs][::-1], ""),
                              (2, [c.multiply_adds for c in costs][::-1], "")):
        figure.add_trace(go.Bar(
            x=values, y=labels, orientation="h", marker_color=colors,
            text=[_human(v, unit) for v in values], textposition="auto",
            textfont=dict(size=look.font_size - 2), insidetextanchor="end",
            hovertemplate="%{y}: %{x:,}<extra></extra>", showlegend=False,
        ), row=1, col=col)
    height = height or int(160 + len(costs) * (70 if style.is_large(large) else 50))
    figure.update_layout(**style.base_layout("costs", title, width, height, large), bargap=0.25)
    figure.update_annotations(font_size=look.font_size)
    figure.update_xaxes(showticklabels=False, showgrid=False, ticks="", rangemode="tozero")
    return figure
