"""SinGAN's applications on a trained pyramid, as the reference's scripts
(github.com/tamarott/SinGAN: harmonization.py, editing.py, paint2image.py,
SR.py, animation.py):

    python -m jaxgan.singan harmonization --config configs/singan.py --workdir W \
        --ref pasted.png --mask pasted_mask.png --start_scale 3
    python -m jaxgan.singan editing       ... --ref edited.png --mask edited_mask.png --start_scale 3
    python -m jaxgan.singan paint2image   ... --ref painting.png --start_scale 2 [--quantize]
    python -m jaxgan.singan sr            --config configs/singan.py:sr --workdir W_SR
    python -m jaxgan.singan animation     --config configs/singan.py:animation --workdir W_ANIM \
        [--start_scale 2 --alpha 0.1 --beta 0.9]
    python -m jaxgan.singan editing       --config configs/consingan.py:editing --workdir W_CS \
        --ref edited.png [--mask edited_mask.png]

--config and --workdir are the training run's (its latest checkpoint is
used, or --step; a run of several images: --pyramid picks the image's).
The outputs go to W/<application>/...: PNGs, and a GIF for the animation.
The reference image and mask may be any files PIL reads (or scikit-image
samples); a reference of another width is resized to the training image's
shape, as the reference does.

- harmonization / editing: the reference image is shrunk to scale n - 1 of
  the pyramid, upsampled to scale n and pushed through scales n.. with random
  noise; the result replaces the image where the mask (dilated by a disk of
  radius 7 / 20, blurred with a Gaussian of sigma 5) is set. Editing also
  writes the unmasked output.
- paint2image: the same injection of a painting, no mask. With --quantize
  (the reference's --quantization_flag): the training image at scale n is
  quantised to 5 colours (k-means), scale n is retrained from fresh networks
  with its input image quantised to those colours at every iteration
  (train_paint; kept in W/paint2image/quantized_models/ for the next paint),
  and the painting, quantised to them at full size and resized to scale n,
  goes through the retrained scale and those above. The reference reshapes its
  [1, 3, H, W] tensors to (-1, 3), which clusters triples of neighbouring
  values of one channel; here the clustered points are the pixels' colours,
  as the paper describes.
- sr: the model of `configs/singan.py:sr` (scales sr_factor^(1/k) apart)
  upscales the training image x sr_factor by applying its finest G k times.
- editing on a ConSinGAN editing model (ConSinGAN's evaluate_model.py):
  the edited image, resized to the coarsest level, plus noise, is stage 0's
  input; the other stages take the reconstruction's noise; with --mask the
  output replaces the training image where the dilated mask is set. No
  --start_scale: ConSinGAN's editing always starts at stage 0.
- animation: a random walk in each scale's noise from `start_scale` up
  (scales below keep the reconstruction noise), `--frames` frames at `--fps`.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import imresize, kmeans, pictures
from jaxgan.trainers.single_image import resize_bilinear_align_corners

APPLICATIONS = ("harmonization", "editing", "paint2image", "sr", "animation")
MASK_RADIUS = {"harmonization": 7, "editing": 20}  # dilate_mask's disks


def restore(config: Any, workdir: str, step: int | None = None, pyramid: int = 0, trainer_name: str = "singan"):
    """(trainer, state of pyramid `pyramid`) of a SinGAN run's latest
    checkpoint (or `step`; of a ConSinGAN run with `trainer_name`); runs of
    several images have a pyramid each."""
    from jaxgan import train

    if config.trainer != trainer_name:
        raise ValueError(f"this application runs on a run of config.trainer {trainer_name!r}; this config's "
                         f"trainer is {config.trainer!r}")
    trainer, _, state = train.restore_latest(config, workdir, step)
    if not 0 <= pyramid < trainer.num_pyramids:
        raise ValueError(f"--pyramid must be in [0, {trainer.num_pyramids - 1}] (one per image of "
                         f"config.data.image), got {pyramid}")
    return trainer, trainer.pyramid(state, pyramid)


def read_as(trainer: Any, spec: str, what: str) -> np.ndarray:
    """The image `spec` ([1, H, W, 3] in [-1, 1]); resized to the training
    image's shape (imresize_to_shape, then cropped) when its width differs,
    as the reference does."""
    from jaxgan.data.single_image import read_image

    x = imresize.singan_from_uint8(read_image(spec, what))[None]
    h, w = trainer.shapes[-1]
    if x.shape[2] != w:
        x = imresize.imresize_like_singan_np(x, output_shape=(h, w))[:, :h, :w]
    if x.shape[1:3] != (h, w):
        raise ValueError(f"{what} {spec!r} is {x.shape[1]}x{x.shape[2]} after resizing to the training image's "
                         f"width; the training image is {h}x{w}: give an image of its aspect ratio")
    return x


def dilate_mask(mask: np.ndarray, radius: int) -> np.ndarray:
    """The reference's dilate_mask: the mask's first channel (set where its
    uint8 value is not 0) dilated by a disk of `radius`, blurred with a
    Gaussian of sigma 5 and rescaled to [0, 1]; [1, H, W, 3] float32."""
    from skimage import filters, morphology

    binary = imresize.singan_to_uint8(mask)[0, :, :, 0] > 0
    if not binary.any():
        raise ValueError("--mask is empty (no pixel set): nothing to harmonize or edit")
    # a disk is symmetric: dilation (grey, of 0 / 1) is the binary dilation
    dilated = morphology.dilation(binary.astype(np.uint8), morphology.disk(radius)).astype(np.float64)
    x = (filters.gaussian(dilated, sigma=5).astype(np.float32) - 0.5) * 2  # np2torch's norm, undone below
    span = x.max() - x.min()
    # the dilated mask covers the whole image: all of it is replaced (the reference divides by 0)
    x = (x - x.min()) / span if span > 0 else np.ones_like(x)
    return np.repeat(x[None, :, :, None], 3, axis=-1)


def injected_input(trainer: Any, image: np.ndarray, scale: int) -> np.ndarray:
    """The input of scale `scale` made from `image` (the training image's
    shape): shrunk to scale - 1 and upsampled by 1 / scale_factor, each time
    cropped to that scale's shape (in_s of harmonization.py)."""
    if not 1 <= scale <= trainer.num_scales - 1:
        raise ValueError(f"--start_scale (the injection scale) must be in [1, {trainer.num_scales - 1}], got {scale}")
    sf, last = trainer.scales.scale_factor, trainer.num_scales - 1
    (h0, w0), (h1, w1) = trainer.shapes[scale - 1], trainer.shapes[scale]
    x = imresize.imresize_like_singan_np(image, pow(sf, last - scale + 1))[:, :h0, :w0]
    return _stretched(imresize.imresize_like_singan_np(x, 1 / sf)[:, :h1, :w1], (h1, w1))


