"""Attribution figures: overlays, the plain-vs-ResNet grid, the sanity check plots."""

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from resnet_explorer.attribution import attribute, attribute_all
from resnet_explorer.figures import style
from resnet_explorer.figures.attribution import (
    attribution_grid,
    attribution_overlay,
    sanity_check_figure,
    sanity_maps_figure,
    scaled_map,
)
from resnet_explorer.models import build_model
from resnet_explorer.sanity import cascading_randomization



@pytest.fixture(scope="module")
def images():
    torch.manual_seed(0)
    return torch.randn(2, 1, 16, 16)


@pytest.fixture(scope="module")
def display(images):
    return (images * 0.25 + 0.5).clamp(0, 1)


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return {"plain-8": build_model(8, shortcut="none", in_channels=1),
            "ResNet-8 (A)": build_model(8, in_channels=1)}


def heatmaps(figure):
    return [trace for trace in figure.data if isinstance(trace, go.Heatmap)]


def test_overlay_draws_the_image_and_the_map_over_it(images, display, models):
    result = attribute(models["ResNet-8 (A)"], images, "integrated_gradients", n_steps=4)
    figure = attribution_overlay(display, result, index=1, class_names=[f"c{i}" for i in range(10)],
                                 label=3, model_name="ResNet-8 (A)", large=False)
    kinds = [type(trace).__name__ for trace in figure.data]
    assert kinds == ["Image", "Image", "Heatmap"]
    heatmap = heatmaps(figure)[0]
    assert np.asarray(heatmap.z).shape == (16, 16)
    np.testing.assert_allclose(np.asarray(heatmap.customdata), result.maps[1].double().numpy())
    assert heatmap.zmin == -1 and heatmap.showscale  # signed map: diverging scale with a colour bar
    assert "Integrated Gradients" in figure.layout.title.text
    assert "predicts c" in figure.layout.title.text and "true: c3" in figure.layout.title.text
    assert figure.layout.width and figure.layout.height


def test_overlay_of_an_unsigned_map_alone(display):
    figure = attribution_overlay(display[0], torch.rand(16, 16), side_by_side=False)
    assert [type(trace).__name__ for trace in figure.data] == ["Image", "Heatmap"]
    assert heatmaps(figure)[0].zmin == 0


def test_overlay_rejects_standardized_images_and_mismatched_maps(images, display):
    with pytest.raises(ValueError, match="to_display"):
        attribution_overlay(images[0] * 5, torch.rand(16, 16))
    with pytest.raises(ValueError, match="the map is 8x8 but the image is 16x16"):
        attribution_overlay(display[0], torch.rand(8, 8))


def test_scaled_map_clips_outliers():
    values = np.zeros((10, 10))
    values[0, 0] = 1000.0
    values[1:, :] = 1.0
    scaled = scaled_map(values, signed=False)
    assert scaled.max() == 1.0 and scaled[5, 5] == pytest.approx(1.0)  # one hot pixel does not dim the rest
    assert scaled_map(-values, signed=True).min() == -1.0
    assert (scaled_map(np.zeros((3, 3)), signed=False) == 0).all()


def test_grid_has_methods_as_rows_and_models_as_columns_in_family_colours(images, display, models):
    methods = ["saliency", "gradcam", "occlusion"]
    results = {name: attribute_all(model, images, methods) for name, model in models.items()}
    figure = attribution_grid(display, results, class_names=[f"c{i}" for i in range(10)], large=False)
    assert len(heatmaps(figure)) == 3 * 2
    assert sum(isinstance(trace, go.Image) for trace in figure.data) == 3 * 3  # image + 2 overlays per row
    titles = {a.text: a.font.color for a in figure.layout.annotations}
    assert titles["<b>plain-8</b>"] == style.PLAIN_COLOR
    assert titles["<b>ResNet-8 (A)</b>"] == style.RESIDUAL_COLOR
    assert {"Saliency", "Grad-CAM", "Occlusion"} <= set(titles)
    assert "predicted: plain-8: c" in figure.layout.title.subtitle.text
    with pytest.raises(ValueError, match="empty"):
        attribution_grid(display, {})


def test_sanity_figures_show_every_method_through_the_cascade(images, display, models):
    result = cascading_randomization(models["ResNet-8 (A)"], images, ["saliency", "gradcam"],
                                     method_options={})
    figure = sanity_check_figure(result, large=False)
    lines = [trace for trace in figure.data if trace.mode == "lines+markers"]
    assert [trace.name for trace in lines] == ["Saliency", "Grad-CAM"]
    # Each method's line colour is its registry entry's: Okabe-Ito sky blue and black.
    assert [trace.line.color for trace in lines] == [style.OKABE_ITO["sky blue"], style.OKABE_ITO["black"]]
    assert list(lines[0].x) == list(range(6)) and lines[0].y[0] == 1.0
    assert list(figure.layout.xaxis.ticktext) == ["trained", *result.step_names]
    maps = sanity_maps_figure(display, result, max_steps=3)
    assert len(heatmaps(maps)) == 2 * (1 + 3)  # trained + 3 steps, per method
    headers = [a.text for a in maps.layout.annotations]
    assert headers[:2] == ["image", "trained"] and "stem" in headers


def test_the_sanity_figure_shows_strongly_negative_correlations(images, models):
    """The y axis reaches down to the lowest point (Grad-CAM fell to -0.5 in lesson 06, off the axis)."""
    import dataclasses

    result = cascading_randomization(models["ResNet-8 (A)"], images, ["saliency", "gradcam"],
                                     method_options={})
    steps = len(result.step_names)
    low = dataclasses.replace(result, correlations={**result.correlations,
                                                    "gradcam": np.linspace(-0.7, 0.1, steps)})
    for shown in (result, low):
        figure = sanity_check_figure(shown, large=False, show_spread=True)
        bottom, top = figure.layout.yaxis.range
        values = np.concatenate([np.asarray(trace.y, dtype=float) for trace in figure.data])
        assert bottom <= np.nanmin(values) and np.nanmax(values) <= top
        assert bottom <= -0.2  # 0 is never at the bottom edge
    assert figure.layout.yaxis.range[0] < -0.7


def test_figures_export_to_png(tmp_path, images, display, models):
    """What a person sees: the grid renders to a PNG through kaleido, if a browser is here."""
    import kaleido  # noqa: F401  (a dev dependency: the test must not skip)
    from resnet_explorer.figures.export import save_image

    results = {name: attribute_all(model, images, ["saliency", "gradcam"]) for name, model in models.items()}
    path = save_image(attribution_grid(display, results, large=False), tmp_path / "grid.png", scale=1)
    assert path.stat().st_size > 5_000
