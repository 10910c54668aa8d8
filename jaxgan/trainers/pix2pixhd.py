"""Trainer of pix2pixHD (`trainer = "pix2pixhd"`): semantic label maps (and
instance maps) to images with a coarse-to-fine generator, multi-scale
discriminators, discriminator feature matching and the VGG19 perceptual loss,
as the reference trains it (NVIDIA/pix2pixHD, train.py and
models/pix2pixHD_model.py).

Inputs, built on the device from the batch: the one-hot label map
(`data.label_nc` classes, from "label_map" ids; with label_nc 0 the RGB
"input" image instead), then, with `data.instance`, the instance edge map of
"instance" (jaxgan.models.pix2pixhd.instance_edges); with
`model.instance_feat` also the instance-feature encoder's output E(B, inst)
(feat_num channels, each instance's mean). G reads all of them, D the label
part (labels and edges) concatenated with an image.

A step, all from one forward pass at (G, D) of the step's start, as the
reference's (it steps G's optimizer, then D's, on losses of the same graph):
- fake = G(input) in training mode;
- D: loss_D = 0.5 * (GAN(D(input, fake detached), fake) + GAN(D(input, B),
  real)), each GAN term summed over the num_D scales on each scale's last
  output;
- G: loss_G = GAN(D(input, fake), real) + feature matching + VGG, with
  feature matching = sum over scales i and D's intermediate outputs j (all
  but the last) of 1/num_D * 4/(n_layers_D + 1) * lambda_feat * mean |D_ij(fake)
  - D_ij(B)| (B's features detached), and VGG = lambda_feat * sum_k w_k *
  mean |VGG_k(fake) - VGG_k(B)| (jaxgan.models.vgg19: relu1_1 .. relu5_1, w
  1/32, 1/16, 1/8, 1/4, 1; images in [-1, 1] as the reference passes them,
  grey images repeated to RGB). D's calls run in the reference's order (fake
  detached, real, fake), so BatchNorm statistics (norm 'batch') update as
  there.
GAN losses (`loss.gan_mode`): 'lsgan' (the reference's default: squares
against 1 / 0), 'vanilla' (the reference's --no_lsgan; BCE on logits: with
intermediate features the reference drops D's sigmoid, so logits are what its
BCELoss would see), 'hinge'. Metrics as the reference names them: G_GAN,
G_GAN_Feat, G_VGG, D_real, D_fake, and lr.

Phases: with `optim.fix_global_steps` > 0 (the reference's niter_fix_global
in steps) the first phase ('local') trains only the outermost local
enhancer (G's `model{n_local_enhancers}_*` layers) and the encoder, with its
own Adam state; the second ('all') trains everything with an Adam state that
starts fresh, as the reference builds a new optimizer at that epoch. The
rate: lr for the first epochs, then linear decay: the 0-based epoch e trains
at lr * (1 - max(0, e - n_epochs) / n_epochs_decay), as the reference's
update_learning_rate subtracts lr / niter_decay after each decay epoch
(jaxgan/configs/pix2pixhd.py converts epochs to steps).

Evaluation: `l1`, the held-out L1 of G's outputs (with the encoder, on the
features of the real image: the reference's --use_encoded_image).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan.models import pix2pixhd as networks
from jaxgan.state import count_params, step_key
from jaxgan.trainers import TranslationSampleFlags, check_sample_format, write_image_samples
from jaxgan.trainers.pix2pix import _apply, _as_channels, _split, adam_update, check_common_fields, gan_loss
from jaxgan.trainers.protocol import BestMetric, Phase

Array = jax.Array


@flax.struct.dataclass
class Pix2PixHDState:
    """{step, rng} (the loop's); G, the encoder E ({} without
    instance_feat) and D as flax variable dicts; Adam states: `g_opt` over
    {'g': G's params, 'e': E's} for the phase that trains all of G,
    `g_opt_local` over the outermost enhancer's params and E's for the
    'local' phase ({} without one), `d_opt` over D's."""

    step: jax.Array
    rng: jax.Array
    g: Any
    e: Any
    d: Any
    g_opt: Any
    g_opt_local: Any
    d_opt: Any


