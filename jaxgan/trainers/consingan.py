"""Trainer of ConSinGAN (`trainer = "consingan"`; Hinz et al. 2021), as its
reference trains unconditional generation (github.com/tohinz/ConSinGAN,
ConSinGAN/training_generation.py, train_mode 'generation').

One generator grows a stage per pyramid level (jaxgan.models.consingan); the
last `train_depth` stages train together, lower ones at learning rates scaled
by lr_scale per stage. The pyramid has `train_stages` levels, more of them
near the finest resolution (jaxgan.imresize.consingan_reals_pyramid). One
phase per stage, `iters_per_stage` loop steps each (or `stage_iters`, a
count per stage); a loop step is one reference iteration, jitted whole:

- noise for every stage: N(0, 1), 3 channels at the coarsest level, nfc
  channels at the later ones (drawn at their size + 2 num_layer);
- `d_steps` D updates on the same fake (G does not move in between):
  -D(real) + D(fake) + gp_weight * the per-pixel gradient penalty at a fresh
  interpolation weight each;
- one G gradient of -D(fake) + alpha * MSE(G(fixed noise), real), applied
  `g_steps` times by Adam (the reference calls optimizerG.step() Gsteps times
  after one backward), with per-stage learning rates
  (jaxgan.models.consingan.lr_multipliers; frozen stages get no gradient);
- learning rates x gamma from 0.8 x the stage's iterations on (MultiStepLR
  stepped after the updates).

At a stage's first iteration, as the reference does between stages: the new
body stage starts as a copy of the one below (init_next_stage), both Adam
states restart, the stage's fixed noise is drawn (the coarsest stage's is the
coarsest real image itself), and its noise amplitude is noise_amp x the RMSE
of the reconstruction with the new stage's amplitude at 0 (1 at stage 0). D
carries on across stages (the reference reloads it).

State: {step, rng, g (every stage's parameters from the start; a stage not
reached yet is overwritten when it starts), d, g_opt, d_opt, noise_amp
[stages], fixed_noise (one array per stage)}.

Several images of one size (config.data.image 'a.png,b.png') train as a
batch of independent pyramids in one program, as SinGAN's
(jaxgan.trainers.single_image.SingleImageTrainer.read_pyramids).

config.model.train_mode 'editing' is the reference's editing model
(ConSinGAN/training_harmonization_editing.py; configs/consingan.py:editing):
G's editing forward (no upsampling after the head, noise at each level's
size), stage 0's input at every iteration the coarsest image tile-shuffled
(`shuffle_grid`) plus noise_scaling x N(0, 1), and its fixed noise the
coarsest image plus noise_scaling x N(0, 1). One image only.
"""

from __future__ import annotations

import functools
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan import imresize
from jaxgan.data.single_image import read_image
from jaxgan.models import init_noise
from jaxgan.models.consingan import (ConSinGANDiscriminator, ConSinGANGenerator, lr_multipliers, noise_shapes,
                                     sample_noise)
from jaxgan.state import count_params, step_key
from jaxgan.trainers.single_image import SingleImageTrainer, gradient_penalty

Array = jax.Array
TRAIN_MODES = ("generation", "editing")  # the reference's main_train.py --train_mode values built here


@flax.struct.dataclass
class ConSinGANState:
    step: Array
    rng: Array
    g: Any  # {'params': head, body_0 .. body_{S-1}, tail_0}
    d: Any
    g_opt: Any  # optax.scale_by_adam's state over all of G's parameters
    d_opt: Any
    noise_amp: Array  # [stages]
    fixed_noise: Any  # per stage: the reconstruction's noise


def build_pyramid(config: Any, spec: str) -> tuple[list[np.ndarray], imresize.ConSinGANScales]:
    """The pyramid of the image `spec` (coarsest first, each [1, H, W, 3] in
    [-1, 1]) and its scales, as the reference's adjust_scales2image and
    create_reals_pyramid."""
    m = config.model
    image = imresize.singan_from_uint8(read_image(spec))
    real, scales = imresize.consingan_adjust_scales2image(image, train_stages=m.train_stages, min_size=m.min_size,
                                                          max_size=m.max_size)
    reals = imresize.consingan_reals_pyramid(real, scales.scale_factor, scales.stop_scale)
    return [np.asarray(r, np.float32)[None] for r in reals], scales


# --------------------------------------------------------------------------
# The editing model's training input (training_harmonization_editing.py)

