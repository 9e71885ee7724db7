"""The browser harness works end to end: a slider redraws a plotly FigureWidget in JupyterLab and
in Voila, errors are seen, and missing chromium fails the tests with a hint how to install it.

The notebook is written by the test into the temporary notebooks directory, never into the repo.
"""

import os
import subprocess
import sys

import pytest

from .harness import (
    REPO_ROOT,
    click_button,
    error_outputs,
    open_notebook,
    open_voila,
    press_slider,
    run_all_cells,
    screenshot,
    wait_for_plotly,
    wait_for_error_output,
    wait_for_plotly_change,
    wait_for_text,
    write_notebook,
)

SLIDER_PLOT_CELLS = [
    """\
import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

xs = np.linspace(0, 2 * np.pi, 60)
figure = go.FigureWidget(go.Scatter(x=xs, y=np.sin(xs), mode="lines+markers"),
                         layout=dict(width=520, height=300, margin=dict(t=30, b=30)))
frequency = widgets.IntSlider(value=1, min=1, max=10, description="frequency")
label = widgets.Label("frequency 1")

def redraw(change):
    with figure.batch_update():
        figure.data[0].y = np.sin(change["new"] * xs)
    label.value = f"frequency {change['new']}"

frequency.observe(redraw, names="value")""",
    """\
def explode(button):
    raise ValueError("the harness saw this callback error")

break_button = widgets.Button(description="Break")
break_button.on_click(explode)
widgets.VBox([frequency, label, figure, break_button])""",
]


def assert_the_slider_redraws_the_plot(page):
    plot = page.locator(".js-plotly-plot")
    before = wait_for_plotly(plot)
    press_slider(page, ".widget-slider", "ArrowRight", 3)
    wait_for_text(page, "frequency 4")
    assert wait_for_plotly_change(plot, before) != before


@pytest.fixture(scope="module")
def slider_notebook(notebooks_dir):
    """A notebook with a slider that redraws a plot, in the servers' temporary root."""
    return write_notebook(notebooks_dir / "harness_slider_plot.ipynb", SLIDER_PLOT_CELLS).name


@pytest.mark.browser
def test_jupyter_lab_runs_the_notebook_and_the_slider_redraws_the_plot(
    jupyter_lab, page, slider_notebook
):
    open_notebook(page, jupyter_lab, slider_notebook)
    run_all_cells(page)
    assert error_outputs(page) == []

    assert_the_slider_redraws_the_plot(page)
    assert screenshot(page, "harness_jupyterlab", "notebook").stat().st_size > 10_000

    # An exception in a widget callback reaches only JupyterLab's Log Console; the harness
    # still reports it.
    click_button(page, "Break")
    assert "ValueError" in wait_for_error_output(page, "the harness saw this callback error")


@pytest.mark.browser
def test_voila_renders_the_widgets_and_the_slider_redraws_the_plot(
    voila_server, page, slider_notebook
):
    open_voila(page, voila_server, slider_notebook)
    assert error_outputs(page) == []

    assert_the_slider_redraws_the_plot(page)
    screenshot(page, "harness_voila")


@pytest.mark.browser
def test_a_cell_that_raises_is_an_error_output_in_jupyter_lab_and_voila(
    jupyter_lab, voila_server, page, notebooks_dir
):
    cells = ["import sys\nprint('a warning is not an error', file=sys.stderr)", "1 / 0",
             "print('not reached')"]
    write_notebook(notebooks_dir / "harness_raises.ipynb", cells)
    expected = ["cell 1: ZeroDivisionError: division by zero"]

    open_notebook(page, jupyter_lab, "harness_raises.ipynb")
    run_all_cells(page)
    assert error_outputs(page) == expected

    open_voila(page, voila_server, "harness_raises.ipynb")
    assert error_outputs(page) == expected


def test_browser_tests_fail_with_an_install_hint_when_chromium_is_missing(tmp_path):
    environment = dict(os.environ, RESNET_EXPLORER_CHROMIUM="/nonexistent/chromium")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/browser/test_harness.py", "-m", "browser",
         "-q", "-p", "no:cacheprovider", "--no-header", f"--basetemp={tmp_path / 'inner'}"],
        cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0, result.stdout
    assert "scripts/install_system_packages.sh" in result.stdout
    assert "skipped" not in result.stdout
