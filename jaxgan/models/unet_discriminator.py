"""U-Net GAN's discriminator (Schonfeld, Schiele and Khoreva, CVPR 2020),
reimplemented from the paper and the layout of its official code
(boschresearch/unetgan, `Unet_Discriminator` on BigGAN-PyTorch).

- The encoder is BigGAN's D without its last, non-downsampling block: the
  same residual blocks (jaxgan.models.biggan.DiscriminatorBlock), each halving
  the resolution down to 4x4, with optional self-attention. Its output goes
  through BigGAN's head (global sum pool of ReLU, a linear score and the
  projection of the class embedding): the global logits D_enc.
- The decoder mirrors it back to the input resolution with BigGAN G-style
  residual blocks without BatchNorm (`DecoderBlock`); every decoder block but
  the first reads its predecessor's output concatenated with the encoder's
  output at the same resolution (the skip connections). A 1x1 convolution
  (not spectrally normalised, as the official code) gives one logit per
  pixel, plus the per-pixel projection <embed(y), h_ij> when class-conditional:
  D_dec.

Channels (multiples of `ch`), from the official D_unet_arch at 128 and 256;
the other resolutions extend the same rule (ours): encoder block i outputs
ENCODER_OUT[i]; decoder block k outputs what encoder block n - 2 - k does,
the last one 1 x ch.

  128: encoder 3 -> 1, 2, 4, 8, 16 (64 .. 4 px); decoder 16 -> 8, 16 -> 4,
       8 -> 2, 4 -> 1, 2 -> 1 (8 .. 128 px).
  256: encoder 3 -> 1, 2, 4, 8, 8, 16; decoder 16 -> 8, 16 -> 8, 16 -> 4,
       8 -> 2, 4 -> 1, 2 -> 1.

Attention (the resolutions in `attention`) is added to encoder blocks only, as
the official code does (its `index < 5`). Images are NHWC in [-1, 1].
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models import layers
from jaxgan.models.biggan import (DiscriminatorBlock, DiscriminatorOptions, check_discriminator_input,
                                  discriminator_head)

Array = jax.Array

# Encoder blocks' output channels (multiples of ch); every block downsamples,
# so the bottleneck is 4x4. 128 and 256 are the official D_unet_arch's.
ENCODER_OUT = {
    32: (1, 2, 4),
    64: (1, 2, 4, 8),
    128: (1, 2, 4, 8, 16),
    256: (1, 2, 4, 8, 8, 16),
    512: (1, 1, 2, 4, 8, 8, 16),
}


def decoder_out(resolution: int) -> tuple[int, ...]:
    """Decoder blocks' output channels (multiples of ch): the encoder's in
    reverse, from the second-to-last block down, then 1."""
    enc = ENCODER_OUT[resolution]
    return tuple(reversed(enc[:-1])) + (1,)


class DecoderBlock(nn.Module):
    """The official GBlock2: act-up-conv3x3-act-conv3x3 plus an upsampled,
    1x1-conv'd shortcut; a BigGAN G block without its BatchNorms."""

    out_features: int
    make: layers.LayerSettings

    @nn.compact
    def __call__(self, x: Array, train: bool) -> Array:
        make = self.make
        # The 2x nearest upsampling is part of conv1 and conv_sc (layers.upsample_conv2d_same).
        h = make.conv(self.out_features, upsample=True, name="conv1")(make.act(x), train)
        h = make.conv(self.out_features, name="conv2")(make.act(h), train)
        return h + make.conv(self.out_features, (1, 1), upsample=True, name="conv_sc")(x, train)


class UNetDiscriminator(DiscriminatorOptions):
    """The U-Net discriminator; see the module docstring. Takes the fields of
    BigGANDiscriminator (the projection head only: `cond_head` must be
    'projection'), so a BigGAN config's model.d builds it unchanged.

    Returns the global logits [N] (float32); with `heads`, (global logits,
    {'pixel': per-pixel logits [N, H, W]}), the form the BigGAN trainer reads
    D's extra outputs in.
    """

    resolution: int = 128
    ch: int = 64

    @nn.compact
    def __call__(self, x: Array, y: Array | None = None, train: bool = False,
                 heads: bool = False) -> Array | tuple[Array, dict[str, Array]]:
        check_discriminator_input(self, x, y, ENCODER_OUT)
        if self.cond_head != "projection":
            raise ValueError(f"UNetDiscriminator conditions by projection only; cond_head {self.cond_head!r} is "
                             "not supported")
        make = self.make
        h = x.astype(self.dtype)
        resolution = self.resolution
        skips = []
        for i, mult in enumerate(ENCODER_OUT[self.resolution]):
            h = DiscriminatorBlock(self.ch * mult, True, i > 0, make, name=f"block{i}")(h, train)
            resolution //= 2
            if resolution in self.attention:
                h = make.attention(name=f"attention{i}")(h, train)
            skips.append(h)
        bottleneck, _ = discriminator_head(self, h, y, train)

        skips = skips[:-1]  # the bottleneck itself feeds the first decoder block
        for k, mult in enumerate(decoder_out(self.resolution)):
            if k > 0:
                h = jnp.concatenate([h, skips.pop()], axis=-1)
            h = DecoderBlock(self.ch * mult, make, name=f"decoder{k}")(h, train)
        conv = layers.SNConv(1, (1, 1), sn=None, kernel_init=layers.weight_init(self.init_style), dtype=self.dtype,
                             name="output_conv")
        pixel = conv(h, train)[..., 0].astype(jnp.float32)
        if self.num_classes is not None:
            embed = make.embed(self.num_classes, h.shape[-1], name="output_embed")(y, train)
            pixel = pixel + jnp.einsum("nhwc,nc->nhw", h.astype(jnp.float32), embed.astype(jnp.float32))
        return (bottleneck, {"pixel": pixel}) if heads else bottleneck
