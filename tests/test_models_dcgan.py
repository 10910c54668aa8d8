"""DCGAN G and D equal the WGAN reference's DCGAN_G / DCGAN_D: parameter
counts, and outputs on the reference's weights loaded through
jaxgan.convert.dcgan_torch (the torch side is written here after
martinarjovsky/WassersteinGAN models/dcgan.py, with its state-dict names)."""

import collections

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.convert import dcgan_torch
from jaxgan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from jaxgan.state import count_params

torch = pytest.importorskip("torch")
nn = torch.nn


def torch_dcgan_g(isize, nz, nc, ngf, n_extra_layers):
    """DCGAN_G's `main` (same module names, so the same state dict)."""
    cngf, tisize = ngf // 2, 4
    while tisize != isize:
        cngf, tisize = cngf * 2, tisize * 2
    layers = collections.OrderedDict()
    layers[f"initial:{nz}-{cngf}:convt"] = nn.ConvTranspose2d(nz, cngf, 4, 1, 0, bias=False)
    layers[f"initial:{cngf}:batchnorm"] = nn.BatchNorm2d(cngf)
    layers[f"initial:{cngf}:relu"] = nn.ReLU()
    csize = 4
    while csize < isize // 2:
        layers[f"pyramid:{cngf}-{cngf // 2}:convt"] = nn.ConvTranspose2d(cngf, cngf // 2, 4, 2, 1, bias=False)
        layers[f"pyramid:{cngf // 2}:batchnorm"] = nn.BatchNorm2d(cngf // 2)
        layers[f"pyramid:{cngf // 2}:relu"] = nn.ReLU()
        cngf, csize = cngf // 2, csize * 2
    for t in range(n_extra_layers):
        layers[f"extra-layers-{t}:{cngf}:conv"] = nn.Conv2d(cngf, cngf, 3, 1, 1, bias=False)
        layers[f"extra-layers-{t}:{cngf}:batchnorm"] = nn.BatchNorm2d(cngf)
        layers[f"extra-layers-{t}:{cngf}:relu"] = nn.ReLU()
    layers[f"final:{cngf}-{nc}:convt"] = nn.ConvTranspose2d(cngf, nc, 4, 2, 1, bias=False)
    layers[f"final:{nc}:tanh"] = nn.Tanh()
    return nn.Sequential(collections.OrderedDict(main=nn.Sequential(layers)))


def torch_dcgan_d(isize, nc, ndf, n_extra_layers):
    """DCGAN_D's `main`; the reference then averages over the batch, this
    returns the per-image scores."""
    layers = collections.OrderedDict()
    layers[f"initial:{nc}-{ndf}:conv"] = nn.Conv2d(nc, ndf, 4, 2, 1, bias=False)
    layers[f"initial:{ndf}:relu"] = nn.LeakyReLU(0.2)
    csize, cndf = isize // 2, ndf
    for t in range(n_extra_layers):
        layers[f"extra-layers-{t}:{cndf}:conv"] = nn.Conv2d(cndf, cndf, 3, 1, 1, bias=False)
        layers[f"extra-layers-{t}:{cndf}:batchnorm"] = nn.BatchNorm2d(cndf)
        layers[f"extra-layers-{t}:{cndf}:relu"] = nn.LeakyReLU(0.2)
    while csize > 4:
        layers[f"pyramid:{cndf}-{cndf * 2}:conv"] = nn.Conv2d(cndf, cndf * 2, 4, 2, 1, bias=False)
        layers[f"pyramid:{cndf * 2}:batchnorm"] = nn.BatchNorm2d(cndf * 2)
        layers[f"pyramid:{cndf * 2}:relu"] = nn.LeakyReLU(0.2)
        cndf, csize = cndf * 2, csize // 2
    layers[f"final:{cndf}-1:conv"] = nn.Conv2d(cndf, 1, 4, 1, 0, bias=False)
    return nn.Sequential(collections.OrderedDict(main=nn.Sequential(layers)))


def _randomize(module, seed):
    """The reference's weights_init, plus non-trivial running statistics."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                m.weight.normal_(0.0, 0.02, generator=gen)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.normal_(1.0, 0.02, generator=gen)
                m.bias.normal_(0.0, 0.1, generator=gen)
                m.running_mean.normal_(0.0, 0.1, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)
    return module


def _state_dict(module):
    return {k: v.numpy() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("resolution,g_params,d_params", [(64, 3_576_704, 2_765_568), (32, 1_068_928, 663_296)])
def test_parameter_counts_equal_the_reference(resolution, g_params, d_params):
    g = jax.eval_shape(DCGANGenerator(resolution=resolution).init, jax.random.key(0), jnp.zeros((1, 100)))
    d = jax.eval_shape(DCGANDiscriminator(resolution=resolution).init, jax.random.key(0),
                       jnp.zeros((1, resolution, resolution, 3)))
    assert count_params(g["params"]) == g_params == sum(p.numel() for p in torch_dcgan_g(resolution, 100, 3, 64, 0)
                                                        .parameters())
    assert count_params(d["params"]) == d_params == sum(p.numel() for p in torch_dcgan_d(resolution, 3, 64, 0)
                                                        .parameters())


@pytest.mark.parity
@pytest.mark.parametrize("train", [True, False])
def test_outputs_equal_the_reference_on_its_weights(train):
    # 32x32 with one extra layer, narrow: every kind of layer, quickly.
    res, nz, nc, width, extra = 32, 16, 3, 8, 1
    tg = _randomize(torch_dcgan_g(res, nz, nc, width, extra), 0).train(train)
    td = _randomize(torch_dcgan_d(res, nc, width, extra), 1).train(train)
    g = DCGANGenerator(resolution=res, z_dim=nz, channels=nc, ngf=width, n_extra_layers=extra)
    d = DCGANDiscriminator(resolution=res, ndf=width, n_extra_layers=extra)
    g_vars = dcgan_torch.convert_state_dict(_state_dict(tg))
    d_vars = dcgan_torch.convert_state_dict(_state_dict(td))
    # The converted trees have exactly the flax modules' structure and shapes.
    shapes = lambda t: jax.tree_util.tree_map(jnp.shape, t)
    assert shapes(g_vars) == shapes(g.init(jax.random.key(0), jnp.zeros((1, nz))))
    assert shapes(d_vars) == shapes(d.init(jax.random.key(0), jnp.zeros((1, res, res, nc))))

    z = np.random.default_rng(0).standard_normal((5, nz)).astype(np.float32)
    with torch.no_grad():
        want_images = tg(torch.from_numpy(z)[:, :, None, None]).numpy().transpose(0, 2, 3, 1)
        want_scores = td(torch.from_numpy(want_images.transpose(0, 3, 1, 2).copy())).numpy().reshape(-1)
    images, _ = g.apply(g_vars, z, train=train, mutable=["batch_stats"])
    scores, _ = d.apply(d_vars, jnp.asarray(want_images), train=train, mutable=["batch_stats"])
    np.testing.assert_allclose(images, want_images, atol=2e-5)
    np.testing.assert_allclose(scores, want_scores, rtol=1e-4, atol=1e-5)


def test_a_resolution_that_is_not_a_power_of_two_is_refused():
    with pytest.raises(ValueError, match="power-of-two resolution >= 16.*got 48"):
        DCGANGenerator(resolution=48).init(jax.random.key(0), jnp.zeros((1, 100)))
