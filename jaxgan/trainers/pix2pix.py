"""Trainer of pix2pix (`trainer = "pix2pix"`): paired image-to-image
translation with a conditional GAN, as the reference trains it
(junyanz/pytorch-CycleGAN-and-pix2pix, models/pix2pix_model.py).

A step, on a batch of inputs A and targets B (batch keys "input", "image"):
1. fake_B = G(A), once, in training mode (BatchNorm's batch statistics,
   dropout from the step's key);
2. D update: D sees the pair concat(A, B) on channels (the conditional
   PatchGAN); loss_D = 0.5 * (GAN(D(A, fake_B detached), fake) + GAN(D(A, B),
   real)), in that order (D's BatchNorm statistics are updated per call, as
   the reference's three D calls do);
3. G update through the same fake_B (its vector-Jacobian product: the
   reference back-propagates the graph of step 1): loss_G = GAN(D'(A, fake_B),
   real) + lambda_L1 * mean |fake_B - B|, with D' the D just updated.
GAN losses (`loss.gan_mode`, the reference's GANLoss on logits): 'vanilla'
BCE with logits against 1 (real) or 0 (fake), 'lsgan' mean squares against 1
or 0, 'hinge' relu(1 - x) / relu(1 + x) for D and -x for G. Metrics as the
reference names its losses: G_GAN, G_L1 (times lambda_L1), D_real, D_fake
(before the 0.5), and lr.

Adam (b1, b2, eps as torch's) at the rate of `learning_rate`: constant, then
linear decay per epoch (jaxgan/configs/pix2pix.py converts the reference's
epochs to steps). Evaluation: `l1`, the held-out L1 of G's translations
(lower is better; picks best/).
"""

from __future__ import annotations

import logging
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan.models import pix2pix as networks
from jaxgan.state import count_params, step_key
from jaxgan.trainers import TranslationSampleFlags, check_sample_format, write_image_samples
from jaxgan.trainers.protocol import BestMetric, Phase

Array = jax.Array
GAN_MODES = ("vanilla", "lsgan", "hinge")
SAMPLE_MODES = ("eval", "train")


@flax.struct.dataclass
class Pix2PixState:
    """{step, rng} (the loop's), G and D as flax variable dicts (params and
    BatchNorm's batch_stats) and their Adam states."""

    step: jax.Array
    rng: jax.Array
    g: Any
    d: Any
    g_opt: Any
    d_opt: Any


def gan_loss(logits: Array, target_is_real: bool, mode: str, for_discriminator: bool = True) -> Array:
    """The reference's GANLoss(mode)(logits, target_is_real), a mean over every
    patch; 'hinge' is the margin loss for D and -mean(logits) for G."""
    x = logits.astype(jnp.float32)
    if mode == "vanilla":  # BCEWithLogitsLoss against a tensor of 1s or 0s
        return jnp.mean(jax.nn.softplus(-x) if target_is_real else jax.nn.softplus(x))
    if mode == "lsgan":  # MSELoss against 1s or 0s
        return jnp.mean(jnp.square(x - (1.0 if target_is_real else 0.0)))
    if mode == "hinge":
        if not for_discriminator:
            return -jnp.mean(x)
        return jnp.mean(jax.nn.relu(1.0 - x) if target_is_real else jax.nn.relu(1.0 + x))
    raise ValueError(f"config.loss.gan_mode must be one of {GAN_MODES}, got {mode!r}")


def learning_rate(optim: Any, num_steps: int, step: Array) -> Array:
    """The rate of the update at `step` (steps done before it): the
    reference's 'linear' policy in epochs of optim.epoch_steps steps, epoch e
    at lr * (1 - max(0, e + 1 - n_epochs) / (n_epochs_decay + 1)), n_epochs =
    (num_steps - decay_steps) / epoch_steps, n_epochs_decay = decay_steps /
    epoch_steps (jaxgan/configs/pix2pix.py)."""
    epoch = jnp.floor(jnp.asarray(step, jnp.float32) / optim.epoch_steps)
    n_epochs = (num_steps - optim.decay_steps) / optim.epoch_steps
    n_decay = optim.decay_steps / optim.epoch_steps
    return optim.lr * (1.0 - jnp.maximum(0.0, epoch + 1.0 - n_epochs) / (n_decay + 1.0))


