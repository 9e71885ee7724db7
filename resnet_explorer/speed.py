"""Settings that make training fast on the machine at hand: precision, memory layout, threads.

What makes a CPU training step fast (``benchmarks/bench_training_speed.py`` measures ``train``
against a textbook PyTorch loop, in fp32 and with ``precision="auto"``):

- ``channels_last`` (NHWC) memory, which the CPU convolutions prefer to NCHW.
- bfloat16 autocast, but only on CPUs that do bf16 arithmetic in hardware (Intel AMX, or the
  AVX512-BF16 instructions of Intel Cooper Lake+ and AMD Zen 4+). Elsewhere it is emulated
  and runs *slower* than fp32, so ``precision="auto"`` turns it on only when the hardware
  says it can.
- No more threads than the cores this process may use: more slow PyTorch down, and under
  CPU contention 2 threads ran several times slower than 1: ``thread_policy`` picks the count.

On a GPU the data goes to the GPU once, and autocast uses bf16 when the GPU supports it, else
fp16 with a gradient scaler (fp16 gradients underflow without one).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import platform
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch

PRECISIONS = ("auto", "fp32", "bf16")
T = TypeVar("T")


@dataclass(frozen=True)
class SpeedSettings:
    """How ``train`` runs: where, in which precision, in which memory layout, on how many threads."""

    device: torch.device
    precision: str  # "fp32", "bf16" or "fp16": what autocast computes in
    channels_last: bool
    num_threads: int | None  # CPU threads for PyTorch; None leaves the setting alone (GPU)
    grad_scaler: bool  # fp16 on CUDA needs loss scaling

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)

    def autocast(self) -> contextlib.AbstractContextManager:
        """The autocast context for forward passes (a no-op for fp32)."""
        dtype = self.autocast_dtype
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    def as_dict(self) -> dict:
        return {"device": str(self.device), "precision": self.precision,
                "channels_last": self.channels_last, "num_threads": self.num_threads}


def cpu_has_native_bf16() -> bool:
    """True when this CPU computes bfloat16 in hardware (AMX tiles or AVX512-BF16).

    Also False when PyTorch has been told to use fewer instructions than the CPU has
    (``ATEN_CPU_CAPABILITY=avx2`` and the like), since bf16 is then emulated.
    """
    probes = [getattr(torch.cpu, name, None)
              for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    try:
        hardware = any(probe() for probe in probes if probe is not None)
    except Exception:  # a private probe that changed or fails: be safe, use fp32
        return False
    return hardware and _aten_capability() in ("AVX512", "AMX")


def _aten_capability() -> str:
    try:
        return str(torch.backends.cpu.get_cpu_capability()).upper()
    except Exception:
        return "DEFAULT"


def physical_cores() -> int:
    """CPU cores this process may use: its affinity mask, hyper-threads of one core counted once,
    and no more than its cgroup CPU quota allows (see ``thread_policy``)."""
    cores = _cores_of(_usable_cpus())
    quota = cgroup_cpu_quota()
    return cores if quota is None else min(cores, _threads_for_quota(quota))


@dataclass(frozen=True)
class ThreadPolicy:
    """How many CPU threads this package gives PyTorch, and why (``thread_policy()``).

    The package's training, probes and attribution run under this count, and so do the
    explorers that call them (an explorer given ``threads=`` uses that number instead).
    """

    threads: int
    reason: str  # one line a teacher can read in ``rx.check_environment()``
    usable_cpus: int  # CPUs in this process's affinity mask (taskset, a container's cpuset)
    cores: int  # physical cores among them
    cpu_quota: float | None  # CPUs the cgroup quota allows (JupyterHub's cpu_limit); None: none
    user_setting: str | None  # "OMP_NUM_THREADS=2" or "torch.set_num_threads(3)" when the user chose

    def __str__(self) -> str:
        return f"{self.threads} ({self.reason})"


def thread_policy() -> ThreadPolicy:
    """The one thread policy: the user's choice if they made one, else what the machine allows.

    1. ``OMP_NUM_THREADS`` (or ``MKL_NUM_THREADS``) in the environment, or a
       ``torch.set_num_threads(n)`` made before, is respected: PyTorch's current count is kept.
    2. Otherwise: the physical cores in this process's CPU affinity, and never more than its
       cgroup CPU quota (cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``; JupyterHub's
       ``cpu_limit`` is such a quota), rounded down, at least 1.

    PyTorch itself follows the affinity but not the quota: a kernel limited to 1 CPU on a 16-core
    server runs 16 threads, which spin and get throttled together. Under CPU contention 2 threads
    ran 5-13x slower than 1 on the project's 2-core machines.

    A ``torch.set_num_threads(n)`` whose ``n`` equals one of PyTorch's own defaults here (the
    usable CPUs or cores) cannot be told apart from the default; the quota then still applies.
    """
    usable = _usable_cpus()
    cores = _cores_of(usable)
    quota = cgroup_cpu_quota()
    current = torch.get_num_threads()
    user = _user_thread_setting(current, defaults={len(usable), cores, os.cpu_count() or 1,
                                                   _cores_of(_online_cpus())})
    facts = dict(usable_cpus=len(usable), cores=cores, cpu_quota=quota, user_setting=user)
    if user is not None:
        return ThreadPolicy(current, f"{user} set by the user", **facts)
    cpus = _count(len(usable), "usable CPU") if cores == len(usable) else \
        f"{_count(cores, 'physical core')} of {_count(len(usable), 'usable CPU')}"
    if quota is not None and _threads_for_quota(quota) < cores:
        threads = _threads_for_quota(quota)
        reason = (f"a cgroup CPU quota of {_count(quota, 'CPU')} (a JupyterHub cpu_limit or a "
                  f"container's limit), on {cpus}")
    else:
        threads = cores
        reason = cpus + ("" if quota is None else f", under a CPU quota of {_count(quota, 'CPU')}")
    return ThreadPolicy(threads, reason, **facts)


def recommended_threads() -> int:
    """Threads for the package's CPU work: ``thread_policy().threads``."""
    return thread_policy().threads


