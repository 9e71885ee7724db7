"""Settings that make training fast on the machine at hand: precision, memory layout, threads.

What makes a CPU training step fast (``benchmarks/bench_training_speed.py`` measures ``train``
against a textbook PyTorch loop, in fp32 and with ``precision="auto"``):

- ``channels_last`` (NHWC) memory, which the CPU convolutions prefer to NCHW.
- bfloat16 autocast, but only on CPUs that do bf16 arithmetic in hardware (Intel AMX, or the
  AVX512-BF16 instructions of Intel Cooper Lake+ and AMD Zen 4+). Elsewhere it is emulated
  and runs *slower* than fp32, so ``precision="auto"`` turns it on only when the hardware
  says it can.
- No more threads than physical cores: more slow PyTorch down.

On a GPU the data goes to the GPU once, and autocast uses bf16 when the GPU supports it, else
fp16 with a gradient scaler (fp16 gradients underflow without one).
"""

from __future__ import annotations

import contextlib
import os
import platform
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import torch

PRECISIONS = ("auto", "fp32", "bf16")


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
    """CPU cores this process may use, counting hyper-threads of one core once.

    Reads the Linux topology of the CPUs in this process's affinity mask; elsewhere falls back
    to ``os.cpu_count()``.
    """
    try:
        usable = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
    cores = set()
    for cpu in usable:
        siblings = f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list"
        try:
            with open(siblings) as file:
                cores.add(file.read().strip())
        except OSError:
            cores.add(str(cpu))
    return max(1, min(len(cores), _cgroup_cpu_limit() or len(cores)))


def _cgroup_cpu_limit() -> int | None:
    """The CPU quota of a container (cgroup v2 ``cpu.max``), rounded up; None if unlimited."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as file:
            quota, period = file.read().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    return max(1, -(-int(quota) // int(period)))


def recommended_threads() -> int:
    """Threads for CPU training: the physical cores, never more than PyTorch's current setting."""
    return max(1, min(physical_cores(), torch.get_num_threads()))


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
