"""The training race: plain nets against ResNets, trained live in class (He et al. 2015, Figs. 1 and 6).

Tick the nets to race (by default plain-20, plain-56, ResNet-20 and ResNet-56 with option A
shortcuts), press Train, and watch the curves grow at every evaluation: training error dashed,
test error bold (the paper's Fig. 6), against training steps. With the brief schedule plain-56
ends with a *higher training error* than plain-20 -- the degradation problem of Fig. 1 -- while
ResNet-56 ends only a few points above ResNet-20, a fraction of the plain nets' gap.

The nets train one after another in a background thread, so the notebook stays responsive and
the Stop button works during training. Each net is built right after ``torch.manual_seed(seed)``
(this is ``compare``), finished runs go to the run cache, and a net trained before with the same
data, schedule and seed is shown at once. Earlier runs stay on the plot until "Clear plot".

Example::

    from resnet_explorer.widgets.training_race import TrainingRace
    race = TrainingRace()       # Fashion-MNIST at 16x16; schedule "brief" ("fast" in fast mode)
    race                        # displays the controls and the live plot
    race.train(); race.wait()   # what the Train button does, then wait for the end (scripts, tests)
"""

from __future__ import annotations

import html
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

import ipywidgets as widgets
import plotly.graph_objects as go
import traitlets

from ..figures import style
from ..figures.curves import curve_points, training_curves
from ..figures.live import LiveFigureWidget, update_in_place
from ..models import ModelConfig
from ..run_cache import RunCache
from ..training import BRIEF_IMAGE_SIZE, SCHEDULES, History, Schedule, compare, default_schedule
from .architecture_explorer import DEPTHS, SHORTCUTS
from .scenarios import Explorer, InvalidStateError

#: The nets of Figs. 1 and 6 (Fashion-MNIST stands in for CIFAR-10).
DEFAULT_CONFIGURATIONS = ("plain-20", "plain-56", "ResNet-20 (A)", "ResNet-56 (A)")
#: At most this many plot updates per second while a net trains (each costs the training time).
REDRAWS_PER_SECOND = 2.0

_NAME = re.compile(r"^\s*(?:plain-(?P<plain>\d+)|resnet-(?P<depth>\d+)\s*(?:\(\s*(?P<shortcut>[abc])\s*\))?)\s*$",
                   re.IGNORECASE)
_ERROR_COLOR = "#B00020"


def configuration_arguments(name: str) -> dict:
    """The ``build_model`` arguments of a net in the race: "plain-20" -> depth 20, shortcut "none".

    Names are ``ModelConfig.name``s: "plain-20", "ResNet-56 (A)", "ResNet-56 (B)", "ResNet-56 (C)";
    "ResNet-56" alone means option A, as in the paper's CIFAR-10 nets.
    """
    match = _NAME.match(name) if isinstance(name, str) else None
    if match is None:
        raise InvalidStateError(f"configuration {name!r} is not understood; write it as 'plain-20' "
                                "or 'ResNet-56 (A)' (shortcut A, B or C)")
    if match["plain"]:
        depth, shortcut = int(match["plain"]), "none"
    else:
        depth, shortcut = int(match["depth"]), (match["shortcut"] or "A").upper()
    try:
        ModelConfig(depth=depth, shortcut=shortcut)
    except ValueError as error:
        raise InvalidStateError(f"configuration {name!r}: {error}") from None
    return {"depth": depth, "shortcut": shortcut}


def configuration_name(depth: int, shortcut: str) -> str:
    """The race's name of a net: its ``ModelConfig.name``, e.g. "plain-20" or "ResNet-56 (A)"."""
    return ModelConfig(depth=depth, shortcut=shortcut).name


def one_line(error: BaseException, limit: int = 300) -> str:
    """``"TypeName: message"`` on one line, shortened to ``limit`` characters."""
    message = " ".join(str(error).split())
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return text if len(text) <= limit else text[:limit - 1] + "…"


