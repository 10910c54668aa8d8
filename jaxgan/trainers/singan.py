"""Trainer of SinGAN (`trainer = "singan"`; Shaham et al. 2019), as its
reference trains (github.com/tamarott/SinGAN, SinGAN/training.py).

The image (config.data.image) is resized so its longer side is at most
max_size and made into a pyramid, coarsest shorter side min_size
(jaxgan.imresize: the reference's resize and uint8 round trips, bit for bit).
Each scale n has its own G and D (jaxgan.models.singan, nfc = min(32 *
2^floor(n / 4), 128)); scales train one after the other, one phase each,
`iters_per_scale` loop steps per phase. A loop step is one reference
iteration, jitted whole (no Python loop over its D and G steps):

- noise: N(0, 1) of the scale's size (at the coarsest scale one channel
  copied to the three), zero-padded by num_layer for G's unpadded convs;
- `d_steps` D updates, each on a fresh fake: `prev` is a random sample of
  the scales below (draw_concat 'rand': their Gs with BatchNorm's running
  statistics, each output resized by 1 / scale_factor and cropped), G's input
  noise_amp * noise + prev; D minimises -D(real) + D(fake) + gp_weight * the
  gradient penalty, whose norm is taken per pixel over the channels
  (gradients.norm(2, dim=1)) at one uniform interpolation weight, as the
  reference computes it;
- `g_steps` G updates: the adversarial gradient is the one of -D(fake) at the
  last D step's fake, the same in every G step (the reference back-propagates
  that step's retained graph again); the reconstruction term alpha *
  MSE(G(noise_amp * z_opt + z_prev, z_prev), real) is recomputed each time;
- BatchNorm runs on batch statistics in training and updates its running
  statistics as torch (G's: by each D step's fake and each reconstruction);
  samples use the running statistics (the reference's G.eval()).

Fixed noise: at the coarsest scale the reference draws z_opt anew every
iteration and keeps the last; above it z_opt is zero. noise_amp: 1 at the
coarsest scale, above it noise_amp * RMSE(real, the reconstruction of the
scales below), computed at the scale's first iteration. A scale whose widths
equal the previous scale's starts from its weights (G and D, running
statistics included); optimizers are fresh Adam per scale, lr x gamma from
iteration decay_at - 1 (the reference steps its MultiStepLR before the
updates).

State: {step, rng, g, d, g_opt, d_opt (one entry per scale), noise_amp [S],
z_opt (the coarsest scale's padded fixed noise)}; every scale's networks exist
from the start, so a checkpoint restores into one fixed structure and a
resumed run continues in its scale at its iteration.

Several images of one size (config.data.image 'a.png,b.png', which none of
the references do) train as a batch of independent pyramids in one program:
every leaf of the state but the step gets a leading axis of pyramids (each
its own networks, optimizers, statistics and key) and the iteration is
vmapped over it; the metrics are the pyramids' means, the sample grid has a
row per pyramid, the scores are averaged, and `pyramid(state, p)` is what
sampling and the applications take.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan import imresize, kmeans
from jaxgan.data.single_image import read_image
from jaxgan.models.singan import SinGANDiscriminator, SinGANGenerator, input_padding, scale_width
from jaxgan.state import count_params, step_key
from jaxgan.trainers.single_image import SingleImageTrainer, gradient_penalty, pad, resize_bilinear_align_corners

Array = jax.Array


@flax.struct.dataclass
class SinGANState:
    step: Array
    rng: Array
    g: Any  # per scale: {'params', 'batch_stats'}
    d: Any
    g_opt: Any  # per scale: optax.scale_by_adam's state
    d_opt: Any
    noise_amp: Array  # [num_scales]
    z_opt: Array  # [1, H0 + 2p, W0 + 2p, 3]: the coarsest scale's reconstruction noise, padded


def build_pyramid(config: Any, spec: str) -> tuple[np.ndarray, list[np.ndarray], imresize.SinGANScales]:
    """The training image `spec` ([1, H, W, 3] in [-1, 1]: the reference's
    `real`, which the applications blend with), its pyramid (coarsest first,
    the finest is `real` through one more uint8 round trip) and its scales, as
    the reference's adjust_scales2image and creat_reals_pyramid compute them."""
    m = config.model
    image = imresize.singan_from_uint8(read_image(spec))
    # The super-resolution model (SR.py): the ratio between scales is the
    # step of its upscaling, and the pyramid is adjust_scales2image_SR's.
    scale_factor = 1 / imresize.singan_sr_scale(m.sr_factor)[0] if m.sr_factor else m.scale_factor
    real, scales = imresize.singan_adjust_scales2image(image, min_size=m.min_size, max_size=m.max_size,
                                                       scale_factor_init=scale_factor, sr=bool(m.sr_factor))
    reals = imresize.singan_reals_pyramid(real, scales.scale_factor, scales.stop_scale)
    return real[None], [r[None] for r in reals], scales


