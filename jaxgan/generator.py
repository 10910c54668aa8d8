"""Samples from a trained or a pretrained generator, in a few lines:

    from jaxgan.generator import Generator

    g = Generator.from_checkpoint("runs/quickstart")       # EMA G of the latest checkpoint
    images = g.sample(0, 16, classes=[3])                  # uint8 [16, 32, 32, 3]
    g.standing_stats(0.5, save=True)                       # measured once, kept in the checkpoint
    images = g.sample(0, 16, truncation=0.5)               # z at psi 0.5 with its statistics

    g = Generator.from_pretrained("biggan-deep-256")       # DeepMind's BigGAN-deep weights
    images = g.sample(0, 4, classes=[207, 360, 555, 980], truncation=0.4)

`truncation` is psi of `sampling.truncated_normal_z` (DeepMind's convention).
BatchNorm statistics for a truncation come from, in order: standing
statistics measured for it (`standing_stats`, also those saved in the
checkpoint), the pretrained model's per-truncation tables, else the running
statistics the EMA generator kept in training. Batches are split over a `data`
mesh of this process's devices; the last one is padded to the batch size, so
one compiled program serves any number of samples, and results do not depend
on the batch size or the number of devices.

A checkpoint of a run with LOGAN (config.logan) samples as its trainer does:
each z takes the latent steps against the run's D before G(z); which
examples take a step is drawn per example from the key z was drawn with
(`key` of `generate` / `batches`), so it does not depend on the batch either.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from typing import Any, Callable, Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from etils import epath

from jaxgan import checkpoint, parallel, pictures, sampling

Key = Any  # an int seed or a jax PRNG key


def _key(seed_or_key: Key) -> jax.Array:
    if isinstance(seed_or_key, (int, np.integer)):
        return jax.random.key(int(seed_or_key))
    return seed_or_key


def _tuples(x: Any) -> Any:
    """JSON lists back to the tuples the configs hold (e.g. attention resolutions)."""
    if isinstance(x, dict):
        return {k: _tuples(v) for k, v in x.items()}
    if isinstance(x, list):
        return tuple(_tuples(v) for v in x)
    return x


def load_config(workdir: str):
    """The config a run saved in its workdir (config.json)."""
    import ml_collections

    path = epath.Path(workdir) / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"no {path}: pass the run's config (the workdir of a training run has one)")
    return ml_collections.ConfigDict(_tuples(json.loads(path.read_text())))


@dataclasses.dataclass(frozen=True)
class LatentSteps:
    """LOGAN's steps at sampling: `optimise(g_variables, d_variables, z, y,
    draws) -> z` (BigGANTrainer.optimise_z), D's variables and the number of
    steps."""

    optimise: Callable
    d_variables: Any
    steps: int


class Generator:
    """A generator module with its variables, ready to sample on a mesh.

    model: a jaxgan generator (BigGAN, BigGAN-deep); variables: its
    {'params', 'spectral', 'batch_stats'} (the running statistics).
    standing: {truncation: batch_stats} already measured; tables: a converted
    pretrained model's per-truncation statistics (`ConvertedGenerator.standing_stats`).
    workdir and step: the checkpoint the variables came from, where
    `standing_stats(..., save=True)` writes. z_prior: 'normal' or 'uniform'
    (sampling.draw_inputs). latent: LOGAN's steps before G, or None.
    """

    def __init__(self, model, variables: dict, *, standing: dict | None = None, tables: dict | None = None,
                 default_truncation: float | None = None, mesh=None, workdir: str | None = None,
                 step: int | None = None, z_prior: str = "normal", latent: LatentSteps | None = None):
        self.model = model
        self.z_prior, self.latent = z_prior, latent
        self.mesh = mesh if mesh is not None else parallel.make_mesh(jax.local_devices())
        self._replicated = parallel.replicated(self.mesh)
        self._batch = parallel.batch_sharding(self.mesh)
        self.variables = jax.device_put(variables, self._replicated)
        self._standing = {float(t): jax.device_put(s, self._replicated) for t, s in (standing or {}).items()}
        self._tables = tables
        self.default_truncation = default_truncation
        self.workdir, self.step = workdir, step

        self._d_variables = None if latent is None else jax.device_put(latent.d_variables, self._replicated)

        def apply(variables, d_variables, z, y, key, start, uint8):
            if latent is not None:
                draws = sampling.latent_step_draws(key, latent.steps, z.shape[0], start)
                z = latent.optimise(variables, d_variables, z, y, draws)
            images = model.apply(variables, z, y)
            return jnp.clip(jnp.round((images + 1.0) * 127.5), 0, 255).astype(jnp.uint8) if uint8 else images

        def stats(variables, keys, truncation, batch_size):
            return sampling.standing_stats(model, variables, keys, truncation, batch_size, self._batch)

        self._apply = jax.jit(apply, static_argnames="uint8", out_shardings=self._batch)
        self._stats = jax.jit(stats, static_argnames="batch_size", out_shardings=self._replicated)

    # ------------------------------------------------------------ sources
    @classmethod
    def from_checkpoint(cls, workdir: str, config=None, step: int | None = None, mesh=None) -> "Generator":
        """The EMA generator of a training run's checkpoint (default the
        latest), with the standing statistics saved in it. config: the run's
        config, default the config.json in the workdir."""
        from jaxgan.trainers import get_trainer

        config = load_config(workdir) if config is None else config
        trainer = get_trainer(config)
        mesh = mesh if mesh is not None else parallel.make_mesh(jax.local_devices())
        ckpt = checkpoint.Checkpointer(workdir, config.ckpt.max_to_keep)
        try:
            step = ckpt.latest_step() if step is None else step
            if step is None:
                raise FileNotFoundError(f"no checkpoint in {ckpt.directory}: train first (--mode train)")
            abstract = jax.eval_shape(trainer.init_state, jax.random.key(config.seed))
            logan = getattr(trainer, "logan_eval_steps", 0)  # LOGAN samples with D too
            abstract = {"g_ema": abstract.g_ema, **({"d": abstract.d} if logan else {})}
            abstract = jax.tree_util.tree_map(
                lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=parallel.replicated(mesh)), abstract)
            restored = ckpt.restore_partial(abstract, step)
            variables = restored["g_ema"]
            standing = ckpt.restore_standing_stats(step)
        finally:
            ckpt.close()
        logging.info("generator of step %d from %s%s", step, workdir,
                     f"; standing statistics for truncation {sorted(standing)}" if standing else "")
        latent = LatentSteps(trainer.optimise_z, restored["d"], logan) if logan else None
        return cls(trainer.G, variables, standing=standing, mesh=mesh, workdir=workdir, step=step,
                   z_prior=getattr(trainer, "z_prior", "normal"), latent=latent)

    @classmethod
    def from_converted(cls, converted, mesh=None) -> "Generator":
        """A `jaxgan.convert.pytorch_pretrained_biggan.ConvertedGenerator`:
        BatchNorm statistics from its per-truncation tables; truncation
        defaults to 1.0 (its z is always truncated)."""
        return cls(converted.model, converted.variables(1.0), tables=converted.standing_stats,
                   default_truncation=1.0, mesh=mesh)

    @classmethod
    def from_pretrained(cls, name_or_path: str, cache_dir: str | None = None, mesh=None) -> "Generator":
        """DeepMind's BigGAN-deep ('biggan-deep-128', '-256', '-512') or a
        folder with a pytorch-pretrained-biggan model, via
        `jaxgan.convert.pytorch_pretrained_biggan.load_pretrained`."""
        from jaxgan.convert import pytorch_pretrained_biggan

        return cls.from_converted(pytorch_pretrained_biggan.load_pretrained(name_or_path, cache_dir=cache_dir), mesh)

    # ------------------------------------------------------------ properties
    @property
    def num_classes(self) -> int | None:
        return self.model.num_classes

    @property
    def z_dim(self) -> int:
        return self.model.z_dim

    @property
    def measured_truncations(self) -> list[float]:
        """Truncations with standing statistics measured (or restored)."""
        return sorted(self._standing)

    def _truncation(self, truncation: float | None) -> float | None:
        return self.default_truncation if truncation is None else float(truncation)

    def variables_for(self, truncation: float | None = None, use_standing_stats: bool = True) -> dict:
        """The variables to sample with at `truncation` (see the module docstring)."""
        truncation = self._truncation(truncation)
        if truncation is None or not use_standing_stats:
            return self.variables
        if truncation in self._standing:
            stats = self._standing[truncation]
        elif self._tables is not None:
            from jaxgan.convert.pytorch_pretrained_biggan import batch_stats_at

            stats = jax.device_put(batch_stats_at(self._tables, truncation), self._replicated)
        else:
            return self.variables
        return {**self.variables, "batch_stats": stats}

    # ------------------------------------------------------------ standing statistics
    def standing_stats(self, truncation: float, num_batches: int = 16, batch_size: int = 64, seed: Key = 0,
                       save: bool = False) -> dict:
        """Measures the standing statistics for `truncation`
        (`sampling.standing_stats`: the average over `num_batches` batches)
        from the running-statistics variables, uses them from now on for that
        truncation and returns them. batch_size is rounded up to a multiple of
        the device count. save: also write them into the checkpoint this
        generator came from (adding to those of other truncations)."""
        truncation = float(truncation)
        if not 0.0 < truncation <= 1.0:
            raise ValueError(f"truncation must be in (0, 1], got {truncation}")
        if self.z_prior != "normal":
            raise ValueError(f"standing statistics are measured for truncated normal z; this generator's z is "
                             f"{self.z_prior} (config.model.z_prior)")
        batch_size = -(-batch_size // self.mesh.size) * self.mesh.size
        keys = jax.random.split(_key(seed), num_batches)
        start = time.perf_counter()
        stats = self._stats(self.variables, keys, jnp.float32(truncation), batch_size)
        stats = jax.block_until_ready(stats)
        logging.info("standing statistics for truncation %g: %d batches of %d in %.1f s", truncation, num_batches,
                     batch_size, time.perf_counter() - start)
        self._standing[truncation] = stats
        if save:
            if self.workdir is None:
                raise ValueError("this generator did not come from a checkpoint: nowhere to save")
            ckpt = checkpoint.Checkpointer(self.workdir)
            try:
                path = ckpt.save_standing_stats(self.step, truncation, stats, {
                    "num_batches": num_batches, "batch_size": batch_size,
                    "seed": int(seed) if isinstance(seed, (int, np.integer)) else None})
            finally:
                ckpt.close()
            logging.info("saved %s", path)
        return stats

    # ------------------------------------------------------------ sampling
    def sample_inputs(self, seed: Key, num: int, classes: int | Sequence[int] | None = None,
                      truncation: float | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """z [num, z_dim] and class ids [num] (None if unconditional) from a
        seed or key: z from the prior (N(0, I), or U(-1, 1)) for truncation
        None, else truncated_normal_z at that psi. classes: one id or a list,
        repeated to num (None: drawn uniformly)."""
        z, y = sampling.draw_inputs(_key(seed), num, self.z_dim, self.num_classes, self._truncation(truncation),
                                    self.z_prior)
        if classes is not None:
            if self.num_classes is None:
                raise ValueError("classes given, but this generator is unconditional")
            wanted = np.atleast_1d(np.asarray(classes, np.int64))
            if wanted.size == 0 or wanted.min() < 0 or wanted.max() >= self.num_classes:
                raise ValueError(f"classes must be ids in [0, {self.num_classes}), got {list(wanted)}")
            y = np.resize(wanted, num)
        return np.asarray(z), None if y is None else np.asarray(y, np.int32)

    def batches(self, z, y=None, truncation: float | None = None, batch_size: int = 64, uint8: bool = True,
                use_standing_stats: bool = True, key: Key = 0) -> Iterator[tuple[int, np.ndarray]]:
        """Yields (start, images) for consecutive slices of z (and y), the
        images uint8 [n, H, W, 3] or float in [-1, 1]. `truncation` picks the
        BatchNorm statistics: pass the psi z was drawn at. key (seed or key):
        with LOGAN, the key z was drawn with (which examples take each latent
        step is drawn from it). Logs progress."""
        z = np.asarray(z, np.float32)
        y = None if y is None else np.asarray(y)
        num = len(z)
        if y is not None and len(y) != num:
            raise ValueError(f"{num} z but {len(y)} classes")
        batch_size = -(-min(batch_size, max(num, 1)) // self.mesh.size) * self.mesh.size
        variables = self.variables_for(truncation, use_standing_stats)
        key = _key(key)

        def pad(a, n):  # to the full batch: one compiled program for every batch
            return np.concatenate([a, np.zeros((batch_size - n, *a.shape[1:]), a.dtype)]) if n < batch_size else a

        start_time = last_log = time.perf_counter()
        pending = None
        for start in range(0, num, batch_size):
            n = min(batch_size, num - start)
            z_b = jax.device_put(pad(z[start:start + n], n), self._batch)
            y_b = None if y is None else jax.device_put(pad(y[start:start + n], n), self._batch)
            out = (start, n, self._apply(variables, self._d_variables, z_b, y_b, key, start, uint8))  # dispatched
            if pending is not None:
                yield pending[0], np.asarray(pending[2])[:pending[1]]
            pending = out
            now = time.perf_counter()
            if now - last_log > 10 and start:
                logging.info("sampled %d/%d images (%.1f img/s)", start, num, start / (now - start_time))
                last_log = now
        if pending is not None:
            yield pending[0], np.asarray(pending[2])[:pending[1]]
        if time.perf_counter() - start_time > 10:
            logging.info("sampled %d images in %.1f s", num, time.perf_counter() - start_time)

    def generate(self, z, y=None, truncation: float | None = None, batch_size: int = 64, uint8: bool = True,
                 use_standing_stats: bool = True, key: Key = 0) -> np.ndarray:
        """Images for given z (and class ids or class vectors y); see `batches`."""
        parts = [images for _, images in self.batches(z, y, truncation, batch_size, uint8, use_standing_stats, key)]
        if not parts:
            raise ValueError("no z given")
        return np.concatenate(parts)

    def sample(self, seed: Key, num: int, classes: int | Sequence[int] | None = None,
               truncation: float | None = None, batch_size: int = 64, uint8: bool = True) -> np.ndarray:
        """num images [num, H, W, 3], uint8 or float in [-1, 1], from a seed or
        key (`sample_inputs`, then `generate`)."""
        z, y = self.sample_inputs(seed, num, classes, truncation)
        return self.generate(z, y, truncation, batch_size, uint8, key=seed)


def write_samples(config, workdir: str, num: int | None = None, *, sample_format: str = "grid",
                  truncation: float | None = None, standing_stats: bool = False, standing_stats_batches: int = 16,
                  classes=None, batch_size: int | None = None, seed: int | None = None,
                  step: int | None = None) -> str:
    """`--mode sample` of noise-to-image families: writes EMA-G samples of a
    checkpoint (default the latest); returns the path written. With the
    default seed and no truncation the grid shows the z and classes of the
    training grids.

    sample_format 'grid': one PNG grid in samples/ (`num` default
    config.samples.num, classes in order); 'png': one PNG per image in
    samples/<step>[_psi<t>]/ (named <index>_class<y>.png); 'npz': one .npz
    (uint8 images 'x', labels 'y') for `python -m jaxgan.eval`; both with
    `num` default config.eval.num_samples and uniform classes.
    truncation: psi of `sampling.truncated_normal_z` (None: z ~ N(0, I)); its
    standing statistics are used if the checkpoint has them.
    standing_stats: measure them first if missing (standing_stats_batches
    batches of batch_size) and save them in the checkpoint. classes: ids
    repeated to num. batch_size: default config.eval.batch_size."""
    from jaxgan import writers

    if sample_format not in ("grid", "png", "npz"):
        raise ValueError(f"sample_format must be 'grid', 'png' or 'npz', got {sample_format!r}")
    if standing_stats and truncation is None:
        raise ValueError("standing statistics are measured for a truncation: pass one (e.g. 1.0)")
    gen = Generator.from_checkpoint(workdir, config, step=step)
    batch_size = batch_size or config.eval.batch_size
    if standing_stats and float(truncation) not in gen.measured_truncations:
        gen.standing_stats(truncation, num_batches=standing_stats_batches, batch_size=batch_size, save=True)
    if not num:
        num = config.samples.num if sample_format == "grid" else config.eval.num_samples
    if sample_format == "grid" and classes is None and gen.num_classes is not None:
        classes = np.arange(num) % gen.num_classes
    key = jax.random.fold_in(jax.random.key(config.seed if seed is None else seed), 1)
    z, y = gen.sample_inputs(key, num, classes, truncation)
    suffix = "" if truncation is None else f"_psi{float(truncation)!r}"
    root = epath.Path(workdir) / "samples"
    if jax.process_index() != 0:  # the samples of all processes would be the same: one samples and writes
        return str(root)
    images = gen.batches(z, y, truncation, batch_size, key=key)
    if sample_format == "grid":
        grid = pictures.make_grid(np.concatenate([b for _, b in images]))
        writer = writers.MetricWriter(workdir, config.train.num_steps)
        path = writer.write_image(gen.step, f"sample{suffix}", grid)
        writer.close()
        return path
    if sample_format == "npz":
        return pictures.save_npz(root / f"samples_{gen.step:08d}{suffix}.npz",
                                 np.concatenate([b for _, b in images]), y)
    directory = root / f"{gen.step:08d}{suffix}"
    for start, batch in images:
        for i, image in enumerate(batch, start):
            pictures.write_png(directory / (f"{i:06d}" + ("" if y is None else f"_class{y[i]}") + ".png"), image)
    logging.info("wrote %d PNG files to %s", num, directory)
    return str(directory)
