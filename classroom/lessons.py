"""Give each student their own copy of the lessons when their server starts (a pre-spawn hook).

A student's edits stay theirs: a lesson already in their home is never overwritten, and a lesson
added to the course later is copied in at their next start.
"""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
LESSONS = REPOSITORY / "notebooks"
LESSONS_FOLDER = "lessons"  # in each student's home


def student_home(spawner) -> Path:
    """The home of the spawner's user: its ``home_dir`` (test spawners) or the Unix account's."""
    home = getattr(spawner, "home_dir", None)
    if home:
        return Path(home)
    return Path(pwd.getpwnam(spawner.user.name).pw_dir)


def copy_lessons(home: Path, owner: str | None = None, lessons: Path = LESSONS) -> list[Path]:
    """Copy every lesson notebook missing from ``home/lessons``; return the copied paths.

    ``owner``: the Unix user who gets the copies when the hub runs as root (real Unix users);
    their home is then made 0700, so other students cannot read their work.
    """
    folder = Path(home) / LESSONS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    account = None
    if owner is not None and os.getuid() == 0:
        try:
            account = pwd.getpwnam(owner)
        except KeyError:
            account = None
    copied = []
    for lesson in sorted(lessons.glob("*.ipynb")):
        target = folder / lesson.name
        if target.exists():
            continue
        shutil.copyfile(lesson, target)
        copied.append(target)
    if account is not None:
        for path in [Path(home), folder, *folder.iterdir()]:
            os.chown(path, account.pw_uid, account.pw_gid)
        Path(home).chmod(0o700)
    return copied


def pre_spawn_hook(spawner) -> None:
    """``c.Spawner.pre_spawn_hook``: the lessons into the student's home before the server starts."""
    home = student_home(spawner)
    copied = copy_lessons(home, owner=spawner.user.name)
    if copied:
        spawner.log.info("copied %d lessons into %s", len(copied), home / LESSONS_FOLDER)
