"""Trainer for noise-to-image GANs (BigGAN, BigGAN-deep, SAGAN-style models),
class-conditional or unconditional.

One train step = `num_d_steps` D updates, one G update, one EMA update, as in
BigGAN-PyTorch's `train_fns.GAN_training_function`:
- every D step reads its own real batch; G runs in train mode (its BatchNorm
  statistics and SN vectors update) without gradients; D sees fake and real
  images in one concatenated batch;
- the G step draws fresh z and classes; D runs in train mode without gradients
  (its SN vectors update);
- with `train.grad_accum_steps = k` each update averages the gradients of k
  micro-batches of batch_size / k (BigGAN-PyTorch's num_{G,D}_accumulations);
- BigGAN's orthogonal regularisation is added to G's gradient once per update;
- the data-efficiency and consistency regularisers of StudioGAN are config
  switches (config.reg, all off by default), as StudioGAN's worker applies
  them: DiffAugment on reals and fakes in the D step and on fakes in the G
  step; LeCam on D's outputs with moving-average anchors kept in the state;
  CR (reals) and bCR (reals and fakes) against D on flipped and translated
  copies of the un-augmented images; zCR against D on G(z + eps) in the D
  step and, negated, against the images G(z + eps) in the G step;
- a classifier head of D (config.model.d.cond_head 'ac', '2c' or 'd2dce',
  aux_head 'tac' or 'adc') adds its loss, weighted by config.cond_loss, as
  StudioGAN's worker: on reals in the D step and on fakes in the G step; TAC's
  twin head is fitted to fakes in D and its loss subtracted in G (the paper:
  StudioGAN never trains it); ADC's fakes are classes 2y + 1 in D, and G adds
  the loss at 2y minus the loss at 2y + 1; CR, bCR and zCR then compare the
  head's outputs too;
- LOGAN (config.logan.steps > 0) moves each z up D(G(z)) by natural-gradient
  latent steps (jaxgan.sampling.latent_optimise, as StudioGAN's
  latent_optimise) before G(z) is used: in the D step against the D being
  updated, in the G step against the G being updated (both networks in
  train mode during the steps), and in the sample grids, evaluation and
  `--mode sample` (config.logan.eval_steps, both in eval mode). The steps'
  cost, weighted by config.logan.cost_weight, joins the D and the G loss, and
  the gradients go through the steps (second order); zCR's z + eps starts from
  the z before the steps, as StudioGAN's;
- U-Net GAN (config.unet, jaxgan.unetgan): the U-Net discriminator, whose
  per-pixel logits (D's 'pixel' head output) add the decoder's loss to D's
  and G's; CutMix of reals and fakes (the fakes of the D step, made with the
  reals' classes when class-conditional, so that a mixed image has one class)
  with its encoder, decoder and consistency terms, either replacing a D
  update's adversarial loss with probability config.unet.cutmix_rate
  ('batch', one draw per D update) or added to it at that weight ('added'),
  the rate ramping from 0 over config.unet.cutmix_warmup_steps;
- with a mesh, the z and classes a step draws are constrained to the batch
  sharding: without it XLA computes the whole G batch on every device.
Losses are float32 whatever the compute dtype.
"""

from __future__ import annotations

import logging
from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax

from jaxgan import augment, losses, parallel, sampling, unetgan
from jaxgan.eval.generated import ImageEvaluator
from jaxgan.models import init_noise
from jaxgan.models.biggan import BigGANDiscriminator, BigGANGenerator
from jaxgan.models.biggan_deep import BigGANDeepDiscriminator, BigGANDeepGenerator
from jaxgan.models.unet_discriminator import UNetDiscriminator
from jaxgan.state import count_params, step_key
from jaxgan.trainers import define_flag, define_image_sample_flags
from jaxgan.trainers.protocol import BestMetric, Phase

Array = jax.Array


@flax.struct.dataclass
class GANState:
    """{step, rng} (the loop's) and G, D, their optimizers and the EMA G; g, d
    and g_ema are flax variable dicts ({'params', 'batch_stats', 'spectral'}
    as the models have them). Only `params` are differentiated; the other
    collections are side outputs of train-mode calls. `lecam` holds LeCam's
    anchors {'real', 'fake'} when config.reg.lecam_weight is set, else None
    (no leaves: the checkpoints of runs without LeCam are unchanged)."""

    step: jax.Array
    rng: jax.Array
    g: Any
    d: Any
    g_opt: Any
    d_opt: Any
    g_ema: Any
    lecam: Any = None

    def key(self) -> jax.Array:
        """This step's key."""
        return step_key(self)
ARCHS = {"biggan": (BigGANGenerator, BigGANDiscriminator), "biggan_deep": (BigGANDeepGenerator, BigGANDeepDiscriminator)}
DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def num_classes(config: Any) -> int | None:
    return config.data.num_classes or None


def build_models(config: Any):
    """(G, D) flax modules from config.model, config.data.num_classes and config.dtype."""
    m = config.model
    if m.arch not in ARCHS:
        raise ValueError(f"unknown config.model.arch {m.arch!r}; choose one of {sorted(ARCHS)}")
    if config.dtype not in DTYPES:
        raise ValueError(f"config.dtype must be one of {sorted(DTYPES)}, got {config.dtype!r}")
    G, D = ARCHS[m.arch]
    if unet_discriminator(config):
        if m.arch != "biggan":
            raise ValueError(f"config.unet.discriminator builds the U-Net D from BigGAN's D blocks: it needs "
                             f"config.model.arch 'biggan', got {m.arch!r}")
        D = UNetDiscriminator
    common = dict(resolution=m.resolution, num_classes=num_classes(config), sn_eps=m.sn_eps, sn_iters=m.sn_iters,
                  dtype=DTYPES[config.dtype])
    g = G(**common, bn_eps=m.bn_eps, **m.g.to_dict())
    d = D(**common, **m.d.to_dict())
    return g, d


