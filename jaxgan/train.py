"""The training loop: data -> jitted phase steps -> metrics, sample grids,
evaluation, checkpoints.

Knows nothing about any GAN family: the trainer named by `config.trainer`
(jaxgan/trainers/protocol.py) supplies the state, the training phases, the
batch keys, the sample grid, the evaluation and the parameter summary; this
module drives them the same way for every family. Importable from a notebook:
`train_and_evaluate(config, workdir)`.
"""

from __future__ import annotations

import bisect
import logging
from typing import Any, Sequence

import jax
import numpy as np
from clu import metrics as clu_metrics

from jaxgan import checkpoint, parallel, pictures, writers
from jaxgan.data import build_input
from jaxgan.preemption import Preemption
from jaxgan.trainers import Phase, get_trainer, trainer_class


def abstract_state(trainer: Any, config: Any, mesh) -> Any:
    """The state's shapes, dtypes and shardings (the trainer's
    `state_sharding`, else replicated), from `jax.eval_shape`: what a
    checkpoint is restored into, without running the init."""
    abstract = jax.eval_shape(trainer.init_state, jax.random.key(config.seed))
    if hasattr(trainer, "state_sharding"):
        shardings = trainer.state_sharding(mesh, abstract)
    else:
        shardings = jax.tree_util.tree_map(lambda _: parallel.replicated(mesh), abstract)
    return jax.tree_util.tree_map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), abstract, shardings)


def create_state(trainer: Any, config: Any, mesh) -> tuple[Any, Any]:
    """The initial state, created already replicated over `mesh` by a jitted
    init, and its abstract form (shapes, dtypes, shardings) for restoring."""
    abstract = abstract_state(trainer, config, mesh)
    shardings = jax.tree_util.tree_map(lambda a: a.sharding, abstract)
    state = jax.jit(trainer.init_state, out_shardings=shardings)(jax.random.key(config.seed))
    return state, abstract


def restore_or_create(trainer: Any, config: Any, mesh, ckpt: checkpoint.Checkpointer):
    """(state, data_state or None): the latest checkpoint in the workdir,
    restored without initialising a state first, else a new state."""
    restored = ckpt.restore(abstract_state(trainer, config, mesh))
    if restored is None:
        return create_state(trainer, config, mesh)[0], None
    logging.info("resumed from step %d", ckpt.latest_step())
    return restored


class Schedule:
    """The phases laid end to end: which phase a step belongs to."""

    def __init__(self, phases: Sequence[Phase]):
        if not phases:
            raise ValueError("the trainer has no training phases")
        self.phases = list(phases)
        self.ends = list(np.cumsum([p.num_steps for p in self.phases]))  # the last step of each phase
        self.num_steps = int(self.ends[-1])

    def index(self, step: int) -> int:
        """The phase that runs step number `step` (1-based)."""
        return min(bisect.bisect_left(self.ends, step), len(self.phases) - 1)

    def describe(self) -> str:
        if len(self.phases) == 1:
            return ""
        return "; phases " + ", ".join(f"{p.name} to step {end}" for p, end in zip(self.phases, self.ends))


def _data_states(data: Any) -> dict:
    """Every process's input-pipeline state (each host reads its own shard), for
    the checkpoint. Collective: all processes call it."""
    return {"process_count": jax.process_count(), "processes": parallel.allgather_json(data.get_state())}


def _restore_data_state(data: Any, saved: dict) -> None:
    """Puts this process's pipeline where the checkpoint left it; a run resumed
    on a different number of processes starts its shards afresh (the hosts'
    shards differ, so there is no exact position to resume)."""
    if saved["process_count"] != jax.process_count():
        logging.warning("the checkpoint was written by %d processes, this run has %d: the input pipeline "
                        "starts from the beginning of its shard", saved["process_count"], jax.process_count())
        return
    data.set_state(saved["processes"][jax.process_index()])


def grid_inputs(trainer: Any, config: Any) -> Any:
    """The fixed inputs of every sample grid of a run."""
    return trainer.grid_inputs(jax.random.fold_in(jax.random.key(config.seed), 1), config.samples.num)


def _param_summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n:,}" for name, n in counts.items())


