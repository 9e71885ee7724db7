"""A check of the machine a lesson runs on, with advice a teacher can act on (lesson 00)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from dataclasses import dataclass, field

import torch

from .device import default_device
from .speed import physical_cores, thread_policy

FAST_MODE_VARIABLE = "RESNET_EXPLORER_FAST"
_PACKAGES = ("torch", "torchvision", "captum", "plotly", "ipywidgets", "anywidget", "jupyterlab", "numpy")


def fast_mode() -> bool:
    """True when ``RESNET_EXPLORER_FAST`` is set (tests and quick previews): lessons shrink their runs."""
    return os.environ.get(FAST_MODE_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


@dataclass
class Check:
    """One line of the report: what was checked, what was found, and advice when it is not fine."""

    name: str
    found: str
    ok: bool = True
    advice: str = ""


@dataclass
class EnvironmentReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def to_text(self) -> str:
        lines = []
        for check in self.checks:
            mark = "ok  " if check.ok else "FIX "
            lines.append(f"{mark} {check.name:<18} {check.found}")
            if check.advice:
                lines.append(f"     {'':<18} -> {check.advice}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{'&#9989;' if c.ok else '&#10060;'}</td><td><b>{c.name}</b></td><td>{c.found}</td>"
            f"<td>{c.advice}</td></tr>"
            for c in self.checks
        )
        return f"<table>{rows}</table>"


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _threads_check() -> Check:
    """The CPU threads the package's training, probes and explorers use, and why."""
    policy = thread_policy()
    allowed = physical_cores()
    advice = ""
    if policy.threads > allowed:
        advice = (f"{policy.user_setting} is more than the {allowed} CPU cores this kernel may use; "
                  "runs will be several times slower: unset it or lower it")
    elif policy.threads < torch.get_num_threads():
        advice = f"torch alone would use {torch.get_num_threads()}"
    return Check("threads", str(policy), True, advice)


def check_environment(load_data: bool = True) -> EnvironmentReport:
    """What the lessons need: Python, packages, a device, the offline dataset, optional CIFAR-10."""
    report = EnvironmentReport()
    python_ok = sys.version_info >= (3, 10)
    report.checks.append(
        Check("python", platform.python_version(), python_ok, "" if python_ok else "use Python 3.10 or newer")
    )
    for name in _PACKAGES:
        version = _package_version(name)
        report.checks.append(
            Check(name, version or "missing", version is not None,
                  "" if version else "run `make lab` again, or `pip install -e .` in the project folder")
        )
    device = default_device()
    advice = "" if device.type != "cpu" else "no GPU: lessons use short CPU schedules (a minute or two per run)"
    report.checks.append(Check("device", str(device), True, advice))
    report.checks.append(_threads_check())
    if load_data:
        from .data import load_dataset

        try:
            data = load_dataset()
            report.checks.append(Check("dataset", f"{data!r}"))
        except (OSError, ValueError) as error:
            report.checks.append(Check("dataset", "not loadable", False, str(error)))
        try:
            load_dataset("cifar10", test_size=10, train_size=10)
            report.checks.append(Check("CIFAR-10", "found (optional)"))
        except (OSError, ValueError):
            report.checks.append(
                Check("CIFAR-10", "not found (optional)", True,
                      'lessons use Fashion-MNIST; for CIFAR-10 see load_dataset("cifar10", download=True)')
            )
    report.checks.append(Check("fast mode", "on" if fast_mode() else "off"))
    return report
