"""The attribution explorer: controls drive attribute() and one FigureWidget, errors stay readable."""

import datetime
import io

import plotly.graph_objects as go
import pytest
import torch
from PIL import Image

from resnet_explorer.attribution_methods import ATTRIBUTION_METHODS
from resnet_explorer.data import load_dataset
from resnet_explorer.models import build_model
from resnet_explorer.run_cache import RunCache
from resnet_explorer.history import History
from resnet_explorer.widgets.attribution_explorer import AttributionExplorer



@pytest.fixture(scope="module")
def dataset():
    return load_dataset(train_size=50, test_size=12)


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return {"ResNet-8": build_model(8, in_channels=1), "plain-8": build_model(8, shortcut="none", in_channels=1)}


def upload(explorer, name, content):
    explorer.upload.value = ({"name": name, "type": "image/png", "size": len(content),
                              "content": memoryview(content), "last_modified": datetime.datetime.now()},)


def png_bytes(size=(40, 30), color=(250, 250, 250)):
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def heatmap_z(explorer):
    return next(trace.z for trace in explorer.figure.data if isinstance(trace, go.Heatmap))


def assert_ok(explorer):
    assert not explorer.errors, explorer.errors
    assert "⚠" not in explorer.status.value


def test_controls_update_the_figure_in_place(models, dataset):
    explorer = AttributionExplorer(models, dataset, method="gradcam")
    assert_ok(explorer)
    figure = explorer.figure
    assert explorer.result.method == "gradcam" and explorer.result.layer == "stage3"
    assert list(explorer.controls["layer"].options) == ["stem", "stage1", "stage2", "stage3"]
    first = heatmap_z(explorer)

    explorer.controls["layer"].value = "stage1"
    assert explorer.result.layer == "stage1" and explorer.figure is figure
    explorer.controls["method"].value = "saliency"
    assert_ok(explorer)
    assert explorer.controls["layer"].disabled and explorer.result.method == "saliency"
    explorer.controls["image_index"].value = 7
    assert explorer.result.maps.shape == (1, 28, 28)
    explorer.controls["model"].value = "plain-8"
    explorer.controls["target"].value = 3
    assert_ok(explorer)
    assert explorer.result.target.tolist() == [3]
    assert "explains" in figure.layout.title.text
    assert explorer.figure is figure and heatmap_z(explorer) is not first
    assert explorer.state()["controls"] == {"model": "plain-8", "method": "saliency", "layer": "stage1",
                                            "image_index": 7, "target": 3, "image_source": "test set"}


def test_set_state_refreshes_once_and_revisits_are_cached(models, dataset):
    explorer = AttributionExplorer(models, dataset)
    calls = []
    original = explorer._refresh
    explorer._refresh = lambda: (calls.append(1), original())
    explorer.set_state({"method": "integrated_gradients", "image_index": 3, "model": "plain-8"})
    assert len(calls) == 1 and explorer.result.method == "integrated_gradients"
    result = explorer.result
    explorer.controls["image_index"].value = 4
    explorer.controls["image_index"].value = 3
    assert explorer.result is result  # the map for image 3 was not computed again


def test_an_uploaded_picture_is_resized_and_explained(models, dataset):
    explorer = AttributionExplorer(models, dataset, method="occlusion")
    upload(explorer, "white.png", png_bytes())
    assert_ok(explorer)
    assert explorer.controls["image_source"].value == "upload"
    assert explorer.result.maps.shape == (1, 28, 28)  # 40x30 picture -> the dataset's 28x28
    assert "uploaded white.png" in explorer.status.value
    explorer.controls["image_index"].value = 2  # the slider brings back the test images
    assert explorer.controls["image_source"].value == "test set"
    assert_ok(explorer)


def test_bad_input_shows_a_readable_line_not_a_traceback(models, dataset):
    explorer = AttributionExplorer(models, dataset)
    upload(explorer, "notes.txt", b"these are my notes, not a picture")
    assert explorer.errors == ["notes.txt is not an image PIL can read (PNG, JPEG, GIF, BMP, WebP, TIFF, ...)"]
    assert "⚠ notes.txt is not an image" in explorer.status.value
    assert explorer.controls["image_source"].value == "test set"

    explorer.controls["image_source"].value = "upload"  # nothing uploaded yet
    assert "no picture uploaded yet" in explorer.status.value

    rgb = AttributionExplorer({"ResNet-8 RGB": build_model(8, in_channels=3)}, dataset)
    assert "expects 3 (RGB)" in rgb.status.value
    assert "no map" in rgb.figure.layout.title.text


