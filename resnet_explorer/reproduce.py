"""The paper's CIFAR-10 runs at full length, on a cluster: ``python -m resnet_explorer.reproduce table6``.

Table 6 of He et al. 2015 (Section 4.2) reports the CIFAR-10 test error of ResNets of 20, 32,
44, 56, 110 (and 1202) layers trained for 64k iterations; Fig. 6 shows their plain twins
("the error of plain-110 is higher than 60% and not displayed"). This command trains those nets
with the paper's schedule (``schedules.PAPER_SCHEDULE``) on an executor and prints the table
beside the paper's numbers::

    python -m resnet_explorer.reproduce table6 --executor dask://scheduler:8786
    python -m resnet_explorer.reproduce table6 --executor local:4      # 4 processes here

Every run lands in the run cache (``--cache``, a folder every worker shares; default
``RESNET_EXPLORER_CACHE``), so the command can be stopped and started again: finished runs are
read back, not trained again. Before training it measures a few steps of each net on the
executor's workers and says how long the whole set would take; on CPUs (days) it stops there
unless given ``--force``.

CIFAR-10 is not shipped: put the extracted ``cifar-10-batches-py/`` in ``data/`` (or give
``--data-root``), or add ``--download`` on a machine with internet. ``--data fashion-mnist-mini
--image-size 16 --depths 20,56 --steps 20 --force`` tries the whole command without it.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections.abc import Sequence

from .checks import number_of_classes
from .cluster import (estimated_seconds, executor_from_address, make_requests, measure_step_time,
                      run_requests)
from .counting import count_params
from .data import DATASET_NAMES, DatasetNotFoundError, load_dataset
from .history import History
from .models import ModelConfig, build_model
from .race import one_line
from .run_cache import RunCache
from .schedules import SCHEDULES, resolve_schedule
from .speed import PRECISIONS

#: Table 6: CIFAR-10 test error (%) of the ResNets (option A).
PAPER_TEST_ERROR = {20: "8.75", 32: "7.51", 44: "7.17", 56: "6.97", 110: "6.43 (6.61±0.16)",
                    1202: "7.93"}
#: Plain nets: Fig. 6 (left) plots them; no table gives their numbers.
PAPER_PLAIN_ERROR = {110: "> 60 (Fig. 6)"}
#: Table 6's ResNet-110 is the best of 5 runs ("best (mean±std)").
PAPER_RUNS = {("resnet", 110): 5}
TABLE6_DEPTHS = (20, 32, 44, 56, 110)
NETS = {"plain": "none", "resnet": "A"}
REFUSED = 2  # exit status when the command will not start (no data, CPUs only, bad option)

CIFAR10_HINT = ("To run Table 6, put the extracted cifar-10-batches-py/ folder (from "
                "cifar-10-python.tar.gz, about 170 MB) in data/ or in the folder given by "
                "--data-root, or add --download on a machine with internet (torchvision fetches "
                "it). To try this command without CIFAR-10: --data fashion-mnist-mini "
                "--image-size 16 --depths 20,56 --steps 20 --force (a few minutes on a laptop).")


def table6_runs(depths: Sequence[int], nets: Sequence[str], seeds: int | None, data
                ) -> list[tuple[dict, int]]:
    """``(build_model arguments, seed)`` for every run: each net, each seed (0, 1, ...).

    ``seeds`` ``None`` means the paper's number of runs: 5 for ResNet-110, 1 for the others.
    """
    runs = []
    for net in nets:
        for depth in depths:
            arguments = dict(depth=depth, shortcut=NETS[net], in_channels=int(data.in_channels),
                             num_classes=number_of_classes(data))
            count = seeds if seeds is not None else PAPER_RUNS.get((net, depth), 1)
            runs += [(arguments, seed) for seed in range(count)]
    return runs


def readable_duration(seconds: float) -> str:
    """``"3.2 days"``, ``"5.1 hours"``, ``"12 minutes"`` or ``"40 seconds"``."""
    if not math.isfinite(seconds):
        return "forever"
    for unit, size in (("days", 86_400), ("hours", 3_600)):
        if seconds >= 2 * size:
            return f"{seconds / size:.1f} {unit}"
    if seconds >= 120:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.0f} seconds"


def results_table(histories: Sequence[History], split: str) -> str:
    """One line per net: parameters, the paper's error, ours (best and mean ± std over seeds)."""
    by_net: dict[str, list[History]] = {}
    for history in histories:
        by_net.setdefault(history.model_name, []).append(history)
    measured = "validation error %" if split == "validation" else "test error %"
    lines = [f"{'net':<16}{'params':>11}  {'paper (Table 6) %':<19}{measured + ' best (mean±std)':<34}"
             f"{'train error %':>14}  runs"]
    for name, runs in by_net.items():
        config = ModelConfig(**runs[0].config)
        paper = (PAPER_TEST_ERROR if config.shortcut != "none" else PAPER_PLAIN_ERROR).get(
            config.depth, "(Fig. 6)" if config.shortcut == "none" else "-")
        done = [run for run in runs if run.status in ("finished", "diverged") and run.test_error]
        errors = [100 * run.final_test_error for run in done]
        if not errors:
            ours, train = "-", "-"
        elif len(errors) == 1:
            ours, train = f"{errors[0]:.2f}", f"{100 * done[0].final_train_error:.2f}"
        else:
            ours = (f"{min(errors):.2f} ({statistics.mean(errors):.2f}±"
                    f"{statistics.stdev(errors):.2f})")
            train = f"{100 * min(run.final_train_error for run in done):.2f}"
        model = runs[0].model if runs[0].model is not None else build_model(**runs[0].config,
                                                                            device="cpu")
        cached = sum(run.from_cache for run in runs)
        notes = [f"{len(done)}/{len(runs)} finished"] + ([f"{cached} from the cache"] if cached else [])
        notes += [f"{run.status}: {run.message}" for run in runs if run.status != "finished"]
        lines.append(f"{name:<16}{count_params(model):>11,}  {paper:<19}{ours:<34}{train:>14}  "
                     + "; ".join(notes))
    return "\n".join(lines)


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m resnet_explorer.reproduce",
        description="Train the paper's CIFAR-10 nets at full length on an executor (a Dask "
                    "cluster or local processes) and print Table 6 beside the paper's numbers.",
        epilog=CIFAR10_HINT)
    parser.add_argument("experiment", choices=["table6"], help="what to reproduce")
    parser.add_argument("--executor", default="local:1",
                        help="where to train: local:N (N processes here) or dask://HOST:PORT "
                             "(a Dask scheduler; pip install 'resnet_explorer[cluster]'). "
                             "Default local:1")
    parser.add_argument("--data", default="cifar10", choices=DATASET_NAMES,
                        help="the dataset (default cifar10, as the paper)")
    parser.add_argument("--data-root", default=None, help="folder with the dataset (default data/)")
    parser.add_argument("--download", action="store_true", help="let torchvision download it")
    parser.add_argument("--image-size", type=int, default=None, help="downscale the images")
    parser.add_argument("--train-size", type=int, default=None, help="a class-balanced subset")
    parser.add_argument("--test-size", type=int, default=None, help="a class-balanced subset")
    parser.add_argument("--split", choices=["test", "validation"], default="test",
                        help="test: train on the training set, measure the test set (Table 6); "
                             "validation: hold out a tenth of the training set (CIFAR-10's "
                             "45k/5k) and measure it, as the paper chose its schedule")
    parser.add_argument("--depths", default=",".join(map(str, TABLE6_DEPTHS)),
                        help="comma-separated depths (default 20,32,44,56,110; 1202 too if you will)")
    parser.add_argument("--nets", default="plain,resnet",
                        help="plain, resnet or both (default plain,resnet)")
    parser.add_argument("--seeds", type=int, default=None,
                        help="runs of each net, seeds 0..N-1 (default: the paper's, 5 for "
                             "ResNet-110 and 1 for the others)")
    parser.add_argument("--schedule", default="paper", choices=list(SCHEDULES),
                        help="default paper (64k iterations)")
    parser.add_argument("--steps", type=int, default=None,
                        help="shorten the schedule (milestones and warm-up scale with it)")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS)
    parser.add_argument("--cache", default=None,
                        help="the run cache folder, shared by every worker (default "
                             "$RESNET_EXPLORER_CACHE or ~/.cache/resnet_explorer/runs)")
    parser.add_argument("--force", action="store_true",
                        help="train even when the workers have no GPU")
    return parser.parse_args(argv)