def _key(config: Any, seed: int | None) -> jax.Array:
    return jax.random.fold_in(jax.random.key(config.seed if seed is None else seed), 4)


def _out(workdir: str, *parts: str) -> str:
    return os.path.join(workdir, *parts)


def _name(trainer: Any, pyramid: int, name: str) -> str:
    """An output's name (a file's stem), its pyramid's index appended when
    the run has several."""
    name = os.path.splitext(os.path.basename(name))[0]
    return f"{name}_pyramid{pyramid}" if trainer.num_pyramids > 1 else name


def harmonize(config: Any, workdir: str, ref: str, mask: str, start_scale: int, *, editing: bool = False,
              seed: int | None = None, step: int | None = None, pyramid: int = 0) -> list[str]:
    """harmonization.py (editing.py with `editing`): returns the PNGs written
    (the dilated mask, the output; editing also the unmasked output)."""
    app = "editing" if editing else "harmonization"
    trainer, state = restore(config, workdir, step, pyramid)
    image = read_as(trainer, ref, "--ref")
    soft = dilate_mask(read_as(trainer, mask, "--mask"), MASK_RADIUS[app])
    x = injected_input(trainer, image, start_scale)
    out = np.asarray(jax.jit(trainer.inject, static_argnums=3)(state, _key(config, seed), jnp.asarray(x),
                                                                start_scale))
    blended = (1 - soft) * trainer.image(pyramid) + soft * out
    root = _out(workdir, app, _name(trainer, pyramid, ref))
    paths = [pictures.write_png(_out(root, "mask_dilated.png"), pictures.to_uint8(soft * 2 - 1)[0])]
    if editing:
        paths.append(pictures.write_png(_out(root, f"start_scale={start_scale}.png"), pictures.to_uint8(out)[0]))
        paths.append(pictures.write_png(_out(root, f"start_scale={start_scale}_masked.png"),
                                        pictures.to_uint8(blended)[0]))
    else:
        paths.append(pictures.write_png(_out(root, f"start_scale={start_scale}.png"), pictures.to_uint8(blended)[0]))
    return paths


