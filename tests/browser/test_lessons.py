"""Every lesson in real JupyterLab (and the explorers in Voila), driven as a teacher would.

Fast mode (RESNET_EXPLORER_FAST=1) is set for the kernels by the harness; the run cache is a
temporary directory, and the notebooks are a temporary copy, so the repo's notebooks stay clean.
"""

import re

import pytest

from .harness import (
    NOTEBOOKS_DIR,
    click_button,
    error_outputs,
    open_notebook,
    open_voila,
    plotly_traces_signature,
    press_slider,
    run_all_cells,
    screenshot,
    wait_for_plotly,
    wait_for_plotly_change,
    wait_for_text,
)

LESSONS = sorted(path.name for path in NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


def test_every_lesson_is_covered():
    assert len(LESSONS) == 9


@pytest.mark.browser
@pytest.mark.timeout(420)
@pytest.mark.parametrize("name", LESSONS)
def test_lesson_runs_in_jupyterlab_without_errors(jupyter_lab, page, name):
    open_notebook(page, jupyter_lab, name)
    run_all_cells(page, timeout=360)
    assert error_outputs(page) == []
    if page.locator(".js-plotly-plot").count():  # the last figure is drawn from the lesson's results
        wait_for_plotly(page.locator(".js-plotly-plot").last)
    assert screenshot(page, name.removesuffix(".ipynb"), "notebook").stat().st_size > 10_000


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_architecture_explorer_follows_depth_and_shortcut(jupyter_lab, page):
    open_notebook(page, jupyter_lab, "01_residual_block.ipynb")
    run_all_cells(page)
    explorer = page.locator(".widget-vbox").filter(has=page.locator(".widget-slider")).last
    diagram = explorer.locator(".js-plotly-plot").first
    before = wait_for_plotly(diagram)

    press_slider(page, explorer.locator(".widget-slider").first, "ArrowRight", 2)  # 20 -> 32
    wait_for_text(page, "464,154", within=explorer)
    after_depth = wait_for_plotly_change(diagram, before)

    explorer.locator("button.widget-toggle-button").filter(has_text=re.compile(r"^\s*C\s*$")).click()
    wait_for_text(page, "ResNet-32 (C)", within=explorer)
    wait_for_plotly_change(diagram, after_depth)
    assert error_outputs(page) == []
    screenshot(page, "01_explorer_depth32_option_C", explorer)


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_training_race_grows_a_curve_and_stops(jupyter_lab, page):
    open_notebook(page, jupyter_lab, "02_degradation.ipynb")
    run_all_cells(page)
    race = page.locator(".widget-vbox").filter(has_text="Nets in the race").last
    # The notebook's own cells filled the cache for the fast schedule: pick the brief schedule,
    # which is not cached and long enough to stop in the middle.
    schedule = race.locator("select").filter(has=page.locator("option", has_text="brief")).first
    brief = [o for o in schedule.locator("option").all_text_contents() if o.startswith("brief")][0]
    schedule.select_option(label=brief)
    curves = race.locator(".js-plotly-plot").first
    curves.wait_for(state="visible")
    before = plotly_traces_signature(curves)  # no curves before the first race

    click_button(page, "▶ Train", within=race)
    wait_for_plotly_change(curves, before, timeout=120)
    click_button(page, "■ Stop", within=race)
    wait_for_text(page, "Race stopped", within=race, timeout=60)
    assert error_outputs(page) == []
    screenshot(page, "02_race_stopped", race)


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_voila_serves_the_explorer_without_code(voila_server, page):
    """Voila hides the code and the explorer's controls and counts answer the slider.

    Known gap (open): in Voila the explorer's plotly FigureWidgets stay empty, although the
    same explorer draws in JupyterLab; this test does not claim the figures.
    """
    open_voila(page, voila_server, "01_residual_block.ipynb")
    text = page.locator("body").inner_text()
    assert "import resnet_explorer as rx" not in text  # Voila strips the code cells' sources
    assert "ResNet-20: 269,722 parameters" in text  # and keeps their outputs
    slider = page.locator(".widget-slider").first
    slider.scroll_into_view_if_needed()
    press_slider(page, slider, "ArrowRight", 2)  # depth 20 -> 32
    wait_for_text(page, "464,154", within="body")
    assert error_outputs(page) == []
    screenshot(page, "voila_01_residual_block")
