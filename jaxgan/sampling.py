"""Turning generator outputs into pictures, and sampling helpers."""

from __future__ import annotations

import jax
import numpy as np


def to_uint8(images) -> np.ndarray:
    """[-1, 1] float images -> uint8 [0, 255]."""
    images = np.asarray(jax.device_get(images), np.float32)
    return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def make_grid(images, ncol: int | None = None, pad: int = 2) -> np.ndarray:
    """Tiles [N, H, W, C] images in [-1, 1] into one uint8 [H', W', C] picture,
    `ncol` per row (default: as square as possible), with a `pad`-pixel border."""
    images = to_uint8(images)
    n, h, w, c = images.shape
    ncol = ncol or int(np.ceil(np.sqrt(n)))
    nrow = int(np.ceil(n / ncol))
    grid = np.full((nrow * (h + pad) + pad, ncol * (w + pad) + pad, c), 255, np.uint8)
    for i, image in enumerate(images):
        r, col = divmod(i, ncol)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + col * (w + pad): pad + col * (w + pad) + w] = image
    return grid
