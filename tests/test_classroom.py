"""The class set-up (classroom/): its config, the lessons in each home, and a real JupyterHub
with four students at once (the load test; its timings are in benchmarks/bench_classroom.py)."""

import os

import pytest
from traitlets.config.loader import PyFileConfigLoader

from classroom.cgroup_limits import cgroup_folders
from classroom.hub import GROUP_PREFIX
from classroom.lessons import LESSONS, copy_lessons
from classroom.load_test import load_test

CONFIG = "classroom/jupyterhub_config.py"


def _load_config(monkeypatch, students_file, **environment):
    monkeypatch.setenv("CLASS_STUDENTS", str(students_file))
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return PyFileConfigLoader(os.path.basename(CONFIG), path=os.path.dirname(CONFIG)).load_config()


def test_config_limits_each_student_and_copies_the_lessons(monkeypatch, tmp_path):
    students = tmp_path / "students.txt"
    students.write_text("# one a line\nada\ngrace\n\n")
    config = _load_config(monkeypatch, students, CLASS_CPU_LIMIT="0.5", CLASS_TEACHERS="alan")
    assert config.Authenticator.allowed_users == {"ada", "grace"}
    assert config.Authenticator.admin_users == {"alan"}
    assert config.Spawner.cpu_limit == 0.5 and config.Spawner.mem_limit == "2G"
    assert config.JupyterHub.spawner_class == "systemdspawner.SystemdSpawner"
    assert config.Spawner.pre_spawn_hook.__name__ == "pre_spawn_hook"
    assert config.Spawner.default_url == "/lab/tree/lessons/00_start_here.ipynb"


def test_config_without_a_students_list_says_what_to_write(monkeypatch, tmp_path):
    with pytest.raises(SystemExit, match="list the students' user names in it, one a line"):
        _load_config(monkeypatch, tmp_path / "missing.txt")


def test_lessons_are_copied_once_and_a_students_edits_are_kept(tmp_path):
    copied = copy_lessons(tmp_path)
    assert sorted(path.name for path in copied) == sorted(path.name for path in LESSONS.glob("*.ipynb"))
    edited = tmp_path / "lessons" / "02_degradation.ipynb"
    edited.write_text("my own notes")
    (tmp_path / "lessons" / "03_shortcut_options.ipynb").unlink()  # a lesson the course adds later
    again = copy_lessons(tmp_path)
    assert [path.name for path in again] == ["03_shortcut_options.ipynb"]
    assert edited.read_text() == "my own notes"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_four_students_at_once_run_a_lesson_and_cannot_reach_each_other():
    """A real JupyterHub and proxy on 127.0.0.1; each student logs in, starts a server, runs lesson
    02 (the TrainingRace explorer and a race, fast mode) over the kernel's websocket, then tries
    the next student's server with their token, their browser cookies and from their kernel."""
    report = load_test(students=4, lessons=("02_degradation",))
    text = report.to_text()
    print(text)
    assert len(report.students) == 4
    assert not report.unexpected_breaches(), text
    for student in report.students:
        assert not student.errors, text
        assert [run.lesson for run in student.lessons] == ["02_degradation"], text
        assert student.hub_checks and student.reach, text
        # One Unix user for all (no root here, or no real users asked for): the hub, the proxy and
        # the tokens keep students apart; files and processes are shared (the report says so).
        for check in ("token_on_their_server", "token_on_their_kernels", "token_on_their_hub_model",
                      "token_makes_their_token", "browser_opens_their_lab", "token_on_their_port"):
            assert student.hub_checks[check] in (302, 403, 404), f"{check}\n{text}"
        for check in ("own_token_on_their_server", "no_token_on_their_server"):
            assert student.reach[check] in (302, 403), f"{check}\n{text}"
        if "enforced by a cgroup" in report.limits:  # the kernel follows cpu_limit = 1
            assert student.facts["threads"].startswith("1 (a cgroup CPU quota of 1 CPU"), text
    left = [path for hierarchy in cgroup_folders().values() for path in hierarchy.glob(f"{GROUP_PREFIX}*")]
    assert not left, f"cgroups left behind: {left}"
