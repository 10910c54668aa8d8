"""BigGAN generator and discriminator (Brock et al. 2019), after BigGAN-PyTorch.

Architecture tables, block layouts, the hierarchical z split, the shared class
embedding and the projection discriminator follow ajbrock/BigGAN-PyTorch's
`BigGAN.py` and `layers.py`, so parameter counts equal that code's (pinned in
tests/test_models.py). Images are NHWC in [-1, 1].

Conditioning, by field:
- `num_classes=None`: unconditional. G's BatchNorms are conditioned on the z
  chunks when `hier`, plain otherwise; D has no projection term.
- `shared_dim>0` (BigGAN): one shared class embedding without SN, concatenated
  with a z chunk per block and mapped by each conditional BN's SN dense layers.
- `shared_dim=0` (SN-GAN style, BigGAN-PyTorch's CIFAR script): each
  conditional BN has its own per-class gain and bias embeddings.

Labels are integer class ids [N], or float class vectors [N, num_classes]
(one-hot, soft, or interpolated between classes).
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models import layers

Array = jax.Array

# Channel multipliers of ch per block, from BigGAN-PyTorch's G_arch / D_arch.
# G: output channels of each upsampling block; block i maps G_OUT[i-1] (G_OUT[0]
# for the first) to G_OUT[i], from 4x4 up to the resolution.
G_OUT = {
    32: (4, 4, 4),
    64: (16, 8, 4, 2),
    128: (16, 8, 4, 2, 1),
    256: (16, 8, 8, 4, 2, 1),
    512: (16, 8, 8, 4, 2, 1, 1),
}
# D: output channels of each block (the first block reads the RGB image) and
# which blocks downsample.
D_OUT = {
    32: (4, 4, 4, 4),
    64: (1, 2, 4, 8, 16),
    128: (1, 2, 4, 8, 16, 16),
    256: (1, 2, 4, 8, 8, 16, 16),
    512: (1, 1, 2, 4, 8, 8, 16, 16),
}
D_DOWN = {r: (True,) * (len(m) - 1) + (False,) for r, m in D_OUT.items()}
D_DOWN[32] = (True, True, False, False)

BOTTOM_WIDTH = 4


def g_channels(resolution: int, ch: int, table=G_OUT) -> list[tuple[int, int]]:
    """(in, out) channels of each G stage."""
    check_resolution(resolution, table)
    out = [ch * m for m in table[resolution]]
    return list(zip([out[0]] + out[:-1], out))


def check_resolution(resolution: int, table: dict) -> None:
    if resolution not in table:
        raise ValueError(f"resolution {resolution} is not supported; choose one of {sorted(table)}")


def check_labels(module: nn.Module, y: Array | None) -> None:
    if module.num_classes is not None and y is None:
        raise ValueError(f"{type(module).__name__} is class-conditional (num_classes="
                         f"{module.num_classes}): pass class labels y")
    if module.num_classes is None and y is not None:
        raise ValueError(f"{type(module).__name__} is unconditional (num_classes=None) but labels were passed")


def check_discriminator_input(module: nn.Module, x: Array, y: Array | None, table: dict) -> None:
    check_labels(module, y)
    check_resolution(module.resolution, table)
    if x.shape[1:3] != (module.resolution, module.resolution):
        raise ValueError(f"images are {x.shape[1:3]}, this discriminator takes {module.resolution}x{module.resolution}")


class BigGANOptions(nn.Module):
    """Fields shared by the BigGAN and BigGAN-deep generators and discriminators.

    Defaults are BigGAN-PyTorch's ImageNet launch scripts: orthogonal init,
    SN with 1 power iteration and eps 1e-6, BN eps 1e-5 with torch momentum 0.1.
    """

    num_classes: int | None = 1000
    attention: Sequence[int] = (64,)  # resolutions that get a self-attention block
    init_style: str = "ortho"  # see layers.weight_init
    sn_eps: float = 1e-6
    sn_iters: int = 1
    bn_eps: float = 1e-5
    bn_momentum: float = 0.9
    activation: str = "relu"  # see layers.ACTIVATIONS
    dtype: Any = jnp.float32

    @property
    def make(self) -> layers.LayerSettings:
        sn = layers.SpectralNorm(eps=self.sn_eps, n_iters=self.sn_iters)
        return layers.LayerSettings(sn, self.init_style, self.dtype, self.bn_eps, self.bn_momentum, self.activation)


COND_HEADS = ("projection", "ac", "2c", "d2dce")
AUX_HEADS = ("", "tac", "adc")


class DiscriminatorOptions(BigGANOptions):
    """The conditioning head of both BigGAN discriminators (StudioGAN's
    d_cond_mtd and aux_cls_type, off by default):

    - `cond_head`: 'projection' (BigGAN), or a classifier head that replaces
      it (the adversarial logit then ignores y): 'ac' (AC-GAN: `linear2`, an SN
      linear to the classes without bias, giving class logits), '2c'
      (ContraGAN) or 'd2dce' (ReACGAN): `linear2` to an `embed_dim` embedding
      and `embedding`, the class proxies.
    - `aux_head`: '' (none), 'tac' (TAC-GAN's twin head `linear_mi`, and
      `embedding_mi` for 2c / d2dce, a copy of the classifier head that the
      trainer fits to fakes), or 'adc' (ADC-GAN: the head has 2K classes; y
      is then 2 * class for reals and 2 * class + 1 for fakes, which the
      trainer passes).
    - `normalize_embed`: 2c / d2dce embeddings and proxies on the unit sphere;
      with 'ac', the pooled features (what StudioGAN's normalize_d_embed does).
    """

    cond_head: str = "projection"
    aux_head: str = ""
    embed_dim: int = 512
    normalize_embed: bool = False

    def check_head(self) -> None:
        if self.cond_head not in COND_HEADS:
            raise ValueError(f"unknown cond_head {self.cond_head!r}; choose one of {COND_HEADS}")
        if self.aux_head not in AUX_HEADS:
            raise ValueError(f"unknown aux_head {self.aux_head!r}; choose one of {AUX_HEADS}")
        if self.cond_head != "projection" and self.num_classes is None:
            raise ValueError(f"cond_head {self.cond_head!r} classifies classes: it needs num_classes")
        if self.aux_head and self.cond_head == "projection":
            raise ValueError(f"aux_head {self.aux_head!r} extends a classifier head (cond_head 'ac', '2c' or "
                             "'d2dce'), not 'projection'")


def _unit(x: Array) -> Array:
    """torch.nn.functional.normalize(x, dim=1): x / max(|x|, 1e-12)."""
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def discriminator_head(module: DiscriminatorOptions, h: Array, y: Array | None,
                       train: bool) -> tuple[Array, dict[str, Array]]:
    """SN-GAN/BigGAN D output: global sum pool of act(h) (ReLU), a linear
    unconditional score, plus the projection <embed(y), h> when the head is
    'projection' and D is class-conditional. Returns the logits [N] and the
    classifier heads' outputs (float32): {'cls'} for 'ac', {'embed', 'proxy'}
    for '2c' / 'd2dce', with 'mi_'-prefixed twins for 'tac'; {} for projection."""
    module.check_head()
    make = module.make
    h = jnp.sum(make.act(h), axis=(1, 2)).astype(jnp.float32)
    out = make.dense(1, name="linear")(h, train)[:, 0].astype(jnp.float32)
    heads = {}
    if module.num_classes is None:
        return out, heads
    if module.cond_head == "projection":
        embed = make.embed(module.num_classes, h.shape[-1], name="embed")(y, train)
        return out + jnp.sum(embed.astype(jnp.float32) * h, axis=-1), heads
    classes = module.num_classes * (2 if module.aux_head == "adc" else 1)
    f32 = lambda t: t.astype(jnp.float32)
    if module.cond_head == "ac":
        h = _unit(h) if module.normalize_embed else h
        heads["cls"] = f32(make.dense(classes, use_bias=False, name="linear2")(h, train))
        if module.aux_head == "tac":
            heads["mi_cls"] = f32(make.dense(classes, use_bias=False, name="linear_mi")(h, train))
        return out, heads
    norm = _unit if module.normalize_embed else (lambda t: t)
    heads["embed"] = norm(f32(make.dense(module.embed_dim, name="linear2")(h, train)))
    heads["proxy"] = norm(f32(make.embed(classes, module.embed_dim, name="embedding")(y, train)))
    if module.aux_head == "tac":
        heads["mi_embed"] = norm(f32(make.dense(module.embed_dim, name="linear_mi")(h, train)))
        heads["mi_proxy"] = norm(f32(make.embed(classes, module.embed_dim, name="embedding_mi")(y, train)))
    return out, heads


def block_norm(make: layers.LayerSettings, kind: str, num_classes: int | None, name: str):
    """A G block's BatchNorm as a function (x, cond, train) -> y.

    kind 'linear': conditional on a vector; 'embed': conditional on labels with
    per-class gain/bias embeddings; 'plain': unconditional (cond ignored).
    """
    if kind == "plain":
        bn = make.batch_norm(name=name)
        return lambda x, cond, train: bn(x, train)
    return make.conditional_batch_norm(num_classes if kind == "embed" else None, name=name)


class GeneratorBlock(nn.Module):
    """BigGAN G residual block: BN-ReLU-up-conv3x3-BN-ReLU-conv3x3, plus an
    upsampled shortcut, 1x1-conv'd when the channels change or it upsamples."""

    out_features: int
    upsample: bool
    make: layers.LayerSettings
    norm_kind: str  # see block_norm
    num_classes: int | None = None

    @nn.compact
    def __call__(self, x: Array, cond: Array | None, train: bool) -> Array:
        make, norm = self.make, lambda name: block_norm(self.make, self.norm_kind, self.num_classes, name)
        h = make.act(norm("bn1")(x, cond, train))
        # The upsampling is part of conv1 and conv_sc (layers.upsample_conv2d_same).
        h = make.conv(self.out_features, upsample=self.upsample, name="conv1")(h, train)
        h = make.act(norm("bn2")(h, cond, train))
        h = make.conv(self.out_features, name="conv2")(h, train)
        if x.shape[-1] != self.out_features or self.upsample:
            x = make.conv(self.out_features, (1, 1), upsample=self.upsample, name="conv_sc")(x, train)
        return h + x


class BigGANGenerator(BigGANOptions):
    """BigGAN G. Defaults: BigGAN 128 of BigGAN-PyTorch's ImageNet scripts
    (ch 96, dim_z 120, shared_dim 128, hierarchical z, attention at 64).

    With `hier`, z is split into one chunk for the first linear layer and one per
    block (BigGAN-PyTorch: chunk = dim_z // (blocks + 1), and dim_z is cut to a
    multiple of it; `z_dim` gives the size z must have).
    """

    resolution: int = 128
    ch: int = 96
    dim_z: int = 120
    shared_dim: int = 128
    hier: bool = True

    @property
    def num_blocks(self) -> int:
        check_resolution(self.resolution, G_OUT)
        return len(G_OUT[self.resolution])

    @property
    def z_dim(self) -> int:
        """The size of z this G takes."""
        if not self.hier:
            return self.dim_z
        return (self.dim_z // (self.num_blocks + 1)) * (self.num_blocks + 1)

    @nn.compact
    def __call__(self, z: Array, y: Array | None = None, train: bool = False) -> Array:
        check_labels(self, y)
        if z.shape[-1] != self.z_dim:
            raise ValueError(f"z has {z.shape[-1]} dims, this generator takes {self.z_dim}")
        if self.num_classes is not None and self.shared_dim == 0 and self.hier:
            raise ValueError("hier=True needs a shared embedding (shared_dim > 0) or an unconditional G")
        stages = g_channels(self.resolution, self.ch)

        make = self.make
        if self.num_classes is not None and self.shared_dim > 0:
            # No SN on G's embedding: "for some reason applying SN to G's
            # embedding seems to randomly cripple G" (BigGAN-PyTorch).
            shared = make.embed(self.num_classes, self.shared_dim, spectral=False, name="shared")(y)
            shared = shared.astype(jnp.float32)
        else:
            shared = None

        if self.hier:
            chunks = jnp.split(z, self.num_blocks + 1, axis=-1)
            h = chunks[0]
            conds = [c if shared is None else jnp.concatenate([shared, c], -1) for c in chunks[1:]]
            kind = "linear"
        else:
            h = z
            conds = [shared if shared is not None else y] * self.num_blocks
            kind = "plain" if self.num_classes is None else ("linear" if shared is not None else "embed")

        h = make.dense(BOTTOM_WIDTH * BOTTOM_WIDTH * stages[0][0], name="linear")(h, train)
        h = h.reshape(h.shape[0], BOTTOM_WIDTH, BOTTOM_WIDTH, stages[0][0])
        resolution = BOTTOM_WIDTH
        for i, (_, out) in enumerate(stages):
            h = GeneratorBlock(out, True, make, kind, self.num_classes, name=f"block{i}")(h, conds[i], train)
            resolution *= 2
            if resolution in self.attention:
                h = make.attention(name=f"attention{i}")(h, train)
        h = make.act(make.batch_norm(name="output_bn")(h, train))
        h = make.conv(3, name="output_conv")(h, train)
        return jnp.tanh(h.astype(jnp.float32))


class DiscriminatorBlock(nn.Module):
    """BigGAN D residual block: (ReLU)-conv3x3-ReLU-conv3x3-(avgpool), plus a
    shortcut: conv1x1 then pool when preactivated, pool then conv1x1 otherwise."""

    out_features: int
    downsample: bool
    preactivation: bool
    make: layers.LayerSettings

    @nn.compact
    def __call__(self, x: Array, train: bool) -> Array:
        make = self.make
        h = make.act(x) if self.preactivation else x
        h = make.conv(self.out_features, name="conv1")(h, train)
        # The pooling is part of conv2 and the preactivated conv_sc (layers.conv2d_same_avg_pool).
        h = make.conv(self.out_features, downsample=self.downsample, name="conv2")(make.act(h), train)
        if x.shape[-1] != self.out_features or self.downsample:
            if self.preactivation:
                x = make.conv(self.out_features, (1, 1), downsample=self.downsample, name="conv_sc")(x, train)
            else:
                x = layers.avg_pool2(x) if self.downsample else x
                x = make.conv(self.out_features, (1, 1), name="conv_sc")(x, train)
        return h + x


class BigGANDiscriminator(DiscriminatorOptions):
    """BigGAN D with the projection head (or a classifier head, see
    DiscriminatorOptions). Defaults: BigGAN 128 (ch 96, attention at 64).

    Attention goes after each block whose output has that resolution; it is
    named `attention{i}` after block i. (For 32x32
    BigGAN-PyTorch labels every block '16'; here the real resolutions are used.)
    """

    resolution: int = 128
    ch: int = 96

    @nn.compact
    def __call__(self, x: Array, y: Array | None = None, train: bool = False,
                 heads: bool = False) -> Array | tuple[Array, dict[str, Array]]:
        """Logits [N]; with `heads`, (logits, the classifier heads' outputs)."""
        check_discriminator_input(self, x, y, D_OUT)
        make = self.make
        h = x.astype(self.dtype)
        resolution = self.resolution
        for i, (mult, down) in enumerate(zip(D_OUT[self.resolution], D_DOWN[self.resolution])):
            h = DiscriminatorBlock(self.ch * mult, down, i > 0, make, name=f"block{i}")(h, train)
            resolution //= 2 if down else 1
            if resolution in self.attention:
                h = make.attention(name=f"attention{i}")(h, train)
        out, head_outputs = discriminator_head(self, h, y, train)
        return (out, head_outputs) if heads else out
