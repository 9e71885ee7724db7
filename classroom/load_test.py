"""A class on one server, for real: start JupyterHub, log students in, run lessons, check isolation.

Starts a real JupyterHub (with configurable-http-proxy) on 127.0.0.1 with this folder's
``jupyterhub_config.py``, changed only where a test needs it: a test authenticator (one shared
password) and local-process spawners instead of PAM and systemd. Then N simulated students at
once each log in through the login form, start their server through the hub's REST API, open
lessons in kernels through the Jupyter server API and run every code cell over the kernel's
websocket, as JupyterLab would. The report says, per student, how long it took (and how long
one student alone took), any error output, and whether a student could reach another's server
or files.

Two ways to run the students' servers:

- one Unix user for all (``SimpleLocalProcessSpawner``, any user can run it): the hub, the proxy
  and the tokens still keep students out of each other's servers, but nothing keeps one
  student's *code* from reading another's files or processes (and their tokens): the report
  says so. Never teach like that.
- real Unix users (``--real-users``, root only): the test creates ``rxstudent1..N`` for the run
  and deletes them after; the servers run as them (``LocalProcessSpawner``), homes are 0700.

As root the servers also get the cgroup CPU quota and memory limit of ``cpu_limit`` and
``mem_limit`` (``hub.py``, ``cgroup_limits.py``: what SystemdSpawner asks systemd for), so the kernels see
the quota a real class server gives them.

    python -m classroom.load_test --students 4                 # about 2-4 minutes on 2 cores
    sudo .venv/bin/python -m classroom.load_test --students 8 --real-users --alone
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from classroom.cgroup_limits import CgroupUnavailable, make_limited_group
from classroom.hub import Hub, running_hub, unix_students
from classroom.student import LessonRun, Student

LESSONS = ("01_residual_block", "02_degradation")


@dataclass
class StudentRun:
    """One student's session: timings, error output, what their kernel saw and could reach."""

    name: str
    seconds: float = 0.0  # from the login form to the last cell of the last lesson
    start_seconds: float = 0.0  # login + server start
    lessons: list[LessonRun] = field(default_factory=list)
    facts: dict = field(default_factory=dict)
    reach: dict = field(default_factory=dict)  # from their kernel to the next student's server
    hub_checks: dict = field(default_factory=dict)  # their token / cookie against the next student
    failure: str = ""

    @property
    def errors(self) -> list[str]:
        return ([self.failure] if self.failure else []) + [
            f"{run.lesson}: {error}" for run in self.lessons for error in run.errors]


# What code in a kernel can do to another student when all servers run as one Unix user.
SHARED_USER_BREACHES = ("read_their_lesson", "their_token_from_proc", "stolen_token_on_their_server")


@dataclass
class LoadTestReport:
    """The students' runs (together, and one alone if asked), and how they were kept apart."""

    students: list[StudentRun]
    alone: StudentRun | None
    real_users: bool
    limits: str  # how cpu_limit / mem_limit were enforced

    def isolation_breaches(self) -> list[str]:
        """Every way a student reached another's server or files."""
        breaches = []
        for student in self.students:
            for check, outcome in {**student.hub_checks, **student.reach}.items():
                if _reached(check, outcome):
                    breaches.append(f"{student.name}: {check} -> {outcome}")
        return breaches

    def unexpected_breaches(self) -> list[str]:
        """The breaches that the set-up should have stopped: all of them with real Unix users;
        with one Unix user for all, those through the hub, the proxy or a token."""
        return [breach for breach in self.isolation_breaches()
                if self.real_users or breach.split(": ")[1].split(" -> ")[0] not in SHARED_USER_BREACHES]

    def to_text(self) -> str:
        lines = [f"{len(self.students)} students at once; "
                 f"{'real Unix users' if self.real_users else 'one Unix user for all'}; {self.limits}"]
        alone = self.alone.seconds if self.alone else None
        rows = ([("alone", self.alone)] if self.alone else []) + [("together", s) for s in self.students]
        for label, student in rows:
            lessons = ", ".join(f"{run.lesson} {run.seconds:.0f} s" for run in student.lessons)
            ratio = f" ({student.seconds / alone:.2f}x alone)" if alone and label == "together" else ""
            lines.append(f"  {label:<8} {student.name:<11} {student.seconds:6.1f} s{ratio}: "
                         f"start {student.start_seconds:.0f} s, {lessons}; "
                         f"threads {student.facts.get('threads', '?')}; peak "
                         f"{student.facts.get('peak_mb', float('nan')):.0f} MB; "
                         f"errors {len(student.errors)}")
        for student in self.students:
            for error in student.errors:
                lines.append(f"  ERROR {student.name}: {error[:500]}")
        for student in self.students[:1]:  # the same checks for every student
            checks = {**student.hub_checks, **student.reach}
            lines.append(f"  {student.name} tried the next student's: "
                         + ", ".join(f"{check} {outcome}" for check, outcome in checks.items()))
        breaches, unexpected = self.isolation_breaches(), self.unexpected_breaches()
        lines.append("isolation: " + ("no student reached another's server or files" if not breaches
                                      else f"{len(breaches)} breaches, {len(unexpected)} unexpected"))
        lines += [f"  {breach}" + ("" if breach in unexpected else " (expected: one Unix user for all)")
                  for breach in breaches]
        return "\n".join(lines)


