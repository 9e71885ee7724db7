"""The training race's engine: nets trained one after another in a background thread.

``RaceRunner`` holds everything a race is besides its picture: the data, the seed, the run
cache, the thread, the stop event, the progress of the race in flight, the runs kept so far and
the error that ended a race. It trains through the public API (``training.compare``: each net
built right after ``torch.manual_seed(seed)``, the gradient norms recorded, finished runs
cached) and reports what happens to one listener, so that a view (``widgets.TrainingRace``)
only draws, and tests drive it without a browser or ipywidgets.

A race always trains (live, even a net the run cache holds: that is what a class came to
watch); ``show`` draws what is stored instead, at once: the run cache's runs, else the shipped
runs of the default race (``shipped_races.py``, seeded into the cache on first use). ``race_results``
gives the same runs to code (lessons 02 and 05).

Example::

    runner = RaceRunner(rx.load_dataset(image_size=16))
    runner.start(["plain-20", "plain-56"], "fast")
    runner.wait()
    [history.final_train_error for history in runner.histories]

The listener, ``on_event(event, progress, history)``, is called with ``"started"`` (in the
caller's thread), then ``"new run"`` and ``"step"`` for each net (``history`` is its run) and
``"ended"`` once (in the training thread). It is called outside the runner's lock.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import torch

from .checkpoints import load_weights
from .device import default_device
from .history import History
from .models import ModelConfig, arguments_from_name
from .run_cache import RunCache
from .schedules import SCHEDULES, Schedule, resolve_schedule
from .shipped_races import DEFAULT_RACE, load_race, matches, seed_run_cache
from .training import compare, model_arguments, run_description, seeded_model

#: The nets of Figs. 1 and 6 (Fashion-MNIST stands in for CIFAR-10).
DEFAULT_CONFIGURATIONS = ("plain-20", "plain-56", "ResNet-20 (A)", "ResNet-56 (A)")
#: The default race's seed and schedule (on ``load_dataset(image_size=BRIEF_IMAGE_SIZE)``): the
#: race whose runs ship as ``data/races/default.json`` (``shipped_races.py``).
RACE_SEED = 0
RACE_SCHEDULE = "brief"

Listener = Callable[[str, "RaceProgress", "History | None"], None]


def one_line(error: BaseException, limit: int = 300) -> str:
    """``"TypeName: message"`` on one line, shortened to ``limit`` characters."""
    message = " ".join(str(error).split())
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return text if len(text) <= limit else text[:limit - 1] + "…"


@dataclass
class RaceProgress:
    """One race: the nets, the schedule, and the runs so far (the last may be running)."""

    names: tuple[str, ...]
    schedule: Schedule
    started: float = field(default_factory=time.monotonic)
    runs: list[History] = field(default_factory=list)
    failure: str = ""  # one line, when training raised
    stop_requested: bool = False

    @property
    def total_steps(self) -> int:
        return len(self.names) * self.schedule.steps

    @property
    def done_steps(self) -> int:
        """Steps behind us: a finished or diverged run counts whole, a running or stopped one as far as it got."""
        return sum(self.schedule.steps if run.status in ("finished", "diverged") else len(run.steps)
                   for run in self.runs)

    def summary(self) -> tuple[str, bool]:
        """What the race came to, in one line, and whether it is bad news (a failure or divergence)."""
        if self.failure:
            return f"Training failed: {self.failure}", True
        finished = [run for run in self.runs if run.status in ("finished", "diverged")]
        cached = sum(run.from_cache for run in finished)
        stopped = [run for run in self.runs if run.status == "stopped"]
        if stopped or self.stop_requested:
            text = "Race stopped"
            if stopped:
                text += (f": {stopped[-1].model_name} stopped at step {len(stopped[-1].steps):,} of "
                         f"{self.schedule.steps:,} (its curve is kept)")
            text += f"; {len(finished)} of {len(self.names)} nets finished."
        else:
            text = (f"Race finished: {len(finished)} net{'s' if len(finished) != 1 else ''} in "
                    f"{time.monotonic() - self.started:.1f} s" + (f" ({cached} from the cache)." if cached else "."))
        diverged = [run for run in self.runs if run.status == "diverged"]
        for run in diverged:
            text += f" {run.model_name} diverged: {run.message}."
        return text, bool(diverged)


class RaceRunner:
    """Train nets one after another in a thread; keep their runs; stop on request.

    Args:
        data: a ``Dataset`` (``load_dataset(...)``).
        seed: every net is built right after ``torch.manual_seed(seed)`` and trained with it.
        cache: a ``RunCache``, ``True`` (the default cache) or ``None``: where finished runs are
            stored and where ``show`` looks first. A race trains even a net the cache holds.
            On creation the cache is seeded with the shipped runs that fit ``data``.
        on_event: the listener (see the module docstring), e.g. a view that draws the race.
    """

    def __init__(self, data, *, seed: int = RACE_SEED, cache: RunCache | bool | None = True,
                 on_event: Listener | None = None):
        if not hasattr(data, "train_images"):
            raise TypeError(f"data must be a Dataset (load_dataset(...)), not {type(data).__name__}")
        self.data = data
        self.seed = seed
        self.cache = RunCache.resolve(cache)
        self.on_event = on_event
        self.current: RaceProgress | None = None  # the race in flight, or the last one
        self._histories: list[History] = []
        self._lock = threading.RLock()
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._running = False
        if self.cache is not None:
            seed_run_cache(self.cache, data)  # the shipped runs, where they fit this data

    # -- state ---------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while a race is in flight."""
        return self._running

    @property
    def histories(self) -> list[History]:
        """The runs kept, oldest first (earlier races too, until ``clear()``); one per net, data
        and schedule: a later run of the same replaces the earlier."""
        with self._lock:
            return list(self._histories)

    # -- control -------------------------------------------------------------------------------

    def start(self, configurations: Sequence[str | Mapping | ModelConfig],
              schedule: str | Schedule | None = None) -> threading.Thread | None:
        """Train ``configurations`` (net names such as "plain-20", or ``build_model`` arguments)
        one after another in a daemon thread; returns it, or None when there is nothing to train.

        While a race is in flight this does nothing and returns its thread. Names are checked
        here, before the thread starts (``ValueError`` saying how to write one).
        """
        with self._lock:
            if self._running:
                return self._thread
            if not configurations:
                return None
            configs, names = zip(*map(_config_and_name, configurations))
            configs = list(configs)
            progress = RaceProgress(names, resolve_schedule(schedule))
            self.current = progress
            self._stop_event.clear()
            self._running = True
            self._thread = threading.Thread(target=self._run, args=(progress, configs), daemon=True,
                                            name="resnet_explorer training race")
        self._notify("started", progress)
        self._thread.start()
        return self._thread

    def stop(self) -> bool:
        """Stop the race before the next training step; the run so far is kept. True if one was running."""
        with self._lock:
            if not self._running:
                return False
            self._stop_event.set()
            self.current.stop_requested = True
            return True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the race in flight to end (at most ``timeout`` seconds); True once it has."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self._running

    def show(self, configurations: Sequence[str | Mapping | ModelConfig],
             schedule: str | Schedule | None = None) -> list[StoredRun] | None:
        """Keep the stored runs of ``configurations`` at once, without training (see ``stored_runs``).

        Returns one ``StoredRun`` per net (``history`` None where nothing is stored), or None
        while a race is in flight (nothing changes then).
        """
        with self._lock:
            if self._running:
                return None
            runs = stored_runs(configurations, self.data, seed=self.seed, schedule=schedule,
                               cache=self.cache)
            for run in runs:
                if run.history is not None:
                    self._keep(run.history)
            return runs

    def clear(self) -> bool:
        """Forget every kept run; not while a race is in flight. True if cleared."""
        with self._lock:
            if self._running:
                return False
            self._histories = []
            return True

    # -- the thread ----------------------------------------------------------------------------

    def _run(self, progress: RaceProgress, configs: list) -> None:
        """``compare`` the nets; any error ends as one line in ``progress.failure``."""
        try:
            compare(configs, self.data, seed=self.seed, schedule=progress.schedule, progress=False,
                    callback=lambda history: self._on_step(progress, history), callback_every=1,
                    stop_event=self._stop_event, cache=self.cache, rerun=True, record_gradients=True)
        except Exception as error:  # reported as one readable line, never a traceback
            progress.failure = one_line(error)
        finally:
            try:
                self._notify("ended", progress)
            finally:
                with self._lock:
                    self._running = False

    def _on_step(self, progress: RaceProgress, history: History) -> None:
        """``train``'s callback, in the training thread: keep a new run, report every step."""
        with self._lock:
            new = not progress.runs or progress.runs[-1] is not history
            if new and history.status == "stopped" and not history.steps:
                return  # stopped before its first step: nothing to show, and an earlier run stays
            if new:
                progress.runs.append(history)
                self._keep(history)
        self._notify("new run" if new else "step", progress, history)

    def _keep(self, history: History) -> None:
        """Keep a run, in place of an earlier run of the same net, data and schedule."""
        for index, earlier in enumerate(self._histories):
            if (earlier.config, earlier.setup) == (history.config, history.setup):
                self._histories[index] = history
                return
        self._histories.append(history)

    def _notify(self, event: str, progress: RaceProgress, history: History | None = None) -> None:
        if self.on_event is not None:
            self.on_event(event, progress, history)


