"""The FID Inception-v3 in Flax: pytorch-fid's port of TensorFlow's 2015-12-05
Inception graph, the network every published FID is computed with.

It differs from torchvision's Inception-v3 in ways that move FID by whole
points, so each is reproduced:

- average pools in the A, C and E_1 blocks leave the zero padding out of the
  mean (TF's `avg_pool` with SAME padding; `count_include_pad=False`);
- the last block (E_2) pools its side branch with a *max* pool (a quirk of the
  released TF graph);
- 1008 classes (TF's synset list), BatchNorm epsilon 1e-3, convolutions
  without bias;
- inputs are resized to 299x299 with plain bilinear interpolation (torch's
  `F.interpolate(mode="bilinear", align_corners=False)`: two taps per axis,
  no antialiasing, even when shrinking) and then mapped to [-1, 1].

Layout is NHWC. Parameter names mirror the torch module names
(`Mixed_5b/branch1x1/conv/kernel`, `.../bn/mean`) so that converting
pytorch-fid's state dict is a rename plus a transpose (`convert_state_dict`).
All weights live in the `params` collection: the network is only ever run in
inference mode, so BatchNorm uses its stored statistics.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

INPUT_SIZE = 299
NUM_FEATURES = 2048
NUM_CLASSES = 1008
BN_EPS = 1e-3

Precision = Any


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


class BasicConv(nn.Module):
    """Conv (no bias) -> BatchNorm with stored statistics -> ReLU."""

    features: int
    kernel_size: int | Sequence[int]
    stride: int = 1
    padding: int | Sequence[int] = 0
    precision: Precision = jax.lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, x):
        kh, kw = _pair(self.kernel_size)
        ph, pw = _pair(self.padding)
        kernel = self.param("kernel", nn.initializers.he_normal(), (kh, kw, x.shape[-1], self.features))
        # Submodule-like names so the tree reads conv/kernel, bn/{scale,bias,mean,var}
        # like torch's `conv.weight`, `bn.weight`, `bn.running_mean`, ...
        y = jax.lax.conv_general_dilated(
            x, kernel.astype(x.dtype), window_strides=(self.stride, self.stride),
            padding=((ph, ph), (pw, pw)), dimension_numbers=("NHWC", "HWIO", "NHWC"),
            precision=self.precision)
        bn = _BatchNormParams(self.features, name="bn")
        return nn.relu(bn(y))


class _BatchNormParams(nn.Module):
    """Inference-only BatchNorm whose statistics are plain params (the network is frozen)."""

    features: int

    @nn.compact
    def __call__(self, x):
        scale = self.param("scale", nn.initializers.ones, (self.features,))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        mean = self.param("mean", nn.initializers.zeros, (self.features,))
        var = self.param("var", nn.initializers.ones, (self.features,))
        # Same order of operations as torch's eval-mode batch_norm.
        inv = scale * jax.lax.rsqrt(var + BN_EPS)
        return (x - mean.astype(x.dtype)) * inv.astype(x.dtype) + bias.astype(x.dtype)


def _avg_pool_3x3(x):
    # TF SAME-padded average: padded cells are not counted.
    return nn.avg_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)), count_include_pad=False)


def _max_pool_3x3_s2(x):
    return nn.max_pool(x, (3, 3), strides=(2, 2), padding="VALID")


class InceptionA(nn.Module):
    pool_features: int
    precision: Precision = jax.lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, x):
        C = functools.partial(BasicConv, precision=self.precision)
        b1 = C(64, 1, name="branch1x1")(x)
        b5 = C(48, 1, name="branch5x5_1")(x)
        b5 = C(64, 5, padding=2, name="branch5x5_2")(b5)
        b3 = C(64, 1, name="branch3x3dbl_1")(x)
        b3 = C(96, 3, padding=1, name="branch3x3dbl_2")(b3)
        b3 = C(96, 3, padding=1, name="branch3x3dbl_3")(b3)
        bp = C(self.pool_features, 1, name="branch_pool")(_avg_pool_3x3(x))
        return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17 (torchvision's, unchanged in the FID variant)."""

    precision: Precision = jax.lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, x):
        C = functools.partial(BasicConv, precision=self.precision)
        b3 = C(384, 3, stride=2, name="branch3x3")(x)
        bd = C(64, 1, name="branch3x3dbl_1")(x)
        bd = C(96, 3, padding=1, name="branch3x3dbl_2")(bd)
        bd = C(96, 3, stride=2, name="branch3x3dbl_3")(bd)
        return jnp.concatenate([b3, bd, _max_pool_3x3_s2(x)], axis=-1)