# shuffle_grid's tile sizes and shifts per number of tiles (1..5), as fractions
# of the image's sides: (size min, size max, shift min, shift max)
_SHUFFLE_FRACTIONS = np.array([(0.2, 0.5, 0.05, 0.15), (0.15, 0.3, 0.05, 0.1), (0.1, 0.2, 0.05, 0.1),
                               (0.1, 0.15, 0.05, 0.1), (0.1, 0.15, 0.05, 0.1)])
MAX_TILES = 5


def shuffle_grid_draws(key: Array, height: int, width: int) -> dict[str, Array]:
    """The random numbers of the reference's shuffle_grid(image, max_tiles=5)
    in the order it draws them: the number of tiles (1..5), then per tile
    its corner, size and shift (random.randint: both ends included) and the
    shift's direction (random.random() < 0.5: towards the origin); the ranges
    are int(side x fraction) of the number of tiles. Drawn for all 5 tiles;
    only the first `tiles` are used."""
    k_tiles, k_corner, k_size, k_shift, k_dir = jax.random.split(key, 5)
    tiles = jax.random.randint(k_tiles, (), 1, MAX_TILES + 1)
    sides = np.array([height, width])
    table = np.floor(_SHUFFLE_FRACTIONS[:, :, None] * sides).astype(np.int32)  # [5 tile counts, 4, 2 sides]
    lo_size, hi_size, lo_shift, hi_shift = (jnp.asarray(table)[tiles - 1, i] for i in range(4))
    shape = (MAX_TILES, 2)
    return dict(tiles=tiles,
                corner=jax.random.randint(k_corner, shape, 0, jnp.asarray(sides) + 1),
                size=jax.random.randint(k_size, shape, lo_size, hi_size + 1),
                shift=jax.random.randint(k_shift, shape, lo_shift, hi_shift + 1),
                back=jax.random.uniform(k_dir, (MAX_TILES,)) < 0.5)


def shuffle_grid(image: Array, draws: dict[str, Array]) -> Array:
    """The reference's shuffle_grid of an [H, W, C] image with `draws`
    (shuffle_grid_draws): each tile (corner c, size s, cut at the far border)
    is copied from the original image to c + shift, the shift clipped to keep
    the tile inside; later tiles over earlier ones."""
    sides = jnp.asarray(image.shape[:2])
    rows, cols = jnp.meshgrid(jnp.arange(image.shape[0]), jnp.arange(image.shape[1]), indexing="ij")
    out = image
    for t in range(MAX_TILES):
        corner = draws["corner"][t]
        size = jnp.where(corner + draws["size"][t] >= sides, sides - corner, draws["size"][t])
        shift = draws["shift"][t]
        back = jnp.maximum(-shift, -corner)  # not past the origin
        forth = jnp.where(corner + shift + size >= sides, sides - size - corner, shift)  # not past the far side
        new = corner + jnp.where(draws["back"][t], back, forth)
        inside = (t < draws["tiles"]) & (rows >= new[0]) & (rows < new[0] + size[0]) & \
            (cols >= new[1]) & (cols < new[1] + size[1])
        src = image[jnp.clip(rows - new[0] + corner[0], 0, image.shape[0] - 1),
                    jnp.clip(cols - new[1] + corner[1], 0, image.shape[1] - 1)]
        out = jnp.where(inside[..., None], src, out)
    return out