def _name_of(config: Mapping | ModelConfig) -> str:
    if isinstance(config, ModelConfig):
        return config.name
    return ModelConfig(**config).name


def _config_and_name(entry: str | Mapping | ModelConfig) -> tuple:
    """A race entry (a net's name or its configuration) as ``(configuration, name)``."""
    if isinstance(entry, str):
        return arguments_from_name(entry), entry
    return entry, _name_of(entry)


def distinct_labels(histories: Iterable[History]) -> list[History]:
    """The runs, where one net ran with several schedules labelled with its schedule's name."""
    histories = list(histories)
    counts = Counter(history.model_name for history in histories)
    return [history if counts[history.model_name] == 1
            else replace(history, model_name=f"{history.model_name}, {schedule_name(history.setup)}")
            for history in histories]


def schedule_name(setup: dict) -> str:
    """A run's schedule (from ``History.setup``) as a preset's name, else its number of steps."""
    values = setup.get("schedule", {})
    for name, preset in SCHEDULES.items():
        if preset.as_dict() == values:
            return name
    return f"{values.get('steps', '?')} steps"


# -- the race's result without training ---------------------------------------------------------

@dataclass
class StoredRun:
    """One net's run found without training: from the run cache, or shipped (``shipped_races``)."""

    name: str
    history: History | None  # None: neither the cache nor the shipped runs have it
    source: str = ""  # "run cache", "shipped" or ""

    @property
    def labelled(self) -> bool:
        """A shipped run drawn under its own label: this machine's run would have another key."""
        return self.history is not None and self.history.model_name != self.name