def _reached(check: str, outcome) -> bool:
    """True when ``outcome`` of ``check`` means access was granted."""
    if check == "read_their_lesson":
        return outcome == "read"
    if check == "their_token_from_proc":
        return outcome == "stolen"
    return outcome in (200, 201, 202, 204)


def run_student(hub: Hub, name: str, lessons: tuple[str, ...]) -> StudentRun:
    run = StudentRun(name)
    started = time.perf_counter()
    student = Student(hub, name)
    try:
        student.log_in()
        student.start_server()
        run.start_seconds = time.perf_counter() - started
        for lesson in lessons:
            run.lessons.append(student.run_lesson(lesson))
        run.facts = student.facts
    except Exception as error:  # the report says which student failed and how
        run.failure = f"{type(error).__name__}: {error}"
    run.seconds = time.perf_counter() - started
    return run


# ---- the whole test -----------------------------------------------------------------------------

def load_test(students: int = 4, lessons: tuple[str, ...] = LESSONS, alone: bool = False,
              real_users: bool = False) -> LoadTestReport:
    """Log in ``students`` students at once, run ``lessons``, check isolation; ``alone``: first
    one student by themselves, for the time to compare with."""
    count = students + int(alone)
    accounts = unix_students(count) if real_users else _names(count)
    with accounts as names, running_hub(real_users) as hub:
        alone_run = run_student(hub, names[0], lessons) if alone else None
        together = names[1:] if alone else names
        runs = [StudentRun(name) for name in together]
        threads = [threading.Thread(target=lambda i=i: runs.__setitem__(i, run_student(hub, together[i], lessons)))
                   for i in range(len(together))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if len(together) > 1:
            _check_isolation(hub, together, runs)
        limits = _limits_description()
    return LoadTestReport(runs, alone_run, real_users, limits)


@contextmanager
def _names(count: int) -> Iterator[list[str]]:
    yield [f"student{i}" for i in range(1, count + 1)]


def _check_isolation(hub: Hub, names: list[str], runs: list[StudentRun]) -> None:
    """Each student tries the next one's server, token and files (with their servers running)."""
    students = [Student(hub, name) for name in names]
    for student in students:
        try:
            student.log_in()
        except Exception:
            pass  # that student's own run already reports it; their checks fail below
    for i, (student, run) in enumerate(zip(students, runs)):
        other = students[(i + 1) % len(students)]
        try:
            run.hub_checks = student.try_to_reach(other)
            run.reach = student.kernel_tries_to_reach(other)
        except Exception as error:  # reported as a failure of that student's run
            run.failure = run.failure or f"isolation check: {type(error).__name__}: {error}"


def _limits_description() -> str:
    if os.getuid() != 0:
        return "cpu_limit and mem_limit not enforced (not root: no cgroup; SystemdSpawner would)"
    try:
        make_limited_group(1.0).remove()
    except CgroupUnavailable as error:
        return f"cpu_limit and mem_limit not enforced ({error})"
    return "cpu_limit and mem_limit enforced by a cgroup per server (as SystemdSpawner does)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=4)
    parser.add_argument("--lessons", nargs="+", default=list(LESSONS))
    parser.add_argument("--alone", action="store_true", help="first time one student alone")
    parser.add_argument("--real-users", action="store_true", help="Unix accounts per student (root)")
    args = parser.parse_args()
    started = time.perf_counter()
    report = load_test(args.students, tuple(args.lessons), args.alone, args.real_users)
    print(report.to_text())
    print(f"whole load test: {time.perf_counter() - started:.0f} s")
    sys.exit(1 if any(s.errors for s in report.students) or report.unexpected_breaches() else 0)


if __name__ == "__main__":
    main()