def _adam(config: Any) -> optax.GradientTransformation:
    o = config.optim
    return optax.scale_by_adam(b1=o.b1, b2=o.b2, eps=o.eps)


class SinGANTrainer(SingleImageTrainer):
    phase_name = "scale"
    def __init__(self, config: Any, mesh: Any = None):
        self.config = config
        m = config.model
        # build_pyramid's (real, pyramid, scales) as read_pyramids takes them: (pyramid, scales, real)
        pyramids = self.read_pyramids(config, lambda spec: (lambda real, reals, scales: (reals, scales, real))(
            *build_pyramid(config, spec)))
        self.scales = pyramids[0][1]
        self.real = pyramids[0][2] if self.num_pyramids == 1 else np.stack([p[2] for p in pyramids])
        self.shapes = [r.shape[-3:-1] for r in self.reals]
        self.num_scales = len(self.reals)
        self.widths = [scale_width(n, m.nfc, m.max_nfc) for n in range(self.num_scales)]
        self.min_widths = [scale_width(n, m.min_nfc, m.max_nfc) for n in range(self.num_scales)]
        self.Gs = [SinGANGenerator(w, mw, m.num_layer, 3, m.kernel_size) for w, mw in zip(self.widths, self.min_widths)]
        self.Ds = [SinGANDiscriminator(w, mw, m.num_layer, m.kernel_size) for w, mw in zip(self.widths, self.min_widths)]
        self.pad = input_padding(m.num_layer, m.kernel_size)
        self.read_iterations(config.train, "iters_per_scale")
        for name in ("d_steps", "g_steps"):
            if config.train[name] < 1:
                raise ValueError(f"config.train.{name} must be >= 1, got {config.train[name]}")
        self.adam = _adam(config)

    # --------------------------------------------------------------- state
    def _padded(self, n: int) -> tuple[int, int, int, int]:
        h, w = self.shapes[n]
        return (1, h + 2 * self.pad, w + 2 * self.pad, 3)

    def init_state(self, key: Array) -> SinGANState:
        """Every scale's networks (of every pyramid: `init_pyramids`)."""
        return self.init_pyramids(self._init_pyramid, key)

    def image(self, p: int = 0) -> np.ndarray:
        """Pyramid p's training image [1, H, W, 3] (the reference's `real`)."""
        return self.real if self.num_pyramids == 1 else self.real[p]

    def init_scale(self, key: Array, n: int) -> tuple[dict, dict, Any, Any]:
        """Scale n's fresh (G, D, G's Adam, D's Adam), `key` the pyramid's."""
        kg, kd = jax.random.split(jax.random.fold_in(key, n))
        x = jnp.zeros(self._padded(n), jnp.float32)
        gv = dict(self.Gs[n].init(kg, x, x))
        dv = dict(self.Ds[n].init(kd, jnp.zeros((1, *self.shapes[n], 3), jnp.float32)))
        return gv, dv, self.adam.init(gv["params"]), self.adam.init(dv["params"])

    def _init_pyramid(self, key: Array) -> SinGANState:
        g, d, g_opt, d_opt = zip(*(self.init_scale(key, n) for n in range(self.num_scales)))
        return SinGANState(step=jnp.zeros((), jnp.int32), rng=jax.random.key_data(key), g=list(g), d=list(d),
                           g_opt=list(g_opt), d_opt=list(d_opt), noise_amp=jnp.zeros((self.num_scales,), jnp.float32),
                           z_opt=jnp.zeros(self._padded(0), jnp.float32))

    def param_counts(self, state: SinGANState) -> dict[str, int]:
        return {"g": sum(count_params(v["params"]) for v in state.g),
                "d": sum(count_params(v["params"]) for v in state.d)}

    # ------------------------------------------------------------ the noise
    def noise(self, key: Array, n: int, num: int = 1, shape: tuple[int, int] | None = None) -> Array:
        """N(0, 1) for scale n's G, padded; one channel copied to three at the
        coarsest scale (the reference's nc_z 3 above it)."""
        h, w = shape or self.shapes[n]
        p = self.pad
        if self.config.model.noise_padding:  # the reference's animation_train: noise over the padding too
            h, w, p = h + 2 * p, w + 2 * p, 0
        z = jax.random.normal(key, (num, h, w, 1 if n == 0 else 3), jnp.float32)
        return pad(jnp.broadcast_to(z, (num, h, w, 3)), p)

    def _g_eval(self, state: SinGANState, n: int, noise: Array, prev: Array) -> Array:
        return self.Gs[n].apply(state.g[n], noise, prev, train=False)

    def _upsample(self, x: Array, n: int) -> Array:
        """Scale n's image to scale n + 1: resized by 1 / scale_factor with the
        reference's uint8 round trip, cropped to the next scale's shape."""
        h, w = self.shapes[n + 1]
        return imresize.imresize_like_singan(x, 1 / self.scales.scale_factor)[:, :h, :w]

    def draw_concat(self, state: SinGANState, n: int, key: Array | None, num: int = 1) -> Array:
        """The reference's draw_concat for scale n: scale n's `prev` (unpadded)
        from the trained scales below, random ('rand', key given) or the
        reconstruction ('rec', key None: z_opt at the coarsest, zeros above)."""
        g_z = jnp.zeros((num, *self.shapes[0], 3), jnp.float32)
        for i in range(n):
            prev = pad(g_z, self.pad)
            if key is None:
                z = state.z_opt if i == 0 else jnp.zeros_like(prev)
            else:
                z = self.noise(jax.random.fold_in(key, i), i, num)
            g_z = self._upsample(self._g_eval(state, i, state.noise_amp[i] * z + prev, prev), i)
        return g_z

    # ------------------------------------------------------------- training
    def _lr(self, lr: float, it: Array) -> Array:
        o = self.config.optim
        return jnp.where(it + 1 >= o.decay_at, lr * o.gamma, lr)

    def train_step(self, n: int, state: SinGANState, reals: list[Array]) -> tuple[SinGANState, dict[str, Array]]:
        """One reference iteration at scale n (see the module docstring); with
        several images, of every pyramid at once (vmapped: one program, each
        pyramid its own networks, BatchNorm statistics and random numbers),
        the metrics averaged over the pyramids."""
        return self.step_pyramids(functools.partial(self._iteration, n), state, reals)

    def paint_step(self, n: int, state: SinGANState, centers: Array,
                   p: int = 0) -> tuple[SinGANState, dict[str, Array]]:
        """One iteration of the reference's train_paint at scale n of
        pyramid p (its state: `pyramid(state, p)`): as training's, with every
        `prev` G is given (the random one of each D step, the reconstruction's
        of the G steps) quantised to the colours `centers` [K, 3]
        (`kmeans.quantize_to_centers`), and scale n starting from the state's
        networks, not from scale n - 1's."""
        if not 1 <= n < self.num_scales:
            raise ValueError(f"the paint scale must be in [1, {self.num_scales - 1}], got {n}")
        reals = self.reals if self.num_pyramids == 1 else [r[p] for r in self.reals]
        return self._iteration(n, state, reals, centers=centers)

    def _iteration(self, n: int, state: SinGANState, reals: list[Array],
                   centers: Array | None = None) -> tuple[SinGANState, dict[str, Array]]:
        cfg = self.config
        real = reals[n]
        it = state.step - self.starts[n]  # the iteration within the scale, from 0
        key_noise, key_z, key_d, key_gp = jax.random.split(step_key(state), 4)
        g_vars, d_vars = state.g[n], state.d[n]
        # The reference's colour-quantised paint training (train_paint) quantises
        # the padded input image, padding included, as here.
        quantize = (lambda x: x) if centers is None else (lambda x: kmeans.quantize_to_centers(x, centers))
        if centers is None and n > 0 and \
                (self.widths[n], self.min_widths[n]) == (self.widths[n - 1], self.min_widths[n - 1]):
            first = it == 0
            take = lambda new, old: jax.tree_util.tree_map(lambda a, b: jnp.where(first, b, a), new, old)
            g_vars, d_vars = take(g_vars, state.g[n - 1]), take(d_vars, state.d[n - 1])

        noise = self.noise(key_noise, n)
        z_opt = state.z_opt
        noise_amp = state.noise_amp
        if n == 0:
            z_opt = self.noise(key_z, 0)  # drawn anew every iteration, the last one kept
            amp = jnp.float32(1.0)
            z_prev = jnp.zeros_like(noise)
            rec_noise = z_opt
        else:
            rec = self.draw_concat(state, n, None)
            amp = jnp.where(it == 0, cfg.loss.noise_amp * jnp.sqrt(jnp.mean(jnp.square(real - rec))),
                            noise_amp[n])
            # The reference quantises z_prev in each G step: once is the same
            # (its colours are the centers already).
            z_prev = quantize(pad(rec, self.pad))
            rec_noise = z_prev  # amp * 0 + z_prev: z_opt is zero above the coarsest scale
        noise_amp = noise_amp.at[n].set(amp)
        state = state.replace(noise_amp=noise_amp)

        G, D = self.Gs[n], self.Ds[n]
        lr_d, lr_g = self._lr(cfg.optim.lr_d, it), self._lr(cfg.optim.lr_g, it)

        def d_update(carry, keys):
            g_stats, d_vars, d_opt = carry
            key_prev, key_gp = keys
            prev = jnp.zeros_like(noise) if n == 0 else quantize(pad(self.draw_concat(state, n, key_prev), self.pad))
            g_in = noise if n == 0 else amp * noise + prev
            fake, g_new = G.apply({"params": g_vars["params"], "batch_stats": g_stats}, g_in, prev, train=True,
                                  mutable=["batch_stats"])

            def loss_fn(d_params):
                stats = d_vars["batch_stats"]
                out_real, new = D.apply({"params": d_params, "batch_stats": stats}, real, train=True,
                                        mutable=["batch_stats"])
                out_fake, new = D.apply({"params": d_params, "batch_stats": new["batch_stats"]}, fake, train=True,
                                        mutable=["batch_stats"])
                # D in train mode: its running statistics move with this call too, as the reference's
                critic = lambda x: D.apply({"params": d_params, "batch_stats": new["batch_stats"]}, x, train=True,
                                           mutable=["batch_stats"])
                gp, stats = gradient_penalty(critic, real, fake, jax.random.uniform(key_gp, ()),
                                             self.config.loss.gp_weight)
                stats = stats["batch_stats"]
                d_real, d_fake = jnp.mean(out_real), jnp.mean(out_fake)
                return -d_real + d_fake + gp, (stats, dict(d_real=d_real, d_fake=d_fake, gp=gp))

            (loss, (stats, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(d_vars["params"])
            updates, d_opt = self.adam.update(grads, d_opt)
            params = jax.tree_util.tree_map(lambda p, u: p - lr_d * u, d_vars["params"], updates)
            return (g_new["batch_stats"], {"params": params, "batch_stats": stats}, d_opt), \
                (dict(metrics, d_loss=loss), g_in, prev)

        d_keys = jax.random.split(key_d, cfg.train.d_steps), jax.random.split(key_gp, cfg.train.d_steps)
        (g_stats, d_vars, d_opt), (d_metrics, g_ins, prevs) = jax.lax.scan(
            d_update, (g_vars["batch_stats"], d_vars, state.d_opt[n]), d_keys)

        # The adversarial gradient at the last D step's fake (G's parameters
        # have not moved since), reused by every G step.
        def adv_loss(g_params):
            fake, _ = G.apply({"params": g_params, "batch_stats": g_stats}, g_ins[-1], prevs[-1], train=True,
                              mutable=["batch_stats"])
            out, _ = D.apply(d_vars, fake, train=True, mutable=["batch_stats"])
            return -jnp.mean(out)

        g_adv, adv_grads = jax.value_and_grad(adv_loss)(g_vars["params"])

        def g_update(carry, _):
            g_params, g_stats, g_opt = carry

            def rec_loss(p):
                out, new = G.apply({"params": p, "batch_stats": g_stats}, amp * rec_noise if n == 0 else rec_noise,
                                   z_prev, train=True, mutable=["batch_stats"])
                return cfg.loss.alpha * jnp.mean(jnp.square(out - real)), new["batch_stats"]

            (rec, g_stats), grads = jax.value_and_grad(rec_loss, has_aux=True)(g_params)
            grads = jax.tree_util.tree_map(jnp.add, adv_grads, grads)
            updates, g_opt = self.adam.update(grads, g_opt)
            g_params = jax.tree_util.tree_map(lambda p, u: p - lr_g * u, g_params, updates)
            return (g_params, g_stats, g_opt), rec

        (g_params, g_stats, g_opt), recs = jax.lax.scan(
            g_update, (g_vars["params"], g_stats, state.g_opt[n]), None, length=cfg.train.g_steps)

        def put(items, value):
            return [value if i == n else x for i, x in enumerate(items)]

        state = state.replace(
            step=state.step + 1, z_opt=z_opt,
            g=put(state.g, {"params": g_params, "batch_stats": g_stats}), d=put(state.d, d_vars),
            g_opt=put(state.g_opt, g_opt), d_opt=put(state.d_opt, d_opt))
        metrics = {k: v[-1] for k, v in d_metrics.items()}
        metrics.update(g_adv=g_adv, rec=recs[-1], noise_amp=amp, scale=jnp.float32(n))
        return state, metrics

    # ------------------------------------------------------------- sampling
    def current_scale(self, state: SinGANState) -> Array:
        """The scale the state trains (or trained last)."""
        return self.current_phase(state.step)

    def sample_shapes(self, scale_v: float = 1.0, scale_h: float = 1.0) -> list[tuple[int, int]]:
        """(H, W) of each scale's output for samples scale_v x scale_h the
        training image's size (SinGAN_generate: round(scale * size))."""
        return [(round(scale_v * h), round(scale_h * w)) for h, w in self.shapes]

    def _pyramid(self, state: SinGANState, g_z: Array, first: int, shapes: list[tuple[int, int]],
                 noise_at: Callable[[int, Array], Array], upto: Array | int | None = None) -> Array:
        """Scales `first` .. the finest on `g_z` (scale `first`'s input image,
        unpadded), scale i's noise `noise_at(i, prev)` (padded); each output
        resized by 1 / scale_factor and cropped to the next shape (stretched
        where the resize came out short, as the reference's upsampling). Scales
        above `upto` only upsample the one below. G uses BatchNorm's running
        statistics (the reference's G.eval())."""
        for i in range(first, len(shapes)):
            if i > first:
                shape = shapes[i]
                g_z = imresize.imresize_like_singan(g_z, 1 / self.scales.scale_factor)[:, :shape[0], :shape[1]]
                if g_z.shape[1:3] != shape:
                    g_z = resize_bilinear_align_corners(g_z, shape)
            prev = pad(g_z, self.pad)
            out = self._g_eval(state, i, state.noise_amp[i] * noise_at(i, prev) + prev, prev)
            g_z = out if upto is None else jnp.where(i <= upto, out, g_z)
        return jnp.clip(g_z, -1, 1)

    def _rec_noise(self, state: SinGANState, i: int, num: int) -> Array:
        """Scale i's reconstruction noise: z_opt at the coarsest, zeros above."""
        if i == 0:
            return jnp.broadcast_to(state.z_opt, (num, *state.z_opt.shape[1:]))
        return jnp.zeros(self._padded(i), jnp.float32).repeat(num, 0)

    def generate(self, state: SinGANState, key: Array | None, num: int = 1, *, scale_v: float = 1.0,
                 scale_h: float = 1.0, start_scale: int = 0, upto: Array | int | None = None) -> Array:
        """The reference's SinGAN_generate: `num` random samples [num, H, W, 3]
        in [-1, 1] at scale_v x scale_h the finest scale's size. Scales below
        `start_scale` use the reconstruction noise (z_opt at the coarsest,
        zeros above: their output is the training image's reconstruction);
        key None draws nothing (the reconstruction). Scales above `upto` (a
        traced int allowed: the grid of a run in progress) only upsample the
        one below."""
        shapes = self.sample_shapes(scale_v, scale_h)
        if start_scale > 0 and (scale_v, scale_h) != (1.0, 1.0):
            raise ValueError("samples of another size start at scale 0 (the reconstruction noise has the "
                             "training image's size)")

        def noise_at(i, prev):
            if key is None or i < start_scale:
                return self._rec_noise(state, 0, num) if i == 0 else jnp.zeros_like(prev)
            return self.noise(jax.random.fold_in(key, i), i, num, shapes[i])

        return self._pyramid(state, jnp.zeros((num, *shapes[0], 3), jnp.float32), 0, shapes, noise_at, upto)

    def inject(self, state: SinGANState, key: Array, image: Array, scale: int) -> Array:
        """The applications' SinGAN_generate(Gs[n:], ..., in_s=image, n=scale)
        (harmonization, editing, paint-to-image): `image` [num, H, W, 3] of
        scale `scale`'s shape goes through that scale and every finer one,
        random noise at each."""
        if image.shape[1:3] != self.shapes[scale]:
            raise ValueError(f"the injected image is {image.shape[1:3]}; scale {scale} is {self.shapes[scale]}")
        num = image.shape[0]
        noise_at = lambda i, prev: self.noise(jax.random.fold_in(key, i), i, num)
        return self._pyramid(state, image, scale, self.shapes, noise_at)

    def super_resolve(self, state: SinGANState, key: Array, image: Array, sr_factor: float) -> Array:
        """SR.py: the finest scale's G applied iter_num times, each time to
        its last output upscaled by in_scale (`imresize.singan_sr_scale`; the
        first time to `image` upscaled), random noise of its noise amplitude
        each time; the result [num, sr_factor H, sr_factor W, 3] (truncated).
        The model is the one of `configs/singan.py:sr` (trained with scale
        factor 1 / in_scale)."""
        in_scale, iter_num = imresize.singan_sr_scale(sr_factor)
        up = 1 / (1 / in_scale)  # the reference's 1 / opt.scale_factor
        h, w = image.shape[1:3]
        num, last = image.shape[0], self.num_scales - 1
        x = imresize.imresize_like_singan(image, up)
        for j in range(iter_num):
            if j > 0:
                x = imresize.imresize_like_singan(x, up)
            prev = pad(x, self.pad)
            # SinGAN_generate's first scale draws one channel copied to three, as the coarsest scale does
            z = self.noise(jax.random.fold_in(key, j), 0 if j == 0 else last, num, x.shape[1:3])
            x = self._g_eval(state, last, state.noise_amp[last] * z + prev, prev)
        return jnp.clip(x[:, :int(sr_factor * h), :int(sr_factor * w)], -1, 1)

    def animation_noise(self, state: SinGANState, key: Array, frames: int, *, start_scale: int = 2,
                        alpha: float = 0.1, beta: float = 0.9) -> list[Array]:
        """generate_gif's random walks: per scale the noise of each frame
        [frames, H + 2p, W + 2p, 3], drawn over the padding too. z_1 = 0.95
        Z + 0.05 r, z_0 = Z; z_t = alpha Z + (1 - alpha) (z_{t-1} + beta
        (z_{t-1} - z_{t-2}) + (1 - beta) r_t), Z the reconstruction noise, r
        N(0, 1) (one channel copied to three at the coarsest scale); scales
        below `start_scale` keep Z in every frame."""
        walks = []
        for i in range(self.num_scales):
            Z = self._rec_noise(state, i, 1)[0]
            if i < start_scale:
                walks.append(jnp.broadcast_to(Z, (frames, *Z.shape)))
                continue
            draw = lambda k: jnp.broadcast_to(jax.random.normal(k, (*Z.shape[:2], 1 if i == 0 else 3)), Z.shape)
            k0, kw = jax.random.split(jax.random.fold_in(key, i))

            def step(carry, k):
                z1, z2 = carry
                z = alpha * Z + (1 - alpha) * (z1 + beta * (z1 - z2) + (1 - beta) * draw(k))
                return (z, z1), z

            _, zs = jax.lax.scan(step, (0.95 * Z + 0.05 * draw(k0), Z), jax.random.split(kw, frames))
            walks.append(zs)
        return walks

    def animate(self, state: SinGANState, walks: list[Array]) -> Array:
        """The frames [F, H, W, 3] of `animation_noise`'s walks (a slice of
        frames at a time is fine: frames are independent given their noise)."""
        num = walks[0].shape[0]
        zeros = jnp.zeros((num, *self.shapes[0], 3), jnp.float32)
        return self._pyramid(state, zeros, 0, self.shapes, lambda i, prev: walks[i])

    def grid_inputs(self, key: Array, num: int) -> Array:
        return jax.random.key_data(jax.random.split(key, num))

    def sample_grid(self, state: SinGANState, keys: Array) -> Array:
        """The reconstruction, then random samples, of the scales trained so
        far, at the finest scale's size; with several images, a row each."""
        upto = self.current_scale(state)
        rows = []
        for p in range(self.num_pyramids):
            one = self.pyramid(state, p)
            rows.append(self.generate(one, None, 1, upto=upto))
            rows.append(self.generate(one, jax.random.wrap_key_data(keys[0]), keys.shape[0] - 1, upto=upto))
        return jnp.concatenate(rows)