def stored_runs(configurations: Sequence[str | Mapping | ModelConfig], data, *, seed: int = RACE_SEED,
                schedule: str | Schedule | None = RACE_SCHEDULE, cache: RunCache | bool | None = True,
                device=None) -> list[StoredRun]:
    """Each net's run as ``compare`` would return it, without training: from the run cache under
    the key ``train`` computes on this machine, else the shipped run of the default race.

    The run cache is first seeded with the shipped runs that have weights
    (``shipped_races.seed_run_cache``). A shipped run used where this machine's key differs (it
    trains in another precision than the shipped bf16) is labelled so: its ``model_name`` becomes
    "plain-20 (shipped run, bf16)". A cached run from before the race recorded gradient norms
    gives way to the shipped one (lesson 05 plots them). ``history.model`` is the trained net
    where weights exist (cached runs, and the shipped plain nets), else None.
    """
    run_cache = RunCache.resolve(cache)
    default_race = load_race(DEFAULT_RACE)
    if run_cache is not None:
        seed_run_cache(run_cache, data, default_race)
    shipped = default_race.histories
    found = []
    for entry in configurations:
        config, name = _config_and_name(entry)
        with torch.random.fork_rng(devices=[]):
            model = seeded_model(model_arguments(config, data), seed, device or default_device())
        run = run_description(model, data, schedule=schedule, seed=seed, device=device)
        match = next((history for history in shipped if matches(history, run)), None)
        history = run_cache.get(RunCache.key(run), model=model) if run_cache is not None else None
        if history is not None and (history.recorded_gradients or match is None):
            history.model = model
            found.append(StoredRun(name, history, "run cache"))
            continue
        if match is None:
            found.append(StoredRun(name, None))
            continue
        weights = default_race.state_dict(match.model_name)
        if weights is not None:
            load_weights(model, weights)
        precision = match.setup.get("precision")
        label = match.model_name if precision == run["precision"] else f"{match.model_name} (shipped run, {precision})"
        found.append(StoredRun(name, replace(match, model_name=label, model=model if weights else None), "shipped"))
    return found


def race_results(configurations: Sequence[str | Mapping | ModelConfig] = DEFAULT_CONFIGURATIONS, data=None, *,
                 seed: int = RACE_SEED, schedule: str | Schedule | None = RACE_SCHEDULE,
                 cache: RunCache | bool | None = True, device=None) -> list[History]:
    """The runs of the default race (lesson 02) at once, without training: see ``stored_runs``.

    ``data`` defaults to the race's 16x16 Fashion-MNIST. ``ValueError`` names the nets that
    neither the run cache nor the shipped runs hold (train them with ``compare`` or the race).
    Example::

        plain20, plain56 = rx.race_results(["plain-20", "plain-56"])
        plain20.final_train_error, plain20.grad_norms["stem"], plain20.model
    """
    if data is None:
        from .data import load_dataset
        from .schedules import BRIEF_IMAGE_SIZE

        data = load_dataset(image_size=BRIEF_IMAGE_SIZE)
    runs = stored_runs(configurations, data, seed=seed, schedule=schedule, cache=cache, device=device)
    missing = [run.name for run in runs if run.history is None]
    if missing:
        plan = resolve_schedule(schedule)
        raise ValueError(f"no stored run of {', '.join(missing)} with seed {seed} and {plan.steps:,} steps "
                         f"on {getattr(data, 'name', 'this data')}: the shipped runs are the default race "
                         f"({', '.join(DEFAULT_CONFIGURATIONS)}, seed {RACE_SEED}, the {RACE_SCHEDULE} "
                         "schedule, 16x16 images); train the others with rx.compare(..., cache=True)")
    return [run.history for run in runs]