def multiscale_gan_loss(predictions: list[list[Array]], target_is_real: bool, mode: str,
                        for_discriminator: bool = True) -> Array:
    """The reference's GANLoss on a multi-scale D: the sum over scales of the
    loss of each scale's last output."""
    return sum(gan_loss(p[-1], target_is_real, mode, for_discriminator) for p in predictions)


def feature_matching_loss(fake: list[list[Array]], real: list[list[Array]], n_layers_d: int,
                          lambda_feat: float) -> Array:
    """pix2pixHD's discriminator feature matching (module docstring); `real`
    is taken as a constant."""
    weight = 1.0 / len(fake) * 4.0 / (n_layers_d + 1) * lambda_feat
    total = jnp.zeros((), jnp.float32)
    for f_scale, r_scale in zip(fake, real):
        for f, r in zip(f_scale[:-1], r_scale[:-1]):
            total += weight * jnp.mean(jnp.abs(f.astype(jnp.float32) - jax.lax.stop_gradient(r).astype(jnp.float32)))
    return total


def learning_rate(optim: Any, num_steps: int, step: Array) -> Array:
    """The rate of the update at `step` (steps done before it): the
    reference's schedule in epochs of optim.epoch_steps steps (module docstring)."""
    epoch = jnp.floor(jnp.asarray(step, jnp.float32) / optim.epoch_steps)
    n_decay = optim.decay_steps / optim.epoch_steps
    n_epochs = (num_steps - optim.decay_steps) / optim.epoch_steps
    if n_decay == 0:
        return jnp.full((), optim.lr, jnp.float32)
    return optim.lr * (1.0 - jnp.maximum(0.0, epoch - n_epochs) / n_decay)


def label_colors(label_nc: int) -> np.ndarray:
    """[label_nc, 3] colours in [-1, 1] for the grids' label maps: 0 black,
    the others spread over hue (deterministic)."""
    hues = (np.arange(label_nc) * 0.61803398875) % 1.0
    h6 = hues[:, None] * 6.0
    rgb = np.clip(np.abs(((h6 + np.array([0.0, 4.0, 2.0])) % 6.0) - 3.0) - 1.0, 0.0, 1.0)
    rgb[0] = 0.0
    return (2.0 * rgb - 1.0).astype(np.float32)


def _as_rgb(x: Array) -> Array:
    return _as_channels(x, 3)