class InceptionC(nn.Module):
    channels_7x7: int
    precision: Precision = jax.lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, x):
        C = functools.partial(BasicConv, precision=self.precision)
        c7 = self.channels_7x7
        b1 = C(192, 1, name="branch1x1")(x)
        b7 = C(c7, 1, name="branch7x7_1")(x)
        b7 = C(c7, (1, 7), padding=(0, 3), name="branch7x7_2")(b7)
        b7 = C(192, (7, 1), padding=(3, 0), name="branch7x7_3")(b7)
        bd = C(c7, 1, name="branch7x7dbl_1")(x)
        bd = C(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_2")(bd)
        bd = C(c7, (1, 7), padding=(0, 3), name="branch7x7dbl_3")(bd)
        bd = C(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_4")(bd)
        bd = C(192, (1, 7), padding=(0, 3), name="branch7x7dbl_5")(bd)
        bp = C(192, 1, name="branch_pool")(_avg_pool_3x3(x))
        return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8 (torchvision's, unchanged in the FID variant)."""

    precision: Precision = jax.lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, x):
        C = functools.partial(BasicConv, precision=self.precision)
        b3 = C(192, 1, name="branch3x3_1")(x)
        b3 = C(320, 3, stride=2, name="branch3x3_2")(b3)
        b7 = C(192, 1, name="branch7x7x3_1")(x)
        b7 = C(192, (1, 7), padding=(0, 3), name="branch7x7x3_2")(b7)
        b7 = C(192, (7, 1), padding=(3, 0), name="branch7x7x3_3")(b7)
        b7 = C(192, 3, stride=2, name="branch7x7x3_4")(b7)
        return jnp.concatenate([b3, b7, _max_pool_3x3_s2(x)], axis=-1)


class InceptionE(nn.Module):
    """`pool="avg"`: the FID graph's Mixed_7b; `pool="max"`: its Mixed_7c."""

    pool: str = "avg"
    precision: Precision = jax.lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, x):
        C = functools.partial(BasicConv, precision=self.precision)
        b1 = C(320, 1, name="branch1x1")(x)
        b3 = C(384, 1, name="branch3x3_1")(x)
        b3 = jnp.concatenate([C(384, (1, 3), padding=(0, 1), name="branch3x3_2a")(b3),
                              C(384, (3, 1), padding=(1, 0), name="branch3x3_2b")(b3)], axis=-1)
        bd = C(448, 1, name="branch3x3dbl_1")(x)
        bd = C(384, 3, padding=1, name="branch3x3dbl_2")(bd)
        bd = jnp.concatenate([C(384, (1, 3), padding=(0, 1), name="branch3x3dbl_3a")(bd),
                              C(384, (3, 1), padding=(1, 0), name="branch3x3dbl_3b")(bd)], axis=-1)
        if self.pool == "avg":
            pooled = _avg_pool_3x3(x)
        elif self.pool == "max":
            pooled = nn.max_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)))
        else:
            raise ValueError(f"InceptionE.pool must be 'avg' or 'max', got {self.pool!r}")
        bp = C(192, 1, name="branch_pool")(pooled)
        return jnp.concatenate([b1, b3, bd, bp], axis=-1)


