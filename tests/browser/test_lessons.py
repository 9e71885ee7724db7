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
    assert len(LESSONS) == 13


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
    figures = explorer.locator(".js-plotly-plot")  # diagram, gradient flow, layer responses
    diagram = figures.first
    drawn = [wait_for_plotly(figures.nth(index)) for index in range(3)]

    press_slider(page, explorer.locator(".widget-slider").first, "ArrowRight", 2)  # 20 -> 32
    wait_for_text(page, "464,154", within=explorer)
    after_depth = [wait_for_plotly_change(figures.nth(index), before)
                   for index, before in enumerate(drawn)][0]

    explorer.locator("button.widget-toggle-button").filter(has_text=re.compile(r"^\s*C\s*$")).click()
    wait_for_text(page, "ResNet-32 (C)", within=explorer)
    wait_for_plotly_change(diagram, after_depth)
    assert error_outputs(page) == []
    screenshot(page, "01_explorer_depth32_option_C", explorer)


@pytest.mark.browser
@pytest.mark.timeout(420)
def test_lesion_explorer_follows_the_slider_and_a_block_button(jupyter_lab, page):
    open_notebook(page, jupyter_lab, "09_lesion_study.ipynb")
    run_all_cells(page, timeout=360)
    explorer = page.locator(".widget-vbox").filter(has_text="Which blocks").last
    figure = explorer.locator(".js-plotly-plot").first
    figure.scroll_into_view_if_needed()
    before = wait_for_plotly(figure)

    press_slider(page, explorer.locator(".widget-slider").first, "ArrowRight", 2)  # 2 blocks removed
    wait_for_text(page, re.compile(r"Removed \(random draw 0\): \d"), within=explorer)
    after_slider = wait_for_plotly_change(figure, before)
    explorer.locator("button.widget-toggle-button").filter(has_text="2.1").click()  # a downsampling block
    wait_for_text(page, "plain-56 cannot run without stage2.block1", within=explorer)
    wait_for_plotly_change(figure, after_slider)
    assert error_outputs(page) == []
    screenshot(page, "09_lesion_explorer", explorer)


def race_with_the_brief_schedule(page):
    """Lesson 02's race with the brief schedule chosen: (race, its curves, their signature so far)."""
    race = page.locator(".widget-vbox").filter(has_text="Nets in the race").last
    schedule = race.locator("select").filter(has=page.locator("option", has_text="brief")).first
    brief = [o for o in schedule.locator("option").all_text_contents() if o.startswith("brief")][0]
    schedule.select_option(label=brief)
    curves = race.locator(".js-plotly-plot").first
    curves.wait_for(state="visible")
    return race, curves, plotly_traces_signature(curves)


def start_a_race_and_stop_it(page):
    """Click Train on lesson 02's race, see a curve grow, click Stop; return the race's Locator."""
    # The notebook's own cells filled the cache for the fast schedule: pick the brief schedule,
    # long enough to stop in the middle.
    race, curves, before = race_with_the_brief_schedule(page)

    click_button(page, "▶ Train", within=race)
    # The curves get their first points at the first evaluation (step 100 of the brief schedule).
    wait_for_plotly_change(curves, before, timeout=300)
    click_button(page, "■ Stop", within=race)
    wait_for_text(page, "Race stopped", within=race, timeout=60)
    assert error_outputs(page) == []
    return race


@pytest.mark.browser
@pytest.mark.timeout(480)
def test_training_race_grows_a_curve_and_stops(jupyter_lab, page):
    open_notebook(page, jupyter_lab, "02_degradation.ipynb")
    run_all_cells(page)
    race = start_a_race_and_stop_it(page)
    screenshot(page, "02_race_stopped", race)


