"""Plain-PyTorch BigGAN 128 and BigGAN-deep 256 training iterations, timed on this machine.

    flock /tmp/cpu.lock python benchmarks/torch_biggan_reference.py --batch 8 --steps 3
    flock /tmp/cpu.lock python benchmarks/torch_biggan_reference.py --batch 8 --steps 3 --channels-last
    flock /tmp/cpu.lock python benchmarks/torch_biggan_reference.py --arch deep256 --batch 8 --steps 3
    python benchmarks/torch_biggan_reference.py --arch deep256 --check-only   # build, check sizes, exit
    python benchmarks/torch_biggan_reference.py --arch deep256 --ch 16 --batch 2 --steps 1   # quick check

Why: the trainer's speed target ("a BigGAN 128 iteration at batch 8 takes 22 s in
a plain PyTorch implementation on this 2-core CPU; jaxgan should be no slower")
was measured on another machine. This script gives the PyTorch number here, to
set beside `python benchmarks/train_step.py --config configs/biggan_128.py --batch 8`
(and, with `--arch deep256`, beside `--config configs/biggan_deep_256.py`).

The models are written here from the BigGAN paper and jaxgan's own definitions,
layer for layer, with the same widths, SN on the same layers (1 power
iteration per train-mode call, eps 1e-6), the same conditional BN, attention and
projection head:
- `--arch biggan128` (default): jaxgan/models/biggan.py, configs/biggan_128.py
  (ch 96, hierarchical z: each block's BN sees [shared class embedding, its z
  chunk]);
- `--arch deep256`: jaxgan/models/biggan_deep.py, configs/biggan_deep_256.py
  (ch 128, dim_z 128): G has two bottleneck blocks per resolution (1x1 conv to
  in/4, two 3x3, 1x1 out; the second block upsamples), every BN conditioned on
  the whole z concatenated with the shared embedding, which also feeds the
  first linear layer; its skip path drops channels when a block narrows; the
  output conv has as many channels as the last stage and the first 3 are kept.
  D is a 3x3 stem conv and bottleneck blocks (the first of each stage
  downsamples) whose skip path concatenates new 1x1-conv channels when the
  block widens; attention at 64 in both.
The script asserts that G's and D's trainable parameters match jaxgan's, tensor
by tensor (sizes), counted live from jaxgan's flax modules with jax.eval_shape,
and that the training settings it uses (optimiser, loss, regularisation, SN and
BN eps, z and embedding sizes, attention) are the config file's.

One timed iteration mirrors jaxgan's BigGANTrainer.train_step with
num_d_steps from the config (1 in both) and grad_accum 1: a D step (G forward
in train mode without gradients, D on [fake, real], hinge loss, Adam), a G step
(fresh z and classes, G and D forward in train mode, hinge loss, orthogonal
regularisation at the config's strength: 1e-4 for biggan128, none for deep256,
Adam; D's weights get no gradient) and an EMA update of G. Adam: G lr 1e-4, D
lr 4e-4, betas (0, 0.999), eps 1e-6 in both configs. Real images are random,
NCHW (torch's native layout). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import statistics
import subprocess
import sys
import time
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Channel multipliers of ch, as jaxgan's G_OUT[128] / D_OUT[128] / D_DOWN[128].
G_OUT = (16, 8, 4, 2, 1)
D_OUT = (1, 2, 4, 8, 16, 16)
D_DOWN = (True, True, True, True, True, False)
BOTTOM = 4  # G starts at 4x4
RESOLUTION = 128  # the tables above are BigGAN 128's
# BigGAN-deep 256, as jaxgan's G_OUT[256] (its deep G's stages) and
# DEEP_D_STAGES[256] / DEEP_D_DOWN[256]: (in, out) multipliers of each D stage.
DEEP256_G_OUT = (16, 8, 8, 4, 2, 1)
DEEP256_D_STAGES = ((1, 2), (2, 4), (4, 8), (8, 8), (8, 16), (16, 16))
DEEP256_D_DOWN = (True,) * 6
DEEP_RESOLUTION = 256
DEEP_BLOCKS_PER_STAGE = 2  # jaxgan's blocks_per_stage
DEEP_CHANNEL_RATIO = 4  # bottleneck width = channels / 4 (jaxgan's channel_ratio)
SN_EPS = 1e-6  # configs: model.sn_eps
BN_EPS = 1e-5  # model.bn_eps
BN_MOMENTUM = 0.1  # torch convention; jaxgan's 0.9 is the same update


# ---------------------------------------------------------------------------
# Spectral normalisation: each SN layer keeps u [out] and v [fan_in] as
# buffers (not trainable, as jaxgan's `spectral` collection) for its weight
# viewed as W [out, fan_in]. In train mode one power iteration runs from the
# stored u and the result is stored; sigma = u^T W v with gradients through W
# only. In eval mode the stored u, v are used unchanged.


class SpectralNormMixin:
    def _init_sn(self):
        w = self.weight.detach().flatten(1)
        u = F.normalize(torch.randn(w.shape[0]), dim=0, eps=SN_EPS)
        v = F.normalize(w.t() @ u, dim=0, eps=SN_EPS)
        u = F.normalize(w @ v, dim=0, eps=SN_EPS)  # one iteration at init, as jaxgan
        self.register_buffer("u", u)
        self.register_buffer("v", v)

    def sn_weight(self) -> torch.Tensor:
        w = self.weight.flatten(1)
        u, v = self.u, self.v
        if self.training:
            with torch.no_grad():
                v = F.normalize(w.t() @ u, dim=0, eps=SN_EPS)
                u = F.normalize(w @ v, dim=0, eps=SN_EPS)
                self.u.copy_(u)
                self.v.copy_(v)
        sigma = u @ (w @ v)
        return self.weight / sigma


def _ortho_init(module: nn.Module):
    # BigGAN's orthogonal init (jaxgan init_style 'ortho'), zero biases.
    nn.init.orthogonal_(module.weight)
    if getattr(module, "bias", None) is not None:
        nn.init.zeros_(module.bias)


class SNConv2d(nn.Conv2d, SpectralNormMixin):
    """Stride 1, 'same' padding (k // 2), as jaxgan's SNConv."""

    def __init__(self, cin, cout, k=3, bias=True):
        super().__init__(cin, cout, k, padding=k // 2, bias=bias)
        _ortho_init(self)
        self._init_sn()

    def forward(self, x):
        return F.conv2d(x, self.sn_weight(), self.bias, padding=self.padding)


class SNLinear(nn.Linear, SpectralNormMixin):
    def __init__(self, cin, cout, bias=True):
        super().__init__(cin, cout, bias=bias)
        _ortho_init(self)
        self._init_sn()

    def forward(self, x):
        return F.linear(x, self.sn_weight(), self.bias)


class SNEmbedding(nn.Embedding, SpectralNormMixin):
    """W is the [classes, dim] table: u has one entry per class (jaxgan's SNEmbed)."""

    def __init__(self, num, dim):
        super().__init__(num, dim)
        _ortho_init(self)
        self._init_sn()

    def forward(self, y):
        return F.embedding(y, self.sn_weight())


# ---------------------------------------------------------------------------
# Batch norm. Running statistics are buffers without num_batches_tracked, so
# that every G buffer is a float tensor the EMA can average.


class _RunningStats(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.register_buffer("running_mean", torch.zeros(features))
        self.register_buffer("running_var", torch.ones(features))

    def normalize(self, x):
        # Batch statistics in train mode (biased variance to normalise, unbiased
        # into the running variance: torch's and jaxgan's rule).
        return F.batch_norm(x, self.running_mean, self.running_var, None, None, self.training, BN_MOMENTUM, BN_EPS)


class BatchNorm(_RunningStats):
    """G's output BN: learned per-channel gain and bias."""

    def __init__(self, features):
        super().__init__(features)
        self.weight = nn.Parameter(torch.ones(features))
        self.bias = nn.Parameter(torch.zeros(features))

    def forward(self, x):
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, self.training,
                            BN_MOMENTUM, BN_EPS)


class ConditionalBatchNorm(_RunningStats):
    """norm(x) * (1 + gain(c)) + bias(c); gain and bias are bias-free SN linear
    maps of c = [shared class embedding, z chunk]."""

    def __init__(self, features, cond_dim):
        super().__init__(features)
        self.gain = SNLinear(cond_dim, features, bias=False)
        self.bias = SNLinear(cond_dim, features, bias=False)

    def forward(self, x, c):
        gain = self.gain(c)[:, :, None, None]
        bias = self.bias(c)[:, :, None, None]
        return self.normalize(x) * (1 + gain) + bias


# ---------------------------------------------------------------------------
# SAGAN self-attention: theta, phi (C/8), g (C/2), o (C) are bias-free SN 1x1
# convs; phi and g are 2x2 max-pooled; gamma starts at 0.


class SelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.theta = SNConv2d(c, c // 8, 1, bias=False)
        self.phi = SNConv2d(c, c // 8, 1, bias=False)
        self.g = SNConv2d(c, c // 2, 1, bias=False)
        self.o = SNConv2d(c // 2, c, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        n, c, h, w = x.shape
        # reshape, not view: with --channels-last the conv outputs are NHWC in memory.
        theta = self.theta(x).reshape(n, c // 8, h * w)
        phi = F.max_pool2d(self.phi(x), 2).reshape(n, c // 8, h * w // 4)
        g = F.max_pool2d(self.g(x), 2).reshape(n, c // 2, h * w // 4)
        beta = F.softmax(torch.bmm(theta.transpose(1, 2), phi), dim=-1)  # [n, queries, keys]
        o = torch.bmm(g, beta.transpose(1, 2)).reshape(n, c // 2, h, w)
        return x + self.gamma * self.o(o)


# ---------------------------------------------------------------------------
# Generator


class GBlock(nn.Module):
    """CBN-ReLU-up-conv3x3-CBN-ReLU-conv3x3, plus an upsampled 1x1-conv shortcut."""

    def __init__(self, cin, cout, cond_dim):
        super().__init__()
        self.bn1 = ConditionalBatchNorm(cin, cond_dim)
        self.conv1 = SNConv2d(cin, cout)
        self.bn2 = ConditionalBatchNorm(cout, cond_dim)
        self.conv2 = SNConv2d(cout, cout)
        self.conv_sc = SNConv2d(cin, cout, 1)  # every block upsamples, so the shortcut is learned

    def forward(self, x, c):
        h = F.relu(self.bn1(x, c))
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        h = self.conv1(h)
        h = self.conv2(F.relu(self.bn2(h, c)))
        return h + self.conv_sc(x)


class Generator(nn.Module):
    def __init__(self, ch=96, dim_z=120, shared_dim=128, num_classes=1000, attention=(64,)):
        super().__init__()
        self.num_chunks = len(G_OUT) + 1  # hierarchical z: one chunk for the linear layer, one per block
        self.chunk = dim_z // self.num_chunks
        self.z_dim = self.chunk * self.num_chunks
        out = [ch * m for m in G_OUT]
        stages = list(zip([out[0]] + out[:-1], out))
        self.bottom_ch = out[0]
        # No SN on the shared embedding, as BigGAN-PyTorch and jaxgan.
        self.shared = nn.Embedding(num_classes, shared_dim)
        nn.init.orthogonal_(self.shared.weight)
        self.linear = SNLinear(self.chunk, BOTTOM * BOTTOM * out[0])
        cond_dim = shared_dim + self.chunk
        self.blocks = nn.ModuleList()
        res = BOTTOM
        for cin, cout in stages:
            res *= 2
            # attention after the block whose output has that resolution
            self.blocks.append(nn.ModuleList([GBlock(cin, cout, cond_dim)] +
                                             ([SelfAttention(cout)] if res in attention else [])))
        self.output_bn = BatchNorm(out[-1])
        self.output_conv = SNConv2d(out[-1], 3)
        self.channels_last = False

    def forward(self, z, y):
        chunks = torch.split(z, self.chunk, dim=1)
        shared = self.shared(y)
        h = self.linear(chunks[0]).view(z.shape[0], self.bottom_ch, BOTTOM, BOTTOM)
        if self.channels_last:
            h = h.contiguous(memory_format=torch.channels_last)
        for layers, zc in zip(self.blocks, chunks[1:]):
            c = torch.cat([shared, zc], dim=1)
            h = layers[0](h, c)
            for attn in layers[1:]:
                h = attn(h)
        h = F.relu(self.output_bn(h))
        return torch.tanh(self.output_conv(h))


# ---------------------------------------------------------------------------
# Discriminator


class DBlock(nn.Module):
    """(ReLU)-conv3x3-ReLU-conv3x3-(avgpool); shortcut conv1x1 then pool when
    preactivated, pool then conv1x1 for the first block (on the image)."""

    def __init__(self, cin, cout, downsample, preactivation):
        super().__init__()
        self.downsample, self.preactivation = downsample, preactivation
        self.conv1 = SNConv2d(cin, cout)
        self.conv2 = SNConv2d(cout, cout)
        self.conv_sc = SNConv2d(cin, cout, 1) if (cin != cout or downsample) else None

    def forward(self, x):
        h = F.relu(x) if self.preactivation else x
        h = self.conv2(F.relu(self.conv1(h)))
        pool = (lambda t: F.avg_pool2d(t, 2)) if self.downsample else (lambda t: t)
        sc = self.conv_sc if self.conv_sc is not None else (lambda t: t)
        x = pool(sc(x)) if self.preactivation else sc(pool(x))
        return pool(h) + x


class Discriminator(nn.Module):
    def __init__(self, ch=96, num_classes=1000, attention=(64,)):
        super().__init__()
        self.blocks = nn.ModuleList()
        cin, res = 3, RESOLUTION
        for i, (m, down) in enumerate(zip(D_OUT, D_DOWN)):
            res //= 2 if down else 1
            self.blocks.append(DBlock(cin, ch * m, down, preactivation=i > 0))
            if res in attention:
                self.blocks.append(SelfAttention(ch * m))
            cin = ch * m
        self.linear = SNLinear(cin, 1)
        self.embed = SNEmbedding(num_classes, cin)  # projection discriminator, SN'd

    def forward(self, x, y):
        h = x
        for block in self.blocks:
            h = block(h)
        return projection_head(self.linear, self.embed, h, y)


def projection_head(linear: SNLinear, embed: SNEmbedding, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Both D's output (jaxgan's projection_head): global sum pool of relu(h),
    a linear score plus the projection <embed(y), h>."""
    h = torch.sum(F.relu(h), dim=(2, 3))
    return linear(h)[:, 0] + torch.sum(embed(y) * h, dim=1)


# ---------------------------------------------------------------------------
# BigGAN-deep 256 (jaxgan/models/biggan_deep.py)


def _up(t):
    return F.interpolate(t, scale_factor=2, mode="nearest")


class DeepGBlock(nn.Module):
    """CBN-ReLU-conv1x1 (to in/4) - CBN-ReLU-[up]-conv3x3 - CBN-ReLU-conv3x3 -
    CBN-ReLU-conv1x1 (to out); skip: keep the first `out` channels, [up]."""

    def __init__(self, cin, cout, upsample, cond_dim, channel_ratio=DEEP_CHANNEL_RATIO):
        super().__init__()
        if cout > cin:
            raise ValueError("a BigGAN-deep G block can drop channels on its skip path, not add them")
        hidden = cin // channel_ratio
        self.cout, self.upsample = cout, upsample
        self.bn1 = ConditionalBatchNorm(cin, cond_dim)
        self.conv1 = SNConv2d(cin, hidden, 1)
        self.bn2 = ConditionalBatchNorm(hidden, cond_dim)
        self.conv2 = SNConv2d(hidden, hidden)
        self.bn3 = ConditionalBatchNorm(hidden, cond_dim)
        self.conv3 = SNConv2d(hidden, hidden)
        self.bn4 = ConditionalBatchNorm(hidden, cond_dim)
        self.conv4 = SNConv2d(hidden, cout, 1)

    def forward(self, x, c):
        h = self.conv1(F.relu(self.bn1(x, c)))
        h = F.relu(self.bn2(h, c))
        if self.upsample:
            h, x = _up(h), _up(x)
        h = self.conv2(h)
        h = self.conv3(F.relu(self.bn3(h, c)))
        h = self.conv4(F.relu(self.bn4(h, c)))
        return h + x[:, :self.cout]


class DeepGenerator(nn.Module):
    """BigGAN-deep G: cond = [z, shared(y)] feeds the first linear layer and
    every conditional BN; per stage two DeepGBlocks (the first keeps the width,
    the second narrows and upsamples), attention after the stage whose output
    has that resolution; BN-ReLU-conv3x3 to the last stage's width, first 3
    channels, tanh."""

    def __init__(self, ch=128, dim_z=128, shared_dim=128, num_classes=1000, attention=(64,), g_out=DEEP256_G_OUT,
                 blocks_per_stage=DEEP_BLOCKS_PER_STAGE):
        super().__init__()
        self.z_dim = dim_z  # the whole z, no chunks
        out = [ch * m for m in g_out]
        stages = list(zip([out[0]] + out[:-1], out))
        self.bottom_ch = out[0]
        self.shared = nn.Embedding(num_classes, shared_dim)  # no SN, as jaxgan
        nn.init.orthogonal_(self.shared.weight)
        cond_dim = dim_z + shared_dim
        self.linear = SNLinear(cond_dim, BOTTOM * BOTTOM * out[0])
        self.blocks = nn.ModuleList()
        res = BOTTOM
        for cin, cout in stages:
            last = blocks_per_stage - 1
            stage = [DeepGBlock(cin, cout if b == last else cin, b == last, cond_dim) for b in range(blocks_per_stage)]
            res *= 2
            if res in attention:
                stage.append(SelfAttention(cout))
            self.blocks.append(nn.ModuleList(stage))
        self.output_bn = BatchNorm(out[-1])
        self.output_conv = SNConv2d(out[-1], out[-1])  # jaxgan's to_rgb_features=None; first 3 kept
        self.channels_last = False

    def forward(self, z, y):
        cond = torch.cat([z, self.shared(y)], dim=1)
        h = self.linear(cond).view(z.shape[0], self.bottom_ch, BOTTOM, BOTTOM)
        if self.channels_last:
            h = h.contiguous(memory_format=torch.channels_last)
        for stage in self.blocks:
            for layer in stage:
                h = layer(h, cond) if isinstance(layer, DeepGBlock) else layer(h)
        h = F.relu(self.output_bn(h))
        return torch.tanh(self.output_conv(h)[:, :3])


class DeepDBlock(nn.Module):
    """ReLU-conv1x1 (to out/4) - ReLU-conv3x3 - ReLU-conv3x3 - ReLU-[pool]-
    conv1x1 (to out); skip: [pool], then concatenate out-in new channels from
    a 1x1 conv when the block widens."""

    def __init__(self, cin, cout, downsample, channel_ratio=DEEP_CHANNEL_RATIO):
        super().__init__()
        if cout < cin:
            raise ValueError("a BigGAN-deep D block can add channels on its skip path, not drop them")
        hidden = cout // channel_ratio
        self.downsample = downsample
        self.conv1 = SNConv2d(cin, hidden, 1)
        self.conv2 = SNConv2d(hidden, hidden)
        self.conv3 = SNConv2d(hidden, hidden)
        self.conv4 = SNConv2d(hidden, cout, 1)
        self.conv_sc = SNConv2d(cin, cout - cin, 1) if cout > cin else None

    def forward(self, x):
        h = self.conv1(F.relu(x))
        h = self.conv2(F.relu(h))
        h = F.relu(self.conv3(F.relu(h)))
        if self.downsample:
            h, x = F.avg_pool2d(h, 2), F.avg_pool2d(x, 2)
        h = self.conv4(h)
        if self.conv_sc is not None:
            x = torch.cat([x, self.conv_sc(x)], dim=1)
        return h + x


class DeepDiscriminator(nn.Module):
    """BigGAN-deep D: conv3x3 stem, per stage two DeepDBlocks (the first
    downsamples), attention after the stage whose output has that resolution,
    the projection head."""

    def __init__(self, ch=128, num_classes=1000, attention=(64,), stages=DEEP256_D_STAGES, down=DEEP256_D_DOWN,
                 resolution=DEEP_RESOLUTION, blocks_per_stage=DEEP_BLOCKS_PER_STAGE):
        super().__init__()
        cin = ch * stages[0][0]
        self.input_conv = SNConv2d(3, cin)
        self.blocks = nn.ModuleList()
        res = resolution
        for (_, m_out), d in zip(stages, down):
            for b in range(blocks_per_stage):
                self.blocks.append(DeepDBlock(cin, ch * m_out, d and b == 0))
                cin = ch * m_out
            res //= 2 if d else 1
            if res in attention:
                self.blocks.append(SelfAttention(cin))
        self.linear = SNLinear(cin, 1)
        self.embed = SNEmbedding(num_classes, cin)

    def forward(self, x, y):
        h = self.input_conv(x)
        for block in self.blocks:
            h = block(h)
        return projection_head(self.linear, self.embed, h, y)


# ---------------------------------------------------------------------------
# Architectures and their training settings


class ArchSpec(NamedTuple):
    """What the script builds for one --arch, with the training settings of its
    config file (checked against the file itself by check_settings)."""

    config: str  # configs/<config>
    model_arch: str  # the config's model.arch
    resolution: int
    ch: int  # the config's width; --ch overrides it
    dim_z: int
    shared_dim: int
    hier: bool | None  # the config's model.g.hier (None: no such field, BigGAN-deep)
    attention: tuple[int, ...]  # G's and D's
    ortho: float  # orthogonal regularisation strength (reg.ortho)
    counts: tuple[int, int]  # (G, D) parameters at width `ch`, pinned in tests/test_models.py
    num_classes: int = 1000
    g_lr: float = 1e-4
    d_lr: float = 4e-4
    betas: tuple[float, float] = (0.0, 0.999)
    adam_eps: float = 1e-6
    num_d_steps: int = 1
    ema_decay: float = 0.9999
    loss: str = "hinge"

    def settings(self) -> dict:
        """The settings in check_settings' form (see config_settings)."""
        optim = lambda lr: {"lr": lr, "b1": self.betas[0], "b2": self.betas[1], "eps": self.adam_eps,
                            "warmup_steps": 0, "decay": "constant"}
        return {
            "arch": self.model_arch, "resolution": self.resolution, "g_ch": self.ch, "d_ch": self.ch,
            "dim_z": self.dim_z, "shared_dim": self.shared_dim, "hier": self.hier,
            "g_attention": list(self.attention), "d_attention": list(self.attention), "g_init": "ortho",
            "d_init": "ortho", "sn_eps": SN_EPS, "sn_iters": 1, "bn_eps": BN_EPS, "dtype": "float32",
            "num_classes": self.num_classes, "loss": self.loss, "ortho": self.ortho, "gp_weight": 0.0,
            "r1_gamma": 0.0, "num_d_steps": self.num_d_steps, "g_optim": optim(self.g_lr), "d_optim": optim(self.d_lr),
            "ema_decay": self.ema_decay,
        }


ARCHS = {
    # configs/biggan_128.py: ch 96, dim_z 120 (6 chunks of 20), ortho 1e-4.
    "biggan128": ArchSpec("biggan_128.py", "biggan", RESOLUTION, 96, 120, 128, True, (64,), 1e-4,
                          (70_433_988, 87_982_370)),
    # configs/biggan_deep_256.py: ch 128, dim_z 128, no orthogonal regularisation.
    "deep256": ArchSpec("biggan_deep_256.py", "biggan_deep", DEEP_RESOLUTION, 128, 128, 128, None, (64,), 0.0,
                        (55_880_833, 38_247_426)),
}


def build_models(arch: str = "biggan128", ch: int | None = None, num_classes: int = 1000,
                 attention: tuple[int, ...] | None = None) -> tuple[nn.Module, nn.Module]:
    """(G, D) of `arch` at width `ch` (default: the config's), in train mode."""
    spec = ARCHS[arch]
    ch = spec.ch if ch is None else ch
    attention = spec.attention if attention is None else attention
    if spec.model_arch == "biggan_deep":
        G = DeepGenerator(ch=ch, dim_z=spec.dim_z, shared_dim=spec.shared_dim, num_classes=num_classes,
                          attention=attention)
        D = DeepDiscriminator(ch=ch, num_classes=num_classes, attention=attention)
    else:
        G = Generator(ch=ch, dim_z=spec.dim_z, shared_dim=spec.shared_dim, num_classes=num_classes,
                      attention=attention)
        D = Discriminator(ch=ch, num_classes=num_classes, attention=attention)
    return G.train(), D.train()


# ---------------------------------------------------------------------------
# Training iteration


def add_ortho_grad(model: Generator, strength: float):
    """BigGAN's orthogonal regularisation, off-diagonal: adds to each weight's
    gradient strength * 2 (W W^T * (1 - I)) W, W the [out, fan_in] view; on
    every G weight with >= 2 dims but the shared embedding (jaxgan's
    losses.orthogonal_regularization: its gradient is this term).

    When out > fan_in (the first linear layer: 24576 x 20) it is computed as
    2 (W (W^T W) - rownorm^2 * W), the same value without an out x out matrix.
    """
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim < 2 or name.startswith("shared.") or p.grad is None:
                continue
            w = p.flatten(1)
            if w.shape[0] > w.shape[1]:
                term = w @ (w.t() @ w) - w.square().sum(1, keepdim=True) * w
            else:
                gram = w @ w.t()
                gram.fill_diagonal_(0.0)
                term = gram @ w
            p.grad.add_(term.view_as(p), alpha=2.0 * strength)


class Reference:
    """G, D, their Adam optimisers and the EMA G, with one train_step().
    ch, attention, ortho and ema_decay default to the arch's config."""

    def __init__(self, ch=None, num_classes=1000, batch=8, attention=None, channels_last=False, ortho=None,
                 ema_decay=None, seed=0, arch="biggan128"):
        spec = ARCHS[arch]
        self.arch, self.resolution = arch, spec.resolution
        torch.manual_seed(seed)
        self.G, self.D = build_models(arch, ch, num_classes, attention)
        self.G_ema = copy.deepcopy(self.G).eval()
        for p in self.G_ema.parameters():
            p.requires_grad_(False)
        # The config's Adam (both configs: G lr 1e-4, D lr 4e-4, betas (0, 0.999), eps 1e-6).
        self.g_opt = torch.optim.Adam(self.G.parameters(), lr=spec.g_lr, betas=spec.betas, eps=spec.adam_eps)
        self.d_opt = torch.optim.Adam(self.D.parameters(), lr=spec.d_lr, betas=spec.betas, eps=spec.adam_eps)
        self.ortho = spec.ortho if ortho is None else ortho
        self.ema_decay = spec.ema_decay if ema_decay is None else ema_decay
        self.num_d_steps = spec.num_d_steps
        self.num_classes, self.batch = num_classes, batch
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        if channels_last:
            for m in (self.G, self.D, self.G_ema):
                m.to(memory_format=torch.channels_last)
            self.G.channels_last = self.G_ema.channels_last = True
        res = self.resolution
        self.real = (torch.rand(batch, 3, res, res) * 2 - 1).contiguous(memory_format=self.memory_format)
        self.real_y = torch.randint(0, num_classes, (batch,))

    def _sample(self):
        return torch.randn(self.batch, self.G.z_dim), torch.randint(0, self.num_classes, (self.batch,))

    def train_step(self) -> dict:
        G, D = self.G, self.D
        for _ in range(self.num_d_steps):  # 1 in both configs; every D step reuses the one random real batch
            # D step: G in train mode (BN statistics and SN vectors update) without gradients.
            z, y_fake = self._sample()
            with torch.no_grad():
                fake = G(z, y_fake)
            logits = D(torch.cat([fake, self.real]), torch.cat([y_fake, self.real_y]))
            d_fake, d_real = logits.chunk(2)
            d_loss = F.relu(1.0 - d_real).mean() + F.relu(1.0 + d_fake).mean()
            self.d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            self.d_opt.step()

        # G step: fresh z and classes; D in train mode, its weights get no gradient
        # (jaxgan differentiates w.r.t. G's params only).
        for p in D.parameters():
            p.requires_grad_(False)
        z, y = self._sample()
        g_loss = -D(G(z, y), y).mean()
        self.g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        if self.ortho:
            add_ortho_grad(G, self.ortho)
        self.g_opt.step()
        for p in D.parameters():
            p.requires_grad_(True)

        # EMA of G's params and buffers; SN vectors renormalised (jaxgan's _ema_update).
        with torch.no_grad():
            for e, p in zip(self.G_ema.parameters(), G.parameters()):
                e.lerp_(p, 1.0 - self.ema_decay)
            for (name, e), b in zip(self.G_ema.named_buffers(), G.buffers()):
                e.lerp_(b, 1.0 - self.ema_decay)
                if name.endswith((".u", ".v")):
                    e.div_(e.norm().clamp_min(1e-12))
        return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def sizes(model: nn.Module) -> list[int]:
    return sorted(p.numel() for p in model.parameters())


def config_settings(c) -> dict:
    """The training settings of a jaxgan config that this script mirrors, in
    ArchSpec.settings' form."""
    optim = lambda o: {k: o[k] for k in ("lr", "b1", "b2", "eps", "warmup_steps", "decay")}
    g, d = c.model.g, c.model.d
    return {
        "arch": c.model.arch, "resolution": c.model.resolution, "g_ch": g.ch, "d_ch": d.ch, "dim_z": g.dim_z,
        "shared_dim": g.shared_dim, "hier": g.get("hier"), "g_attention": list(g.attention),
        "d_attention": list(d.attention), "g_init": g.init_style, "d_init": d.init_style, "sn_eps": c.model.sn_eps,
        "sn_iters": c.model.sn_iters, "bn_eps": c.model.bn_eps, "dtype": c.dtype, "num_classes": c.data.num_classes,
        "loss": c.loss, "ortho": c.reg.ortho, "gp_weight": c.reg.gp_weight, "r1_gamma": c.reg.r1_gamma,
        "num_d_steps": c.train.num_d_steps, "g_optim": optim(c.optim.g), "d_optim": optim(c.optim.d),
        "ema_decay": c.ema.decay,
    }


def check_settings(arch: str, settings: dict) -> None:
    """Raises if the settings this script uses for `arch` differ from its config file's."""
    ours = json.loads(json.dumps(ARCHS[arch].settings()))  # tuples -> lists, as the config's came through JSON
    theirs = json.loads(json.dumps(settings))
    diff = {k: (ours.get(k), theirs.get(k)) for k in sorted(set(ours) | set(theirs)) if ours.get(k) != theirs.get(k)}
    if diff:
        raise AssertionError(f"{arch}: settings differ from configs/{ARCHS[arch].config} (script, config): {diff}")


def jaxgan_param_sizes(ch: int | None = None, num_classes: int = 1000, arch: str = "biggan128") -> dict:
    """Sorted sizes of every trainable tensor of the G and D that jaxgan builds
    from the arch's config file (configs/biggan_128.py, configs/biggan_deep_256.py)
    at width `ch` (default: the config's), with jax.eval_shape: nothing is
    allocated or run. Sizes, not shapes: jaxgan's kernels are HWIO / [in, out].
    Also returns the config's training settings (config_settings, before `ch`
    and `num_classes` are applied) under "settings"."""
    import jax
    import jax.numpy as jnp

    from jaxgan import configs
    from jaxgan.trainers.biggan import build_models as jaxgan_build_models

    spec = ARCHS[arch]
    c = configs.load(os.path.join(ROOT, "configs", spec.config))
    settings = config_settings(c)
    c.model.g.ch = c.model.d.ch = spec.ch if ch is None else ch
    c.data.num_classes = num_classes
    g, d = jaxgan_build_models(c)
    res = c.model.resolution
    y = jnp.zeros((2,), jnp.int32)
    gv = jax.eval_shape(g.init, jax.random.key(0), jnp.zeros((2, g.z_dim)), y)
    dv = jax.eval_shape(d.init, jax.random.key(0), jnp.zeros((2, res, res, 3)), y)
    size = lambda v: sorted(int(x.size) for x in jax.tree_util.tree_leaves(v["params"]))
    return {"g": size(gv), "d": size(dv), "settings": settings}


def _jaxgan_param_sizes_subprocess(ch: int | None, arch: str = "biggan128") -> dict:
    # A subprocess, so that XLA's runtime is not loaded in the timed torch process.
    code = ("import json; from benchmarks import torch_biggan_reference as r; "
            f"print(json.dumps(r.jaxgan_param_sizes({ch!r}, arch={arch!r})))")
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", choices=sorted(ARCHS), default="biggan128",
                   help="biggan128 (configs/biggan_128.py) or deep256 (configs/biggan_deep_256.py)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=3, help="timed iterations after one warm-up")
    p.add_argument("--channels-last", action="store_true", help="run convs in torch.channels_last memory format")
    p.add_argument("--ch", type=int, default=None,
                   help="width (default: the config's, 96 for biggan128, 128 for deep256); smaller for quick checks")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's, all cores here)")
    p.add_argument("--check-only", action="store_true",
                   help="build G and D, check them and the settings against jaxgan, print the counts and exit")
    args = p.parse_args(argv)
    spec = ARCHS[args.arch]
    ch = spec.ch if args.ch is None else args.ch

    # Check the architecture and settings against jaxgan before anything is timed.
    expected = _jaxgan_param_sizes_subprocess(ch, args.arch)
    check_settings(args.arch, expected["settings"])
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.check_only:
        torch.manual_seed(0)
        G, D = build_models(args.arch, ch)
    else:
        ref = Reference(ch=ch, batch=args.batch, channels_last=args.channels_last, arch=args.arch)
        G, D = ref.G, ref.D
    assert sizes(G) == expected["g"], ("G differs from jaxgan", count(G), sum(expected["g"]))
    assert sizes(D) == expected["d"], ("D differs from jaxgan", count(D), sum(expected["d"]))
    if ch == spec.ch:  # the counts pinned in tests/test_models.py (BigGAN-PyTorch's / the released models')
        assert (count(G), count(D)) == spec.counts, ((count(G), count(D)), spec.counts)
    if args.check_only:
        print(json.dumps({
            "impl": "pytorch", "arch": args.arch, "ch": ch, "check_only": True, "params_g": count(G),
            "params_d": count(D), "jaxgan_params_g": sum(expected["g"]), "jaxgan_params_d": sum(expected["d"]),
            "tensors_g": len(expected["g"]), "tensors_d": len(expected["d"]), "sizes_match": True,
        }))
        return

    times = []
    for i in range(args.steps + 1):
        t0 = time.perf_counter()
        losses = ref.train_step()
        if i:  # the first iteration includes one-off allocation and oneDNN setup
            times.append(time.perf_counter() - t0)
        if not all(map(math.isfinite, losses.values())):
            raise RuntimeError(f"non-finite loss {losses}")
    print(json.dumps({
        "impl": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(), "batch": args.batch,
        "ch": ch, "params_g": count(ref.G), "params_d": count(ref.D),
        "step_s_median": statistics.median(times) if times else None, "step_s_all": [round(t, 3) for t in times],
        "channels_last": args.channels_last, "arch": args.arch,
    }))


if __name__ == "__main__":
    main()
