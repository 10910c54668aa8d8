"""The training image of the single-image GANs (SinGAN, ConSinGAN).

`config.data.image` is a path to any image file PIL reads, or the name of an
image that scikit-image ships inside its wheel (`skimage.data.<name>`:
'astronaut', 'chelsea', 'coffee', 'rocket', ...), so training runs with
nothing downloaded; several of one size, comma-separated, train as a batch
of pyramids (SinGAN). Like the references' `read_image`, only the RGB channels
are kept (an alpha channel is dropped); a grayscale image is copied to R, G
and B. `read_image` returns uint8 HWC; the trainers turn it into [-1, 1]
(jaxgan.imresize.singan_from_uint8) and build their pyramids from it.

The pipeline `build` returns (source 'single_image') yields the image itself,
repeated `batch_size` times, as {"image": float32 [B, H, W, 3]}; the
single-image trainers read the image once and draw nothing from it.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from jaxgan.data.preprocess import BadImageError, decode, to_mode

# scikit-image's RGB sample images that ship in its wheel (no pooch download).
SKIMAGE_IMAGES = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "colorwheel", "logo",
                  "hubble_deep_field", "retina", "camera", "coins", "page")


def read_image(spec: str, what: str = "config.data.image") -> np.ndarray:
    """The image `spec` names (a file, or a scikit-image sample's name) as
    uint8 [H, W, 3]; a clear error naming `what` (the field or flag that gave
    it) otherwise."""
    if not spec:
        raise ValueError(f"{what} is empty: give an image file or a scikit-image sample name "
                         f"({', '.join(SKIMAGE_IMAGES[:4])}, ...)")
    if os.path.sep in spec or os.path.splitext(spec)[1] or os.path.exists(spec):
        if not os.path.isfile(spec):
            raise FileNotFoundError(f"{what}: no file {spec!r}")
        try:
            image = decode(spec)
        except BadImageError as e:
            raise ValueError(f"{what}: {e}") from None
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            # The references keep x[:, :, 0:3]: alpha is dropped, not composited.
            image = np.asarray(image.convert("RGBA"))
        else:
            image = np.asarray(to_mode(image, 3))
    else:
        image = _skimage_sample(spec, what)
    return _to_rgb(image, spec, what)


def _skimage_sample(name: str, what: str) -> np.ndarray:
    try:
        import skimage.data
    except ImportError as e:  # pragma: no cover - a dependency of the package
        raise ImportError(f"{what} names a scikit-image sample; install scikit-image") from e
    loader = getattr(skimage.data, name, None)
    if name.startswith("_") or not callable(loader):
        raise ValueError(f"{what} {name!r} is neither a file nor a scikit-image sample "
                         f"(e.g. {', '.join(SKIMAGE_IMAGES)})")
    try:
        return np.asarray(loader())
    except Exception as e:  # samples outside the wheel need a download (pooch)
        raise ValueError(f"{what}: scikit-image could not load {name!r} ({type(e).__name__}: {e}); "
                         f"the samples inside its wheel are e.g. {', '.join(SKIMAGE_IMAGES)}") from None


def _to_rgb(image: np.ndarray, spec: str, what: str) -> np.ndarray:
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.dtype != np.uint8:
        raise ValueError(f"{what} {spec!r}: expected 8-bit pixels, got {image.dtype}")
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(f"{what} {spec!r}: expected an H x W (x C) image, got shape {image.shape}")
    if image.shape[-1] in (1, 2):  # gray (+ alpha)
        image = np.repeat(image[..., :1], 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])


class SingleImage:
    """The training image, batch after batch (see the module docstring)."""

    num_classes = None

    def __init__(self, data_config: Any, *, batch_size: int, **_):
        from jaxgan.imresize import singan_from_uint8

        specs = [spec.strip() for spec in data_config.image.split(",")]
        images = [singan_from_uint8(read_image(spec)) for spec in specs]
        for spec, image in zip(specs[1:], images[1:]):
            if image.shape != images[0].shape:
                raise ValueError(f"config.data.image: images trained together need one size: {specs[0]!r} is "
                                 f"{images[0].shape[:2]}, {spec!r} {image.shape[:2]}")
        self.images = np.stack(images)
        self.image_shape = images[0].shape
        self.batch_size = batch_size

    def __iter__(self):
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        # several images (comma-separated): example b is image b mod their number
        return {"image": self.images[np.arange(self.batch_size) % len(self.images)]}

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        pass


def build(data_config: Any, *, batch_size: int, **kwargs) -> SingleImage:
    return SingleImage(data_config, batch_size=batch_size, **kwargs)
