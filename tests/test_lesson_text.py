"""What the lessons' text and exercise scaffolds say, checked against the package (issue 14).

The notebooks run in tests/test_notebooks.py; here the cells are read, not run: every ``rx.``
name a lesson mentions exists, the code in the exercise scaffolds is valid Python, and the
exercise traps that were found once stay fixed.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import nbformat
import pytest
import torch

import resnet_explorer as rx

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
GUIDES = sorted(NOTEBOOKS_DIR.glob("*.md"))
FENCED_PYTHON = re.compile(r"```python\n(.*?)```", re.S)


def cells(name: str, kind: str | None = None) -> list:
    notebook = nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
    return [cell for cell in notebook.cells if kind is None or cell.cell_type == kind]


def all_text(path: Path) -> str:
    if path.suffix == ".md":
        return path.read_text()
    return "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells)


def scaffolds(name: str) -> list[str]:
    """The fenced Python blocks of a notebook's markdown cells, in order."""
    return [textwrap.dedent(block) for cell in cells(name, "markdown") for block in FENCED_PYTHON.findall(cell.source)]


@pytest.mark.parametrize("path", NOTEBOOKS + GUIDES, ids=lambda p: p.name)
def test_every_rx_name_a_lesson_uses_exists(path):
    text = all_text(path)
    for name, member in re.findall(r"\brx\.(\w+)(?:\.(\w+))?", text):
        assert hasattr(rx, name), f"{path.name} uses rx.{name}, which does not exist"
        if name == "figures" and member:
            assert hasattr(rx.figures, member), f"{path.name} uses rx.figures.{member}"


@pytest.mark.parametrize("path", NOTEBOOKS + GUIDES, ids=lambda p: p.name)
def test_code_in_the_text_is_valid_python(path):
    for block in FENCED_PYTHON.findall(all_text(path)):
        ast.parse(textwrap.dedent(block))  # blocks inside list items are indented


def test_the_attributed_image_is_picked_by_the_class_the_text_names():
    """06 asked about a sneaker and attributed test image 7, a T-shirt/top (item 1)."""
    code = "\n".join(cell.source for cell in cells("06_attribution", "code"))
    assert 'test_image_of("Sneaker")' in code
    assert not re.search(r"test_images\[\d+\]", code)
    assert any("sneaker" in cell.source.lower() and "Predict" in cell.source for cell in cells("06_attribution"))


def test_every_resnet_50_of_the_lessons_is_the_imagenet_net():
    """50 is a valid 6n+2 depth: without family="imagenet" build_model(50) is a CIFAR net (item 13)."""
    assert rx.build_model(50, preact=True).config.family == "cifar"  # the trap itself
    for path in NOTEBOOKS + GUIDES:
        for call in re.findall(r"build_model\(50[^)]*\)", all_text(path)):
            assert 'family="imagenet"' in call, f"{path.name}: {call}"


def test_the_pre_activation_resnet_50_exercise_builds_an_imagenet_net():
    (preact_block,) = [block for block in scaffolds("07_going_deeper") if "preact=True" in block]
    namespace = {"rx": rx, "resnet50": rx.build_model(50, "B", family="imagenet", num_classes=1000)}
    exec(preact_block, namespace)
    assert namespace["preact50"].config.family == "imagenet"
    assert namespace["preact50"].config.preact


def test_the_describe_exercise_of_07_names_resnet_50_not_the_last_model():
    """By exercise 1, `model` was dense-20 (item 13): the exercise names `resnet50`."""
    (describe_block,) = [block for block in scaffolds("07_going_deeper") if "describe" in block]
    assert "resnet50" in describe_block
    assert any("resnet50 = rx.build_model(50" in cell.source for cell in cells("07_going_deeper", "code"))


def test_lesson_08_exercises_start_from_a_fresh_checkpoint_and_say_bn_statistics_keep_moving():
    """08[4] fine-tunes `pretrained` in place (item 13); requires_grad does not freeze BN statistics."""
    blocks = scaffolds("08_transfer_learning")
    freezing = next(block for block in blocks if "requires_grad = False" in block)
    assert 'load_checkpoint("resnet20-fashion-mnist-first5")' in freezing and "pretrained" not in freezing
    exercises = cells("08_transfer_learning", "markdown")[-1].source
    assert "running mean and variance" in exercises


