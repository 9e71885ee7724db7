"""Teacher scenarios: an explorer's settings saved to a small JSON file.

A teacher sets up an explorer (say ResNet-56 without BN, with only the shortcut buttons left
for students to change), saves it with ``save_scenario(explorer, "lesson3.json")``, and a
notebook cell later brings it back with ``load_scenario(ArchitectureExplorer, "lesson3.json")``.
The state itself (``state()`` / ``set_state()``) is the explorers' shared base, ``explorer.Explorer``.

A scenario file looks like::

    {"format": "resnet_explorer.scenario", "version": 1, "explorer": "ArchitectureExplorer",
     "controls": {"depth": 56, "shortcut": "A", "batch_norm": false}, "hidden": ["depth"]}
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .explorer import Explorer, InvalidStateError

__all__ = ["Explorer", "InvalidStateError", "load_scenario", "read_scenario", "save_scenario"]

SCENARIO_FORMAT = "resnet_explorer.scenario"
SCENARIO_VERSION = 1


def save_scenario(explorer: Explorer, path: str | os.PathLike) -> Path:
    """Write the explorer's control values and hidden controls to a small JSON file."""
    path = Path(path)
    scenario = {"format": SCENARIO_FORMAT, "version": SCENARIO_VERSION,
                "explorer": type(explorer).__name__, **explorer.state()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(scenario, indent=2) + "\n", encoding="utf-8")
    return path


def read_scenario(path: str | os.PathLike) -> dict:
    """The scenario in a file, checked for shape (not yet against an explorer's controls)."""
    path = Path(path)
    if path.is_dir():
        raise InvalidStateError(f"scenario file {path} is a folder, not a file; give the path of a "
                                "file made by save_scenario(explorer, path)")
    try:
        scenario = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidStateError(f"scenario file {path} does not exist") from None
    except OSError as error:
        raise InvalidStateError(f"scenario file {path} cannot be read ({error.strerror or error})") from None
    except RecursionError:
        raise InvalidStateError(f"scenario file {path} is not JSON this package reads (nested too "
                                "deeply); save one with save_scenario(explorer, path)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidStateError(f"scenario file {path} is not JSON ({error}); save one with "
                                "save_scenario(explorer, path)") from None
    if not isinstance(scenario, dict) or scenario.get("format") != SCENARIO_FORMAT:
        raise InvalidStateError(f'scenario file {path} is not a resnet_explorer scenario (it needs '
                                f'"format": "{SCENARIO_FORMAT}"); save one with save_scenario(explorer, path)')
    if scenario.get("version") != SCENARIO_VERSION:
        raise InvalidStateError(f"scenario file {path} has version {scenario.get('version')!r}; "
                                f"this resnet_explorer reads version {SCENARIO_VERSION}")
    if not isinstance(scenario.get("controls", {}), dict):
        raise InvalidStateError(f'scenario file {path}: "controls" must be an object of control values')
    return scenario


def load_scenario(explorer_or_class, path: str | os.PathLike) -> Explorer:
    """Apply a scenario file to an explorer, or build one from it when given the explorer's class.

    Raises ``InvalidStateError`` naming the file and what is wrong: not JSON, not a scenario,
    made for another explorer, unknown control names, values out of range.
    """
    scenario = read_scenario(path)
    is_class = isinstance(explorer_or_class, type)
    cls = explorer_or_class if is_class else type(explorer_or_class)
    if scenario.get("explorer") not in (None, cls.__name__):
        raise InvalidStateError(f"scenario file {path} is for {scenario['explorer']}, not {cls.__name__}")
    state = {"controls": scenario.get("controls", {}), "hidden": scenario.get("hidden", [])}
    try:
        if is_class:
            return cls.from_state(state)
        explorer_or_class.set_state(state)
        return explorer_or_class
    except InvalidStateError as error:
        raise InvalidStateError(f"scenario file {path}: {error}") from None
