"""The attribution explorer: which pixels does a trained plain net or ResNet look at?

Pick a model (from the run cache, or a dict of name -> model), a test image (slider) or an
uploaded picture, a method and, for Grad-CAM, a stage; the map is drawn over the image and
updated in place. Data flows one way: controls -> ``attribute`` -> ``attribution_overlay`` ->
FigureWidget. Anything that goes wrong (an image the model cannot take, an upload that is not
a picture, an empty run cache) shows as one readable line in the widget, not a traceback.

Example::

    from resnet_explorer.widgets.attribution_explorer import AttributionExplorer
    AttributionExplorer({"plain-20": plain, "ResNet-20": resnet}, dataset)
    AttributionExplorer()            # the models of the run cache, Fashion-MNIST test images
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from torch import nn

from ..attribution import attribute, layer_names, load_image
from ..attribution_methods import ATTRIBUTION_METHODS
from ..checks import check_whole_number
from ..figures.attribution import attribution_overlay
from ..figures.live import LiveFigureWidget, update_in_place
from ..speed import thread_limit
from .explorer import Explorer, distinct_names
from .look import status_html

SOURCES = ("test set", "upload")
PREDICTED = -1  # the target control's value for "the predicted class"
_CACHE_SIZE = 64


class AttributionExplorer(Explorer):
    """Controls for model, image, method and layer, and the attribution map over the image.

    Args:
        models: ``{name: model}``; or a ``RunCache`` (its finished runs, loaded when picked);
            or a list of models (named by ``model.config.name``); default the default run cache.
        dataset: a ``Dataset`` whose ``test_images`` the slider walks through and whose
            ``mean``/``std`` standardize uploads; default ``load_dataset()``.
        model, method, layer, image_index, target, image_source: the controls' first values
            (the same names as in ``state()``); ``target`` -1 explains the predicted class.
        options: per method, options for ``attribute`` (e.g. ``{"integrated_gradients":
            {"n_steps": 64}}``).
        threads: torch threads while computing (``None``: leave torch's setting).
        large: projector-sized fonts (default: the figures' current theme).
    """

    CONTROL_NAMES = ("model", "method", "layer", "image_index", "target", "image_source")

    def __init__(
        self,
        models=None,
        dataset=None,
        *,
        model: str | None = None,
        method: str = "gradcam",
        layer: str | None = None,
        image_index: int = 0,
        target: int = PREDICTED,
        image_source: str = "test set",
        options: Mapping[str, Mapping] | None = None,
        threads: int | None = None,
        large: bool | None = None,
    ):
        super().__init__(large)
        self.threads = None if threads is None else check_whole_number("threads", threads, minimum=1)
        self.method_options = {name: dict(values) for name, values in (options or {}).items()}
        self.errors: list[str] = []
        self.result = None
        self.last_update_seconds = float("nan")
        self.uploaded: bytes | None = None
        self.upload_name = ""
        self._loaded: dict[str, nn.Module] = {}
        self._results: OrderedDict = OrderedDict()
        self._setup_errors: list[str] = []
        self._entries = self._model_entries(models)
        self.dataset = self._load_dataset(dataset)

        names = list(self._entries)
        count = len(self.dataset.test_images) if self.dataset is not None else 1
        class_names = list(self.dataset.class_names) if self.dataset is not None else []
        first_model = model if model in self._entries else (names[0] if names else None)

        def wide() -> widgets.Layout:
            return widgets.Layout(width="auto")

        label_style = {"description_width": "110px"}  # "test image" fits in the projector theme
        self.add_controls({
            "model": widgets.Dropdown(options=names, value=first_model, description="model",
                                      style=label_style, layout=widgets.Layout(width="420px")),
            "method": widgets.ToggleButtons(options=[(m.label, m.name) for m in ATTRIBUTION_METHODS.values()],
                                            tooltips=[f"{m.summary} ({m.paper})" for m in ATTRIBUTION_METHODS.values()],
                                            value=method,
                                            description="method", style={"button_width": "auto", **label_style},
                                            layout=wide()),
            "layer": widgets.Dropdown(options=["stem", "stage1", "stage2", "stage3"], value="stage3",
                                      description="layer", style=label_style, layout=widgets.Layout(width="240px")),
            "image_index": widgets.IntSlider(value=0, min=0, max=max(0, count - 1), description="test image",
                                             continuous_update=False, style=label_style,
                                             layout=widgets.Layout(width="520px")),
            "target": widgets.Dropdown(options=[("predicted class", PREDICTED)]
                                       + [(name, i) for i, name in enumerate(class_names)],
                                       value=PREDICTED, description="explain", style=label_style,
                                       layout=widgets.Layout(width="300px")),
            "image_source": widgets.ToggleButtons(options=SOURCES, value="test set", description="image",
                                                  style={"button_width": "auto", **label_style}, layout=wide()),
        })
        self.controls["image_index"].observe(self._on_index_change, names="value")
        self.upload = widgets.FileUpload(accept="image/*", multiple=False, description="upload",
                                         layout=widgets.Layout(width="auto"))
        self.upload.observe(self._on_upload, names="value")
        self.status = widgets.HTML()
        cell = 330 if self.large else 250
        self.figure = LiveFigureWidget(layout=dict(width=2 * cell + 140, height=cell + 150))
        controls = self.controls
        self.widget = self._box([
            widgets.HBox([controls["model"], controls["target"]], layout=widgets.Layout(flex_flow="row wrap")),
            controls["method"],
            controls["layer"],
            widgets.HBox([controls["image_source"], controls["image_index"], self.upload],
                         layout=widgets.Layout(flex_flow="row wrap", align_items="center")),
            self.status,
            self.figure,
        ])
        initial = {"method": method, "image_index": image_index, "target": target, "image_source": image_source}
        if layer is not None:
            initial["layer"] = layer
        with self.hold_refresh():
            self._sync_layers()
            self._start(initial)

    # -- setting up ---------------------------------------------------------------------------

    def _model_entries(self, models) -> dict[str, dict]:
        """``{name: {"model": module or None, "run": CachedRun or None, "image_size": int or None}}``."""
        if isinstance(models, nn.Module):
            models = [models]
        if isinstance(models, Mapping) or (isinstance(models, Sequence) and not isinstance(models, str)):
            keys = models.keys() if isinstance(models, Mapping) else range(len(models))
            for key in keys:
                if not isinstance(models[key], nn.Module):
                    raise TypeError(f"models[{key!r}] is a {type(models[key]).__name__}, not a model: pass "
                                    "models={'ResNet-20': model} with models from build_model or load_checkpoint")
        if isinstance(models, Mapping):
            return {str(name): {"model": m, "run": None, "image_size": None} for name, m in models.items()}
        if isinstance(models, Sequence) and not isinstance(models, str):
            return {name: {"model": m, "run": None, "image_size": None}
                    for name, m in distinct_names(models).items()}
        from ..run_cache import RunCache

        cache = models if models is not None else RunCache()
        if not isinstance(cache, RunCache):
            raise TypeError("models must be a dict of name -> model, a list of models or a RunCache, "
                            f"not {type(models).__name__}")
        self.run_cache = cache
        try:
            runs = [run for run in cache.list() if run.status in ("finished", "stopped")]
        except Exception as error:  # a damaged cache must not stop the explorer from opening
            self._setup_errors.append(f"could not read the run cache at {cache.root}: {error}")
            runs = []
        if not runs:
            self._setup_errors.append(
                f"no trained models in the run cache ({cache.root}): train one first, or pass "
                "models={'ResNet-20': model}")
        entries = {}
        names = [run.model_name for run in runs]
        for run in runs:
            name = f"{run.model_name} · test error {run.final_test_error:.1%}"
            if names.count(run.model_name) > 1:
                name += f" · {run.key[:6]}"
            data = run.setup.get("data", {}) if isinstance(run.setup, Mapping) else {}
            entries[name] = {"model": None, "run": run, "image_size": data.get("image_size")}
        return entries

    def _load_dataset(self, dataset):
        if dataset is not None:
            return dataset
        try:
            from ..data import load_dataset

            return load_dataset()
        except Exception as error:
            self._setup_errors.append(f"no test images ({type(error).__name__}: {error}); pass dataset=")
            return None

    # -- reacting to controls -----------------------------------------------------------------

    def _on_control_change(self, change) -> None:
        if change["owner"] is self.controls["model"]:
            with self.hold_refresh():
                self._stale = True
                self._sync_layers()
            return
        super()._on_control_change(change)

    def _on_index_change(self, change) -> None:
        # Moving the slider means "show me test images again" (not inside set_state).
        if not self._hold_depth and self.controls["image_source"].value == "upload":
            self.controls["image_source"].value = "test set"

    def _on_upload(self, change) -> None:
        files = change["new"]
        if not files:
            return
        file = files[-1] if isinstance(files, (list, tuple)) else list(files.values())[-1]
        content = bytes(file["content"])
        name = file.get("name", "the upload")
        try:
            self._decode(content, name)  # fail now, with the file's name, rather than later
        except Exception as error:  # one readable line in the widget, not a traceback
            self.errors = [str(error) if isinstance(error, ValueError) else f"{type(error).__name__}: {error}"]
            self._show_status()
            return
        self.uploaded, self.upload_name = content, name
        self._results.clear()
        with self.hold_refresh():
            self._stale = True
            self.controls["image_source"].value = "upload"

    def _sync_layers(self) -> None:
        """The layer menu lists the current model's stages; keep the choice if it still exists."""
        control = self.controls["layer"]
        try:
            model = self.current_model()
        except Exception:
            return
        names = layer_names(model) if model is not None else ["stage3"]
        if list(control.options) != names:
            previous = control.value
            control.options = names
            control.value = previous if previous in names else names[-1]

    # -- the model and the image --------------------------------------------------------------

    def current_model(self) -> nn.Module | None:
        name = self.controls["model"].value if "model" in self.controls else None
        if name is None:
            return None
        entry = self._entries[name]
        if entry["model"] is None:
            if name not in self._loaded:
                self._loaded[name] = self.run_cache.load_model(entry["run"]).eval()
            return self._loaded[name]
        return entry["model"]

    def _model_image_size(self) -> int | None:
        name = self.controls["model"].value
        return self._entries[name]["image_size"] if name is not None else None

    def _decode(self, content: bytes, name: str = "the upload") -> tuple[torch.Tensor, torch.Tensor]:
        """An uploaded picture as (standardized image, display image in [0, 1])."""
        model = self.current_model()
        channels = getattr(getattr(model, "config", None), "in_channels", None) or (
            self.dataset.in_channels if self.dataset is not None else 1)
        size = self._model_image_size() or (self.dataset.image_size if self.dataset is not None else 32)
        mean, std = (self.dataset.mean, self.dataset.std) if self.dataset is not None else (0.5, 0.5)
        if len(mean) != channels:
            mean, std = (sum(mean) / len(mean),), (sum(std) / len(std),)
        image = load_image(content, channels, size, mean, std, name=name)
        mean_t = torch.as_tensor(mean, dtype=torch.float32).reshape(-1, 1, 1)
        std_t = torch.as_tensor(std, dtype=torch.float32).reshape(-1, 1, 1)
        return image, (image * std_t + mean_t).clamp(0, 1)

    def current_image(self) -> tuple[torch.Tensor, torch.Tensor, int | None, str]:
        """(standardized image, display image, true label or None, description)."""
        if self.controls["image_source"].value == "upload":
            if self.uploaded is None:
                raise ValueError("no picture uploaded yet: use the upload button, or pick 'test set'")
            image, display = self._decode(self.uploaded, self.upload_name)
            return image, display, None, f"uploaded {self.upload_name}"
        if self.dataset is None:
            raise ValueError("no test images: pass dataset=, or upload a picture")
        index = self.controls["image_index"].value
        image = self.dataset.test_images[index]
        display = self.dataset.to_display(image)
        label = int(self.dataset.test_labels[index])
        description = f"test image {index}"
        size = self._model_image_size()
        if size and image.shape[-1] != size:
            image = F.interpolate(image[None], size=(size, size), mode="bilinear", antialias=True)[0]
            display = F.interpolate(display[None], size=(size, size), mode="bilinear", antialias=True)[0]
            description += f", resized to {size}×{size} as the model was trained"
        return image, display.clamp(0, 1), label, description

    # -- refreshing ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Compute the chosen method's map for the chosen image and model; update the figure."""
        with thread_limit(self.threads):
            self._refresh()

    def _refresh(self) -> None:
        started = time.perf_counter()
        self.errors = list(self._setup_errors)
        values = {name: control.value for name, control in self.controls.items()}
        method = ATTRIBUTION_METHODS[values["method"]]
        self.controls["layer"].disabled = not method.takes_layer
        self.result = None
        try:
            model = self.current_model()
            if model is None:
                raise ValueError("no model to explain")
            image, display, label, description = self.current_image()
            target = None if values["target"] == PREDICTED else values["target"]
            layer = values["layer"] if method.takes_layer else None
            key = (values["model"], description, values["method"], layer, target,
                   self.uploaded if values["image_source"] == "upload" else None)
            if key in self._results:
                self._results.move_to_end(key)
                self.result = self._results[key]
            else:
                self.result = attribute(model, image, values["method"], target, layer,
                                        **self.method_options.get(values["method"], {}))
                self._results[key] = self.result
                if len(self._results) > _CACHE_SIZE:
                    self._results.popitem(last=False)
            class_names = list(self.dataset.class_names) if self.dataset is not None else None
            figure = attribution_overlay(display, self.result, class_names=class_names, label=label,
                                         model_name=values["model"].split(" · ")[0], large=self.large,
                                         width=self.figure.layout.width, height=self.figure.layout.height)
            update_in_place(self.figure, figure)
            self.description = description
        except Exception as error:  # one readable line in the widget, not a traceback
            self.errors.append(f"{type(error).__name__}: {error}" if not isinstance(error, ValueError)
                               else str(error))
            self._clear_figure()
        self.last_update_seconds = time.perf_counter() - started
        self._show_status()

    def _clear_figure(self) -> None:
        empty = go.Figure(layout=dict(width=self.figure.layout.width, height=self.figure.layout.height,
                                      title=dict(text="no map: see the message above"),
                                      xaxis=dict(visible=False), yaxis=dict(visible=False)))
        update_in_place(self.figure, empty)

    def _show_status(self) -> None:
        options = (ATTRIBUTION_METHODS[self.result.method].describe_options(self.result.options)
                   if self.result and not self.errors else "")
        self.status.value = status_html(self.errors, f"{getattr(self, 'description', '')} · "
                                                     f"{options or 'no options'} · "
                                                     f"updated in {self.last_update_seconds:.2f} s")

