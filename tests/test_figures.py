"""Figure functions: the traces they draw carry the input numbers, in the shared style."""

from __future__ import annotations

import json
import os
import sys
import numpy as np
import plotly.graph_objects as go
import pytest

from resnet_explorer.counting import describe
from resnet_explorer.figures import export, style
from resnet_explorer.figures.architecture import TRACE_NAMES, architecture_diagram
from resnet_explorer.figures.costs import cost_comparison
from resnet_explorer.figures.curves import curve_points, training_curves
from resnet_explorer.figures.gradients import gradient_flow_figure, gradient_norms_over_training
from resnet_explorer.figures.live import update_in_place
from resnet_explorer.figures.responses import layer_responses_figure
from resnet_explorer.models import build_model
from resnet_explorer.probes import GradientFlow, LayerResponses
from resnet_explorer.history import History


def finished_history(label: str, config: dict, *, train_subset_error=(0.85, 0.3), status="finished"):
    """A finished ``History`` with four steps and two evaluations (per-batch errors noisier)."""
    return History(label, config, steps=[1, 10, 20, 30], train_error=[0.9, 0.4, 0.7, 0.2],
                   eval_steps=[1, 30], test_error=[0.9, 0.35],
                   train_subset_error=list(train_subset_error), status=status)


def _segments(trace) -> int:
    """Number of None-separated pieces in a trace."""
    return sum(value is None for value in trace.x)


def _trace(figure, name):
    return next(trace for trace in figure.data if trace.name == name)


# ---- style --------------------------------------------------------------------------------

def test_templates_are_registered_and_the_theme_switches_font_sizes():
    import plotly.io as pio

    assert style.TEMPLATE in pio.templates and style.LARGE_TEMPLATE in pio.templates
    try:
        style.set_theme(large=False)
        small = training_curves(finished_history("plain-20", {"depth": 20, "shortcut": "none"}))
        style.set_theme(large=True)
        large = training_curves(finished_history("plain-20", {"depth": 20, "shortcut": "none"}))
    finally:
        style.set_theme(large=True)
    assert small.layout.template.layout.font.size == 14
    assert large.layout.template.layout.font.size >= 20
    assert large.layout.height > small.layout.height


def test_plain_and_residual_nets_keep_their_colours_and_deeper_is_darker():
    styles = style.series_styles(["plain-20", "plain-56", "ResNet-20 (A)", "ResNet-56 (A)", "VGG-19"])
    plain20, plain56, res20, res56, vgg = styles
    assert [s.kind for s in styles] == ["plain", "plain", "residual", "residual", "other"]

    def brightness(color):
        return sum(int(color[i:i + 2], 16) for i in (1, 3, 5))

    assert brightness(plain56.color) < brightness(plain20.color)
    assert brightness(res56.color) < brightness(res20.color)
    assert plain56.dash == "solid" and res56.dash == "solid" and res20.dash != "solid"
    single = style.series_styles(["plain-20", "ResNet-20 (B)"])
    assert single[0].color == style.PLAIN_COLOR and single[1].color == style.RESIDUAL_COLOR


# ---- training curves ----------------------------------------------------------------------

def test_training_curves_draw_dashed_training_and_bold_test_error_as_in_fig_6():
    histories = [finished_history("plain-20", {"depth": 20, "shortcut": "none"}),
                 finished_history("ResNet-20", {"depth": 20, "shortcut": "A"}, status="diverged")]
    figure = training_curves(histories)
    assert len(figure.data) == 4
    train, test = figure.data[0], figure.data[1]
    assert train.meta == "train" and test.meta == "test"
    assert train.line.dash == "dash" and test.line.dash == "solid"  # the paper's Fig. 6 convention
    assert train.line.width < test.line.width
    np.testing.assert_array_equal(test.x, histories[0].eval_steps)
    np.testing.assert_array_equal(test.y, histories[0].test_error)
    assert train.line.color == test.line.color == style.PLAIN_COLOR
    assert figure.data[3].line.color == style.RESIDUAL_COLOR
    assert figure.data[3].name == "ResNet-20 (diverged)"
    assert "steps" in figure.layout.xaxis.title.text
    key = figure.layout.legend.title.text  # the legend says which line is which
    assert "dashed: training error" in key and "bold: test error" in key


