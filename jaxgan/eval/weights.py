"""FID Inception weights: pytorch-fid's .pth, read without torch, cached as .npz.

`load_inception_params(path)` accepts
- None: the converted weights in the cache directory, downloading pytorch-fid's
  `pt_inception-2015-12-05-6726825d.pth` on first use;
- a `.pth` file (pytorch-fid's, or any state dict of its FID Inception);
- a `.npz` file this module wrote.

The cache directory is $JAXGAN_CACHE, else ~/.cache/jaxgan. Every load returns a
short `weights_id` too (the hash prefix of the source .pth): reference
statistics are keyed by it, so statistics from other weights are never reused.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from jaxgan import download as download_lib
from jaxgan.convert import torch_checkpoint
from jaxgan.eval import inception

# The URL pytorch-fid downloads from (pytorch_fid.inception.FID_WEIGHTS_URL).
FID_WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                   "pt_inception-2015-12-05-6726825d.pth")
_ID_KEY = "__weights_id__"


def cache_dir() -> Path:
    return download_lib.cache_root()


def _hash_prefix_from_name(name: str) -> str | None:
    # torch.hub's convention: `<name>-<sha256 prefix>.<ext>`.
    m = re.search(r"-([0-9a-f]{8,64})\.[A-Za-z0-9]+$", name)
    return m.group(1) if m else None


def download(url: str = FID_WEIGHTS_URL, directory: Path | None = None) -> Path:
    """Fetch `url` into `directory` (default: the cache) and check its sha256
    against the prefix in the file name, as torch.hub's check_hash does."""
    directory = Path(directory or cache_dir())
    name = url.rsplit("/", 1)[-1]
    target = directory / name
    if target.exists():
        return target
    return download_lib.download(url, target, sha256_prefix=_hash_prefix_from_name(name), hint=(
        f"Download the FID Inception weights by other means and pass their path (--inception-weights PATH, "
        f"or load_inception_params(PATH)), or place the file in {directory}"))


def convert_pth(pth: str | os.PathLike, npz: str | os.PathLike | None = None) -> tuple[dict, str]:
    """Read a pytorch-fid state dict, convert it, and save the .npz cache next
    to it in the cache directory (or at `npz`). Returns (params, weights_id)."""
    pth = Path(pth)
    weights_id = _hash_prefix_from_name(pth.name) or download_lib.sha256(pth)[:12]
    params = inception.convert_state_dict(torch_checkpoint.load_state_dict(pth))
    npz = Path(npz) if npz else cache_dir() / f"{pth.stem}.npz"
    save_npz(params, weights_id, npz)
    return params, weights_id


def save_npz(params: dict, weights_id: str, path: str | os.PathLike) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flat = inception.flatten_params(params)
    flat[_ID_KEY] = np.asarray(weights_id)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **flat)
    os.replace(tmp, path)  # never leave a half-written cache behind


def load_npz(path: str | os.PathLike) -> tuple[dict, str]:
    with np.load(path) as z:
        flat = {k: z[k] for k in z.files}
    weights_id = str(flat.pop(_ID_KEY)) if _ID_KEY in flat else download_lib.sha256(Path(path))[:12]
    try:
        return inception.unflatten_params(flat), weights_id
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def load_inception_params(path: str | os.PathLike | None = None) -> tuple[dict, str]:
    """(params for `FIDInceptionV3`, weights_id) from a .pth, a .npz, or the cache/download."""
    if path is None:
        name = FID_WEIGHTS_URL.rsplit("/", 1)[-1]
        npz = cache_dir() / (Path(name).stem + ".npz")
        if npz.exists():
            return load_npz(npz)
        return convert_pth(download(FID_WEIGHTS_URL), npz)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Inception weights not found: {path}")
    if path.suffix == ".npz":
        return load_npz(path)
    npz = cache_dir() / f"{path.stem}.npz"
    if npz.exists() and npz.stat().st_mtime >= path.stat().st_mtime:
        params, weights_id = load_npz(npz)
        if weights_id == (_hash_prefix_from_name(path.name) or download_lib.sha256(path)[:12]):
            return params, weights_id
    return convert_pth(path, npz)
