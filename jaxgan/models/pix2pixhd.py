"""pix2pixHD's networks as the reference builds them (NVIDIA/pix2pixHD,
models/networks.py): the global generator, the local enhancer around it, the
multi-scale PatchGAN discriminator and the instance-feature encoder. The
layers (Conv2d, ConvTranspose2d, BatchNorm2d, instance norm, ResnetBlock) are
jaxgan.models.pix2pix's.

Defaults are the reference's training options (options/base_options.py,
train_options.py), which differ from some of its class defaults: norm
'instance' (InstanceNorm2d without affine or running statistics; 'batch' is
BatchNorm2d as in pix2pix.py), ngf 64 with n_downsampling 4
(--n_downsample_global; the class default is 3) and 9 blocks for the global
G, ngf 32 with one enhancer of 3 blocks for the local G (the 1024p scripts'
--ngf 32), num_D 2 and intermediate features on for D (--num_D,
not --no_ganFeat_loss), nef 16 with 4 downsamplings and feat_num 3 for the
encoder. Every conv has a bias; the reference's weights_init draws conv
kernels from N(0, 0.02) and BatchNorm scales from N(1, 0.02) with zero bias,
and leaves conv biases at torch's default U(+-1/sqrt(fan_in)), as here.

Layers (c7s1-k = reflection pad 3, 7x7 conv, norm, ReLU; dk = 3x3 stride-2
conv, norm, ReLU; Rk = ResnetBlock (pad 1, 3x3 conv, norm, ReLU, pad 1, 3x3
conv, norm, added to x); uk = 3x3 stride-2 transposed conv (padding 1, output
padding 1), norm, ReLU; C-k = 4x4 conv (padding 2), norm, LeakyReLU 0.2):

| network | layers |
|---|---|
| GlobalGenerator | c7s1-64, d128, d256, d512, d1024, 9 x R1024, u512, u256, u128, u64, pad 3, 7x7 conv, tanh |
| LocalEnhancer, G1 | GlobalGenerator of ngf 64 without its last pad, conv and tanh, on the input pooled once |
| LocalEnhancer, model1_1 | c7s1-32, d64 on the input |
| LocalEnhancer, model1_2 | on model1_1 + G1: 3 x R64, u32, pad 3, 7x7 conv to output_nc, tanh |
| NLayerDiscriminator | 4x4 s2 conv to 64, LeakyReLU, C128 s2, C256 s2, C512 s1, 4x4 s1 conv to 1 |
| MultiscaleDiscriminator | num_D NLayerDiscriminators, scale i on the input average-pooled i times |
| Encoder | c7s1-16, d32, d64, d128, d256, u128, u64, u32, u16, pad 3, 7x7 conv to feat_num, tanh |
| Encoder, then | every pixel gets its instance's mean feature (per image and channel) |

Compute dtype: every network and define_G / define_D take `dtype` (float32
by default; bfloat16 for the activations' memory at 2048x1024), with
pix2pix.py's rule: float32 parameters and norm statistics, convolutions,
pads, pooling and activations in `dtype`, the input cast to it; G's tanh
output and D's logits and intermediate features come out in `dtype`. The
encoder's output is instance_average's, float32.

The average pooling (input pyramid) is torch's AvgPool2d(3, stride 2,
padding 1, count_include_pad=False). pix2pixHD's PatchGAN pads its 4x4 convs
by ceil(3 / 2) = 2, pix2pix's by 1 (a 256 input gives 35x35 logits here,
30x30 there), and caps the width at 512. `use_sigmoid` (the reference's
--no_lsgan) ends D in a sigmoid only without intermediate features: the
reference leaves the sigmoid out of those.

Parameters as torch counts them (jaxgan.state.count_params counts the same;
output_nc 3): global G on 36 inputs (35 labels + instance edges) 182,546,755,
on 39 (with 3 instance features) 182,556,163; local G (ngf 32, one enhancer)
on 36 inputs 182,857,059; multi-scale D (ndf 64, n_layers 3) on 39 inputs
(labels, edges, image): num_D 2 5,603,202, num_D 3 8,404,803; encoder (3 in,
3 out, nef 16, 4 downsamplings) 788,803.

Flax names are the reference's state-dict names (pix2pix.py's rule: each
nn.Sequential index joined to the name before it by '_'; `weight` -> `kernel`
(conv, transposed (2, 3, 1, 0)) or `scale` (norm); `bias`; running statistics
-> batch_stats `mean` / `var`):
- GlobalGenerator / Encoder: `model.1.weight` -> `model_1/kernel`,
  `model.16.conv_block.5.bias` -> `model_16/conv_block_5/bias`;
- LocalEnhancer: the global G's layers as `model_i` (as its `model`),
  `model1_1.4.weight` -> `model1_1_4/kernel`,
  `model1_2.0.conv_block.1.weight` -> `model1_2_0/conv_block_1/kernel`;
- MultiscaleDiscriminator: `layer0.0.weight` -> `layer0_0/kernel` and, with
  intermediate features, `scale1_layer2.0.weight` -> `scale1_layer2_0/kernel`;
  layer/scale num_D - 1 reads the full-resolution input, as in the reference;
- NLayerDiscriminator alone: `model.4.weight` -> `model_4/kernel`, or with
  intermediate features `model2.0.weight` -> `model2_0/kernel`.
`params_from_torch_state_dict` (pix2pix.py's) converts a whole state dict.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.pix2pix import (
    Conv2d,
    ConvTranspose2d,
    ResnetBlock,
    SequentialNames,
    leaky_relu,
    norm_layer,
    pad2d,
    params_from_torch_state_dict,
)

__all__ = ["Encoder", "GlobalGenerator", "LocalEnhancer", "MultiscaleDiscriminator", "NLayerDiscriminator", "define_D",
           "define_G", "downsample", "instance_average", "instance_edges", "one_hot_labels",
           "params_from_torch_state_dict"]

Array = jax.Array


def check_norm(norm: str) -> str:
    """The reference's get_norm_layer takes 'instance' and 'batch' only."""
    if norm not in ("instance", "batch"):
        raise ValueError(f"norm must be 'instance' or 'batch', got {norm!r}")
    return norm


