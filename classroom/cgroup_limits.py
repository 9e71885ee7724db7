"""Put a process under a CPU quota and a memory limit with a cgroup, by hand.

This is what JupyterHub's ``cpu_limit`` and ``mem_limit`` become on a real class server:
SystemdSpawner asks systemd for ``CPUQuota=`` and ``MemoryMax=``, Kubernetes (Zero to JupyterHub)
sets the container's cgroup. Neither runs on a machine without systemd or Kubernetes (a CI box,
a container), so the load test and the thread benchmark make the same kernel object themselves:
a cgroup (v2 ``cpu.max`` / ``memory.max``, or v1 ``cpu.cfs_quota_us`` /
``memory.limit_in_bytes``) made under the cgroup this process is in, so every limit above it
still holds. Needs root, or a cgroup delegated to the user.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from resnet_explorer.speed import cgroup_directories

PERIOD_US = 100_000


class CgroupUnavailable(RuntimeError):
    """No cgroup with a CPU quota can be made here (not root, no cpu controller, ...)."""


@dataclass
class LimitedGroup:
    """A cgroup (one directory per hierarchy) with a CPU quota and perhaps a memory limit."""

    cpus: float
    memory_bytes: int | None
    directories: list[Path] = field(default_factory=list)

    def add(self, pid: int | None = None) -> None:
        """Move process ``pid`` (default: the calling one) into the group; its children follow."""
        for directory in self.directories:
            (directory / "cgroup.procs").write_text(str(pid or os.getpid()))

    def remove(self, wait: float = 10.0) -> None:
        """Delete the group once its processes have ended (waits up to ``wait`` s for them)."""
        for directory in self.directories:
            _remove(directory, wait)


def remove_groups(prefix: str, wait: float = 10.0) -> None:
    """Delete every group this process could have made whose name starts with ``prefix``."""
    for parent in cgroup_folders().values():
        for directory in parent.glob(f"{prefix}*"):
            _remove(directory, wait)


def _remove(directory: Path, wait: float) -> None:
    deadline = time.monotonic() + wait
    while directory.exists():
        try:
            directory.rmdir()  # an empty cgroup is all rmdir takes: EBUSY while processes exit
        except OSError:
            if time.monotonic() > deadline:
                return
            time.sleep(0.2)


def make_limited_group(cpus: float, memory_bytes: int | None = None,
                       name: str | None = None) -> LimitedGroup:
    """A new cgroup allowing ``cpus`` CPUs (``cpus * 100 ms`` per 100 ms) and ``memory_bytes``.

    Raises ``CgroupUnavailable`` saying why when the machine does not let this process make one.
    """
    if cpus <= 0:
        raise ValueError(f"cpus must be positive, got {cpus!r}")
    name = name or f"resnet-explorer-{uuid.uuid4().hex[:8]}"
    group = LimitedGroup(cpus, memory_bytes)
    hierarchies = cgroup_folders()
    try:
        if "v2" in hierarchies:
            directory = _make_v2(hierarchies["v2"], name, memory_bytes is not None)
            group.directories.append(directory)
            (directory / "cpu.max").write_text(f"{round(cpus * PERIOD_US)} {PERIOD_US}")
            if memory_bytes is not None:
                (directory / "memory.max").write_text(str(memory_bytes))
        elif "cpu" in hierarchies:
            directory = _make_child(hierarchies["cpu"], name)
            group.directories.append(directory)
            (directory / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (directory / "cpu.cfs_quota_us").write_text(str(round(cpus * PERIOD_US)))
            if memory_bytes is not None:
                if "memory" not in hierarchies:
                    raise CgroupUnavailable("no cgroup v1 memory hierarchy is mounted")
                directory = _make_child(hierarchies["memory"], name)
                group.directories.append(directory)
                (directory / "memory.limit_in_bytes").write_text(str(memory_bytes))
        else:
            raise CgroupUnavailable("no cgroup hierarchy with the cpu controller is mounted")
    except OSError as error:
        group.remove()
        raise CgroupUnavailable(f"cannot make a cgroup with a CPU quota here: {error}") from error
    except CgroupUnavailable:
        group.remove()
        raise
    return group


def cgroup_folders() -> dict[str, Path]:
    """This process's cgroup folders: "v2" (when its cpu controller is there), "cpu", "memory"."""
    directories = cgroup_directories()
    found = {name: directories[name][1] for name in ("cpu", "memory") if name in directories}
    if "v2" in directories:
        controllers = directories["v2"][0] / "cgroup.controllers"
        if controllers.exists() and "cpu" in controllers.read_text().split():
            found["v2"] = directories["v2"][1]
    return found


def _make_child(parent: Path, name: str) -> Path:
    directory = parent / name
    directory.mkdir()
    return directory


def _make_v2(parent: Path, name: str, memory: bool) -> Path:
    """A v2 child of ``parent`` with the cpu (and memory) controller enabled for it."""
    wanted = ["cpu"] + (["memory"] if memory else [])
    enabled = (parent / "cgroup.subtree_control").read_text().split()
    missing = [controller for controller in wanted if controller not in enabled]
    if missing:
        # Fails (EBUSY) when the parent holds processes and is not the root: cgroup v2 lets only
        # leaves hold processes. systemd and container runtimes delegate a subtree instead.
        (parent / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in missing))
    return _make_child(parent, name)
