"""The lesion explorer: remove blocks from trained nets and see their test error (Veit et al. 2016).

A slider sets how many blocks to remove and another picks one of several random draws; the
grid of block buttons shows which blocks are removed (pressed) and lets you remove or restore
any block by hand. Every change re-measures each net's test error with those blocks removed
and marks it on the error-vs-blocks-removed curve of the lesion studies, if given.
Data flows one way: controls -> ``lesioned`` + ``test_error`` -> ``removal_figure`` -> FigureWidget.

Example::

    from resnet_explorer.widgets import LesionExplorer
    LesionExplorer({"plain-56": plain, "ResNet-56": resnet}, images, labels,
                   studies=[plain_study, resnet_study])
"""

from __future__ import annotations

import html
import time
from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import numpy as np
import torch
from torch import nn

from .._model_state import as_found
from ..checks import check_images, check_labels, check_model, check_seed, check_whole_number
from ..device import model_device
from ..figures import style
from ..figures.lesion import removal_figure
from ..figures.live import LiveFigureWidget, update_in_place
from ..lesion import lesioned, network_blocks, random_blocks, removable, test_error
from ..speed import thread_limit
from .explorer import Explorer, InvalidStateError, distinct_names
from .look import status_html, text_html

DRAWS = 10


class LesionExplorer(Explorer):
    """Remove blocks from trained nets, by a random draw of k blocks or by hand, and see the error.

    Args:
        models: ``{name: model}`` or a list of models (named by their config), e.g. a trained
            plain-56 and ResNet-56. They must have the same blocks (they share the grid).
        images, labels: what the error is measured on (a few hundred test images keep each
            update under a second; ``benchmarks/bench_why_resnets_train.py`` measures it).
        studies: ``LesionStudy`` results to draw behind the current lesion (optional).
        removed_count, draw: the controls' first values: how many blocks a random draw
            removes, and which of ``DRAWS`` draws. Draws come from the blocks every net can
            lose (a plain net cannot lose its downsampling blocks).
        threads: torch threads while measuring (``None``: torch's setting).
        large: projector-sized fonts (default: the figures' current theme).

    The block buttons are the view of ``removed`` (the blocks removed now); a scenario saves
    the two sliders, not blocks chosen by hand.
    """

    CONTROL_NAMES = ("removed_count", "draw")

    def __init__(
        self,
        models,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        studies: Sequence = (),
        removed_count: int = 0,
        draw: int = 0,
        seed: int = 0,
        batch_size: int = 500,
        threads: int | None = None,
        large: bool | None = None,
    ):
        super().__init__(large)
        self.models = self._named_models(models)
        first = next(iter(self.models.values()))
        self.images = check_images(first, images)
        self.labels = check_labels(first, self.images, labels)
        self.studies = list(studies) if isinstance(studies, Sequence) else [studies]
        self.seed = check_seed(seed)
        self.batch_size = check_whole_number("batch_size", batch_size, minimum=1)
        self.threads = None if threads is None else check_whole_number("threads", threads, minimum=1)
        self.blocks = network_blocks(first)
        self.can_remove = {label: {block.path: removable(block) for block in self._blocks_of(label, model)}
                          for label, model in self.models.items()}
        self.candidates = [block.path for block in self.blocks
                           if all(self.can_remove[label][block.path] for label in self.models)]
        self.removed: tuple[str, ...] = ()
        self.errors: dict[str, float] = {}
        self.messages: list[str] = []
        self.last_update_seconds = float("nan")
        self._cache: dict[tuple[str, tuple[str, ...]], float] = {}
        self._syncing = False

        slider_style = {"description_width": "200px"}
        self.add_controls({
            "removed_count": widgets.IntSlider(
                value=0, min=0, max=len(self.candidates), description="blocks removed",
                continuous_update=False, layout=widgets.Layout(width="620px"), style=slider_style),
            "draw": widgets.IntSlider(
                value=0, min=0, max=DRAWS - 1, description="random draw", continuous_update=False,
                layout=widgets.Layout(width="620px"), style=slider_style),
        })
        self.buttons = {block.path: self._block_button(block) for block in self.blocks}
        grid = widgets.VBox([
            widgets.HBox([widgets.Label(f"stage {stage.index}", layout=widgets.Layout(width="90px"))]
                         + [self.buttons[block.path] for block in stage.blocks],
                         layout=widgets.Layout(flex_flow="row wrap"))
            for stage in first.config.layout.stages])
        self.summary = widgets.HTML()
        self.status = widgets.HTML()
        width, height = style.figure_size("panel", large=self.large)
        self.figure = LiveFigureWidget(layout=dict(width=int(width * 1.6), height=height))
        self.widget = self._box([
            self.controls["removed_count"], self.controls["draw"],
            widgets.HTML(text_html("<b>Which blocks</b>: pressed = removed; click one to remove or "
                                   "restore it; ⇣ marks a downsampling block", kind="caption")),
            grid, self.summary, self.status, self.figure])
        self._start({"removed_count": removed_count, "draw": draw})

    # -- setting up ---------------------------------------------------------------------------

    @staticmethod
    def _named_models(models) -> dict[str, nn.Module]:
        if isinstance(models, nn.Module):
            models = [models]
        if isinstance(models, Mapping):
            named = dict(models)
        elif isinstance(models, Sequence) and not isinstance(models, str):
            named = distinct_names(models)
        else:
            raise TypeError(f"models must be a dict of name -> model or a list of models, not "
                            f"{type(models).__name__}")
        if not named:
            raise ValueError("models is empty; give at least one trained net, e.g. "
                             "{'ResNet-56': rx.load_checkpoint('resnet56-fashion-mnist-long')}")
        for model in named.values():
            check_model(model, needs_config=True, what="LesionExplorer")
        return named

    def _blocks_of(self, label: str, model: nn.Module):
        blocks = network_blocks(model)
        if [block.path for block in blocks] != [block.path for block in self.blocks]:
            raise ValueError(f"the nets must have the same blocks to share one grid; {label} differs "
                             f"from {next(iter(self.models))}")
        check_images(model, self.images)
        return blocks

    def _block_button(self, block) -> widgets.ToggleButton:
        label = f"{block.stage}.{block.name.removeprefix('block')}" + (" ⇣" if block.shape_changes else "")
        button = widgets.ToggleButton(value=False, description=label, tooltip=block.path,
                                      layout=widgets.Layout(width="84px"))
        button.observe(lambda change, path=block.path: self._on_block_clicked(path, change["new"]),
                       names="value")
        return button

    def check_value(self, name: str, value):
        if name == "removed_count" and isinstance(value, int) and not isinstance(value, bool) \
                and not 0 <= value <= len(self.candidates):
            raise InvalidStateError(f"removed_count: {value} is out of range; these nets can lose 0 to "
                                    f"{len(self.candidates)} blocks (not their downsampling blocks if "
                                    "one of them is a plain net)")
        return super().check_value(name, value)

    # -- which blocks -------------------------------------------------------------------------

    def _on_block_clicked(self, path: str, pressed: bool) -> None:
        if self._syncing:
            return
        removed = set(self.removed) | {path} if pressed else set(self.removed) - {path}
        self.removed = tuple(block.path for block in self.blocks if block.path in removed)
        self._measure_and_draw(by_hand=True)

    def _show_removed(self) -> None:
        self._syncing = True
        try:
            for path, button in self.buttons.items():
                button.value = path in self.removed
                button.button_style = "danger" if path in self.removed else ""
        finally:
            self._syncing = False

    # -- refreshing ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """A new random draw of ``removed_count`` blocks, then measure and draw."""
        count, draw = self.controls["removed_count"].value, self.controls["draw"].value
        self.removed = random_blocks(self.candidates, self.blocks, count, draw, self.seed)
        self._measure_and_draw(by_hand=False)

    def _measure_and_draw(self, by_hand: bool) -> None:
        started = time.perf_counter()
        self._show_removed()
        self.messages = []
        with thread_limit(self.threads):
            self.errors = {label: self._error(label) for label in self.models}
        self.last_update_seconds = time.perf_counter() - started
        count = len(self.removed)
        figure = removal_figure(self.studies, current={label: (count, error) for label, error in self.errors.items()},
                                title=f"{count} block{'s' if count != 1 else ''} removed",
                                large=self.large, width=self.figure.layout.width,
                                height=self.figure.layout.height)
        update_in_place(self.figure, figure)
        self._write_status(by_hand)

    def _error(self, label: str) -> float:
        key = (label, self.removed)
        if key not in self._cache:
            model = self.models[label]
            unremovable = [path for path in self.removed if not self.can_remove[label][path]]
            if unremovable:
                self.messages.append(f"{label} cannot run without {', '.join(unremovable)} (a plain block "
                                     "that changes the shape)")
                return float("nan")
            try:
                device = model_device(model)
                with as_found(model, training=False), lesioned(model, remove=self.removed):
                    self._cache[key] = test_error(model, self.images.to(device), self.labels.to(device),
                                                  self.batch_size)
            except Exception as error:  # shown in the widget, not as a traceback
                self.messages.append(f"{label}: {type(error).__name__}: {error}")
                return float("nan")
        return self._cache[key]

    def _write_status(self, by_hand: bool) -> None:
        removed = ", ".join(path.replace("stage", "").replace(".block", ".") for path in self.removed) or "none"
        how = "chosen by hand" if by_hand else f"random draw {self.controls['draw'].value}"
        errors = " · ".join(f"<b>{html.escape(label)}</b> {error:.1%}" if np.isfinite(error)
                            else f"<b>{html.escape(label)}</b> cannot run" for label, error in self.errors.items())
        self.summary.value = text_html(f"Removed ({how}): {html.escape(removed)}<br>"
                                       f"Test error on {len(self.images)} images: {errors}")
        self.status.value = status_html(self.messages, f"updated in {self.last_update_seconds:.2f} s")