def test_the_plotted_training_error_is_the_printed_one_not_the_per_batch_error():
    """Lesson 02 prints ``final_train_error`` (eval mode, fixed training images); the plot agrees."""
    history = finished_history("plain-56", {"depth": 56, "shortcut": "none"}, train_subset_error=(0.8, 0.42))
    train = next(trace for trace in training_curves(history).data if trace.meta == "train")
    np.testing.assert_array_equal(train.x, history.eval_steps)
    np.testing.assert_array_equal(train.y, history.train_subset_error)
    assert train.y[-1] == history.final_train_error
    assert not set(history.train_error) & set(train.y)  # no per-batch error is drawn


def test_a_curve_in_flight_stops_at_the_evaluations_it_has():
    history = finished_history("plain-20", {"depth": 20, "shortcut": "none"}, status="running")
    history.eval_steps.append(40)
    history.test_error.append(0.3)  # the training-subset error of step 40 is not in yet
    points = curve_points(history)
    np.testing.assert_array_equal(points["train"][0], [1, 30])
    np.testing.assert_array_equal(points["test"][0], [1, 30, 40])


def test_figures_fill_the_output_area_unless_a_widget_gives_them_a_width():
    """Lesson 12 drew 1,100-px figures into an 840-px output area (1280x720, side panel open)."""
    assert cost_comparison([("plain-20", 1, 2)]).layout.width is None
    assert cost_comparison([("plain-20", 1, 2)], width=400).layout.width == 400


def test_training_curves_fit_the_output_area_with_the_legend_inside():
    figure = training_curves(finished_history("plain-20", {"depth": 20, "shortcut": "none"}))
    assert figure.layout.width is None and figure.layout.height  # plotly fits the container's width
    legend = figure.layout.legend
    assert legend.x >= 1 and legend.xanchor == "left"  # beside the plot: plotly makes room inside the figure
    assert training_curves(finished_history("plain-20", {"depth": 20, "shortcut": "none"}),
                           width=700).layout.width == 700  # widgets still fix their size


def test_depths_of_one_family_differ_by_shade_and_marker():
    figure = training_curves([finished_history("plain-20", {"depth": 20, "shortcut": "none"}),
                              finished_history("plain-56", {"depth": 56, "shortcut": "none"})])
    shallow, deep = figure.data[1], figure.data[3]
    assert shallow.line.color != deep.line.color and shallow.marker.symbol != deep.marker.symbol


def test_training_curves_accept_one_history():
    figure = training_curves(finished_history("ResNet-56", {"depth": 56, "shortcut": "A"}), show_train=False)
    assert len(figure.data) == 1 and figure.data[0].meta == "test"


# ---- layer responses and gradient flow ------------------------------------------------------

def _responses(name, values):
    return LayerResponses(name, [f"layer{i}" for i in range(len(values))], np.array(values, dtype=float))


def test_layer_responses_figure_has_layer_order_on_top_and_sorted_values_below():
    results = [_responses("plain-20", [1.0, 3.0, 2.0]), _responses("ResNet-20 (A)", [0.5, 0.2, 0.9, 0.1])]
    figure = layer_responses_figure(results)
    assert len(figure.data) == 4
    top, bottom = figure.data[0], figure.data[1]
    assert top.yaxis == "y" and bottom.yaxis == "y2"
    np.testing.assert_array_equal(top.y, [1.0, 3.0, 2.0])
    np.testing.assert_array_equal(top.x, [1, 2, 3])
    np.testing.assert_array_equal(bottom.y, [3.0, 2.0, 1.0])
    assert list(bottom.customdata) == ["layer1", "layer2", "layer0"]
    np.testing.assert_array_equal(figure.data[3].y, [0.9, 0.5, 0.2, 0.1])
    assert top.line.color == style.PLAIN_COLOR and figure.data[2].line.color == style.RESIDUAL_COLOR
    assert "sorted" in figure.layout.xaxis2.title.text
    assert layer_responses_figure(results, log_y=True).layout.yaxis.type == "log"


