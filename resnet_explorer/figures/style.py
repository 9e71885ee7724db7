"""One look for every figure: colours, fonts and sizes that read on a classroom projector.

- Colours come from the Okabe-Ito palette, which stays distinct for the common kinds of colour
  blindness. Plain nets are always ``PLAIN_COLOR`` (vermillion) and residual nets always
  ``RESIDUAL_COLOR`` (blue), in every figure; depths within a kind are told apart by shade
  (deeper = darker) and by dash.
- Two plotly templates are registered once, at import: ``"resnet_explorer"`` (laptop screen) and
  ``"resnet_explorer_large"`` (projector: 22 px text, thicker lines). ``set_theme(large=...)``
  chooses which one the figure functions use; the default is the projector theme.
- Every figure gets an explicit height, from ``figure_size(kind)`` unless the caller passes one.
  Its width fills the output area, so that it fits a projector with JupyterLab's side panel
  open (about 840 px at 1280x720), unless the caller passes a width: the widgets do, from
  ``figure_size(kind)``, since a FigureWidget does not resize itself inside widget containers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

#: The Okabe-Ito palette (Okabe & Ito 2008), safe for colour-blind readers.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
}
PLAIN_COLOR = OKABE_ITO["vermillion"]
RESIDUAL_COLOR = OKABE_ITO["blue"]
#: Anything that is neither (VGG-19, a stem, the head): dark grey.
OTHER_COLOR = "#555555"
#: Colours of further series that are neither plain nor residual, in order.
SERIES_COLORS = [OKABE_ITO[name] for name in ("bluish green", "orange", "reddish purple", "sky blue", "black")]
#: Dash styles for the members of one kind (plain or residual), from the deepest (solid) to the shallowest.
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")

#: A legend to the right of the plot, where it cannot hide data.
OUTSIDE_LEGEND = {"x": 1.02, "xanchor": "left", "y": 1.0, "yanchor": "top"}

TEMPLATE = "resnet_explorer"
LARGE_TEMPLATE = "resnet_explorer_large"
FONT_FAMILY = "Liberation Sans, Arial, Helvetica, sans-serif"


@dataclass(frozen=True)
class Theme:
    """Font sizes, line widths and figure sizes of one template."""

    template: str
    font_size: int
    title_size: int
    thin_line: float
    bold_line: float
    marker_size: int
    sizes: Mapping[str, tuple[int, int]]


_THEMES = {
    False: Theme(
        template=TEMPLATE, font_size=14, title_size=18, thin_line=1.5, bold_line=3.5, marker_size=6,
        sizes={"curves": (820, 480), "responses": (820, 620), "gradients": (820, 460),
               "architecture": (1000, 400), "costs": (900, 420), "panel": (560, 420)},
    ),
    True: Theme(
        template=LARGE_TEMPLATE, font_size=22, title_size=26, thin_line=2.5, bold_line=5.0,
        marker_size=9,
        sizes={"curves": (1100, 640), "responses": (1100, 820), "gradients": (1100, 620),
               "architecture": (1120, 480), "costs": (1150, 520), "panel": (530, 520)},
    ),
}
_current = {"large": True}


def _make_template(theme: Theme) -> go.layout.Template:
    axis = dict(
        showline=True, linewidth=2, linecolor="#222222", ticks="outside", tickwidth=2,
        gridcolor="#DDDDDD", zeroline=False, automargin=True,
        title=dict(font=dict(size=theme.font_size)), tickfont=dict(size=theme.font_size - 2),
    )
    return go.layout.Template(
        layout=dict(
            font=dict(family=FONT_FAMILY, size=theme.font_size, color="#111111"),
            title=dict(font=dict(size=theme.title_size), x=0.02, xanchor="left"),
            paper_bgcolor="white",
            plot_bgcolor="white",
            colorway=[RESIDUAL_COLOR, PLAIN_COLOR, *SERIES_COLORS],
            xaxis=axis,
            yaxis=axis,
            legend=dict(font=dict(size=theme.font_size - 2), bgcolor="rgba(255,255,255,0.85)"),
            hoverlabel=dict(font=dict(size=theme.font_size - 2)),
            margin=dict(l=20, r=20, t=90, b=20),
        )
    )


def register_templates() -> None:
    """Register both plotly templates (idempotent; runs once at import)."""
    for theme in _THEMES.values():
        if theme.template not in pio.templates:
            pio.templates[theme.template] = _make_template(theme)


register_templates()


def set_theme(large: bool = True) -> None:
    """Choose the projector theme (``large=True``, the default) or the laptop theme for new figures."""
    _current["large"] = bool(large)


def is_large(large: bool | None = None) -> bool:
    """Whether figures (and explorers) use the projector sizes: ``large``, else the current theme."""
    return _current["large"] if large is None else bool(large)


def theme(large: bool | None = None) -> Theme:
    """The current theme, or the one ``large`` asks for."""
    return _THEMES[is_large(large)]


def figure_size(kind: str, width: int | None = None, height: int | None = None,
                large: bool | None = None) -> tuple[int, int]:
    """``(width, height)`` in pixels for a kind of figure, unless given explicitly."""
    default_width, default_height = theme(large).sizes[kind]
    return int(width or default_width), int(height or default_height)


def base_layout(kind: str, title: str | None, width: int | None, height: int | None,
                large: bool | None = None, subtitle: str | None = None) -> dict:
    """The layout every figure starts from: template, height, a title, and the width if given
    (without one, plotly fits the figure to the output area)."""
    size = figure_size(kind, width, height, large)
    title_spec: dict = {"text": title or ""}
    if subtitle:
        title_spec["subtitle"] = {"text": subtitle, "font": {"size": theme(large).font_size - 2,
                                                             "color": "#444444"}}
    layout = dict(template=theme(large).template, height=size[1], title=title_spec)
    if width is not None:
        layout["width"] = size[0]
    return layout


# ---- kinds (plain or residual) and shades -------------------------------------------------------

_DEPTH_PATTERN = re.compile(r"-(\d+)")


def kind_of(name_or_config) -> str:
    """The kind of net: ``"plain"``, ``"residual"`` or ``"other"``, for a model name, a config dict
    or a ModelConfig. (A model's *family* is ``"cifar"`` or ``"imagenet"``, its ``ModelConfig.family``.)"""
    config = _as_config(name_or_config)
    if config is not None and "shortcut" in config:
        return "plain" if config["shortcut"] == "none" else "residual"
    name = str(name_or_config).lower()
    if name.startswith("plain"):
        return "plain"
    if "resnet" in name:
        return "residual"
    return "other"


def depth_of(name_or_config) -> int | None:
    """The depth in a config, or the number after the first dash in a name ("ResNet-56 (A)")."""
    config = _as_config(name_or_config)
    if config is not None and config.get("depth") is not None:
        return int(config["depth"])
    match = _DEPTH_PATTERN.search(str(name_or_config))
    return int(match.group(1)) if match else None


def _as_config(value) -> dict | None:
    if isinstance(value, Mapping):
        return dict(value)
    if hasattr(value, "as_dict"):
        return value.as_dict()
    return None


def kind_color(kind: str) -> str:
    """The one colour of a kind of net: plain, residual, or grey for anything else."""
    return {"plain": PLAIN_COLOR, "residual": RESIDUAL_COLOR}.get(kind, OTHER_COLOR)


def _mix(color: str, target: str, amount: float) -> str:
    """``color`` moved ``amount`` (0..1) of the way towards ``target``, as a hex string."""
    rgb = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
    goal = [int(target[i:i + 2], 16) for i in (1, 3, 5)]
    mixed = [round(c + (g - c) * amount) for c, g in zip(rgb, goal)]
    return "#" + "".join(f"{value:02X}" for value in mixed)


def shade(color: str, rank: int, count: int) -> str:
    """The shade of ``color`` for member ``rank`` (0 = shallowest) of ``count``: deeper is darker.

    The range stays narrow enough that the lightest shade still reads on a washed-out projector.
    """
    if count <= 1:
        return color
    position = rank / (count - 1)  # 0 lightest .. 1 darkest
    amount = 0.45 * (1 - 2 * position) if position < 0.5 else 0.45 * (2 * position - 1)
    return _mix(color, "#FFFFFF" if position < 0.5 else "#000000", amount)


def tint(color: str, amount: float = 0.8) -> str:
    """A pale version of ``color`` for fills."""
    return _mix(color, "#FFFFFF", amount)


@dataclass(frozen=True)
class SeriesStyle:
    """Colour and dash of one configuration's curves."""

    color: str
    dash: str
    kind: str  # "plain", "residual" or "other"


def series_styles(keys: list) -> list[SeriesStyle]:
    """One style per configuration: its kind's colour, shaded and dashed by depth rank.

    ``keys`` are model names or config dicts. Within a kind the deepest net is the darkest and
    solid, shallower nets lighter and dashed; equal depths (e.g. shortcut A and B) share a shade
    and differ by dash. Configurations of neither kind take the remaining palette colours.
    """
    kinds = [kind_of(key) for key in keys]
    depths = [depth_of(key) or 0 for key in keys]
    styles: list[SeriesStyle | None] = [None] * len(keys)
    other_index = 0
    for kind in ("plain", "residual", "other"):
        members = [i for i, k in enumerate(kinds) if k == kind]
        if kind == "other":
            for i in members:
                color = SERIES_COLORS[other_index % len(SERIES_COLORS)]
                styles[i] = SeriesStyle(color, DASHES[(other_index // len(SERIES_COLORS)) % len(DASHES)],
                                        kind)
                other_index += 1
            continue
        distinct = sorted({depths[i] for i in members})
        order = sorted(members, key=lambda i: (-depths[i], i))  # deepest first -> solid
        for dash_rank, i in enumerate(order):
            color = shade(kind_color(kind), distinct.index(depths[i]), len(distinct))
            styles[i] = SeriesStyle(color, DASHES[dash_rank % len(DASHES)], kind)
    return styles  # type: ignore[return-value]


def log_axis(values, min_decades: float = 2.0, max_labels: int = 7) -> dict:
    """A log y axis labelled at powers of ten only, spanning at least ``min_decades``.

    Without a minimum span, values that are all about 1 (BN outputs) would fill the plot and
    their differences in the fifth digit would look like a collapse; without a label step,
    plotly would label 2s and 5s between the powers of ten.
    """
    values = np.concatenate([np.ravel(np.asarray(v, dtype=float)) for v in values]) if values else np.array([])
    values = values[np.isfinite(values) & (values > 0)]
    axis = dict(type="log", exponentformat="power", dtick=1)
    if values.size:
        low, high = np.log10(values.min()), np.log10(values.max())
        if high - low < min_decades:
            middle = (high + low) / 2
            low, high = middle - min_decades / 2, middle + min_decades / 2
        padding = 0.05 * (high - low)
        axis["range"] = [low - padding, high + padding]
        axis["dtick"] = max(1, int(np.ceil((high - low) / (max_labels - 1))))
    return axis


def per_layer_trace(name: str, layer_names: list[str], values, series: SeriesStyle,
                    look: Theme, quantity: str, **trace_options) -> go.Scatter:
    """One net's values against layer index (1 = first layer), layer names on hover."""
    values = np.asarray(values, dtype=float)
    return go.Scatter(
        x=np.arange(1, len(values) + 1), y=values, customdata=np.asarray(layer_names, dtype=object),
        mode="lines+markers", name=name, legendgroup=name,
        line=dict(color=series.color, dash=series.dash, width=look.bold_line * 0.7),
        marker=dict(size=look.marker_size * 0.8, color=series.color),
        hovertemplate=f"{name}<br>layer %{{x}}: %{{customdata}}<br>{quantity} %{{y:.3g}}<extra></extra>",
        **trace_options,
    )
