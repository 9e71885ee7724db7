"""The base of every explorer: named controls and their state, one refresh per change, one look.

Every explorer derives from ``Explorer``: a dict of named ``controls`` (ipywidgets with a
``value``), ``state()`` / ``set_state()``, ``hide_controls()`` / ``show_controls()``, and one
``refresh()`` per change, however many controls a ``set_state`` changes. The base also gives
each explorer the same start-up (``_start``: the constructor's values, one first draw), the same
box (``_box``: the one stylesheet of ``look``, projector or laptop sizes) and the same status
line (``look.status_html``). ``scenarios`` saves and loads the state as a teacher's file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager

import ipywidgets as widgets

from ..checks import model_name
from ..figures import style
from . import look


class InvalidStateError(ValueError):
    """A state, constructor value or scenario file an explorer cannot take; says what is allowed."""


def option_values(control: widgets.Widget) -> list:
    """The values a selection widget (ToggleButtons, Dropdown, SelectionSlider...) can take."""
    options = control.options
    if isinstance(options, Mapping):
        return list(options.values())
    return [option[1] if isinstance(option, tuple) and len(option) == 2 else option for option in options]


def distinct_names(models: Iterable) -> dict:
    """``{name: model}`` for a list of nets, each under its ``model_name``; a name that repeats
    gets a prime (``"ResNet-56 (A)′"``), so no net of the list is dropped."""
    named: dict = {}
    for model in models:
        name = model_name(model)
        while name in named:
            name += "′"
        named[name] = model
    return named


def check_control_value(name: str, control: widgets.Widget, value):
    """``value`` if ``control`` can take it, else ``InvalidStateError`` naming what it can take."""
    if hasattr(control, "options"):
        allowed = option_values(control)
        if value not in allowed or isinstance(value, bool) != isinstance(allowed[0], bool):
            raise InvalidStateError(
                f"{name}: {value!r} is not allowed; allowed: {', '.join(repr(v) for v in allowed)}")
        return value
    current = control.value
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise InvalidStateError(f"{name}: {value!r} is not allowed; allowed: true or false")
        return value
    if isinstance(current, (int, float)):
        number_type = int if isinstance(current, int) else (int, float)
        if isinstance(value, bool) or not isinstance(value, number_type):
            kind = "a whole number" if number_type is int else "a number"
            raise InvalidStateError(f"{name}: {value!r} is not allowed; it must be {kind}")
        low, high = getattr(control, "min", None), getattr(control, "max", None)
        if (low is not None and value < low) or (high is not None and value > high):
            raise InvalidStateError(f"{name}: {value!r} is out of range; allowed: {low} to {high}")
        return value
    if isinstance(current, str) and not isinstance(value, str):
        raise InvalidStateError(f"{name}: {value!r} is not allowed; it must be text")
    return value


class Explorer:
    """Named controls, their state as a dict, hiding controls, and one refresh per change.

    A subclass builds its controls, calls ``self.add_controls({...})``, lays out ``self.widget``
    and implements ``refresh()``, which reads the controls and updates the figures in place.
    It lists its control names in ``CONTROL_NAMES`` (the same names as its constructor's
    keyword arguments), so that ``from_state`` can check a scenario before building anything.
    Display an explorer by leaving it last in a cell, or with ``display(explorer.widget)``.
    """

    CONTROL_NAMES: tuple[str, ...] = ()

    def __init__(self, large: bool | None = None) -> None:
        self.large = style.is_large(large)  # projector sizes (default: the figures' current theme)
        self.controls: dict[str, widgets.ValueWidget] = {}
        self.widget: widgets.Box = widgets.VBox()
        self._hold_depth = 0
        self._stale = False

    # -- start-up and look --------------------------------------------------------------------

    def _box(self, children: Sequence[widgets.Widget], **layout) -> widgets.VBox:
        """The explorer's box: the shared stylesheet, then ``children``, sized for ``large``."""
        box = widgets.VBox([widgets.HTML(look.STYLESHEET), *children], layout=widgets.Layout(**layout))
        box.add_class("rx-explorer")
        box.add_class(look.size_class(self.large))
        return box

    def _start(self, values: Mapping) -> None:
        """Set the constructor's control values and draw once (even if every value is a default)."""
        with self.hold_refresh():
            self._stale = True
            self.set_state({"controls": values})

    # -- controls and refreshing ------------------------------------------------------------

    def add_controls(self, controls: Mapping[str, widgets.ValueWidget]) -> None:
        """Register controls; any change of their values refreshes the explorer."""
        for name, control in controls.items():
            self.controls[name] = control
            control.observe(self._on_control_change, names="value")

    def _on_control_change(self, change) -> None:
        if self._hold_depth:
            self._stale = True
        else:
            self.refresh()

    @contextmanager
    def hold_refresh(self):
        """Change several controls with one refresh at the end (if anything changed)."""
        self._hold_depth += 1
        try:
            yield
        finally:
            self._hold_depth -= 1
        if self._hold_depth == 0 and self._stale:
            self._stale = False
            self.refresh()

    def refresh(self) -> None:
        """Read the controls and update every figure in place."""
        raise NotImplementedError

    # -- state ------------------------------------------------------------------------------

    def check_value(self, name: str, value):
        """The value to set ``name`` to, or ``InvalidStateError`` (subclasses add better messages)."""
        return check_control_value(name, self.controls[name], value)

    def state(self) -> dict:
        """``{"controls": {name: value}, "hidden": [names]}``: JSON-ready."""
        return {
            "controls": {name: control.value for name, control in self.controls.items()},
            "hidden": self.hidden_controls(),
        }

    def set_state(self, state: Mapping) -> None:
        """Apply ``state()``'s dict (or a plain ``{name: value}`` dict); all checked before any is set.

        Missing controls keep their values; unknown names or values a control cannot take raise
        ``InvalidStateError``. The explorer refreshes once.
        """
        if not isinstance(state, Mapping):
            raise InvalidStateError(f"a state must be a dict, not {type(state).__name__}")
        structured = set(state) <= {"controls", "hidden"}
        values = state.get("controls", {}) if structured else state
        hidden = state.get("hidden") if structured else None
        if not isinstance(values, Mapping):
            raise InvalidStateError(f'"controls" must be a dict of control values, not {values!r}')
        self._check_names(values)
        if hidden is not None:
            self._check_names(self._as_name_list(hidden, '"hidden"'))
        checked = {name: self.check_value(name, value) for name, value in values.items()}
        with self.hold_refresh():
            for name, value in checked.items():
                self.controls[name].value = value
        if hidden is not None:
            self._hide_exactly(hidden)

    def _check_names(self, names: Iterable[str]) -> None:
        unknown = [name for name in names if name not in self.controls]
        if unknown:
            raise InvalidStateError(
                f"{type(self).__name__} has no control {', '.join(repr(n) for n in unknown)}; "
                f"its controls are {', '.join(self.controls)}")

    @staticmethod
    def _as_name_list(names, what: str) -> list[str]:
        if isinstance(names, str):
            return [names]
        if not isinstance(names, Iterable) or not all(isinstance(n, str) for n in names):
            raise InvalidStateError(f"{what} must be a list of control names, not {names!r}")
        return list(names)

    # -- showing and hiding -----------------------------------------------------------------

    def hide_controls(self, names: Iterable[str] | str) -> None:
        """Hide controls (their values stay in force), e.g. to leave students one thing to change."""
        names = self._as_name_list(names, "names")
        self._check_names(names)
        for name in names:
            self.controls[name].layout.display = "none"

    def show_controls(self, names: Iterable[str] | str) -> None:
        """Show hidden controls again."""
        names = self._as_name_list(names, "names")
        self._check_names(names)
        for name in names:
            self.controls[name].layout.display = None

    def _hide_exactly(self, hidden) -> None:
        """Hide exactly the controls named in a state's ``"hidden"`` and show the others."""
        names = self._as_name_list(hidden, '"hidden"')
        self._check_names(names)
        self.show_controls(self.controls)
        self.hide_controls(names)

    def hidden_controls(self) -> list[str]:
        return [name for name, control in self.controls.items() if control.layout.display == "none"]

    # -- building from a state --------------------------------------------------------------

    @classmethod
    def from_state(cls, state: Mapping, **options) -> Explorer:
        """Build an explorer whose controls start at ``state``'s values (one refresh, not two).

        ``state["hidden"]``, when given, is exactly the controls to hide: the others are shown,
        also those an explorer hides by default (the architecture explorer's He 2016 controls).
        """
        values = state.get("controls", {})
        unknown = [name for name in values if name not in cls.CONTROL_NAMES]
        if unknown:
            raise InvalidStateError(
                f"{cls.__name__} has no control {', '.join(repr(n) for n in unknown)}; "
                f"its controls are {', '.join(cls.CONTROL_NAMES)}")
        explorer = cls(**values, **options)
        if "hidden" in state:
            explorer._hide_exactly(state["hidden"])
        return explorer

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