def test_gradient_flow_figure_uses_a_log_axis_and_the_chosen_quantity():
    flows = [GradientFlow("plain-20", ["a", "b"], np.array([1e-3, 1e-2]), ["w1", "w2", "w3"],
                          np.array([0.0, 1.0, 2.0]), loss=2.3),
             GradientFlow("ResNet-20 (A)", ["a", "b"], np.array([0.5, 0.4]), ["w1", "w2", "w3"],
                          np.array([1.0, 1.0, 1.0]), loss=2.3)]
    figure = gradient_flow_figure(flows)
    assert figure.layout.yaxis.type == "log"
    assert len(figure.data) == 2
    np.testing.assert_array_equal(figure.data[0].y, [1e-3, 1e-2])
    weights = gradient_flow_figure(flows, quantity="weight")
    assert np.isnan(weights.data[0].y[0])  # a zero cannot sit on a log axis
    np.testing.assert_array_equal(weights.data[0].y[1:], [1.0, 2.0])
    with pytest.raises(ValueError, match="allowed: output, weight"):
        gradient_flow_figure(flows, quantity="inputs")


def recorded_history(name: str, config: dict, first: list[float], last: list[float]) -> History:
    return History(name, config, grad_steps=[1, 10, 20],
                   grad_norms={"stem": first, "stage1.block1.conv1": [1.0] * 3, "fc": last})


def test_gradient_norms_over_training_draws_the_first_and_last_layer_of_each_net_on_a_log_axis():
    histories = [recorded_history("plain-56", {"depth": 56, "shortcut": "none"}, [3e3, 0.5, 0.4], [0.3, 0.2, 0.2]),
                 recorded_history("ResNet-56 (A)", {"depth": 56, "shortcut": "A"}, [5.0, 1.0, 0.8], [0.3, 0.3, 0.2])]
    figure = gradient_norms_over_training(histories)
    assert [annotation.text for annotation in figure.layout.annotations] == ["first layer: stem", "last layer: fc"]
    assert len(figure.data) == 4 and [trace.showlegend for trace in figure.data] == [True, True, False, False]
    assert figure.layout.yaxis.type == "log" and figure.layout.yaxis2.type == "log"
    np.testing.assert_array_equal(figure.data[0].x, [1, 10, 20])
    np.testing.assert_array_equal(figure.data[2].y, [0.3, 0.2, 0.2])  # plain-56's last layer
    assert figure.data[0].line.color != figure.data[1].line.color  # plain vermillion, ResNet blue
    middle = gradient_norms_over_training(histories[0], layers=["stage1.block1.conv1"])
    assert len(middle.data) == 1 and middle.layout.annotations[0].text == "layer 2: stage1.block1.conv1"


def test_gradient_norms_over_training_says_what_is_missing():
    unrecorded = finished_history("plain-20", {"depth": 20, "shortcut": "none"})
    with pytest.raises(ValueError, match="plain-20 recorded no gradient norms; train with record_gradients=True"):
        gradient_norms_over_training([unrecorded])
    with pytest.raises(ValueError, match="at least one History"):
        gradient_norms_over_training([])
    recorded = recorded_history("plain-20", {"depth": 20, "shortcut": "none"}, [1.0] * 3, [1.0] * 3)
    with pytest.raises(ValueError, match="plain-20 has no layer 'stage3.block9.conv2'.*'stem' to 'fc'"):
        gradient_norms_over_training([recorded], layers=["stage3.block9.conv2"])


# ---- architecture diagram -----------------------------------------------------------------

