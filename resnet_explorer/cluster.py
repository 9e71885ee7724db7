"""Training runs on any ``concurrent.futures.Executor``: a local process pool or a Dask cluster.

The paper's full-length runs (Table 6: 64k iterations, several depths and seeds) need GPUs and
more than one machine. ``compare(configs, data, executor=...)`` sends each run to an executor
that already knows how to spread work, so the same race runs on a laptop's processes
(``local_executor(2)``) or on a cluster of GPU nodes (``distributed.Client(address)
.get_executor()``, from ``pip install resnet_explorer[cluster]``) without a scheduler of ours.

Each run travels as a ``RunRequest``: its ``build_model`` arguments, seed, schedule and the
data's *recipe* (``Dataset.recipe``: ``load_dataset``'s arguments and the steps after it), not
the data's tensors; the worker loads the data itself (once per process) and checks it against
the fingerprint the driver saw. Only a dataset made by hand travels whole. The worker trains
with ``train`` into the run cache (on a cluster, give every machine the same shared folder,
``RESNET_EXPLORER_CACHE``) and sends back the ``History`` and the weights. So:

- finished runs are never recomputed: a worker finds a run already in the cache and returns it
  (``History.from_cache``), and the driver stores what a worker sends if its cache lacks it;
- a run whose worker fails (an error, a killed process) is reported with the error, as a
  warning, and tried once more; if that fails too, its ``History`` says why (status
  ``"stopped"``) and the other runs go on. Dask also moves the runs of a dead worker to
  another one by itself; ``local_executor`` replaces a broken process pool.

Dask workers run one run per thread and PyTorch's settings are per process: start workers with
one thread each (``dask worker ADDRESS --nthreads 1``, one worker per GPU; Dask's nanny also
sets ``OMP_NUM_THREADS=1`` in its workers, so CPU workers use one core each).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import statistics
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, CancelledError, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool, ProcessPoolExecutor
from dataclasses import dataclass, replace
from threading import Event
from typing import NamedTuple

import torch

from .checkpoints import model_with_weights
from .checks import check_choice, check_seed, check_whole_number
from .data import Dataset
from .device import default_device
from .history import History
from .models import ModelConfig
from .race import one_line
from .run_cache import RunCache, describe_data, description_of
from .schedules import Schedule, resolve_schedule
from .speed import PRECISIONS
from .training import model_arguments, seeded_model, train

__all__ = ["DataMismatchError", "RunRequest", "StepTime", "compare_on_executor",
           "estimated_seconds", "executor_from_address", "local_executor", "make_requests",
           "measure_step_time", "run_requests", "submit_request"]

#: ``train`` arguments that shape the schedule; ``compare_on_executor`` resolves them on the driver.
SCHEDULE_FIELDS = ("steps", "batch_size", "lr", "momentum", "weight_decay", "milestones",
                   "warmup_steps", "eval_every", "eval_size", "augment")
#: The other ``train`` arguments that make sense with an executor.
RUN_FIELDS = ("schedule", "precision", "device", "cache", "progress", "callback",
              "callback_every", "stop_event")


class DataMismatchError(ValueError):
    """A worker loaded other images than the driver has (another copy of the files, another version)."""


@dataclass(frozen=True)
class RunRequest:
    """One training run, self-contained: all a worker needs to train it, and nothing more.

    ``data_recipe`` is ``Dataset.recipe`` (the worker loads the data again from it);
    ``dataset`` is set only for a dataset without a recipe (made by hand), whose tensors then
    travel. ``data_description`` is ``describe_data`` on the driver: the worker's copy must match.
    ``device`` ``None`` means the worker's ``default_device()`` (its GPU when it has one);
    ``cache_root`` ``None`` means no run cache. ``attempt`` counts tries (1, then 2).
    """

    arguments: dict
    seed: int
    schedule: Schedule
    precision: str
    data_recipe: tuple
    data_description: dict
    dataset: Dataset | None = None
    device: str | None = None
    cache_root: str | None = None
    attempt: int = 1

    @property
    def name(self) -> str:
        """``"ResNet-110 (A), seed 3"``: how reports name the run."""
        return f"{ModelConfig(**self.arguments).name}, seed {self.seed}"


@dataclass
class RunResult:
    """What a worker sends back: the run's ``History`` (without its model) and the trained weights."""

    history: History
    state: dict  # state_dict on the CPU
    worker: str  # host and process id


