"""The training race: plain nets against ResNets, trained live in class (He et al. 2015, Figs. 1 and 6).

Tick the nets to race (by default plain-20, plain-56, ResNet-20 and ResNet-56 with option A
shortcuts), press Train, and watch the curves grow at every evaluation: training error dashed,
test error bold (the paper's Fig. 6), against training steps. With the brief schedule plain-56
ends with a *higher training error* than plain-20 -- the degradation problem of Fig. 1 -- while
ResNet-56 ends only a few points above ResNet-20, a fraction of the plain nets' gap. "Show
result" draws the stored runs at once instead: this machine's earlier runs from the run cache,
else the default race's runs shipped with the package (``shipped_races.py``), labelled as
shipped where this machine would train differently (another precision).

This module is the view: controls, buttons, progress and the plot. The race itself (the
background thread that trains the nets one after another, the Stop event, the runs kept) is
``race.RaceRunner``, which calls ``compare``: each net is built right after
``torch.manual_seed(seed)``, its gradient norms are recorded (lesson 05 plots them), and finished
runs go to the run cache (Train trains again even a net the cache holds: "Show result" is the
instant way). Earlier runs stay on the plot until "Clear plot".
The runner reports from its thread; the view changes widgets in one place, under its lock.

Example::

    from resnet_explorer.widgets.training_race import TrainingRace
    race = TrainingRace()       # Fashion-MNIST at 16x16; schedule "brief" ("fast" in fast mode)
    race                        # displays the controls and the live plot
    race.train(); race.wait()   # what the Train button does, then wait for the end (scripts, tests)
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Iterable, Mapping

import ipywidgets as widgets
import plotly.graph_objects as go
import traitlets

from ..figures import style
from ..figures.curves import curve_points, training_curves
from ..figures.live import LiveFigureWidget, update_in_place
from ..models import ModelConfig, arguments_from_name
from ..options import DEEPEST_NET, cifar_depths, shortcut_buttons
from ..race import DEFAULT_CONFIGURATIONS, RaceProgress, RaceRunner, StoredRun, distinct_labels, one_line
from ..run_cache import RunCache
from ..history import History
from ..schedules import BRIEF_IMAGE_SIZE, PAPER_SCHEDULE, SCHEDULES, Schedule, default_schedule
from .explorer import Explorer, InvalidStateError
from .look import ERROR_COLOR, TEXT_COLOR, text_html

#: At most this many plot updates per second while a net trains (each costs the training time).
REDRAWS_PER_SECOND = 2.0


def configuration_arguments(name: str) -> dict:
    """The ``build_model`` arguments of a net in the race: "plain-20" -> depth 20, shortcut "none".

    Names are ``ModelConfig.name``s ("plain-20", "ResNet-56 (B)", "ResNet-20 (A), no BN"; see
    ``models.arguments_from_name``); "ResNet-56" alone means option A, as in the paper's CIFAR-10 nets.
    Nets deeper than ``DEEPEST_NET`` (1202) are refused: a scenario that asks for one is a mistake.
    """
    try:
        arguments = arguments_from_name(name)
    except (TypeError, ValueError) as error:
        raise InvalidStateError(f"configuration: {error}") from None
    if arguments["depth"] > DEEPEST_NET:
        raise InvalidStateError(f"configuration: {name} is deeper than {DEEPEST_NET} layers "
                                f"(ResNet-{DEEPEST_NET}, the paper's deepest); the race trains nets "
                                f"up to that depth")
    return arguments


def configuration_name(depth: int, shortcut: str) -> str:
    """The race's name of a net: its ``ModelConfig.name``, e.g. "plain-20" or "ResNet-56 (A)"."""
    return ModelConfig(depth=depth, shortcut=shortcut).name


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

    Buttons call ``train()``, ``show_result()``, ``stop()``, ``clear()`` and ``add_configuration()``; ``wait()``
    waits for the race to end, ``histories`` are the runs on the plot. ``runner`` is the engine.
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
        super().__init__(large)
        if not redraws_per_second > 0:
            raise ValueError(f"redraws_per_second must be positive, got {redraws_per_second!r}")
        if data is None:
            from ..data import load_dataset

            data = load_dataset(image_size=BRIEF_IMAGE_SIZE)
        self.runner = RaceRunner(data, seed=seed, cache=cache, on_event=self._on_race_event)
        self.redraw_interval = 1.0 / redraws_per_second
        self.status_text = ""
        self.plot_failure = ""  # one line, when updating the plot raised during a race (training went on)
        self._lock = threading.RLock()  # held by every change of a widget, from any thread
        self._last_redraw = 0.0
        self._trace_slots: dict[int, tuple] = {}  # id(history) -> its (training, test) traces

        button_style = {"font_weight": "bold"}
        button_layout = dict(width="auto", height="44px" if self.large else "32px", padding="0 18px")
        dropdown_style = {"description_width": "auto"}
        self.add_controls({
            "configurations": ConfigurationChecklist(DEFAULT_CONFIGURATIONS, description="Nets in the race:"),
            "schedule": widgets.Dropdown(options=self._schedule_options(), description="schedule",
                                         style=dropdown_style, layout=widgets.Layout(width="480px")),
            "add_depth": widgets.Dropdown(options=cifar_depths(), value=32, description="add a net: depth",
                                          style=dropdown_style, layout=widgets.Layout(width="auto")),
            "add_shortcut": widgets.Dropdown(options=shortcut_buttons(), value="A", description="shortcut",
                                             style=dropdown_style, layout=widgets.Layout(width="auto")),
        })
        self.add_button = widgets.Button(description="+ Add to race", layout=widgets.Layout(**button_layout))
        self.train_button = widgets.Button(description="▶ Train", button_style="success",
                                           style=button_style, layout=widgets.Layout(**button_layout))
        self.show_button = widgets.Button(description="Show result", button_style="info",
                                          tooltip="Draw the stored runs at once, without training",
                                          style=button_style, layout=widgets.Layout(**button_layout))
        self.stop_button = widgets.Button(description="■ Stop", button_style="danger", disabled=True,
                                          style=button_style, layout=widgets.Layout(**button_layout))
        self.clear_button = widgets.Button(description="Clear plot", layout=widgets.Layout(**button_layout))
        self.add_button.on_click(lambda _: self.add_configuration())
        self.train_button.on_click(lambda _: self.train())
        self.show_button.on_click(lambda _: self.show_result())
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
        self.widget = self._box([
            controls["configurations"],
            widgets.HBox([controls["add_depth"], controls["add_shortcut"], self.add_button], layout=gap),
            controls["schedule"],
            widgets.HBox([self.train_button, self.show_button, self.stop_button, self.clear_button], layout=gap),
            widgets.HBox([self.progress, self.progress_label], layout=gap),
            self.status,
            self.results,
            self.caption,
            self.figure,
        ], grid_gap="6px")
        self._start(dict(configurations=configurations,
                         schedule=default_schedule() if schedule is None else schedule,
                         add_depth=add_depth, add_shortcut=add_shortcut))  # refresh() draws the empty plot

    # -- the engine's state, as the view shows it ----------------------------------------------

    @property
    def data(self):
        return self.runner.data

    @property
    def seed(self) -> int:
        return self.runner.seed

    @property
    def cache(self) -> RunCache | None:
        return self.runner.cache

    @property
    def race(self) -> RaceProgress | None:
        """The race in flight, or the last one."""
        return self.runner.current

    @property
    def running(self) -> bool:
        """True while a race is in flight."""
        return self.runner.running

    @property
    def histories(self) -> list[History]:
        """The runs on the plot, oldest first (earlier races too, until ``clear()``)."""
        return self.runner.histories

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
            return tuple(dict.fromkeys(ModelConfig(**configuration_arguments(entry)).name for entry in value))
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
        if value.steps > PAPER_SCHEDULE.steps:
            raise InvalidStateError(f"schedule: at most {PAPER_SCHEDULE.steps:,} steps (the paper's "
                                    f"schedule, days on a CPU); got {value.steps:,}")
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

    # -- what the buttons do (in the kernel's thread) -------------------------------------------

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
            names = self.configurations
            if not names and not self.running:
                self._set_status("Tick at least one net, then press ▶ Train.")
                return None
            return self.runner.start(names, self.schedule)  # "started" makes the view busy

    def show_result(self) -> list[StoredRun] | None:
        """Draw the stored runs of the ticked nets at once, without training (the Show result button).

        Each net's run comes from the run cache, else from the default race's shipped runs
        (``race.stored_runs``); the status line says which, and which nets have none. Returns the
        ``StoredRun``s, or None while a race is in flight or when no net is ticked.
        """
        with self._lock:
            names = self.configurations
            if not names or self.running:
                if not names:
                    self._set_status("Tick at least one net, then press Show result.")
                return None
            try:
                runs = self.runner.show(names, self.schedule)
            except Exception as error:  # a damaged shipped file, say: one line, never a traceback
                self._set_status(f"Showing the stored runs failed: {one_line(error)}", ERROR_COLOR)
                return None
            if runs is None:
                return None
            self._redraw()
            self._set_status(_shown_text(runs))
            return runs

    def stop(self) -> None:
        """Stop the race before the next training step (the Stop button); the curve so far stays."""
        with self._lock:
            if self.runner.stop():
                self._set_status("Stopping after this training step…")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the race in flight to end (at most ``timeout`` seconds); True once it has."""
        return self.runner.wait(timeout)

    def clear(self) -> None:
        """Remove every run from the plot (the Clear plot button); not while a race is in flight."""
        if self.runner.clear():
            self.refresh()  # draws the empty plot

    # -- the one place that changes widgets (any thread, under the lock) ------------------------

    def refresh(self) -> None:
        """Show the choices: the Train button, the caption, and (when idle) what Train will do."""
        with self._lock:
            self.caption.value = text_html(self._caption(), kind="caption")
            self._update_train_button()
            if self.running:
                return
            if not self.histories:
                self._redraw()  # the empty axes span the chosen schedule
            names = self.configurations
            if names:
                self._set_status(f"Ready to train {len(names)} net{'s' if len(names) > 1 else ''}: "
                                 f"{', '.join(names)}. Press ▶ Train.")
            else:
                self._set_status("Tick at least one net, then press ▶ Train.")

    def _on_race_event(self, event: str, race: RaceProgress, history: History | None) -> None:
        """The runner's listener: "started" in the kernel's thread, the others in the training thread."""
        with self._lock:
            if event == "started":
                self.plot_failure = ""
                self._set_busy(True)
                self._set_status(f"Training {len(race.names)} net{'s' if len(race.names) > 1 else ''}, "
                                 "one after another…")
                self._show_progress(race)
            elif event == "new run":
                if not race.stop_requested:
                    self._set_status(f"Training {history.model_name} (net {len(race.runs)} of {len(race.names)})…")
                self._last_redraw = time.monotonic()
                self._draw_race(self._redraw, race)
                self._show_progress(race)
            elif event == "step":
                now = time.monotonic()
                if history.status == "running" and now - self._last_redraw < self.redraw_interval:
                    return
                self._last_redraw = now
                if history.status != "running" or not self._draw_race(self._grow, history):
                    self._draw_race(self._redraw, race)
                self._show_progress(race)
            elif event == "ended":
                try:
                    self._draw_race(self._redraw, race)
                    self._show_progress(race)
                    text, bad = race.summary()
                    if self.plot_failure:
                        text += f" Updating the plot failed: {self.plot_failure}"
                    self._set_status(text, ERROR_COLOR if bad or self.plot_failure else TEXT_COLOR)
                finally:
                    self._set_busy(False)

    def _draw_race(self, draw, *args) -> bool:
        """``draw(*args)`` during a race: an error is kept for the status line; the race goes on."""
        try:
            return draw(*args)
        except Exception as error:
            self.plot_failure = one_line(error)
            return True

    def _set_status(self, text: str, color: str = TEXT_COLOR) -> None:
        self.status_text = text
        self.status.value = text_html(html.escape(text), color=color, bold=True)

    def _set_busy(self, busy: bool) -> None:
        for control in self.controls.values():
            control.disabled = busy
        self.add_button.disabled = self.clear_button.disabled = self.show_button.disabled = busy
        self.stop_button.disabled = not busy
        self._update_train_button(busy)

    def _update_train_button(self, busy: bool | None = None) -> None:
        busy = self.running if busy is None else busy
        self.train_button.disabled = busy or not self.configurations

    def _caption(self) -> str:
        data, plan = self.data, self.schedule
        images = data.train_images
        warmup = f", lr {plan.lr / 10:g} for the first {plan.warmup_steps} steps" if plan.warmup_steps else ""
        milestones = ", ".join(f"{round(m * plan.steps):,}" for m in plan.milestones)
        test_size = plan.eval_size or len(data.test_images)
        return (f"{html.escape(str(getattr(data, 'name', 'data')))}: {len(images):,} training images, "
                f"{images.shape[-2]}×{images.shape[-1]} · {plan.steps:,} steps of {plan.batch_size}, "
                f"lr {plan.lr:g}{warmup}, ÷10 at steps {milestones} · seed {self.seed}. "
                f"Every {plan.eval_every:,} steps, in eval mode: dashed, training error on "
                f"{min(test_size, len(images)):,} fixed training images; bold, test error on "
                f"{min(test_size, len(data.test_images)):,} test images.")

    def _redraw(self, race: RaceProgress | None = None) -> bool:
        """Draw every run again (``training_curves``) into the same FigureWidget, and the results line."""
        histories = self.histories
        update_in_place(self.figure, self._curves(histories, race))
        traces = list(self.figure.data)
        self._trace_slots = {}
        if len(traces) == 2 * len(histories):
            self._trace_slots = {id(original): (traces[2 * i], traces[2 * i + 1])
                                 for i, original in enumerate(histories)}
        self.results.value = self._results(histories)
        return True

    def _curves(self, histories: list[History], race: RaceProgress | None) -> go.Figure:
        """Fig. 6 of the runs on the plot, the legend beside it, and steps up to the longest run.

        The x axis ends where the longest run (or the race in flight) will end, so the curves grow
        from left to right instead of the axis stretching under them.
        """
        plotted = distinct_labels(histories)
        figure = training_curves(plotted, width=self.figure.layout.width, height=self.figure.layout.height,
                                 large=self.large)
        ends = [history.setup.get("schedule", {}).get("steps", len(history.steps)) for history in plotted]
        if self.running and race is not None:
            ends.append(race.schedule.steps)
        figure.update_layout(legend=style.OUTSIDE_LEGEND)
        figure.update_xaxes(range=[0, max(ends or [self.schedule.steps])])
        if not plotted:
            figure.update_yaxes(range=[0, 1])  # an empty plot's axes as the curves will have them
        return figure

    def _grow(self, history: History) -> bool:
        """Extend the running net's two curves in place (cheap); False when a full redraw is needed."""
        slots = self._trace_slots.get(id(history))
        if slots is None or (slots[0].meta, slots[1].meta) != ("train", "test"):
            return False
        training, test = slots
        with self.figure.batch_update():
            points = curve_points(history)  # as lists, as update_in_place sends them (see live._plain)
            training.x, training.y = (values.tolist() for values in points["train"])
            test.x, test.y = (values.tolist() for values in points["test"])
        return True

    def _show_progress(self, race: RaceProgress) -> None:
        self.progress.max = max(1, race.total_steps)
        self.progress.value = min(race.done_steps, race.total_steps)
        if not race.runs:
            self.progress_label.value = text_html(f"0 of {len(race.names)} nets")
            return
        run = race.runs[-1]
        self.progress.style.bar_color = style.kind_color(style.kind_of(run.config))
        where = ("from the cache" if run.from_cache
                 else f"step {len(run.steps):,} / {race.schedule.steps:,}")
        status = "" if run.status in ("running", "finished") else f" · {run.status}"
        self.progress_label.value = text_html(
            f"net {len(race.runs)} of {len(race.names)} · <b>{html.escape(run.model_name)}</b> · {where}{status}")

    def _results(self, histories: list[History]) -> str:
        """Final training and test error of each finished run, in its family's colour."""
        parts = []
        for history in distinct_labels(histories):
            if history.status == "running":
                continue
            color = style.kind_color(style.kind_of(history.config))
            note = "" if history.status == "finished" else f" ({history.status})"
            parts.append(f"<span style='white-space:nowrap'><b style='color:{color}'>"
                         f"{html.escape(history.model_name)}</b>{note} {_percent(history.final_train_error)} / "
                         f"{_percent(history.final_test_error)}</span>")
        if not parts:
            return ""
        return text_html("final training / test error: " + " · ".join(parts))


def _shown_text(runs: list[StoredRun]) -> str:
    """The status line after Show result: where each run came from, and what is missing."""
    def names(selected):
        return ", ".join(run.name for run in selected)

    cached = [run for run in runs if run.source == "run cache"]
    shipped = [run for run in runs if run.source == "shipped"]
    missing = [run for run in runs if run.history is None]
    parts = []
    if cached:
        parts.append(f"{names(cached)} from this machine's run cache")
    if shipped:
        text = f"{names(shipped)} as shipped with resnet_explorer"
        labelled = [run for run in shipped if run.labelled]
        if labelled:
            precision = labelled[0].history.setup.get("precision", "?")
            text += (f" (trained in {precision}; this machine trains in another precision, so its own "
                     "runs differ a little: labelled 'shipped run')")
        parts.append(text)
    text = ("Showing " + "; ".join(parts) + ".") if parts else "Nothing stored to show."
    if missing:
        text += f" No stored run of {names(missing)} with this schedule and seed: press ▶ Train."
    return text + (" Press ▶ Train to watch them train live." if parts else "")


def _percent(value: float) -> str:
    return "–" if value != value else f"{value:.1%}"
