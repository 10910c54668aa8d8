"""The trainer protocol: a family registered from outside jaxgan, with two
phases, is trained, logged, sampled, checkpointed and resumed by the loop
without the loop knowing anything about it."""

import json
from pathlib import Path

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import checkpoint, configs, parallel, train, trainers
from jaxgan.state import step_key
from jaxgan.trainers import BestMetric, Phase

REPO = Path(__file__).resolve().parents[1]
PHASE_A_STEPS = 3


@flax.struct.dataclass
class ToyState:
    step: jax.Array
    rng: jax.Array
    w: jax.Array  # the "network": one image-shaped parameter
    steps_in: jax.Array  # [2]: steps taken in phase a and in phase b
    batches: jax.Array  # real batches the steps were given
    noise: jax.Array  # the last step's draw from step_key


class ToyTrainer:
    """Phase 'a' moves w toward the mean real image; phase 'b' (the rest of
    train.num_steps) draws no data and halves w."""

    grid_name = "toy"
    grid_columns = 2
    grid_text = None
    best_metric = BestMetric("distance")

    def __init__(self, config, mesh=None):
        self.config = config
        self.shape = (config.data.image_size, config.data.image_size, config.data.channels)

    def init_state(self, key):
        return ToyState(step=jnp.zeros((), jnp.int32), rng=jax.random.key_data(key), w=jnp.zeros(self.shape),
                        steps_in=jnp.zeros((2,), jnp.int32), batches=jnp.zeros((), jnp.int32), noise=jnp.zeros(()))

    batches_in_a = 1

    def phases(self):
        return [Phase("a", PHASE_A_STEPS, self._step_a, ("image",), self.batches_in_a),
                Phase("b", self.config.train.num_steps - PHASE_A_STEPS, self._step_b, ())]

    def _step_a(self, state, batch):
        target = batch["image"].mean(axis=(0, 1))
        w = state.w + 0.5 * (target - state.w)
        state = state.replace(batches=state.batches + batch["image"].shape[0])
        return self._advance(state, w, 0), {"distance": jnp.mean(jnp.abs(w - target))}

    def _step_b(self, state, batch):
        assert batch == {}
        return self._advance(state, state.w / 2, 1), {"norm": jnp.mean(jnp.abs(state.w))}

    def _advance(self, state, w, phase):
        noise = jax.random.normal(step_key(state))
        return state.replace(step=state.step + 1, w=w, steps_in=state.steps_in.at[phase].add(1), noise=noise)

    def check_data(self, data):
        if tuple(data.image_shape) != self.shape:
            raise ValueError(f"toy: data {data.image_shape} != {self.shape}")

    def param_counts(self, state):
        return {"w": int(np.prod(state.w.shape))}

    def grid_inputs(self, key, num):
        return jnp.linspace(0.0, 1.0, num)

    def sample_grid(self, state, inputs):
        return jnp.tanh(inputs[:, None, None, None] * state.w[None])

    def evaluator(self, workdir, mesh):
        return lambda state: {"distance": float(jnp.mean(jnp.abs(state.w)))}

    @classmethod
    def define_sample_flags(cls):
        trainers.define_flag("integer", "toy_copies", 1, "--mode sample of the toy family.")

    @classmethod
    def sample_options(cls, flag_values):
        return {"copies": flag_values.toy_copies}

    @classmethod
    def write_samples(cls, config, workdir, num=None, copies=1):
        path = Path(workdir) / "toy_samples.json"
        path.write_text(json.dumps({"num": num, "copies": copies}))
        return str(path)


class DivergingToyTrainer(ToyTrainer):
    """The toy whose phase-b metric is NaN from step 6 on."""

    def _step_b(self, state, batch):
        state, metrics = super()._step_b(state, batch)
        return state, {"norm": jnp.where(state.step >= 6, jnp.nan, metrics["norm"])}


class VaryingBatchesToyTrainer(ToyTrainer):
    """The toy whose first step takes 3 batches and the others 1 (as WGAN's
    critic iterations vary)."""

    batches_in_a = staticmethod(lambda step: 3 if step == 1 else 1)