@pytest.mark.parametrize(
    "shortcut, identity, zero_pad, projection",
    [("A", 7, 2, 0), ("B", 7, 0, 2), ("C", 0, 0, 9), ("none", 0, 0, 0)],
)
def test_architecture_diagram_draws_one_arc_per_block_by_shortcut_kind(shortcut, identity, zero_pad, projection):
    figure = architecture_diagram(build_model(20, shortcut))
    assert tuple(trace.name for trace in figure.data) == TRACE_NAMES
    arcs = {kind: _trace(figure, name) for kind, (name, _) in
            {"identity": ("identity shortcut", 0), "zero-pad": ("zero-padding shortcut (A)", 0),
             "projection": ("projection shortcut (1×1 conv, B/C)", 0)}.items()}
    assert _segments(arcs["identity"]) == identity
    assert _segments(arcs["zero-pad"]) == zero_pad
    assert _segments(arcs["projection"]) == projection
    assert arcs["projection"].line.dash == "dash" and arcs["identity"].line.dash == "solid"
    assert _segments(_trace(figure, "block boxes")) == 9
    assert "20 layers" in figure.layout.title.text


def test_architecture_diagram_keeps_its_traces_for_every_depth_and_fits_resnet_110():
    deep = architecture_diagram(build_model(110, "B").config)
    shallow = architecture_diagram({"depth": 8, "shortcut": "none"})
    assert [t.name for t in deep.data] == [t.name for t in shallow.data]
    assert _segments(_trace(deep, "block boxes")) == 54
    boxes = _trace(deep, "block boxes")
    xs = [x for x in boxes.x if x is not None]
    assert max(xs) <= deep.layout.xaxis.range[1]
    assert _trace(shallow, "block boxes").line.color == style.PLAIN_COLOR


def test_architecture_diagram_of_an_imagenet_bottleneck_net_projects_where_channels_grow():
    figure = architecture_diagram(build_model(50, "B", family="imagenet"))
    assert _segments(_trace(figure, "projection shortcut (1×1 conv, B/C)")) == 4  # first block of each stage
    assert _segments(_trace(figure, "identity shortcut")) == 12
    assert "50 layers" in figure.layout.title.text


def test_architecture_diagram_rejects_what_is_not_a_model_or_config():
    with pytest.raises(TypeError, match="build_model"):
        architecture_diagram("ResNet-20")
    with pytest.raises(ValueError, match="nearest valid depths are 20 and 26"):
        architecture_diagram({"depth": 21})


# ---- costs ----------------------------------------------------------------------------------

def test_cost_comparison_shows_vgg19_plain34_and_resnet34_from_describe():
    import torchvision
    vgg = describe(torchvision.models.vgg19(), (3, 224, 224))
    plain = describe(build_model(34, "none", family="imagenet", num_classes=1000), (3, 224, 224))
    resnet = describe(build_model(34, "A", family="imagenet", num_classes=1000), (3, 224, 224))
    figure = cost_comparison([vgg, plain, resnet], names=["VGG-19", "plain-34", "ResNet-34 (A)"])
    params, multiply_adds = figure.data
    assert list(params.y) == ["ResNet-34 (A)", "plain-34", "VGG-19"]  # first item on top
    assert multiply_adds.x[2] == vgg.total_multiply_adds
    assert 19.5e9 < vgg.total_multiply_adds < 19.7e9
    assert multiply_adds.text[2] == "19.6 billion"
    assert multiply_adds.text[0] == "3.64 billion"  # the paper: 3.6 billion
    assert list(params.marker.color) == [style.RESIDUAL_COLOR, style.PLAIN_COLOR, style.OTHER_COLOR]
    assert "224×224" in figure.layout.annotations[1].text


def test_cost_comparison_takes_tuples_and_explains_what_it_takes():
    figure = cost_comparison([("plain-20", 269_722, 40_000_000), {"name": "ResNet-20", "params": 269_722,
                                                                    "multiply_adds": 40_000_000}])
    assert list(figure.data[0].x) == [269_722, 269_722]
    with pytest.raises(TypeError, match="describe"):
        cost_comparison([build_model(20)])
    with pytest.raises(ValueError, match="2 names for 1 models"):
        cost_comparison([("a", 1, 1)], names=["x", "y"])


# ---- in-place updates and export ----------------------------------------------------------

