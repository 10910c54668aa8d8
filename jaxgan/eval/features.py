"""Inception features of many images on the accelerator, reference statistics
cached on disk, and `compute_metrics`, the one call the trainer makes.

The network runs under `jax.jit` with each batch sharded over a 1-D `data`
mesh of all local devices and the weights replicated. Every batch has the same
shape (the last one is padded and the padding dropped), so the network
compiles once per (batch size, input size), and the jitted functions are
module-level so that every extractor in a process shares the compiled code.
"""

from __future__ import annotations

import functools
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from jaxgan.eval import inception, metrics, weights

OUTPUTS = ("pool3", "logits", "logits_unbiased")


@functools.partial(jax.jit, static_argnums=(0, 1))
def _preprocess(size: int, input_range: tuple[float, float], images):
    # Resize, then map to [-1, 1], in pytorch-fid's order. Kept out of the
    # network's jit so the network compiles once per batch size, whatever the
    # input size and dtype.
    x = inception.resize_bilinear(images.astype(jnp.float32), size)
    return inception.to_inception_range(x, input_range)


@functools.partial(jax.jit, static_argnums=(0,))
def _forward(model: inception.FIDInceptionV3, params, images):
    return model.apply({"params": params}, images)


def data_mesh(devices=None) -> jax.sharding.Mesh:
    """A 1-D `data` mesh over the local devices (Auto axis: plain jit sharding)."""
    devices = jax.local_devices() if devices is None else devices
    return jax.make_mesh((len(devices),), ("data",), axis_types=(jax.sharding.AxisType.Auto,),
                         devices=devices)


def _empty(output: str) -> np.ndarray:
    width = inception.NUM_FEATURES if output == "pool3" else inception.NUM_CLASSES
    return np.zeros((0, width), np.float32)


class _Progress:
    """One stderr line: `label: done/total (rate img/s)`; redrawn in place on a
    terminal, printed about every 10% otherwise (logs stay short)."""

    def __init__(self, label: str, total: int | None, enabled: bool):
        self.label, self.total, self.enabled = label, total, enabled
        self.start = time.perf_counter()
        self.tty = enabled and sys.stderr.isatty()
        self.last_decile = -1

    def update(self, done: int):
        if not self.enabled:
            return
        rate = done / max(time.perf_counter() - self.start, 1e-9)
        total = f"/{self.total}" if self.total else ""
        line = f"{self.label}: {done}{total} images ({rate:.1f} img/s)"
        if self.tty:
            print("\r" + line, end="", file=sys.stderr, flush=True)
            return
        decile = int(10 * done / self.total) if self.total else done
        if decile != self.last_decile:
            self.last_decile = decile
            print(line, file=sys.stderr, flush=True)

    def close(self):
        if self.tty:
            print(file=sys.stderr, flush=True)