def test_models_come_from_the_run_cache(tmp_path, dataset):
    empty = AttributionExplorer(RunCache(tmp_path / "empty"), dataset)
    assert "no trained models in the run cache" in empty.status.value

    cache = RunCache(tmp_path / "runs")
    model = build_model(8, in_channels=1)
    history = History(model_name=model.config.name, config=model.config.as_dict(), status="finished",
                      setup={"data": {"name": "fashion-mnist-mini", "image_size": 16, "in_channels": 1}},
                      eval_steps=[10], test_error=[0.25])
    cache.put("abc123", history, model)
    explorer = AttributionExplorer(cache, dataset, method="saliency")
    assert_ok(explorer)
    assert explorer.controls["model"].value == "ResNet-8 (A) · test error 25.0%"
    assert explorer.result.maps.shape == (1, 16, 16)  # test images resized to the run's 16x16
    assert "resized to 16×16" in explorer.status.value


def test_the_menu_and_the_status_line_come_from_the_method_registry(models, dataset):
    explorer = AttributionExplorer(models, dataset, method="integrated_gradients",
                                   options={"integrated_gradients": {"n_steps": 4}})
    assert_ok(explorer)
    menu = explorer.controls["method"]
    entries = list(ATTRIBUTION_METHODS.values())
    assert menu.options == tuple((entry.label, entry.name) for entry in entries)
    assert menu.tooltips == tuple(f"{entry.summary} ({entry.paper})" for entry in entries)
    assert "4 steps, baseline 0" in explorer.status.value
    assert explorer.controls["layer"].disabled  # only a method that takes a layer enables it


# ---- what a user can give: every error is one readable line (issue 15) --------------------------

def test_an_upload_that_claims_a_huge_picture_is_one_readable_line(models, dataset, png_that_claims):
    explorer = AttributionExplorer(models, dataset)
    upload(explorer, "bomb.png", png_that_claims(20_000, 20_000))
    (message,) = explorer.errors
    assert message.startswith("bomb.png has more pixels than load_image opens (50 megapixels")
    assert "⚠ bomb.png has more pixels" in explorer.status.value
    assert explorer.controls["image_source"].value == "test set"


def test_models_that_are_not_models_are_named(dataset):
    with pytest.raises(TypeError, match=r"models\['x'\] is a str, not a model"):
        AttributionExplorer({"x": "str"}, dataset)
    with pytest.raises(TypeError, match=r"models\[1\] is a int, not a model"):
        AttributionExplorer([build_model(8, in_channels=1), 3], dataset)


@pytest.mark.parametrize("threads", [0, -1, 1.5, True])
def test_threads_must_be_a_positive_whole_number(threads, models, dataset):
    with pytest.raises(ValueError, match="threads must be"):
        AttributionExplorer(models, dataset, threads=threads)


def test_nan_test_images_are_reported_not_explained(models, dataset):
    broken = dataset.subset(test_size=10)
    broken.test_images[3] = float("nan")
    explorer = AttributionExplorer(models, broken, image_index=3)
    assert any("contain NaN" in message for message in explorer.errors)
    assert "updated in" not in explorer.status.value


def test_a_cache_entry_that_asks_for_a_huge_net_is_skipped_at_once(tmp_path, dataset):
    cache = RunCache(tmp_path / "runs")
    model = build_model(8, in_channels=1)
    history = History(model_name=model.config.name, config=model.config.as_dict(), status="finished")
    run = cache.put("abc123", history, model)
    stored = (run.path / "history.json").read_text().replace('"depth": 8', '"depth": 1000004')
    (run.path / "history.json").write_text(stored)
    with pytest.warns(UserWarning, match="deeper than 1202"):
        explorer = AttributionExplorer(cache, dataset)
    assert "no trained models in the run cache" in explorer.status.value
