"""WGAN-GP's reference networks (jaxgan.models.wgan_gp): parameter counts
derived by hand from the authors' TF code, shapes, output ranges, tflib's
initialiser spreads, and the layout-sensitive ops (deconv, upsampling, pooling).

Full-size models are only traced (jax.eval_shape); real forward passes use the
MNIST models (small) or ResNets with a tiny `dim`.
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.models import init_noise, wgan_gp
from jaxgan.state import count_params

# Hand counts from the reference (k: kernel size; conv weights k*k*in*out, +out biases;
# BatchNorm/LayerNorm 2*C; 'no b' = biases=False in the reference).
MNIST_G = (
    128 * 4096 + 4096  # Generator.Input Linear 128 -> 4*4*4*64          528,384
    + 5 * 5 * 256 * 128 + 128  # Generator.2 Deconv 256 -> 128 k5      819,328
    + 5 * 5 * 128 * 64 + 64  # Generator.3 Deconv 128 -> 64 k5         204,864
    + 5 * 5 * 64 * 1 + 1  # Generator.5 Deconv 64 -> 1 k5                 1,601
)
MNIST_D = (
    5 * 5 * 1 * 64 + 64  # Discriminator.1 Conv 1 -> 64 k5 s2             1,664
    + 5 * 5 * 64 * 128 + 128  # Discriminator.2 Conv 64 -> 128         204,928
    + 5 * 5 * 128 * 256 + 256  # Discriminator.3 Conv 128 -> 256       819,456
    + 4 * 4 * 256 * 1 + 1  # Discriminator.Output Linear 4096 -> 1       4,097
)
_CIFAR_UP_BLOCK = (
    1 * 1 * 128 * 128 + 128  # .Shortcut UpsampleConv 1x1                 16,512
    + 2 * 128  # .N1 BatchNorm                                               256
    + 3 * 3 * 128 * 128 + 128  # .Conv1 UpsampleConv 3x3               147,584
    + 2 * 128  # .N2 BatchNorm                                               256
    + 3 * 3 * 128 * 128 + 128  # .Conv2 Conv 3x3                       147,584
)  # 312,192
RESNET32_G = (
    128 * 2048 + 2048  # Generator.Input Linear 128 -> 4*4*128           264,192
    + 3 * _CIFAR_UP_BLOCK  # Generator.1..3                              936,576
    + 2 * 128  # Generator.OutputN BatchNorm                                 256
    + 3 * 3 * 128 * 3 + 3  # Generator.Output Conv 3x3 128 -> 3            3,459
)
RESNET32_D = (
    (1 * 1 * 3 * 128 + 128)  # Discriminator.1.Shortcut MeanPoolConv 1x1    512
    + (3 * 3 * 3 * 128 + 128)  # Discriminator.1.Conv1 3x3                3,584
    + (3 * 3 * 128 * 128 + 128)  # Discriminator.1.Conv2 ConvMeanPool   147,584
    + (1 * 1 * 128 * 128 + 128)  # Discriminator.2.Shortcut ConvMeanPool 16,512
    + 2 * (3 * 3 * 128 * 128 + 128)  # Discriminator.2.Conv1, .Conv2    295,168
    + 2 * 2 * (3 * 3 * 128 * 128 + 128)  # Discriminator.3, .4 Conv1+2  590,336
    + 128 + 1  # Discriminator.Output Linear 128 -> 1                        129
)


def _g64_up_block(cin, cout):
    return (
        cin * cout + cout  # .Shortcut UpsampleConv 1x1 +b
        + 2 * cin  # .BN1 BatchNorm(cin)
        + 3 * 3 * cin * cout  # .Conv1 UpsampleConv 3x3, no b
        + 2 * cout  # .BN2 BatchNorm(cout)
        + 3 * 3 * cout * cout + cout  # .Conv2 Conv 3x3 +b
    )


def _d64_down_block(cin, cout):
    return (
        cin * cout + cout  # .Shortcut MeanPoolConv 1x1 +b
        + 2 * cin  # .BN1 Layernorm, offset and scale [cin]
        + 3 * 3 * cin * cin  # .Conv1 Conv 3x3 cin -> cin, no b
        + 2 * cin  # .BN2 Layernorm [cin]
        + 3 * 3 * cin * cout + cout  # .Conv2 ConvMeanPool 3x3 +b
    )


RESNET64_G = (
    128 * 8192 + 8192  # Generator.Input Linear 128 -> 4*4*8*64         1,056,768
    + _g64_up_block(512, 512)  # Generator.Res1                        4,983,808
    + _g64_up_block(512, 256)  # Generator.Res2                        1,902,592
    + _g64_up_block(256, 128)  # Generator.Res3                          476,160
    + _g64_up_block(128, 64)  # Generator.Res4                           119,296
    + 2 * 64  # Generator.OutputN BatchNorm                                  128
    + 3 * 3 * 64 * 3 + 3  # Generator.Output Conv 3x3 64 -> 3              1,731
)
RESNET64_D = (
    3 * 3 * 3 * 64 + 64  # Discriminator.Input Conv 3x3 3 -> 64            1,792
    + _d64_down_block(64, 128)  # Discriminator.Res1                     119,296
    + _d64_down_block(128, 256)  # Discriminator.Res2                    476,160
    + _d64_down_block(256, 512)  # Discriminator.Res3                  1,902,592
    + _d64_down_block(512, 512)  # Discriminator.Res4                  4,983,808
    + 8192 + 1  # Discriminator.Output Linear 4*4*512 -> 1                 8,193
)

# (model, input shape without batch, is generator, hand count, its value written out)
MODELS = {
    "mnist_g": (wgan_gp.WGANGPMNISTGenerator, (128,), MNIST_G, 1_554_177),
    "mnist_d": (wgan_gp.WGANGPMNISTCritic, (28, 28, 1), MNIST_D, 1_030_145),
    "resnet32_g": (wgan_gp.WGANGPResNet32Generator, (128,), RESNET32_G, 1_204_483),
    "resnet32_d": (wgan_gp.WGANGPResNet32Critic, (32, 32, 3), RESNET32_D, 1_053_825),
    "resnet64_g": (wgan_gp.WGANGPResNet64Generator, (128,), RESNET64_G, 8_540_483),
    "resnet64_d": (wgan_gp.WGANGPResNet64Critic, (64, 64, 3), RESNET64_D, 7_491_841),
}
IMAGE_SHAPES = {"mnist": (28, 28, 1), "resnet32": (32, 32, 3), "resnet64": (64, 64, 3)}


def _abstract(model, shape, batch=2):
    x = jnp.zeros((batch, *shape), jnp.float32)
    variables = jax.eval_shape(model.init, jax.random.key(0), x)
    out = jax.eval_shape(lambda v, x: model.apply(v, x, train=True, mutable=["batch_stats"])[0], variables, x)
    return variables, out


@pytest.mark.parametrize("name", sorted(MODELS))
def test_param_counts_and_shapes(name):
    cls, in_shape, hand, written = MODELS[name]
    assert hand == written
    model = cls()
    variables, out = _abstract(model, in_shape, batch=3)
    assert count_params(variables["params"]) == hand
    if name.endswith("_g"):
        assert model.z_dim == 128
        assert out.shape == (3, *IMAGE_SHAPES[name[:-2]])
    else:
        assert out.shape == (3,)
    assert out.dtype == jnp.float32
    # BatchNorm only in the ResNet generators (WGAN-GP mode); running stats are not params.
    assert ("batch_stats" in variables) == (name in ("resnet32_g", "resnet64_g"))


def test_module_docstring_counts():
    doc = wgan_gp.__doc__
    for cls, _, _, written in MODELS.values():
        assert f"{cls.__name__}(dim=" in doc and f"{written:,}" in doc


def test_layernorm_is_per_channel():
    variables, _ = _abstract(wgan_gp.WGANGPResNet64Critic(), (64, 64, 3))
    res2 = variables["params"]["Res2"]
    assert res2["BN1"]["scale"].shape == res2["BN1"]["bias"].shape == (128,)
    assert res2["BN2"]["scale"].shape == (128,)
    assert "bias" not in res2["Conv1"] and "bias" in res2["Conv2"]  # Conv1 biases=False in gan_64x64.py


def _init_mnist():
    g, d = wgan_gp.WGANGPMNISTGenerator(), wgan_gp.WGANGPMNISTCritic()
    vg = jax.jit(g.init)(jax.random.key(0), jnp.zeros((1, 128)))
    vd = jax.jit(d.init)(jax.random.key(1), jnp.zeros((1, 28, 28, 1)))
    return g, vg, d, vd


def _check_spread(w, stdev):
    w = np.asarray(w)
    assert abs(w.std() / stdev - 1) < 0.03, (w.std(), stdev)
    assert abs(w.mean()) < 0.02 * stdev * math.sqrt(3)
    assert np.abs(w).max() <= stdev * math.sqrt(3) * (1 + 1e-6)


def test_init_spread_matches_tflib():
    _, vg, _, vd = _init_mnist()
    # Conv2D he_init, k5 stride 2: fan_in 128*25 = 3200, fan_out 256*25/4 = 1600.
    conv_std = math.sqrt(4 / (3200 + 1600))
    kernel = vd["params"]["Conv3"]["kernel"]
    assert kernel.shape == (5, 5, 128, 256)
    _check_spread(kernel, conv_std)
    assert abs(np.std(kernel) / math.sqrt(4 / (3200 + 6400)) - 1) > 0.2  # the stride division matters
    # Deconv2D he_init, k5 stride 2, [k, k, out, in]: fan_in 256*25/4 = 1600, fan_out 128*25 = 3200.
    deconv = vg["params"]["Deconv2"]["kernel"]
    assert deconv.shape == (5, 5, 128, 256)
    _check_spread(deconv, math.sqrt(4 / (1600 + 3200)))
    # Linear 'glorot' (tflib's default): sqrt(2 / (128 + 4096)).
    _check_spread(vg["params"]["Input"]["kernel"], math.sqrt(2 / (128 + 4096)))
    for v in (vg, vd):
        for path, leaf in jax.tree_util.tree_leaves_with_path(v["params"]):
            if path[-1].key == "bias":
                assert not np.any(np.asarray(leaf)), path


def test_shortcut_init_is_glorot_style():
    # The ResNets' 1x1 shortcuts: Conv2D he_init=False, sqrt(2 / (fan_in + fan_out)), 128 -> 128.
    layer = wgan_gp.conv(128, 1, he_init=False)
    kernel = jax.jit(layer.init)(jax.random.key(2), jnp.zeros((1, 2, 2, 128)))["params"]["kernel"]
    _check_spread(kernel, math.sqrt(2 / (128 + 128)))


def test_mnist_forward_and_range():
    g, vg, d, vd = _init_mnist()
    z = 5.0 * jax.random.normal(jax.random.key(3), (4, 128))  # large z to push the sigmoid towards 0 and 1
    images = jax.jit(g.apply)(vg, z)
    assert images.shape == (4, 28, 28, 1) and images.dtype == jnp.float32
    images = np.asarray(images)
    assert np.all(images >= -1) and np.all(images <= 1)
    assert images.min() < 0 < images.max()
    scores = jax.jit(d.apply)(vd, jnp.asarray(images))
    assert scores.shape == (4,) and scores.dtype == jnp.float32 and np.all(np.isfinite(scores))


@pytest.mark.parametrize("size", [32, 64])
def test_tiny_resnets_forward(size):
    G, D = {32: (wgan_gp.WGANGPResNet32Generator, wgan_gp.WGANGPResNet32Critic),
            64: (wgan_gp.WGANGPResNet64Generator, wgan_gp.WGANGPResNet64Critic)}[size]
    g, d = G(dim=4), D(dim=4)
    z = jax.random.normal(jax.random.key(4), (2, 128))

    @jax.jit
    def run(z):  # one compilation; one_draw keeps the init's compile short
        vg = init_noise.one_draw(g.init)(jax.random.key(5), z)
        images, new = g.apply(vg, z, train=True, mutable=["batch_stats"])
        frozen = g.apply({**vg, **new}, z, train=False)
        vd = init_noise.one_draw(d.init)(jax.random.key(6), images)
        return vg, images, new, frozen, d.apply(vd, images)

    vg, images, new, frozen, scores = run(z)
    assert images.shape == frozen.shape == (2, size, size, 3)
    assert np.all(np.abs(np.asarray(images)) <= 1) and np.all(np.isfinite(np.asarray(frozen)))
    assert scores.shape == (2,) and scores.dtype == jnp.float32 and np.all(np.isfinite(np.asarray(scores)))
    # train=True updates the running statistics (the reference itself always uses batch statistics).
    old_mean = vg["batch_stats"]["OutputN"]["mean"]
    assert not np.allclose(np.asarray(new["batch_stats"]["OutputN"]["mean"]), np.asarray(old_mean))


def test_deconv_is_tf_conv2d_transpose():
    # TF's conv2d_transpose(y, W) is the gradient of conv2d(x, W, stride 2, SAME) in x,
    # W being [k, k, out, in] (tflib's Deconv2D filter); output 2H x 2W.
    layer = wgan_gp.deconv(3, 5)
    y = jax.random.normal(jax.random.key(7), (2, 4, 4, 6))
    variables = layer.init(jax.random.key(8), y)
    kernel = variables["params"]["kernel"]
    assert kernel.shape == (5, 5, 3, 6)

    def conv(x):
        return jax.lax.conv_general_dilated(x, kernel, (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))

    _, vjp = jax.vjp(conv, jnp.zeros((2, 8, 8, 3)))
    expected = vjp(y)[0]
    np.testing.assert_allclose(layer.apply(variables, y), expected, rtol=1e-5, atol=1e-5)


def test_resampling_ops():
    x = jax.random.normal(jax.random.key(9), (2, 4, 6, 3))
    up = wgan_gp.upsample_copies(x)
    np.testing.assert_array_equal(up, jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2))
    pooled = wgan_gp.mean_pool(x)
    np.testing.assert_allclose(pooled, nn.avg_pool(x, (2, 2), strides=(2, 2)), rtol=1e-6, atol=1e-6)
    # depth_to_space: channel (i*2 + j)*C + c goes to sub-pixel (i, j).
    d = wgan_gp.depth_to_space(jnp.arange(8.0).reshape(1, 1, 1, 8))
    np.testing.assert_array_equal(d[0, :, :, 0], [[0, 2], [4, 6]])
    np.testing.assert_array_equal(d[0, :, :, 1], [[1, 3], [5, 7]])
