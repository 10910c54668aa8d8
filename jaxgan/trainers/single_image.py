"""What the single-image GAN trainers (SinGAN, ConSinGAN) share: padding and
resizing helpers, the WGAN-GP penalty as both references compute it, and the
evaluation and `--mode sample` of a trained pyramid (`SingleImageTrainer`,
the base of jaxgan.trainers.singan and jaxgan.trainers.consingan)."""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import parallel
from jaxgan.trainers import check_sample_format, define_flag, define_image_sample_flags, write_image_samples
from jaxgan.trainers.protocol import Phase

Array = jax.Array


def pad(x: Array, p: int) -> Array:
    """Zero padding of NHWC images by p pixels on every side (torch's ZeroPad2d(p))."""
    return jnp.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))


def resize_bilinear_align_corners(x: Array, shape: tuple[int, int]) -> Array:
    """torch's interpolate(mode='bilinear', align_corners=True) of NHWC x to
    (H, W) (SinGAN's functions.upsampling)."""
    for axis, out in zip((1, 2), shape):
        n = x.shape[axis]
        pos = np.arange(out) * ((n - 1) / (out - 1) if out > 1 else 0.0)
        lo = np.clip(np.floor(pos).astype(np.int32), 0, n - 1)
        hi = np.minimum(lo + 1, n - 1)
        w = jnp.asarray(pos - lo, jnp.float32).reshape([-1 if a == axis else 1 for a in range(4)])
        x = jnp.take(x, lo, axis=axis) * (1 - w) + jnp.take(x, hi, axis=axis) * w
    return x


def gradient_penalty(critic: Callable[[Array], tuple[Array, Any]], real: Array, fake: Array, a: Array,
                     weight: float) -> tuple[Array, Any]:
    """Both references' calc_gradient_penalty: weight * the mean over pixels
    of (|grad_x sum D(x)| - 1)^2 at x = a real + (1 - a) fake, one a for the
    batch, the norm taken per pixel over the channels (gradients.norm(2,
    dim=1)), not per image. `critic(x) -> (scores, aux)`; returns (penalty, aux)."""
    interp = a * real + (1 - a) * fake

    def total(x):
        out, aux = critic(x)
        return jnp.sum(out), aux

    grads, aux = jax.grad(total, has_aux=True)(interp)
    norms = jnp.sqrt(jnp.sum(jnp.square(grads), axis=-1))
    return weight * jnp.mean(jnp.square(norms - 1)), aux


def psnr(images: Any, reference: Any) -> float:
    """PSNR in dB of [-1, 1] images against the reference (peak-to-peak 2)."""
    mse = float(np.mean(np.square(np.asarray(images, np.float64) - np.asarray(reference, np.float64))))
    return float(10 * np.log10(4 / max(mse, 1e-12)))