def cell_output(page, text: str):
    """The output area of the code cell whose output shows ``text``."""
    return page.locator(".jp-Cell-outputArea").filter(has_text=text).last


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_show_result_draws_the_shipped_race_at_once_and_deepen_prints_its_errors(jupyter_lab, page):
    """Lesson 02: "Show result" draws the brief race without training (the run cache is empty:
    the shipped runs); the constructed-solution cell prints three training errors."""
    open_notebook(page, jupyter_lab, "02_degradation.ipynb")
    run_all_cells(page)
    race, curves, before = race_with_the_brief_schedule(page)
    click_button(page, "Show result", within=race)
    wait_for_text(page, "Showing", within=race, timeout=30)
    wait_for_plotly_change(curves, before, timeout=90)  # 8 curves of 600 steps: slow on a busy machine
    wait_for_text(page, "final training / test error", within=race)
    assert error_outputs(page) == []
    screenshot(page, "02_race_show_result", race)

    deepened = cell_output(page, "plain-20 + identities")
    for line in ("plain-20 (trained in the race)", "plain-56 (trained from scratch)"):
        wait_for_text(page, line, within=deepened)
    errors = [float(value) for value in re.findall(r"training error (\d\.\d+)", deepened.inner_text())]
    assert len(errors) == 3 and errors[0] == errors[1] and errors[2] > errors[0]
    screenshot(page, "02_constructed_solution", deepened)


@pytest.mark.browser
@pytest.mark.timeout(300)
@pytest.mark.parametrize("name, text, shot", [
    ("04_layer_responses.ipynb", "median ratio", "04_fig7_long_checkpoints"),
    ("05_gradient_flow.ipynb", "median gradient norm over training", "05_gradients_during_the_race"),
])
def test_the_measured_arguments_draw_their_figures(jupyter_lab, page, name, text, shot):
    """Lessons 04 and 05: the cells that measure the paper's arguments print and draw."""
    open_notebook(page, jupyter_lab, name)
    run_all_cells(page)
    output = cell_output(page, text)
    wait_for_plotly(output.locator(".js-plotly-plot").first)
    assert error_outputs(page) == []
    screenshot(page, shot, output)


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_voila_serves_the_explorer_without_code(voila_server, page):
    """Voila hides the code; the explorer draws its figures, and they and its counts follow the slider.

    Voila runs the notebook before the page asks for the widgets, so this also checks that the
    figures' stored state is kept up to date (they were empty here before that was fixed).
    """
    open_voila(page, voila_server, "01_residual_block.ipynb")
    text = page.locator("body").inner_text()
    assert "import resnet_explorer as rx" not in text  # Voila strips the code cells' sources
    assert "ResNet-20: 269,722 parameters" in text  # and keeps their outputs
    explorer = page.locator(".widget-vbox").filter(has=page.locator(".widget-slider")).last
    figures = explorer.locator(".js-plotly-plot")
    assert figures.count() == 3  # diagram, gradient flow, layer responses
    figures.first.scroll_into_view_if_needed()
    drawn = [wait_for_plotly(figures.nth(index)) for index in range(3)]

    press_slider(page, explorer.locator(".widget-slider").first, "ArrowRight", 2)  # 20 -> 32
    wait_for_text(page, "464,154", within=explorer)
    for index, before in enumerate(drawn):
        wait_for_plotly_change(figures.nth(index), before)
    assert error_outputs(page) == []
    figures.nth(1).scroll_into_view_if_needed()  # the probes' panels, below the diagram
    screenshot(page, "voila_01_residual_block")


@pytest.mark.browser
@pytest.mark.timeout(480)
def test_voila_serves_the_training_race(voila_server, page):
    """The README's Voila example: the race trains, draws its curves and stops, code-free."""
    open_voila(page, voila_server, "02_degradation.ipynb")
    assert "import resnet_explorer as rx" not in page.locator("body").inner_text()
    race = start_a_race_and_stop_it(page)
    race.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    screenshot(page, "voila_02_race_stopped")


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_voila_serves_the_attribution_explorer(voila_server, page):
    """Lesson 06 code-free: the attribution map is drawn and follows the test-image slider."""
    open_voila(page, voila_server, "06_attribution.ipynb")
    explorer = page.locator(".widget-vbox").filter(has_text="test image").last
    figure = explorer.locator(".js-plotly-plot").first
    figure.scroll_into_view_if_needed()
    before = wait_for_plotly(figure)
    press_slider(page, explorer.locator(".widget-slider").first, "ArrowRight", 1)
    wait_for_plotly_change(figure, before)
    assert error_outputs(page) == []
    screenshot(page, "voila_06_attribution")