def downsample(x: Array) -> Array:
    """torch's AvgPool2d(3, stride=2, padding=1, count_include_pad=False), in
    x's dtype (flax divides by float32 window counts, which would promote a
    bfloat16 x)."""
    return nn.avg_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)), count_include_pad=False).astype(x.dtype)


def one_hot_labels(label_map: Array, label_nc: int, dtype=jnp.float32) -> Array:
    """The reference's encode_input one-hot: label ids [N, H, W] or [N, H, W, 1]
    (any int or float dtype; floats are truncated as its .long()) to [N, H, W,
    label_nc]. Ids must lie in [0, label_nc): the data sources check them (an
    id outside gives an all-zero pixel here, where torch's scatter_ fails)."""
    ids = label_map.reshape(label_map.shape[:3]).astype(jnp.int32)
    return jax.nn.one_hot(ids, label_nc, dtype=dtype)


def instance_edges(inst: Array, dtype=jnp.float32) -> Array:
    """The reference's get_edges: 1 where a pixel's left, right, upper or
    lower neighbour has another instance id, else 0; [N, H, W] or [N, H, W, 1]
    ids to [N, H, W, 1]."""
    t = inst.reshape(inst.shape[:3])
    dx = t[:, :, 1:] != t[:, :, :-1]
    dy = t[:, 1:, :] != t[:, :-1, :]
    no = lambda *widths: [(0, 0), *widths]  # pad the spatial axes only
    edge = (jnp.pad(dx, no((0, 0), (1, 0))) | jnp.pad(dx, no((0, 0), (0, 1)))
            | jnp.pad(dy, no((1, 0), (0, 0))) | jnp.pad(dy, no((0, 1), (0, 0))))
    return edge[..., None].astype(dtype)


def _conv(features: int, kernel: int, stride: int, padding: int, name: str, dtype: Any = jnp.float32) -> Conv2d:
    return Conv2d(features, kernel, stride, padding, True, "torch", dtype, name=name)


