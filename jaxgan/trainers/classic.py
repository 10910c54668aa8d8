"""Trainer of the classic unconditional GANs (`trainer = "classic"`): DCGAN,
LSGAN, WGAN, WGAN-GP, BEGAN and EBGAN, chosen by `config.loss.name`, on the
networks of `config.model.arch` (jaxgan/configs/classic.py lists both).

A step is one generator update, as the references count iterations:
- dcgan, lsgan, wgan, wgan_gp, ebgan: `num_d_steps` discriminator (critic)
  updates, each on its own real batch and fresh fakes, then one G update on
  fresh z. D sees the real and the fake batch in two calls, as the
  references run it (its BatchNorm normalises each by itself); G runs in
  train mode (batch statistics) throughout, as in the references.
  - wgan: at the start of every critic update all critic parameters
    (BatchNorm's scale and bias included, as torch's `netD.parameters()`)
    are clamped to [-clip, clip]; `train.warmup_d_steps` critic updates
    instead of `num_d_steps` in the first `train.warmup_until` G steps and
    every `train.warmup_every`-th (the reference: 100, 25 and 500; the
    first G step of each such stretch counts from 0 like `gen_iterations`).
    The metric `d_clip_max` is the largest |parameter| at the start of a
    critic update.
  - wgan_gp: the gradient penalty (weight `loss.gp_weight`) at random
    interpolates of the real and the fake batch.
  - ebgan: D is an autoencoder; the energy of an image is its mean squared
    reconstruction error; D minimises E(real) + max(0, margin - E(fake)),
    G minimises E(fake) + pt_weight * the pulling-away term of D's
    embeddings of the fakes.
- began: D and G update together from one forward pass on one real batch
  (as the reference's two optimizers, both computed at the same parameters):
  L(v) = mean |D(v) - v|; D minimises L(x) - k L(G(z)), G minimises
  L(G(z)); then k <- clip(k + lambda_k (gamma L(x) - L(G(z))), 0, 1). k is
  in the state (it resumes); the metrics log k and the convergence measure
  M = L(x) + |gamma L(x) - L(G(z))|.
Learning rates follow the G step count (`optim.*.schedule`), so the D
updates of a step share their G step's rate as in the WGAN-GP reference.
Sign convention: the critic scores reals high (the WGAN reference's critic
scores them low; the losses are the same up to that sign).
"""

from __future__ import annotations

import logging
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan import losses, parallel
from jaxgan.eval.generated import ImageEvaluator
from jaxgan.models import wgan_gp
from jaxgan.models.began import BEGANDecoder, BEGANDiscriminator
from jaxgan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from jaxgan.models.ebgan import EBGANDiscriminator
from jaxgan.state import count_params, step_key
from jaxgan.trainers import check_sample_format, define_image_sample_flags, write_image_samples
from jaxgan.trainers.protocol import BestMetric, Phase

Array = jax.Array


@flax.struct.dataclass
class ClassicState:
    """{step, rng} (the loop's), G and D as flax variable dicts, their
    optimizer states, and BEGAN's k (0 for the other objectives)."""

    step: jax.Array
    rng: jax.Array
    g: Any
    d: Any
    g_opt: Any
    d_opt: Any
    k: jax.Array


# arch -> (model config, image channels) -> (G, D). The WGAN-GP reference's
# networks have their sizes built in (MNIST 28x28x1, CIFAR 32x32x3, 64x64x3).
ARCHS = {
    "dcgan": lambda m, c: (DCGANGenerator(m.resolution, m.z_dim, c, **m.g), DCGANDiscriminator(m.resolution, **m.d)),
    "began": lambda m, c: (BEGANDecoder(m.resolution, m.z_dim, channels=c, **m.g),
                           BEGANDiscriminator(m.resolution, m.z_dim, **m.d)),
    "ebgan": lambda m, c: (DCGANGenerator(m.resolution, m.z_dim, c, **m.g), EBGANDiscriminator(m.resolution, **m.d)),
    "wgan_gp_mnist": lambda m, c: (wgan_gp.WGANGPMNISTGenerator(z_dim=m.z_dim, **m.g),
                                   wgan_gp.WGANGPMNISTCritic(**m.d)),
    "wgan_gp_resnet32": lambda m, c: (wgan_gp.WGANGPResNet32Generator(z_dim=m.z_dim, **m.g),
                                      wgan_gp.WGANGPResNet32Critic(**m.d)),
    "wgan_gp_resnet64": lambda m, c: (wgan_gp.WGANGPResNet64Generator(z_dim=m.z_dim, **m.g),
                                      wgan_gp.WGANGPResNet64Critic(**m.d)),
}
OBJECTIVES = ("dcgan", "lsgan", "wgan", "wgan_gp", "began", "ebgan")
AUTOENCODER_OBJECTIVES = ("began", "ebgan")
# The critic losses of jaxgan.losses each objective uses.
CRITIC_LOSSES = {"dcgan": "non_saturating", "lsgan": "least_squares", "wgan": "wasserstein",
                 "wgan_gp": "wasserstein"}