def consingan_edit(config: Any, workdir: str, ref: str, mask: str | None = None, *, seed: int | None = None,
                   step: int | None = None) -> list[str]:
    """ConSinGAN's editing (evaluate_model.py on an editing model,
    configs/consingan.py:editing): the edited image `ref`, resized to the
    coarsest level, plus noise_scaling x N(0, 1), is stage 0's input, the
    reconstruction's fixed noise the other stages'; with a mask, the output
    replaces the training image where the mask (dilated by a disk of radius
    20, blurred) is set. Returns the PNGs written: the edited image at the
    output's size, the output, the masked output."""
    trainer, state = restore(config, workdir, step, trainer_name="consingan")
    if not trainer.editing:
        raise ValueError("editing runs on a ConSinGAN editing model (configs/consingan.py:editing, "
                         f"config.model.train_mode 'editing'); this run's train_mode is {trainer.train_mode!r}")
    from jaxgan.data.single_image import read_image

    naive = imresize.singan_from_uint8(read_image(ref, "--ref"))[None]
    coarsest = imresize.imresize_like_singan_np(naive, output_shape=trainer.shapes[0])[:, :trainer.shapes[0][0],
                                                                                         :trainer.shapes[0][1]]
    noise = config.model.noise_scaling * jax.random.normal(_key(config, seed), coarsest.shape)
    fixed = [jnp.asarray(coarsest) + noise, *state.fixed_noise[1:]]
    out = np.asarray(jax.jit(trainer.generate, static_argnums=2)(state.replace(fixed_noise=fixed), None, 1))
    h, w = trainer.shapes[-1]
    root = _out(workdir, "editing", _name(trainer, 0, ref))
    shown = imresize.imresize_like_singan_np(naive, output_shape=(h, w))[:, :h, :w]
    paths = [pictures.write_png(_out(root, "edited_input.png"), pictures.to_uint8(shown)[0]),
             pictures.write_png(_out(root, "edited_wo_mask.png"), pictures.to_uint8(out)[0])]
    if mask:
        soft = dilate_mask(read_as(trainer, mask, "--mask"), MASK_RADIUS["editing"])
        blended = (1 - soft) * trainer.finest(0) + soft * out
        paths.append(pictures.write_png(_out(root, "edited_w_mask.png"), pictures.to_uint8(blended)[0]))
    return paths


def paint_to_image(config: Any, workdir: str, ref: str, start_scale: int, *, quantize: bool = False,
                   seed: int | None = None, step: int | None = None, pyramid: int = 0) -> list[str]:
    """paint2image.py, colour-quantised with `quantize` (see the module's
    docstring): returns the PNGs written, the output last."""
    trainer, state = restore(config, workdir, step, pyramid)
    image = read_as(trainer, ref, "--ref")
    x = injected_input(trainer, image, start_scale)
    key = _key(config, seed)
    if not quantize:
        out = jax.jit(trainer.inject, static_argnums=3)(state, key, jnp.asarray(x), start_scale)
        path = _out(workdir, "paint2image", _name(trainer, pyramid, ref), f"start_scale={start_scale}.png")
        return [pictures.write_png(path, pictures.to_uint8(out)[0])]

    n, last = start_scale, trainer.num_scales - 1
    h, w = trainer.shapes[n]
    shrink = lambda a: _stretched(imresize.imresize_like_singan_np(a, pow(trainer.scales.scale_factor, last - n))
                                  [:, :h, :w], (h, w))
    centers, real_quant = colour_centers(shrink(trainer.image(pyramid)))
    quantized = shrink(np.asarray(jax.jit(kmeans.quantize_to_centers)(jnp.asarray(image), jnp.asarray(centers))))
    state = paint_trained(trainer, state, n, centers, jax.random.fold_in(key, 1), workdir, pyramid)
    out = jax.jit(trainer.inject, static_argnums=3)(state, key, jnp.asarray(quantized), n)
    root = _out(workdir, "paint2image", _name(trainer, pyramid, ref) + "_quantized")
    return [pictures.write_png(_out(root, name + ".png"), pictures.to_uint8(a)[0]) for name, a in
            (("real_quant", real_quant), ("in_paint", x), ("in_paint_quant", quantized),
             (f"start_scale={n}", out))]