def _host_batch(data: Any, phase: Phase, num_batches: int) -> dict[str, np.ndarray]:
    """`num_batches` batches of the keys the phase takes, stacked."""
    if not phase.batch_keys:
        return {}
    host = [next(data) for _ in range(num_batches)]
    missing = [k for k in phase.batch_keys if k not in host[0]]
    if missing:
        raise ValueError(f"phase {phase.name!r} needs the batch keys {missing}, which the input pipeline "
                         f"(config.data.source) does not give (it gives {sorted(host[0])})")
    return {k: np.stack([b[k] for b in host]) for k in phase.batch_keys}


class _Metrics:
    """Averages a step's scalar metrics over the logging interval (clu merges
    them as device arrays, so logging does not wait for every step)."""

    def __init__(self):
        self._collection, self._names = None, None

    def add(self, metrics: dict) -> None:
        if set(metrics) != self._names:  # the first step, or a phase with other metrics
            self._names = set(metrics)
            kinds = {n: clu_metrics.Average.from_output(n) for n in sorted(metrics)}
            self._collection = clu_metrics.Collection.create(**kinds).empty()
        self._collection = self._collection.merge(self._collection.single_from_model_output(**metrics))

    def pop(self) -> dict[str, float]:
        values = {k: float(v) for k, v in self._collection.compute().items()}
        self._collection = self._collection.empty()
        return values


def train_and_evaluate(config: Any, workdir: str) -> dict:
    """Trains through the trainer's phases, resuming from the workdir's latest
    checkpoint. Returns a summary: {'step', 'metrics', 'step_traces'}."""
    parallel.maybe_initialize_distributed()
    mesh = parallel.make_mesh()
    per_process_batch = parallel.check_batch_size(config.train.batch_size, mesh)
    trainer = get_trainer(config, mesh)
    schedule = Schedule(trainer.phases())
    data = build_input(config.data, batch_size=per_process_batch, seed=config.seed,
                       process_index=jax.process_index(), process_count=jax.process_count())
    trainer.check_data(data)

    ckpt = checkpoint.Checkpointer(workdir, config.ckpt.max_to_keep, checkpoint.config_to_json(config))
    state, data_state = restore_or_create(trainer, config, mesh, ckpt)
    if data_state:
        _restore_data_state(data, data_state)
    start, num_steps = int(state.step), schedule.num_steps
    logging.info("%s from step %d to %d: %s params, batch %d on %d %s device(s)%s; the first step compiles "
                 "(can take a minute on a CPU)", "resuming" if start else "training", start, num_steps,
                 _param_summary(trainer.param_counts(state)), config.train.batch_size, jax.device_count(),
                 jax.default_backend(), schedule.describe())

    traces = []
    state_sharding = jax.tree_util.tree_map(lambda x: x.sharding, state)
    batch_sharding = parallel.batch_sharding(mesh, leading=1)

    def compile_phase(phase: Phase):
        train_step = phase.step_fn()

        def step_fn(state, batch, constants):
            traces.append(None)  # runs once per trace: counts compilations
            return train_step(state, batch, constants)

        replicated = parallel.replicated(mesh)
        jitted = jax.jit(step_fn, in_shardings=(state_sharding, batch_sharding, replicated),
                         out_shardings=(state_sharding, replicated), donate_argnums=0)
        constants = jax.device_put(phase.load_constants(), replicated)
        return lambda state, batch: jitted(state, batch, constants)

    grid = jax.jit(trainer.sample_grid)
    fixed_inputs = grid_inputs(trainer, config)
    writer = writers.MetricWriter(workdir, num_steps, enabled=jax.process_index() == 0)
    evaluator = trainer.evaluator(workdir, mesh) if config.eval.every_steps else None
    best = checkpoint.Checkpointer(workdir, 1, subdir="best") if evaluator and trainer.best_metric else None
    best_score = None
    preemption = Preemption()
    averages = _Metrics()
    last_metrics: dict = {}
    phase_index, step = None, None
    if start >= num_steps:
        logging.info("already trained to step %d of %d", start, num_steps)
    try:
        for s in range(start + 1, num_steps + 1):
            if schedule.index(s) != phase_index:
                phase_index = schedule.index(s)
                phase = schedule.phases[phase_index]
                step = compile_phase(phase)
                if len(schedule.phases) > 1:
                    logging.info("phase %s from step %d", phase.name, s)
            num_batches = phase.num_batches(s)
            batch = parallel.global_batch(_host_batch(data, phase, num_batches), mesh, leading=1)
            state, metrics = step(state, batch)
            averages.add(metrics)
            writer.count_images(config.train.batch_size * num_batches if phase.batch_keys else 0)

            stop = preemption.stop_requested(s)
            last = s == num_steps or stop
            save = s % config.ckpt.every_steps == 0 or last
            # Metrics are checked before every save, so no checkpoint holds a diverged state.
            if s % config.log.every_steps == 0 or save:
                last_metrics = averages.pop()
                if not all(np.isfinite(v) for v in last_metrics.values()):
                    raise FloatingPointError(f"non-finite metrics at step {s}: {last_metrics}; the last good "
                                             f"checkpoint is step {ckpt.latest_step()}")
                writer.write_scalars(s, last_metrics)
            if config.samples.every_steps and (s % config.samples.every_steps == 0 or last):
                out = grid(state, fixed_inputs)
                if trainer.grid_text is None:
                    writer.write_image(s, trainer.grid_name, pictures.make_grid(out, trainer.grid_columns))
                else:
                    writer.write_text(s, trainer.grid_name, trainer.grid_text(jax.device_get(out)))
            if evaluator and (s % config.eval.every_steps == 0 or s == num_steps):
                scores = evaluator(state)
                writer.write_scalars(s, {f"eval/{k}": v for k, v in scores.items()})
                if best is not None and trainer.best_metric.improves(scores[trainer.best_metric.name], best_score):
                    best_score = scores[trainer.best_metric.name]
                    best.save(s, state, _data_states(data), force=True)
            if save:
                ckpt.save(s, state, _data_states(data), force=True)
            if stop:
                logging.warning("stopping at step %d; checkpoint saved, the same command resumes from it", s)
                break
    finally:
        ckpt.close()
        if best is not None:
            best.close()
        writer.close()
        preemption.restore()
    return {"step": int(state.step), "metrics": last_metrics, "step_traces": len(traces)}