class ConfigurationChecklist(widgets.HBox):
    """One checkbox per net; ``value`` is the tuple of ticked names, in the order shown.

    Setting ``value`` to names that have no checkbox yet adds theirs. ``disabled`` greys them all.
    """

    value = traitlets.Tuple()
    disabled = traitlets.Bool(False)

    def __init__(self, names: Iterable[str] = (), description: str = "", **kwargs):
        kwargs.setdefault("layout", widgets.Layout(flex_flow="row wrap", align_items="center",
                                                   grid_gap="4px 20px"))
        super().__init__(**kwargs)
        self._boxes: dict[str, widgets.Checkbox] = {}
        self._syncing = False
        if description:
            self.children = (widgets.HTML(f"<b>{html.escape(description)}</b>"),)
        for name in names:
            self._add_box(name)

    @property
    def names(self) -> tuple[str, ...]:
        """Every net that has a checkbox, ticked or not."""
        return tuple(self._boxes)

    def add(self, name: str) -> None:
        """Show a checkbox for ``name`` (if there is none yet) and tick it."""
        self.value = (*self.value, name)

    def _add_box(self, name: str) -> None:
        if name in self._boxes:
            return
        box = widgets.Checkbox(value=False, description=name, indent=False, disabled=self.disabled,
                               layout=widgets.Layout(width="auto"))
        box.observe(self._on_box, names="value")
        self._boxes[name] = box
        self.children = (*self.children, box)

    @traitlets.validate("value")
    def _ordered(self, proposal) -> tuple[str, ...]:
        ticked = set(proposal["value"])
        for name in proposal["value"]:
            self._add_box(name)
        return tuple(name for name in self._boxes if name in ticked)

    @traitlets.observe("value")
    def _show_value(self, change) -> None:
        self._syncing = True
        try:
            for name, box in self._boxes.items():
                box.value = name in change["new"]
        finally:
            self._syncing = False

    @traitlets.observe("disabled")
    def _show_disabled(self, change) -> None:
        for box in self._boxes.values():
            box.disabled = change["new"]

    def _on_box(self, change) -> None:
        if not self._syncing:
            self.value = tuple(name for name, box in self._boxes.items() if box.value)


@dataclass
class RaceProgress:
    """One press of Train: the nets, the schedule, and the runs so far (the last may be running)."""

    names: tuple[str, ...]
    schedule: Schedule
    started: float = field(default_factory=time.monotonic)
    runs: list[History] = field(default_factory=list)
    failure: str = ""  # one line, when training raised
    plot_failure: str = ""  # one line, when updating the plot raised (training went on)

    @property
    def total_steps(self) -> int:
        return len(self.names) * self.schedule.steps

    @property
    def done_steps(self) -> int:
        """Steps behind us: a finished or diverged run counts whole, a running or stopped one as far as it got."""
        return sum(self.schedule.steps if run.status in ("finished", "diverged") else len(run.steps)
                   for run in self.runs)


