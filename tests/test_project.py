"""The project's set-up files agree with each other and with the README."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _package_names(requirements):
    return {re.split(r"[<>=!~ \[]", item.strip(), maxsplit=1)[0].lower() for item in requirements}


def test_environment_yml_names_the_same_runtime_packages_as_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime = _package_names(pyproject["project"]["dependencies"])
    environment = (ROOT / "environment.yml").read_text()
    pip_section = environment.split("- pip:", 1)[1]
    pip_lines = re.findall(r"^\s+- (?!-e)(\S+)$", pip_section, re.M)
    assert _package_names(pip_lines) == runtime


def test_environment_yml_pins_the_same_versions_as_pyproject():
    """Caps included (plotly's guards figures/live.py): a conda install gets what pip gets."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    environment = (ROOT / "environment.yml").read_text()
    pip_section = environment.split("- pip:", 1)[1]
    pip_lines = re.findall(r"^\s+- (?!-e)(\S+)", pip_section, re.M)
    assert sorted(pip_lines) == sorted(item.replace(" ", "") for item in pyproject["project"]["dependencies"])
    assert any(item.startswith("plotly>=") and "<" in item for item in pip_lines)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^\s*(make \w+)\s*$", readme, re.M)
    assert commands[:2] == ["make lab", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()