class Pix2PixHDTrainer(TranslationSampleFlags):
    """See the module docstring; the protocol is jaxgan/trainers/protocol.py."""

    grid_name = "translations"
    grid_columns = 12  # four (label map, output, target) triplets a row
    grid_text = None  # the grid is images
    best_metric = BestMetric("l1", higher_is_better=False)

    def __init__(self, config: Any, mesh: Any = None):
        self.config = config
        m, d, o = config.model, config.data, config.optim
        check_common_fields(config, "pix2pixhd")
        n = config.train.num_steps
        if o.epoch_steps < 1 or not 0 <= o.decay_steps <= n or not 0 <= o.fix_global_steps <= n:
            raise ValueError(f"config.optim.epoch_steps must be >= 1 and optim.decay_steps and "
                             f"optim.fix_global_steps in [0, train.num_steps={n}], got {o.epoch_steps}, "
                             f"{o.decay_steps} and {o.fix_global_steps}")
        if o.fix_global_steps and m.g.netG != "local":
            raise ValueError("config.optim.fix_global_steps trains the local enhancer alone first: it needs "
                             f"model.g.netG 'local', got {m.g.netG!r}")
        self.label_nc, self.instance = int(d.label_nc), bool(d.instance)
        self.feat_num = int(m.e.feat_num) if m.instance_feat else 0
        if m.instance_feat and not self.instance:
            raise ValueError("config.model.instance_feat encodes features per instance: it needs data.instance")
        size = int(d.image_size)
        self.image_shape = (size, size, int(d.channels))
        label_channels = self.label_nc or int(d.input_channels)
        self.label_channels = label_channels + int(self.instance)  # what D sees beside the image
        dtype = jnp.dtype(config.dtype)
        self.G = networks.define_G(output_nc=int(d.channels), **m.g, dtype=dtype)
        self.D = networks.define_D(get_interm_feat=bool(config.loss.feat_matching), **m.d, dtype=dtype)
        self.E = (networks.define_G("encoder", output_nc=self.feat_num, ngf=int(m.e.nef),
                                    n_downsample_global=int(m.e.n_downsample_E), norm=m.g.norm, dtype=dtype)
                  if self.feat_num else None)
        self.tx = optax.scale_by_adam(b1=o.b1, b2=o.b2, eps=o.eps)
        self.local_prefix = f"model{m.g.get('n_local_enhancers', 1)}_"
        self._held_out = None
        if config.loss.vgg:
            from jaxgan.models import vgg19

            # The perceptual loss's VGG computes in the networks' dtype: float32 unless config.dtype is bfloat16.
            self.vgg = vgg19.VGG19Features(dtype=dtype)

    # ------------------------------------------------------------ protocol
    def phases(self) -> list[Phase]:
        keys = ("label_map",) if self.label_nc else ("input",)
        keys += ("instance",) * self.instance + ("image",)
        constants = self.vgg_weights if self.config.loss.vgg else None
        fix, n = int(self.config.optim.fix_global_steps), int(self.config.train.num_steps)
        all_phase = Phase("all" if fix else "pix2pixhd", n - fix, functools.partial(self.train_step, local=False),
                          keys, constants=constants)
        if not fix:
            return [all_phase]
        return [Phase("local", fix, functools.partial(self.train_step, local=True), keys, constants=constants),
                all_phase]

    def vgg_weights(self, abstract: bool = False) -> Any:
        """The VGG19 weights of the perceptual loss (config.loss.vgg_weights: a
        file, or empty for torchvision's, downloaded on first use)."""
        from jaxgan.models import vgg19

        if abstract:
            return jax.eval_shape(self.vgg.init, jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
        return vgg19.load_vgg19_params(self.config.loss.vgg_weights or None)

    def check_data(self, data: Any) -> None:
        source = self.config.data.source
        if tuple(data.image_shape) != self.image_shape:
            raise ValueError(f"config.data gives images {tuple(data.image_shape)}, the model is built for "
                             f"{self.image_shape} (data.image_size, channels)")
        if self.label_nc and int(getattr(data, "label_nc", 0) or 0) != self.label_nc:
            raise ValueError(f"config.data.source {source!r} gives {getattr(data, 'label_nc', None)} label classes, "
                             f"config.data.label_nc is {self.label_nc}")
        if self.instance and not getattr(data, "has_instance", False):
            raise ValueError(f"config.data.instance is on but config.data.source {source!r} gives no instance maps")

    def param_counts(self, state: Pix2PixHDState) -> dict[str, int]:
        counts = {"g": count_params(state.g["params"]), "d": count_params(state.d["params"])}
        if self.E is not None:
            counts["e"] = count_params(state.e["params"])
        return counts

    def _local_subset(self, g_params: Any) -> dict:
        return {k: v for k, v in g_params.items() if k.startswith(self.local_prefix)}

    def init_state(self, key: Array) -> Pix2PixHDState:
        kg, kd, ke, kr = jax.random.split(key, 4)
        h, w, c = self.image_shape
        g_in = jnp.zeros((1, h, w, self.label_channels + self.feat_num))
        g = dict(self.G.init(kg, g_in, train=False))
        d = dict(self.D.init(kd, jnp.zeros((1, h, w, self.label_channels + c)), train=False))
        e = dict(self.E.init(ke, jnp.zeros((1, h, w, c)), jnp.zeros((1, h, w), jnp.int32), train=False)) \
            if self.E is not None else {}
        e_params = e.get("params", {})
        local = (self.tx.init({"g": self._local_subset(g["params"]), "e": e_params})
                 if self.config.optim.fix_global_steps else {})
        return Pix2PixHDState(step=jnp.zeros((), jnp.int32), rng=jax.random.key_data(kr), g=g, e=e, d=d,
                              g_opt=self.tx.init({"g": g["params"], "e": e_params}), g_opt_local=local,
                              d_opt=self.tx.init(d["params"]))

    # ---------------------------------------------------------------- step
    def learning_rate(self, step: Array) -> Array:
        return learning_rate(self.config.optim, self.config.train.num_steps, step)

    def _update(self, params, opt_state, grads, lr):
        return adam_update(self.tx, params, opt_state, grads, lr)

    def condition(self, batch: dict[str, Array]) -> Array:
        """What D sees beside the image: one-hot labels (or the input image)
        and the instance edges; batch arrays [B, ...]."""
        parts = [networks.one_hot_labels(batch["label_map"], self.label_nc) if self.label_nc
                 else batch["input"].astype(jnp.float32)]
        if self.instance:
            parts.append(networks.instance_edges(batch["instance"]))
        return jnp.concatenate(parts, axis=-1)

    def _generate(self, g_params, g_aux, e_params, e_aux, condition, image, instance, train: bool, rngs=None):
        """(G's output, (g_aux, e_aux)) in training or eval mode; the encoder
        reads `image` and `instance` (its features are each instance's mean)."""
        g_in = condition
        if self.E is not None:
            if train:
                feat, e_aux = _apply(self.E, e_params, e_aux, image, instance, train=True)
            else:
                feat = self.E.apply({"params": e_params, **e_aux}, image, instance, train=False)
            g_in = jnp.concatenate([condition, feat.astype(condition.dtype)], axis=-1)
        if train:
            out, g_aux = _apply(self.G, g_params, g_aux, g_in, train=True, rngs=rngs)
        else:
            out = self.G.apply({"params": g_params, **g_aux}, g_in, train=False)
        return out, (g_aux, e_aux)

    def train_step(self, state: Pix2PixHDState, batch: dict[str, Array], constants: Any = None, *,
                   local: bool = False) -> tuple[Pix2PixHDState, dict[str, Array]]:
        """batch: the phase's keys, each [1, B, ...]; constants: the VGG19
        weights when loss.vgg; `local`: the phase that trains the outermost
        enhancer (and the encoder) only."""
        cfg = self.config.loss
        mode = cfg.gan_mode
        batch = {k: v[0] for k, v in batch.items()}
        real = batch["image"].astype(jnp.float32)
        instance = batch.get("instance")
        condition = self.condition(batch)
        lr = self.learning_rate(state.step)
        g_params, g_aux = _split(state.g)
        d_params, d_aux = _split(state.d)
        e_params, e_aux = _split(state.e) if self.E is not None else ({}, {})
        rngs = {"dropout": step_key(state)}

        trained = {"g": self._local_subset(g_params) if local else g_params, "e": e_params}

        def generate(trained):
            g_all = {**g_params, **trained["g"]}  # the layers not trained in this phase stay as they are
            return self._generate(g_all, g_aux, trained["e"], e_aux, condition, real, instance, True, rngs)

        fake, g_vjp, (g_aux, e_aux) = jax.vjp(generate, trained, has_aux=True)
        pair = lambda image: jnp.concatenate([condition, image.astype(condition.dtype)], axis=-1)

        def d_loss_fn(params):
            pred_fake, aux = _apply(self.D, params, d_aux, pair(jax.lax.stop_gradient(fake)), train=True)
            pred_real, aux = _apply(self.D, params, aux, pair(real), train=True)
            loss_fake = multiscale_gan_loss(pred_fake, False, mode)
            loss_real = multiscale_gan_loss(pred_real, True, mode)
            return 0.5 * (loss_fake + loss_real), (aux, loss_real, loss_fake, pred_real)

        (_, (d_aux, loss_real, loss_fake, pred_real)), d_grads = jax.value_and_grad(d_loss_fn, has_aux=True)(
            d_params)
        pred_real = jax.lax.stop_gradient(pred_real)

        def g_loss_fn(fake):
            # D at the step's start, as the reference computes every loss before either update.
            pred_fake, aux = _apply(self.D, d_params, d_aux, pair(fake), train=True)
            g_gan = multiscale_gan_loss(pred_fake, True, mode, for_discriminator=False)
            g_feat = (feature_matching_loss(pred_fake, pred_real, int(self.config.model.d.n_layers_D),
                                            float(cfg.lambda_feat))
                      if cfg.feat_matching else jnp.zeros((), jnp.float32))
            g_vgg = jnp.zeros((), jnp.float32)
            if cfg.vgg:
                from jaxgan.models import vgg19

                g_vgg = cfg.lambda_feat * vgg19.vgg_loss(self.vgg, constants, _as_rgb(fake), _as_rgb(real))
            return g_gan + g_feat + g_vgg, (aux, g_gan, g_feat, g_vgg)

        (_, (d_aux, g_gan, g_feat, g_vgg)), d_fake = jax.value_and_grad(g_loss_fn, has_aux=True)(fake)
        g_grads = g_vjp(d_fake)[0]

        d_params, d_opt = self._update(d_params, state.d_opt, d_grads, lr)
        if local:
            trained, g_opt_local = self._update(trained, state.g_opt_local, g_grads, lr)
            g_opt = state.g_opt
        else:
            trained, g_opt = self._update(trained, state.g_opt, g_grads, lr)
            g_opt_local = state.g_opt_local
        g_params = {**g_params, **trained["g"]}
        e = {"params": trained["e"], **e_aux} if self.E is not None else {}
        state = state.replace(step=state.step + 1, g={"params": g_params, **g_aux}, e=e,
                              d={"params": d_params, **d_aux}, g_opt=g_opt, g_opt_local=g_opt_local, d_opt=d_opt)
        return state, {"G_GAN": g_gan, "G_GAN_Feat": g_feat, "G_VGG": g_vgg, "D_real": loss_real,
                       "D_fake": loss_fake, "lr": lr}

    # ------------------------------------------------------------ translate
    def translate(self, g: Any, inputs: dict[str, Array], e: Any = None) -> Array:
        """G's outputs in [-1, 1] for a batch of inputs (the phase's keys, [N,
        ...]) from G's variables `g` (and the encoder's `e` with
        instance_feat, which reads "image": the reference's
        --use_encoded_image), in config.model.sample_mode: 'eval' (BatchNorm's
        running statistics) or 'train' (each image alone in training mode, as
        the reference's test.py, which never switches to eval mode)."""
        condition = self.condition(inputs)
        image = inputs.get("image")
        instance = inputs.get("instance")
        g_params, g_aux = _split(g)
        if self.E is not None and not e:
            raise ValueError("model.instance_feat: translating needs the encoder's variables")
        e_params, e_aux = _split(e) if self.E is not None else ({}, {})
        if self.config.model.sample_mode == "eval":
            # float32 outputs whatever config.dtype is (the grids, the evaluator and the npz take them as such).
            return self._generate(g_params, g_aux, e_params, e_aux, condition, image, instance, False)[0].astype(
                jnp.float32)

        def one(c, x, i):
            x = None if x is None else x[None]
            i = None if i is None else i[None]
            return self._generate(g_params, g_aux, e_params, e_aux, c[None], x, i, True)[0][0]

        return jax.vmap(one)(condition, image, instance).astype(jnp.float32)

    def held_out(self, num: int | None) -> dict[str, np.ndarray]:
        """The first `num` examples of config.eval.split (of config.data.split
        when that split does not exist), unaugmented, as batches' arrays."""
        from jaxgan.data import paired

        try:
            return paired.held_out_arrays(self.config.data, self.config.eval.split, num)
        except FileNotFoundError as e:
            logging.warning("%s; the sample grids show training pairs (config.data.split)", e)
            return paired.held_out_arrays(self.config.data, self.config.data.split, num)

    def grid_inputs(self, key: Array, num: int) -> dict[str, Array]:
        del key  # the grid shows held-out examples, not random draws
        return {k: jnp.asarray(v) for k, v in self.held_out(num).items() if k != "label"}

    def show_condition(self, inputs: dict[str, Array]) -> Array:
        """The input as an RGB picture: the label map in label_colors (or the
        input image), instance edges in white."""
        if self.label_nc:
            ids = inputs["label_map"].reshape(inputs["label_map"].shape[:3]).astype(jnp.int32)
            picture = jnp.asarray(label_colors(self.label_nc))[ids]
        else:
            picture = _as_rgb(inputs["input"].astype(jnp.float32))
        if self.instance:
            picture = jnp.where(networks.instance_edges(inputs["instance"]) > 0, 1.0, picture)
        return picture

    def sample_grid(self, state: Pix2PixHDState, inputs: dict[str, Array]) -> Array:
        """[3N, H, W, 3]: label map, output, target of each example in turn."""
        out = self.translate(state.g, inputs, state.e)
        triplets = jnp.stack([self.show_condition(inputs), _as_rgb(out), _as_rgb(inputs["image"])], axis=1)
        return jnp.clip(triplets.reshape(-1, *triplets.shape[2:]), -1.0, 1.0)

    def evaluator(self, workdir: str, mesh: Any):
        """state -> {'l1': mean |G(input) - B| over the first eval.num_samples
        examples of eval.split}, in [-1, 1] pixels."""
        translate = jax.jit(lambda state, inputs: self.translate(state.g, inputs, state.e))
        batch = int(self.config.eval.batch_size)

        def evaluate(state: Pix2PixHDState) -> dict[str, float]:
            if self._held_out is None:
                self._held_out = {k: v for k, v in self.held_out(self.config.eval.num_samples).items()
                                  if k != "label"}
            arrays = self._held_out
            targets = arrays["image"]
            total = 0.0
            for i in range(0, len(targets), batch):
                out = np.asarray(translate(state, {k: v[i:i + batch] for k, v in arrays.items()}))
                total += float(np.abs(out - targets[i:i + batch]).sum(dtype=np.float64))
            return {"l1": total / targets.size}

        return evaluate

    # ------------------------------------------------------- --mode sample
    @classmethod
    def write_samples(cls, config: Any, workdir: str, num: int | None = None, *, sample_format: str = "grid",
                      batch_size: int | None = None, step: int | None = None) -> str:
        """`--mode sample`: G's outputs for the first `num` held-out inputs
        (config.eval.split) as one PNG grid of (label map, output, target) in
        samples/, one PNG per output in samples/<step>/, or one .npz of uint8
        outputs 'x'."""
        from jaxgan import pictures, train

        check_sample_format(sample_format)
        trainer, _, state = train.restore_latest(config, workdir, step)
        num = num or (config.samples.num if sample_format == "grid" else config.eval.num_samples)
        arrays = {k: v for k, v in trainer.held_out(num).items() if k != "label"}
        batch_size = batch_size or config.eval.batch_size
        draw = jax.jit(trainer.sample_grid if sample_format == "grid"
                       else lambda state, inputs: trainer.translate(state.g, inputs, state.e))
        parts = [pictures.to_uint8(draw(state, {k: v[i:i + batch_size] for k, v in arrays.items()}))
                 for i in range(0, len(arrays["image"]), batch_size)]
        return write_image_samples(config, workdir, int(state.step), np.concatenate(parts), sample_format,
                                   "translation", cls.grid_columns)
