"""Live figures: FigureWidgets that a page loads quickly, updated in place from fresh figures.

``update_in_place`` makes a FigureWidget show a new figure with one message and no new output.
``LiveFigureWidget`` is the FigureWidget the explorers use: see its docstring for why.
"""

from __future__ import annotations

import functools
import json
import pathlib
from copy import deepcopy

import numpy as np
import plotly
import plotly.graph_objects as go

# plotly's browser code for FigureWidget, an ES module of about 5 MB.
_PLOTLY_WIDGET_BUNDLE = pathlib.Path(plotly.__file__).parent / "package_data" / "widgetbundle.js"


@functools.cache
def _page_shared_esm() -> str:
    """An ES module that evaluates plotly's widget code once per page and re-exports it."""
    key = json.dumps(f"resnet_explorer: plotly {plotly.__version__} FigureWidget code")
    source = json.dumps(_PLOTLY_WIDGET_BUNDLE.read_text(encoding="utf-8"))
    return (
        f"const key = Symbol.for({key});\n"
        f"globalThis[key] ??= import(URL.createObjectURL(new Blob([{source}], {{type: 'text/javascript'}})));\n"
        "export default (await globalThis[key]).default;\n"
    )


class LiveFigureWidget(go.FigureWidget):
    """A plotly FigureWidget whose browser code is evaluated once per page, not once per figure.

    Why: anywidget, which runs plotly's FigureWidget in the browser, evaluates the widget's
    code (about 5 MB) separately for every figure, one after another, and gives each figure 2 s
    from its creation to be ready. A figure that misses that deadline still draws, but drops
    every later message from the kernel without a word: it freezes. Three figures created
    together (the architecture explorer, or any page served by Voila) on a slow machine can
    miss it. This class sends a small module that evaluates plotly's code once and shares it,
    so the figures of a page are ready together and a later one at once.
    ``benchmarks/bench_figure_loading.py`` measures both ways in headless chromium.

    It relies on plotly's private widget internals (``_esm``, ``_widget_data``,
    ``_widget_layout``): ``tests/test_figures.py`` fences them, and pyproject.toml caps plotly.
    """

    @property
    def _esm(self) -> str:  # read by anywidget when the widget is created
        return _page_shared_esm()


def _same(old, new) -> bool:
    """Equal values, arrays and nested dicts included (a cheap test that spares plotly's validation)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return old.keys() == new.keys() and all(_same(old[key], new[key]) for key in old)
    if isinstance(old, (list, tuple, np.ndarray)) and isinstance(new, (list, tuple, np.ndarray)):
        return len(old) == len(new) and all(_same(a, b) for a, b in zip(old, new))
    if isinstance(old, (list, tuple, np.ndarray, dict)) or isinstance(new, (list, tuple, np.ndarray, dict)):
        return False
    return type(old) is type(new) and old == new


def _plain(value):
    """``value`` with numpy arrays as lists (nested dicts and lists included).

    Why: a FigureWidget sends arrays to the browser as typed arrays, and plotly.js there
    answers with the differences it finds, typed arrays written as dicts, which plotly's
    Python side fails to merge into an array property (a ``ValueError`` in the kernel, and
    a figure that stops following). Lists travel as lists both ways.
    """
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _changes(old: dict, new: dict) -> dict:
    """The properties of ``new`` that differ from ``old`` (arrays as lists); ``None`` for those
    ``new`` drops."""
    changes = {key: _plain(value) for key, value in new.items()
               if key not in old or not _same(old[key], value)}
    changes.update({key: None for key in old if key not in new})
    return changes


def update_in_place(target: go.FigureWidget, source: go.Figure) -> go.FigureWidget:
    """Make ``target`` show ``source``, keeping ``target`` (the object on screen) the same.

    Inside one ``batch_update``, each trace's changed properties are replaced whole (arrays
    included, sent as lists: see ``_plain``), then the layout's. When the traces differ in number or type they are removed
    and added again. Then the widget's stored state is brought up to date (see
    ``_store_widget_state``). A ``source`` without a width or height keeps the widget's own: figure
    functions leave the width out so that a figure fills a notebook's output area, while a widget
    keeps the size it was made with.
    """
    same_traces = len(target.data) == len(source.data) and all(
        old.type == new.type for old, new in zip(target.data, source.data)
    )
    with target.batch_update():
        if same_traces:
            for old, new in zip(target.data, source.data):
                changes = _changes(old.to_plotly_json(), new.to_plotly_json())
                if changes:
                    old.update(changes, overwrite=True)
        else:
            target.data = []
            target.add_traces([_plain(trace.to_plotly_json()) for trace in source.data])
        layout = source.layout.to_plotly_json()
        for size in ("width", "height"):
            if size not in layout and target.layout[size] is not None:
                layout[size] = target.layout[size]
        layout_changes = _changes(target.layout.to_plotly_json(), layout)
        if layout_changes:
            target.layout.update(layout_changes, overwrite=True)
    _store_widget_state(target)
    return target


def _store_widget_state(target: go.FigureWidget) -> None:
    """Make the state a browser reads when it connects show the figure as it is now.

    Plotly sends edits to a FigureWidget as one-off messages, which only views already on
    screen receive, and refreshes the stored state (``_widget_data``, ``_widget_layout``) only
    when the FigureWidget itself is displayed, not when it sits inside a Box. A browser that
    connects later (Voila, which runs the notebook before the page asks for the widgets, or a
    reloaded page) would draw the figure as it was created: empty, for the explorers. The
    browser's view ignores a change of this state, so live views are not redrawn twice.
    """
    target._widget_data = deepcopy(target._data)
    target._widget_layout = deepcopy(target._layout_obj._props)