def follows_thread_policy(function: Callable[..., T]) -> Callable[..., T]:
    """Run ``function`` with ``recommended_threads()`` PyTorch threads (probes, attribution)."""
    @functools.wraps(function)
    def under_policy(*args, **kwargs):
        with thread_limit(recommended_threads()):
            return function(*args, **kwargs)
    return under_policy


def _count(number: float, thing: str) -> str:
    return f"{number:g} {thing}" + ("" if number == 1 else "s")


def _threads_for_quota(quota: float) -> int:
    # Rounded down (as Go's automaxprocs does): threads beyond the quota burn it spinning in
    # OpenMP barriers and the whole group is throttled until the next period.
    return max(1, math.floor(quota + 1e-9))


def _user_thread_setting(current: int, defaults: set[int]) -> str | None:
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return f"{name}={value}"
    if current not in defaults:
        return f"torch.set_num_threads({current})"
    return None


def _usable_cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(os.cpu_count() or 1))


def _online_cpus() -> list[int]:
    return list(range(os.cpu_count() or 1))


def _cores_of(cpus: list[int]) -> int:
    """Physical cores among ``cpus``: hyper-threads of one core share a ``thread_siblings_list``."""
    cores = set()
    for cpu in cpus:
        try:
            with open(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list") as file:
                cores.add(file.read().strip())
        except OSError:
            cores.add(str(cpu))
    return max(1, len(cores))


def cgroup_cpu_quota(proc: str = "/proc/self") -> float | None:
    """CPUs this process's cgroup CPU quota allows; None when there is none.

    The quota of the process's cgroup and of each parent up to the mount counts, the tightest
    one wins: cgroup v2 ``cpu.max`` ("50000 100000" is half a CPU) and v1 ``cpu.cfs_quota_us`` /
    ``cpu.cfs_period_us``. ``proc``: another ``/proc/<pid>`` (tests).
    """
    directories = cgroup_directories(proc)
    quotas = []
    if "v2" in directories:
        quotas += _quotas_up_the_tree(*directories["v2"], _read_cpu_max)
    if "cpu" in directories:
        quotas += _quotas_up_the_tree(*directories["cpu"], _read_cfs_quota)
    return min(quotas) if quotas else None


def cgroup_directories(proc: str = "/proc/self") -> dict[str, tuple[Path, Path]]:
    """Where a process's cgroups are: ``{"v2" or a v1 controller: (mount point, cgroup folder)}``.

    ``/proc/<pid>/cgroup`` names the cgroup in each hierarchy, ``/proc/<pid>/mountinfo`` where
    each hierarchy is mounted and which subtree the mount shows (a container sees its own cgroup
    as the root). Empty when there is no cgroup file system (not Linux).
    """
    try:
        memberships = Path(proc, "cgroup").read_text().splitlines()
        mounts = Path(proc, "mountinfo").read_text().splitlines()
    except OSError:
        return {}
    paths = {}
    for line in memberships:
        _, controllers, path = line.split(":", 2)
        for name in ["v2"] if controllers == "" else controllers.split(","):
            paths[name] = path
    found = {}
    for line in mounts:
        fields, _, super_fields = line.partition(" - ")
        fields, super_fields = fields.split(), super_fields.split()
        if len(fields) < 5 or len(super_fields) < 3:
            continue
        root, mount_point = fields[3], fields[4]
        filesystem, options = super_fields[0], super_fields[2].split(",")
        names = ["v2"] if filesystem == "cgroup2" else options if filesystem == "cgroup" else []
        for name in names:
            if name not in paths or name in found:
                continue
            path = paths[name]
            if root != "/" and (path == root or path.startswith(root.rstrip("/") + "/")):
                path = path[len(root):]
            found[name] = (Path(mount_point), Path(mount_point) / path.lstrip("/"))
    return found


def _quotas_up_the_tree(top: Path, directory: Path,
                        read: Callable[[Path], float | None]) -> list[float]:
    quotas = []
    while True:
        quota = read(directory)
        if quota is not None:
            quotas.append(quota)
        if directory == top or top not in directory.parents:
            return quotas
        directory = directory.parent


def _read_cpu_max(directory: Path) -> float | None:
    try:
        quota, period = (directory / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _read_cfs_quota(directory: Path) -> float | None:
    try:
        quota = int((directory / "cpu.cfs_quota_us").read_text())
        period = int((directory / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota <= 0 or period <= 0 else quota / period


def choose_settings(device: torch.device | str, precision: str = "auto") -> SpeedSettings:
    """The fastest safe settings for ``device``.

    ``precision``: ``"auto"`` (bf16 where the hardware has it, fp16 + loss scaling on older
    GPUs, fp32 otherwise), ``"fp32"``, or ``"bf16"`` (forced; warns if it will be emulated).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; allowed: {', '.join(PRECISIONS)}")
    device = torch.device(device)
    if device.type == "cpu":
        native = cpu_has_native_bf16()
        if precision == "bf16" and not native:
            warnings.warn(f"this CPU ({platform.processor() or platform.machine()}) has no native "
                          "bf16: autocast will be emulated and run slower than fp32; use "
                          'precision="auto" or "fp32"', stacklevel=3)
        chosen = "bf16" if precision == "bf16" or (precision == "auto" and native) else "fp32"
        return SpeedSettings(device, chosen, channels_last=True,
                             num_threads=recommended_threads(), grad_scaler=False)
    if device.type == "cuda":
        bf16_ok = torch.cuda.is_bf16_supported()
        if precision == "fp32":
            chosen = "fp32"
        elif precision == "bf16" or bf16_ok:
            chosen = "bf16"
        else:
            chosen = "fp16"
        return SpeedSettings(device, chosen, channels_last=chosen != "fp32", num_threads=None,
                             grad_scaler=chosen == "fp16")
    # MPS and others: plain fp32, the layout they handle best.
    chosen = "bf16" if precision == "bf16" else "fp32"
    return SpeedSettings(device, chosen, channels_last=False, num_threads=None, grad_scaler=False)


@contextlib.contextmanager
def thread_limit(num_threads: int | None) -> Iterator[None]:
    """Use ``num_threads`` PyTorch threads inside the block, restore the old count after."""
    if num_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
