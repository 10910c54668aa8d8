"""The CPU forms of the models' convolutions: the same functions as XLA's plain
convolution (up to float rounding), in forms that XLA:CPU runs faster or in
less memory. `layers.conv2d_same`, `layers.upsample_conv2d_same`,
`layers.conv2d_same_avg_pool`, `layers.conv_stride2` and
`layers.conv_transpose_stride2` pick them when a program is compiled for the
CPU and the plain forms for any other platform.

All are NHWC x HWIO -> NHWC (the transposed convolution's kernel in flax's
transposed layout), built on the stride-1 `conv2d` and its gradients: the
stride-2 and transposed forms rearrange the input or the kernel into
stride-1 convolutions (the strided one only for its gradients).
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array


def same_padding(kernel_shape) -> tuple[tuple[int, int], tuple[int, int]]:
    """'SAME' for stride 1, as XLA pads it: the odd extra row/column goes last."""
    return tuple(((k - 1) // 2, k // 2) for k in kernel_shape[:2])


def conv2d_xla(x: Array, kernel: Array, padding) -> Array:
    """XLA's convolution, with XLA's own gradients."""
    return jax.lax.conv_general_dilated(x, kernel, window_strides=(1, 1), padding=padding,
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _conv2d_cpu(x: Array, kernel: Array, padding) -> Array:
    """conv2d_xla in the form XLA:CPU runs fast. Without padding (SinGAN's and
    ConSinGAN's convolutions), it pads the width by one on each side and drops
    the two extra output columns: XLA:CPU's unpadded convolution is about 1.4x
    slower than its padded one with 4% more work (measured, 3x3, 64 -> 64
    channels, 1x86x128: 11.0 ms against 7.7 ms on 2 cores;
    benchmarks/single_image_step.py)."""
    if kernel.shape[1] > 1 and all(p == 0 for side in padding for p in side):
        return conv2d_xla(x, kernel, ((0, 0), (1, 1)))[:, :, 1:-1]
    return conv2d_xla(x, kernel, padding)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def conv2d(x: Array, kernel: Array, padding) -> Array:
    """conv2d_xla with explicit padding ((top, bottom), (left, right); a
    negative one crops) and gradients in the forms XLA:CPU runs fast: the
    input gradient as a forward convolution, the kernel gradient as one matrix
    product per kernel tap."""
    return _conv2d_cpu(x, kernel, padding)


def _conv2d_fwd(x, kernel, padding):
    return _conv2d_cpu(x, kernel, padding), (x, kernel)


def _conv2d_bwd(padding, res, dy):
    x, kernel = res
    kh, kw = kernel.shape[:2]
    (top, bottom), (left, right) = padding
    # dx: a plain forward convolution of dy with the flipped, in/out-swapped
    # kernel (in HWIO layout), which XLA:CPU runs through its fast convolution
    # path; its own input-gradient convolution (kernel in HWOI) is ~5x slower.
    # It is conv2d itself, so that its derivatives (a gradient penalty's
    # second order) are these forms too: through conv2d_xla, the WGAN-GP MNIST
    # critic's (dim 64, batch 50) penalty gradient took 4.5 s instead of 0.3 s.
    flipped = jnp.flip(kernel, (0, 1)).transpose(0, 1, 3, 2)
    dx = conv2d(dy, flipped, ((kh - 1 - top, kh - 1 - bottom), (kw - 1 - left, kw - 1 - right)))
    # dW[i, j] = sum over n, h, w of x_padded[n, h+i, w+j, :]^T dy[n, h, w, :]:
    # one matrix product per kernel tap instead of XLA:CPU's weight-gradient
    # convolution, which is 3-5x slower than its forward convolution at large
    # spatial sizes (e.g. 16x64x64x192, 3x3: 3.5-7.8 s vs 0.7 s forward).
    # lax.pad: a negative padding crops (the transposed convolution's phases use some).
    xp = jax.lax.pad(x, jnp.zeros((), x.dtype), ((0, 0, 0), (top, bottom, 0), (left, right, 0), (0, 0, 0)))
    n, h, w, c = x.shape[0], *dy.shape[1:3], x.shape[3]  # the output's height and width
    # dy^T is transposed once and is the left operand of every product: XLA's
    # CPU dots want the contracted axis last on the left, so putting the
    # (9 different) x windows on the right avoids 9 transposed copies.
    dy_t = dy.reshape(n * h * w, -1).T

    def tap(t):
        window = jax.lax.dynamic_slice(xp, (0, t // kw, t % kw, 0), (n, h, w, c))
        return jnp.matmul(dy_t, window.reshape(n * h * w, c), preferred_element_type=jnp.float32)

    # The taps run in a loop so that one window copy is live at a time:
    # unrolled, XLA:CPU copies all nine windows before the products (an
    # optimization barrier does not stop it), and BigGAN-deep 256's step at
    # batch 8 needed 31 GiB of temporaries instead of 15. With several CPU
    # devices in one process on few cores (the test suite's 8 fake devices on
    # 2), run Eigen single-threaded (XLA_FLAGS=--xla_cpu_multi_thread_eigen=false):
    # XLA:CPU continues a loop on the thread that finished its last product, a
    # worker of Eigen's shared pool, and a device that then waits in an
    # all-reduce holds that worker; with all held, the other devices' products
    # never ran and XLA aborted the all-reduce after 40 s.
    taps = jax.lax.map(tap, jnp.arange(kh * kw)) if kh * kw > 1 else tap(0)[None]
    dkernel = taps.reshape(kh, kw, -1, c).transpose(0, 1, 3, 2).astype(kernel.dtype)
    return dx, dkernel


conv2d.defvjp(_conv2d_fwd, _conv2d_bwd)


def conv2d_same(x: Array, kernel: Array) -> Array:
    """'SAME' convolution through `conv2d`'s gradients. A BigGAN 128 step went
    from over 15 minutes with XLA's gradients to 53 s on 2 cores."""
    return conv2d(x, kernel, same_padding(kernel.shape))


def _fold_3x3_for_upsampling(kernel: Array, axis: int, phase: int) -> Array:
    """The 2 taps along `axis` that output phase 0 or 1 of a 3-tap kernel
    applied to a nearest-upsampled input sees in the original input: phase 0
    reads rows (i-1, i, i) with taps (0, 1, 2), phase 1 rows (i, i, i+1)."""
    k0, k1, k2 = (jnp.take(kernel, t, axis=axis) for t in range(3))
    return jnp.stack([k0, k1 + k2] if phase == 0 else [k0 + k1, k2], axis=axis)


def upsample_conv2d_same(x: Array, kernel: Array) -> Array:
    """'SAME' convolution of x 2x nearest-upsampled, for 1x1 and 3x3 kernels.

    A 3x3 kernel runs as four 2x2 convolutions on x, one per output phase (row
    and column parity), with the 3x3 taps that read the same input pixel
    summed: 16 instead of 36 multiply-adds per input pixel and output channel,
    and no upsampled copy of x. A 1x1 kernel is applied before upsampling (4x
    fewer).
    """
    kh, kw = kernel.shape[:2]
    if (kh, kw) == (1, 1):
        y = conv2d_same(x, kernel)
        return jnp.repeat(jnp.repeat(y, 2, axis=1), 2, axis=2)
    if (kh, kw) != (3, 3):
        raise ValueError(f"upsample_conv2d_same: 1x1 or 3x3 kernels, got {kh}x{kw}")
    n, h, w, _ = x.shape
    pads = ((1, 0), (0, 1))  # phase 0 reads rows i-1 and i, phase 1 rows i and i+1
    rows = []
    for a in (0, 1):
        k_rows = _fold_3x3_for_upsampling(kernel, 0, a)
        cols = [conv2d(x, _fold_3x3_for_upsampling(k_rows, 1, b), (pads[a], pads[b])) for b in (0, 1)]
        rows.append(jnp.stack(cols, axis=3))  # [N, H, W, 2 (column phase), C]
    # y[n, 2i + a, 2j + b] = phase (a, b) at [n, i, j]
    return jnp.stack(rows, axis=2).reshape(n, 2 * h, 2 * w, -1)


def conv2d_same_avg_pool(x: Array, kernel: Array) -> Array:
    """'SAME' convolution then 2x2 average pooling, for 1x1 and 3x3 kernels and
    even height and width.

    A 3x3 kernel runs as one stride-1 2x2 convolution on x's 2x2
    space-to-depth rearrangement (4x the channels), with the 3x3 kernel
    box-filtered into the equivalent 4x4 stride-2 kernel: 16 instead of 36
    multiply-adds per output pixel and channel pair, at a quarter of the
    pixels. A 1x1 kernel is applied after pooling (4x fewer).
    """
    kh, kw = kernel.shape[:2]
    n, h, w, c = x.shape
    if h % 2 or w % 2 or (kh, kw) not in ((1, 1), (3, 3)):
        raise ValueError(f"conv2d_same_avg_pool: 1x1 or 3x3 kernels on even sizes, got {kh}x{kw} on {h}x{w}")
    if (kh, kw) == (1, 1):
        return conv2d_same(nn.avg_pool(x, (2, 2), strides=(2, 2)), kernel)
    # out[i, j] = 1/4 sum over a, b in {0, 1} of conv3x3(x)[2i + a, 2j + b]: a 4x4
    # kernel at stride 2 over x padded by 1, whose taps are the box-summed 3x3 taps.
    shifted = [jnp.pad(kernel, ((a, 1 - a), (b, 1 - b), (0, 0), (0, 0))) for a in (0, 1) for b in (0, 1)]
    k4 = sum(shifted) / 4
    # Stride 2 as stride 1 on 2x2 blocks: pixel (2p + a, 2q + b) of the padded x
    # is channel block (a, b) of pixel (p, q), and so is tap (2p' + a, 2q' + b).
    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    blocks = xp.reshape(n, h // 2 + 1, 2, w // 2 + 1, 2, c).transpose(0, 1, 3, 2, 4, 5)
    blocks = blocks.reshape(n, h // 2 + 1, w // 2 + 1, 4 * c)
    k2 = k4.reshape(2, 2, 2, 2, c, -1).transpose(0, 2, 1, 3, 4, 5).reshape(2, 2, 4 * c, -1)
    # A 'SAME'-shaped convolution (padded after) and a slice: XLA:CPU's fast
    # convolution path wants the output as large as the input; the unpadded
    # ('VALID') one ran at half the speed (394 vs 191 ms at 16x128x128x96).
    return conv2d(blocks, k2, ((0, 1), (0, 1)))[:, :h // 2, :w // 2]


# --------------------------------------------------------------------------
# Stride 2: strided and transposed convolutions as stride-1 ones. XLA:CPU's
# gradients of its strided convolution are ~3x slower than these forms', and
# of its transposed convolution 10-40x slower than its forward pass
# (64x16x16x64 -> 32 channels: 1.1 s against 29 ms).


def same_padding_stride2(x_shape, kernel_shape) -> tuple[tuple[int, int], tuple[int, int]]:
    """lax's explicit padding for a stride-2 'SAME' convolution of an NHWC
    input (jax.lax.padtype_to_pads): output ceil(n / 2), the odd extra
    row/column last."""
    def pads(n, k):
        total = max((-(-n // 2) - 1) * 2 + k - n, 0)
        return total // 2, total - total // 2
    return tuple(pads(n, k) for n, k in zip(x_shape[1:3], kernel_shape[:2]))


def transpose_same_padding_stride2(kernel_shape) -> tuple[tuple[int, int], tuple[int, int]]:
    """The explicit padding that jax.lax.conv_transpose gives 'SAME' at stride
    2 (jax's _conv_transpose_padding: k + s - 2 in all, k - 1 before when
    s > k - 1, else half rounded up): output 2n, for a k x k kernel."""
    def pads(k):
        before = k - 1 if k < 3 else -(-k // 2)
        return before, k - before
    return tuple(pads(k) for k in kernel_shape[:2])


def conv_stride2_xla(x: Array, kernel: Array, padding) -> Array:
    """XLA's stride-2 convolution, with XLA's own gradients."""
    return jax.lax.conv_general_dilated(x, kernel, window_strides=(2, 2), padding=padding,
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))


def conv_stride2_s2d(x: Array, kernel: Array, padding) -> Array:
    """conv_stride2_xla with explicit padding ((top, bottom), (left, right)),
    HWIO kernel, any size, as one stride-1 convolution (through `conv2d`'s
    gradients) of the padded input's 2x2 space-to-depth rearrangement (4x the
    channels), with the kernel zero-padded at the end to an even size (k = 5:
    36 taps for 25; a 1x1 kernel reads every other pixel instead)."""
    n, h, w, c = x.shape
    kh, kw = kernel.shape[:2]
    (top, bottom), (left, right) = padding
    ho, wo = (h + top + bottom - kh) // 2 + 1, (w + left + right - kw) // 2 + 1
    zero = jnp.zeros((), x.dtype)
    if (kh, kw) == (1, 1):
        xp = jax.lax.pad(x, zero, ((0, 0, 0), (top, 2 * ho - h - top, 0), (left, 2 * wo - w - left, 0), (0, 0, 0)))
        return conv2d(xp[:, ::2, ::2], kernel, ((0, 0), (0, 0)))
    eh, ew = kh + kh % 2, kw + kw % 2
    kernel = jnp.pad(kernel, ((0, eh - kh), (0, ew - kw), (0, 0), (0, 0)))
    # Exactly the rows and columns the output reads, an even number of each
    # (a negative padding crops ones no output reads).
    hp, wp = 2 * ho + eh - 2, 2 * wo + ew - 2
    xp = jax.lax.pad(x, zero, ((0, 0, 0), (top, hp - h - top, 0), (left, wp - w - left, 0), (0, 0, 0)))
    # s2d[n, i, j, (r, s, c)] = xp[n, 2i + r, 2j + s, c]
    s2d = xp.reshape(n, hp // 2, 2, wp // 2, 2, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, hp // 2, wp // 2, 4 * c)
    # kernel[2t + r, 2u + s] -> k2[t, u, (r, s, c)]
    k2 = kernel.reshape(eh // 2, 2, ew // 2, 2, c, -1).transpose(0, 2, 1, 3, 4, 5).reshape(eh // 2, ew // 2, 4 * c, -1)
    return conv2d(s2d, k2, ((0, 0), (0, 0)))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def conv_stride2(x: Array, kernel: Array, padding) -> Array:
    """conv_stride2_xla with explicit padding, any kernel and input size: XLA's
    strided convolution forward, which XLA:CPU runs 1.4-2.2x faster than
    conv_stride2_s2d's stride-1 one (64x32x32x64 -> 128, 4x4: 42 against 88
    ms; 50x7x7x128 -> 256, 5x5: 14 against 30 ms), and conv_stride2_s2d's
    gradients (XLA's: 50x7x7x128 -> 256, 5x5: 484 against 89 ms with the
    forward pass). Their own derivatives (a gradient penalty's) run through
    `conv2d`'s forms too."""
    return conv_stride2_xla(x, kernel, padding)


def _conv_stride2_fwd(x, kernel, padding):
    return conv_stride2_xla(x, kernel, padding), (x, kernel)


def _conv_stride2_bwd(padding, res, dy):
    # The space-to-depth form's forward convolution is dead code here (conv2d
    # keeps x and the kernel, not its output) and jit drops it.
    return jax.vjp(lambda x, kernel: conv_stride2_s2d(x, kernel, padding), *res)[1](dy)


conv_stride2.defvjp(_conv_stride2_fwd, _conv_stride2_bwd)


def _transpose_phase(a: int, size: int, k: int, lo: int, out_len: int):
    """Output phase `a` (rows o = 2m + a, m < out_len) of a stride-2
    transposed convolution along one axis, as a stride-1 convolution of x:
    (its first tap t0 of the flipped kernel, its number of taps, its padding).

    The transposed convolution is a stride-1 convolution of x dilated by 2
    (x at even positions), padded by `lo` before, with the flipped kernel
    K[t] = kernel[k - 1 - t]: y[o] = sum over t of xd[o + t - lo] K[t]. Only the
    taps t = t0 + 2j with o + t - lo even read x, at i = m + j - (lo - a - t0) / 2.
    """
    t0 = (lo - a) % 2
    taps = max(0, -(-(k - t0) // 2))
    before = (lo - a - t0) // 2
    return t0, taps, (before, out_len + taps - 1 - size - before)


def conv_transpose_stride2(x: Array, kernel: Array, padding) -> Array:
    """jax.lax.conv_transpose at stride 2 with explicit padding and
    transpose_kernel=True (flax's nn.ConvTranspose kernel [k, k, out, in]),
    any size: one stride-1 convolution of x per output phase (row and column
    parity, through `conv2d`'s gradients) with the kernel taps that phase
    reads, interleaved; no zero-dilated input, no zero taps (k = 5: phases of
    2x2, 2x3, 3x2 and 3x3 taps)."""
    n, h, w, _ = x.shape
    kh, kw = kernel.shape[:2]
    (top, bottom), (left, right) = padding
    ho, wo = 2 * h + top + bottom - kh, 2 * w + left + right - kw
    mh, mw = -(-ho // 2), -(-wo // 2)  # both phases computed ceil(size / 2) long, cropped after
    k = jnp.flip(kernel, (0, 1)).transpose(0, 1, 3, 2)  # K[t], HWIO
    rows = []
    for a in (0, 1):
        ta, na, pad_a = _transpose_phase(a, h, kh, top, mh)
        cols = []
        for b in (0, 1):
            tb, nb, pad_b = _transpose_phase(b, w, kw, left, mw)
            if na and nb:
                cols.append(conv2d(x, k[ta::2, tb::2], (pad_a, pad_b)))
            else:  # a 1-tap axis: the odd phase reads no tap
                cols.append(jnp.zeros((n, mh, mw, k.shape[-1]), x.dtype))
        rows.append(jnp.stack(cols, axis=3))  # [N, H', W', 2 (column phase), C]
    # y[n, 2i + a, 2j + b] = phase (a, b) at [n, i, j]
    return jnp.stack(rows, axis=2).reshape(n, 2 * mh, 2 * mw, -1)[:, :ho, :wo]


def conv_4x4_stride2(x: Array, kernel: Array) -> Array:
    """torch's Conv2d(4, stride 2, padding 1) (DCGAN's downsampling), HWIO:
    `conv_stride2` (gradients on even sizes through one stride-1 2x2
    convolution)."""
    return conv_stride2(x, kernel, ((1, 1), (1, 1)))


def conv_transpose_4x4_stride2(x: Array, kernel: Array) -> Array:
    """torch's ConvTranspose2d(4, stride 2, padding 1) (DCGAN's upsampling),
    flax's transposed kernel [4, 4, out, in]: `conv_transpose_stride2` with
    lax's padding k - 1 - 1 = 2 (four stride-1 2x2 convolutions)."""
    return conv_transpose_stride2(x, kernel, ((2, 2), (2, 2)))
