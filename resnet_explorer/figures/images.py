"""A grid of images with their labels: what the data looks like, before any model.

Without an explicit ``width`` the grid takes the width of the notebook's output area; its height
is chosen so that the images fit ``DESIGN_WIDTH`` pixels, the output area of a 1280-pixel-wide
projector window with JupyterLab's side panel open. Wider output areas leave space between the
images; none cuts a column off.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from ..checks import check_whole_number
from . import style

#: The output-area width (pixels) the grid's height is chosen for when no width is given.
DESIGN_WIDTH = 840
_MARGIN = 10
_TITLE_SPACE = 30


def image_grid(images: torch.Tensor, titles: Sequence[str] | None = None, *, columns: int = 6,
               width: int | None = None, height: int | None = None) -> go.Figure:
    """Show ``images`` ((N, C, H, W) or (N, H, W), values in [0, 1], e.g. ``data.to_display(...)``).

    Grey images are drawn in grey levels, colour images in colour; ``titles`` label each one.
    ``width`` ``None`` (the default) fits the output area (see the module docstring); a number
    fixes the width, and each image gets an equal share of it.
    """
    images = torch.as_tensor(images).detach().cpu().float()
    if images.ndim == 3:
        images = images.unsqueeze(1)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be (N, H, W) or (N, C, H, W) with 1 or 3 channels; "
                         f"got shape {tuple(images.shape)}")
    count = len(images)
    if count == 0:
        raise ValueError(f"image_grid needs at least one image, got shape {tuple(images.shape)}")
    columns = check_whole_number("columns", columns, minimum=1)
    if titles is not None and len(titles) != count:
        raise ValueError(f"got {count} images but {len(titles)} titles")
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    available = (width or DESIGN_WIDTH) - 2 * _MARGIN
    cell = min(190 if style.is_large() else 130, available // columns)
    figure = make_subplots(rows=rows, cols=columns, subplot_titles=list(titles or []),
                           horizontal_spacing=0.02, vertical_spacing=0.12 / rows)
    for index, image in enumerate(images):
        pixels = (image.clamp(0, 1).permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        if pixels.shape[2] == 1:
            pixels = np.repeat(pixels, 3, axis=2)
        figure.add_trace(go.Image(z=pixels, hoverinfo="skip"), row=index // columns + 1,
                         col=index % columns + 1)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    layout = style.base_layout("panel", None, width, height or rows * (cell + _TITLE_SPACE) + 40)
    figure.update_layout(**layout, margin=dict(l=_MARGIN, r=_MARGIN, t=50, b=_MARGIN))
    return figure