class ConstantsToyTrainer(ToyTrainer):
    """The toy whose phase b adds frozen weights (a phase constant, 2**18
    floats: 1 MiB, as big as a program's embedded constants would show) to w."""

    WEIGHTS = 2 ** 18
    loads = []

    def phases(self):
        a, b = super().phases()
        return [a, Phase("b", b.num_steps, self._step_b_with, (), constants=self._weights)]

    def _weights(self, abstract=False):
        if abstract:
            return {"v": jax.ShapeDtypeStruct((self.WEIGHTS,), jnp.float32)}
        self.loads.append(None)
        v = np.full((self.WEIGHTS,), 0.35, np.float32)
        v[1::2] = 0.15  # mean 0.25; not one repeated value, which a program would hold as a single number
        return {"v": v}

    def _step_b_with(self, state, batch, constants):
        state, metrics = self._step_b(state, batch)
        return state.replace(w=state.w + jnp.sum(constants["v"]) / self.WEIGHTS), metrics


class TextGridToyTrainer(ToyTrainer):
    """The toy whose grid is text (as a sequence family's): the grid's
    numbers, one line per sample."""

    def grid_text(self, out):
        assert isinstance(out, np.ndarray)  # rendered on the host
        return "\n".join(f"{v:.3f}" for v in out.mean(axis=(1, 2, 3)))


TOYS = {"toy": ToyTrainer, "toy_diverging": DivergingToyTrainer, "toy_varying": VaryingBatchesToyTrainer,
        "toy_constants": ConstantsToyTrainer, "toy_text": TextGridToyTrainer}


@pytest.fixture(scope="module", autouse=True)
def registered():
    for name, cls in TOYS.items():
        trainers.register(name, cls)
    yield
    for name in TOYS:
        trainers._REGISTRY.pop(name)


def _config(num_steps):
    config = configs.load(f"{REPO / 'configs' / 'biggan_128.py'}:smoke")
    with config.unlocked():
        config.trainer = "toy"
        config.train.num_steps = num_steps
        config.ckpt.every_steps = 100
        config.samples.every_steps = 4
        config.eval.every_steps = 0
    return config


def _restore(workdir, config):
    return train.restore_latest(config, str(workdir))[2]


def test_phases_run_in_order_and_resume_in_the_right_phase(tmp_path):
    straight = train.train_and_evaluate(_config(7), str(tmp_path / "straight"))
    assert straight["step"] == 7 and straight["step_traces"] == 2  # one compiled step per phase
    s = _restore(tmp_path / "straight", _config(7))
    assert list(s.steps_in) == [PHASE_A_STEPS, 7 - PHASE_A_STEPS] and s.batches == PHASE_A_STEPS
    lines = [json.loads(l) for l in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()]
    assert [sorted(k for k in l if k in ("distance", "norm")) for l in lines] == \
        [["distance"]] * PHASE_A_STEPS + [["norm"]] * (7 - PHASE_A_STEPS)
    grids = sorted(p.name for p in (tmp_path / "straight" / "samples").glob("*.png"))
    assert grids == ["toy_00000004.png", "toy_00000007.png"]

    # Stop inside phase b, then resume there: the same state as the straight run.
    first = train.train_and_evaluate(_config(5), str(tmp_path / "resumed"))
    assert first["step"] == 5 and first["step_traces"] == 2
    again = train.train_and_evaluate(_config(7), str(tmp_path / "resumed"))
    assert again["step"] == 7 and again["step_traces"] == 1  # resumed in phase b: only its step compiled
    r = _restore(tmp_path / "resumed", _config(7))
    for a, b in zip(jax.tree_util.tree_leaves(s), jax.tree_util.tree_leaves(r), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_best_checkpoint_and_eval_mode_use_the_familys_metric(tmp_path):
    config = _config(4)
    with config.unlocked():
        config.eval.every_steps = 2
    train.train_and_evaluate(config, str(tmp_path))
    scores = [l for l in map(json.loads, (tmp_path / "metrics.jsonl").read_text().splitlines()) if "eval/distance" in l]
    assert [l["step"] for l in scores] == [2, 4]
    # w grows towards the data in phase a and halves in phase b: the lower distance picks the step.
    best_step = 2 if scores[0]["eval/distance"] < scores[1]["eval/distance"] else 4
    assert [p.name for p in (tmp_path / "best").iterdir() if p.name.isdigit()] == [str(best_step)]
    assert train.evaluate(config, str(tmp_path)) == {"step": 4, "distance": pytest.approx(scores[1]["eval/distance"])}


def test_a_non_finite_metric_stops_the_run_and_names_the_last_good_checkpoint(tmp_path):
    config = _config(10)
    with config.unlocked():
        config.trainer = "toy_diverging"
        config.log.every_steps = 4  # the metrics are checked before every save as well
        config.ckpt.every_steps = 3
    with pytest.raises(FloatingPointError, match=r"non-finite metrics at step 6: .*the last good checkpoint is "
                                                 r"step 3"):
        train.train_and_evaluate(config, str(tmp_path))
    assert sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit()) == [3]