def bilinear_matrix(in_size: int, out_size: int) -> np.ndarray:
    """[out, in] weights of torch's bilinear resize with align_corners=False and
    no antialiasing: source coordinate (i + 0.5) * in/out - 0.5, clamped at 0,
    interpolating between floor and floor+1 (clamped to the last pixel).

    As a matrix the resize is two small matmuls, exact to torch's formula at
    any scale; `jax.image.resize` would antialias (widen the kernel) when
    shrinking, which pytorch-fid does not do.
    """
    # torch computes the scale in float32 and the source coordinate as one
    # fused multiply-add (rounded once to float32); doing the same reproduces
    # its weights bit for bit (two roundings differ by up to 2 ulp, which the
    # ~90 layers amplify to ~1e-4 in the features).
    scale = np.float64(np.float32(in_size) / np.float32(out_size))
    src = ((np.arange(out_size, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    src = np.maximum(src, np.float32(0.0))
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    w1 = (src - i0.astype(np.float32)).astype(np.float32)
    w0 = np.float32(1.0) - w1
    m = np.zeros((out_size, in_size), np.float32)
    rows = np.arange(out_size)
    np.add.at(m, (rows, i0), w0)
    np.add.at(m, (rows, i1), w1)
    return m


def resize_bilinear(images: jax.Array, size: int = INPUT_SIZE,
                    precision: Precision = jax.lax.Precision.HIGHEST) -> jax.Array:
    """NHWC images to [N, size, size, C] as torch's F.interpolate(bilinear, align_corners=False)."""
    _, h, w, _ = images.shape
    if (h, w) == (size, size):
        return images
    mh = jnp.asarray(bilinear_matrix(h, size), images.dtype)
    mw = jnp.asarray(bilinear_matrix(w, size), images.dtype)
    x = jnp.einsum("oh,nhwc->nowc", mh, images, precision=precision)
    return jnp.einsum("pw,nowc->nopc", mw, x, precision=precision)


def to_inception_range(images: jax.Array, input_range: tuple[float, float]) -> jax.Array:
    """Map images from `input_range` to the [-1, 1] the TF graph expects.

    pytorch-fid takes [0, 1] images and computes 2x - 1; jaxgan's generators
    emit [-1, 1], which is already the target, so that case is left untouched.
    """
    lo, hi = float(input_range[0]), float(input_range[1])
    if (lo, hi) == (-1.0, 1.0):
        return images
    if (lo, hi) == (0.0, 1.0):
        return 2 * images - 1  # exactly pytorch-fid's normalize_input
    if hi <= lo:
        raise ValueError(f"input_range must be (low, high) with low < high, got {input_range}")
    return (images - lo) * (2.0 / (hi - lo)) - 1.0


class FIDInceptionV3(nn.Module):
    """FID Inception-v3 on NHWC images.

    `__call__(images)` takes images in `input_range` (jaxgan's generators emit
    [-1, 1], the default; pytorch-fid's loaders give [0, 1]) of any size,
    resizes them to 299 as pytorch-fid does, and returns a dict:

    - `pool3`: [N, 2048] the FID features (pytorch-fid's InceptionV3([3]));
    - `logits`: [N, 1008] the classifier (`fc`, with bias);
    - `logits_unbiased`: [N, 1008] the same without the bias, which is what the
      original Inception Score code (openai/improved-gan) and torch-fidelity use.

    `precision` defaults to HIGHEST so that TPUs and GPUs (bf16 / TF32 passes
    by default) give fp32 features; lower it only when FID fidelity matters less
    than speed.
    """

    input_range: tuple[float, float] = (-1.0, 1.0)
    resize: bool = True
    precision: Precision = jax.lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, images: jax.Array) -> dict[str, jax.Array]:
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"FIDInceptionV3 expects NHWC RGB images [N, H, W, 3], got shape {images.shape}")
        x = images.astype(jnp.float32)
        # pytorch-fid resizes first, then rescales; kept in that order.
        if self.resize:
            x = resize_bilinear(x, INPUT_SIZE, self.precision)
        x = to_inception_range(x, self.input_range)
        p = self.precision
        C = functools.partial(BasicConv, precision=p)
        x = C(32, 3, stride=2, name="Conv2d_1a_3x3")(x)
        x = C(32, 3, name="Conv2d_2a_3x3")(x)
        x = C(64, 3, padding=1, name="Conv2d_2b_3x3")(x)
        x = _max_pool_3x3_s2(x)
        x = C(80, 1, name="Conv2d_3b_1x1")(x)
        x = C(192, 3, name="Conv2d_4a_3x3")(x)
        x = _max_pool_3x3_s2(x)
        x = InceptionA(32, p, name="Mixed_5b")(x)
        x = InceptionA(64, p, name="Mixed_5c")(x)
        x = InceptionA(64, p, name="Mixed_5d")(x)
        x = InceptionB(p, name="Mixed_6a")(x)
        x = InceptionC(128, p, name="Mixed_6b")(x)
        x = InceptionC(160, p, name="Mixed_6c")(x)
        x = InceptionC(160, p, name="Mixed_6d")(x)
        x = InceptionC(192, p, name="Mixed_6e")(x)
        x = InceptionD(p, name="Mixed_7a")(x)
        x = InceptionE("avg", p, name="Mixed_7b")(x)
        x = InceptionE("max", p, name="Mixed_7c")(x)
        pool3 = jnp.mean(x, axis=(1, 2))
        kernel = self.param("fc_kernel", nn.initializers.lecun_normal(), (NUM_FEATURES, NUM_CLASSES))
        bias = self.param("fc_bias", nn.initializers.zeros, (NUM_CLASSES,))
        unbiased = jnp.dot(pool3, kernel, precision=p)
        return {"pool3": pool3, "logits": unbiased + bias, "logits_unbiased": unbiased}


# ---------------------------------------------------------------------------
# pytorch-fid state dict <-> Flax params


def convert_state_dict(state_dict: Mapping[str, np.ndarray]) -> dict:
    """pytorch-fid's FID Inception state dict (numpy arrays) -> FIDInceptionV3 params.

    Every tensor must be used and every param filled; a mismatch raises with
    the offending names, so a wrong file cannot silently give wrong features.
    """
    params: dict = {}
    used = set()
    for key, value in state_dict.items():
        value = np.asarray(value)
        parts = key.split(".")
        if parts[-1] == "num_batches_tracked":
            used.add(key)
            continue
        if parts[0] == "fc":
            name = {"weight": "fc_kernel", "bias": "fc_bias"}.get(parts[1])
            if name is None:
                raise ValueError(f"unexpected tensor {key!r} in the Inception state dict")
            params[name] = value.T.astype(np.float32) if name == "fc_kernel" else value.astype(np.float32)
            used.add(key)
            continue
        *path, layer, leaf = parts
        if layer == "conv" and leaf == "weight":
            # torch OIHW -> HWIO
            arr = np.transpose(value, (2, 3, 1, 0))
            tree_path = path + ["kernel"]
        elif layer == "bn" and leaf in ("weight", "bias", "running_mean", "running_var"):
            tree_path = path + ["bn", {"weight": "scale", "bias": "bias", "running_mean": "mean",
                                       "running_var": "var"}[leaf]]
            arr = value
        else:
            raise ValueError(f"unexpected tensor {key!r} in the Inception state dict")
        node = params
        for p in tree_path[:-1]:
            node = node.setdefault(p, {})
        node[tree_path[-1]] = np.ascontiguousarray(arr, dtype=np.float32)
        used.add(key)
    _check_against_template(params)
    return params


def _template_shapes() -> dict:
    model = FIDInceptionV3(resize=False)
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, INPUT_SIZE, INPUT_SIZE, 3))))
    return jax.tree_util.tree_map(lambda s: tuple(s.shape), shapes["params"])


