"""U-Net GAN's losses and CutMix (Schonfeld, Schiele and Khoreva, CVPR 2020),
as pure functions; the BigGAN trainer applies them with config.unet.

With the U-Net discriminator (jaxgan.models.unet_discriminator) D has a global
output D_enc [N] and a per-pixel output D_dec [N, H, W]. The paper's losses,
written with any of jaxgan.losses' (d_loss, g_loss) pairs in place of its
non-saturating one:

- D: L_enc + L_dec, each the loss on reals plus the loss on fakes, L_dec
  averaged over the pixels (`unet_d_loss`);
- G: g_loss(D_enc(G(z))) + g_loss(D_dec(G(z))) (`unet_g_loss`);
- CutMix: a mixed image mix(x, G(z), M) = M * x + (1 - M) * G(z) with a
  box mask M (1: the real pixels, `cutmix_masks`). D_enc must call it fake;
  D_dec must call each pixel what it came from: the real loss where M = 1, the
  fake loss where M = 0 (`cutmix_d_loss`; with the non-saturating loss this is
  the official code's BCE against the target map M);
- the consistency term |D_dec(mix(x, G(z), M)) - mix(D_dec(x), D_dec(G(z)), M)|^2,
  averaged over the pixels (`cutmix_consistency`; no stop-gradient on either
  side, as the official code);
- the warm-up: CutMix's probability (or weight) ramps linearly from 0 to its
  full value over the first steps (`cutmix_rate`).

The official code halves L_enc + L_dec and the G loss (0.5 each) and adds the
CutMix terms at weight 1; here the paper's sums are used, and the CutMix
terms' weights are config fields.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

Array = jax.Array


def cutmix_boxes(key: Array, n: int, size: int) -> dict[str, Array]:
    """The random numbers of n CutMix masks, as the official `CutMix(size)`
    draws them: lam ~ U(0, 1) (Beta(1, 1)), the box side int(size sqrt(1 - lam)),
    the box centre (row, column) uniform over the integers [0, size), and
    whether the mask is inverted (probability 1/2). [n] each: 'lam' float32,
    'side', 'row', 'col' int32, 'flip' bool."""
    k_lam, k_row, k_col, k_flip = jax.random.split(key, 4)
    lam = jax.random.uniform(k_lam, (n,))
    side = jnp.floor(size * jnp.sqrt(1.0 - lam)).astype(jnp.int32)
    return {"lam": lam, "side": side, "row": jax.random.randint(k_row, (n,), 0, size),
            "col": jax.random.randint(k_col, (n,), 0, size), "flip": jax.random.bernoulli(k_flip, 0.5, (n,))}


def box_masks(boxes: dict[str, Array], size: int) -> Array:
    """[n, size, size] float32 masks from `cutmix_boxes`: 0 inside the box
    [row - side // 2, row + side // 2) x [col - side // 2, col + side // 2),
    clipped to the image, 1 outside; inverted where 'flip'. 1 marks the pixels
    taken from the real image."""
    half = boxes["side"] // 2
    lo = lambda c: jnp.clip(c - half, 0, size)[:, None]
    hi = lambda c: jnp.clip(c + half, 0, size)[:, None]
    idx = jnp.arange(size)[None, :]
    rows = (idx >= lo(boxes["row"])) & (idx < hi(boxes["row"]))  # [n, size]
    cols = (idx >= lo(boxes["col"])) & (idx < hi(boxes["col"]))
    inside = rows[:, :, None] & cols[:, None, :]
    return jnp.where(boxes["flip"][:, None, None], inside, ~inside).astype(jnp.float32)


def cutmix_masks(key: Array, n: int, size: int) -> Array:
    """n CutMix masks [n, size, size], 1 where the real image shows."""
    return box_masks(cutmix_boxes(key, n, size), size)


def mix(mask: Array, real: Array, fake: Array) -> Array:
    """mask * real + (1 - mask) * fake; mask [N, H, W] against images [N, H, W, C]
    or per-pixel maps [N, H, W]."""
    m = mask.astype(real.dtype)
    m = m[..., None] if real.ndim == mask.ndim + 1 else m
    return m * real + (1 - m) * fake


def _per_element(d_loss: Callable) -> Callable[[Array], tuple[Array, Array]]:
    """The real and fake losses of each element of a logit array: d_loss
    averages, so on one element it is that element's loss."""
    def per_element(logits):
        flat = logits.reshape(-1).astype(jnp.float32)
        real, fake = jax.vmap(lambda t: d_loss(t, t))(flat)
        return real.reshape(logits.shape), fake.reshape(logits.shape)

    return per_element


def unet_d_loss(d_loss: Callable, real: Array, fake: Array, real_pixel: Array,
                fake_pixel: Array) -> dict[str, Array]:
    """The U-Net D's losses on reals and fakes: the encoder's d_loss on the
    global logits [N] and the decoder's on the per-pixel logits [N, H, W]
    (averaged over the pixels). Returns {'real', 'fake', 'real_pixel',
    'fake_pixel'}; the D loss is their sum."""
    r, f = d_loss(real, fake)
    rp, fp = d_loss(real_pixel, fake_pixel)
    return {"real": r, "fake": f, "real_pixel": rp, "fake_pixel": fp}


def unet_g_loss(g_loss: Callable, fake: Array, fake_pixel: Array) -> tuple[Array, Array]:
    """G's losses on the global and on the per-pixel logits of its fakes
    (the G loss is their sum)."""
    return g_loss(fake), g_loss(fake_pixel)


def cutmix_d_loss(d_loss: Callable, mixed: Array, mixed_pixel: Array, mask: Array) -> tuple[Array, Array]:
    """D's losses on CutMix images: (the encoder's fake loss on their global
    logits [N], the decoder's per-pixel loss [N, H, W] against the mask: the
    real loss where it is 1, the fake loss where it is 0, averaged)."""
    _, enc = d_loss(mixed, mixed)
    real, fake = _per_element(d_loss)(mixed_pixel)
    m = mask.astype(jnp.float32)
    return enc, jnp.mean(m * real + (1 - m) * fake)


def cutmix_consistency(mixed_pixel: Array, real_pixel: Array, fake_pixel: Array, mask: Array) -> Array:
    """mean |D_dec(mix(x, G(z), M)) - mix(D_dec(x), D_dec(G(z)), M)|^2 over
    the batch and the pixels."""
    target = mix(mask.astype(jnp.float32), real_pixel.astype(jnp.float32), fake_pixel.astype(jnp.float32))
    return jnp.mean(jnp.square(mixed_pixel.astype(jnp.float32) - target))


def cutmix_rate(step: Array, rate: float, warmup_steps: int) -> Array:
    """CutMix's rate at `step`: `rate` * min(1, step / warmup_steps), the
    paper's linear warm-up (the official code's r_mix = 0.5 min(1, epoch /
    warmup_epochs)); `rate` from the start when warmup_steps is 0."""
    if warmup_steps <= 0:
        return jnp.asarray(rate, jnp.float32)
    return rate * jnp.minimum(1.0, jnp.asarray(step, jnp.float32) / warmup_steps)
