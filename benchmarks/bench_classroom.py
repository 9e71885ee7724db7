"""A class on one server: N students at once vs one student alone, on a real JupyterHub.

Runs ``classroom/load_test.py``: one student alone first, then N together, each logging in,
starting their server and running lessons 01 (the architecture explorer) and 02 (the training
race, fast mode) through the Jupyter server API; then every student tries to reach the next
one's server and files. As root the students are real Unix accounts (made and deleted by the
run) and each server gets the cgroup CPU quota of ``cpu_limit`` (1 CPU) as SystemdSpawner would.

    python benchmarks/bench_classroom.py                   # 4 students, about 3-5 minutes
    python benchmarks/bench_classroom.py --students 8 --same-user
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from classroom.load_test import LESSONS, load_test  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=4)
    parser.add_argument("--lessons", nargs="+", default=list(LESSONS))
    parser.add_argument("--same-user", action="store_true",
                        help="one Unix user for all students (the default when not root)")
    args = parser.parse_args()
    real_users = os.getuid() == 0 and not args.same_user
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; lessons {args.lessons}")
    started = time.perf_counter()
    report = load_test(args.students, tuple(args.lessons), alone=True, real_users=real_users)
    print(report.to_text())
    together = [student.seconds for student in report.students]
    if report.alone and together:
        print(f"slowest of {len(together)} together / alone: {max(together) / report.alone.seconds:.2f}x; "
              f"the {len(together)} together finished in {max(together):.0f} s, one alone in "
              f"{report.alone.seconds:.0f} s (lessons one after another would take "
              f"{len(together) * report.alone.seconds:.0f} s)")
    print(f"whole benchmark: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
