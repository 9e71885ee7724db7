"""The architecture explorer: change depth, shortcut, BN, activation, init; see the net at initialization.

Every change rebuilds the model (fixed seed) and updates, in place, the diagram, the parameter
and multiply-add counts, the gradient flow and the layer responses on a small batch of images.
Data flows one way: controls -> ``build_model`` -> probes -> figure functions -> FigureWidgets.

Example::

    from resnet_explorer.widgets import ArchitectureExplorer
    explorer = ArchitectureExplorer(depth=56, shortcut="A")
    explorer          # displays the controls and figures
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from functools import partial

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import torch
from torch import nn

from .. import probes
from .._model_state import use_batch_statistics
from ..checks import check_whole_number
from ..counting import count_flops, count_params
from ..figures import style
from ..figures.architecture import architecture_diagram
from ..figures.gradients import gradient_flow_figure
from ..figures.live import LiveFigureWidget, update_in_place
from ..figures.responses import layer_responses_figure
from ..hooks import hooked
from ..models import build_model
from ..options import (
    ACTIVATION_ORDERS,
    ACTIVATIONS,
    INITS,
    SHORTCUT_VARIANTS,
    STOCHASTIC_DEPTH_DEFAULT,
    cifar_depths,
    nearest_cifar_depths,
    shortcut_buttons,
)
from ..speed import thread_limit
from .explorer import Explorer, InvalidStateError
from .look import status_html, text_html

#: Depths the slider stops at: the CIFAR nets' 6n+2, from 8 to 110 (ResNet-110).
DEPTHS = cifar_depths()
#: (label, option) of the shortcut buttons: the paper's options A, B, C and the plain net.
SHORTCUTS = shortcut_buttons()
PANEL_TITLES = {"gradients": "Gradient flow", "responses": "Layer responses (Fig. 7)"}
#: The He 2016 controls: hidden unless asked for (``variants=True``, or a scenario that shows them),
#: so that lessons 01-05 keep five simple controls.
VARIANT_CONTROLS = ("shortcut_variant", "activation_order", "stochastic_depth")
#: (label, value) of each He 2016 choice; full pre-activation is the "pre-activation" checkbox.
VARIANT_CHOICES = tuple((f"{variant.label} (Fig. {variant.figure})" if variant.figure != "-" else variant.label,
                         variant.name) for variant in SHORTCUT_VARIANTS.values())
ORDER_CHOICES = tuple((f"{order.label} (Fig. {order.figure})", order.name)
                      for order in ACTIVATION_ORDERS.values() if order.name != "full_preact")
#: p_L = 1 keeps every block: "off" (a Dropdown cannot show None as a choice).
STOCHASTIC_DEPTH_CHOICES = (("off (p_L = 1)", 1.0), ("p_L = 0.8", 0.8),
                            (f"p_L = {STOCHASTIC_DEPTH_DEFAULT} (Huang et al.)", STOCHASTIC_DEPTH_DEFAULT),
                            ("p_L = 0.2", 0.2))


@dataclass(frozen=True)
class ProbeBatch:
    """The images the probes look at, and where they came from (for the status line)."""

    images: torch.Tensor | None
    labels: torch.Tensor | None
    num_classes: int
    description: str


def default_batch(batch_size: int, image_size: int, seed: int) -> ProbeBatch:
    """``batch_size`` training images of the default dataset at ``image_size``, or an empty batch."""
    try:
        from ..data import load_dataset

        data = load_dataset(train_size=batch_size, test_size=10, image_size=image_size, seed=seed)
    except Exception as error:  # the dataset is optional for the diagram and counts
        return ProbeBatch(None, None, 10, f"no images ({type(error).__name__}: {error}); pass images= and labels=")
    return ProbeBatch(data.train_images, data.train_labels, data.num_classes,
                      f"{len(data.train_labels)} {data.name} images, {image_size}×{image_size}")


def probe_training_step(model: nn.Module, images: torch.Tensor,
                        labels: torch.Tensor) -> tuple[probes.GradientFlow, probes.LayerResponses]:
    """Gradient flow and layer responses from one training-mode forward and backward pass.

    A freshly built net's BN layers hold mean 0 and variance 1, so ``layer_responses`` (eval
    mode) would see a net without BN. Here the responses (the same layers and the same
    ``channel_std`` as ``layer_responses``) are read during the gradient probe's own pass, where
    BN normalizes with the batch's statistics as in a training step: one pass instead of three.
    """
    modules = dict(model.named_modules())
    layers = probes.response_layers(model)
    stds: dict[str, float] = {}

    def record(layer, module, inputs, output):
        stds[layer] = probes.channel_std(output.detach()).item()

    with hooked(model, {modules[name]: partial(record, layer) for layer, name in layers.items()}):
        flow = probes.gradient_flow(model, images, labels, train_mode=True)
    std = np.array([stds[layer] for layer in layers], dtype=float)
    return flow, probes.LayerResponses(model.config.name, list(layers), std)


def responses_at_initialization(model: nn.Module, images: torch.Tensor) -> probes.LayerResponses:
    """``layer_responses`` with BN normalizing by the batch's statistics (when there are no labels)."""
    use_batch_statistics(model, images)
    return probes.layer_responses(model, images)


