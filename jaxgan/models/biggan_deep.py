"""BigGAN-deep generator and discriminator (Brock et al. 2019, appendix B).

G follows DeepMind's released BigGAN-deep (the TF Hub modules, ported to PyTorch
by pytorch-pretrained-biggan) and BigGAN-PyTorch's `BigGANdeep.py`, which agree:
bottleneck residual blocks (channel ratio 4), two blocks per resolution (the
second upsamples), the whole z concatenated with the class embedding as the
condition of every BatchNorm and of the first linear layer, and channels dropped
(not convolved) on the skip path when a block narrows. The output conv has as
many channels as the last stage (128 in the released models) and the first 3 are
kept, as in both references: that is what makes parameter counts and imported
weights line up.

D follows BigGAN-PyTorch's `BigGANdeep.py`: a 3x3 stem conv, bottleneck blocks
whose skip path concatenates new 1x1-conv channels to the (pooled) input, and
the projection head. BigGAN-PyTorch defines D for 32-256; the 512 D here extends
its channel pattern by one stage (an extrapolation: DeepMind released no D).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models import layers
from jaxgan.models.biggan import (BOTTOM_WIDTH, BigGANOptions, DiscriminatorOptions, check_discriminator_input,
                                  check_labels, discriminator_head, g_channels)

Array = jax.Array

# D: (in, out) channel multipliers of each stage, from BigGAN-PyTorch's
# BigGANdeep.D_arch; 512 extrapolated (see the module docstring).
DEEP_D_STAGES = {
    32: ((4, 4), (4, 4), (4, 4)),
    64: ((1, 2), (2, 4), (4, 8), (8, 16)),
    128: ((1, 2), (2, 4), (4, 8), (8, 16), (16, 16)),
    256: ((1, 2), (2, 4), (4, 8), (8, 8), (8, 16), (16, 16)),
    512: ((1, 1), (1, 2), (2, 4), (4, 8), (8, 8), (8, 16), (16, 16)),
}
DEEP_D_DOWN = {r: (True,) * len(s) for r, s in DEEP_D_STAGES.items()}
DEEP_D_DOWN[32] = (True, True, False)


class DeepGeneratorBlock(nn.Module):
    """BN-ReLU-conv1x1 (to in/ratio) - BN-ReLU-[up]-conv3x3 - BN-ReLU-conv3x3 -
    BN-ReLU-conv1x1 (to out); skip: keep the first `out` channels, [up]."""

    out_features: int
    upsample: bool
    make: layers.LayerSettings
    channel_ratio: int = 4

    @nn.compact
    def __call__(self, x: Array, cond: Array, train: bool) -> Array:
        make = self.make
        hidden = x.shape[-1] // self.channel_ratio
        bn = lambda name, t: make.act(make.conditional_batch_norm(name=name)(t, cond, train))
        h = make.conv(hidden, (1, 1), name="conv1")(bn("bn1", x), train)
        # The upsampling is part of conv2 (layers.upsample_conv2d_same).
        h = make.conv(hidden, upsample=self.upsample, name="conv2")(bn("bn2", h), train)
        h = make.conv(hidden, name="conv3")(bn("bn3", h), train)
        h = make.conv(self.out_features, (1, 1), name="conv4")(bn("bn4", h), train)
        if x.shape[-1] != self.out_features:
            if x.shape[-1] < self.out_features:
                raise ValueError("a BigGAN-deep G block can drop channels on its skip path, not add them")
            x = x[..., : self.out_features]
        if self.upsample:  # after dropping channels: fewer to copy
            x = layers.upsample_nearest(x)
        return h + x


class BigGANDeepGenerator(BigGANOptions):
    """BigGAN-deep G. Defaults: DeepMind's released 128 model (ch 128, z 128,
    embedding 128, attention at 64), with BigGAN-PyTorch's SN/BN epsilons;
    the released weights use sn_eps = bn_eps = 1e-4 (jaxgan.convert sets them).

    `to_rgb_features=None` gives the output conv as many channels as the last
    stage, of which the first 3 are the image (both references do this).
    """

    resolution: int = 128
    ch: int = 128
    dim_z: int = 128
    shared_dim: int = 128
    blocks_per_stage: int = 2
    channel_ratio: int = 4
    to_rgb_features: int | None = None

    @property
    def z_dim(self) -> int:
        return self.dim_z

    @nn.compact
    def __call__(self, z: Array, y: Array | None = None, train: bool = False) -> Array:
        check_labels(self, y)
        if z.shape[-1] != self.dim_z:
            raise ValueError(f"z has {z.shape[-1]} dims, this generator takes {self.dim_z}")
        make = self.make
        cond = z.astype(jnp.float32)
        if self.num_classes is not None:
            shared = make.embed(self.num_classes, self.shared_dim, spectral=False, name="shared")(y)
            cond = jnp.concatenate([cond, shared.astype(jnp.float32)], axis=-1)

        stages = g_channels(self.resolution, self.ch)
        h = make.dense(BOTTOM_WIDTH * BOTTOM_WIDTH * stages[0][0], name="linear")(cond, train)
        h = h.reshape(h.shape[0], BOTTOM_WIDTH, BOTTOM_WIDTH, stages[0][0])
        resolution, index = BOTTOM_WIDTH, 0
        for c_in, c_out in stages:
            for b in range(self.blocks_per_stage):
                last = b == self.blocks_per_stage - 1
                block = DeepGeneratorBlock(c_out if last else c_in, last, make, self.channel_ratio,
                                           name=f"block{index}")
                h = block(h, cond, train)
                index += 1
            resolution *= 2
            if resolution in self.attention:
                h = make.attention(name=f"attention{index - 1}")(h, train)
        h = make.act(make.batch_norm(name="output_bn")(h, train))
        h = make.conv(self.to_rgb_features or h.shape[-1], name="output_conv")(h, train)
        return jnp.tanh(h[..., :3].astype(jnp.float32))


class DeepDiscriminatorBlock(nn.Module):
    """ReLU-conv1x1 (to out/ratio) - ReLU-conv3x3 - ReLU-conv3x3 - ReLU-[pool]-
    conv1x1 (to out); skip: [pool], then concatenate out-in new channels from a
    1x1 conv when the block widens."""

    out_features: int
    downsample: bool
    make: layers.LayerSettings
    channel_ratio: int = 4

    @nn.compact
    def __call__(self, x: Array, train: bool) -> Array:
        make = self.make
        hidden = self.out_features // self.channel_ratio
        h = make.conv(hidden, (1, 1), name="conv1")(make.act(x), train)
        h = make.conv(hidden, name="conv2")(make.act(h), train)
        h = make.conv(hidden, name="conv3")(make.act(h), train)
        h = make.act(h)
        if self.downsample:
            h, x = layers.avg_pool2(h), layers.avg_pool2(x)
        h = make.conv(self.out_features, (1, 1), name="conv4")(h, train)
        extra = self.out_features - x.shape[-1]
        if extra < 0:
            raise ValueError("a BigGAN-deep D block can add channels on its skip path, not drop them")
        if extra:
            x = jnp.concatenate([x, make.conv(extra, (1, 1), name="conv_sc")(x, train)], axis=-1)
        return h + x


class BigGANDeepDiscriminator(DiscriminatorOptions):
    """BigGAN-deep D. Defaults: 128x128, ch 128, attention at 64.

    Attention goes after the stage whose output has that resolution, named
    `attention{i}` after block i.
    """

    resolution: int = 128
    ch: int = 128
    blocks_per_stage: int = 2
    channel_ratio: int = 4

    @nn.compact
    def __call__(self, x: Array, y: Array | None = None, train: bool = False,
                 heads: bool = False) -> Array | tuple[Array, dict[str, Array]]:
        """Logits [N]; with `heads`, (logits, the classifier heads' outputs)."""
        check_discriminator_input(self, x, y, DEEP_D_STAGES)
        make = self.make
        stages = DEEP_D_STAGES[self.resolution]
        h = make.conv(self.ch * stages[0][0], name="input_conv")(x.astype(self.dtype), train)
        resolution, index = self.resolution, 0
        for (_, m_out), down in zip(stages, DEEP_D_DOWN[self.resolution]):
            for b in range(self.blocks_per_stage):
                block = DeepDiscriminatorBlock(self.ch * m_out, down and b == 0, make, self.channel_ratio,
                                               name=f"block{index}")
                h = block(h, train)
                index += 1
            resolution //= 2 if down else 1
            if resolution in self.attention:
                h = make.attention(name=f"attention{index - 1}")(h, train)
        out, head_outputs = discriminator_head(self, h, y, train)
        return (out, head_outputs) if heads else out
