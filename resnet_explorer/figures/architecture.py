"""A diagram of a ResNet or plain net: the paper's Fig. 3, folded into one row per stage.

Boxes are the first layer, every block and the head; arcs over the blocks are the shortcuts:
solid for identity shortcuts, dotted for option A's zero-padding shortcut where the shape
changes, dashed for projection shortcuts (options B and C), as the paper's Fig. 3 draws the
shortcuts that change dimensions. A plain net has no arcs. The variants of He et al. 2016 are
drawn on the arcs and boxes: the factor on each shortcut (×½, 1−g, drop) over its arc, the factor
on each branch (×½, g) at the box's corner, 1x1 conv shortcuts dash-dotted; with stochastic depth,
each block's survival probability under its box; the activation order in the subtitle.

The figure always has the same traces in the same order (whatever the depth), so a widget can
update a FigureWidget in place when the depth or shortcut changes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go

from ..blocks import Layer
from ..layout import BlockLayout
from ..models import ModelConfig
from ..options import ACTIVATION_ORDERS, SHORTCUT_KINDS, SHORTCUT_VARIANTS, SHORTCUTS
from . import style

# The axes are in pixels (x right, y down from the top of the plot area), so that boxes fit their
# text at any depth. Blocks get a slot of at most MAX_SLOT pixels; long stages wrap.
MAX_SLOT = 230
BLOCKS_PER_ROW = 18
ROW_SPACING = 34  # between a box's bottom and the next row's arcs
MARGIN_TOP = 135  # title, subtitle and legend
MARGIN_SIDE = 20
TITLE_CHARACTERS = 95  # the longest title that fits the figure's width at projector sizes

#: Legend names of the shortcut arcs, one trace per kind of shortcut (``options.SHORTCUT_KINDS``).
SHORTCUT_NAMES = [kind.legend for kind in SHORTCUT_KINDS.values()]
#: The markers where a block joins branch and shortcut: ⊕ for an addition, ◇ for a concatenation.
MERGE_MARKERS = {"add": ("additions", "circle-cross"), "concatenate": ("concatenations", "diamond")}
#: Trace names, in the figure's fixed order (the same for every architecture).
TRACE_NAMES = ("path", "layer boxes", "block boxes", *SHORTCUT_NAMES,
               *(name for name, _ in MERGE_MARKERS.values()), "labels", "row labels",
               "shortcut marks", "branch marks", "survival")


def _as_config(model_or_config) -> ModelConfig:
    """A ``ModelConfig`` from a model, a config, or a dict of ``build_model`` arguments."""
    config = getattr(model_or_config, "config", model_or_config)
    if isinstance(config, ModelConfig):
        return config
    if isinstance(config, Mapping):
        return ModelConfig(**config)  # validates, with the builder's own error messages
    raise TypeError("architecture_diagram needs a model from build_model(), its ModelConfig, or "
                    f"a dict of build_model arguments; got {type(model_or_config).__name__}")


def _layer_text(layer: Layer, say_conv: bool = False) -> str:
    """``"3×3, 16, /2"`` for a conv (``"3×3 conv, 16"`` with ``say_conv``), ``"2×2 avg pool, /2"``."""
    size = f"{layer.kernel}×{layer.kernel}"
    halves = ", /2" if layer.stride == 2 else ""
    if layer.kind != "conv":
        return f"{size} {layer.kind}{halves}"
    return f"{size}{' conv' if say_conv else ''}, {layer.filters}{halves}"


def _box(x0: float, x1: float, y0: float, y1: float) -> tuple[list, list]:
    return [x0, x1, x1, x0, x0, None], [y0, y0, y1, y1, y0, None]


def _shortcut_path(x0: float, x1: float, y_base: float, y_top: float, radius: float) -> tuple[list, list]:
    """Up from (x0, y_base), across at ``y_top`` with rounded corners, down to (x1, y_base).

    The y axis points down (pixels from the top), so "up" is towards smaller y.
    """
    turn = np.linspace(0.0, np.pi / 2, 7)
    xs = [x0, *(x0 + radius - radius * np.cos(turn)), *(x1 - radius + radius * np.sin(turn)), x1, None]
    ys = [y_base, *(y_top + radius - radius * np.sin(turn)), *(y_top + radius - radius * np.cos(turn)),
          y_base, None]
    return xs, ys


def _title(config: ModelConfig, blocks: tuple[BlockLayout, ...]) -> str:
    main = [block for block in blocks if block.type != "transition"]
    per_block = max(len(block.layers) for block in main)
    transitions = len(blocks) - len(main)
    extra = f" (and {transitions} transitions)" if transitions else ""
    layers = per_block * len(main) + 2
    title = f"{config.name}: 1 + {len(main)} {main[0].type} blocks × {per_block} + 1 = {layers} layers{extra}"
    if len(title) > TITLE_CHARACTERS:  # a long name (He 2016's variants): the count alone
        title = f"{config.name}: {layers} layers{extra}"
    return f"{title}<br><sup>{_subtitle(config, main)}</sup>"


def _subtitle(config: ModelConfig, blocks: tuple[BlockLayout, ...]) -> str:
    """The shortcut option, and what He 2016 / stochastic depth change, in one line."""
    parts = [SHORTCUTS[config.shortcut].summary]
    variant = SHORTCUT_VARIANTS[config.shortcut_variant]
    if variant.name != "original":
        parts.append(f"{variant.label} (He 2016, Fig. {variant.figure})")
    order = ACTIVATION_ORDERS[config.activation_order]
    if order.name != "original":
        parts.append(f"{order.label}: F = {order.branch}, after ⊕: {order.after_addition}")
    if config.stochastic_depth is not None:
        parts.append(f"stochastic depth: survival {blocks[0].survival:.2f} → {blocks[-1].survival:.2f}")
    return " · ".join(parts)


def architecture_diagram(
    model_or_config,
    *,
    image_size: int | None = None,
    title: str | None = None,
    width: int | None = None,
    height: int | None = None,
    large: bool | None = None,
) -> go.Figure:
    """Draw a net from ``build_model`` (or its ``ModelConfig`` / config dict) as boxes and arcs.

    Rows, top to bottom: the first layer, one row per stage (long stages wrap), the head. Each
    block is a box (its convolutions as "3×3, 16" when there is room; hover for details) with
    its shortcut as an arc over it: solid identity, dotted zero-padding (option A where the
    shape changes), dashed projection (B, C), long-dashed concatenation (dense nets, whose
    transitions are boxes without arcs). Plain nets have no arcs. Everything drawn is read from
    ``config.layout``, the layout the model was built from.

    Args:
        image_size: side of the input images, for the map sizes in the row labels (default 32
            for the CIFAR family, 224 for ImageNet).
    """
    config = _as_config(model_or_config)
    look = style.theme(large)
    layout = config.layout
    blocks = layout.blocks
    image_size = image_size or (32 if config.family == "cifar" else 224)
    color = style.kind_color("plain" if config.shortcut == "none" else "residual")
    text_size, label_size = look.font_size - 4, look.font_size - 2
    line_height = 1.3 * text_size
    fig_width = style.figure_size("architecture", width, None, large)[0]
    plot_width = fig_width - 2 * MARGIN_SIDE
    label_width = int(10 * label_size)
    blocks_width = plot_width - label_width - 10

    # Rows: the first layer, each stage (wrapped at `per_row` blocks), the head.
    longest_stage = max(len(stage.blocks) for stage in layout.stages)
    per_row = max(BLOCKS_PER_ROW, math.ceil(longest_stage / 3))
    slot = min(MAX_SLOT, blocks_width / min(per_row, longest_stage))
    gap = max(6.0, min(24.0, 0.18 * slot))
    layers_per_block = max(len(block.layers) for block in blocks)
    widest_text = max(len(_layer_text(layer)) for block in blocks for layer in block.layers)
    show_block_text = slot - gap >= 0.55 * text_size * widest_text + 8
    block_height = (layers_per_block * line_height + 12) if show_block_text else max(28.0, 2 * line_height)
    layer_height = 2 * line_height + 12
    rise = 22.0  # how far a shortcut climbs above its block
    # Room for the survival probabilities under the boxes, with stochastic depth.
    row_spacing = ROW_SPACING + (line_height if config.stochastic_depth is not None else 0)
    rows: list[tuple[str, tuple[BlockLayout, ...]]] = []
    for stage in layout.stages:
        side = image_size // stage.downsampling
        label = f"stage {stage.index}<br>{stage.width} filters, {side}×{side}"
        for start in range(0, len(stage.blocks), per_row):
            rows.append((label if start == 0 else "", stage.blocks[start:start + per_row]))

    path, layer_boxes, block_boxes = ([], []), ([], []), ([], [])
    arcs = {kind: ([], []) for kind in SHORTCUT_KINDS}
    merges = {merge: ([], []) for merge in MERGE_MARKERS}
    labels = ([], [], [], [])  # x, y, text, hover
    row_labels = ([], [])  # y, text
    shortcut_marks, branch_marks, survival_labels = ([], [], []), ([], [], []), ([], [], [])  # x, y, text

    def add(target, xs, ys):
        target[0].extend(xs)
        target[1].extend(ys)

    def add_box(target, x0, x1, y, half, text, hover):
        add(target, *_box(x0, x1, y - half, y + half))
        for values, value in zip(labels, ((x0 + x1) / 2, y, text, hover)):
            values.append(value)

    def add_layer_row(y, label, boxes):
        row_labels[0].append(y)
        row_labels[1].append(label)
        width_each = min(2 * MAX_SLOT, blocks_width / 2)
        for index, (text, hover) in enumerate(boxes):
            x0 = label_width + index * width_each
            add_box(layer_boxes, x0 + gap / 2, x0 + width_each - gap / 2, y, layer_height / 2, text, hover)
        add(path, [label_width + gap / 2, label_width + len(boxes) * width_each - gap / 2, None],
            [y, y, None])

    y = ROW_SPACING / 2 + layer_height / 2
    stem = layout.stem
    stem_text = "<br>".join(_layer_text(layer, say_conv=True) for layer in (stem.conv, stem.pool) if layer)
    add_layer_row(y, "first layer", [
        (f"image<br>{config.in_channels}×{image_size}×{image_size}", "the input images"),
        (stem_text, "the first layer (stem)")])
    y += layer_height / 2
    for label, members in rows:
        y += row_spacing + rise + block_height / 2
        row_labels[0].append(y)
        row_labels[1].append(label)
        top = y - block_height / 2 - rise
        for position, block in enumerate(members):
            x0 = label_width + position * slot
            layers_text = "<br>".join(_layer_text(layer) for layer in block.layers)
            no_shortcut = "none (transition)" if block.type == "transition" else "none (plain block)"
            hover = f"{block.path}<br>{layers_text}<br>shortcut: {block.shortcut or no_shortcut}"
            variant = SHORTCUT_VARIANTS[block.variant]
            if variant.name != "original":
                hover += f"<br>on the shortcut: {variant.on_shortcut}, on the branch: {variant.on_branch}"
            if block.order != "original":
                hover += f"<br>{ACTIVATION_ORDERS[block.order].label}"
            if block.survival < 1:
                hover += f"<br>stochastic depth: kept with probability {block.survival:.3f}"
            add_box(block_boxes, x0 + gap / 2, x0 + slot - gap / 2, y, block_height / 2,
                    layers_text if show_block_text else "", hover)
            if block.shortcut is not None:
                add(arcs[block.shortcut], *_shortcut_path(x0, x0 + slot, y, top, min(12.0, slot / 5)))
                add(merges[SHORTCUT_KINDS[block.shortcut].merge], [x0 + slot], [y])
                for marks, mark, x, y_mark in ((shortcut_marks, variant.shortcut_mark, x0 + slot / 2, top - 2),
                                               (branch_marks, variant.branch_mark, x0 + slot - gap / 2,
                                                y - block_height / 2 - 1)):
                    if mark:
                        for values, value in zip(marks, (x, y_mark, mark)):
                            values.append(value)
            if block.survival < 1:
                for values, value in zip(survival_labels, (x0 + slot / 2, y + block_height / 2 + 1,
                                                           f"{block.survival:.2f}")):
                    values.append(value)
        add(path, [label_width, label_width + len(members) * slot, None], [y, y, None])
        y += block_height / 2
    y += row_spacing + layer_height / 2
    add_layer_row(y, "head", [("global average pool", "average over each map"),
                              (f"fc, {config.num_classes} classes", "fully connected layer, then softmax")])
    plot_height = y + layer_height / 2 + ROW_SPACING / 2

    traces = [
        go.Scatter(name="path", x=path[0], y=path[1], line=dict(color="#777777", width=2)),
        go.Scatter(name="layer boxes", x=layer_boxes[0], y=layer_boxes[1], fill="toself",
                   fillcolor="#EEEEEE", line=dict(color=style.OTHER_COLOR, width=2)),
        go.Scatter(name="block boxes", x=block_boxes[0], y=block_boxes[1], fill="toself",
                   fillcolor=style.tint(color, 0.78), line=dict(color=color, width=2)),
    ]
    for kind in SHORTCUT_KINDS.values():
        xs, ys = arcs[kind.name]
        traces.append(go.Scatter(
            name=kind.legend, x=xs, y=ys, showlegend=bool(xs),
            line=dict(color=style.RESIDUAL_COLOR, width=look.bold_line * 0.7, dash=kind.dash)))
    for merge, (name, symbol) in MERGE_MARKERS.items():
        traces.append(go.Scatter(
            name=name, x=merges[merge][0], y=merges[merge][1], mode="markers",
            marker=dict(symbol=symbol, size=min(16.0, gap * 1.1), color="white",
                        line=dict(color=style.RESIDUAL_COLOR, width=2))))
    traces.append(go.Scatter(
        name="labels", x=labels[0], y=labels[1], text=labels[2], hovertext=labels[3], mode="text",
        textfont=dict(size=text_size), hoverinfo="text"))
    traces.append(go.Scatter(
        name="row labels", x=[label_width - 12] * len(row_labels[0]), y=row_labels[0],
        text=row_labels[1], mode="text", textposition="middle left", textfont=dict(size=label_size)))
    mark_font = dict(size=text_size, color=style.RESIDUAL_COLOR)
    for name, (xs, ys, texts), position in (("shortcut marks", shortcut_marks, "top center"),
                                            ("branch marks", branch_marks, "top left"),
                                            ("survival", survival_labels, "bottom center")):
        traces.append(go.Scatter(name=name, x=xs, y=ys, text=texts, mode="text", textposition=position,
                                 textfont=mark_font if name != "survival" else dict(size=text_size - 2)))
    for trace in traces:
        if trace.name not in SHORTCUT_NAMES:
            trace.showlegend = False
        if trace.name != "labels":
            trace.hoverinfo = "skip"
        if trace.mode is None:
            trace.mode = "lines"

    fig_height = height or int(plot_height + MARGIN_TOP + 10)
    figure = go.Figure(traces)
    figure.update_layout(
        **style.base_layout("architecture", title or _title(config, blocks), fig_width, fig_height, large),
        xaxis=dict(visible=False, range=[0, plot_width], fixedrange=True),
        yaxis=dict(visible=False, range=[max(plot_height, fig_height - MARGIN_TOP - 10), 0],
                   fixedrange=True),
        legend=dict(orientation="h", x=0.0, xanchor="left", y=1.0, yanchor="bottom",
                    font=dict(size=look.font_size - 4)),
        margin=dict(l=MARGIN_SIDE, r=MARGIN_SIDE, t=MARGIN_TOP, b=10, autoexpand=False),
        hovermode="closest",
    )
    return figure
