"""Image decoding and preprocessing shared by every real-data source.

The recipe is BigGAN-PyTorch's ImageNet transform: `CenterCropLongEdge` (a
square center crop whose side is the image's short edge), a resize to the
model's resolution, an optional random horizontal flip, and scaling of uint8
pixels to [-1, 1] (ToTensor then Normalize(0.5, 0.5)).

Odd inputs are converted rather than rejected: grayscale, grayscale+alpha,
palette, CMYK, 16-bit and 32-bit integer/float modes all end up as 8-bit RGB (or
8-bit L when the model wants one channel). Files PIL cannot decode raise
`BadImageError`, which the pipelines count and skip.
"""

from __future__ import annotations

import io
import logging
import threading
from typing import Any

import numpy as np
from PIL import Image, ImageFile

# A truncated JPEG/PNG would otherwise decode "successfully" with grey padding
# only if this flag is True; we keep PIL's default (False) so truncation is an
# error we can count, and set it explicitly so another library flipping the
# global does not silently change what we accept.
ImageFile.LOAD_TRUNCATED_IMAGES = False

log = logging.getLogger("jaxgan.data")

# PIL's own default; raised so large but legitimate photos (e.g. LSUN, FFHQ
# originals) do not trip the decompression-bomb check, which raises for >2x this.
Image.MAX_IMAGE_PIXELS = 200_000_000


class BadImageError(Exception):
    """An image that cannot be decoded (corrupt, truncated, empty, unknown format)."""


def decode(data: bytes | str, *, name: str = "") -> Image.Image:
    """Decodes encoded image bytes, or a file path, fully (not lazily), so that
    truncation and corruption surface here and not later inside a resize."""
    what = name or (data if isinstance(data, str) else "<bytes>")
    try:
        if isinstance(data, str):
            with open(data, "rb") as f:
                data = f.read()
        if not data:
            raise BadImageError(f"{what}: empty (0 bytes)")
        img = Image.open(io.BytesIO(data))
        img.load()
        return img
    except BadImageError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        # PIL reports unidentified/truncated files as OSError, some corrupt
        # headers as SyntaxError/ValueError.
        raise BadImageError(f"{what}: {type(e).__name__}: {e}") from e


def to_mode(img: Image.Image, channels: int) -> Image.Image:
    """8-bit RGB (channels=3) or L (channels=1) from whatever mode PIL decoded."""
    want = "RGB" if channels == 3 else "L"
    if img.mode == want:
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16/32-bit grayscale: PIL's convert('L') clips at 255 instead of
        # rescaling, which turns most 16-bit photos white. Scale by the type's
        # range instead (16-bit PNGs store 0..65535).
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        if img.mode == "F" and arr.max() <= 1.0:
            top = 1.0
        img = Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
        return img if want == "L" else img.convert("RGB")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # Composite transparency onto white (what a viewer shows) instead of
        # letting convert() drop alpha and expose arbitrary hidden colours.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert(want)


def center_crop_long_edge(img: Image.Image) -> Image.Image:
    """BigGAN-PyTorch's CenterCropLongEdge: a centered square of side min(w, h)."""
    w, h = img.size
    side = min(w, h)
    left = (w - side) // 2
    top = (h - side) // 2
    return img.crop((left, top, left + side, top + side))


def preprocess_pil(img: Image.Image, *, image_size: int, channels: int, center_crop: bool = True,
                   flip: bool = False) -> np.ndarray:
    """A decoded PIL image -> float32 [image_size, image_size, channels] in [-1, 1]."""
    img = to_mode(img, channels)
    if center_crop:
        img = center_crop_long_edge(img)
    if img.size != (image_size, image_size):
        # BigGAN-PyTorch resizes with torchvision's default (bilinear); PIL's
        # bilinear with reducing_gap=None matches torchvision on PIL images.
        img = img.resize((image_size, image_size), Image.BILINEAR)
    arr = np.asarray(img, dtype=np.uint8)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if flip:
        arr = arr[:, ::-1]
    return scale_uint8(arr)


def preprocess_array(arr: np.ndarray, *, image_size: int, channels: int, center_crop: bool = True,
                     flip: bool = False) -> np.ndarray:
    """An already decoded uint8 [H, W, C] (or [H, W]) array, e.g. from a tfds
    data source, through the same recipe."""
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[:, :, 0]
    if arr.dtype == np.uint16:
        # 16-bit data (some tfds image features are uint16): rescale, not clip.
        arr = (arr.astype(np.float64) * (255.0 / 65535.0) + 0.5).astype(np.uint8)
    elif arr.dtype != np.uint8:
        raise BadImageError(f"unsupported image array dtype {arr.dtype} (want uint8 or uint16)")
    if arr.ndim == 2:
        img = Image.fromarray(arr, "L")
    elif arr.ndim == 3 and arr.shape[-1] in (3, 4):
        img = Image.fromarray(arr, "RGB" if arr.shape[-1] == 3 else "RGBA")
    else:
        raise BadImageError(f"unsupported image array shape {arr.shape}")
    return preprocess_pil(img, image_size=image_size, channels=channels, center_crop=center_crop, flip=flip)


def scale_uint8(arr: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] -> float32 [-1, 1], as ToTensor + Normalize(0.5, 0.5)."""
    return arr.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)


class BadFileLog:
    """Counts skipped inputs and logs each one once (with its path or record id).

    Shared by the decoding threads of one pipeline, hence the lock. The count
    is per process: it tells a user how much of their data was unusable.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        self.count = 0  # skipped reads, including repeats in later epochs
        self.converted: dict[str, int] = {}  # mode -> how many non-RGB inputs were converted

    def skipped(self, where: str, reason: Any) -> None:
        with self._lock:
            self.count += 1
            first = where not in self._seen
            self._seen.add(where)
        if first:
            log.warning("jaxgan.data: skipping unreadable image %s (%s)", where, reason)

    @property
    def unique(self) -> int:
        """Distinct unreadable inputs seen so far."""
        with self._lock:
            return len(self._seen)
