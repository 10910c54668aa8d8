"""Image augmentations applied to a GAN discriminator's inputs.

Images are NHWC, floats in [-1, 1]; every function returns the input dtype and
works on a batch at once (per-example random draws, no Python loop over
examples, no host callbacks), so it jits and runs on a batch sharded over
devices.

Two families, each as StudioGAN (PyTorch, NCHW) implements them; torch's H and
W dims (2, 3) are our axes 1 and 2:

* DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient
  GAN Training"; StudioGAN src/utils/diffaug.py). A policy is a comma-separated
  list of "color" (brightness, then saturation, then contrast), "translation"
  (zero fill) and "cutout", applied in the order given. It is applied to real
  and fake images alike and is differentiable in the images, so G's gradient
  passes through it.
* CR augmentation (Zhang et al. 2020, "Consistency Regularization for GANs";
  StudioGAN src/utils/cr.py `apply_cr_aug`, used by CR and bCR): a horizontal
  flip with probability 1/2, then a translation by up to 1/8 of each side with
  reflect padding.

Each operation is a pure function of the images and its random draws
(`brightness`, `saturation`, `contrast`, `translate`, `cutout`, `flip`,
`translate_reflect`), so it can be tested against its definition; the draws
come from `diffaugment_draws` / `cr_augment_draws`, and `diffaugment` /
`cr_augment` compose the two. All draws have shape [B] (one per example):
float32 in [0, 1) for the colour factors, int32 for shifts and offsets, bool
for the flip mask.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

Array = jax.Array

DIFFAUGMENT_POLICIES = ("color", "translation", "cutout")
TRANSLATION_RATIO = 0.125  # DiffAugment: shift by up to this fraction of each side
CUTOUT_RATIO = 0.5  # DiffAugment: the cut square's side as a fraction of each side
CR_TRANSLATION_RATIO = 1 / 8  # CR / bCR: shift by up to this fraction of each side


def check_policy(policy: str) -> tuple[str, ...]:
    """The operation names of a DiffAugment policy ("" -> ()).

    Names must be spelled exactly as in DIFFAUGMENT_POLICIES (no spaces), as the
    reference looks them up verbatim; a name may repeat.
    """
    if not policy:
        return ()
    names = tuple(policy.split(","))
    for name in names:
        if name not in DIFFAUGMENT_POLICIES:
            raise ValueError(
                f"unknown DiffAugment policy {name!r} in {policy!r}; known: {', '.join(DIFFAUGMENT_POLICIES)}"
            )
    return names


# --- shapes derived from the image size, as the references round them
def translation_shifts(h: int, w: int, ratio: float = TRANSLATION_RATIO) -> tuple[int, int]:
    """DiffAugment's largest shift (rows, columns): rounded to nearest."""
    return int(h * ratio + 0.5), int(w * ratio + 0.5)


def cutout_size(h: int, w: int, ratio: float = CUTOUT_RATIO) -> tuple[int, int]:
    """DiffAugment's cut rectangle (rows, columns): rounded to nearest."""
    return int(h * ratio + 0.5), int(w * ratio + 0.5)


def cutout_offset_bounds(h: int, w: int, ratio: float = CUTOUT_RATIO) -> tuple[int, int]:
    """Exclusive upper bounds of the cutout centre offsets (rows, columns).

    One past the last row for an even size, so that an even rectangle can hang
    over either edge by the same amount.
    """
    size_h, size_w = cutout_size(h, w, ratio)
    return h + (1 - size_h % 2), w + (1 - size_w % 2)


def cr_max_shifts(h: int, w: int, ratio: float = CR_TRANSLATION_RATIO) -> tuple[int, int]:
    """CR's largest shift (rows, columns): truncated, unlike DiffAugment's."""
    return int(h * ratio), int(w * ratio)


# --- pure operations: images and draws in, images out
def _compute_dtype(x: Array) -> jnp.dtype:
    # Channel and image means in bfloat16 lose too many bits; compute in at
    # least float32 and round once at the end.
    return jnp.promote_types(x.dtype, jnp.float32)


def _per_example(u: Array, dtype) -> Array:
    return jnp.asarray(u, dtype)[:, None, None, None]


def brightness(x: Array, u: Array) -> Array:
    """x + (u - 0.5) per example; u: [B] in [0, 1)."""
    dt = _compute_dtype(x)
    return (x.astype(dt) + (_per_example(u, dt) - 0.5)).astype(x.dtype)


