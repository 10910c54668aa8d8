"""BEGAN's generator and autoencoder discriminator (parameter counts of the
reference's 64x64 networks from the layer table in jaxgan/models/began.py,
shapes, TF's 'SAME' stride-2 downsampling) and EBGAN's autoencoder D."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.models.began import BEGANDecoder, BEGANDiscriminator, Conv3x3
from jaxgan.models.ebgan import EBGANDiscriminator
from jaxgan.state import count_params


def test_began_64_parameter_counts_and_shapes():
    g = jax.eval_shape(BEGANDecoder().init, jax.random.key(0), jnp.zeros((2, 64)))
    d = jax.eval_shape(BEGANDiscriminator().init, jax.random.key(0), jnp.zeros((2, 64, 64, 3)))
    # decoder: linear 64 -> 8*8*128 (532,480); 4 blocks x 2 convs 128 -> 128 (147,584 each); conv 128 -> 3 (3,459)
    assert count_params(g["params"]) == 532_480 + 8 * 147_584 + 3_459 == 1_716_611
    encoder = (3_584 + 3 * 147_584  # conv 3 -> 128; block 0: two convs and the stride-2 conv at 128
               + 295_168 + 2 * 590_080  # block 1: 128 -> 256, 256 -> 256, down
               + 885_120 + 2 * 1_327_488  # block 2: 256 -> 384, 384 -> 384, down
               + 1_769_984 + 2_359_808  # block 3: 384 -> 512, 512 -> 512 (no down: 8x8)
               + 2_097_216)  # linear 8*8*512 -> 64
    assert count_params(d["params"]["encoder"]) == encoder == 11_688_768
    assert count_params(d["params"]) == encoder + 1_716_611 == 13_405_379
    recon, embedding = jax.eval_shape(BEGANDiscriminator().apply, d, jnp.zeros((2, 64, 64, 3)))
    assert recon.shape == (2, 64, 64, 3) and embedding.shape == (2, 64)


def test_began_downsampling_pads_as_tensorflow_same():
    # TF's 'SAME' stride-2 3x3 convolution on an even size pads 0 before and 1 after.
    x = jax.random.normal(jax.random.key(0), (2, 8, 8, 3))
    conv = Conv3x3(5, stride=2)
    variables = conv.init(jax.random.key(1), x)
    kernel, bias = variables["params"]["kernel"], variables["params"]["bias"]
    want = jax.lax.conv_general_dilated(x, kernel, (2, 2), ((0, 1), (0, 1)),
                                        dimension_numbers=("NHWC", "HWIO", "NHWC")) + bias
    np.testing.assert_allclose(conv.apply(variables, x), want, atol=1e-5)


@pytest.mark.parametrize("resolution", [32, 64])
def test_ebgan_autoencoder_shapes(resolution):
    d = EBGANDiscriminator(resolution=resolution)
    variables = jax.eval_shape(d.init, jax.random.key(0), jnp.zeros((2, resolution, resolution, 3)))
    (recon, embedding), _ = jax.eval_shape(lambda v, x: d.apply(v, x, mutable=["batch_stats"]), variables,
                                           jnp.zeros((2, resolution, resolution, 3)))
    assert recon.shape == (2, resolution, resolution, 3)
    assert embedding.shape == (2, (resolution // 8) ** 2 * 256)
    with pytest.raises(ValueError, match="multiple of 8"):
        EBGANDiscriminator(resolution=36).init(jax.random.key(0), jnp.zeros((1, 36, 36, 3)))
