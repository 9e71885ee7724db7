import pytest
import torch

from resnet_explorer.figures.images import image_grid


def test_image_grid_draws_one_image_per_input_with_its_title():
    images = torch.rand(5, 1, 8, 8)
    figure = image_grid(images, list("abcde"), columns=3)
    assert len(figure.data) == 5
    assert [a.text for a in figure.layout.annotations] == list("abcde")
    first = figure.data[0].z
    assert first.shape == (8, 8, 3)
    assert first[2, 3, 0] == int(images[0, 0, 2, 3] * 255)


def test_image_grid_rejects_bad_shapes():
    with pytest.raises(ValueError, match="1 or 3 channels"):
        image_grid(torch.rand(2, 4, 8, 8))
    with pytest.raises(ValueError, match="2 images but 1 titles"):
        image_grid(torch.rand(2, 3, 8, 8), ["x"])
    with pytest.raises(ValueError, match="image_grid needs at least one image, got shape \\(0, 1, 8, 8\\)"):
        image_grid(torch.rand(0, 1, 8, 8))
    with pytest.raises(ValueError, match="columns must be >= 1, got 0"):
        image_grid(torch.rand(2, 1, 8, 8), columns=0)


def test_image_grid_fits_the_output_area_instead_of_a_fixed_width():
    """Lesson 00's six columns were cut off in a 1400 px window; now plotly fits the container."""
    from resnet_explorer.figures.images import DESIGN_WIDTH

    figure = image_grid(torch.rand(12, 1, 8, 8), columns=6)
    assert figure.layout.width is None
    rows, cell_and_title = 2, (figure.layout.height - 40) / 2
    assert cell_and_title - 30 <= (DESIGN_WIDTH - 20) / 6  # six images fit the design width
    assert image_grid(torch.rand(2, 1, 8, 8), width=400).layout.width == 400