def _encoder_decoder(x: Array, output_nc: int | None, ngf: int, n_downsampling: int, n_blocks: int, norm: str,
                     padding_type: str, train: bool, dtype: Any = jnp.float32) -> Array:
    """The global generator's (and the encoder's) layers `model_0...`, in the
    calling module, computing in `dtype`; with output_nc None it stops after
    the last upsampling's ReLU, as the local enhancer's copy does."""
    names = SequentialNames("model")

    def norm_relu(x):
        x = norm_layer(norm, train, names.next(), dtype)(x)
        names.skip()  # ReLU
        return nn.relu(x)

    x = pad2d(x.astype(dtype), 3)
    names.skip()
    x = norm_relu(_conv(ngf, 7, 1, 0, names.next(), dtype)(x))
    for i in range(n_downsampling):
        x = norm_relu(_conv(ngf * 2 ** (i + 1), 3, 2, 1, names.next(), dtype)(x))
    for _ in range(n_blocks):
        x = ResnetBlock(norm, True, False, padding_type, "torch", dtype, name=names.next())(x, train)
    for i in range(n_downsampling):
        up = ConvTranspose2d(ngf * 2 ** (n_downsampling - i) // 2, 3, 2, 1, 1, True, "torch", dtype,
                             name=names.next())
        x = norm_relu(up(x))
    if output_nc is None:
        return x
    x = pad2d(x, 3)
    names.skip()
    return jnp.tanh(_conv(output_nc, 7, 1, 0, names.next(), dtype)(x))


def _check_side(x: Array, factor: int, what: str) -> None:
    if x.shape[1] % factor or x.shape[2] % factor:
        raise ValueError(f"{what} needs sides divisible by {factor}, got {x.shape[1]}x{x.shape[2]}")


class GlobalGenerator(nn.Module):
    """pix2pixHD's G1: c7s1-ngf, n_downsampling d-layers, n_blocks ResnetBlocks,
    n_downsampling u-layers, 7x7 conv to output_nc, tanh. Sides divisible by
    2**n_downsampling. Computes in `dtype`."""

    output_nc: int = 3
    ngf: int = 64
    n_downsampling: int = 4
    n_blocks: int = 9
    norm: str = "instance"
    padding_type: str = "reflect"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array, train: bool = True) -> Array:
        check_norm(self.norm)
        _check_side(x, 2 ** self.n_downsampling, "GlobalGenerator")
        return _encoder_decoder(x, self.output_nc, self.ngf, self.n_downsampling, self.n_blocks, self.norm,
                                self.padding_type, train, self.dtype)


class LocalEnhancer(nn.Module):
    """pix2pixHD's G2: a global generator of ngf * 2**n_local_enhancers without
    its last pad, conv and tanh, on the input average-pooled
    n_local_enhancers times; then per enhancer n (coarse to fine, on the input
    pooled n_local_enhancers - n times): model{n}_2(model{n}_1(input) +
    previous), the last one ending in a 7x7 conv to output_nc and tanh.
    Computes in `dtype` (the input pyramid too)."""

    output_nc: int = 3
    ngf: int = 32
    n_downsample_global: int = 4
    n_blocks_global: int = 9
    n_local_enhancers: int = 1
    n_blocks_local: int = 3
    norm: str = "instance"
    padding_type: str = "reflect"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array, train: bool = True) -> Array:
        check_norm(self.norm)
        n_local, dtype = self.n_local_enhancers, self.dtype
        _check_side(x, 2 ** (self.n_downsample_global + n_local), "LocalEnhancer")
        pyramid = [x.astype(dtype)]
        for _ in range(n_local):
            pyramid.append(downsample(pyramid[-1]))
        out = _encoder_decoder(pyramid[-1], None, self.ngf * 2 ** n_local, self.n_downsample_global,
                               self.n_blocks_global, self.norm, self.padding_type, train, dtype)
        for n in range(1, n_local + 1):
            ngf = self.ngf * 2 ** (n_local - n)
            names = SequentialNames(f"model{n}_1")
            h = pad2d(pyramid[n_local - n], 3)
            names.skip()
            for features, kernel, stride, padding in ((ngf, 7, 1, 0), (2 * ngf, 3, 2, 1)):
                h = _conv(features, kernel, stride, padding, names.next(), dtype)(h)
                h = nn.relu(norm_layer(self.norm, train, names.next(), dtype)(h))
                names.skip()
            h = h + out
            names = SequentialNames(f"model{n}_2")
            for _ in range(self.n_blocks_local):
                h = ResnetBlock(self.norm, True, False, self.padding_type, "torch", dtype, name=names.next())(h, train)
            h = ConvTranspose2d(ngf, 3, 2, 1, 1, True, "torch", dtype, name=names.next())(h)
            h = nn.relu(norm_layer(self.norm, train, names.next(), dtype)(h))
            names.skip()
            if n == n_local:
                h = pad2d(h, 3)
                names.skip()
                h = jnp.tanh(_conv(self.output_nc, 7, 1, 0, names.next(), dtype)(h))
            out = h
        return out


