"""The training loop: data -> jitted step -> metrics, sample grids, checkpoints.

Knows nothing about any GAN family: the trainer named by `config.trainer`
supplies the state, the step and the sampler (jaxgan/trainers). Importable
from a notebook: `train_and_evaluate(config, workdir)`.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from clu import metrics as clu_metrics

from jaxgan import checkpoint, parallel, sampling, writers
from jaxgan.data import build_input
from jaxgan.models.layers import count_params
from jaxgan.trainers import get_trainer


def create_state(trainer: Any, config: Any, mesh) -> tuple[Any, Any]:
    """The initial state, created already replicated over `mesh` by a jitted
    init, and its abstract form (shapes, dtypes, shardings) for restoring."""
    key = jax.random.key(config.seed)
    abstract = jax.eval_shape(trainer.init_state, key)
    shardings = jax.tree_util.tree_map(lambda _: parallel.replicated(mesh), abstract)
    state = jax.jit(trainer.init_state, out_shardings=shardings)(key)
    abstract = jax.tree_util.tree_map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
                                      abstract, shardings)
    return state, abstract


def restore_or_create(trainer: Any, config: Any, mesh, ckpt: checkpoint.Checkpointer):
    """(state, data_state or None): the latest checkpoint in the workdir, else a new state."""
    state, abstract = create_state(trainer, config, mesh)
    restored = ckpt.restore(abstract)
    if restored is None:
        return state, None
    logging.info("resumed from step %d", ckpt.latest_step())
    return restored


class _Preemption:
    """Turns SIGTERM (preemption notice on Cloud TPU / SLURM) and a first Ctrl-C
    (SIGINT) into a flag the loop checks after each step, so it saves a
    checkpoint and exits cleanly. A second Ctrl-C interrupts at once."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.requested = False
        self._previous = {}
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}

    def _handle(self, signum, frame):
        name = signal.Signals(signum).name
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        logging.warning("%s received: saving a checkpoint after this step, then exiting%s", name,
                        " (Ctrl-C again to stop now)" if signum == signal.SIGINT else "")
        self.requested = True

    def restore(self):
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)


def _fixed_sample_inputs(trainer: Any, config: Any):
    """The same z and classes for every sample grid of a run (classes in order)."""
    z, y = trainer.sample_inputs(jax.random.fold_in(jax.random.key(config.seed), 1), config.samples.num)
    if y is not None:
        y = jnp.arange(config.samples.num, dtype=jnp.int32) % trainer.num_classes
    return z, y


def _check_data(data: Any, trainer: Any, config: Any) -> None:
    if tuple(data.image_shape[:2]) != tuple(trainer.image_shape[:2]):
        raise ValueError(f"config.data gives {data.image_shape[:2]} images, the model is "
                         f"{trainer.image_shape[:2]} (config.model.resolution)")
    if trainer.num_classes is not None and data.num_classes not in (None, trainer.num_classes):
        raise ValueError(f"the data has {data.num_classes} classes, config.data.num_classes says "
                         f"{trainer.num_classes}")


class Evaluator:
    """FID / IS / KID of EMA-generator samples against the training data's
    Inception statistics (computed once, cached as .npz in `eval.stats_dir`,
    default the workdir). The Inception weights are pytorch-fid's: from
    `eval.inception_weights` if set, else downloaded once into the jaxgan cache."""

    def __init__(self, config: Any, workdir: str, trainer: Any, mesh):
        from jaxgan import eval as jeval  # Inception is only loaded when evaluating

        self.config, self.trainer, self.jeval = config, trainer, jeval
        e = config.eval
        self.extractor = jeval.InceptionExtractor(weights_path=e.get("inception_weights") or None,
                                                  batch_size=e.get("batch_size", 200), mesh=mesh)
        self.num_samples = e.num_samples
        self._sample = jax.jit(trainer.sample)
        self._stats_dir = e.get("stats_dir") or workdir
        self._reference = None

    def reference(self) -> dict:
        if self._reference is None:
            d = self.config.data

            def real_batches():  # only opened when the statistics are not cached yet
                data = build_input(d, batch_size=self.extractor.batch_size, seed=self.config.seed,
                                   process_index=jax.process_index(), process_count=jax.process_count())
                return (b["image"] for b in data)

            self._reference = self.jeval.reference_statistics(
                self.extractor, real_batches, dataset=f"{d.source}-{d.get('name') or 'data'}",
                split=d.get("split", "train"), resolution=self.trainer.image_shape[0], cache_dir=self._stats_dir,
                num_images=self.num_samples)
        return self._reference

    def __call__(self, g_variables: Any) -> dict:
        key = jax.random.fold_in(jax.random.key(self.config.seed), 2)

        def generate(index, batch_size):
            z, y = self.trainer.sample_inputs(jax.random.fold_in(key, index), batch_size)
            return self._sample(g_variables, z, y)

        return self.jeval.compute_metrics(generate, self.reference(), self.extractor, num_images=self.num_samples,
                                          seed=self.config.seed)


