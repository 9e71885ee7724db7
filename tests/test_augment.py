import pytest
import torch
import torch.nn.functional as F

from resnet_explorer.augment import default_padding, random_crop_flip


def _distinct_images(n=64, channels=2, size=8):
    """Images whose every pixel value is unique, so each crop can be located exactly."""
    return torch.arange(n * channels * size * size, dtype=torch.float32).view(n, channels, size, size) + 1


def _locate(original, crop, padding):
    """(row offset, column offset, flipped) of `crop` within the zero-padded `original`."""
    padded = F.pad(original, (padding,) * 4)
    size = original.shape[-1]
    for dy in range(2 * padding + 1):
        for dx in range(2 * padding + 1):
            window = padded[:, dy:dy + size, dx:dx + size]
            for flipped, candidate in ((False, window), (True, window.flip(-1))):
                if torch.equal(candidate, crop):
                    return dy, dx, flipped
    return None


def test_padding_follows_the_paper_scaled_to_the_image_size():
    assert default_padding(32) == 4  # the paper's 4 pixels
    assert default_padding(16) == 2
    assert default_padding(8) == 1
    assert default_padding(4) == 1


def test_keeps_shape_dtype_and_device():
    images = torch.randn(5, 3, 16, 16)
    out = random_crop_flip(images, generator=torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.dtype == images.dtype and out.device == images.device


def test_every_output_is_a_padded_crop_of_its_own_image_maybe_flipped():
    images = _distinct_images()
    out = random_crop_flip(images, padding=2, generator=torch.Generator().manual_seed(1))
    placements = [_locate(images[i], out[i], padding=2) for i in range(len(images))]
    assert all(p is not None for p in placements)
    offsets = {(dy, dx) for dy, dx, _ in placements}
    assert len(offsets) > 5, "crops should land at many different offsets"
    flipped = sum(f for _, _, f in placements)
    assert 16 < flipped < 48, f"about half the images should be flipped, got {flipped} of 64"


def test_crops_shift_in_zeros_at_the_border():
    images = torch.ones(200, 1, 8, 8)
    out = random_crop_flip(images, padding=1, flip=False, generator=torch.Generator().manual_seed(0))
    shifted = (out == 0).flatten(1).any(1)
    # Only the centre crop (1 of 9 offsets) has no zero padding in it.
    assert 0.7 < shifted.float().mean() < 0.99


def test_no_padding_and_no_flip_is_the_identity():
    images = torch.randn(4, 3, 8, 8)
    assert torch.equal(random_crop_flip(images, padding=0, flip=False), images)


def test_flip_alone_mirrors_about_half_the_images():
    images = _distinct_images(n=100, channels=1)
    out = random_crop_flip(images, padding=0, generator=torch.Generator().manual_seed(0))
    mirrored = [torch.equal(out[i], images[i].flip(-1)) for i in range(100)]
    kept = [torch.equal(out[i], images[i]) for i in range(100)]
    assert all(m or k for m, k in zip(mirrored, kept))
    assert 30 < sum(mirrored) < 70


def test_the_same_seed_gives_the_same_batch():
    images = torch.randn(32, 1, 16, 16)
    first = random_crop_flip(images, generator=torch.Generator().manual_seed(7))
    second = random_crop_flip(images, generator=torch.Generator().manual_seed(7))
    other = random_crop_flip(images, generator=torch.Generator().manual_seed(8))
    assert torch.equal(first, second) and not torch.equal(first, other)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        random_crop_flip(torch.randn(3, 8, 8))
    with pytest.raises(ValueError, match="padding"):
        random_crop_flip(torch.randn(1, 1, 8, 8), padding=-1)