def test_a_family_with_text_samples_gets_text_grids(tmp_path):
    config = _config(4)
    with config.unlocked():
        config.trainer = "toy_text"
    train.train_and_evaluate(config, str(tmp_path))
    samples = tmp_path / "samples"
    assert sorted(p.name for p in samples.iterdir()) == ["toy_00000004.txt"]
    state = _restore(tmp_path, config)
    toy = TextGridToyTrainer(config)
    expected = toy.grid_text(np.asarray(toy.sample_grid(state, train.grid_inputs(toy, config))))
    assert (samples / "toy_00000004.txt").read_text() == expected and len(expected.splitlines()) == 4


def test_sample_mode_dispatches_to_the_family(tmp_path):
    path = train.sample(_config(4), str(tmp_path), 3, copies=2)
    assert json.loads(Path(path).read_text()) == {"num": 3, "copies": 2}


def test_unknown_trainer_names_the_registered_ones():
    with pytest.raises(ValueError, match=r"unknown trainer 'nope' \(config.trainer\); known: 'biggan'"):
        trainers.trainer_class("nope")


def test_a_phase_can_take_a_different_number_of_batches_at_each_step(tmp_path):
    config = _config(4)
    with config.unlocked():
        config.trainer = "toy_varying"
    summary = train.train_and_evaluate(config, str(tmp_path))
    assert summary["step"] == 4 and summary["step_traces"] == 3  # phase a with 3 and with 1 batch, phase b
    ckpt = checkpoint.Checkpointer(str(tmp_path), 1)
    state, data_state = ckpt.restore(train.abstract_state(trainers.get_trainer(config), config, parallel.make_mesh()))
    ckpt.close()
    assert int(state.batches) == 3 + (PHASE_A_STEPS - 1)
    assert data_state["processes"] == [{"step": 3 + (PHASE_A_STEPS - 1)}]  # the pipeline's position: batches read
    lines = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all(l["images_per_s"] >= 0 for l in lines[1:])
    with pytest.raises(ValueError, match=r"phase 'a': batches_per_step must be an int >= 1, got 0 \(for step 2\)"):
        Phase("a", 3, lambda s, b: (s, {}), ("image",), lambda step: step - 2).num_batches(2)


def test_phase_constants_reach_the_step_as_an_argument_not_as_embedded_program_constants(tmp_path):
    plain, with_constants = _config(5), _config(5)
    with with_constants.unlocked():
        with_constants.trainer = "toy_constants"
    ConstantsToyTrainer.loads.clear()
    train.train_and_evaluate(plain, str(tmp_path / "plain"))
    train.train_and_evaluate(with_constants, str(tmp_path / "constants"))
    assert len(ConstantsToyTrainer.loads) == 1  # loaded once, when phase b started
    # Each of b's 2 steps halves w, and adds 0.25 with the constants: w / 4 + 0.375 instead of w / 4.
    w_plain = np.asarray(_restore(tmp_path / "plain", plain).w)
    w_constants = np.asarray(_restore(tmp_path / "constants", with_constants).w)
    np.testing.assert_allclose(w_constants - w_plain, 0.375, atol=1e-6)

    trainer = trainers.get_trainer(with_constants)
    phase_b = trainer.phases()[1]
    abstract = train.abstract_state(trainer, with_constants, parallel.make_mesh())
    lowered = jax.jit(phase_b.step_fn()).lower(abstract, {}, phase_b.load_constants(abstract=True))
    assert len(lowered.as_text()) < 100_000  # 1 MiB of weights as a constant would be megabytes of text
    assert len(ConstantsToyTrainer.loads) == 1  # abstract: nothing loaded
    # The same step with the weights closed over (what the protocol avoids) embeds them.
    weights = phase_b.load_constants()
    assert len(jax.jit(lambda s: phase_b.train_step(s, {}, weights)).lower(abstract).as_text()) > 1_000_000