def _data_states(data: Any) -> dict:
    """Every process's input-pipeline state (each host reads its own shard), for
    the checkpoint. Collective: all processes call it."""
    return {"process_count": jax.process_count(), "processes": parallel.allgather_json(data.get_state())}


def _restore_data_state(data: Any, saved: dict) -> None:
    """Puts this process's pipeline where the checkpoint left it; a run resumed
    on a different number of processes starts its shards afresh (the hosts'
    shards differ, so there is no exact position to resume)."""
    if "processes" not in saved:  # checkpoints before per-process states: one process's state
        saved = {"process_count": 1, "processes": [saved]}
    if saved["process_count"] != jax.process_count():
        logging.warning("the checkpoint was written by %d processes, this run has %d: the input pipeline "
                        "starts from the beginning of its shard", saved["process_count"], jax.process_count())
        return
    data.set_state(saved["processes"][jax.process_index()])


def train_and_evaluate(config: Any, workdir: str) -> dict:
    """Trains until config.train.num_steps, resuming from the workdir's latest
    checkpoint. Returns a summary: {'step', 'metrics', 'step_traces'}."""
    parallel.maybe_initialize_distributed()
    mesh = parallel.make_mesh()
    per_process_batch = parallel.check_batch_size(config.train.batch_size, mesh)
    trainer = get_trainer(config, mesh)
    data = build_input(config.data, batch_size=per_process_batch, seed=config.seed,
                       process_index=jax.process_index(), process_count=jax.process_count())
    _check_data(data, trainer, config)

    ckpt = checkpoint.Checkpointer(workdir, config.ckpt.max_to_keep, checkpoint.config_to_json(config))
    state, data_state = restore_or_create(trainer, config, mesh, ckpt)
    if data_state:
        _restore_data_state(data, data_state)
    start = int(state.step)
    logging.info("%s from step %d to %d: G %s and D %s params, batch %d on %d %s device(s); the first step "
                 "compiles (can take a minute on a CPU)", "resuming" if start else "training", start,
                 config.train.num_steps, f"{count_params(state.g['params']):,}", f"{count_params(state.d['params']):,}",
                 config.train.batch_size, jax.device_count(), jax.default_backend())

    traces = []

    def step_fn(state, batch):
        traces.append(None)  # runs once per trace: counts compilations
        return trainer.train_step(state, batch)

    state_sharding = jax.tree_util.tree_map(lambda x: x.sharding, state)
    batch_sharding = parallel.batch_sharding(mesh, leading=1)
    step = jax.jit(step_fn, in_shardings=(state_sharding, batch_sharding),
                   out_shardings=(state_sharding, parallel.replicated(mesh)), donate_argnums=0)
    sample = jax.jit(trainer.sample)
    z_fixed, y_fixed = _fixed_sample_inputs(trainer, config)

    num_steps = config.train.num_steps
    writer = writers.MetricWriter(workdir, num_steps, config.train.batch_size * trainer.num_batches_per_step,
                                  enabled=jax.process_index() == 0)
    evaluator = Evaluator(config, workdir, trainer, mesh) if config.eval.every_steps else None
    best = checkpoint.Checkpointer(workdir, 1, subdir="best") if evaluator else None
    best_fid = float("inf")
    preemption = _Preemption()
    collection = None
    last_metrics: dict = {}
    if start >= num_steps:
        logging.info("already trained to step %d (train.num_steps %d)", start, num_steps)
    try:
        for s in range(start + 1, num_steps + 1):
            host = [next(data) for _ in range(trainer.num_batches_per_step)]
            batch = {k: np.stack([b[k] for b in host]) for k in ("image", "label")}
            state, metrics = step(state, parallel.global_batch(batch, mesh, leading=1))

            if collection is None:
                names = sorted(metrics)
                Collection = clu_metrics.Collection.create(**{n: clu_metrics.Average.from_output(n) for n in names})
                collection = Collection.empty()
            collection = collection.merge(collection.single_from_model_output(**metrics))
            last = s == num_steps or preemption.requested
            if s % config.log.every_steps == 0 or last:
                last_metrics = {k: float(v) for k, v in collection.compute().items()}
                if not all(np.isfinite(v) for v in last_metrics.values()):
                    raise FloatingPointError(f"non-finite metrics at step {s}: {last_metrics}; the last good "
                                             f"checkpoint is step {ckpt.latest_step()}")
                writer.write_scalars(s, last_metrics)
                collection = collection.empty()
            if config.samples.every_steps and (s % config.samples.every_steps == 0 or last):
                grid = sampling.make_grid(sample(state.g_ema, z_fixed, y_fixed))
                writer.write_image(s, "samples_ema", grid)
            if evaluator and (s % config.eval.every_steps == 0 or s == num_steps):
                scores = evaluator(state.g_ema)
                writer.write_scalars(s, {f"eval/{k}": v for k, v in scores.items()})
                if scores["fid"] < best_fid:  # keep the best generator by FID
                    best_fid = scores["fid"]
                    best.save(s, state, _data_states(data), force=True)
            # Re-read the flag here: SIGTERM may arrive while this step logs.
            if s % config.ckpt.every_steps == 0 or s == num_steps or preemption.requested:
                ckpt.save(s, state, _data_states(data), force=True)
            if preemption.requested:
                logging.warning("stopping at step %d; checkpoint saved, the same command resumes from it", s)
                break
    finally:
        ckpt.close()
        if best is not None:
            best.close()
        writer.close()
        preemption.restore()
    return {"step": int(state.step), "metrics": last_metrics, "step_traces": len(traces)}