def _check_against_template(params: dict) -> None:
    expected = dict(_flatten(_template_shapes()))
    got = {k: tuple(np.shape(v)) for k, v in _flatten(params)}
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    wrong = sorted(k for k in set(expected) & set(got) if expected[k] != got[k])
    if missing or extra or wrong:
        msg = []
        if missing:
            msg.append(f"missing {len(missing)} tensors, e.g. {missing[:3]}")
        if extra:
            msg.append(f"unexpected {len(extra)} tensors, e.g. {extra[:3]}")
        if wrong:
            msg.append("wrong shapes: " + ", ".join(f"{k} {got[k]} != {expected[k]}" for k in wrong[:3]))
        raise ValueError("not a pytorch-fid FID Inception state dict: " + "; ".join(msg))


def _flatten(tree: Mapping, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for k, v in tree.items():
        name = f"{prefix}/{k}" if prefix else k
        if isinstance(v, Mapping):
            out.extend(_flatten(v, name))
        else:
            out.append((name, v))
    return out


def flatten_params(params: Mapping) -> dict[str, np.ndarray]:
    """{'Mixed_5b/branch1x1/kernel': array, ...}: the form the .npz cache stores."""
    return {k: np.asarray(v) for k, v in _flatten(params)}


def unflatten_params(flat: Mapping[str, np.ndarray]) -> dict:
    params: dict = {}
    for key, value in flat.items():
        node = params
        *path, leaf = key.split("/")
        for p in path:
            node = node.setdefault(p, {})
        node[leaf] = np.asarray(value)
    _check_against_template(params)
    return params
