"""Every lesson runs top to bottom, headless, in fast mode, with no error output."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_the_course_is_complete():
    names = [path.stem for path in NOTEBOOKS]
    assert names == [
        "00_start_here",
        "01_residual_block",
        "02_degradation",
        "03_shortcut_options",
        "04_layer_responses",
        "05_gradient_flow",
        "06_attribution",
        "07_going_deeper",
        "08_transfer_learning",
        "09_lesion_study",
        "10_shattered_gradients",
        "11_loss_landscape",
        "12_identity_mappings",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} has outputs"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_fast_mode_without_errors(path, tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_EXPLORER_FAST", "1")
    monkeypatch.setenv("RESNET_EXPLORER_CACHE", str(tmp_path / "runs"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # tiny fast-mode runs; see tests/conftest.py
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    errors = [
        (index, output.get("ename", output.get("name")), output.get("evalue", output.get("text", ""))[:300])
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error" or (output.output_type == "stream" and output.name == "stderr"
                                             and "Traceback" in output.text)
    ]
    assert not errors, f"{path.name}: {errors}"