def learning_rate(opt: Any, num_steps: int) -> optax.Schedule | float:
    """`opt.lr` with an optional linear warmup over `opt.warmup_steps` and a
    cosine or linear decay to 0 by `num_steps` (`opt.decay`)."""
    decay, warmup = opt.decay, int(opt.warmup_steps)
    if decay == "constant":
        return optax.linear_schedule(0.0, opt.lr, warmup) if warmup else opt.lr
    if decay == "cosine":
        return optax.warmup_cosine_decay_schedule(0.0, opt.lr, max(warmup, 1), num_steps)
    if decay == "linear":
        return optax.join_schedules([optax.linear_schedule(0.0, opt.lr, warmup),
                                     optax.linear_schedule(opt.lr, 0.0, max(num_steps - warmup, 1))], [warmup])
    raise ValueError(f"optim decay must be 'constant', 'cosine' or 'linear', got {decay!r}")


def make_optimizer(opt: Any, num_steps: int) -> optax.GradientTransformation:
    """Adam (b1 0, b2 0.999 for BigGAN) at `learning_rate(opt, num_steps)`."""
    return optax.adam(learning_rate(opt, num_steps), b1=opt.b1, b2=opt.b2, eps=opt.eps)


def _microbatches(x: Array, k: int) -> Array:
    """[B, ...] -> [k, B/k, ...], micro-batch i taking every k-th example so
    each stays spread over all devices when B is sharded."""
    return x.reshape(x.shape[0] // k, k, *x.shape[1:]).swapaxes(0, 1)


def _ema(decay: Array, ema: Any, new: Any) -> Any:
    return jax.tree_util.tree_map(lambda e, n: decay * e + (1.0 - decay) * n, ema, new)


def _normalized(vectors: Any) -> Any:
    return jax.tree_util.tree_map(lambda v: v / jnp.maximum(jnp.linalg.norm(v), 1e-12), vectors)


def lecam_anchors(anchors: dict, real: Array, fake: Array, step: Array, decay: float, start_step: int) -> dict:
    """LeCam's anchors after one D update's outputs (StudioGAN's LeCamEMA,
    updated once per D update): moving averages of the mean D output on reals
    and on fakes, decay 0 (the last batch's means) before `start_step`."""
    d = jnp.where(step < start_step, 0.0, decay).astype(jnp.float32)
    mean = lambda t: jnp.mean(jax.lax.stop_gradient(t).astype(jnp.float32))
    return {"real": d * anchors["real"] + (1 - d) * mean(real), "fake": d * anchors["fake"] + (1 - d) * mean(fake)}


def check_regularizers(reg: Any) -> None:
    """One-line errors for config.reg's switches that cannot work as set."""
    augment.check_policy(reg.diffaugment)
    if reg.lecam_weight and reg.lecam_start_step < 1:
        raise ValueError(f"config.reg.lecam_start_step must be >= 1 with LeCam (got {reg.lecam_start_step}): the "
                         "anchors start from the D outputs of the steps before it")
    if (reg.zcr_d_weight or reg.zcr_g_weight) and reg.zcr_radius <= 0:
        raise ValueError("config.reg.zcr_d_weight / zcr_g_weight need config.reg.zcr_radius > 0 (zCR compares "
                         f"G(z) with G(z + radius * eps)), got {reg.zcr_radius}")


def unet_discriminator(config: Any) -> bool:
    """Whether config.unet turns on the U-Net D (a config from before U-Net
    GAN existed has no config.unet: off)."""
    u = config.get("unet")
    return bool(u is not None and u.discriminator)


UNET_CUTMIX = ("", "batch", "added")


def check_unet(config: Any) -> None:
    """One-line errors for config.unet settings that cannot work."""
    u = config.get("unet")
    if u is None:
        return
    if u.cutmix not in UNET_CUTMIX:
        raise ValueError(f"config.unet.cutmix must be one of {UNET_CUTMIX}, got {u.cutmix!r}")
    if not u.cutmix:
        return
    if not u.discriminator:
        raise ValueError("config.unet.cutmix needs the U-Net discriminator (config.unet.discriminator=True): "
                         "CutMix's losses are per pixel")
    if u.cutmix == "batch" and not 0 <= u.cutmix_rate <= 1:
        raise ValueError(f"config.unet.cutmix_rate is a probability with cutmix 'batch', got {u.cutmix_rate}")
    if u.cutmix_rate < 0 or u.cutmix_warmup_steps < 0 or u.consistency_weight < 0:
        raise ValueError("config.unet.cutmix_rate, cutmix_warmup_steps and consistency_weight must be >= 0, got "
                         f"{u.cutmix_rate}, {u.cutmix_warmup_steps}, {u.consistency_weight}")
    if config.reg.diffaugment:
        raise ValueError("config.unet.cutmix with config.reg.diffaugment: the consistency term compares D's "
                         "per-pixel outputs on the mixed images with those on the reals and fakes, which "
                         "DiffAugment would move; use one of them")


def check_logan(config: Any) -> None:
    """One-line errors for config.logan and config.model.z_prior settings that
    cannot work (a config from before they existed has neither: normal z,
    no LOGAN)."""
    prior = config.model.get("z_prior", "normal")
    if prior not in sampling.Z_PRIORS:
        raise ValueError(f"config.model.z_prior must be one of {sampling.Z_PRIORS}, got {prior!r}")
    lo = config.get("logan")
    if lo is None:
        return
    if lo.steps < 0:
        raise ValueError(f"config.logan.steps must be >= 0 (0: LOGAN off), got {lo.steps}")
    if lo.eval_steps is not None and lo.eval_steps < 0:
        raise ValueError(f"config.logan.eval_steps must be >= 0 (unset: config.logan.steps), got {lo.eval_steps}")
    if not lo.steps:
        return
    if not lo.alpha > 0:
        raise ValueError(f"config.logan.alpha (the latent step size) must be > 0, got {lo.alpha}")
    if not lo.beta > 0:
        raise ValueError(f"config.logan.beta must be > 0 (it keeps alpha g / (beta + |g|^2) finite where D's "
                         f"gradient g is 0), got {lo.beta}")
    if not 0 < lo.rate <= 1:
        raise ValueError(f"config.logan.rate (the share of examples that take each step) must be in (0, 1], "
                         f"got {lo.rate}")
    if not lo.cost_weight >= 0:
        raise ValueError(f"config.logan.cost_weight must be >= 0, got {lo.cost_weight}")


def logan_steps(config: Any) -> tuple[int, int]:
    """LOGAN's latent steps (in training, at sampling); (0, 0) when it is off."""
    lo = config.get("logan")
    if lo is None or not lo.steps:
        return 0, 0
    return lo.steps, lo.steps if lo.eval_steps is None else lo.eval_steps


class BigGANTrainer:
    """See the module docstring; the protocol is jaxgan/trainers/protocol.py.
    Pure functions of (state, batch); the loop jits them."""

    grid_name = "samples_ema"  # from the EMA generator
    grid_columns = None
    grid_text = None  # the grid is images
    best_metric = BestMetric("fid")

    def __init__(self, config: Any, mesh: Any = None):
        self.config = config
        self.G, self.D = build_models(config)
        self.num_classes = num_classes(config)
        t = config.train
        if t.batch_size % t.grad_accum_steps:
            raise ValueError(f"train.batch_size {t.batch_size} must be divisible by "
                             f"train.grad_accum_steps {t.grad_accum_steps}")
        self.micro_batch = t.batch_size // t.grad_accum_steps
        self._batch_sharding = None
        if mesh is not None and mesh.devices.size > 1:
            if self.micro_batch % mesh.devices.size == 0:
                self._batch_sharding = parallel.batch_sharding(mesh)
            else:  # e.g. a smoke run: correct, but every device computes the whole G batch
                logging.warning("the micro-batch (train.batch_size / train.grad_accum_steps = %d) does not divide "
                                "over the %d devices: the generator's batch is not sharded", self.micro_batch,
                                mesh.devices.size)
        check_regularizers(config.reg)
        check_logan(config)
        check_unet(config)
        self.unet = unet_discriminator(config)
        self.cutmix = config.unet.cutmix if self.unet else ""
        self.z_prior = config.model.get("z_prior", "normal")
        self.logan_steps, self.logan_eval_steps = logan_steps(config)
        try:
            self.D.check_head()
        except ValueError as e:
            raise ValueError(f"config.model.d: {e}") from None
        self.head, self.aux_head = self.D.cond_head, self.D.aux_head
        self.g_tx = make_optimizer(config.optim.g, t.num_steps)
        self.d_tx = make_optimizer(config.optim.d, t.num_steps)
        self.d_loss, self.g_loss = losses.get_losses(config.loss)
        self.image_shape = (config.model.resolution, config.model.resolution, 3)

    def phases(self) -> list[Phase]:
        """One phase: each step takes one real batch per D update."""
        return [Phase("gan", self.config.train.num_steps, self.train_step, ("image", "label"),
                      self.config.train.num_d_steps)]

    def check_data(self, data: Any) -> None:
        if tuple(data.image_shape[:2]) != tuple(self.image_shape[:2]):
            raise ValueError(f"config.data gives {data.image_shape[:2]} images, the model is "
                             f"{self.image_shape[:2]} (config.model.resolution)")
        if self.num_classes is not None and data.num_classes not in (None, self.num_classes):
            raise ValueError(f"the data has {data.num_classes} classes, config.data.num_classes says "
                             f"{self.num_classes}")

    def param_counts(self, state: GANState) -> dict[str, int]:
        return {"g": count_params(state.g["params"]), "d": count_params(state.d["params"])}

    # ------------------------------------------------------------------ init
    def sample_inputs(self, key: Array, n: int) -> tuple[Array, Array | None]:
        """z from the prior (N(0, I), or U(-1, 1) with config.model.z_prior
        'uniform') and uniform classes (None when unconditional)."""
        return sampling.draw_inputs(key, n, self.G.z_dim, self.num_classes, prior=self.z_prior)

    def _shard(self, x: Array | None) -> Array | None:
        """x constrained to the batch sharding (as is without a mesh)."""
        if x is None or self._batch_sharding is None:
            return x
        return jax.lax.with_sharding_constraint(x, self._batch_sharding)

    def _sharded_inputs(self, key: Array, n: int) -> tuple[Array, Array | None]:
        """sample_inputs for a training batch, sharded over the mesh's devices."""
        z, y = self.sample_inputs(key, n)
        return self._shard(z), self._shard(y)

    def init_state(self, key: Array) -> GANState:
        kg, kd, kr = jax.random.split(key, 3)
        z, y = self.sample_inputs(kr, 2)
        # One random draw per model instead of one or two per parameter: a
        # fraction of the compile time (see init_noise).
        g = init_noise.one_draw(self.G.init)(kg, z, y)
        d = init_noise.one_draw(self.D.init)(kd, jnp.zeros((2, *self.image_shape), jnp.float32), y)
        lecam = {"real": jnp.zeros((), jnp.float32), "fake": jnp.zeros((), jnp.float32)} \
            if self.config.reg.lecam_weight else None
        return GANState(step=jnp.zeros((), jnp.int32), rng=jax.random.key_data(kr), g=g, d=d,
                        g_opt=self.g_tx.init(g["params"]), d_opt=self.d_tx.init(d["params"]), g_ema=g, lecam=lecam)

    # ------------------------------------------------------------------ step
    def _micro_keys(self, key: Array) -> Array:
        """One key per micro-batch of an update (grad_accum_steps of them)."""
        return jax.random.split(key, self.config.train.grad_accum_steps)

    def _cond_loss(self, heads: dict[str, Array], labels: Array, prefix: str = "") -> Array:
        """The classifier head's loss on D's head outputs for `labels` ('mi_'
        prefix: TAC's twin head)."""
        c = self.config.cond_loss
        if self.head == "ac":
            return losses.class_cross_entropy(heads[prefix + "cls"], labels)
        embed, proxy = heads[prefix + "embed"], heads[prefix + "proxy"]
        if self.head == "2c":
            return losses.conditional_contrastive(embed, proxy, labels, c.temperature)
        return losses.data_to_data_cross_entropy(embed, proxy, labels, c.temperature, c.margin)

    def _head_labels(self, y: Array | None, fake: bool) -> Array | None:
        """The labels D's head reads: ADC's 2y (reals) and 2y + 1 (fakes), else y."""
        if self.aux_head != "adc":
            return y
        return 2 * y + 1 if fake else 2 * y

    def _consistency(self, a: tuple[Array, dict], b: tuple[Array, dict]) -> Array:
        """CR's term between two D outputs (logits, heads): the logits' and, with
        a classifier head, its class logits' or embeddings' (StudioGAN)."""
        term = losses.consistency(a[0], b[0])
        key = {"ac": "cls", "2c": "embed", "d2dce": "embed"}.get(self.head)
        return term if key is None else term + losses.consistency(a[1][key], b[1][key])

    def _perturbed(self, z: Array, key: Array) -> Array:
        """zCR's z + radius * eps, eps ~ N(0, I), sharded as z."""
        return self._shard(z + self.config.reg.zcr_radius * jax.random.normal(key, z.shape, z.dtype))

    # ---------------------------------------------------------------- LOGAN
    def _latent_steps(self, score, z: Array, draws: Array, state=None) -> tuple[Array, Array, Any]:
        """sampling.latent_optimise with config.logan's settings; z is clipped to
        the uniform prior's [-1, 1] after each step (StudioGAN clips always; a
        normal z has no range to keep)."""
        lo = self.config.logan
        bound = 1.0 if self.z_prior == "uniform" else None
        return sampling.latent_optimise(score, z, draws, alpha=lo.alpha, beta=lo.beta, rate=lo.rate, bound=bound,
                                        state=state)

    def _train_score(self, g_params: Any, d_params: Any, y: Array | None):
        """What LOGAN's steps ascend in training: D(G(z)) [N], both networks in
        train mode as StudioGAN's latent step runs them, their side outputs
        threaded as the state (g_aux, d_aux)."""
        y_d = self._head_labels(y, fake=False)  # the logits of a classifier head do not read it

        def score(z, aux):
            g_aux, d_aux = aux
            images, g_aux = self.G.apply({"params": g_params, **g_aux}, z, y, train=True, mutable=list(g_aux))
            logits, d_aux = self.D.apply({"params": d_params, **d_aux}, images, y_d, train=True, mutable=list(d_aux))
            return logits, (g_aux, d_aux)

        return score

    def optimise_z(self, g_variables: Any, d_variables: Any, z: Array, y: Array | None, draws: Array) -> Array:
        """z after LOGAN's sampling steps (one per row of `draws`,
        sampling.latent_step_draws) against D(G(z)), both in eval mode."""
        y_d = self._head_labels(y, fake=False)
        score = lambda z, _: (self.D.apply(d_variables, self.G.apply(g_variables, z, y), y_d), None)
        return self._latent_steps(score, z, draws)[0]

    def _unet_d_loss(self, loss: Array, real_pixel: Array, fake_pixel: Array, x: Array, fake: Array,
                     y: Array | None, d_train, key: Array, rate: Array | None, use_mix: Array | None,
                     metrics: dict) -> Array:
        """The U-Net D's loss from the adversarial loss on its global logits
        (`loss`): plus the decoder's on the per-pixel logits; with CutMix, the
        mixed batch's terms (jaxgan.unetgan) instead ('batch', where use_mix) or
        added at weight `rate` ('added'). d_train: a train-mode D call
        (images, labels) -> (logits, heads); metrics gets the terms."""
        metrics["d_loss_real_pixel"], metrics["d_loss_fake_pixel"] = self.d_loss(real_pixel, fake_pixel)
        loss = loss + metrics["d_loss_real_pixel"] + metrics["d_loss_fake_pixel"]
        if not self.cutmix:
            return loss
        masks = unetgan.cutmix_masks(key, x.shape[0], x.shape[1])
        mixed, heads = d_train(unetgan.mix(masks, x, fake), y)
        enc, dec = unetgan.cutmix_d_loss(self.d_loss, mixed, heads["pixel"], masks)
        cons = unetgan.cutmix_consistency(heads["pixel"], real_pixel, fake_pixel, masks)
        mix_loss = enc + dec + self.config.unet.consistency_weight * cons
        metrics.update(cutmix_enc=enc, cutmix_dec=dec, cutmix_consistency=cons, cutmix_rate=rate)
        if self.cutmix == "added":
            return loss + rate * mix_loss
        metrics["cutmix_batch"] = use_mix.astype(jnp.float32)
        return jnp.where(use_mix, mix_loss, loss)

    def _d_update(self, state: GANState, real: Array, labels: Array | None, key: Array):
        """One D update on one real batch (accumulated over micro-batches)."""
        cfg, k = self.config, self.config.train.grad_accum_steps
        reg = cfg.reg
        g_params = state.g["params"]
        d_params = state.d["params"]
        g_aux = {c: v for c, v in state.g.items() if c != "params"}
        d_aux = {c: v for c, v in state.d.items() if c != "params"}
        xs = (_microbatches(real, k), None if labels is None else _microbatches(labels, k), self._micro_keys(key))
        mix_rate = use_mix = None
        if self.cutmix:
            u = cfg.unet
            mix_rate = unetgan.cutmix_rate(state.step, u.cutmix_rate, u.cutmix_warmup_steps)
            # 'batch': one draw per D update, shared by its micro-batches (a key apart from theirs).
            use_mix = jax.random.uniform(jax.random.fold_in(key, 1)) < mix_rate

        def micro(carry, inputs):
            g_aux, d_aux, lecam, grads = carry
            x, y_real, mkey = inputs
            kz, kgp = jax.random.split(mkey)
            # The regularisers' keys are folded in, so that the draws above stay those of a run without them.
            k_aug, k_cr, k_bcr, k_zcr, k_lo, k_mix = (jax.random.fold_in(mkey, i) for i in range(1, 7))
            z, y_fake = self._sharded_inputs(kz, x.shape[0])
            if self.cutmix and y_real is not None:  # a mixed image shows one class
                y_fake = y_real

            def generate(g_aux, d_aux, d_params):
                """The fakes, G in train mode: (fake, zCR's fake_eps or None, g_aux,
                d_aux, LOGAN's cost or None). With LOGAN, z first takes its
                latent steps against D at d_params."""
                z_g, cost = z, None
                if self.logan_steps:
                    draws = sampling.latent_step_draws(k_lo, self.logan_steps, z.shape[0])
                    z_g, cost, (g_aux, d_aux) = self._latent_steps(self._train_score(g_params, d_params, y_fake), z,
                                                                   draws, (g_aux, d_aux))
                    z_g = self._shard(z_g)
                fake, g_aux = self.G.apply({"params": g_params, **g_aux}, z_g, y_fake, train=True, mutable=list(g_aux))
                fake_eps = None
                if reg.zcr_d_weight:
                    fake_eps, g_aux = self.G.apply({"params": g_params, **g_aux}, self._perturbed(z, k_zcr), y_fake,
                                                   train=True, mutable=list(g_aux))
                    fake_eps = jax.lax.stop_gradient(fake_eps)
                return fake, fake_eps, g_aux, d_aux, cost

            # Without LOGAN the fakes do not depend on D's params: made once, outside the gradient.
            fixed = None if self.logan_steps else generate(g_aux, d_aux, d_params)
            y_fake_d, y_real_d = self._head_labels(y_fake, fake=True), self._head_labels(y_real, fake=False)
            y_both = None if y_real is None else jnp.concatenate([y_fake_d, y_real_d])

            def loss_fn(params):
                aux = d_aux
                if fixed is None:  # LOGAN: D's params move z, the gradient goes through the steps (StudioGAN)
                    fake, fake_eps, new_g_aux, aux, lo_cost = generate(g_aux, aux, params)
                else:
                    fake, fake_eps, new_g_aux, _, lo_cost = fixed
                    fake = jax.lax.stop_gradient(fake)

                def d_train(images, y):  # a train-mode D call (SN power iteration), as each torch forward
                    nonlocal aux
                    out, aux = self.D.apply({"params": params, **aux}, images, y, train=True, heads=True,
                                            mutable=list(aux))
                    return out  # (logits, heads)

                def split_heads(out):  # the (fake, real) halves of a D output on [fake, real]
                    halves = [jnp.split(t, 2) for t in (out[0], *out[1].values())]
                    return [(h[0], dict(zip(out[1], h[1:]))) for h in zip(*halves)]

                both = augment.diffaugment(jnp.concatenate([fake, x]), k_aug, reg.diffaugment)
                out_fake, out_real = split_heads(d_train(both, y_both))
                d_fake, d_real = out_fake[0], out_real[0]
                loss_real, loss_fake = self.d_loss(d_real, d_fake)
                loss = loss_real + loss_fake
                metrics = {"d_loss_real": loss_real, "d_loss_fake": loss_fake,
                           "d_real": jnp.mean(d_real), "d_fake": jnp.mean(d_fake)}
                if self.unet:
                    loss = self._unet_d_loss(loss, out_real[1]["pixel"], out_fake[1]["pixel"], x, fake, y_real_d,
                                             d_train, k_mix, mix_rate, use_mix, metrics)
                if self.head != "projection":
                    term = self._cond_loss(out_real[1], y_real_d)
                    loss, metrics["cond_real"] = loss + cfg.cond_loss.weight * term, term
                    if self.aux_head == "tac":
                        term = self._cond_loss(out_fake[1], y_fake_d, prefix="mi_")
                        loss, metrics["tac_d"] = loss + cfg.cond_loss.tac_d_weight * term, term
                    if self.aux_head == "adc":
                        term = self._cond_loss(out_fake[1], y_fake_d)
                        loss, metrics["cond_fake"] = loss + cfg.cond_loss.weight * term, term
                if lo_cost is not None:
                    loss, metrics["logan_cost_d"] = loss + cfg.logan.cost_weight * lo_cost, lo_cost
                new_lecam = lecam
                if reg.lecam_weight:
                    new_lecam = lecam_anchors(lecam, d_real, d_fake, state.step, reg.lecam_decay,
                                              reg.lecam_start_step)
                    term = losses.lecam_regularizer(d_real, d_fake, new_lecam["real"], new_lecam["fake"])
                    term = jnp.where(state.step > reg.lecam_start_step, term, 0.0)
                    loss, metrics["lecam"] = loss + reg.lecam_weight * term, term
                if reg.cr_weight:
                    term = self._consistency(out_real, d_train(augment.cr_augment(x, k_cr), y_real_d))
                    loss, metrics["cr"] = loss + reg.cr_weight * term, term
                if reg.bcr_real_weight or reg.bcr_fake_weight:
                    both_cr = jnp.concatenate([augment.cr_augment(fake, k_bcr),
                                               augment.cr_augment(x, jax.random.fold_in(k_bcr, 1))])
                    fake_cr, real_cr = split_heads(d_train(both_cr, y_both))
                    real_term, fake_term = self._consistency(out_real, real_cr), self._consistency(out_fake, fake_cr)
                    loss = loss + reg.bcr_real_weight * real_term + reg.bcr_fake_weight * fake_term
                    metrics["bcr_real"], metrics["bcr_fake"] = real_term, fake_term
                if reg.zcr_d_weight:
                    term = self._consistency(out_fake, d_train(fake_eps, y_fake_d))
                    loss, metrics["zcr_d"] = loss + reg.zcr_d_weight * term, term
                d_eval = lambda t, y: self.D.apply({"params": params, **aux}, t, y)
                if reg.gp_weight:
                    gp = losses.gradient_penalty(lambda t: d_eval(t, y_real), x, fake, kgp)
                    loss, metrics["gradient_penalty"] = loss + reg.gp_weight * gp, gp
                if reg.r1_gamma:
                    r1 = losses.r1_penalty(lambda t: d_eval(t, y_real), x)
                    loss, metrics["r1_penalty"] = loss + 0.5 * reg.r1_gamma * r1, r1
                return loss, (new_g_aux, aux, new_lecam, metrics)

            (_, (g_aux, d_aux, lecam, metrics)), g = jax.value_and_grad(loss_fn, has_aux=True)(d_params)
            grads = jax.tree_util.tree_map(lambda a, b: a + b / k, grads, g)
            return (g_aux, d_aux, lecam, grads), metrics

        zeros = jax.tree_util.tree_map(jnp.zeros_like, d_params)
        (g_aux, d_aux, lecam, grads), metrics = jax.lax.scan(micro, (g_aux, d_aux, state.lecam, zeros), xs)
        updates, d_opt = self.d_tx.update(grads, state.d_opt, d_params)
        d = {"params": optax.apply_updates(d_params, updates), **d_aux}
        state = state.replace(g={"params": g_params, **g_aux}, d=d, d_opt=d_opt, lecam=lecam)
        return state, jax.tree_util.tree_map(jnp.mean, metrics)

    def _g_update(self, state: GANState, key: Array):
        cfg, k = self.config, self.config.train.grad_accum_steps
        reg = cfg.reg
        g_params, d_params = state.g["params"], state.d["params"]
        g_aux = {c: v for c, v in state.g.items() if c != "params"}
        d_aux = {c: v for c, v in state.d.items() if c != "params"}

        def micro(carry, mkey):
            g_aux, d_aux, grads = carry
            z, y = self._sharded_inputs(mkey, self.micro_batch)
            k_aug, k_zcr, k_lo = (jax.random.fold_in(mkey, i) for i in range(1, 4))

            def loss_fn(params):
                z_g, g_in, d_in, lo_cost = z, g_aux, d_aux, None
                if self.logan_steps:  # z's steps against D(G(z)) at G's params: the gradient goes through them
                    draws = sampling.latent_step_draws(k_lo, self.logan_steps, z.shape[0])
                    z_g, lo_cost, (g_in, d_in) = self._latent_steps(self._train_score(params, d_params, y), z, draws,
                                                                    (g_aux, d_aux))
                    z_g = self._shard(z_g)
                fake, new_g_aux = self.G.apply({"params": params, **g_in}, z_g, y, train=True, mutable=list(g_aux))
                fake_aug = augment.diffaugment(fake, k_aug, reg.diffaugment)
                (logits, heads), new_d_aux = self.D.apply({"params": d_params, **d_in}, fake_aug,
                                                          self._head_labels(y, fake=False), train=True, heads=True,
                                                          mutable=list(d_aux))
                metrics = {"g_loss": self.g_loss(logits)}
                loss = metrics["g_loss"]
                if self.unet:
                    metrics["g_loss_pixel"] = self.g_loss(heads["pixel"])
                    loss = loss + metrics["g_loss_pixel"]
                if lo_cost is not None:
                    loss, metrics["logan_cost_g"] = loss + cfg.logan.cost_weight * lo_cost, lo_cost
                if self.head != "projection":
                    metrics["cond_fake"] = self._cond_loss(heads, self._head_labels(y, fake=False))
                    loss = loss + cfg.cond_loss.weight * metrics["cond_fake"]
                    if self.aux_head == "tac":  # G pushes the twin head's loss up
                        metrics["tac_g"] = self._cond_loss(heads, y, prefix="mi_")
                        loss = loss - cfg.cond_loss.tac_g_weight * metrics["tac_g"]
                    if self.aux_head == "adc":  # D run again, as StudioGAN, with the fake classes 2y + 1
                        (_, heads), new_d_aux = self.D.apply({"params": d_params, **new_d_aux}, fake_aug,
                                                             self._head_labels(y, fake=True), train=True,
                                                             heads=True, mutable=list(d_aux))
                        metrics["adc_g"] = self._cond_loss(heads, self._head_labels(y, fake=True))
                        loss = loss - cfg.cond_loss.weight * metrics["adc_g"]
                if reg.zcr_g_weight:
                    fake_eps, new_g_aux = self.G.apply({"params": params, **new_g_aux}, self._perturbed(z, k_zcr), y,
                                                       train=True, mutable=list(g_aux))
                    metrics["zcr_g"] = losses.consistency(fake, fake_eps)
                    loss = loss - reg.zcr_g_weight * metrics["zcr_g"]  # zCR in G: keep G(z + eps) apart from G(z)
                return loss, (new_g_aux, new_d_aux, metrics)

            (_, (g_aux, d_aux, metrics)), g = jax.value_and_grad(loss_fn, has_aux=True)(g_params)
            grads = jax.tree_util.tree_map(lambda a, b: a + b / k, grads, g)
            return (g_aux, d_aux, grads), metrics

        zeros = jax.tree_util.tree_map(jnp.zeros_like, g_params)
        (g_aux, d_aux, grads), metrics = jax.lax.scan(micro, (g_aux, d_aux, zeros), self._micro_keys(key))
        metrics = jax.tree_util.tree_map(jnp.mean, metrics)
        if cfg.reg.ortho:
            ortho, ortho_grads = jax.value_and_grad(losses.orthogonal_regularization)(g_params)
            grads = jax.tree_util.tree_map(lambda a, b: a + cfg.reg.ortho * b, grads, ortho_grads)
            metrics["ortho_reg"] = ortho
        updates, g_opt = self.g_tx.update(grads, state.g_opt, g_params)
        g = {"params": optax.apply_updates(g_params, updates), **g_aux}
        return state.replace(g=g, d={"params": d_params, **d_aux}, g_opt=g_opt), metrics

    def _g_update_after_d(self, state: GANState, key: Array):
        """`_g_update`, run once the D updates have finished.

        G's forward pass in the G update does not depend on D's new params, so
        XLA may run it before the D update's backward pass and keep both
        passes' activations live at once. It does so on the CPU when
        num_d_steps = grad_accum_steps = 1 (their scans are one-trip loops,
        which XLA removes; optimization_barrier is dropped before scheduling
        there): BigGAN-deep 256 at batch 8 needed 15.2 GiB of temporaries
        instead of the G update's own 9.2. A conditional starts only when all
        its operands, D's new params among them, exist, so the G update is the
        branch of one whose predicate XLA cannot evaluate (the step count is
        never negative); the other branch is never taken. With more D steps or
        micro-batches the G update's inputs come out of a loop, which orders it
        already. Only on the CPU, where it was measured: elsewhere a
        conditional may read its predicate on the host.
        """
        t = self.config.train
        if t.num_d_steps > 1 or t.grad_accum_steps > 1:
            return self._g_update(state, key)
        classifier = self.head != "projection"
        names = ("g_loss",) + ("g_loss_pixel",) * self.unet + ("ortho_reg",) * bool(self.config.reg.ortho) \
            + ("zcr_g",) * bool(self.config.reg.zcr_g_weight) + ("cond_fake",) * classifier \
            + ("tac_g",) * (self.aux_head == "tac") + ("adc_g",) * (self.aux_head == "adc") \
            + ("logan_cost_g",) * bool(self.logan_steps)  # _g_update's metrics
        unreachable = lambda state, key: (state, {name: jnp.zeros((), jnp.float32) for name in names})
        after_d = lambda state, key: jax.lax.cond(state.step >= 0, self._g_update, unreachable, state, key)
        return jax.lax.platform_dependent(state, key, cpu=after_d, default=self._g_update)

    def _ema_update(self, state: GANState) -> GANState:
        """EMA of G's params and BN statistics from `ema.start_step`, a plain copy
        before. The SN vectors are averaged too and renormalised: eval-mode SN
        computes sigma = u^T W v, which needs unit u and v."""
        cfg = self.config.ema
        decay = jnp.where(state.step >= cfg.start_step, cfg.decay, 0.0).astype(jnp.float32)
        g_ema = {c: _ema(decay, state.g_ema[c], v) for c, v in state.g.items()}
        if "spectral" in g_ema:
            g_ema["spectral"] = _normalized(g_ema["spectral"])
        return state.replace(g_ema=g_ema)

    def train_step(self, state: GANState, batch: dict[str, Array]) -> tuple[GANState, dict[str, Array]]:
        """batch: {'image': [num_d_steps, B, H, W, C], 'label': [num_d_steps, B]}."""
        n_d = self.config.train.num_d_steps
        keys = jax.random.split(step_key(state), n_d + 1)

        # The D steps run under lax.scan: one compiled D update whatever n_d is.
        def d_step(state, inputs):
            image, label, key = inputs
            return self._d_update(state, image, label if self.num_classes is not None else None, key)

        state, d_metrics = jax.lax.scan(d_step, state, (batch["image"], batch["label"], keys[:n_d]))
        state, metrics = self._g_update_after_d(state, keys[-1])
        metrics.update(jax.tree_util.tree_map(jnp.mean, d_metrics))
        state = self._ema_update(state.replace(step=state.step + 1))
        return state, metrics

    # ---------------------------------------------------------------- sample
    def sample(self, variables: Any, z: Array, y: Array | None) -> Array:
        """Images in [-1, 1] from G in eval mode (pass state.g_ema for the EMA G)."""
        return self.G.apply(variables, z, y)

    def sample_logan(self, g_variables: Any, d_variables: Any, z: Array, y: Array | None, key: Array) -> Array:
        """`sample` after LOGAN's config.logan.eval_steps latent steps against D
        (`optimise_z`); key: the key z was drawn with, which the steps' mask
        is drawn from per example (sampling.latent_step_draws)."""
        draws = sampling.latent_step_draws(key, self.logan_eval_steps, z.shape[0])
        return self.sample(g_variables, self.optimise_z(g_variables, d_variables, z, y, draws), y)

    def grid_inputs(self, key: Array, num: int) -> tuple[Array, Array | None]:
        """Fixed z and classes in order (class i % num_classes in place i)."""
        z, y = self.sample_inputs(key, num)
        if y is not None:
            y = jnp.arange(num, dtype=jnp.int32) % self.num_classes
        return z, y

    def sample_grid(self, state: GANState, inputs: tuple[Array, Array | None]) -> Array:
        if not self.logan_eval_steps:
            return self.sample(state.g_ema, *inputs)
        # The key train.grid_inputs draws the grid's z with: --mode sample's
        # default grid, which passes it to the Generator too, shows the same samples.
        key = jax.random.fold_in(jax.random.key(self.config.seed), 1)
        return self.sample_logan(state.g_ema, state.d, *inputs, key)

    def evaluator(self, workdir: str, mesh: Any) -> ImageEvaluator:
        """FID / IS / KID of EMA-G samples (z from the prior, uniform classes;
        with LOGAN after its sampling steps against D)."""
        if self.logan_eval_steps:
            sample = jax.jit(self.sample_logan)

            def generate(state, key, num):
                return sample(state.g_ema, state.d, *self.sample_inputs(key, num), key)
        else:
            sample = jax.jit(self.sample)

            def generate(state, key, num):
                return sample(state.g_ema, *self.sample_inputs(key, num))

        return ImageEvaluator(self.config, workdir, mesh, generate, self.image_shape[0])

    # ------------------------------------------------------- --mode sample
    @classmethod
    def define_sample_flags(cls) -> None:
        define_image_sample_flags()
        define_flag("float", "truncation", None, "--mode sample: psi in (0, 1], z = psi * truncnorm(-2, 2) "
                    "(DeepMind's convention); unset: z ~ N(0, I).")
        define_flag("bool", "standing_stats", False, "--mode sample: use standing BatchNorm statistics for "
                    "--truncation, measured and saved in the checkpoint if it has none yet (saved ones are used "
                    "whether or not this is set).")
        define_flag("integer", "standing_stats_batches", 16, "--mode sample: batches averaged for standing "
                    "statistics.")
        define_flag("list", "classes", None, "--mode sample: class ids, repeated to --num_samples (default: in "
                    "order for the grid, uniform for png / npz).")

    @classmethod
    def sample_options(cls, flag_values: Any) -> dict[str, Any]:
        try:
            classes = None if flag_values.classes is None else [int(c) for c in flag_values.classes]
        except ValueError:
            raise ValueError(f"--classes takes integer class ids, got {flag_values.classes}") from None
        if flag_values.standing_stats and flag_values.truncation is None:
            raise ValueError("--standing_stats needs --truncation (the statistics are per truncation)")
        return dict(num=flag_values.num_samples, sample_format=flag_values.sample_format,
                    truncation=flag_values.truncation, standing_stats=flag_values.standing_stats,
                    standing_stats_batches=flag_values.standing_stats_batches, classes=classes,
                    batch_size=flag_values.batch_size, seed=flag_values.seed, step=flag_values.step)

    @classmethod
    def write_samples(cls, config: Any, workdir: str, num: int | None = None, **options) -> str:
        from jaxgan.generator import write_samples

        return write_samples(config, workdir, num, **options)