def saturation(x: Array, u: Array) -> Array:
    """Scale each pixel's deviation from its channel mean by 2u; u: [B] in [0, 1)."""
    dt = _compute_dtype(x)
    xf = x.astype(dt)
    mean = jnp.mean(xf, axis=3, keepdims=True)
    return ((xf - mean) * (_per_example(u, dt) * 2) + mean).astype(x.dtype)


def contrast(x: Array, u: Array) -> Array:
    """Scale the deviation from the example's mean (over H, W, C) by u + 0.5; u: [B] in [0, 1)."""
    dt = _compute_dtype(x)
    xf = x.astype(dt)
    mean = jnp.mean(xf, axis=(1, 2, 3), keepdims=True)
    return ((xf - mean) * (_per_example(u, dt) + 0.5) + mean).astype(x.dtype)


def translate(x: Array, t_h: Array, t_w: Array) -> Array:
    """out[b, i, j] = x[b, i + t_h[b], j + t_w[b]] where that is inside the image, else 0.

    t_h, t_w: int [B], any values (a shift past the border gives zeros).
    """
    _, h, w, _ = x.shape
    rows = jnp.arange(h)[None, :] + jnp.asarray(t_h)[:, None]  # [B, H]
    cols = jnp.arange(w)[None, :] + jnp.asarray(t_w)[:, None]  # [B, W]
    inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]

    # Per-example gathers under vmap keep the batch an explicit batch dimension
    # of the gather, so a batch sharded over devices stays sharded.
    def one(xi, r, c):
        xi = jnp.take(xi, jnp.clip(r, 0, h - 1), axis=0)
        return jnp.take(xi, jnp.clip(c, 0, w - 1), axis=1)

    shifted = jax.vmap(one)(x, rows, cols)
    return jnp.where(inside[..., None], shifted, jnp.zeros((), x.dtype))


def cutout(x: Array, offset_h: Array, offset_w: Array, ratio: float = CUTOUT_RATIO) -> Array:
    """Zero a size_h x size_w rectangle (all channels) per example, clipped to the image.

    Rows offset_h - size_h // 2 .. offset_h - size_h // 2 + size_h - 1, and the
    same for columns; sizes from `cutout_size`. offset_h, offset_w: int [B].
    """
    _, h, w, _ = x.shape
    size_h, size_w = cutout_size(h, w, ratio)
    top = jnp.asarray(offset_h)[:, None] - size_h // 2  # [B, 1]
    left = jnp.asarray(offset_w)[:, None] - size_w // 2
    i = jnp.arange(h)[None, :]
    j = jnp.arange(w)[None, :]
    in_rows = (i >= top) & (i < top + size_h)  # [B, H]
    in_cols = (j >= left) & (j < left + size_w)  # [B, W]
    keep = ~(in_rows[:, :, None] & in_cols[:, None, :])
    # A multiply, as in the reference: the gradient to x is the mask itself.
    return x * keep[..., None].astype(x.dtype)


def flip(x: Array, mask: Array) -> Array:
    """Mirror the W axis of the examples where mask (bool [B]) is true."""
    return jnp.where(jnp.asarray(mask)[:, None, None, None], x[:, :, ::-1, :], x)


def translate_reflect(x: Array, t_h: Array, t_w: Array, max_h: int, max_w: int) -> Array:
    """out[b, i, j] = x_pad[b, i + t_h[b] + max_h, j + t_w[b] + max_w].

    x_pad is x padded by max_h rows and max_w columns on each side in 'reflect'
    mode (the edge pixel not repeated; torch's F.pad 'reflect', numpy's
    'reflect'), so max_h < H and max_w < W. t_h in [-max_h, max_h], t_w in
    [-max_w, max_w] (int [B]); outside those the window is clamped to the
    padded image.
    """
    _, h, w, c = x.shape
    padded = jnp.pad(x, ((0, 0), (max_h, max_h), (max_w, max_w), (0, 0)), mode="reflect")
    starts_h = jnp.asarray(t_h) + max_h
    starts_w = jnp.asarray(t_w) + max_w

    def one(xi, sh, sw):
        zero = jnp.zeros((), sh.dtype)
        return jax.lax.dynamic_slice(xi, (sh, sw, zero), (h, w, c))

    return jax.vmap(one)(padded, starts_h, starts_w)