class TrainingRace(Explorer):
    """Train plain nets and ResNets one after another and watch their error curves grow (Fig. 6).

    Args (controls; the same names as in ``state()``):
        configurations: the ticked nets, by name ("plain-20", "ResNet-56 (A)"; depths 6n+2).
            The four nets of Fig. 6 always have a checkbox; others get one when ticked or added.
        schedule: a name in ``SCHEDULES`` ("fast", "brief", "paper"), a ``Schedule`` or a dict
            of its fields; default ``default_schedule()`` ("fast" when RESNET_EXPLORER_FAST=1).
        add_depth, add_shortcut: the net that "Add to race" adds (depth 6n+2; "A", "B", "C",
            "none").

    Other options:
        data: a ``Dataset``; default ``load_dataset(image_size=BRIEF_IMAGE_SIZE)``, the 16x16
            images the brief schedule was tuned for.
        seed: every net is built right after ``torch.manual_seed(seed)`` and trained with it.
        cache: a ``RunCache``, ``True`` (the default cache) or ``None`` (train every time).
        large: projector-sized fonts (default: the figures' current theme).
        redraws_per_second: how often the plot grows while a net trains.

    Buttons call ``train()``, ``stop()``, ``clear()`` and ``add_configuration()``; ``wait()``
    waits for the race to end, ``histories`` are the runs on the plot.
    """

    CONTROL_NAMES = ("configurations", "schedule", "add_depth", "add_shortcut")

    def __init__(
        self,
        configurations: Iterable[str] = DEFAULT_CONFIGURATIONS,
        schedule: str | Schedule | Mapping | None = None,
        add_depth: int = 32,
        add_shortcut: str = "A",
        *,
        data=None,
        seed: int = 0,
        cache: RunCache | bool | None = True,
        large: bool | None = None,
        redraws_per_second: float = REDRAWS_PER_SECOND,
    ):
        super().__init__()
        if cache is not None and not isinstance(cache, (bool, RunCache)):
            raise TypeError(f"cache must be a RunCache, True (the default cache) or None (no cache), "
                            f"not {type(cache).__name__}")
        if data is not None and not hasattr(data, "train_images"):
            raise TypeError(f"data must be a Dataset (load_dataset(...)), not {type(data).__name__}")
        if not redraws_per_second > 0:
            raise ValueError(f"redraws_per_second must be positive, got {redraws_per_second!r}")
        if data is None:
            from ..data import load_dataset

            data = load_dataset(image_size=BRIEF_IMAGE_SIZE)
        self.data = data
        self.seed = seed
        self.cache = RunCache() if cache is True else (cache or None)
        self.large = style.theme(large).font_size > 16 if large is None else large
        self.redraw_interval = 1.0 / redraws_per_second
        self.race: RaceProgress | None = None  # the race in flight, or the last one
        self.status_text = ""
        self._histories: list[History] = []
        self._lock = threading.RLock()
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy = False
        self._last_redraw = 0.0
        self._trace_slots: dict[int, tuple] = {}  # id(history) -> its (training, test) traces

        font = self._font_size()
        button_style = {"font_size": font, "font_weight": "bold"}
        button_layout = dict(width="auto", height="44px" if self.large else "32px", padding="0 18px")
        dropdown_style = {"description_width": "auto"}
        self.add_controls({
            "configurations": ConfigurationChecklist(DEFAULT_CONFIGURATIONS, description="Nets in the race:"),
            "schedule": widgets.Dropdown(options=self._schedule_options(), description="schedule",
                                         style=dropdown_style, layout=widgets.Layout(width="480px")),
            "add_depth": widgets.Dropdown(options=DEPTHS, value=32, description="add a net: depth",
                                          style=dropdown_style, layout=widgets.Layout(width="auto")),
            "add_shortcut": widgets.Dropdown(options=SHORTCUTS, value="A", description="shortcut",
                                             style=dropdown_style, layout=widgets.Layout(width="auto")),
        })
        self.add_button = widgets.Button(description="+ Add to race", style={"font_size": font},
                                         layout=widgets.Layout(**button_layout))
        self.train_button = widgets.Button(description="▶ Train", button_style="success",
                                           style=button_style, layout=widgets.Layout(**button_layout))
        self.stop_button = widgets.Button(description="■ Stop", button_style="danger", disabled=True,
                                          style=button_style, layout=widgets.Layout(**button_layout))
        self.clear_button = widgets.Button(description="Clear plot", style={"font_size": font},
                                           layout=widgets.Layout(**button_layout))
        self.add_button.on_click(lambda _: self.add_configuration())
        self.train_button.on_click(lambda _: self.train())
        self.stop_button.on_click(lambda _: self.stop())
        self.clear_button.on_click(lambda _: self.clear())

        self.progress = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(
            width="420px", height="30px" if self.large else "20px"))
        self.progress_label = widgets.HTML()
        self.status = widgets.HTML()
        self.results = widgets.HTML()
        self.caption = widgets.HTML()
        width, height = style.figure_size("curves", large=self.large)
        self.figure = LiveFigureWidget(layout=dict(width=width, height=height))

        controls = self.controls
        gap = widgets.Layout(flex_flow="row wrap", align_items="center", grid_gap="8px 16px")
        self.widget = widgets.VBox([
            widgets.HTML(self._css()),
            controls["configurations"],
            widgets.HBox([controls["add_depth"], controls["add_shortcut"], self.add_button], layout=gap),
            controls["schedule"],
            widgets.HBox([self.train_button, self.stop_button, self.clear_button], layout=gap),
            widgets.HBox([self.progress, self.progress_label], layout=gap),
            self.status,
            self.results,
            self.caption,
            self.figure,
        ], layout=widgets.Layout(grid_gap="6px"))
        self.widget.add_class("rx-race")

        initial = dict(configurations=configurations,
                       schedule=default_schedule() if schedule is None else schedule,
                       add_depth=add_depth, add_shortcut=add_shortcut)
        with self.hold_refresh():
            self._stale = True  # refresh once even if every value is the default
            self.set_state({"controls": initial})  # refresh() draws the empty plot

    # -- look ---------------------------------------------------------------------------------

    def _font_size(self) -> str:
        return "20px" if self.large else "14px"

    def _css(self) -> str:
        size, box = self._font_size(), "22px" if self.large else "15px"
        return (f"<style>.rx-race .widget-label, .rx-race .widget-label-basic, .rx-race label, "
                f".rx-race select, .rx-race .widget-html-content {{font-size: {size};}} "
                f".rx-race select {{height: auto;}} "
                f".rx-race input[type=checkbox] {{width: {box}; height: {box};}}</style>")

    def _html(self, text: str, color: str = "#222222", bold: bool = False) -> str:
        weight = "bold" if bold else "normal"
        return (f"<div style='font-size:{self._font_size()}; color:{color}; font-weight:{weight}; "
                f"line-height:1.4'>{text}</div>")

    def _set_status(self, text: str, color: str = "#222222") -> None:
        self.status_text = text
        self.status.value = self._html(html.escape(text), color, bold=True)

    # -- state --------------------------------------------------------------------------------

    @staticmethod
    def _schedule_label(name: str, schedule: Schedule) -> str:
        return f"{name}: {schedule.steps:,} steps of {schedule.batch_size}"

    def _schedule_options(self, extra: Iterable[Schedule] = ()) -> list[tuple[str, object]]:
        options: list[tuple[str, object]] = [(self._schedule_label(name, preset), name)
                                             for name, preset in SCHEDULES.items()]
        return options + [(self._schedule_label("custom", schedule), schedule) for schedule in extra]

    def _offer_schedule(self, schedule: Schedule) -> None:
        """Add a custom schedule to the dropdown's choices (earlier ones stay)."""
        control = self.controls["schedule"]
        customs = [value for _, value in control.options if isinstance(value, Schedule)]
        if schedule not in customs:
            control.options = self._schedule_options([*customs, schedule])

    def check_value(self, name: str, value):
        if name == "configurations":
            if isinstance(value, str) or not isinstance(value, Iterable):
                raise InvalidStateError(f"configurations must be a list of net names such as "
                                        f"['plain-20', 'ResNet-20 (A)'], not {value!r}")
            return tuple(dict.fromkeys(configuration_name(**configuration_arguments(entry))
                                       for entry in value))
        if name == "schedule":
            schedule = self._as_schedule(value)
            if isinstance(schedule, Schedule):
                self._offer_schedule(schedule)
            return schedule
        return super().check_value(name, value)

    @staticmethod
    def _as_schedule(value) -> str | Schedule:
        """A preset's name, or a custom ``Schedule``; ``InvalidStateError`` saying what is allowed."""
        allowed = f"allowed: {', '.join(repr(n) for n in SCHEDULES)}, a Schedule or a dict of its fields"
        if isinstance(value, str):
            if value not in SCHEDULES:
                raise InvalidStateError(f"schedule: unknown schedule {value!r}; {allowed}")
            return value
        if isinstance(value, Mapping):
            try:
                value = Schedule(**value)
            except (TypeError, ValueError) as error:
                raise InvalidStateError(f"schedule: {error}") from None
        if not isinstance(value, Schedule):
            raise InvalidStateError(f"schedule: {value!r} is not allowed; {allowed}")
        return next((name for name, preset in SCHEDULES.items() if preset == value), value)

    def state(self) -> dict:
        """Like ``Explorer.state``, with the ticked nets as a list and a custom schedule as a dict."""
        state = super().state()
        values = state["controls"]
        values["configurations"] = list(values["configurations"])
        if isinstance(values["schedule"], Schedule):
            values["schedule"] = values["schedule"].as_dict()
        return state

    @property
    def schedule(self) -> Schedule:
        """The schedule the next race will use."""
        value = self.controls["schedule"].value
        return SCHEDULES[value] if isinstance(value, str) else value

    @property
    def configurations(self) -> tuple[str, ...]:
        """The ticked nets, in the order they will train."""
        return self.controls["configurations"].value

    # -- showing and hiding: the Add button goes with the add controls --------------------------

    def hide_controls(self, names) -> None:
        super().hide_controls(names)
        self._show_add_button()

    def show_controls(self, names) -> None:
        super().show_controls(names)
        self._show_add_button()

    def _show_add_button(self) -> None:
        hidden = set(self.hidden_controls())
        self.add_button.layout.display = "none" if {"add_depth", "add_shortcut"} <= hidden else None

    # -- refreshing (a control changed) -------------------------------------------------------

    def refresh(self) -> None:
        """Show the choices: the Train button, the caption, and (when idle) what Train will do."""
        self.caption.value = self._caption()
        self._update_train_button()
        if self._busy:
            return
        if not self._histories:
            self._redraw()  # the empty axes span the chosen schedule
        names = self.configurations
        if names:
            self._set_status(f"Ready to train {len(names)} net{'s' if len(names) > 1 else ''}: "
                             f"{', '.join(names)}. Press ▶ Train.")
        else:
            self._set_status("Tick at least one net, then press ▶ Train.")

    def _update_train_button(self) -> None:
        self.train_button.disabled = self._busy or not self.configurations

    def _caption(self) -> str:
        data, plan = self.data, self.schedule
        images = data.train_images
        warmup = f", lr {plan.lr / 10:g} for the first {plan.warmup_steps} steps" if plan.warmup_steps else ""
        milestones = ", ".join(f"{round(m * plan.steps):,}" for m in plan.milestones)
        test_size = plan.eval_size or len(data.test_images)
        text = (f"{html.escape(str(getattr(data, 'name', 'data')))}: {len(images):,} training images, "
                f"{images.shape[-2]}×{images.shape[-1]} · {plan.steps:,} steps of {plan.batch_size}, "
                f"lr {plan.lr:g}{warmup}, ÷10 at steps {milestones} · seed {self.seed}. "
                f"Every {plan.eval_every:,} steps, in eval mode: dashed, training error on "
                f"{min(test_size, len(images)):,} fixed training images; bold, test error on "
                f"{min(test_size, len(data.test_images)):,} test images.")
        return f"<div style='font-size:{'17px' if self.large else '13px'}; color:#444444'>{text}</div>"

    # -- the race -----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while a race is in flight."""
        return self._busy

    @property
    def histories(self) -> list[History]:
        """The runs on the plot, oldest first (earlier races too, until ``clear()``)."""
        with self._lock:
            return list(self._histories)

    def add_configuration(self, depth: int | None = None, shortcut: str | None = None) -> str:
        """Add a net to the race and tick it (default: the "add a net" controls); returns its name."""
        depth = self.controls["add_depth"].value if depth is None else depth
        shortcut = self.controls["add_shortcut"].value if shortcut is None else shortcut
        try:
            name = configuration_name(depth, shortcut)
        except ValueError as error:
            raise InvalidStateError(str(error)) from None
        self.controls["configurations"].add(name)
        return name

    def train(self) -> threading.Thread | None:
        """Start the race (the Train button): the ticked nets train one after another in a thread.

        Returns the thread (``wait()`` joins it), or None when no net is ticked. While a race
        is in flight this does nothing and returns its thread.
        """
        with self._lock:
            if self._busy:
                return self._thread
            names = self.configurations
            if not names:
                self._set_status("Tick at least one net, then press ▶ Train.")
                return None
            self.race = race = RaceProgress(names, self.schedule)
            self._stop_event.clear()
            self._set_busy(True)
        self._set_status(f"Training {len(names)} net{'s' if len(names) > 1 else ''}, one after another…")
        self._show_progress()
        self._thread = threading.Thread(target=self._run_race, args=(race,), daemon=True,
                                        name="resnet_explorer training race")
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        """Stop the race before the next training step (the Stop button); the curve so far stays."""
        if self._busy:
            self._stop_event.set()
            self._set_status("Stopping after this training step…")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the race in flight to end (at most ``timeout`` seconds); True once it has."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self._busy

    def clear(self) -> None:
        """Remove every run from the plot (the Clear plot button); not while a race is in flight."""
        if self._busy:
            return
        with self._lock:
            self._histories = []
        self.refresh()  # draws the empty plot

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        for control in self.controls.values():
            control.disabled = busy
        self.add_button.disabled = self.clear_button.disabled = busy
        self.stop_button.disabled = not busy
        self._update_train_button()

    def _run_race(self, race: RaceProgress) -> None:
        """The thread: ``compare`` the ticked nets; any error ends as one line in the status."""
        try:
            compare([configuration_arguments(name) for name in race.names], self.data, seed=self.seed,
                    schedule=race.schedule, progress=False, callback=self._on_progress,
                    callback_every=1, stop_event=self._stop_event, cache=self.cache)
        except Exception as error:  # shown in the widget as one readable line, never a traceback
            race.failure = one_line(error)
        finally:
            try:
                self._redraw(race)
                self._show_progress()
                self._set_status(*self._summary(race))
            finally:
                self._set_busy(False)

    def _on_progress(self, history: History) -> None:
        """``train``'s callback, in the training thread: grow the plot, at most a few times a second."""
        race = self.race
        new = not race.runs or race.runs[-1] is not history
        if new and history.status == "stopped" and not history.steps:
            return  # stopped before its first step: nothing to show, and an earlier curve stays
        with self._lock:
            if new:
                race.runs.append(history)
                self._keep(history)
            now = time.monotonic()
            if not new and history.status == "running" and now - self._last_redraw < self.redraw_interval:
                return
            self._last_redraw = now
        if new and not self._stop_event.is_set():
            self._set_status(f"Training {history.label} (net {len(race.runs)} of {len(race.names)})…")
        if new or history.status != "running" or not self._grow(history, race):
            self._redraw(race)
        self._show_progress()

    def _keep(self, history: History) -> None:
        """Put a run on the plot, in place of an earlier run of the same net, data and schedule."""
        for index, earlier in enumerate(self._histories):
            if (earlier.config, earlier.setup) == (history.config, history.setup):
                self._histories[index] = history
                return
        self._histories.append(history)

    # -- drawing (from the kernel's thread or the training thread) -----------------------------

    def _plotted(self) -> list[History]:
        """The runs on the plot; runs of one net with different schedules say which in the legend."""
        counts = Counter(history.label for history in self._histories)
        return [history if counts[history.label] == 1
                else replace(history, label=f"{history.label}, {_schedule_name(history.setup)}")
                for history in self._histories]

    def _redraw(self, race: RaceProgress | None = None) -> None:
        """Draw every run again (``training_curves``) into the same FigureWidget, and the results line."""
        try:
            with self._lock:
                figure = self._curves()
                update_in_place(self.figure, figure)
                traces = list(self.figure.data)
                self._trace_slots = {}
                if len(traces) == 2 * len(self._histories):
                    self._trace_slots = {id(original): (traces[2 * i], traces[2 * i + 1])
                                         for i, original in enumerate(self._histories)}
                self.results.value = self._results()
        except Exception as error:  # the race goes on; the status says what went wrong
            if race is None:
                raise
            race.plot_failure = one_line(error)

    def _curves(self) -> go.Figure:
        """Fig. 6 of the runs on the plot, the legend beside it, and steps up to the longest run.

        The x axis ends where the longest run (or the race in flight) will end, so the curves grow
        from left to right instead of the axis stretching under them.
        """
        plotted = self._plotted()
        figure = training_curves(plotted, width=self.figure.layout.width, height=self.figure.layout.height,
                                 large=self.large)
        ends = [history.setup.get("schedule", {}).get("steps", len(history.steps)) for history in plotted]
        if self._busy and self.race is not None:
            ends.append(self.race.schedule.steps)
        figure.update_layout(legend=style.OUTSIDE_LEGEND)
        figure.update_xaxes(range=[0, max(ends or [self.schedule.steps])])
        if not plotted:
            figure.update_yaxes(range=[0, 1])  # an empty plot's axes as the curves will have them
        return figure

    def _grow(self, history: History, race: RaceProgress) -> bool:
        """Extend the running net's two curves in place (cheap); False when a full redraw is needed."""
        slots = self._trace_slots.get(id(history))
        if slots is None or (slots[0].meta, slots[1].meta) != ("train", "test"):
            return False
        training, test = slots
        try:
            with self._lock, self.figure.batch_update():
                points = curve_points(history)
                training.x, training.y = points["train"]
                test.x, test.y = points["test"]
        except Exception as error:
            race.plot_failure = one_line(error)
        return True

    def _show_progress(self) -> None:
        race = self.race
        if race is None:
            return
        self.progress.max = max(1, race.total_steps)
        self.progress.value = min(race.done_steps, race.total_steps)
        if not race.runs:
            self.progress_label.value = self._html(f"0 of {len(race.names)} nets")
            return
        run = race.runs[-1]
        self.progress.style.bar_color = style.family_color(style.family_of(run.config))
        where = ("from the cache" if run.from_cache
                 else f"step {len(run.steps):,} / {race.schedule.steps:,}")
        status = "" if run.status in ("running", "finished") else f" · {run.status}"
        self.progress_label.value = self._html(
            f"net {len(race.runs)} of {len(race.names)} · <b>{html.escape(run.label)}</b> · {where}{status}")

    def _summary(self, race: RaceProgress) -> tuple[str, str]:
        """The status line at the end of a race, and its colour."""
        if race.failure:
            return f"Training failed: {race.failure}", _ERROR_COLOR
        finished = [run for run in race.runs if run.status in ("finished", "diverged")]
        cached = sum(run.from_cache for run in finished)
        stopped = [run for run in race.runs if run.status == "stopped"]
        if stopped or self._stop_event.is_set():
            text = "Race stopped"
            if stopped:
                text += (f": {stopped[-1].label} stopped at step {len(stopped[-1].steps):,} of "
                         f"{race.schedule.steps:,} (its curve is kept)")
            text += f"; {len(finished)} of {len(race.names)} nets finished."
        else:
            text = (f"Race finished: {len(finished)} net{'s' if len(finished) != 1 else ''} in "
                    f"{time.monotonic() - race.started:.1f} s" + (f" ({cached} from the cache)." if cached else "."))
        for run in race.runs:
            if run.status == "diverged":
                text += f" {run.label} diverged: {run.message}."
        if race.plot_failure:
            text += f" Updating the plot failed: {race.plot_failure}"
        diverged = any(run.status == "diverged" for run in race.runs)
        return text, _ERROR_COLOR if diverged or race.plot_failure else "#222222"

    def _results(self) -> str:
        """Final training and test error of each finished run, in its family's colour."""
        parts = []
        for history in self._plotted():
            if history.status == "running":
                continue
            color = style.family_color(style.family_of(history.config))
            note = "" if history.status == "finished" else f" ({history.status})"
            parts.append(f"<span style='white-space:nowrap'><b style='color:{color}'>"
                         f"{html.escape(history.label)}</b>{note} {_percent(history.final_train_error)} / "
                         f"{_percent(history.final_test_error)}</span>")
        if not parts:
            return ""
        return self._html("final training / test error: " + " · ".join(parts))


def _percent(value: float) -> str:
    return "–" if value != value else f"{value:.1%}"


def _schedule_name(setup: dict) -> str:
    """A run's schedule (from ``History.setup``) as a preset's name, else its number of steps."""
    values = setup.get("schedule", {})
    for name, preset in SCHEDULES.items():
        if preset.as_dict() == values:
            return name
    return f"{values.get('steps', '?')} steps"