def test_update_in_place_keeps_the_figure_widget_and_replaces_its_data():
    widget = go.FigureWidget(training_curves(finished_history("plain-20", {"depth": 20, "shortcut": "none"})))
    trace = widget.data[0]
    update_in_place(widget, training_curves(finished_history("plain-20", {"depth": 20, "shortcut": "none"},
                                                        train_subset_error=[0.5, 0.2])))
    assert widget.data[0] is trace
    np.testing.assert_array_equal(widget.data[0].y, [0.5, 0.2])
    update_in_place(widget, cost_comparison([("plain-20", 1, 2)]))  # other traces: replaced
    assert [t.type for t in widget.data] == ["bar", "bar"]


def test_update_in_place_keeps_the_state_a_late_browser_reads_up_to_date():
    """Voila (or a reloaded page) draws a FigureWidget from its stored state, not from the edits."""
    widget = go.FigureWidget(layout=dict(width=300, height=200))  # as the explorers create them
    update_in_place(widget, cost_comparison([("plain-20", 1, 2)]))
    state = widget.get_state(["_widget_data", "_widget_layout"])
    assert [trace["type"] for trace in state["_widget_data"]] == ["bar", "bar"]
    assert state["_widget_layout"]["width"] == widget.layout.width
    update_in_place(widget, training_curves(finished_history("plain-20", {"depth": 20, "shortcut": "none"},
                                                             train_subset_error=[0.5, 0.2])))
    stored = widget.get_state(["_widget_data"])["_widget_data"]
    assert [trace["type"] for trace in stored] == [trace.type for trace in widget.data]
    assert list(stored[0]["y"]) == [0.5, 0.2]


def test_update_in_place_sends_arrays_as_lists():
    """A browser answers typed arrays with differences plotly's Python side cannot merge."""
    widget = go.FigureWidget(layout=dict(width=300, height=200))
    source = go.Figure(go.Scatter(x=np.arange(4), y=np.array([0.5, 0.4, 0.3, 0.2])),
                       layout=dict(xaxis=dict(tickvals=np.arange(4))))
    update_in_place(widget, source)  # traces added
    update_in_place(widget, go.Figure(go.Scatter(x=np.arange(4), y=np.array([0.1, 0.2, 0.3, 0.4]))))  # changed

    def arrays(value):
        if isinstance(value, dict):
            return sum((arrays(item) for item in value.values()), [])
        if isinstance(value, (list, tuple)):
            return sum((arrays(item) for item in value), [])
        return [value] if isinstance(value, np.ndarray) else []

    assert arrays(widget._data) == [] and arrays(widget._layout) == []
    assert list(widget.data[0].y) == [0.1, 0.2, 0.3, 0.4]


def test_save_html_writes_a_self_contained_page(tmp_path):
    path = export.save_html(cost_comparison([("plain-20", 1, 2)]), tmp_path / "costs.html")
    text = path.read_text(encoding="utf-8")
    assert "plain-20" in text and len(text) > 1_000_000  # plotly.js is inside


def test_save_image_says_what_to_install_when_kaleido_is_missing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "kaleido", None)
    with pytest.raises(export.ExportError, match="pip install kaleido"):
        export.save_image(cost_comparison([("plain-20", 1, 2)]), tmp_path / "costs.png")