@pytest.mark.browser
@pytest.mark.timeout(420)
@pytest.mark.parametrize("name, code", [("00_start_here.ipynb", "rx.figures.image_grid("),
                                        ("02_degradation.ipynb", "rx.figures.training_curves(histories)"),
                                        ("12_identity_mappings.ipynb", "rx.figures.lesion_curves_figure(")])
def test_figures_fit_a_projector_window_with_the_side_panel_open(jupyter_lab, page, name, code):
    """At 1400 px lesson 00's image grid lost its sixth column and lesson 02's legend its right edge
    (issue 14). At 1280x720 with the file browser open, each figure and its legend stay inside
    the output area, and the figure uses most of its width."""
    page.set_viewport_size({"width": 1280, "height": 720})
    open_notebook(page, jupyter_lab, name, collapse_sidebar=False)
    page.evaluate("window.jupyterapp.shell.expandLeft()")
    run_all_cells(page, timeout=360)
    cell = page.locator(".jp-CodeCell").filter(has_text=code).first
    plot = cell.locator(".js-plotly-plot").first
    plot.scroll_into_view_if_needed()
    wait_for_plotly(plot)
    area = cell.locator(".jp-OutputArea-output").first.bounding_box()
    drawn = plot.locator(".main-svg").first.bounding_box()
    assert drawn["x"] >= area["x"] - 1 and drawn["x"] + drawn["width"] <= area["x"] + area["width"] + 1
    assert drawn["width"] >= 0.8 * area["width"]
    for legend in plot.locator(".legend").all():
        box = legend.bounding_box()
        assert box["x"] + box["width"] <= area["x"] + area["width"] + 1
    screenshot(page, f"fit_1280_{name.removesuffix('.ipynb')}", cell.locator(".jp-OutputArea").first)


@pytest.mark.browser
@pytest.mark.timeout(420)
def test_lesson_12_shows_the_shipped_race_and_the_explorer_offers_the_variants(jupyter_lab, page):
    open_notebook(page, jupyter_lab, "12_identity_mappings.ipynb")
    run_all_cells(page, timeout=360)
    assert error_outputs(page) == []
    for title, name in (("Gradient flow at initialization", "12_gradient_flow"),
                        ("Table 1's shortcuts", "12_race_table1"), ("Table 2's activation orders", "12_race_table2"),
                        ("Blocks removed: trained with and without", "12_stochastic_depth_lesion")):
        figure = page.locator(".js-plotly-plot").filter(has_text=title).first
        figure.scroll_into_view_if_needed()
        wait_for_plotly(figure)
        screenshot(page, name, figure)

    explorer = page.locator(".rx-explorer").filter(has=page.locator(".widget-dropdown")).last
    gradients = explorer.locator(".js-plotly-plot").nth(1)  # diagram, gradient flow, layer responses
    gradients.scroll_into_view_if_needed()
    before = wait_for_plotly(gradients, timeout=90)
    wait_for_text(page, "ResNet-56 (A), shortcut scaled 0.5", within=explorer)
    variant = explorer.locator(".widget-dropdown").filter(has_text="shortcut (He 2016)").locator("select")
    variant.select_option(label="exclusive gating (Fig. 2(c))")
    wait_for_text(page, "ResNet-56 (A), exclusive gating", within=explorer)
    wait_for_text(page, "899,850", within=explorer)  # 853,018 + the gates' 46,832
    wait_for_plotly_change(gradients, before)
    assert error_outputs(page) == []
    screenshot(page, "12_explorer_exclusive_gating", explorer)