def build_models(config: Any):
    """(G, D) flax modules from config.model and config.data.channels."""
    if config.model.arch not in ARCHS:
        raise ValueError(f"unknown config.model.arch {config.model.arch!r}; choose one of {sorted(ARCHS)}")
    return ARCHS[config.model.arch](config.model, config.data.channels)


def learning_rate(opt: Any, step: Array, num_steps: int) -> Array:
    """`opt.lr` at G step `step` (0-based): 'constant'; 'linear' to 0 at
    num_steps (WGAN-GP's ResNet scripts); 'halving' every `opt.halve_every`
    steps down to `opt.min_lr` (BEGAN's reference)."""
    step = jnp.asarray(step, jnp.float32)
    if opt.schedule == "constant":
        return jnp.asarray(opt.lr, jnp.float32)
    if opt.schedule == "linear":
        return opt.lr * jnp.maximum(0.0, 1.0 - step / num_steps)
    if opt.schedule == "halving":
        return jnp.maximum(opt.lr * 0.5 ** jnp.floor(step / opt.halve_every), opt.min_lr)
    raise ValueError(f"optim schedule must be 'constant', 'linear' or 'halving', got {opt.schedule!r}")


def make_optimizer(opt: Any) -> optax.GradientTransformation:
    """The update direction at learning rate 1 (the trainer scales it by
    `learning_rate`): 'adam' (b1, b2, eps) or 'rmsprop' as torch's (b2 is its
    alpha, the squared gradients' decay; eps added outside the square root)."""
    if opt.name == "adam":
        return optax.scale_by_adam(b1=opt.b1, b2=opt.b2, eps=opt.eps)
    if opt.name == "rmsprop":
        return optax.scale_by_rms(decay=opt.b2, eps=opt.eps, eps_in_sqrt=False)
    raise ValueError(f"optim name must be 'adam' or 'rmsprop', got {opt.name!r}")


def _apply(module, params, aux: dict, *args, **kwargs):
    """(output, aux') of a train-mode call; aux: the non-param collections."""
    if not aux:
        return module.apply({"params": params}, *args, **kwargs), aux
    return module.apply({"params": params, **aux}, *args, mutable=list(aux), **kwargs)


def _split(variables: dict) -> tuple[Any, dict]:
    return variables["params"], {c: v for c, v in variables.items() if c != "params"}


def _step(tx, opt_state, params, grads, lr):
    direction, opt_state = tx.update(grads, opt_state, params)
    return jax.tree_util.tree_map(lambda p, u: p - lr * u, params, direction), opt_state


def reconstruction_energy(recon: Array, x: Array) -> Array:
    """EBGAN's energy: the mean squared reconstruction error of each image [B]."""
    return jnp.mean(jnp.square(recon.astype(jnp.float32) - x.astype(jnp.float32)), axis=(1, 2, 3))


def pulling_away(embeddings: Array) -> Array:
    """EBGAN's pulling-away term: mean squared cosine similarity of distinct pairs."""
    s = embeddings.reshape(embeddings.shape[0], -1).astype(jnp.float32)
    s = s / jnp.maximum(jnp.linalg.norm(s, axis=1, keepdims=True), 1e-12)
    n = s.shape[0]
    return (jnp.sum(jnp.square(s @ s.T)) - n) / (n * (n - 1))