def _split(variables: dict) -> tuple[Any, dict]:
    return variables["params"], {c: v for c, v in variables.items() if c != "params"}


def _apply(module, params, aux: dict, *args, **kwargs):
    """(output, aux') of a training-mode call; aux: the non-param collections."""
    if not aux:
        return module.apply({"params": params}, *args, **kwargs), aux
    return module.apply({"params": params, **aux}, *args, mutable=list(aux), **kwargs)


def check_common_fields(config: Any, arch: str) -> None:
    """The checks the pix2pix and pix2pixHD trainers share: model.arch (and
    so the trainer) is `arch`, loss.gan_mode, model.sample_mode and dtype."""
    m = config.model
    if m.arch != arch:
        raise ValueError(f"config.model.arch must be '{arch}' for the {arch} trainer, got {m.arch!r}")
    if config.loss.gan_mode not in GAN_MODES:
        raise ValueError(f"config.loss.gan_mode must be one of {GAN_MODES}, got {config.loss.gan_mode!r}")
    if m.sample_mode not in SAMPLE_MODES:
        raise ValueError(f"config.model.sample_mode must be 'eval' or 'train', got {m.sample_mode!r}")
    if config.dtype not in ("float32", "bfloat16"):
        raise ValueError(f"config.dtype must be 'float32' or 'bfloat16' (the networks' compute dtype; "
                         f"parameters stay float32), got {config.dtype!r}")


def adam_update(tx, params, opt_state, grads, lr):
    """(params, opt_state) after one step of `tx` (optax.scale_by_adam) at
    the rate `lr`, a traced scalar of the step's schedule."""
    direction, opt_state = tx.update(grads, opt_state, params)
    return jax.tree_util.tree_map(lambda p, u: p - lr * u, params, direction), opt_state


def _as_channels(x: Array, channels: int) -> Array:
    """Grey to RGB by copying, RGB to grey by averaging (for the grid)."""
    if x.shape[-1] == channels:
        return x
    if x.shape[-1] == 1:
        return jnp.repeat(x, channels, axis=-1)
    return jnp.mean(x, axis=-1, keepdims=True)