def restore_latest(config: Any, workdir: str, step: int | None = None):
    """(trainer, mesh, state) of the workdir's latest checkpoint (or of
    `step`); raises FileNotFoundError if there is none, before building the
    trainer (a family may read its data to size its networks)."""
    mesh = parallel.make_mesh()
    ckpt = checkpoint.Checkpointer(workdir, config.ckpt.max_to_keep)
    try:
        if ckpt.latest_step() is None:
            raise FileNotFoundError(f"no checkpoint in {ckpt.directory}: train first (--mode train)")
        if step is not None and step not in ckpt.manager.all_steps():
            raise FileNotFoundError(f"no checkpoint of step {step} in {ckpt.directory}; it has steps "
                                    f"{sorted(ckpt.manager.all_steps())}")
        trainer = get_trainer(config, mesh)
        restored = ckpt.restore(abstract_state(trainer, config, mesh), step)
    finally:
        ckpt.close()
    return trainer, mesh, restored[0]


def sample(config: Any, workdir: str, num: int | None = None, **options) -> str:
    """`--mode sample`: the family's samples of a checkpoint (options: its
    `write_samples` keywords); returns the path written."""
    return trainer_class(config.trainer).write_samples(config, workdir, num, **options)


def evaluate(config: Any, workdir: str) -> dict:
    """The family's evaluation (config.eval) of the latest checkpoint, written
    to metrics.jsonl and returned."""
    trainer, mesh, state = restore_latest(config, workdir)
    evaluator = trainer.evaluator(workdir, mesh)
    if evaluator is None:
        raise ValueError(f"the {config.trainer!r} trainer has no evaluation")
    scores = evaluator(state)
    writer = writers.MetricWriter(workdir, config.train.num_steps, enabled=jax.process_index() == 0)
    writer.write_scalars(int(state.step), {f"eval/{k}": v for k, v in scores.items()})
    writer.close()
    return {"step": int(state.step), **scores}