def restore_latest(config: Any, workdir: str):
    """(trainer, mesh, state) of the workdir's latest checkpoint; raises if there is none."""
    mesh = parallel.make_mesh()
    trainer = get_trainer(config, mesh)
    ckpt = checkpoint.Checkpointer(workdir, config.ckpt.max_to_keep)
    if ckpt.latest_step() is None:
        raise FileNotFoundError(f"no checkpoint in {ckpt.directory}: train first (--mode train)")
    state, _ = restore_or_create(trainer, config, mesh, ckpt)
    ckpt.close()
    return trainer, mesh, state


def sample(config: Any, workdir: str, num: int | None = None, *, sample_format: str = "grid",
           truncation: float | None = None, standing_stats: bool = False, standing_stats_batches: int = 16,
           classes=None, batch_size: int | None = None, seed: int | None = None, step: int | None = None) -> str:
    """Writes EMA-G samples of a checkpoint (default the latest); returns the
    path written. With the default seed and no truncation the grid shows the
    z and classes of the training grids.

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
    from etils import epath

    from jaxgan.generator import Generator

    if sample_format not in ("grid", "png", "npz"):
        raise ValueError(f"sample_format must be 'grid', 'png' or 'npz', got {sample_format!r}")
    if standing_stats and truncation is None:
        raise ValueError("standing statistics are measured for a truncation: pass one (e.g. 1.0)")
    gen = Generator.from_checkpoint(workdir, config, step=step)
    batch_size = batch_size or config.eval.get("batch_size", 64)
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
    images = gen.batches(z, y, truncation, batch_size)
    if sample_format == "grid":
        grid = sampling.make_grid(np.concatenate([b for _, b in images]))
        writer = writers.MetricWriter(workdir, config.train.num_steps, 0)
        path = writer.write_image(gen.step, f"sample{suffix}", grid)
        writer.close()
        return path
    if sample_format == "npz":
        return sampling.save_npz(root / f"samples_{gen.step:08d}{suffix}.npz",
                                 np.concatenate([b for _, b in images]), y)
    directory = root / f"{gen.step:08d}{suffix}"
    for start, batch in images:
        for i, image in enumerate(batch, start):
            sampling.write_png(directory / (f"{i:06d}" + ("" if y is None else f"_class{y[i]}") + ".png"), image)
    logging.info("wrote %d PNG files to %s", num, directory)
    return str(directory)


def evaluate(config: Any, workdir: str) -> dict:
    """FID / IS / KID of the latest checkpoint's EMA generator (config.eval
    settings); written to metrics.jsonl and returned."""
    trainer, mesh, state = restore_latest(config, workdir)
    scores = Evaluator(config, workdir, trainer, mesh)(state.g_ema)
    writer = writers.MetricWriter(workdir, config.train.num_steps, 0, enabled=jax.process_index() == 0)
    writer.write_scalars(int(state.step), {f"eval/{k}": v for k, v in scores.items()})
    writer.close()
    return {"step": int(state.step), **scores}