# ---- on the worker -------------------------------------------------------------------------------

# Datasets this process has loaded, with their descriptions, by recipe: a worker trains many
# runs on the same data.
_DATASETS: dict[str, tuple[Dataset, dict]] = {}
_DATASETS_KEPT = 2
_DATASETS_LOCK = threading.Lock()


def train_request(request: RunRequest) -> RunResult:
    """Train one run where this function is called (a worker); the executors' task."""
    data = _dataset_for(request)
    model = seeded_model(request.arguments, request.seed, request.device or default_device())
    cache = RunCache(request.cache_root) if request.cache_root else None
    history = train(model, data, schedule=request.schedule, seed=request.seed,
                    precision=request.precision, progress=False, cache=cache)
    state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    history.model = None
    return RunResult(history, state, worker=f"{socket.gethostname()}:{os.getpid()}")


def _dataset_for(request: RunRequest) -> Dataset:
    """The request's data: loaded from its recipe once per process, checked against the driver's."""
    if request.dataset is not None:
        return request.dataset
    key = json.dumps(request.data_recipe, sort_keys=True, default=str)
    with _DATASETS_LOCK:
        if key not in _DATASETS:
            data = Dataset.from_recipe(request.data_recipe)
            while len(_DATASETS) >= _DATASETS_KEPT:
                _DATASETS.pop(next(iter(_DATASETS)))
            _DATASETS[key] = data, describe_data(data)
        data, description = _DATASETS[key]
    if description != request.data_description:
        differences = ", ".join(f"{name} {value} here, {request.data_description.get(name)} there"
                                for name, value in description.items()
                                if request.data_description.get(name) != value)
        raise DataMismatchError(
            f"this worker ({socket.gethostname()}) loaded other images for "
            f"{description['name']!r} than the driver has ({differences}): give every machine "
            "the same data files (a shared --data-root, or the same copy in data/)")
    return data


# ---- on the driver -------------------------------------------------------------------------------

def compare_on_executor(executor: Executor, configs: Sequence[dict | ModelConfig], data, *,
                        seed: int = 0, **train_kwargs) -> list[History]:
    """``compare`` on an executor: every configuration trained as one run, side by side.

    ``train_kwargs`` are ``train``'s: the schedule and its overrides, ``precision``, ``device``
    (for every worker; default each worker's ``default_device()``), ``cache`` (default ``True``
    here, the default ``RunCache``: on a cluster its folder must be shared), ``progress`` (a bar
    of finished runs), ``callback`` (called here with each finished run's ``History``, in the
    order they finish; ``callback_every`` has no effect), ``stop_event`` (see ``run_requests``).

    Returns one ``History`` per configuration, in their order, each with its trained ``model``
    on this process's ``device`` (default ``default_device()``).
    """
    unknown = sorted(set(train_kwargs) - set(SCHEDULE_FIELDS) - set(RUN_FIELDS))
    if unknown:
        raise TypeError(f"compare with an executor does not take {', '.join(unknown)}; it takes "
                        f"seed and {', '.join(RUN_FIELDS + SCHEDULE_FIELDS)}")
    overrides = {name: train_kwargs.pop(name) for name in SCHEDULE_FIELDS if name in train_kwargs}
    schedule = resolve_schedule(train_kwargs.pop("schedule", None), **overrides)
    runs = [(model_arguments(config, data), seed) for config in configs]
    device = train_kwargs.pop("device", None)
    requests = make_requests(runs, data, schedule, precision=train_kwargs.pop("precision", "auto"),
                             device=device, cache=train_kwargs.pop("cache", True))
    train_kwargs.pop("callback_every", None)
    return run_requests(executor, requests, device=device, **train_kwargs)