def _patch_discriminator(x: Array, name, ndf: int, n_layers: int, norm: str, use_sigmoid: bool,
                         get_interm_feat: bool, train: bool, dtype: Any = jnp.float32) -> list[Array]:
    """pix2pixHD's NLayerDiscriminator in the calling module: the output of
    each of its n_layers + 2 groups (conv, [norm,] LeakyReLU; the last a
    conv), in `dtype`. name(group, index in group, index in the flat
    sequence) names the layers."""
    padw = 2  # the reference's int(np.ceil((kw - 1.0) / 2)) for kw = 4
    flat = 0
    features = []
    nf = ndf
    for group in range(n_layers + 2):
        last = group == n_layers + 1
        if group > 0:
            nf = 1 if last else min(nf * 2, 512)
        stride = 2 if group < n_layers else 1
        x = _conv(nf, 4, stride, padw, name(group, 0, flat), dtype)(x)
        flat += 1
        if 0 < group and not last:
            x = norm_layer(norm, train, name(group, 1, flat), dtype)(x)
            flat += 1
        if not last:
            x = leaky_relu(x)
            flat += 1
        features.append(x)
    if use_sigmoid and not get_interm_feat:
        features[-1] = jax.nn.sigmoid(features[-1])
    return features


class NLayerDiscriminator(nn.Module):
    """pix2pixHD's PatchGAN (padding 2, widths capped at 512): the logits map
    [N, H', W', 1], or with get_interm_feat the list of its n_layers + 2
    groups' outputs (the last the logits), in `dtype`."""

    ndf: int = 64
    n_layers: int = 3
    norm: str = "instance"
    use_sigmoid: bool = False
    get_interm_feat: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array, train: bool = True) -> Array | list[Array]:
        check_norm(self.norm)
        if self.get_interm_feat:
            name = lambda group, i, flat: f"model{group}_{i}"
        else:
            name = lambda group, i, flat: f"model_{flat}"
        features = _patch_discriminator(x, name, self.ndf, self.n_layers, self.norm, self.use_sigmoid,
                                        self.get_interm_feat, train, self.dtype)
        return features if self.get_interm_feat else features[-1]


class MultiscaleDiscriminator(nn.Module):
    """num_D PatchGANs, the first on the input, each next one on the input
    average-pooled once more (torch's AvgPool2d(3, 2, 1,
    count_include_pad=False)). Returns, as the reference, one list per scale
    (full resolution first): the n_layers + 2 groups' outputs with
    get_interm_feat, else [logits]; all in `dtype` (the input is cast to it,
    so the pooled pyramid is too)."""

    ndf: int = 64
    n_layers: int = 3
    norm: str = "instance"
    use_sigmoid: bool = False
    num_D: int = 2
    get_interm_feat: bool = True
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array, train: bool = True) -> list[list[Array]]:
        check_norm(self.norm)
        x = x.astype(self.dtype)
        result = []
        for i in range(self.num_D):
            d = self.num_D - 1 - i  # the reference's index of the discriminator at this scale
            if self.get_interm_feat:
                name = lambda group, j, flat, d=d: f"scale{d}_layer{group}_{j}"
            else:
                name = lambda group, j, flat, d=d: f"layer{d}_{flat}"
            features = _patch_discriminator(x, name, self.ndf, self.n_layers, self.norm, self.use_sigmoid,
                                            self.get_interm_feat, train, self.dtype)
            result.append(features if self.get_interm_feat else features[-1:])
            if i != self.num_D - 1:
                x = downsample(x)
        return result


