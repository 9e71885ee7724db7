"""Every lesson runs top to bottom, headless, in fast mode, with no error output; its outputs say
what its text says (the sneaker is a sneaker, the plotted training errors are the printed ones)."""

import base64
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
PRIMER = NOTEBOOKS_DIR / "pytorch_in_ten_minutes.ipynb"
PLOTLY = "application/vnd.plotly.v1+json"


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
    assert PRIMER.exists()


@pytest.mark.parametrize("path", [*NOTEBOOKS, PRIMER], ids=lambda p: p.stem)
def test_notebooks_are_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} has outputs"


# ---- what an executed lesson's outputs must say ---------------------------------------------

def _text(cell) -> str:
    return "".join(output.get("text", "") for output in cell.outputs if output.output_type == "stream")


def _array(values) -> np.ndarray:
    """A plotly JSON array: a list, or ``{"dtype", "bdata"}`` (base64) as plotly 6+ writes numpy arrays."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
    return np.asarray(values, dtype=float)


def _figures(cell) -> list[dict]:
    return [output["data"][PLOTLY] for output in cell.outputs
            if output.output_type in ("display_data", "execute_result") and PLOTLY in output.get("data", {})]


def _cell_with(notebook, code: str):
    return next(cell for cell in notebook.cells if cell.cell_type == "code" and code in cell.source)


def check_02_degradation(notebook):
    """The dashed curves end at the training errors the lesson prints (issue 14, item 12)."""
    printed = dict(re.findall(r"^(\S.*?)\s+training error (\d\.\d{3})", _text(_cell_with(notebook, "rx.compare(")),
                              flags=re.M))
    assert len(printed) == 4, printed
    (figure,) = _figures(_cell_with(notebook, "rx.figures.training_curves(histories)"))
    plotted = {trace["name"]: _array(trace["y"])[-1] for trace in figure["data"] if trace.get("meta") == "train"}
    assert set(plotted) == set(printed)
    for label, value in printed.items():
        assert round(float(plotted[label]), 3) == float(value), label
    # "Trained longer": the text says the shipped 16,000-step ResNet-56 ends below ResNet-20 on
    # training and test error, and plain-56 far above plain-20 (issue 14, item 15).
    long = {name: (float(train), float(test)) for name, train, test in re.findall(
        r"^(\S.*?)\s+training error (\d\.\d{3})\s+test error (\d\.\d{3})",
        _text(_cell_with(notebook, "-fashion-mnist-long")), flags=re.M)}
    assert long["ResNet-56 (A)"][0] <= long["ResNet-20 (A)"][0] and long["ResNet-56 (A)"][1] < long["ResNet-20 (A)"][1]
    assert long["plain-56"][0] > long["plain-20"][0] + 0.05, long


def check_06_attribution(notebook):
    """The lesson asks about a sneaker and attributes a sneaker (issue 14, item 1)."""
    assert "true class: Sneaker;" in _text(_cell_with(notebook, '"integrated_gradients")'))


OUTPUT_CHECKS = {"02_degradation": check_02_degradation, "06_attribution": check_06_attribution}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", [*NOTEBOOKS, PRIMER], ids=lambda p: p.stem)
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
    if path.stem in OUTPUT_CHECKS:
        OUTPUT_CHECKS[path.stem](notebook)
