"""Output parity with pytorch-pretrained-biggan (DeepMind's BigGAN-deep port).

Weights come from randomly initialised port models, brought to the scale of a
trained model first: torch's default init with its random, unrelated SN vectors
gives a meaningless sigma, a zero attention gamma would leave attention out of
the comparison, and the final BN's weights are left uninitialised by the port.
The tests check that the compared images are far from constant.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pytorch_pretrained_biggan import BigGAN, BigGANConfig, truncated_noise_sample
from pytorch_pretrained_biggan.convert_tf_to_pytorch import BigGAN128, BigGAN256, BigGAN512

import jax
from jaxgan.convert.pytorch_pretrained_biggan import (batch_stats_at, convert_state_dict, expected_layers,
                                                     generator_from_config, stats_index_weights)
from jaxgan.models.layers import count_params

# 0.55 lies between two standing-statistics entries; at 0.56 the port's
# interpolation jumps to the next entry (see stats_index_weights).
TRUNCATIONS = (0.4, 0.55, 0.56, 1.0)
CLASSES = (1, 207, 555, 999)


def _trained_scale(model: BigGAN, seed: int) -> BigGAN:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if hasattr(module, "weight_u"):  # converge the power iteration, as training would
                w = module.weight_orig.reshape(module.weight_orig.shape[0], -1)
                u = module.weight_u
                for _ in range(30):
                    v = F.normalize(w.t() @ u, dim=0)
                    u = F.normalize(w @ v, dim=0)
                module.weight_u.copy_(u)
                module.weight_v.copy_(v)
            if hasattr(module, "running_means"):  # standing statistics differ per truncation
                module.running_means.copy_(0.3 * torch.randn(module.running_means.shape, generator=g))
                module.running_vars.copy_(0.5 + torch.rand(module.running_vars.shape, generator=g))
            if hasattr(module, "gamma"):
                module.gamma.fill_(0.7)
        bn = model.generator.bn
        bn.weight.copy_(1 + 0.1 * torch.randn(bn.weight.shape, generator=g))
        bn.bias.copy_(0.1 * torch.randn(bn.bias.shape, generator=g))
    return model.eval()


def _reference(config: BigGANConfig, seed: int):
    torch.manual_seed(seed)
    model = _trained_scale(BigGAN(config), seed)
    return model, convert_state_dict(model.state_dict(), config)


def _assert_parity(model, converted, batch=4):
    apply = jax.jit(converted.model.apply)
    labels = np.eye(1000, dtype=np.float32)[list(CLASSES[:batch])]
    for i, truncation in enumerate(TRUNCATIONS):
        z = truncated_noise_sample(batch, 128, truncation, seed=i)
        with torch.no_grad():
            ref = model(torch.from_numpy(z), torch.from_numpy(labels), truncation).numpy().transpose(0, 2, 3, 1)
        out = np.asarray(apply(converted.variables(truncation), z, labels))
        assert out.shape == ref.shape
        np.testing.assert_allclose(out, ref, rtol=0, atol=1e-4)
        # Non-trivial images: spread within each image and across the batch,
        # not saturated by tanh.
        assert ref.std(axis=(1, 2, 3)).min() > 0.03
        assert np.abs(ref[0] - ref[1]).mean() > 0.03
        assert (np.abs(ref) > 0.99).mean() < 0.05


@pytest.mark.parametrize("resolution", [128, 256, 512])
def test_parity_small_width(resolution):
    # Every layer of the released layouts at a width of 8 (4 at 512).
    ch = 4 if resolution == 512 else 8
    config = BigGANConfig(output_dim=resolution, channel_width=ch, layers=expected_layers(resolution))
    _assert_parity(*_reference(config, seed=resolution), batch=2 if resolution == 512 else 4)


def test_parity_full_128_config():
    _assert_parity(*_reference(BigGAN128, seed=0))


@pytest.mark.parametrize("config", [BigGAN128, BigGAN256, BigGAN512], ids=["128", "256", "512"])
def test_released_layouts_and_parameter_counts(config):
    assert [tuple(layer) for layer in config.layers] == expected_layers(config.output_dim)
    model = generator_from_config(config)
    assert model.attention == (64,) and model.sn_eps == model.bn_eps == 1e-4
    import jax.numpy as jnp

    shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 128)), jnp.zeros((1, 1000)))
    torch_count = sum(p.numel() for p in BigGAN(config).parameters())
    assert count_params(shapes["params"]) == torch_count


def test_conversion_rejects_unknown_and_missing_entries():
    config = BigGANConfig(output_dim=128, channel_width=8, layers=expected_layers(128))
    state = BigGAN(config).state_dict()
    with pytest.raises(ValueError, match="not used by the conversion"):
        convert_state_dict({**state, "generator.extra": torch.zeros(1)}, config)
    del state["generator.gen_z.weight_u"]
    with pytest.raises(KeyError, match="generator.gen_z.weight_u"):
        convert_state_dict(state, config)
    with pytest.raises(ValueError, match="not the BigGAN-deep 128 layout"):
        generator_from_config(BigGANConfig(output_dim=128, channel_width=8, layers=expected_layers(128)[:-2]))


def test_standing_statistics_interpolation():
    # 'port' mirrors pytorch-pretrained-biggan's BigGANBatchNorm arithmetic.
    assert stats_index_weights(1.0, 51) == [(50, 1.0)]
    assert stats_index_weights(0.5, 51) == [(25, 1.0)]
    assert stats_index_weights(0.4, 51) == [(20, 1.0)]
    (i, a), (j, b) = stats_index_weights(0.56, 51)  # 0.56 / 0.02 = 28.000000000000004
    assert (i, j) == (28, 29) and b > 0.999999
    (i, a), (j, b) = stats_index_weights(0.56, 51, "linear")
    assert (i, j) == (28, 29) and a > 0.999999
    (i, a), (j, b) = stats_index_weights(0.55, 51, "linear")
    assert (i, j) == (27, 28) and a == pytest.approx(0.5) and b == pytest.approx(0.5)
    assert stats_index_weights(1.0, 51, "linear") == [(50, 1.0)]
    table = np.arange(51, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    stats = batch_stats_at({("bn",): (table, table + 1)}, 0.55, "linear")
    np.testing.assert_allclose(stats["bn"]["mean"], 27.5, rtol=1e-6)
    np.testing.assert_allclose(stats["bn"]["var"], 28.5, rtol=1e-6)
    with pytest.raises(ValueError, match="truncation must be in"):
        stats_index_weights(0.0, 51)