def instance_average(features: Array, inst: Array) -> Array:
    """Every pixel's features replaced by the mean features of its instance:
    the pixels of the same image with the same id in `inst` ([N, H, W] or
    [N, H, W, 1], integer ids; float maps are truncated to int as the
    reference's np.unique(inst.astype(int)) does). Jit-friendly: the ids of
    each image are numbered by jnp.unique with a static size."""
    n, h, w, c = features.shape
    ids = inst.reshape(n, h * w).astype(jnp.int32)
    flat = features.reshape(n, h * w, c).astype(jnp.float32)

    def per_image(ids, f):
        _, segment = jnp.unique(ids, return_inverse=True, size=h * w)
        segment = segment.reshape(-1)
        sums = jax.ops.segment_sum(f, segment, num_segments=h * w)
        counts = jax.ops.segment_sum(jnp.ones((h * w,), jnp.float32), segment, num_segments=h * w)
        return (sums / jnp.maximum(counts, 1.0)[:, None])[segment]

    return jax.vmap(per_image)(ids, flat).reshape(n, h, w, c)


class Encoder(nn.Module):
    """pix2pixHD's feature encoder: c7s1-ngf, n_downsampling d-layers, as many
    u-layers, 7x7 conv to output_nc (feat_num) and tanh, then
    `instance_average` over the instance map `inst`. Computes in `dtype`;
    the output is instance_average's, float32."""

    output_nc: int = 3
    ngf: int = 16
    n_downsampling: int = 4
    norm: str = "instance"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array, inst: Array, train: bool = True) -> Array:
        check_norm(self.norm)
        _check_side(x, 2 ** self.n_downsampling, "Encoder")
        features = _encoder_decoder(x, self.output_nc, self.ngf, self.n_downsampling, 0, self.norm, "reflect",
                                    train, self.dtype)
        return instance_average(features, inst)


def define_G(netG: str, output_nc: int = 3, ngf: int = 64, n_downsample_global: int = 4, n_blocks_global: int = 9,
             n_local_enhancers: int = 1, n_blocks_local: int = 3, norm: str = "instance",
             dtype: Any = jnp.float32) -> nn.Module:
    """The reference's define_G by name: 'global', 'local' or 'encoder' (whose
    n_downsampling is n_downsample_global, as in the reference; pix2pixHD
    passes --n_downsample_E and --nef for it), computing in `dtype`."""
    check_norm(norm)
    if netG == "global":
        return GlobalGenerator(output_nc, ngf, n_downsample_global, n_blocks_global, norm, dtype=dtype)
    if netG == "local":
        return LocalEnhancer(output_nc, ngf, n_downsample_global, n_blocks_global, n_local_enhancers,
                             n_blocks_local, norm, dtype=dtype)
    if netG == "encoder":
        return Encoder(output_nc, ngf, n_downsample_global, norm, dtype)
    raise ValueError(f"netG must be 'global', 'local' or 'encoder', got {netG!r}")


def define_D(ndf: int = 64, n_layers_D: int = 3, norm: str = "instance", use_sigmoid: bool = False, num_D: int = 2,
             get_interm_feat: bool = True, dtype: Any = jnp.float32) -> MultiscaleDiscriminator:
    """The reference's define_D: a MultiscaleDiscriminator computing in `dtype`."""
    check_norm(norm)
    return MultiscaleDiscriminator(ndf, n_layers_D, norm, use_sigmoid, num_D, get_interm_feat, dtype)