def make_requests(runs: Sequence[tuple[dict, int]], data, schedule: Schedule, *,
                  precision: str = "auto", device: torch.device | str | None = None,
                  cache: RunCache | bool | None = True) -> list[RunRequest]:
    """One ``RunRequest`` per ``(build_model arguments, seed)``; everything is checked here.

    A configuration or precision that cannot work fails now, on the driver, not on a worker.
    """
    check_choice("precision", precision, PRECISIONS)
    if not hasattr(data, "train_images"):
        raise TypeError(f"data must be a Dataset (load_dataset(...)), not {type(data).__name__}")
    run_cache = RunCache.resolve(cache)
    description = describe_data(data)
    recipe = tuple(getattr(data, "recipe", ()))
    requests = []
    for arguments, seed in runs:
        arguments = {name: value for name, value in arguments.items() if name != "device"}
        ModelConfig(**arguments)  # a bad configuration fails here, with build_model's message
        check_seed(seed)
        requests.append(RunRequest(
            arguments=arguments, seed=seed, schedule=schedule, precision=precision,
            data_recipe=recipe, data_description=description,
            dataset=None if recipe else data, device=None if device is None else str(device),
            cache_root=None if run_cache is None else str(run_cache.root.resolve())))
    return requests


def run_requests(executor: Executor, requests: Sequence[RunRequest], *,
                 progress: bool = True, callback=None, stop_event: Event | None = None,
                 device: torch.device | str | None = None) -> list[History]:
    """Submit every request, retry each failed one once, and collect one ``History`` per request.

    A failure is reported at once as a warning (the run's name, the worker's error) and the run is
    submitted again; a second failure gives a ``History`` with status ``"stopped"`` and the
    error in its ``message``, while the other runs go on. ``stop_event`` (or a
    KeyboardInterrupt here) cancels the runs not yet started and returns at once: finished runs as
    they are, the others ``"stopped"`` without curves (one already training on a worker may still
    finish there, into the cache). Finished runs are stored in the driver's cache if a worker
    could not (its folder was not shared). ``device``: where each returned ``History.model`` goes.
    """
    from tqdm.auto import tqdm

    requests = list(requests)
    histories: list[History | None] = [None] * len(requests)
    futures: dict[Future, int] = {}
    for index, request in enumerate(requests):
        _submit(executor, request, index, futures, histories)
    bar = tqdm(total=len(requests), desc="runs", disable=not progress, leave=True)
    try:
        while futures:
            if stop_event is not None and stop_event.is_set():
                break
            done, _ = wait(list(futures), timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                index = futures.pop(future)
                request = requests[index]
                try:
                    result = future.result()
                except (Exception, CancelledError) as error:  # noqa: BLE001 - reported, retried
                    if request.attempt == 1:
                        warnings.warn(f"{request.name} failed on the executor ({one_line(error)}); "
                                      "trying it once more", stacklevel=2)
                        requests[index] = replace(request, attempt=2)
                        _submit(executor, requests[index], index, futures, histories)
                    else:
                        warnings.warn(f"{request.name} failed again ({one_line(error)}); "
                                      "the other runs go on", stacklevel=2)
                        histories[index] = _failed_history(request, error)
                        bar.update(1)
                    continue
                histories[index] = _received(result, request, device)
                bar.update(1)
                bar.set_postfix_str(f"{request.name}: {histories[index].status}", refresh=False)
                if callback is not None:
                    callback(histories[index])
    except KeyboardInterrupt:
        pass
    finally:
        bar.close()
        for future in futures:
            future.cancel()
    for index, history in enumerate(histories):
        if history is None:
            histories[index] = _unfinished_history(requests[index], "stopped before it finished "
                                                   "on the executor")
    return histories


def submit_request(executor: Executor, request: RunRequest) -> Future:
    """Send one run to ``executor``; every call is a task of its own.

    Dask takes a task as pure by default and hands back the result of an identical task it
    still holds, without running it: a race run twice would get the first race's runs back
    (``from_cache`` False) instead of the worker's look into the run cache. Its executor is
    therefore told ``pure=False``; other executors run every submission anyway.
    """
    dask_options = {"pure": False} if type(executor).__module__.startswith("distributed.") else {}
    return executor.submit(train_request, request, **dask_options)


def _submit(executor: Executor, request: RunRequest, index: int, futures: dict,
            histories: list) -> None:
    try:
        futures[submit_request(executor, request)] = index
    except Exception as error:  # noqa: BLE001 - a broken or shut-down executor takes no more work
        warnings.warn(f"{request.name} could not be submitted ({one_line(error)})", stacklevel=3)
        histories[index] = _failed_history(request, error)


def _received(result: RunResult, request: RunRequest, device) -> History:
    """The worker's ``History`` with its model rebuilt here, stored in the driver's cache if missing."""
    history = result.history
    model = history.model = model_with_weights(history.config, result.state, device)
    if request.cache_root and history.status in ("finished", "diverged"):
        cache = RunCache(request.cache_root)
        key = RunCache.key(description_of(history))  # the key train() gave the run
        if key not in cache:
            try:
                cache.put(key, history, model)
            except OSError as error:
                warnings.warn(f"{request.name}: could not store the run in {cache.root} "
                              f"({one_line(error)}); its History is returned all the same",
                              stacklevel=3)
    return history


def _unfinished_history(request: RunRequest, message: str) -> History:
    setup = {"data": request.data_description, "schedule": request.schedule.as_dict(),
             "seed": request.seed, "precision": request.precision}
    config = ModelConfig(**request.arguments)
    return History(model_name=config.name, config=config.as_dict(), setup=setup,
                   status="stopped", message=message)


def _failed_history(request: RunRequest, error: BaseException) -> History:
    tries = "twice" if request.attempt > 1 else "once"
    return _unfinished_history(request, f"failed {tries} on the executor: {one_line(error)}")


# ---- executors -----------------------------------------------------------------------------------

class LocalProcessPool(Executor):
    """A ``ProcessPoolExecutor`` that replaces itself when one of its processes dies.

    A plain process pool is "broken" for good once a worker is killed (out of memory, ``kill``):
    every run in it fails and it takes no more. This one starts a new pool at the next
    ``submit``, so the retry of those runs has somewhere to go. Processes are spawned (not
    forked: PyTorch's thread pools do not survive a fork) and share the machine's cores: each
    gets ``cores // max_workers`` PyTorch threads (at least 1) unless ``threads`` says how many;
    on a machine with GPUs, process ``i`` takes GPU ``i % count``. Runs are bitwise the same as
    in this process only at the same thread count (summation order changes with it).
    """

    def __init__(self, max_workers: int, threads: int | None = None):
        self.max_workers = check_whole_number("max_workers", max_workers, minimum=1)
        self.threads = None if threads is None else check_whole_number("threads", threads, minimum=1)
        self._lock = threading.Lock()
        self._started = multiprocessing.get_context("spawn").Value("i", 0)
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        from .speed import physical_cores

        threads = self.threads or max(1, physical_cores() // self.max_workers)
        return ProcessPoolExecutor(self.max_workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(threads, self._started))

    def submit(self, fn, /, *args, **kwargs) -> Future:
        with self._lock:
            try:
                return self._pool.submit(fn, *args, **kwargs)
            except BrokenProcessPool:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()
                return self._pool.submit(fn, *args, **kwargs)

    def process_ids(self) -> list[int]:
        """The ids of the pool's processes now (to watch them, or to stop one)."""
        with self._lock:
            return list(self._pool._processes or {})  # ProcessPoolExecutor keeps them by pid

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)

    def __repr__(self) -> str:
        return f"local_executor({self.max_workers})"


def _start_worker(threads: int, started) -> None:
    os.environ["OMP_NUM_THREADS"] = str(threads)  # the thread policy respects it
    torch.set_num_threads(threads)
    with started.get_lock():
        slot = started.value
        started.value += 1
    if torch.cuda.is_available():
        torch.cuda.set_device(slot % torch.cuda.device_count())


def local_executor(workers: int) -> LocalProcessPool:
    """``workers`` processes on this machine (``LocalProcessPool``): ``--executor local:N``."""
    return LocalProcessPool(workers)


class OpenedExecutor(NamedTuple):
    """An executor named by an address, how many runs it trains at once, and how to let it go."""

    executor: Executor
    slots: int
    close: Callable[[], None]


def executor_from_address(address: str) -> OpenedExecutor:
    """The executor an ``--executor`` value names.

    ``local:N``: ``N`` processes here. ``dask://HOST:PORT`` (or ``tcp://HOST:PORT``): the Dask
    scheduler at that address (``pip install resnet_explorer[cluster]``); its workers' threads
    are its slots. Other values get a ``ValueError`` that says what is allowed.
    """
    allowed = "allowed: local:N (N processes here) or dask://HOST:PORT (a Dask scheduler)"
    if address.startswith("local:"):
        count = address.removeprefix("local:")
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"--executor {address!r}: N must be a whole number >= 1; {allowed}")
        pool = local_executor(int(count))
        return OpenedExecutor(pool, int(count), lambda: pool.shutdown(wait=False, cancel_futures=True))
    if address.startswith(("dask://", "tcp://")):
        try:
            from distributed import Client
        except ImportError:
            raise ValueError(f"--executor {address!r} needs Dask: pip install "
                             "'resnet_explorer[cluster]' (or dask[distributed])") from None
        location = address.split("://", 1)[1]
        client = Client(f"tcp://{location}", timeout="20s")
        slots = sum(client.nthreads().values())
        if slots == 0:
            client.close()
            raise ValueError(f"the Dask scheduler at {address} has no workers yet; start some "
                             f"(dask worker {location} --nthreads 1, one per GPU)")
        return OpenedExecutor(client.get_executor(), slots, client.close)
    raise ValueError(f"--executor {address!r} is not known; {allowed}")