def _list(text: str, what: str, allowed=None, convert=str) -> list:
    try:
        values = [convert(part.strip()) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or (allowed is not None and any(value not in allowed for value in values)):
        choices = f": {', '.join(map(str, allowed))}" if allowed else ""
        raise ValueError(f"--{what} {text!r}: give a comma-separated list{choices}")
    return values


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    say = print
    try:
        depths = _list(arguments.depths, "depths", convert=int)
        nets = _list(arguments.nets, "nets", allowed=NETS)
        for depth in depths:
            ModelConfig(depth)  # "depth 21 is not 6n+2 ..."
        schedule = resolve_schedule(arguments.schedule, steps=arguments.steps)
    except (ValueError, TypeError) as error:
        say(f"reproduce: {error}", file=sys.stderr)
        return REFUSED
    try:
        data = load_dataset(arguments.data, arguments.data_root, train_size=arguments.train_size,
                            test_size=arguments.test_size, image_size=arguments.image_size,
                            download=arguments.download)
    except DatasetNotFoundError as error:
        say(f"reproduce: {error}", file=sys.stderr)
        if arguments.data == "cifar10":
            say(f"\n{CIFAR10_HINT}", file=sys.stderr)
        return REFUSED
    if arguments.split == "validation":
        data = data.validation_split(round(len(data.train_images) / 10))
    runs = table6_runs(depths, nets, arguments.seeds, data)
    requests = make_requests(runs, data, schedule, precision=arguments.precision,
                             cache=RunCache(arguments.cache))
    try:
        executor, slots, close = executor_from_address(arguments.executor)
    except (ValueError, OSError) as error:
        say(f"reproduce: {error}", file=sys.stderr)
        return REFUSED
    try:
        say(f"{len(requests)} runs of {schedule.steps:,} steps ({data.name}, "
            f"{data.image_size}x{data.image_size}, {len(data.train_images):,} training images) "
            f"on {arguments.executor}, {slots} at once; run cache {RunCache(arguments.cache).root}")
        try:
            step_times = _measure(executor, requests, data.image_size, schedule.batch_size,
                                  arguments.precision, say)
        except Exception as error:  # noqa: BLE001 - a worker that cannot train says so here
            say(f"reproduce: measuring the step time on {arguments.executor} failed: "
                f"{one_line(error)}", file=sys.stderr)
            return REFUSED
        devices = {device for _, device in step_times.values()}
        total = estimated_seconds(requests, {name: seconds for name, (seconds, _)
                                             in step_times.items()}, slots)
        say(f"Estimated time: about {readable_duration(total)} (from the step times above; runs "
            "already in the cache take none).")
        if all(device.startswith("cpu") for device in devices) and not arguments.force:
            say(f"The workers have no GPU ({', '.join(sorted(devices))}): these runs would take "
                f"about {readable_duration(total)}. Start Dask workers on GPU machines and pass "
                "--executor dask://SCHEDULER:8786, or add --force to train on these CPUs anyway.",
                file=sys.stderr)
            return REFUSED
        histories = run_requests(executor, requests, progress=True, device="cpu")
    finally:
        close()
    say(results_table(histories, arguments.split))
    return 0 if all(history.status == "finished" for history in histories) else 1


def _measure(executor, requests, image_size: int, batch_size: int, precision: str, say
             ) -> dict[str, tuple[float, str]]:
    """Seconds per step and device of each distinct net, measured on the executor's workers."""
    nets: dict[str, dict] = {}
    for request in requests:
        nets.setdefault(ModelConfig(**request.arguments).name, request.arguments)
    futures = {name: executor.submit(measure_step_time, net, image_size, batch_size, precision)
               for name, net in nets.items()}
    times = {}
    for name, future in futures.items():
        measured = future.result()
        times[name] = (measured.seconds, measured.device)
        say(f"  {name:<16} {measured.seconds:8.3f} s per step of {batch_size} on {measured.device}"
            f" ({measured.worker})")
    return times


if __name__ == "__main__":
    sys.exit(main())
