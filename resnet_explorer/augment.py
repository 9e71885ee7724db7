"""The paper's data augmentation, done on a whole batch of tensors at once.

He et al. 2015, Section 4.2: "4 pixels are padded on each side, and a 32x32 crop is randomly
sampled from the padded image or its horizontal flip". Per-image PIL transforms run at about
9k images/s on our 2-core CPUs; the same crop and flip on a batch tensor run ten times faster,
so training never waits for its data and needs no DataLoader worker processes.

The images are standardized (mean 0), so padding with zeros pads with the mean pixel, as the
paper's mean-subtracted images did.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def default_padding(image_size: int) -> int:
    """The paper's 4 pixels for 32x32 images, scaled to other sizes (``image_size // 8``, at least 1)."""
    return max(1, image_size // 8)


def random_crop_flip(images: torch.Tensor, padding: int | None = None, flip: bool = True,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero-pad each image of an (N, C, H, W) batch, crop it back at a random offset, maybe flip it.

    Each image gets its own offset (uniform over the ``(2 * padding + 1) ** 2`` positions) and,
    with ``flip``, a horizontal flip with probability 1/2. ``generator`` (a CPU generator) makes
    the choices reproducible. Returns a new tensor of the same shape, dtype and device.
    """
    if images.ndim != 4:
        raise ValueError(f"expected a batch of images (N, C, H, W), got shape {tuple(images.shape)}")
    n, _, height, width = images.shape
    padding = default_padding(min(height, width)) if padding is None else padding
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    # Random numbers come from a CPU generator, so a seed gives the same crops on any device.
    offsets = torch.randint(0, 2 * padding + 1, (2, n), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5 if flip else torch.zeros(n, dtype=torch.bool)
    offsets, flips = offsets.to(images.device), flips.to(images.device)

    padded = F.pad(images, (padding, padding, padding, padding))
    rows = offsets[0, :, None] + torch.arange(height, device=images.device)  # (N, H)
    cols = offsets[1, :, None] + torch.arange(width, device=images.device)  # (N, W)
    # A flipped crop reads its columns right to left.
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    batch = torch.arange(n, device=images.device)[:, None, None]
    crops = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
    return crops.permute(0, 3, 1, 2).contiguous()