# --- random draws
# One threefry call per operation (a [n, B] block, rows unpacked): each call
# is a sizeable program of its own, and the train step compiles them all.
def _integers(bits: Array, low: int, high: int) -> Array:
    """Integers in [low, high) from uint32 bits; the modulo's bias, (high - low) / 2**32, is negligible."""
    return (bits % jnp.uint32(high - low)).astype(jnp.int32) + low


def diffaugment_draws(key: Array, shape: tuple[int, ...], policy: str) -> tuple[dict[str, Array], ...]:
    """The random draws `diffaugment` makes for images of `shape` (B, H, W, C).

    One dict per policy name, in order (key split once per name):
      "color":       {"brightness", "saturation", "contrast"}: float32 [B] in [0, 1)
      "translation": {"t_h", "t_w"}: int32 [B], uniform in [-shift, shift]
                     (shifts from `translation_shifts`)
      "cutout":      {"offset_h", "offset_w"}: int32 [B], uniform in
                     [0, bound) (bounds from `cutout_offset_bounds`)
    """
    names = check_policy(policy)
    if not names:
        return ()
    b, h, w = shape[0], shape[1], shape[2]
    draws = []
    for name, k in zip(names, jax.random.split(key, len(names))):
        if name == "color":
            u = jax.random.uniform(k, (3, b), jnp.float32)
            draws.append({"brightness": u[0], "saturation": u[1], "contrast": u[2]})
        elif name == "translation":
            sh, sw = translation_shifts(h, w)
            bits = jax.random.bits(k, (2, b), jnp.uint32)
            draws.append({"t_h": _integers(bits[0], -sh, sh + 1), "t_w": _integers(bits[1], -sw, sw + 1)})
        else:  # cutout
            bh, bw = cutout_offset_bounds(h, w)
            bits = jax.random.bits(k, (2, b), jnp.uint32)
            draws.append({"offset_h": _integers(bits[0], 0, bh), "offset_w": _integers(bits[1], 0, bw)})
    return tuple(draws)


def cr_augment_draws(key: Array, shape: tuple[int, ...]) -> dict[str, Array]:
    """The random draws `cr_augment` makes for images of `shape` (B, H, W, C).

    {"flip": bool [B], true with probability 1/2; "t_h", "t_w": int32 [B],
    uniform in [-max, max] (maxima from `cr_max_shifts`)}.
    """
    b, h, w = shape[0], shape[1], shape[2]
    mh, mw = cr_max_shifts(h, w)
    bits = jax.random.bits(key, (3, b), jnp.uint32)
    return {
        "flip": bits[0] < jnp.uint32(2**31),
        "t_h": _integers(bits[1], -mh, mh + 1),
        "t_w": _integers(bits[2], -mw, mw + 1),
    }


# --- the augmentations
def diffaugment_apply(x: Array, policy: str, draws: tuple[dict[str, Any], ...]) -> Array:
    """DiffAugment with given draws (as `diffaugment_draws` returns them)."""
    names = check_policy(policy)
    if len(draws) != len(names):
        raise ValueError(f"{len(draws)} sets of draws for the {len(names)} operations of policy {policy!r}")
    for name, d in zip(names, draws):
        if name == "color":
            x = contrast(saturation(brightness(x, d["brightness"]), d["saturation"]), d["contrast"])
        elif name == "translation":
            x = translate(x, d["t_h"], d["t_w"])
        else:
            x = cutout(x, d["offset_h"], d["offset_w"])
    return x


def diffaugment(x: Array, key: Array, policy: str) -> Array:
    """DiffAugment of an NHWC batch; x itself when policy is "".

    Jit with `policy` static. Differentiable in x.
    """
    if not check_policy(policy):
        return x
    return diffaugment_apply(x, policy, diffaugment_draws(key, x.shape, policy))


def cr_augment(x: Array, key: Array) -> Array:
    """StudioGAN's CR augmentation: random horizontal flip, then reflect-padded translation."""
    d = cr_augment_draws(key, x.shape)
    mh, mw = cr_max_shifts(x.shape[1], x.shape[2])
    return translate_reflect(flip(x, d["flip"]), d["t_h"], d["t_w"], mh, mw)
