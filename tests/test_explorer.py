"""The explorers' shared base: one size rule, one stylesheet, one status line, one start-up."""

import ipywidgets as widgets
import pytest

from resnet_explorer.figures import style
from resnet_explorer.widgets import look
from resnet_explorer.widgets.explorer import Explorer


class Tiny(Explorer):
    CONTROL_NAMES = ("steps",)

    def __init__(self, steps=3, *, large=None):
        super().__init__(large)
        self.refreshes = 0
        self.add_controls({"steps": widgets.IntSlider(value=3, min=1, max=10)})
        self.status = widgets.HTML()
        self.widget = self._box([self.controls["steps"], self.status])
        self._start({"steps": steps})

    def refresh(self):
        self.refreshes += 1


@pytest.fixture
def laptop_theme():
    style.set_theme(large=False)
    yield
    style.set_theme(large=True)


def test_the_size_follows_the_figures_theme_unless_given(laptop_theme):
    assert not Tiny().large and Tiny(large=True).large
    style.set_theme(large=True)
    assert Tiny().large and not Tiny(large=False).large


def test_each_box_starts_with_the_one_stylesheet_and_names_its_sizes():
    large, small = Tiny(large=True), Tiny(large=False)
    for explorer, size_class in ((large, "rx-large"), (small, "rx-small")):
        assert explorer.widget.children[0].value == look.STYLESHEET
        assert set(explorer.widget._dom_classes) == {"rx-explorer", size_class}
    # both sizes in one stylesheet, each scoped to its own boxes: two explorers can share a page
    assert ".rx-explorer.rx-large label" in look.STYLESHEET and ".rx-explorer.rx-small label" in look.STYLESHEET
    assert "font-size: 20px" in look.STYLESHEET and "font-size: 14px" in look.STYLESHEET


def test_start_up_draws_once_even_with_default_values():
    assert Tiny().refreshes == 1
    assert Tiny(steps=7).refreshes == 1


def test_the_status_line_shows_errors_escaped_or_else_the_note():
    assert look.status_html([], "updated in 0.10 s · <b>") == \
        "<span class='rx-note'>updated in 0.10 s · &lt;b&gt;</span>"
    errors = look.status_html(["the probes failed: <x>", "no images"], "ignored")
    assert errors.count("⚠") == 2 and "&lt;x&gt;" in errors and "ignored" not in errors
    assert "rx-error" in errors and look.ERROR_COLOR in look.STYLESHEET