def _stretched(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """x, stretched to `shape` where a resize came out short (as the
    reference's later scales)."""
    if x.shape[1:3] == shape:
        return x
    return np.asarray(resize_bilinear_align_corners(jnp.asarray(x), shape))


def colour_centers(image: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """The reference's quant: k-means (scikit-learn's, k-means++ from
    random_state 0, the 10 restarts its scikit-learn made by default) on the
    pixels' colours of `image` [1, H, W, 3]; returns (the centers [k, 3],
    the image with each pixel replaced by its center)."""
    from sklearn.cluster import KMeans

    pixels = image.reshape(-1, 3).astype(np.float32)
    fit = KMeans(n_clusters=k, random_state=0, n_init=10).fit(pixels)
    centers = fit.cluster_centers_.astype(np.float32)
    return centers, centers[fit.labels_].reshape(image.shape)


def paint_trained(trainer: Any, state: Any, n: int, centers: np.ndarray, key: jax.Array, workdir: str,
                  pyramid: int = 0, log: Callable[[str], None] = print) -> Any:
    """The reference's train_paint: `state` with scale n retrained from
    fresh networks for iters_per_scale iterations (`trainer.paint_step`: its
    input image quantised to `centers`); the retrained scale (its G and the
    noise amplitudes) is read from W/paint2image/quantized_models/ when an
    earlier paint of this checkpoint, scale and pyramid left it there."""
    from flax import serialization

    name = _name(trainer, pyramid, f"scale={n}_step={int(state.step)}") + ".msgpack"
    path = _out(workdir, "paint2image", "quantized_models", name)
    replace = lambda items, value: [value if i == n else x for i, x in enumerate(items)]
    if os.path.exists(path):
        log(f"paint2image: the retrained scale {n} from {path} (delete it to retrain)")
        with open(path, "rb") as f:
            kept = serialization.from_bytes({"g": state.g[n], "noise_amp": state.noise_amp}, f.read())
        return state.replace(g=replace(state.g, kept["g"]), noise_amp=kept["noise_amp"])
    g, d, g_opt, d_opt = trainer.init_scale(key, n)
    trained = state.replace(step=jnp.int32(trainer.starts[n]), rng=jax.random.key_data(key),
                            g=replace(state.g, g), d=replace(state.d, d), g_opt=replace(state.g_opt, g_opt),
                            d_opt=replace(state.d_opt, d_opt))
    step = jax.jit(trainer.paint_step, static_argnums=(0, 3))
    iters = trainer.iters[n]
    every, start = max(1, iters // 10), time.time()
    for i in range(1, iters + 1):
        trained, metrics = step(n, trained, jnp.asarray(centers), pyramid)
        if i % every == 0 or i == iters:
            log(f"paint2image: retraining scale {n} on {len(centers)} colours: {i}/{iters} iterations, "
                f"rec {float(metrics['rec']):.4f}, {time.time() - start:.0f} s")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(serialization.to_bytes({"g": trained.g[n], "noise_amp": trained.noise_amp}))
    return state.replace(g=replace(state.g, trained.g[n]), noise_amp=trained.noise_amp)


def super_resolve(config: Any, workdir: str, *, seed: int | None = None, step: int | None = None,
                  pyramid: int = 0) -> str:
    """SR.py: the training image upscaled x config.model.sr_factor by the
    model of `configs/singan.py:sr`; returns the PNG written."""
    if not config.model.sr_factor:
        raise ValueError("sr needs the super-resolution model: train with configs/singan.py:sr "
                         "(config.model.sr_factor > 0)")
    trainer, state = restore(config, workdir, step, pyramid)
    sr = jax.jit(trainer.super_resolve, static_argnums=3)
    out = sr(state, _key(config, seed), jnp.asarray(trainer.finest(pyramid)), float(config.model.sr_factor))
    return pictures.write_png(_out(workdir, "sr", _name(trainer, pyramid, f"x{config.model.sr_factor:g}") + ".png"),
                              pictures.to_uint8(out)[0])


def animate(config: Any, workdir: str, *, start_scale: int = 2, alpha: float = 0.1, beta: float = 0.9,
            frames: int = 100, fps: float = 10, seed: int | None = None, step: int | None = None,
            pyramid: int = 0) -> str:
    """animation.py's generate_gif: `frames` frames of a random walk in the
    noise of the scales from `start_scale` up; returns the GIF written."""
    trainer, state = restore(config, workdir, step, pyramid)
    if not 0 <= start_scale < trainer.num_scales:
        raise ValueError(f"--start_scale must be in [0, {trainer.num_scales - 1}], got {start_scale}")
    if frames < 1 or fps <= 0:
        raise ValueError(f"--frames must be >= 1 and --fps > 0, got {frames}, {fps}")
    walks = jax.jit(trainer.animation_noise, static_argnums=2, static_argnames=("start_scale", "alpha", "beta"))(
        state, _key(config, seed), frames, start_scale=start_scale, alpha=alpha, beta=beta)
    render = jax.jit(trainer.animate)
    chunk = max(1, int(config.eval.batch_size))
    images = np.concatenate([pictures.to_uint8(render(state, [w[i:i + chunk] for w in walks]))
                             for i in range(0, frames, chunk)])
    path = _out(workdir, "animation", _name(trainer, pyramid, f"start_scale={start_scale}"),
                f"alpha={alpha:g}_beta={beta:g}.gif")
    return pictures.save_gif(path, images[:, None], duration_ms=round(1000 / fps), pad=0)


def main(argv: list[str]) -> None:
    from absl import flags

    f = flags.FLAGS
    if len(argv) != 2 or argv[1] not in APPLICATIONS:
        raise SystemExit(f"usage: python -m jaxgan.singan {{{'|'.join(APPLICATIONS)}}} --config C --workdir W "
                         "[flags]; --helpfull lists the flags")
    app = argv[1]
    config = f.config
    try:
        if app == "editing" and config.trainer == "consingan":
            if not f.ref:
                raise ValueError("editing on a ConSinGAN editing model needs --ref (and optionally --mask)")
            paths = consingan_edit(config, f.workdir, f.ref, f.mask, seed=f.seed, step=f.step)
        elif app in MASK_RADIUS:
            if not (f.ref and f.mask and f.start_scale is not None):
                raise ValueError(f"{app} needs --ref, --mask and --start_scale")
            paths = harmonize(config, f.workdir, f.ref, f.mask, f.start_scale, editing=app == "editing",
                              seed=f.seed, step=f.step, pyramid=f.pyramid)
        elif app == "paint2image":
            if not (f.ref and f.start_scale is not None):
                raise ValueError("paint2image needs --ref and --start_scale")
            paths = paint_to_image(config, f.workdir, f.ref, f.start_scale, quantize=f.quantize, seed=f.seed,
                                   step=f.step, pyramid=f.pyramid)
        elif app == "sr":
            paths = [super_resolve(config, f.workdir, seed=f.seed, step=f.step, pyramid=f.pyramid)]
        else:
            start = 2 if f.start_scale is None else f.start_scale
            paths = [animate(config, f.workdir, start_scale=start, alpha=f.alpha, beta=f.beta, frames=f.frames,
                             fps=f.fps, seed=f.seed, step=f.step, pyramid=f.pyramid)]
    except (FileNotFoundError, ValueError) as e:
        if os.environ.get("JAXGAN_TRACEBACK"):
            raise
        raise SystemExit(f"error: {e} (JAXGAN_TRACEBACK=1 shows where)") from None
    for path in paths:
        print(f"wrote {path}", flush=True)


def define_flags() -> None:
    from absl import flags

    from jaxgan import configs

    configs.DEFINE_config_file("config", "The training run's config (configs/singan.py[:variant]).")
    flags.DEFINE_string("workdir", None, "The training run's directory (its latest checkpoint is used).")
    flags.DEFINE_string("ref", None, "harmonization / editing / paint2image: the reference image (a file).")
    flags.DEFINE_string("mask", None, "harmonization / editing: the mask of the reference image (a file).")
    flags.DEFINE_integer("start_scale", None, "The injection scale (harmonization, editing, paint2image: "
                         "1 .. scales - 1); animation: the first scale that moves (default 2).")
    flags.DEFINE_bool("quantize", False, "paint2image: colour-quantised (the reference's --quantization_flag): "
                      "retrain the injection scale on the image's 5 k-means colours first (iters_per_scale "
                      "iterations, kept in W/paint2image/quantized_models/).")
    flags.DEFINE_float("alpha", 0.1, "animation: the pull of the walk towards the reconstruction noise.")
    flags.DEFINE_float("beta", 0.9, "animation: the walk's momentum.")
    flags.DEFINE_integer("frames", 100, "animation: the number of frames.")
    flags.DEFINE_float("fps", 10, "animation: frames per second.")
    flags.DEFINE_integer("seed", None, "Random seed (default: config.seed).")
    flags.DEFINE_integer("step", None, "The checkpoint's step (default: the latest).")
    flags.DEFINE_integer("pyramid", 0, "A run of several images (config.data.image 'a.png,b.png'): whose pyramid.")
    flags.mark_flags_as_required(["config", "workdir"])


if __name__ == "__main__":
    from absl import app as absl_app

    define_flags()
    absl_app.run(main)
