"""The trainer protocol: what a GAN family gives the training loop.

A family is a module under jaxgan/trainers/ with a class that satisfies
`Trainer`, registered by name in jaxgan/trainers/__init__.py, plus its models
and configs. The loop (jaxgan/train.py) and the command line (jaxgan/main.py)
only ever call what is listed here, so adding a family touches neither.

The family owns its state pytree (any fields) except `step` and `rng`, which
every state has: `step` is the number of finished training steps (each phase
step advances it by one) and `rng` raw key data (`jax.random.key_data`); a
step's randomness comes from `jaxgan.state.step_key(state)`, so a resumed run
draws what an uninterrupted one would.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Protocol, Sequence

import jax
import numpy as np

Array = jax.Array
Metrics = Mapping[str, Array]


@dataclasses.dataclass(frozen=True)
class Phase:
    """A stretch of training with one step function.

    The loop runs the phases in order, `num_steps` steps each; the step of
    state.step = s belongs to the phase whose stretch holds s + 1, so a resumed
    run continues in the phase it stopped in. Before each step the loop draws
    n batches from the input pipeline and passes the arrays under
    `batch_keys`, each stacked to [n, batch_size, ...] and sharded over the
    devices along the batch axis; a phase with no `batch_keys` draws nothing.
    n is `batches_per_step`, or `batches_per_step(s)` for the step that makes
    state.step = s when it is a function (WGAN's 100 critic iterations in the
    first 25 generator steps and every 500th, 5 otherwise): the step is then
    compiled once per distinct n. `train_step(state, batch) -> (state, metrics)`
    is jitted by the loop (once per phase and n) with the state donated;
    metrics are scalars, averaged over the logging interval.

    `constants`, when given, are frozen arrays the step reads and never
    updates (the VGG19 weights of a perceptual loss), as a function
    `constants(abstract=False)` that loads them; with abstract=True it returns
    their jax.ShapeDtypeStructs and loads nothing (for tools that only
    compile). The loop loads them when the phase starts, puts them on the
    devices replicated and calls `train_step(state, batch, constants)`: a
    jitted function would embed arrays it closes over in the program itself.
    """

    name: str
    num_steps: int
    train_step: Callable[..., tuple[Any, Metrics]]
    batch_keys: tuple[str, ...] = ("image", "label")
    batches_per_step: int | Callable[[int], int] = 1
    constants: Callable[..., Any] | None = None

    def __post_init__(self):
        if self.num_steps < 0:
            raise ValueError(f"phase {self.name!r}: num_steps must be >= 0, got {self.num_steps}")
        if not callable(self.batches_per_step):
            self.num_batches(1)

    def step_fn(self) -> Callable[[Any, dict[str, Array], Any], tuple[Any, Metrics]]:
        """The step as a function of (state, batch, constants) for every
        phase; a phase without constants gets None and ignores it."""
        if self.constants is None:
            return lambda state, batch, constants: self.train_step(state, batch)
        return self.train_step

    def load_constants(self, abstract: bool = False) -> Any:
        """The phase's constants (None without any); see the class docstring."""
        return None if self.constants is None else self.constants(abstract=abstract)

    def num_batches(self, step: int) -> int:
        """How many batches the step that makes state.step = `step` takes."""
        n = self.batches_per_step(step) if callable(self.batches_per_step) else self.batches_per_step
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"phase {self.name!r}: batches_per_step must be an int >= 1, got {n!r} "
                             f"(for step {step})")
        return int(n)


@dataclasses.dataclass(frozen=True)
class BestMetric:
    """The evaluation score that picks the `best/` checkpoint."""

    name: str  # a key of the evaluator's result, e.g. 'fid'
    higher_is_better: bool = False

    def improves(self, score: float, best: float | None) -> bool:
        if best is None:
            return True
        return score > best if self.higher_is_better else score < best


class Trainer(Protocol):
    """What the loop asks of a GAN family; see the module docstring."""

    config: Any

    # The sample grid written during training: `grid_name` names its files
    # (samples/<grid_name>_<step>.png), `grid_columns` its width (None: square).
    # A family whose samples are not images (token sequences) sets
    # `grid_text`: it turns sample_grid's output (as numpy arrays) into text,
    # written as samples/<grid_name>_<step>.txt instead (None: images).
    grid_name: str
    grid_columns: int | None
    grid_text: Callable[[Any], str] | None
    # The score that picks `best/` (None: the family keeps no best checkpoint).
    best_metric: BestMetric | None

    def init_state(self, key: Array) -> Any:
        """A fresh state pytree with `step` 0 and `rng`; traced under jit and
        `jax.eval_shape` (resume restores into its abstract shape without
        running it)."""

    # Optional: `state_sharding(mesh, abstract) -> a pytree of shardings` like
    # the abstract state (jax.eval_shape of init_state), where the state is
    # not replicated over the mesh (independent models split over the
    # devices: the single-image families' pyramids). The loop creates,
    # restores and steps the state with these shardings; without the method
    # every leaf is replicated.

    def phases(self) -> Sequence[Phase]:
        """The training phases in order (one for most families)."""

    def check_data(self, data: Any) -> None:
        """Raises ValueError naming the config field if the input pipeline
        does not fit the model (resolution, classes, channels)."""

    def param_counts(self, state: Any) -> dict[str, int]:
        """Parameters per network, e.g. {'g': ..., 'd': ...}; works on a
        state of arrays or of ShapeDtypeStructs (from jax.eval_shape)."""

    def grid_inputs(self, key: Array, num: int) -> Any:
        """The fixed inputs of every sample grid of a run (a pytree of
        arrays), e.g. z and classes, or a batch of source images."""

    def sample_grid(self, state: Any, inputs: Any) -> Array:
        """The grid's images [N, H, W, C] in [-1, 1], or what `grid_text`
        renders (jitted by the loop)."""

    def evaluator(self, workdir: str, mesh: Any) -> Callable[[Any], dict[str, float]] | None:
        """A function state -> scores for config.eval (None: nothing to evaluate)."""

    @classmethod
    def define_sample_flags(cls) -> None:
        """Defines the family's `--mode sample` absl flags (`jaxgan.trainers.define_flag`)."""

    @classmethod
    def sample_options(cls, flag_values: Any) -> dict[str, Any]:
        """The parsed `--mode sample` flags as keyword arguments of `write_samples`;
        raises ValueError for inconsistent flags."""

    @classmethod
    def write_samples(cls, config: Any, workdir: str, num: int | None = None, **options) -> str:
        """`--mode sample`: writes samples of the workdir's checkpoint; returns
        the path written. Raises FileNotFoundError when there is no checkpoint."""