class InceptionExtractor:
    """FID Inception features of image batches, sharded over local devices.

    Args:
      params: converted weights (`weights.load_inception_params`); or
      weights_path: a .pth / .npz, or None for the cached / downloaded
        pytorch-fid weights (used when `params` is None).
      input_range: the value range of the images passed in: (-1, 1) for
        jaxgan's generators (default), (0, 1) for pytorch-fid-style inputs.
        uint8 images are always taken as [0, 255].
      batch_size: images per device step, rounded up to a multiple of the
        number of devices.
      precision: matmul/conv precision (default HIGHEST: fp32 on TPU/GPU too).
    """

    def __init__(self, params: Mapping | None = None, weights_path: str | os.PathLike | None = None, *,
                 weights_id: str | None = None, input_range: tuple[float, float] = (-1.0, 1.0),
                 batch_size: int = 200, mesh: jax.sharding.Mesh | None = None,
                 precision=jax.lax.Precision.HIGHEST, progress: bool = True):
        if params is None:
            params, weights_id = weights.load_inception_params(weights_path)
        self.weights_id = weights_id or "unknown"
        self.mesh = mesh or data_mesh()
        n_dev = self.mesh.devices.size
        self.batch_size = max(n_dev, math.ceil(batch_size / n_dev) * n_dev)
        self.input_range = tuple(float(v) for v in input_range)
        self.progress = progress
        self._batch_sharding = NamedSharding(self.mesh, PartitionSpec("data"))
        self.params = jax.device_put(params, NamedSharding(self.mesh, PartitionSpec()))
        self._precision = precision

    def _model(self) -> inception.FIDInceptionV3:
        # Inputs arrive resized and in [-1, 1] (`_preprocess`).
        return inception.FIDInceptionV3(input_range=(-1.0, 1.0), resize=False, precision=self._precision)

    def _prepare(self, images, input_range=None) -> tuple[np.ndarray | jax.Array, tuple[float, float]]:
        if isinstance(images, jax.Array):
            arr = images
        else:
            arr = np.asarray(images)
        if arr.ndim != 4 or arr.shape[-1] != 3:
            raise ValueError(f"images must be NHWC RGB [N, H, W, 3], got shape {arr.shape}")
        if arr.dtype == np.uint8:
            return arr, (0.0, 255.0)
        if not jnp.issubdtype(arr.dtype, jnp.floating):
            raise ValueError(f"images must be float (in input_range={self.input_range}) or uint8, got {arr.dtype}")
        return arr, tuple(input_range or self.input_range)

    def features(self, images) -> dict[str, np.ndarray]:
        """{'pool3': [N, 2048], 'logits': [N, 1008], 'logits_unbiased': [N, 1008]}
        (numpy float32) for any number of images, processed in fixed batches."""
        arr, input_range = self._prepare(images)
        n = arr.shape[0]
        outs = {k: [] for k in OUTPUTS}
        for i in range(0, n, self.batch_size):
            for k, v in self._run_batch(arr[i:i + self.batch_size], input_range).items():
                outs[k].append(v)
        return {k: np.concatenate(v) if v else _empty(k) for k, v in outs.items()}

    def _run_batch(self, batch, input_range) -> dict[str, np.ndarray]:
        n = batch.shape[0]
        if n < self.batch_size:  # pad to the fixed shape: one compile, padding dropped below
            pad = [(0, self.batch_size - n)] + [(0, 0)] * 3
            batch = jnp.pad(batch, pad) if isinstance(batch, jax.Array) else np.pad(batch, pad)
        if isinstance(batch, jax.Array) and batch.sharding == self._batch_sharding:
            x = batch
        else:
            x = jax.device_put(np.asarray(batch) if not isinstance(batch, jax.Array) else batch,
                               self._batch_sharding)
        x = _preprocess(inception.INPUT_SIZE, input_range, x)
        out = _forward(self._model(), self.params, x)
        return {k: np.asarray(out[k])[:n] for k in OUTPUTS}

    def extract(self, batches: Iterable, num_images: int | None = None, label: str = "inception",
                input_range: tuple[float, float] | None = None) -> dict[str, np.ndarray]:
        """Features of a stream of image batches (arrays [B, H, W, 3]; any B),
        stopping after `num_images` when given. Shows progress on stderr.
        `input_range` overrides the extractor's for float images."""
        outs = {k: [] for k in OUTPUTS}
        done = 0
        bar = _Progress(label, num_images, self.progress)
        buffer: list = []
        buffered = 0
        input_range_arg, input_range = input_range, None

        def flush(final=False):
            nonlocal done, buffer, buffered
            if not buffer:
                return
            merged = np.concatenate([np.asarray(b) for b in buffer]) if len(buffer) > 1 else buffer[0]
            take = merged.shape[0] if final else (merged.shape[0] // self.batch_size) * self.batch_size
            for i in range(0, take, self.batch_size):
                for k, v in self._run_batch(merged[i:i + self.batch_size], input_range).items():
                    outs[k].append(v)
                done += min(self.batch_size, take - i)
                bar.update(done)
            rest = merged[take:]
            buffer, buffered = ([rest] if rest.shape[0] else []), rest.shape[0]

        for batch in batches:
            arr, rng = self._prepare(batch, input_range=input_range_arg)
            if input_range is not None and rng != input_range:
                raise ValueError("all batches must have the same dtype (uint8 or float)")
            input_range = rng
            if num_images is not None:
                arr = arr[: max(0, num_images - done - buffered)]
            if arr.shape[0] == 0:
                break
            if buffer and tuple(arr.shape[1:]) != tuple(buffer[0].shape[1:]):
                flush(final=True)  # a new image size: finish the old one's partial batch
            buffer.append(arr)
            buffered += arr.shape[0]
            if buffered >= self.batch_size:
                flush()
            if num_images is not None and done + buffered >= num_images:
                break
        flush(final=True)
        bar.close()
        if num_images is not None and done < num_images:
            raise ValueError(f"the image source ran out after {done} of num_images={num_images} images")
        return {k: np.concatenate(v) if v else _empty(k) for k, v in outs.items()}


# ---------------------------------------------------------------------------
# Reference statistics, cached


def _slug(s) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", str(s)).strip("-") or "none"


def reference_stats_path(cache_dir: str | os.PathLike, dataset: str, split: str, resolution: int,
                         weights_id: str) -> Path:
    """Where the statistics of (dataset, split, resolution) under the given
    Inception weights are cached: any change of these gives another file."""
    name = f"fid_stats_{_slug(dataset)}_{_slug(split)}_{int(resolution)}_{_slug(weights_id)}.npz"
    return Path(cache_dir) / name


def save_stats(path: str | os.PathLike, stats: Mapping[str, np.ndarray]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **{k: np.asarray(v) for k, v in stats.items()})
    os.replace(tmp, path)


def load_stats(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """mu, sigma (and, when stored, features / logits) from a .npz; pytorch-fid's
    stats files (keys mu, sigma) load too."""
    with np.load(path) as z:
        out = {k: z[k] for k in z.files}
    if "mu" not in out or "sigma" not in out:
        raise ValueError(f"{path}: not a statistics file (needs arrays 'mu' and 'sigma', has {sorted(out)})")
    return out


def stats_from_features(feats: Mapping[str, np.ndarray], keep_features: int = 0) -> dict[str, np.ndarray]:
    mu, sigma = metrics.statistics(feats["pool3"])
    out = {"mu": mu, "sigma": sigma, "num_images": np.asarray(feats["pool3"].shape[0])}
    if keep_features:
        # KID and precision/recall need samples, not moments; keep a prefix.
        out["features"] = feats["pool3"][:keep_features]
    return out


def reference_statistics(extractor: InceptionExtractor, batches: Iterable | Callable[[], Iterable], *,
                         dataset: str, split: str, resolution: int, cache_dir: str | os.PathLike,
                         num_images: int | None = None, keep_features: int = 10_000,
                         ) -> dict[str, np.ndarray]:
    """The dataset's Inception statistics, computed once and then read from
    `cache_dir`. `batches` (or a callable returning it, so that a cache hit
    never opens the dataset) yields image batches in the extractor's
    input_range. Keeps up to `keep_features` raw features for KID."""
    path = reference_stats_path(cache_dir, dataset, split, resolution, extractor.weights_id)
    if path.exists():
        return load_stats(path)
    source = batches() if callable(batches) else batches
    feats = extractor.extract(source, num_images, label=f"reference {dataset}/{split}")
    stats = stats_from_features(feats, keep_features)
    save_stats(path, stats)
    return stats


# ---------------------------------------------------------------------------
# The call the trainer makes


def compute_metrics(images, reference: Mapping[str, np.ndarray], extractor: InceptionExtractor, *,
                    num_images: int | None = None, batch_size: int | None = None, is_splits: int = 10,
                    kid_subsets: int = 100, kid_subset_size: int = 1000, seed: int = 0,
                    label: str = "generated") -> dict[str, float]:
    """FID (and IS, and KID when `reference` holds features) of generated images.

    `images` is an array [N, H, W, 3], an iterable of such batches, or a
    function `generate(index, batch_size) -> [batch_size, H, W, 3]` called for
    index = 0, 1, ... until `num_images` exist (fold the index into the
    sampling key to make the draw reproducible). Images are in the extractor's
    input_range ((-1, 1) by default, what jaxgan's generators emit) or uint8.
    `reference` is a statistics dict (`reference_statistics`, `load_stats`).

    Returns {'fid', 'is_mean', 'is_std', 'num_images'} plus
    {'kid_mean', 'kid_std'} when the reference has 'features'.
    """
    if callable(images):
        if num_images is None:
            raise ValueError("compute_metrics(generate_fn, ...) needs num_images")
        bs = batch_size or extractor.batch_size
        source = (images(i, bs) for i in range(math.ceil(num_images / bs)))
    elif isinstance(images, (np.ndarray, jax.Array)):
        source = [images]
    else:
        source = images
    feats = extractor.extract(source, num_images, label=label)
    n = feats["pool3"].shape[0]
    mu, sigma = metrics.statistics(feats["pool3"])
    result = {"fid": metrics.frechet_distance(mu, sigma, reference["mu"], reference["sigma"]),
              "num_images": n}
    if n >= is_splits:
        result["is_mean"], result["is_std"] = metrics.inception_score(feats["logits_unbiased"], is_splits)
    if "features" in reference and n >= 2 and len(reference["features"]) >= 2:
        result["kid_mean"], result["kid_std"] = metrics.kernel_inception_distance(
            feats["pool3"], reference["features"], kid_subsets, kid_subset_size, seed)
    return result
