"""Trainer of CycleGAN (`trainer = "cyclegan"`): unpaired image-to-image
translation with two generators and two discriminators, as the reference
trains it (junyanz/pytorch-CycleGAN-and-pix2pix, models/cycle_gan_model.py,
util/image_pool.py), with CSGAN's cycle-synthesized loss as a switch.

G_A translates A to B and G_B B to A; D_A judges B images (real B against
G_A's fakes), D_B judges A images. A step, on a batch of A images (batch key
"input") and B images ("image"), all networks in training mode:
1. forward, as the reference's: fake_B = G_A(A), rec_A = G_B(fake_B),
   fake_A = G_B(B), rec_B = G_A(fake_A);
2. G update (both generators, one Adam over their parameters; the Ds are
   not updated): loss_G = G_A + G_B + cycle_A + cycle_B + idt_A + idt_B
   (+ cycle_synth_A + cycle_synth_B), with
   G_A = GAN(D_A(fake_B), real), G_B = GAN(D_B(fake_A), real),
   cycle_A = lambda_A * mean |rec_A - A|, cycle_B = lambda_B * mean |rec_B - B|,
   idt_A = lambda_B * lambda_identity * mean |G_A(B) - B|,
   idt_B = lambda_A * lambda_identity * mean |G_B(A) - A| (0 when
   lambda_identity is 0; it needs as many A channels as B channels);
3. D update (both discriminators, one Adam over their parameters), with the
   Ds' parameters of before step 2's update (the reference steps the G
   optimizer between, which does not touch them) and the fakes of step 1
   detached and passed through the image pools: D_A = 0.5 * (GAN(D_A(B),
   real) + GAN(D_A(pool_B(fake_B)), fake)), D_B = 0.5 * (GAN(D_B(A), real) +
   GAN(D_B(pool_A(fake_A)), fake)).
Norm layers with running statistics ('batch') update them per call in the
reference's call order (the Ds' in the G loss too, as torch's do with
requires_grad off); dropout (off by default) draws a fresh mask per call.

GAN losses: jaxgan.trainers.pix2pix.gan_loss (`loss.gan_mode`; CycleGAN's
default 'lsgan', mean squares against 1 or 0).

CSGAN (Kancharagunta & Dubey, "CSGAN: Cyclic-Synthesized Generative
Adversarial Networks for Image-to-Image Transformation"): `loss.lambda_cs` >
0 adds the cycle-synthesized losses, L1 between an image synthesized from the
other domain and the reconstruction of the same domain:
cycle_synth_A = lambda_cs * mean |G_B(B) - G_B(G_A(A))| = mean |fake_A - rec_A|,
cycle_synth_B = lambda_cs * mean |G_A(A) - G_A(G_B(B))| = mean |fake_B - rec_B|,
both sides differentiated (neither is detached). The paper's code uses 30; 0
(the default) is the reference CycleGAN. It assumes the batch's A and B
correspond (paired data); on unpaired batches it pulls each translation
towards a random other image's.

The image pool (`train.pool_size`, 50; 0: none) is part of the state, a
history of each G's fakes that D trains on: per image of the batch, in
order (a lax.scan), while fewer than pool_size are stored the image is
stored and returned; once full, with probability 0.5 a uniformly drawn stored
image is returned and the new one takes its slot, else the new image is
returned. The draws come from the step's key (jaxgan.state.step_key), so a
resumed run draws what an uninterrupted one would (`query_pool`).

Metrics by the reference's names: D_A, G_A, cycle_A, idt_A, D_B, G_B,
cycle_B, idt_B (the weighted losses above), lr, and cycle_synth_A /
cycle_synth_B with lambda_cs > 0.

Adam (b1, b2, eps as torch's) at pix2pix's `learning_rate` (constant, then
linear decay per epoch; jaxgan/configs/cyclegan.py). Translations
(evaluation, grids, --mode sample) run the networks in eval mode; with the
default instance norm and no dropout that equals the reference's test.py
(training mode). Evaluation on the held-out images (config.eval.split):
`cycle_l1` = mean |G_B(G_A(A)) - A| and `cycle_l1_B` = mean |G_A(G_B(B)) - B|;
where the held-out B image is A's truth (every source but 'unaligned':
thick_digits' thickened digits, the pairs of a paired source) also `l1` =
mean |G_A(A) - B| (picks best/, lower is better) and `l1_BtoA` = mean
|G_B(B) - A|, in [-1, 1] pixel units. Sample grids: per held-out example the
reference's visuals real_A, fake_B, rec_A, real_B, fake_A, rec_B, two
examples a row.
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
from jaxgan.trainers.pix2pix import GAN_MODES, _apply, _as_channels, _split, adam_update, gan_loss, learning_rate
from jaxgan.trainers.protocol import BestMetric, Phase

Array = jax.Array
LOSS_NAMES = ("D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B")


@flax.struct.dataclass
class ImagePool:
    """The reference's ImagePool as arrays: `images` [pool_size, H, W, C]
    (slots past `count` are zeros) and `count`, how many are stored."""

    images: jax.Array
    count: jax.Array


@flax.struct.dataclass
class CycleGANState:
    """{step, rng} (the loop's), the four networks as flax variable dicts, one
    Adam state over both Gs' parameters ({'g_a', 'g_b'}) and one over both Ds'
    ({'d_a', 'd_b'}), as the reference's two optimizers, and the pools of
    G_B's fakes (A images, for D_B) and of G_A's (B images, for D_A)."""

    step: jax.Array
    rng: jax.Array
    g_a: Any
    g_b: Any
    d_a: Any
    d_b: Any
    g_opt: Any
    d_opt: Any
    fake_a_pool: ImagePool
    fake_b_pool: ImagePool


def empty_pool(pool_size: int, shape: tuple[int, ...]) -> ImagePool:
    return ImagePool(images=jnp.zeros((pool_size, *shape), jnp.float32), count=jnp.zeros((), jnp.int32))


def pool_draws(key: Array, i: Array | int, pool_size: int) -> tuple[Array, Array]:
    """(p, slot) of the batch's i-th image: p uniform in [0, 1) (a stored
    image is returned when p > 0.5, as the reference's), slot uniform in
    [0, pool_size); drawn for every image, used once the pool is full."""
    k = jax.random.fold_in(key, i)
    return (jax.random.uniform(jax.random.fold_in(k, 0)),
            jax.random.randint(jax.random.fold_in(k, 1), (), 0, pool_size))


def query_pool(pool: ImagePool, images: Array, key: Array) -> tuple[ImagePool, Array]:
    """The reference's ImagePool.query on a batch [N, H, W, C]: (the pool
    after it, the N images D sees); see the module docstring."""
    pool_size = pool.images.shape[0]
    if pool_size == 0:
        return pool, images

    def one(carry, xs):
        stored, count = carry
        image, i = xs
        p, slot = pool_draws(key, i, pool_size)
        filling = count < pool_size
        swap = jnp.logical_and(jnp.logical_not(filling), p > 0.5)
        at = jnp.where(filling, jnp.minimum(count, pool_size - 1), slot)
        out = jnp.where(swap, stored[slot], image)
        stored = stored.at[at].set(jnp.where(jnp.logical_or(filling, swap), image, stored[at]))
        return (stored, count + filling.astype(count.dtype)), out

    images = images.astype(pool.images.dtype)
    (stored, count), out = jax.lax.scan(one, (pool.images, pool.count), (images, jnp.arange(images.shape[0])))
    return ImagePool(stored, count), out


def pool_key(state: CycleGANState, pool: str) -> Array:
    """The key of the draws of `pool` ('fake_a_pool' or 'fake_b_pool') in the
    step that `state` is about to take."""
    return jax.random.fold_in(step_key(state), {"fake_b_pool": 1, "fake_a_pool": 2}[pool])


def _l1(x: Array, y: Array) -> Array:
    return jnp.mean(jnp.abs(x.astype(jnp.float32) - y.astype(jnp.float32)))


class CycleGANTrainer(TranslationSampleFlags):
    """See the module docstring; the protocol is jaxgan/trainers/protocol.py
    (--mode sample's flags: TranslationSampleFlags)."""

    grid_name = "translations"
    grid_columns = 12  # two examples a row, each (real_A, fake_B, rec_A, real_B, fake_A, rec_B)
    grid_text = None  # the grid is images
    best_metric: BestMetric | None = BestMetric("l1", higher_is_better=False)

    def __init__(self, config: Any, mesh: Any = None):
        self.config = config
        m, d, loss = config.model, config.data, config.loss
        if m.arch != "cyclegan":
            raise ValueError(f"config.model.arch must be 'cyclegan' for the cyclegan trainer, got {m.arch!r}")
        if loss.gan_mode not in GAN_MODES:
            raise ValueError(f"config.loss.gan_mode must be one of {GAN_MODES}, got {loss.gan_mode!r}")
        if config.dtype != "float32":
            raise ValueError(f"config.dtype: the cyclegan networks compute in float32, got {config.dtype!r}")
        for name in ("lambda_A", "lambda_B", "lambda_identity", "lambda_cs"):
            if loss[name] < 0:
                raise ValueError(f"config.loss.{name} must be >= 0, got {loss[name]}")
        if loss.lambda_identity > 0 and int(d.input_channels) != int(d.channels):
            raise ValueError(f"config.loss.lambda_identity > 0 feeds B images to G_A (and A to G_B): it needs "
                             f"config.data.input_channels == channels, got {d.input_channels} and {d.channels}")
        if config.train.pool_size < 0:
            raise ValueError(f"config.train.pool_size must be >= 0 (0: no pool), got {config.train.pool_size}")
        o, n = config.optim, config.train.num_steps
        if o.epoch_steps < 1 or not 0 <= o.decay_steps <= n:
            raise ValueError(f"config.optim.epoch_steps must be >= 1 and optim.decay_steps in [0, train.num_steps="
                             f"{n}], got {o.epoch_steps} and {o.decay_steps}")
        size = int(d.image_size)
        self.input_shape = (size, size, int(d.input_channels))  # domain A
        self.image_shape = (size, size, int(d.channels))  # domain B
        self.G_A = networks.define_G(output_nc=self.image_shape[-1], **m.g)
        self.G_B = networks.define_G(output_nc=self.input_shape[-1], **m.g)
        self.D = networks.define_D(**m.d)  # D_A and D_B: one architecture, their own parameters
        self.tx = optax.scale_by_adam(b1=o.b1, b2=o.b2, eps=o.eps)
        # Unaligned folders have no truth for an A image: no l1, so no best/.
        self.has_truth = d.source != "unaligned"
        self.best_metric = type(self).best_metric if self.has_truth else None
        self._held_out = None

    # ------------------------------------------------------------ protocol
    def phases(self) -> list[Phase]:
        return [Phase("cyclegan", self.config.train.num_steps, self.train_step, ("input", "image"))]

    def check_data(self, data: Any) -> None:
        shapes = (tuple(getattr(data, "input_shape", None) or ()), tuple(data.image_shape))
        if not shapes[0]:
            raise ValueError(f"config.data.source {self.config.data.source!r} gives no domain-A images; cyclegan "
                             "needs two domains ('unaligned', 'thick_digits')")
        if shapes != (self.input_shape, self.image_shape):
            raise ValueError(f"config.data gives A images {shapes[0]} and B images {shapes[1]}, the model is built "
                             f"for {self.input_shape} and {self.image_shape} (data.image_size, input_channels, "
                             "channels)")

    def param_counts(self, state: CycleGANState) -> dict[str, int]:
        return {name: count_params(getattr(state, name)["params"]) for name in ("g_a", "g_b", "d_a", "d_b")}

    def init_state(self, key: Array) -> CycleGANState:
        kga, kgb, kda, kdb, kr = jax.random.split(key, 5)
        a, b = jnp.zeros((1, *self.input_shape)), jnp.zeros((1, *self.image_shape))
        g_a, g_b = dict(self.G_A.init(kga, a, train=False)), dict(self.G_B.init(kgb, b, train=False))
        d_a, d_b = dict(self.D.init(kda, b, train=False)), dict(self.D.init(kdb, a, train=False))
        pool = int(self.config.train.pool_size)
        return CycleGANState(
            step=jnp.zeros((), jnp.int32), rng=jax.random.key_data(kr), g_a=g_a, g_b=g_b, d_a=d_a, d_b=d_b,
            g_opt=self.tx.init({"g_a": g_a["params"], "g_b": g_b["params"]}),
            d_opt=self.tx.init({"d_a": d_a["params"], "d_b": d_b["params"]}),
            fake_a_pool=empty_pool(pool, self.input_shape), fake_b_pool=empty_pool(pool, self.image_shape))

    # ---------------------------------------------------------------- step
    def learning_rate(self, step: Array) -> Array:
        return learning_rate(self.config.optim, self.config.train.num_steps, step)

    def _update(self, params, opt_state, grads, lr):
        return adam_update(self.tx, params, opt_state, grads, lr)

    def train_step(self, state: CycleGANState, batch: dict[str, Array]) -> tuple[CycleGANState, dict[str, Array]]:
        """batch: {'input': [1, B, H, W, C_A] (domain A), 'image': [1, B, H, W, C_B] (domain B)}."""
        loss = self.config.loss
        mode = loss.gan_mode
        real_a, real_b = batch["input"][0], batch["image"][0]
        lr = self.learning_rate(state.step)
        key = step_key(state)
        params, aux = {}, {}
        for name in ("g_a", "g_b", "d_a", "d_b"):
            params[name], aux[name] = _split(getattr(state, name))
        nets = {"g_a": self.G_A, "g_b": self.G_B, "d_a": self.D, "d_b": self.D}

        def g_loss_fn(g_params):
            auxes = dict(aux)
            calls = []

            def run(name, x, p=None):
                # A fresh dropout key per call (the reference draws a new mask each time); statistics in call order.
                rngs = {"dropout": jax.random.fold_in(jax.random.fold_in(key, 0), len(calls))}
                calls.append(name)
                p = g_params[name] if p is None else p
                out, auxes[name] = _apply(nets[name], p, auxes[name], x, train=True, rngs=rngs)
                return out

            fake_b = run("g_a", real_a)
            rec_a = run("g_b", fake_b)
            fake_a = run("g_b", real_b)
            rec_b = run("g_a", fake_a)
            losses = {}
            if loss.lambda_identity > 0:
                losses["idt_A"] = _l1(run("g_a", real_b), real_b) * loss.lambda_B * loss.lambda_identity
                losses["idt_B"] = _l1(run("g_b", real_a), real_a) * loss.lambda_A * loss.lambda_identity
            else:
                losses["idt_A"] = losses["idt_B"] = jnp.zeros((), jnp.float32)
            losses["G_A"] = gan_loss(run("d_a", fake_b, params["d_a"]), True, mode, for_discriminator=False)
            losses["G_B"] = gan_loss(run("d_b", fake_a, params["d_b"]), True, mode, for_discriminator=False)
            losses["cycle_A"] = _l1(rec_a, real_a) * loss.lambda_A
            losses["cycle_B"] = _l1(rec_b, real_b) * loss.lambda_B
            if loss.lambda_cs > 0:
                losses["cycle_synth_A"] = _l1(fake_a, rec_a) * loss.lambda_cs
                losses["cycle_synth_B"] = _l1(fake_b, rec_b) * loss.lambda_cs
            return sum(losses.values()), (losses, auxes, fake_a, fake_b)

        g_params = {"g_a": params["g_a"], "g_b": params["g_b"]}
        (_, (losses, aux, fake_a, fake_b)), g_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(g_params)
        g_params, g_opt = self._update(g_params, state.g_opt, g_grads, lr)

        # The reference queries fake_B_pool (for D_A) first; each pool has its own key here.
        fake_b_pool, pooled_b = query_pool(state.fake_b_pool, jax.lax.stop_gradient(fake_b),
                                           pool_key(state, "fake_b_pool"))
        fake_a_pool, pooled_a = query_pool(state.fake_a_pool, jax.lax.stop_gradient(fake_a),
                                           pool_key(state, "fake_a_pool"))

        def d_loss_fn(d_params):
            auxes = dict(aux)

            def d_loss(name, real, fake):
                pred_real, auxes[name] = _apply(self.D, d_params[name], auxes[name], real, train=True)
                pred_fake, auxes[name] = _apply(self.D, d_params[name], auxes[name], fake, train=True)
                return 0.5 * (gan_loss(pred_real, True, mode) + gan_loss(pred_fake, False, mode))

            d_losses = {"D_A": d_loss("d_a", real_b, pooled_b), "D_B": d_loss("d_b", real_a, pooled_a)}
            return d_losses["D_A"] + d_losses["D_B"], (d_losses, auxes)

        d_params = {"d_a": params["d_a"], "d_b": params["d_b"]}
        (_, (d_losses, aux)), d_grads = jax.value_and_grad(d_loss_fn, has_aux=True)(d_params)
        d_params, d_opt = self._update(d_params, state.d_opt, d_grads, lr)

        new = {name: {"params": {**g_params, **d_params}[name], **aux[name]} for name in ("g_a", "g_b", "d_a", "d_b")}
        state = state.replace(step=state.step + 1, g_opt=g_opt, d_opt=d_opt, fake_a_pool=fake_a_pool,
                              fake_b_pool=fake_b_pool, **new)
        metrics = {name: ({**losses, **d_losses})[name] for name in LOSS_NAMES}
        metrics.update({k: v for k, v in losses.items() if k.startswith("cycle_synth")}, lr=lr)
        return state, metrics

    # ------------------------------------------------------------ translate
    def translate(self, g: Any, inputs: Array, direction: str = "AtoB") -> Array:
        """G_A's (AtoB) or G_B's (BtoA) translations of `inputs` in [-1, 1],
        in eval mode; `g` the generator's variables (state.g_a or state.g_b)."""
        return (self.G_A if direction == "AtoB" else self.G_B).apply(g, inputs, train=False)

    def cycle(self, state: CycleGANState, a: Array, b: Array) -> dict[str, Array]:
        """{fake_B, rec_A, fake_A, rec_B} of held-out A and B images, in eval mode."""
        fake_b = self.translate(state.g_a, a)
        fake_a = self.translate(state.g_b, b, "BtoA")
        return {"fake_B": fake_b, "rec_A": self.translate(state.g_b, fake_b, "BtoA"), "fake_A": fake_a,
                "rec_B": self.translate(state.g_a, fake_a)}

    def held_out(self, num: int | None, split: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(A, B) float32 [N, H, W, C] of the first `num` held-out images of
        `split` (default config.eval.split; config.data.split when that
        split does not exist): B is A's truth where `has_truth`."""
        data = self.config.data
        try:
            return self._held_out_arrays(split or self.config.eval.split, num)
        except FileNotFoundError as e:
            if split is not None:
                raise
            logging.warning("%s; the sample grids show training images (config.data.split)", e)
            return self._held_out_arrays(data.split, num)

    def _held_out_arrays(self, split: str, num: int | None) -> tuple[np.ndarray, np.ndarray]:
        from jaxgan.data import paired, thick_digits, unaligned, with_defaults

        data = with_defaults(self.config.data, **paired.PAIRED_DEFAULTS)
        if data.source == "thick_digits":
            arrays = thick_digits.held_out(data, split, num)
        elif data.source == "unaligned":
            arrays = unaligned.held_out(data, split, num)
        else:
            arrays = paired.held_out_arrays(data, split, num)
        return np.asarray(arrays["input"], np.float32), np.asarray(arrays["image"], np.float32)

    def grid_inputs(self, key: Array, num: int) -> dict[str, Array]:
        del key  # the grid shows held-out images, not random draws
        a, b = self.held_out(num)
        return {"input": jnp.asarray(a), "image": jnp.asarray(b)}

    def sample_grid(self, state: CycleGANState, inputs: dict[str, Array]) -> Array:
        """[6N, H, W, C]: real_A, fake_B, rec_A, real_B, fake_A, rec_B of each
        held-out example in turn (grey shown as RGB where the domains differ)."""
        a, b = inputs["input"], inputs["image"]
        out = self.cycle(state, a, b)
        c = max(a.shape[-1], b.shape[-1])
        tiles = [a, out["fake_B"], out["rec_A"], b, out["fake_A"], out["rec_B"]]
        six = jnp.stack([_as_channels(t.astype(jnp.float32), c) for t in tiles], axis=1)
        return jnp.clip(six.reshape(-1, *six.shape[2:]), -1.0, 1.0)

    def evaluator(self, workdir: str, mesh: Any):
        """state -> {'cycle_l1', 'cycle_l1_B'} (+ {'l1', 'l1_BtoA'} where
        the held-out B is A's truth) over the first eval.num_samples
        held-out images of eval.split (module docstring)."""
        cycle = jax.jit(self.cycle)
        batch = int(self.config.eval.batch_size)

        def evaluate(state: CycleGANState) -> dict[str, float]:
            if self._held_out is None:
                self._held_out = self.held_out(self.config.eval.num_samples)
            a, b = self._held_out
            sums = dict.fromkeys(("l1", "cycle_l1", "l1_BtoA", "cycle_l1_B"), 0.0)
            for i in range(0, len(a), batch):
                ai, bi = a[i:i + batch], b[i:i + batch]
                out = {k: np.asarray(v) for k, v in cycle(state, ai, bi).items()}
                for name, x, y in (("l1", out["fake_B"], bi), ("cycle_l1", out["rec_A"], ai),
                                   ("l1_BtoA", out["fake_A"], ai), ("cycle_l1_B", out["rec_B"], bi)):
                    sums[name] += float(np.abs(x - y).sum(dtype=np.float64))
            scores = {k: v / (a.size if k in ("cycle_l1", "l1_BtoA") else b.size) for k, v in sums.items()}
            if not self.has_truth:
                del scores["l1"], scores["l1_BtoA"]
            return scores

        return evaluate

    # ------------------------------------------------------- --mode sample
    @classmethod
    def write_samples(cls, config: Any, workdir: str, num: int | None = None, *, sample_format: str = "grid",
                      batch_size: int | None = None, step: int | None = None) -> str:
        """`--mode sample`: the first `num` held-out examples (config.eval.split)
        as one PNG grid of (real_A, fake_B, rec_A, real_B, fake_A, rec_B) in
        samples/, or G_A's translations of their A images as one PNG each in
        samples/<step>/ or one .npz of uint8 images 'x' (B to A: python -m
        jaxgan.translate --direction BtoA)."""
        from jaxgan import pictures, train

        check_sample_format(sample_format)
        trainer, _, state = train.restore_latest(config, workdir, step)
        num = num or (config.samples.num if sample_format == "grid" else config.eval.num_samples)
        a, b = trainer.held_out(num)
        batch_size = batch_size or config.eval.batch_size
        grid, translate = jax.jit(trainer.sample_grid), jax.jit(trainer.translate)
        parts = []
        for i in range(0, len(a), batch_size):
            if sample_format == "grid":
                out = grid(state, {"input": a[i:i + batch_size], "image": b[i:i + batch_size]})
            else:
                out = translate(state.g_a, a[i:i + batch_size])
            parts.append(pictures.to_uint8(out))
        return write_image_samples(config, workdir, int(state.step), np.concatenate(parts), sample_format,
                                   "translation", cls.grid_columns)
