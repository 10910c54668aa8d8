"""Pictures and files of generated images: uint8 conversion, grids, PNG, GIF
and .npz files (local paths or anything etils.epath opens, e.g. gs://).

Images are NHWC floats in [-1, 1], as every jaxgan generator returns them, or uint8.
"""

from __future__ import annotations

import io

import jax
import numpy as np
from etils import epath


def to_uint8(images) -> np.ndarray:
    """[-1, 1] float images -> uint8 [0, 255]; uint8 images pass as they are."""
    images = np.asarray(jax.device_get(images))
    if images.dtype == np.uint8:
        return images
    images = images.astype(np.float32)
    return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def make_grid(images, ncol: int | None = None, pad: int = 2) -> np.ndarray:
    """Tiles [N, H, W, C] images (in [-1, 1], or uint8) into one uint8 [H', W', C] picture,
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





def _write(path, data: bytes) -> str:
    path = epath.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def _pil(picture: np.ndarray):
    from PIL import Image

    return Image.fromarray(picture.squeeze(-1) if picture.shape[-1] == 1 else picture)


def write_png(path, picture: np.ndarray) -> str:
    """Saves a uint8 [H, W, C] picture as PNG (local path or gs://); returns the path."""
    buf = io.BytesIO()
    _pil(picture).save(buf, format="PNG")
    return _write(path, buf.getvalue())


def save_png(path, images, ncol: int | None = None, pad: int = 2) -> str:
    """Saves [N, H, W, C] images in [-1, 1] as one PNG grid (`make_grid`);
    returns the path."""
    return write_png(path, make_grid(images, ncol, pad))


def save_gif(path, frames, duration_ms: int = 100, ncol: int | None = None, pad: int = 2,
             loop: int = 0) -> str:
    """Saves an animated GIF, one frame per [N, H, W, C] batch in `frames`
    (each in [-1, 1], tiled by `make_grid`; all batches the same shape), shown
    `duration_ms` each, looping `loop` times (0: forever). Returns the path.

    GIF holds 256 colours per frame, so Pillow quantises each one. Pillow also
    merges a frame identical to the one before into it (adding the durations),
    so a still stretch of an interpolation gives fewer, longer frames."""
    pictures = [_pil(make_grid(frame, ncol, pad)) for frame in frames]
    if not pictures:
        raise ValueError("no frames")
    buf = io.BytesIO()
    pictures[0].save(buf, format="GIF", save_all=True, append_images=pictures[1:],
                     duration=int(duration_ms), loop=int(loop))
    return _write(path, buf.getvalue())


def save_npz(path, images, labels=None) -> str:
    """Saves samples (in [-1, 1], or uint8) for evaluation as .npz: 'x' uint8
    [N, H, W, C] (NHWC, as jaxgan's data pipeline; BigGAN-PyTorch's sample.py
    `--sample_npz` writes the same keys, in NCHW) and, when given, 'y' int64
    [N] labels or float class vectors as given. Returns the path; read back
    with np.load."""
    arrays = {"x": to_uint8(images)}
    if labels is not None:
        labels = np.asarray(jax.device_get(labels))
        if len(labels) != len(arrays["x"]):
            raise ValueError(f"{len(arrays['x'])} images but {len(labels)} labels")
        arrays["y"] = labels.astype(np.int64) if np.issubdtype(labels.dtype, np.integer) else labels
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return _write(path, buf.getvalue())