class Pix2PixTrainer(TranslationSampleFlags):
    """See the module docstring; the protocol is jaxgan/trainers/protocol.py."""

    grid_name = "translations"
    grid_columns = 12  # four (input, output, target) triplets a row
    grid_text = None  # the grid is images
    best_metric = BestMetric("l1", higher_is_better=False)

    def __init__(self, config: Any, mesh: Any = None):
        self.config = config
        m, d = config.model, config.data
        check_common_fields(config, "pix2pix")
        o, n = config.optim, config.train.num_steps
        if o.epoch_steps < 1 or not 0 <= o.decay_steps <= n:
            raise ValueError(f"config.optim.epoch_steps must be >= 1 and optim.decay_steps in [0, train.num_steps="
                             f"{n}], got {o.epoch_steps} and {o.decay_steps}")
        dtype = jnp.dtype(config.dtype)
        self.G = networks.define_G(output_nc=int(d.channels), **m.g, dtype=dtype)
        self.D = networks.define_D(**m.d, dtype=dtype)
        size = int(d.image_size)
        self.input_shape = (size, size, int(d.input_channels))
        self.image_shape = (size, size, int(d.channels))
        self.tx = optax.scale_by_adam(b1=o.b1, b2=o.b2, eps=o.eps)
        self._held_out = None

    # ------------------------------------------------------------ protocol
    def phases(self) -> list[Phase]:
        return [Phase("pix2pix", self.config.train.num_steps, self.train_step, ("input", "image"))]

    def check_data(self, data: Any) -> None:
        shapes = (tuple(getattr(data, "input_shape", ())), tuple(data.image_shape))
        if not shapes[0]:
            raise ValueError(f"config.data.source {self.config.data.source!r} gives no input images; pix2pix needs "
                             "image pairs ('aligned', 'edges2digits')")
        if shapes != (self.input_shape, self.image_shape):
            raise ValueError(f"config.data gives inputs {shapes[0]} and targets {shapes[1]}, the model is built for "
                             f"{self.input_shape} and {self.image_shape} (data.image_size, input_channels, channels)")

    def param_counts(self, state: Pix2PixState) -> dict[str, int]:
        return {"g": count_params(state.g["params"]), "d": count_params(state.d["params"])}

    def init_state(self, key: Array) -> Pix2PixState:
        kg, kd, kr = jax.random.split(key, 3)
        g = self.G.init(kg, jnp.zeros((1, *self.input_shape)), train=False)
        d = self.D.init(kd, jnp.zeros((1, *self.input_shape[:2], self.input_shape[2] + self.image_shape[2])),
                        train=False)
        return Pix2PixState(step=jnp.zeros((), jnp.int32), rng=jax.random.key_data(kr), g=dict(g), d=dict(d),
                            g_opt=self.tx.init(g["params"]), d_opt=self.tx.init(d["params"]))

    # ---------------------------------------------------------------- step
    def learning_rate(self, step: Array) -> Array:
        return learning_rate(self.config.optim, self.config.train.num_steps, step)

    def _update(self, params, opt_state, grads, lr):
        return adam_update(self.tx, params, opt_state, grads, lr)

    def train_step(self, state: Pix2PixState, batch: dict[str, Array]) -> tuple[Pix2PixState, dict[str, Array]]:
        """batch: {'input': [1, B, H, W, Cin], 'image': [1, B, H, W, C]}."""
        mode, lambda_l1 = self.config.loss.gan_mode, self.config.loss.lambda_L1
        real_a, real_b = batch["input"][0], batch["image"][0]
        lr = self.learning_rate(state.step)
        g_params, g_aux = _split(state.g)
        d_params, d_aux = _split(state.d)
        rngs = {"dropout": step_key(state)}

        fake_b, g_vjp, g_aux = jax.vjp(lambda p: _apply(self.G, p, g_aux, real_a, train=True, rngs=rngs), g_params,
                                       has_aux=True)
        pair = lambda b: jnp.concatenate([real_a, b.astype(real_a.dtype)], axis=-1)

        def d_loss_fn(params):
            pred_fake, aux = _apply(self.D, params, d_aux, pair(jax.lax.stop_gradient(fake_b)), train=True)
            pred_real, aux = _apply(self.D, params, aux, pair(real_b), train=True)
            loss_fake, loss_real = gan_loss(pred_fake, False, mode), gan_loss(pred_real, True, mode)
            return 0.5 * (loss_fake + loss_real), (aux, loss_real, loss_fake)

        (_, (d_aux, loss_real, loss_fake)), d_grads = jax.value_and_grad(d_loss_fn, has_aux=True)(d_params)
        d_params, d_opt = self._update(d_params, state.d_opt, d_grads, lr)

        def g_loss_fn(fake):
            pred, aux = _apply(self.D, d_params, d_aux, pair(fake), train=True)
            g_gan = gan_loss(pred, True, mode, for_discriminator=False)
            g_l1 = lambda_l1 * jnp.mean(jnp.abs(fake.astype(jnp.float32) - real_b.astype(jnp.float32)))
            return g_gan + g_l1, (aux, g_gan, g_l1)

        (_, (d_aux, g_gan, g_l1)), d_fake = jax.value_and_grad(g_loss_fn, has_aux=True)(fake_b)
        g_params, g_opt = self._update(g_params, state.g_opt, g_vjp(d_fake)[0], lr)
        state = state.replace(step=state.step + 1, g={"params": g_params, **g_aux}, d={"params": d_params, **d_aux},
                              g_opt=g_opt, d_opt=d_opt)
        return state, {"G_GAN": g_gan, "G_L1": g_l1, "D_real": loss_real, "D_fake": loss_fake, "lr": lr}

    # ------------------------------------------------------------ translate
    def translate(self, g: Any, inputs: Array) -> Array:
        """G's outputs for `inputs` in [-1, 1] in config.model.sample_mode:
        'eval' with BatchNorm's running statistics and no dropout; 'train' each
        image alone in training mode (its own statistics, dropout from a key
        fixed by config.seed and the image's place), as the reference's
        test.py at batch 1 without --eval."""
        if self.config.model.sample_mode == "eval":
            # float32 outputs whatever config.dtype is (the grids, the evaluator and the npz take them as such).
            return self.G.apply(g, inputs, train=False).astype(jnp.float32)
        params, aux = _split(g)
        key = jax.random.fold_in(jax.random.key(self.config.seed), 3)

        def one(x, i):
            out, _ = _apply(self.G, params, aux, x[None], train=True, rngs={"dropout": jax.random.fold_in(key, i)})
            return out[0]

        return jax.vmap(one)(inputs, jnp.arange(inputs.shape[0])).astype(jnp.float32)

    def held_out(self, num: int | None) -> tuple[np.ndarray, np.ndarray]:
        """The first `num` pairs of config.eval.split (of config.data.split
        when that split does not exist)."""
        from jaxgan.data import paired

        try:
            return paired.held_out(self.config.data, self.config.eval.split, num)
        except FileNotFoundError as e:
            logging.warning("%s; the sample grids show training pairs (config.data.split)", e)
            return paired.held_out(self.config.data, self.config.data.split, num)

    def grid_inputs(self, key: Array, num: int) -> dict[str, Array]:
        del key  # the grid shows held-out pairs, not random draws
        inputs, targets = self.held_out(num)
        return {"input": jnp.asarray(inputs), "image": jnp.asarray(targets)}

    def sample_grid(self, state: Pix2PixState, inputs: dict[str, Array]) -> Array:
        """[3N, H, W, C]: input, output, target of each pair in turn."""
        c = self.image_shape[-1]
        out = self.translate(state.g, inputs["input"])
        triplets = jnp.stack([_as_channels(inputs["input"], c), out, inputs["image"]], axis=1)
        return jnp.clip(triplets.reshape(-1, *triplets.shape[2:]), -1.0, 1.0)

    def evaluator(self, workdir: str, mesh: Any):
        """state -> {'l1': mean |G(A) - B| over the first eval.num_samples
        pairs of eval.split}, in the units of the reference's L1 ([-1, 1]
        pixels, before lambda_L1)."""
        translate = jax.jit(self.translate)
        batch = int(self.config.eval.batch_size)

        def evaluate(state: Pix2PixState) -> dict[str, float]:
            if self._held_out is None:
                self._held_out = self.held_out(self.config.eval.num_samples)
            inputs, targets = self._held_out
            total = 0.0
            for i in range(0, len(inputs), batch):
                out = np.asarray(translate(state.g, inputs[i:i + batch]))
                total += float(np.abs(out - targets[i:i + batch]).sum(dtype=np.float64))
            return {"l1": total / targets.size}

        return evaluate

    # ------------------------------------------------------- --mode sample
    @classmethod
    def write_samples(cls, config: Any, workdir: str, num: int | None = None, *, sample_format: str = "grid",
                      batch_size: int | None = None, step: int | None = None) -> str:
        """`--mode sample`: G's translations of the first `num` held-out
        inputs (config.eval.split) as one PNG grid of (input, output, target)
        in samples/, one PNG per output in samples/<step>/, or one .npz of
        uint8 outputs 'x'."""
        from jaxgan import pictures, train

        check_sample_format(sample_format)
        trainer, _, state = train.restore_latest(config, workdir, step)
        num = num or (config.samples.num if sample_format == "grid" else config.eval.num_samples)
        inputs, targets = trainer.held_out(num)
        batch_size = batch_size or config.eval.batch_size
        draw = jax.jit(trainer.sample_grid if sample_format == "grid" else trainer.translate)
        parts = []
        for i in range(0, len(inputs), batch_size):
            arg = ({"input": inputs[i:i + batch_size], "image": targets[i:i + batch_size]}
                   if sample_format == "grid" else inputs[i:i + batch_size])
            parts.append(pictures.to_uint8(draw(state if sample_format == "grid" else state.g, arg)))
        return write_image_samples(config, workdir, int(state.step), np.concatenate(parts), sample_format,
                                   "translation", cls.grid_columns)