class ArchitectureExplorer(Explorer):
    """Controls for a CIFAR-style ResNet or plain net, and four views of it at initialization.

    Args (controls; the same names as in ``state()``):
        depth: 6n+2 from 8 to 110. shortcut: "A", "B", "C" or "none" (plain net).
        batch_norm: BN after each conv. activation: "relu", "tanh" or "sigmoid".
        init: "kaiming" (the paper's), "xavier" or "default" (PyTorch's). preact: pre-activation
        blocks (He et al. 2016). compare_twin: also draw the plain twin of a ResNet (or the
        ResNet-A twin of a plain net; for a net with a He 2016 variant, the original ResNet) in
        the probe figures. shortcut_variant, activation_order, stochastic_depth: as in
        ``build_model`` (He et al. 2016, Huang et al. 2016; stochastic depth 1.0 or None: off);
        hidden unless ``variants=True`` or a scenario shows them.

    Other options:
        images, labels: the probe batch (N, C, H, W) and its labels; default ``batch_size``
            images of ``load_dataset()`` at ``image_size`` x ``image_size``.
        counts_input: the input size the counts are for; default the paper's CIFAR-10 image
            (3, 32, 32), so ResNet-56 (A) shows 853,018 parameters as in Table 6.
        seed: the weights' seed (and stochastic depth's draws); the same settings always give
            the same net and the same probes.
        variants: show the He 2016 controls (``VARIANT_CONTROLS``) from the start.
        threads: torch threads while refreshing. The probe batch is tiny, so one thread loses
            little, and on a busy 2-core machine it is several times faster than two
            (``benchmarks/bench_slider.py`` measures both); ``None`` keeps torch's setting.
        large: projector-sized fonts (default: the figures' current theme).
    """

    CONTROL_NAMES = ("depth", "shortcut", "batch_norm", "activation", "init", "preact", "compare_twin",
                     *VARIANT_CONTROLS)

    def __init__(
        self,
        depth: int = 20,
        shortcut: str = "A",
        batch_norm: bool = True,
        activation: str = "relu",
        init: str = "kaiming",
        preact: bool = False,
        compare_twin: bool = True,
        shortcut_variant: str = "original",
        activation_order: str = "original",
        stochastic_depth: float | None = None,
        *,
        variants: bool = False,
        images: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        num_classes: int | None = None,
        batch_size: int = 16,
        image_size: int = 16,
        counts_input: tuple[int, int, int] = (3, 32, 32),
        seed: int = 0,
        threads: int | None = 1,
        large: bool | None = None,
    ):
        super().__init__(large)
        self.seed = seed
        self.threads = None if threads is None else check_whole_number("threads", threads, minimum=1)
        self.counts_input = tuple(counts_input)
        self.batch = self._probe_batch(images, labels, num_classes, batch_size, image_size, seed)
        self.model: nn.Module | None = None
        self.errors: list[str] = []
        self.last_update_seconds = float("nan")
        self._count_cache: dict[tuple, tuple[int, int]] = {}

        button_style = {"button_width": "auto"}

        def wide() -> widgets.Layout:  # one Layout per control: hiding one must not hide another
            return widgets.Layout(width="auto")

        self.add_controls({
            "depth": widgets.SelectionSlider(
                options=DEPTHS, value=20, description="depth", continuous_update=False,
                layout=widgets.Layout(width="640px"), style={"description_width": "80px"}),
            "shortcut": widgets.ToggleButtons(options=SHORTCUTS, value="A", description="shortcut",
                                              style=button_style, layout=wide()),
            "batch_norm": widgets.Checkbox(value=True, description="batch norm", indent=False, layout=wide()),
            "activation": widgets.ToggleButtons(options=ACTIVATIONS, value="relu", description="activation",
                                                style=button_style, layout=wide()),
            "init": widgets.ToggleButtons(options=INITS, value="kaiming", description="init",
                                          style=button_style, layout=wide()),
            "preact": widgets.Checkbox(value=False, description="pre-activation", indent=False, layout=wide()),
            "compare_twin": widgets.Checkbox(value=True, description="compare with twin (plain ↔ ResNet)",
                                             indent=False, layout=wide()),
            "shortcut_variant": widgets.Dropdown(options=VARIANT_CHOICES, value="original",
                                                 description="shortcut (He 2016)", layout=widgets.Layout(width="auto"),
                                                 style={"description_width": "initial"}),
            "activation_order": widgets.Dropdown(options=ORDER_CHOICES, value="original",
                                                 description="activation order", layout=widgets.Layout(width="auto"),
                                                 style={"description_width": "initial"}),
            "stochastic_depth": widgets.Dropdown(options=STOCHASTIC_DEPTH_CHOICES, value=1.0,
                                                 description="stochastic depth", layout=widgets.Layout(width="auto"),
                                                 style={"description_width": "initial"}),
        })
        self.counts = widgets.HTML()
        self.status = widgets.HTML()
        diagram_size = style.figure_size("architecture", large=self.large)
        panel_width, panel_height = style.figure_size("panel", large=self.large)
        self.diagram = LiveFigureWidget(layout=dict(width=diagram_size[0], height=diagram_size[1]))
        self.gradients = LiveFigureWidget(layout=dict(width=panel_width, height=panel_height))
        self.responses = LiveFigureWidget(layout=dict(width=panel_width, height=panel_height))
        self.figures = {"diagram": self.diagram, "gradients": self.gradients, "responses": self.responses}

        controls = self.controls
        self.widget = self._box([
            controls["depth"],
            controls["shortcut"],
            widgets.HBox([controls["activation"], controls["init"]], layout=widgets.Layout(flex_flow="row wrap")),
            widgets.HBox([controls["batch_norm"], controls["preact"], controls["compare_twin"]],
                         layout=widgets.Layout(grid_gap="24px")),
            widgets.HBox([controls[name] for name in VARIANT_CONTROLS],
                         layout=widgets.Layout(flex_flow="row wrap", grid_gap="12px")),
            self.counts,
            self.status,
            self.diagram,
            widgets.HBox([self.gradients, self.responses], layout=widgets.Layout(flex_flow="row wrap")),
        ])
        if not variants:
            self.hide_controls(VARIANT_CONTROLS)
        self._start(dict(depth=depth, shortcut=shortcut, batch_norm=batch_norm, activation=activation,
                         init=init, preact=preact, compare_twin=compare_twin, shortcut_variant=shortcut_variant,
                         activation_order=activation_order,
                         stochastic_depth=1.0 if stochastic_depth is None else stochastic_depth))

    # -- setting up ---------------------------------------------------------------------------

    @staticmethod
    def _probe_batch(images, labels, num_classes, batch_size, image_size, seed) -> ProbeBatch:
        if images is None:
            batch = default_batch(batch_size, image_size, seed)
            return batch if num_classes is None else ProbeBatch(batch.images, batch.labels, num_classes,
                                                                batch.description)
        if not isinstance(images, torch.Tensor) or images.ndim != 4:
            raise ValueError("images must be one (N, C, H, W) tensor")
        if labels is not None and (not isinstance(labels, torch.Tensor) or labels.shape != images.shape[:1]):
            raise ValueError(f"labels must be a tensor of {images.shape[0]} class indices, one per image")
        if num_classes is None:
            num_classes = max(10, int(labels.max()) + 1) if labels is not None and labels.numel() else 10
        side = images.shape[-1]
        return ProbeBatch(images, labels, num_classes, f"{images.shape[0]} images, {side}×{side}")

    def check_value(self, name: str, value):
        if name == "depth" and isinstance(value, int) and not isinstance(value, bool) and value not in DEPTHS:
            if value < DEPTHS[0] or value > DEPTHS[-1]:
                raise InvalidStateError(f"depth {value} is out of range; the slider goes from "
                                        f"{DEPTHS[0]} to {DEPTHS[-1]} in steps of 6 (6n+2)")
            below, above = nearest_cifar_depths(value)
            raise InvalidStateError(f"depth {value} is not 6n+2; nearest valid depths are {below} and {above}")
        return super().check_value(name, value)

    # -- the model ----------------------------------------------------------------------------

    def model_options(self) -> dict:
        """The ``build_model`` arguments the controls describe (without the input's channels)."""
        values = {name: control.value for name, control in self.controls.items()}
        options = dict(depth=values["depth"], shortcut=values["shortcut"], preact=values["preact"],
                       norm="batch" if values["batch_norm"] else "none",
                       activation=values["activation"], init=values["init"])
        extra = {name: values[name] for name in VARIANT_CONTROLS}
        # Only what differs from the defaults, so the lessons' nets keep their names and counts.
        return options | {name: value for name, value in extra.items()
                          if value != self.controls[name].options[0][1]}

    def _build(self, options: dict, in_channels: int, num_classes: int) -> nn.Module:
        """The net at initialization: the same settings always give the same weights."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            return build_model(**options, in_channels=in_channels, num_classes=num_classes)

    def counts_for(self, options: dict) -> tuple[int, int]:
        """Parameters and multiply-adds of the net for ``counts_input`` images and 10 classes."""
        key = tuple(sorted((k, v) for k, v in options.items() if k not in ("activation", "init")))
        if key not in self._count_cache:
            # Built on the CPU: a forward pass on the "meta" device (shapes only) is several times slower.
            model = self._build(options, self.counts_input[0], 10)
            self._count_cache[key] = (count_params(model), count_flops(model, self.counts_input))
        return self._count_cache[key]

    # -- refreshing ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Rebuild the net and update counts, diagram, gradient flow and responses in place."""
        with thread_limit(self.threads):
            self._refresh()

    def _refresh(self) -> None:
        started = time.perf_counter()
        self.errors = []
        options = self.model_options()
        batch = self.batch
        in_channels = batch.images.shape[1] if batch.images is not None else self.counts_input[0]
        self.model = None
        try:
            self.model = self._build(options, in_channels, batch.num_classes)
        except Exception as error:
            self._report("building the model", error)
        self._attempt("counts", self._update_counts, options)
        self._attempt("the diagram", lambda: update_in_place(
            self.diagram, architecture_diagram(options | {"in_channels": self.counts_input[0]},
                                               image_size=self.counts_input[-1], large=self.large,
                                               width=self.diagram.layout.width)))
        self._attempt("the probes", self._update_probes, options)
        self.last_update_seconds = time.perf_counter() - started
        self.status.value = status_html(self.errors, f"updated in {self.last_update_seconds:.2f} s · probes on "
                                                     f"{batch.description}, at initialization (seed {self.seed})")

    def _report(self, what: str, error: Exception) -> None:
        self.errors.append(f"{what} failed: {type(error).__name__}: {error}")

    def _attempt(self, what: str, action, *args) -> None:
        try:
            action(*args)
        except Exception as error:  # shown in the widget as one readable line, not a traceback
            self._report(what, error)

    def _update_counts(self, options: dict) -> None:
        params, multiply_adds = self.counts_for(options)
        name = self.model.config.name if self.model is not None else f"depth {options['depth']}"
        size = "×".join(str(s) for s in self.counts_input)
        self.counts.value = text_html(
            f"<b>{html.escape(name)}</b>: <b>{params:,}</b> parameters · "
            f"<b>{multiply_adds / 1e6:,.1f} million</b> multiply-adds per {size} image", kind="headline")

    def _twin_options(self, options: dict) -> dict:
        """The twin: the original ResNet of a He 2016 variant, else plain <-> ResNet-A."""
        original = {name: value for name, value in options.items() if name not in VARIANT_CONTROLS}
        if original != options:
            return original
        return options | {"shortcut": "A" if options["shortcut"] == "none" else "none"}

    def _update_probes(self, options: dict) -> None:
        batch = self.batch
        if batch.images is None or self.model is None:
            self._clear_probe_figures("no images" if batch.images is None else "no model")
            if batch.images is None:
                self.errors.append(batch.description)
            return
        if batch.labels is None:
            self.errors.append("gradient flow needs labels: pass labels= with images=")
            self._clear_probe_figures("", only="gradients")
        try:
            models = [self.model]
            if self.controls["compare_twin"].value:
                models.append(self._build(self._twin_options(options), batch.images.shape[1], batch.num_classes))
            with torch.random.fork_rng(devices=[]):  # stochastic depth draws: the same for the same settings
                torch.manual_seed(self.seed)
                flows, responses = self._probe(models, batch)
        except Exception as error:
            self._clear_probe_figures("failed")
            self._report("the probes", error)
            return
        if flows is not None:
            figure = gradient_flow_figure(list(flows), title=PANEL_TITLES["gradients"], large=self.large,
                                          **self._panel_size(self.gradients))
            update_in_place(self.gradients, self._panel_layout(figure))
        figure = layer_responses_figure(list(responses), title=PANEL_TITLES["responses"], log_y=True,
                                        show_sorted=False, large=self.large,
                                        **self._panel_size(self.responses))
        update_in_place(self.responses, self._panel_layout(figure))

    @staticmethod
    def _probe(models: list[nn.Module], batch: ProbeBatch) -> tuple:
        """Gradient flows (None without labels) and layer responses of ``models`` on ``batch``."""
        if batch.labels is None:
            return None, [responses_at_initialization(model, batch.images) for model in models]
        return tuple(zip(*(probe_training_step(model, batch.images, batch.labels) for model in models)))

    @staticmethod
    def _panel_size(figure: go.FigureWidget) -> dict:
        return {"width": figure.layout.width, "height": figure.layout.height}

    def _panel_layout(self, figure: go.Figure) -> go.Figure:
        """In the narrow panels: the title on top, the legend under it (room for two rows)."""
        look = style.theme(self.large)
        legend_size = look.font_size - 4
        return figure.update_layout(
            title=dict(y=1.0, yref="container", yanchor="top", pad=dict(t=10)),
            legend=dict(orientation="h", x=0.0, xanchor="left", y=1.02, yanchor="bottom",
                        font=dict(size=legend_size)),
            margin=dict(t=look.title_size + 4 * legend_size + 36))

    def _clear_probe_figures(self, reason: str, only: str | None = None) -> None:
        for name in ("gradients", "responses"):
            if only in (None, name):
                target = self.figures[name]
                title = PANEL_TITLES[name] + (f": {reason}" if reason else "")
                empty = go.Figure(layout=style.base_layout("panel", title,
                                                           target.layout.width, target.layout.height, self.large))
                update_in_place(target, empty)