class ClassicTrainer:
    """See the module docstring; the protocol is jaxgan/trainers/protocol.py."""

    grid_name = "samples"
    grid_columns = None
    grid_text = None  # the grid is images
    best_metric = BestMetric("fid")

    def __init__(self, config: Any, mesh: Any = None):
        self.config = config
        self.objective = config.loss.name
        if self.objective not in OBJECTIVES:
            raise ValueError(f"unknown config.loss.name {self.objective!r}; choose one of {list(OBJECTIVES)}")
        self.G, self.D = build_models(config)
        self.z_dim = self.G.z_dim
        if config.model.z_dist not in ("normal", "uniform"):
            raise ValueError(f"config.model.z_dist must be 'normal' or 'uniform', got {config.model.z_dist!r}")
        g_shapes = jax.eval_shape(self.G.init, jax.random.key(0), jnp.zeros((2, self.z_dim)))
        self.image_shape = tuple(jax.eval_shape(
            lambda v, z: _apply(self.G, *_split(v), z)[0], g_shapes, jnp.zeros((2, self.z_dim))).shape[1:])
        d_shapes = jax.eval_shape(self.D.init, jax.random.key(0), jnp.zeros((2, *self.image_shape)))
        d_out = jax.eval_shape(lambda v, x: _apply(self.D, *_split(v), x)[0], d_shapes,
                               jnp.zeros((2, *self.image_shape)))
        autoencoder = isinstance(d_out, tuple)
        if autoencoder != (self.objective in AUTOENCODER_OBJECTIVES):
            raise ValueError(f"config.loss.name {self.objective!r} needs "
                             f"{'an autoencoder' if not autoencoder else 'a critic'} discriminator; "
                             f"config.model.arch {config.model.arch!r} has "
                             f"{'an autoencoder' if autoencoder else 'a critic'}")
        if self.objective == "wgan_gp" and "batch_stats" in d_shapes:
            raise ValueError(f"WGAN-GP penalises each image's gradient, which BatchNorm in the critic couples "
                             f"across the batch: config.model.arch {config.model.arch!r} has BatchNorm in D")
        t = config.train
        if self.objective == "began" and (t.num_d_steps != 1 or t.warmup_d_steps):
            raise ValueError("began updates D and G together: train.num_d_steps must be 1 and "
                             "train.warmup_d_steps 0")
        self._batch_sharding = None
        if mesh is not None and mesh.devices.size > 1:
            if t.batch_size % mesh.devices.size == 0:
                self._batch_sharding = parallel.batch_sharding(mesh)
            else:
                logging.warning("train.batch_size %d does not divide over the %d devices: the generator's batch "
                                "is not sharded", t.batch_size, mesh.devices.size)
        self.g_tx = make_optimizer(config.optim.g)
        self.d_tx = make_optimizer(config.optim.d)
        if self.objective in CRITIC_LOSSES:
            self.d_loss, self.g_loss = losses.get_losses(CRITIC_LOSSES[self.objective])

    # ------------------------------------------------------------ protocol
    def d_steps(self, step: int) -> int:
        """Critic updates in the G step that makes state.step = `step` (1-based)."""
        t = self.config.train
        done = step - 1  # G steps before this one: the reference's gen_iterations
        if t.warmup_d_steps and (done < t.warmup_until or (t.warmup_every and done % t.warmup_every == 0)):
            return int(t.warmup_d_steps)
        return int(t.num_d_steps)

    def phases(self) -> list[Phase]:
        return [Phase("gan", self.config.train.num_steps, self.train_step, ("image",), self.d_steps)]

    def check_data(self, data: Any) -> None:
        if tuple(data.image_shape) != self.image_shape:
            raise ValueError(f"config.data gives {tuple(data.image_shape)} images (image_size, channels), the "
                             f"generator makes {self.image_shape} (config.model)")

    def param_counts(self, state: ClassicState) -> dict[str, int]:
        return {"g": count_params(state.g["params"]), "d": count_params(state.d["params"])}

    def sample_z(self, key: Array, n: int) -> Array:
        if self.config.model.z_dist == "uniform":
            return jax.random.uniform(key, (n, self.z_dim), jnp.float32, -1.0, 1.0)
        return jax.random.normal(key, (n, self.z_dim), jnp.float32)

    def _train_z(self, key: Array, n: int) -> Array:
        z = self.sample_z(key, n)
        return z if self._batch_sharding is None else jax.lax.with_sharding_constraint(z, self._batch_sharding)

    def init_state(self, key: Array) -> ClassicState:
        kg, kd, kr = jax.random.split(key, 3)
        g = self.G.init(kg, jnp.zeros((2, self.z_dim)))
        d = self.D.init(kd, jnp.zeros((2, *self.image_shape)))
        return ClassicState(step=jnp.zeros((), jnp.int32), rng=jax.random.key_data(kr), g=g, d=d,
                            g_opt=self.g_tx.init(g["params"]), d_opt=self.d_tx.init(d["params"]),
                            k=jnp.zeros((), jnp.float32))

    # ---------------------------------------------------------------- step
    def _lr(self, which: str, step: Array) -> Array:
        return learning_rate(self.config.optim[which], step, self.config.train.num_steps)

    def _d_update(self, state: ClassicState, real: Array, key: Array):
        cfg = self.config
        g_params, g_aux = _split(state.g)
        d_params, d_aux = _split(state.d)
        metrics = {}
        if self.objective == "wgan":
            d_params = jax.tree_util.tree_map(lambda p: jnp.clip(p, -cfg.loss.clip, cfg.loss.clip), d_params)
            metrics["d_clip_max"] = jnp.max(jnp.stack([jnp.max(jnp.abs(p))
                                                       for p in jax.tree_util.tree_leaves(d_params)]))
        kz, kgp = jax.random.split(key)
        fake, g_aux = _apply(self.G, g_params, g_aux, self._train_z(kz, real.shape[0]), train=True)
        fake = jax.lax.stop_gradient(fake)

        def loss_fn(params):
            out_real, aux = _apply(self.D, params, d_aux, real, train=True)
            out_fake, aux = _apply(self.D, params, aux, fake, train=True)
            if self.objective == "ebgan":
                e_real = reconstruction_energy(out_real[0], real)
                e_fake = reconstruction_energy(out_fake[0], fake)
                hinge = jnp.mean(jax.nn.relu(cfg.loss.margin - e_fake))
                return jnp.mean(e_real) + hinge, (aux, {"d_energy_real": jnp.mean(e_real),
                                                        "d_energy_fake": jnp.mean(e_fake), "d_margin_loss": hinge})
            loss_real, loss_fake = self.d_loss(out_real, out_fake)
            m = {"d_loss_real": loss_real, "d_loss_fake": loss_fake, "d_real": jnp.mean(out_real),
                 "d_fake": jnp.mean(out_fake)}
            loss = loss_real + loss_fake
            if self.objective == "wgan_gp":
                gp = losses.gradient_penalty(lambda t: _apply(self.D, params, aux, t, train=True)[0], real, fake,
                                             kgp)
                loss, m["gradient_penalty"] = loss + cfg.loss.gp_weight * gp, gp
            return loss, (aux, m)

        (_, (d_aux, m)), grads = jax.value_and_grad(loss_fn, has_aux=True)(d_params)
        d_params, d_opt = _step(self.d_tx, state.d_opt, d_params, grads, self._lr("d", state.step))
        state = state.replace(g={"params": g_params, **g_aux}, d={"params": d_params, **d_aux}, d_opt=d_opt)
        return state, {**metrics, **m}

    def _g_update(self, state: ClassicState, key: Array):
        g_params, g_aux = _split(state.g)
        d_params, d_aux = _split(state.d)
        z = self._train_z(key, self.config.train.batch_size)

        def loss_fn(params):
            fake, new_g_aux = _apply(self.G, params, g_aux, z, train=True)
            out, new_d_aux = _apply(self.D, d_params, d_aux, fake, train=True)
            if self.objective == "ebgan":
                energy = jnp.mean(reconstruction_energy(out[0], fake))
                pt = pulling_away(out[1])
                loss, m = energy + self.config.loss.pt_weight * pt, {"g_energy": energy, "pulling_away": pt}
            else:
                loss = self.g_loss(out)
                m = {}
            return loss, (new_g_aux, new_d_aux, {"g_loss": loss, **m})

        (_, (g_aux, d_aux, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(g_params)
        g_params, g_opt = _step(self.g_tx, state.g_opt, g_params, grads, self._lr("g", state.step))
        return state.replace(g={"params": g_params, **g_aux}, d={"params": d_params, **d_aux}, g_opt=g_opt), metrics

    def _began_update(self, state: ClassicState, real: Array, key: Array):
        cfg = self.config.loss
        g_params, g_aux = _split(state.g)
        d_params, d_aux = _split(state.d)
        z = self._train_z(key, real.shape[0])
        l1 = lambda recon, x: jnp.mean(jnp.abs(recon.astype(jnp.float32) - x.astype(jnp.float32)))

        def d_loss_fn(d_params, fake):
            (recon_fake, _), _ = _apply(self.D, d_params, d_aux, fake, train=True)
            (recon_real, _), _ = _apply(self.D, d_params, d_aux, real, train=True)
            loss_real, loss_fake = l1(recon_real, real), l1(recon_fake, fake)
            return loss_real - state.k * loss_fake, (loss_real, loss_fake)

        def g_loss_fn(g_params):
            fake, new_g_aux = _apply(self.G, g_params, g_aux, z, train=True)
            (recon, _), _ = _apply(self.D, d_params, d_aux, fake, train=True)
            return l1(recon, fake), (fake, new_g_aux)

        (_, (fake, new_g_aux)), g_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(g_params)
        (d_loss, (loss_real, loss_fake)), d_grads = jax.value_and_grad(d_loss_fn, has_aux=True)(
            d_params, jax.lax.stop_gradient(fake))
        lr = self._lr("g", state.step), self._lr("d", state.step)
        g_params, g_opt = _step(self.g_tx, state.g_opt, g_params, g_grads, lr[0])
        d_params, d_opt = _step(self.d_tx, state.d_opt, d_params, d_grads, lr[1])
        balance = cfg.gamma * loss_real - loss_fake
        k = jnp.clip(state.k + cfg.lambda_k * balance, 0.0, 1.0)
        metrics = {"d_loss": d_loss, "d_loss_real": loss_real, "d_loss_fake": loss_fake, "g_loss": loss_fake,
                   "k": state.k, "measure": loss_real + jnp.abs(balance), "lr_g": lr[0]}
        state = state.replace(g={"params": g_params, **new_g_aux}, d={"params": d_params, **d_aux}, g_opt=g_opt,
                              d_opt=d_opt, k=k)
        return state, metrics

    def train_step(self, state: ClassicState, batch: dict[str, Array]) -> tuple[ClassicState, dict[str, Array]]:
        """batch: {'image': [n, B, H, W, C]}, n = d_steps(step)."""
        images = batch["image"]
        key_d, key_g = jax.random.split(step_key(state))
        if self.objective == "began":
            state, metrics = self._began_update(state, images[0], key_g)
        else:
            state, d_metrics = jax.lax.scan(lambda s, xk: self._d_update(s, *xk), state,
                                            (images, jax.random.split(key_d, images.shape[0])))
            state, metrics = self._g_update(state, key_g)
            d_metrics = {k: (jnp.max(v) if k == "d_clip_max" else jnp.mean(v)) for k, v in d_metrics.items()}
            metrics = {**metrics, **d_metrics}
        return state.replace(step=state.step + 1), metrics

    # -------------------------------------------------------------- sample
    def sample(self, g: Any, z: Array) -> Array:
        """Images in [-1, 1]. Models with BatchNorm normalise with the batch's
        statistics unless config.model.sample_running_stats (the references
        sample in train mode); BEGAN's unbounded output is clipped, as its
        reference does when it saves images."""
        params, aux = _split(g)
        if aux and self.config.model.sample_running_stats:
            images = self.G.apply(g, z, train=False)
        else:
            images = _apply(self.G, params, aux, z, train=True)[0]
        return jnp.clip(images, -1.0, 1.0)

    def grid_inputs(self, key: Array, num: int) -> Array:
        return self.sample_z(key, num)

    def sample_grid(self, state: ClassicState, z: Array) -> Array:
        return self.sample(state.g, z)

    def evaluator(self, workdir: str, mesh: Any) -> ImageEvaluator:
        sample = jax.jit(self.sample)
        return ImageEvaluator(self.config, workdir, mesh, lambda state, key, num: sample(state.g, self.sample_z(
            key, num)), self.image_shape[0])

    # ------------------------------------------------------- --mode sample
    @classmethod
    def define_sample_flags(cls) -> None:
        define_image_sample_flags()

    @classmethod
    def sample_options(cls, flag_values: Any) -> dict[str, Any]:
        return dict(num=flag_values.num_samples, sample_format=flag_values.sample_format,
                    batch_size=flag_values.batch_size, seed=flag_values.seed, step=flag_values.step)

    @classmethod
    def write_samples(cls, config: Any, workdir: str, num: int | None = None, *, sample_format: str = "grid",
                      batch_size: int | None = None, seed: int | None = None, step: int | None = None) -> str:
        """`--mode sample`: G's samples of a checkpoint (default the latest) as
        one PNG grid in samples/, one PNG per image in samples/<step>/, or one
        .npz of uint8 images 'x' (for python -m jaxgan.eval). With the default
        seed the grid shows the z of the training grids."""
        from jaxgan import pictures, train

        check_sample_format(sample_format)
        trainer, _, state = train.restore_latest(config, workdir, step)
        num = num or (config.samples.num if sample_format == "grid" else config.eval.num_samples)
        z = trainer.grid_inputs(jax.random.fold_in(jax.random.key(config.seed if seed is None else seed), 1), num)
        sample = jax.jit(trainer.sample)
        batch_size = batch_size or config.eval.batch_size
        images = np.concatenate([pictures.to_uint8(sample(state.g, z[i:i + batch_size]))
                                 for i in range(0, num, batch_size)])
        return write_image_samples(config, workdir, int(state.step), images, sample_format, "sample")