class ConSinGANTrainer(SingleImageTrainer):
    phase_name = "stage"

    def __init__(self, config: Any, mesh: Any = None):
        self.config = config
        m = config.model
        if m.train_depth < 1:
            raise ValueError(f"config.model.train_depth must be >= 1, got {m.train_depth}")
        self.scales = self.read_pyramids(config, lambda spec: build_pyramid(config, spec))[0][1]
        self.shapes = [tuple(r.shape[-3:-1]) for r in self.reals]
        self.num_scales = len(self.reals)
        self.read_iterations(config.train, "iters_per_stage", "stage_iters")
        for name in ("d_steps", "g_steps"):
            if config.train[name] < 1:
                raise ValueError(f"config.train.{name} must be >= 1, got {config.train[name]}")
        # runs from before the editing model have no train_mode in their config.json
        self.train_mode = m.get("train_mode", "generation")
        if self.train_mode not in TRAIN_MODES:
            raise ValueError(f"config.model.train_mode must be one of {TRAIN_MODES} (the reference's "
                             f"harmonization, retarget and animation models are not built), got {self.train_mode!r}")
        self.editing = self.train_mode == "editing"
        if self.editing and self.num_pyramids > 1:
            raise ValueError("config.model.train_mode 'editing' trains one image: give config.data.image one file")
        kw = dict(nfc=m.nfc, num_layer=m.num_layer, ker_size=m.kernel_size, activation=m.activation,
                  lrelu_alpha=m.lrelu_alpha, batch_norm=m.batch_norm, train_mode=self.train_mode)
        self.Gs = [ConSinGANGenerator(num_stages=s + 1, **kw) for s in range(self.num_scales)]
        self.D = ConSinGANDiscriminator(nfc=m.nfc, num_layer=m.num_layer, ker_size=m.kernel_size,
                                        activation=m.activation, lrelu_alpha=m.lrelu_alpha)
        o = config.optim
        self.adam = optax.scale_by_adam(b1=o.b1, b2=o.b2, eps=o.eps)

    # --------------------------------------------------------------- state
    def noise_shapes(self, stages: int, num: int = 1, shapes=None) -> list[tuple[int, ...]]:
        m = self.config.model
        return noise_shapes(shapes or self.shapes, stages, num, m.nfc, m.num_layer, train_mode=self.train_mode)

    def noise(self, key: Array, stages: int, num: int = 1, shapes=None) -> list[Array]:
        """Random noise of `stages` stages; the editing model's stage 0 is
        the coarsest image tile-shuffled plus noise (`editing_input`)."""
        m = self.config.model
        noise = sample_noise(key, shapes or self.shapes, stages, num, m.nfc, m.num_layer, train_mode=self.train_mode)
        if self.editing:
            keys = jax.random.split(jax.random.fold_in(key, MAX_TILES), num)
            noise[0] = jax.vmap(self.editing_input)(keys)
        return noise

    def editing_input(self, key: Array) -> Array:
        """The editing model's stage-0 input [H, W, 3]: the coarsest image
        tile-shuffled (shuffle_grid) plus noise_scaling x N(0, 1)."""
        k_tiles, k_noise = jax.random.split(key)
        image = jnp.asarray(self.reals[0][0])
        shuffled = shuffle_grid(image, shuffle_grid_draws(k_tiles, *image.shape[:2]))
        return shuffled + self.config.model.noise_scaling * jax.random.normal(k_noise, image.shape)

    def init_state(self, key: Array) -> ConSinGANState:
        """G with every stage, D (of every pyramid: `init_pyramids`)."""
        return self.init_pyramids(self._init_pyramid, key)

    def _init_pyramid(self, key: Array) -> ConSinGANState:
        k_g, k_d = jax.random.split(key)
        noise = [jnp.zeros(s, jnp.float32) for s in self.noise_shapes(self.num_scales)]
        amp = jnp.ones((self.num_scales,), jnp.float32)
        g = init_noise.one_draw(lambda k: self.Gs[-1].init(k, noise, self.shapes, amp))(k_g)
        d = init_noise.one_draw(lambda k: self.D.init(k, jnp.zeros((1, *self.shapes[0], 3), jnp.float32)))(k_d)
        return ConSinGANState(step=jnp.zeros((), jnp.int32), rng=jax.random.key_data(key), g=dict(g), d=dict(d),
                              g_opt=self.adam.init(g["params"]), d_opt=self.adam.init(d["params"]),
                              noise_amp=jnp.zeros((self.num_scales,), jnp.float32), fixed_noise=noise)

    def param_counts(self, state: ConSinGANState) -> dict[str, int]:
        return {"g": count_params(state.g["params"]), "d": count_params(state.d["params"])}

    # ---------------------------------------------------------- networks
    def _g_variables(self, g: Any, stages: int) -> dict:
        """G's variables restricted to its first `stages` stages."""
        keep = lambda tree: {k: v for k, v in tree.items() if not k.startswith("body_")
                             or int(k.removeprefix("body_")) < stages}
        return {c: keep(tree) for c, tree in g.items()}

    def _g_apply(self, g: Any, stages: int, noise: list[Array], noise_amp: Array, shapes=None):
        """G with `stages` stages, batch statistics in its batch norms (the
        reference never switches G to eval): (images, new batch_stats or None)."""
        variables = self._g_variables(g, stages)
        G = self.Gs[stages - 1]
        if "batch_stats" in variables:
            out, new = G.apply(variables, noise[:stages], shapes or self.shapes, noise_amp, train=True,
                               mutable=["batch_stats"])
            return out, new["batch_stats"]
        return G.apply(variables, noise[:stages], shapes or self.shapes, noise_amp, train=True), None

    # ------------------------------------------------------------- training
    def _lr(self, lr: float, it: Array, s: int) -> Array:
        o = self.config.optim
        return jnp.where(it >= o.decay_at * self.iters[s], lr * o.gamma, lr)

    def _start_stage(self, s: int, state: ConSinGANState, reals: list[Array], key: Array) -> ConSinGANState:
        """What the reference does before stage s's first iteration (module docstring)."""
        g_params = dict(state.g["params"])
        g = dict(state.g)
        if s > 0:
            g_params[f"body_{s}"] = g_params[f"body_{s - 1}"]
            if "batch_stats" in g:
                stats = dict(g["batch_stats"])
                stats[f"body_{s}"] = stats[f"body_{s - 1}"]
                g["batch_stats"] = stats
        g["params"] = g_params
        fixed = list(state.fixed_noise)
        if s == 0:  # the image itself (editing: plus noise_scaling x N(0, 1))
            fixed[0] = jnp.asarray(reals[0])
            if self.editing:
                fixed[0] = fixed[0] + self.config.model.noise_scaling * jax.random.normal(key, fixed[0].shape)
            amp = jnp.float32(1.0)
        else:
            shape = self.noise_shapes(s + 1)[s]
            fixed[s] = jax.random.normal(key, shape, jnp.float32)
            rec, _ = self._g_apply(g, s + 1, fixed, state.noise_amp.at[s].set(0.0))
            amp = self.config.loss.noise_amp * jnp.sqrt(jnp.mean(jnp.square(rec - reals[s])))
        return state.replace(g=g, fixed_noise=fixed, noise_amp=state.noise_amp.at[s].set(amp),
                             g_opt=self.adam.init(g_params), d_opt=self.adam.init(state.d["params"]))

    def train_step(self, s: int, state: ConSinGANState, reals: list[Array]) -> tuple[ConSinGANState, dict]:
        """One reference iteration at stage s (see the module docstring); with
        several images, of every pyramid at once (`step_pyramids`)."""
        return self.step_pyramids(functools.partial(self._iteration, s), state, reals)

    def _iteration(self, s: int, state: ConSinGANState, reals: list[Array]) -> tuple[ConSinGANState, dict]:
        cfg = self.config
        real = reals[s]
        it = state.step - self.starts[s]
        key_start, key_noise, key_gp = jax.random.split(step_key(state), 3)
        state = jax.lax.cond(it == 0, lambda st: self._start_stage(s, st, reals, key_start), lambda st: st, state)
        stages = s + 1
        noise = self.noise(key_noise, stages)
        lr_d, lr_g = self._lr(cfg.optim.lr_d, it, s), self._lr(cfg.optim.lr_g, it, s)

        # Stages below the trained ones: constants (no weight gradients computed).
        mult = {("tail_0" if k == "tail" else k): v
                for k, v in lr_multipliers(stages, cfg.model.train_depth, cfg.model.lr_scale).items()}
        frozen = {k for k, v in mult.items() if v == 0.0}

        def g_out(g_params, noise_list, stats_in):
            params = {k: (jax.lax.stop_gradient(v) if k in frozen else v) for k, v in g_params.items()}
            g = {"params": params} if stats_in is None else {"params": params, "batch_stats": stats_in}
            return self._g_apply(g, stages, noise_list, state.noise_amp)

        # The fake's forward pass is kept for G's adversarial gradient, as the
        # reference back-propagates through the fake it gave D (one G forward
        # fewer per iteration: 6 of stage 5's 118 GFLOP at the CPU default).
        stats0 = state.g.get("batch_stats")
        fake, fake_vjp, fake_stats = jax.vjp(lambda p: g_out(p, noise, stats0), state.g["params"], has_aux=True)
        D = self.D

        def d_update(carry, key):
            d_params, d_opt = carry

            def loss_fn(p):
                critic = lambda x: (D.apply({"params": p}, x), None)
                d_real, d_fake = jnp.mean(critic(real)[0]), jnp.mean(critic(fake)[0])
                gp, _ = gradient_penalty(critic, real, fake, jax.random.uniform(key, ()), cfg.loss.gp_weight)
                return -d_real + d_fake + gp, dict(d_real=d_real, d_fake=d_fake, gp=gp)

            (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(d_params)
            updates, d_opt = self.adam.update(grads, d_opt)
            d_params = jax.tree_util.tree_map(lambda p, u: p - lr_d * u, d_params, updates)
            return (d_params, d_opt), dict(metrics, d_loss=loss)

        (d_params, d_opt), d_metrics = jax.lax.scan(d_update, (state.d["params"], state.d_opt),
                                                    jax.random.split(key_gp, cfg.train.d_steps))

        g_adv, adv_wrt_fake = jax.value_and_grad(lambda x: -jnp.mean(D.apply({"params": d_params}, x)))(fake)

        def rec_loss(g_params):
            rec_img, stats = g_out(g_params, state.fixed_noise, fake_stats)
            return cfg.loss.alpha * jnp.mean(jnp.square(rec_img - real)), stats

        (rec, g_stats), rec_grads = jax.value_and_grad(rec_loss, has_aux=True)(state.g["params"])
        grads = jax.tree_util.tree_map(jnp.add, fake_vjp(adv_wrt_fake)[0], rec_grads)
        lrs = {k: lr_g * mult.get(k, 0.0) for k in grads}

        def g_update(carry, _):
            params, opt = carry
            updates, opt = self.adam.update(grads, opt)
            params = {k: jax.tree_util.tree_map(lambda p, u: p - lrs[k] * u, params[k], updates[k]) for k in params}
            return (params, opt), None

        (g_params, g_opt), _ = jax.lax.scan(g_update, (state.g["params"], state.g_opt), None,
                                            length=cfg.train.g_steps)
        if g_stats is not None:  # the trained stages' running statistics; the stages above keep theirs
            g_stats = {**state.g["batch_stats"], **g_stats}
        g = {"params": g_params} if g_stats is None else {"params": g_params, "batch_stats": g_stats}
        state = state.replace(step=state.step + 1, g=g, d={"params": d_params}, g_opt=g_opt, d_opt=d_opt)
        metrics = {k: v[-1] for k, v in d_metrics.items()}
        metrics.update(g_adv=g_adv, rec=rec, noise_amp=state.noise_amp[s], stage=jnp.float32(s))
        return state, metrics

    # ------------------------------------------------------------- sampling
    def current_stage(self, state: ConSinGANState) -> Array:
        return self.current_phase(state.step)

    def sample_shapes(self, scale_v: float = 1.0, scale_h: float = 1.0) -> list[tuple[int, int]]:
        """Each level's (H, W) for samples scale_v x scale_h the image's size
        (evaluate_model.py: int(scale * size))."""
        return [(int(h * scale_v), int(w * scale_h)) for h, w in self.shapes]

    def generate(self, state: ConSinGANState, key: Array | None, num: int = 1, *, scale_v: float = 1.0,
                 scale_h: float = 1.0, start_scale: int = 0, stages: int | None = None) -> Array:
        """`num` random samples [num, H, W, 3] in [-1, 1] of G with `stages`
        stages (default all), at scale_v x scale_h the image's size; key None:
        the reconstruction. Stages below `start_scale` take the fixed noise
        (the reconstruction's), as SinGAN's gen_start_scale."""
        stages = stages or self.num_scales
        shapes = self.sample_shapes(scale_v, scale_h)
        if (key is None or start_scale > 0) and (scale_v, scale_h) != (1.0, 1.0):
            raise ValueError("the reconstruction and samples from a start scale have the training image's size")
        if self.editing and key is not None and (scale_v, scale_h) != (1.0, 1.0):
            raise ValueError("the editing model's samples have the training image's size (stage 0 is the image)")
        fixed = [jnp.broadcast_to(z, (num, *z.shape[1:])) for z in state.fixed_noise]
        noise = fixed if key is None else self.noise(key, self.num_scales, num, shapes)
        noise = [fixed[i] if i < start_scale else z for i, z in enumerate(noise)]
        if self.config.model.batch_norm and num > 1:
            # The reference draws one image at a time: BatchNorm normalises each by its own statistics.
            one = lambda z: self._g_apply(state.g, stages, [x[None] for x in z], state.noise_amp, shapes)[0][0]
            return jax.vmap(one)(noise)
        out, _ = self._g_apply(state.g, stages, noise, state.noise_amp, shapes)
        return out

    def grid_inputs(self, key: Array, num: int) -> Array:
        return jax.random.key_data(key)

    def sample_grid(self, state: ConSinGANState, key_data: Array) -> Array:
        """The reconstruction, then random samples, of the stages trained so
        far, resized to the finest level's size (jitted once: one branch per
        stage); with several images, a row each."""
        return jnp.concatenate([self._pyramid_grid(self.pyramid(state, p), key_data)
                                for p in range(self.num_pyramids)])

    def _pyramid_grid(self, state: ConSinGANState, key_data: Array) -> Array:
        num = self.config.samples.num
        h, w = self.shapes[-1]

        def branch(s):
            def f(state):
                imgs = jnp.concatenate([self.generate(state, None, 1, stages=s + 1),
                                        self.generate(state, jax.random.wrap_key_data(key_data), num - 1,
                                                      stages=s + 1)])
                return jax.image.resize(imgs, (num, h, w, 3), "bilinear") if s + 1 < self.num_scales else imgs
            return f

        return jax.lax.switch(self.current_stage(state), [branch(s) for s in range(self.num_scales)], state)
