"""scripts/render_lessons.py: lessons rendered with their outputs, the sources left untouched."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import nbformat
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "render_lessons.py"


@pytest.fixture(scope="module")
def render_lessons():
    spec = importlib.util.spec_from_file_location("render_lessons", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


@pytest.fixture
def lesson_folder(tmp_path, monkeypatch):
    for name in ("PLOTLY_RENDERER", "PYTHONPATH", "RESNET_EXPLORER_FAST"):  # main() sets them
        monkeypatch.setenv(name, os.environ.get(name, ""))
    monkeypatch.delenv("PLOTLY_RENDERER")
    monkeypatch.setenv("RESNET_EXPLORER_CACHE", str(tmp_path / "runs"))
    folder = tmp_path / "notebooks"
    folder.mkdir()
    good = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 01 · A lesson"),
        nbformat.v4.new_code_cell("import resnet_explorer as rx\nprint('fast mode:', rx.fast_mode())"),
        nbformat.v4.new_code_cell("import plotly.graph_objects as go\ngo.Figure(go.Scatter(y=[3, 1, 2]))"),
        nbformat.v4.new_code_cell("import ipywidgets\nipywidgets.IntSlider(description='depth')"),
        nbformat.v4.new_code_cell("from tqdm.auto import tqdm\ntotal = sum(tqdm(range(3), desc='bar-of-the-test'))"),
    ])
    broken = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0"),
                                             nbformat.v4.new_code_cell("print('after the error')")])
    for name, notebook in (("01_lesson.ipynb", good), ("02_broken.ipynb", broken)):
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(notebook, folder / name)
    return folder


def test_lessons_are_rendered_with_outputs_and_figures_and_sources_stay_clean(render_lessons, lesson_folder,
                                                                             tmp_path):
    before = (lesson_folder / "01_lesson.ipynb").read_text()
    out = tmp_path / "preview"
    code = render_lessons.main(["01", "--notebooks", str(lesson_folder), "--out", str(out), "--fast"])
    assert code == 0
    page = (out / "01_lesson.html").read_text()
    assert "fast mode: True" in page
    assert "Plotly.newPlot" in page or "plotly-graph-div" in page  # the figure is drawn in the page
    executed = nbformat.read(out / "01_lesson.ipynb", as_version=4)
    assert executed.cells[1].outputs and executed.metadata["resnet_explorer_preview"]["fast_mode"]
    assert (lesson_folder / "01_lesson.ipynb").read_text() == before  # the source has no outputs
    assert "01_lesson.html" in (out / "index.html").read_text()
    # Widgets cannot run in a page: a note in place of the explorer, no progress bar, no saved state.
    assert "interactive explorer appears here" in page and "bar-of-the-test:" not in page
    assert "widgets" not in executed.metadata and executed.cells[4].outputs == []


def test_an_error_is_shown_in_the_page_and_reported(render_lessons, lesson_folder, tmp_path):
    out = tmp_path / "preview"
    code = render_lessons.main(["02", "--notebooks", str(lesson_folder), "--out", str(out), "--fast"])
    assert code == 1
    page = (out / "02_broken.html").read_text()
    assert "ZeroDivisionError" in page and "after the error" in page  # the lesson went on
    assert "cell 0: ZeroDivisionError" in (out / "index.html").read_text()


def test_an_unknown_lesson_names_the_lessons_there_are(render_lessons, lesson_folder):
    with pytest.raises(ValueError, match="no lesson starts with '09'.*01_lesson, 02_broken"):
        render_lessons.lessons(["09"], lesson_folder)