# ---- how long runs take --------------------------------------------------------------------------

@dataclass(frozen=True)
class StepTime:
    """Seconds per training step of one net, measured on a worker, and where it ran."""

    arguments: dict
    seconds: float
    device: str
    worker: str


def measure_step_time(arguments: dict, image_size: int, batch_size: int = 128,
                      precision: str = "auto", device: str | None = None, steps: int = 5
                      ) -> StepTime:
    """Time ``steps`` training steps of a fresh net on random images, with ``train`` itself.

    The median time of the steps between the first (which warms up) and the last (which also
    evaluates) is the step time. Runs where it is called: submit it to an executor to measure
    that executor's workers.
    """
    check_whole_number("steps", steps, minimum=4)
    in_channels, classes = arguments.get("in_channels", 3), arguments.get("num_classes", 10)
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(2 * batch_size, in_channels, image_size, image_size, generator=generator)
    labels = torch.arange(2 * batch_size) % classes
    data = Dataset(name="random", train_images=images, train_labels=labels, test_images=images[:8],
                   test_labels=labels[:8], class_names=[str(c) for c in range(classes)],
                   mean=(0.0,) * in_channels, std=(1.0,) * in_channels, source="random numbers")
    model = seeded_model(arguments, 0, device or default_device())
    history = train(model, data, schedule=Schedule(steps=steps, batch_size=batch_size,
                                                   eval_every=steps, eval_size=8),
                    precision=precision, progress=False)
    times = history.wall_time
    seconds = statistics.median(later - earlier for earlier, later in zip(times[:-2], times[1:-1]))
    return StepTime(arguments, seconds, history.runtime["device"],
                    f"{socket.gethostname()}:{os.getpid()}")


def estimated_seconds(requests: Sequence[RunRequest], step_times: dict[str, float],
                      slots: int) -> float:
    """Wall time of ``requests`` on ``slots`` runs at once, from seconds per step by net name.

    Training steps plus evaluations (a forward pass costs about a third of a training step per
    image); runs spread evenly over the slots, and never less than the longest run.
    """
    durations = []
    for request in requests:
        plan = request.schedule
        step = step_times[ModelConfig(**request.arguments).name]
        evaluations = plan.steps // plan.eval_every + 1
        description = request.data_description
        images = sum(min(size, plan.eval_size or size)
                     for size in (description["test_size"], description["train_size"]))
        durations.append(plan.steps * step + evaluations * images * step / plan.batch_size / 3)
    return max(sum(durations) / max(1, slots), max(durations, default=0.0))