class SingleImageTrainer:
    """Evaluation and `--mode sample` of a single-image GAN. A subclass has
    `config`, `reals` (the pyramid, coarsest first, each [1, H, W, 3]),
    `num_scales`, `iters` (loop steps of each scale, a list: `read_iterations`)
    and `starts` (each scale's first step), `train_step(n, state,
    reals)` (scale n's step) and `generate(state, key, num, *, scale_v,
    scale_h, start_scale)` -> [num, H, W, 3] in [-1, 1] (key None: the
    reconstruction)."""

    grid_name = "samples"
    grid_columns = None
    grid_text = None
    best_metric = None
    phase_name = "scale"  # the phases are <phase_name>0, <phase_name>1, ...
    # Several images of one size (config.data.image 'a.png,b.png', which none
    # of the references do) train as a batch of independent pyramids in one
    # program: every leaf of the state but the step gets a leading axis of
    # pyramids (each its own networks, optimizers, statistics and key), and
    # so does every level of `reals`.
    num_pyramids = 1

    def read_pyramids(self, config: Any, build: Callable[[str], tuple]) -> list[tuple]:
        """`build(spec)` for each image of config.data.image (comma-separated):
        (the pyramid (a list of [1, H, W, 3]), its scales, ...); sets
        `num_pyramids`, `reals` (stacked [P, 1, H, W, 3] for several) and, for
        several, a grid row of samples per pyramid. Images whose pyramids
        differ in shapes or scales fail, naming both."""
        specs = [spec.strip() for spec in config.data.image.split(",")]
        built = [build(spec) for spec in specs]
        shapes = [[r.shape[1:3] for r in b[0]] for b in built]
        for spec, shape, b in zip(specs[1:], shapes[1:], built[1:]):
            if (shape, b[1]) != (shapes[0], built[0][1]):
                factor = lambda b: getattr(b[1], "scale_factor", "?")
                raise ValueError(f"config.data.image: pyramids trained together need images of one size: "
                                 f"{specs[0]!r} gives scales {shapes[0]} (factor {factor(built[0])}), {spec!r} "
                                 f"{shape} (factor {factor(b)})")
        self.num_pyramids = len(specs)
        self.reals = built[0][0]
        if self.num_pyramids > 1:
            self.reals = [np.stack([b[0][n] for b in built]) for n in range(len(self.reals))]
            self.grid_columns = int(config.samples.num)  # a row of samples per pyramid
        return built

    def init_pyramids(self, init_one: Callable[[Array], Any], key: Array) -> Any:
        """`init_one(key)` (a state), or with several images each pyramid's
        from its own key, stacked, the step shared."""
        if self.num_pyramids == 1:
            return init_one(key)
        state = jax.vmap(init_one)(jax.random.split(key, self.num_pyramids))
        return state.replace(step=jnp.zeros((), jnp.int32))

    def step_pyramids(self, iteration: Callable[[Any, list[Array]], tuple[Any, dict]], state: Any,
                      reals: list[Array]) -> tuple[Any, dict]:
        """`iteration(state, reals)`, or with several images every pyramid's
        at once (vmapped: one program), the metrics averaged over them."""
        if self.num_pyramids == 1:
            return iteration(state, reals)
        axes = jax.tree_util.tree_map(lambda _: 0, state.replace(step=None)).replace(step=None)
        state, metrics = jax.vmap(iteration, in_axes=(axes, 0), out_axes=(axes, 0))(state, reals)
        return state, jax.tree_util.tree_map(lambda m: jnp.mean(m, axis=0), metrics)

    def state_sharding(self, mesh: Any, abstract: Any) -> Any:
        """Several pyramids on several devices: their axis split over the
        devices (each device trains its own pyramids), when their number
        divides evenly among them; else, and for one pyramid, replicated."""
        replicated = parallel.replicated(mesh)
        if self.num_pyramids == 1 or mesh.size == 1 or self.num_pyramids % mesh.size:
            if self.num_pyramids > 1 and mesh.size > 1:
                logging.info("%d pyramids do not divide among %d devices: each device trains all of them",
                             self.num_pyramids, mesh.size)
            return jax.tree_util.tree_map(lambda _: replicated, abstract)
        split = parallel.batch_sharding(mesh)  # the leading axis over the devices
        return jax.tree_util.tree_map(lambda _: split, abstract.replace(step=None)).replace(step=replicated)

    def pyramid(self, state: Any, p: int) -> Any:
        """Pyramid p's state (all of it when there is one), what `generate` takes."""
        if self.num_pyramids == 1:
            return state
        return jax.tree_util.tree_map(lambda x: x[p], state.replace(step=None)).replace(step=state.step)

    def finest(self, p: int = 0) -> np.ndarray:
        """Pyramid p's finest scale [1, H, W, 3]."""
        return self.reals[-1] if self.num_pyramids == 1 else self.reals[-1][p]

    def check_data(self, data: Any) -> None:
        pass  # the trainer reads config.data.image itself

    def read_iterations(self, train: Any, name: str, each: str = "") -> None:
        """`iters`, the loop steps of each of the `num_scales` phases:
        train.<name> for every phase, or train.<each> where set, one count per
        phase ('600,600,600,300,300,200': cheap coarse phases can get more
        than the costly fine ones); and `starts`, each phase's first step."""
        counts = str(train[each]).strip() if each else ""
        field = each if counts else name
        try:
            iters = [int(v) for v in counts.split(",")] if counts else [int(train[name])] * self.num_scales
        except ValueError:
            raise ValueError(f"config.train.{field} must be whole numbers, got {train[field]!r}") from None
        if len(iters) != self.num_scales:
            raise ValueError(f"config.train.{field} needs one count per {self.phase_name} "
                             f"({self.num_scales}), got {len(iters)}: {counts!r}")
        if min(iters) < 1:
            raise ValueError(f"config.train.{field} must be >= 1, got {train[field]!r}")
        self.iters = iters
        self.starts = [int(v) for v in np.cumsum([0] + iters[:-1])]

    def current_phase(self, step: Array) -> Array:
        """The phase the last step (step - 1) was in: that of the state's networks."""
        ends = jnp.asarray(np.cumsum(self.iters)[:-1], jnp.int32)
        return jnp.searchsorted(ends, jnp.maximum(step - 1, 0), side="right")

    def phases(self) -> list[Phase]:
        """One phase per scale, `iters[n]` steps each, no batches drawn; the
        pyramid is the steps' constants."""
        reals = lambda abstract=False: [jax.ShapeDtypeStruct(r.shape, r.dtype) for r in self.reals] \
            if abstract else list(self.reals)
        return [Phase(f"{self.phase_name}{n}", self.iters[n], (lambda n: lambda s, b, c: self.train_step(n, s, c))(n),
                      batch_keys=(), constants=reals) for n in range(self.num_scales)]

    def evaluator(self, workdir: str, mesh: Any):
        """Scores of config.eval.num_samples random samples against the
        training image (the finest scale): the patch SWD
        (jaxgan.eval.patch_swd) and its blurred (sigma 1) and shifted (4 px)
        baselines, the reconstruction's PSNR, the diversity of the SinGAN
        paper (per-pixel std over the samples, averaged, over the image's
        std) and the PSNR of the sample closest to the image (memorisation:
        high means a sample copies the image); with config.eval.sifid_weights
        also SIFID (jaxgan.eval.sifid: the mean over the samples of the
        image's SIFID to each, both as 8-bit pixels, as the script reads its
        files)."""
        from jaxgan import pictures
        from jaxgan.eval import patch_swd, sifid

        reals = [self.finest(p) for p in range(self.num_pyramids)]
        baselines = [{"patch_swd_blurred": patch_swd.blurred_baseline(real[0]).mean,
                      "patch_swd_shifted": patch_swd.shifted_baseline(real[0]).mean} for real in reals]
        generate = jax.jit(self.generate, static_argnums=2)
        cfg = self.config.eval
        weights = cfg.sifid_weights
        sifid_params = sifid.load_sifid_params(None if weights == "torchvision" else weights) if weights else None

        def evaluate(state) -> dict[str, float]:
            """The scores, averaged over the pyramids when there are several."""
            scores = [evaluate_pyramid(self.pyramid(state, p), p) for p in range(self.num_pyramids)]
            return {k: float(np.mean([one[k] for one in scores])) for k in scores[0]}

        def evaluate_pyramid(state, p: int) -> dict[str, float]:
            real = reals[p]
            key = jax.random.fold_in(jax.random.key(self.config.seed), 3)
            samples = np.concatenate([np.asarray(generate(state, jax.random.fold_in(key, i),
                                                          min(cfg.batch_size, cfg.num_samples - i)))
                                      for i in range(0, cfg.num_samples, cfg.batch_size)])
            rec = np.asarray(generate(state, None, 1))
            mse = np.mean(np.square(samples - real), axis=(1, 2, 3))
            scores = {"patch_swd": patch_swd.patch_swd(samples, real[0]).mean, **baselines[p],
                      "rec_psnr": psnr(rec, real),
                      "diversity": float(np.mean(np.std(samples, axis=0)) / np.std(real)),
                      "closest_sample_psnr": float(10 * np.log10(4 / max(np.min(mse), 1e-12)))}
            if sifid_params is not None:
                fakes = pictures.to_uint8(samples)
                real_u8 = np.broadcast_to(pictures.to_uint8(real), fakes.shape)
                scores["sifid"] = sifid.mean_sifid(real_u8, fakes, sifid_params, batch_size=cfg.batch_size)
            return scores

        return evaluate

    # ------------------------------------------------------- --mode sample
    @classmethod
    def define_sample_flags(cls) -> None:
        define_image_sample_flags()
        define_flag("integer", "gen_start_scale", 0, "--mode sample (SinGAN): scales below it reproduce the "
                    "training image (its reconstruction noise), random from it up.")
        define_flag("float", "scale_v", 1.0, "--mode sample (SinGAN): samples this many times the image's height.")
        define_flag("float", "scale_h", 1.0, "--mode sample (SinGAN): samples this many times the image's width.")

    @classmethod
    def sample_options(cls, flag_values: Any) -> dict[str, Any]:
        return dict(num=flag_values.num_samples, sample_format=flag_values.sample_format,
                    batch_size=flag_values.batch_size, seed=flag_values.seed, step=flag_values.step,
                    start_scale=flag_values.gen_start_scale, scale_v=flag_values.scale_v,
                    scale_h=flag_values.scale_h)

    @classmethod
    def write_samples(cls, config: Any, workdir: str, num: int | None = None, *, sample_format: str = "grid",
                      batch_size: int | None = None, seed: int | None = None, step: int | None = None,
                      start_scale: int = 0, scale_v: float = 1.0, scale_h: float = 1.0) -> str:
        """`--mode sample`: random samples of a checkpoint (SinGAN's
        random_samples / random_samples_arbitrary_sizes, ConSinGAN's
        evaluate_model) as a PNG grid, PNGs or an .npz; `start_scale`
        (gen_start_scale), `scale_v` (height) and `scale_h` (width) as the
        trainer's `generate`."""
        from jaxgan import pictures, train

        check_sample_format(sample_format)
        trainer, _, state = train.restore_latest(config, workdir, step)
        if not 0 <= start_scale < trainer.num_scales:
            raise ValueError(f"gen_start_scale must be in [0, {trainer.num_scales - 1}] (the pyramid's scales), "
                             f"got {start_scale}")
        if not (scale_v > 0 and scale_h > 0):
            raise ValueError(f"scale_v and scale_h must be > 0, got {scale_v}, {scale_h}")
        num = num or (config.samples.num if sample_format == "grid" else config.eval.num_samples)
        batch_size = batch_size or config.eval.batch_size
        key = jax.random.fold_in(jax.random.key(config.seed if seed is None else seed), 2)
        generate = jax.jit(functools.partial(trainer.generate, scale_v=scale_v, scale_h=scale_h,
                                             start_scale=start_scale), static_argnums=2)
        # with several images, `num` samples of each pyramid (a grid row each)
        images = np.concatenate([pictures.to_uint8(generate(trainer.pyramid(state, p), jax.random.fold_in(key, i),
                                                            min(batch_size, num - i)))
                                 for p in range(trainer.num_pyramids) for i in range(0, num, batch_size)])
        name = "sample" if (start_scale, scale_v, scale_h) == (0, 1.0, 1.0) else \
            f"sample_start{start_scale}_v{scale_v:g}_h{scale_h:g}"
        columns = num if trainer.num_pyramids > 1 else None
        return write_image_samples(config, workdir, int(state.step), images, sample_format, name, columns)