def test_lesson_05_sigmoid_cell_uses_the_initialization_the_probe_tests_check():
    """tests/test_probes.py checks the sigmoid claim with init="default"; so does the lesson (item 14)."""
    (cell,) = [cell for cell in cells("05_gradient_flow", "code") if 'activation="sigmoid"' in cell.source]
    assert 'init="default"' in cell.source
    probes_test = (Path(__file__).parent / "test_probes.py").read_text()
    assert 'activation="sigmoid", init="default"' in probes_test


def test_lesson_04_hides_the_pre_activation_control_its_text_does_not_cover():
    (cell,) = [cell for cell in cells("04_layer_responses", "code") if "ArchitectureExplorer(" in cell.source]
    assert '"preact"' in cell.source and "hide_controls" in cell.source


@pytest.mark.parametrize("name, phrase", [
    ("00_start_here", "won ImageNet with a 152-layer net"),      # item 10: an ensemble won
    ("02_degradation", "at least as good as ResNet-20"),         # item 15: not what the race shows
    ("03_shortcut_options", "shortcut options apart (Section 3.3)"),  # item 10: C is in Section 4.1
    ("04_layer_responses", "stay close to zero"),                 # item 6: "generally smaller responses"
    ("05_gradient_flow", "degradation is not a vanishing-gradient problem"),  # item 5: "unlikely"
    ("06_attribution", "from a black image"),                     # item 2: the baseline is the mean
    ("07_going_deeper", "F(BN-ReLU-conv"),                        # item 3: the pre-activation formula
    ("07_going_deeper", "gradients pass back untouched"),         # item 4: He 2016 credits more
])
def test_statements_the_review_found_wrong_do_not_come_back(name, phrase):
    words = " ".join(all_text(NOTEBOOKS_DIR / f"{name}.ipynb").split())  # line breaks do not hide a phrase
    assert phrase not in words


def test_the_black_baseline_of_lesson_06_is_black():
    data = rx.load_dataset()
    black = (0 - data.mean[0]) / data.std[0]
    assert torch.allclose(data.to_display(torch.full((1, 2, 2), black)), torch.zeros(1, 2, 2), atol=1e-6)
    assert "(0 - data.mean[0]) / data.std[0]" in "\n".join(scaffolds("06_attribution"))


def test_lesson_12s_teachers_note_quotes_the_shipped_race():
    """The note's race numbers are the shipped race's, so re-making the race cannot leave them stale."""
    from resnet_explorer.paper_comparison import compare_with_paper

    (note,) = [cell.source for cell in cells("12_identity_mappings", "markdown") if "Teacher's note" in cell.source]
    words = " ".join(note.replace(">", " ").split())
    race = rx.load_race("identity_mappings")
    comparison = compare_with_paper(race.histories)
    means = {net.unit: net.test_mean for net in comparison.nets}
    for unit, phrase in (("pre-act", "best ({:.3f})"), ("ReLU-only pre-act", "pre-activation ({:.3f})"),
                         ("original", "reaches {:.3f}"), ("shortcut scaled 0.5", "shortcut ({:.3f})"),
                         ("dropout shortcut", "shortcut ({:.3f}) are the worst")):
        assert phrase.format(means[unit]) in words, unit
    assert f"{len(comparison.reproduced)} of the paper's {len(comparison.pairs)} pairs" in words
    assert f"{len(comparison.separated)} of them with the seeds' ranges apart" in words
    assert len(comparison.pairs) - len(comparison.reproduced) == 8  # the eight the note lists
    conv = next(net for net in comparison.nets if net.unit == "1x1 conv shortcut")
    finished = [error for error, status in zip(conv.test_errors, conv.statuses) if status == "finished"]
    assert conv.statuses == ["diverged", "finished", "finished"]
    assert f"average {sum(finished) / len(finished):.3f}" in words
    depth = {row["label"]: row["test_mean"] for row in race.summary()}
    assert f"(test error {depth['ResNet-56 (A), stochastic depth 0.5']:.3f} against {depth['ResNet-56 (A)']:.3f})" in words