def test_save_image_says_what_to_install_when_no_browser_is_found(monkeypatch):
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setattr(export, "DEBIAN_CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(export.ExportError, match="apt-get install -y chromium"):
        export.find_browser()
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chrome")
    with pytest.raises(export.ExportError, match="BROWSER_PATH='/nonexistent/chrome'"):
        export.find_browser()


def test_save_image_rejects_unknown_suffixes(tmp_path):
    with pytest.raises(ValueError, match=".png"):
        export.save_image(go.Figure(), tmp_path / "figure.bmp")


@pytest.mark.slow
def test_save_image_writes_a_png_of_the_figure_size(tmp_path):
    import kaleido  # noqa: F401  (a dev dependency: the test must not skip)
    export.find_browser()  # chromium comes with scripts/install_system_packages.sh
    figure = cost_comparison([("plain-20", 1, 2)], width=400, height=300)
    path = export.save_image(figure, tmp_path / "costs.png", scale=1)
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(header[16:20], "big") == 400 and int.from_bytes(header[20:24], "big") == 300
    assert os.environ.get("BROWSER_PATH")


def test_live_figure_widgets_share_plotly_code_per_page():
    """Each LiveFigureWidget sends a small module that evaluates plotly's widget code once per page."""
    from resnet_explorer.figures.live import _PLOTLY_WIDGET_BUNDLE, LiveFigureWidget

    first, second = LiveFigureWidget(), LiveFigureWidget(layout=dict(width=300))
    esm = first.get_state(["_esm"])["_esm"]
    assert isinstance(first, go.FigureWidget) and esm == second._esm
    assert esm.startswith("const key = Symbol.for(") and "globalThis[key] ??= import(" in esm
    assert esm.rstrip().endswith("export default (await globalThis[key]).default;")
    bundle = _PLOTLY_WIDGET_BUNDLE.read_text(encoding="utf-8")
    assert "as default}" in bundle and json.dumps(bundle) in esm  # plotly's code, as a string
    update_in_place(first, cost_comparison([("plain-20", 1, 2)]))
    assert [trace.type for trace in first.data] == ["bar", "bar"]


def test_architecture_diagram_of_a_dense_net_draws_concatenations_and_transitions():
    figure = architecture_diagram(build_model(20, "dense"))
    assert tuple(trace.name for trace in figure.data) == TRACE_NAMES
    assert _segments(_trace(figure, "concatenation (dense)")) == 9
    assert len(_trace(figure, "concatenations").x) == 9 and len(_trace(figure, "additions").x) == 0
    assert _segments(_trace(figure, "block boxes")) == 11  # 9 dense blocks and 2 transitions
    assert "20 layers (and 2 transitions)" in figure.layout.title.text
    assert "concatenated" in figure.layout.title.text
    assert any("avg pool" in str(text) for text in _trace(figure, "labels").hovertext)


# ---- fence: plotly's private widget internals that figures/live.py relies on ---------------

def test_plotly_private_widget_internals_used_by_live_py_are_unchanged():
    """Fails loudly when a plotly (or anywidget) release changes what ``figures/live.py`` uses.

    pyproject.toml caps plotly's version; before raising the cap, run this test on the new
    version and, if it fails, adapt ``live.py`` (``LiveFigureWidget._esm``,
    ``_store_widget_state``) to what changed.
    """
    import anywidget
    import plotly
    from plotly.basewidget import BaseFigureWidget

    from resnet_explorer.figures.live import _PLOTLY_WIDGET_BUNDLE, LiveFigureWidget

    where = f"plotly {plotly.__version__}, anywidget {anywidget.__version__}"
    # 1. The widget's browser code is the file live.py shares once per page, an ES module.
    assert _PLOTLY_WIDGET_BUNDLE.is_file(), f"{where}: no {_PLOTLY_WIDGET_BUNDLE}"
    bundle = _PLOTLY_WIDGET_BUNDLE.read_text(encoding="utf-8")
    assert str(BaseFigureWidget._esm) == bundle, f"{where}: FigureWidget no longer sends widgetbundle.js"
    assert "as default}" in bundle, f"{where}: widgetbundle.js has no default export"
    # 2. anywidget reads `_esm` as an attribute (so a property can replace it), not as a trait.
    assert issubclass(go.FigureWidget, anywidget.AnyWidget), f"{where}: FigureWidget is no anywidget"
    assert "_esm" not in BaseFigureWidget.class_traits(), f"{where}: _esm became a trait"
    assert LiveFigureWidget().get_state(["_esm"])["_esm"].startswith("const key = Symbol.for("), where
    # 3. The state a late browser reads: synced traits fed from _data and _layout_obj._props.
    traits = BaseFigureWidget.class_traits()
    for name in ("_widget_data", "_widget_layout"):
        assert name in traits and traits[name].metadata.get("sync"), f"{where}: no synced {name}"
    widget = go.FigureWidget()
    widget.add_bar(y=[1, 2])
    widget.update_layout(width=300)
    assert isinstance(widget._data, list) and widget._data[0]["type"] == "bar", where
    assert widget._layout_obj._props.get("width") == 300, where
