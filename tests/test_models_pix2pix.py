"""pix2pix / CycleGAN networks equal the reference's
(junyanz/pytorch-CycleGAN-and-pix2pix, models/networks.py): parameter counts,
and outputs on the reference's weights loaded through
pix2pix.params_from_torch_state_dict. The torch side is written here after
the reference, with its module structure and so its state-dict names."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from torch_parity import flax_count_on, images, nhwc, randomize, state_dict, torch_count

from jaxgan.models import pix2pix

tnn = torch.nn


# --------------------------------------------------------------------------
# The reference's networks in torch (same modules, same state-dict names)


def torch_norm_layer(norm):
    """get_norm_layer: BatchNorm with affine and running statistics,
    InstanceNorm with neither, or the identity."""
    if norm == "batch":
        return functools.partial(tnn.BatchNorm2d, affine=True, track_running_stats=True)
    if norm == "instance":
        return functools.partial(tnn.InstanceNorm2d, affine=False, track_running_stats=False)
    return lambda channels: tnn.Identity()


class TorchResnetBlock(tnn.Module):
    def __init__(self, dim, padding_type, norm, use_dropout, use_bias):
        super().__init__()
        pad = {"reflect": tnn.ReflectionPad2d, "replicate": tnn.ReplicationPad2d}.get(padding_type)
        block = []
        for first in (True, False):
            if pad is not None:
                block.append(pad(1))
            block += [tnn.Conv2d(dim, dim, 3, padding=0 if pad else 1, bias=use_bias), torch_norm_layer(norm)(dim)]
            if first:
                block.append(tnn.ReLU(True))
                if use_dropout:
                    block.append(tnn.Dropout(0.5))
        self.conv_block = tnn.Sequential(*block)

    def forward(self, x):
        return x + self.conv_block(x)


class TorchResnetGenerator(tnn.Module):
    def __init__(self, input_nc, output_nc, ngf, norm, use_dropout, n_blocks, padding_type="reflect"):
        super().__init__()
        norm_layer, use_bias = torch_norm_layer(norm), norm == "instance"
        model = [tnn.ReflectionPad2d(3), tnn.Conv2d(input_nc, ngf, 7, bias=use_bias), norm_layer(ngf), tnn.ReLU(True)]
        for i in range(2):
            c = ngf * 2 ** i
            model += [tnn.Conv2d(c, 2 * c, 3, stride=2, padding=1, bias=use_bias), norm_layer(2 * c), tnn.ReLU(True)]
        model += [TorchResnetBlock(4 * ngf, padding_type, norm, use_dropout, use_bias) for _ in range(n_blocks)]
        for i in range(2):
            c = ngf * 2 ** (2 - i)
            model += [tnn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1, bias=use_bias),
                      norm_layer(c // 2), tnn.ReLU(True)]
        model += [tnn.ReflectionPad2d(3), tnn.Conv2d(ngf, output_nc, 7), tnn.Tanh()]
        self.model = tnn.Sequential(*model)

    def forward(self, x):
        return self.model(x)


class TorchUnetBlock(tnn.Module):
    """UnetSkipConnectionBlock, with the reference's in-place LeakyReLU (which
    rewrites the x that is concatenated)."""

    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False, innermost=False,
                 norm="batch", use_dropout=False):
        super().__init__()
        self.outermost = outermost
        norm_layer, use_bias = torch_norm_layer(norm), norm == "instance"
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = tnn.Conv2d(input_nc, inner_nc, 4, stride=2, padding=1, bias=use_bias)
        if outermost:
            model = [downconv, submodule, tnn.ReLU(True), tnn.ConvTranspose2d(2 * inner_nc, outer_nc, 4, 2, 1),
                     tnn.Tanh()]
        elif innermost:
            model = [tnn.LeakyReLU(0.2, True), downconv, tnn.ReLU(True),
                     tnn.ConvTranspose2d(inner_nc, outer_nc, 4, 2, 1, bias=use_bias), norm_layer(outer_nc)]
        else:
            model = [tnn.LeakyReLU(0.2, True), downconv, norm_layer(inner_nc), submodule, tnn.ReLU(True),
                     tnn.ConvTranspose2d(2 * inner_nc, outer_nc, 4, 2, 1, bias=use_bias), norm_layer(outer_nc)]
            if use_dropout:
                model.append(tnn.Dropout(0.5))
        self.model = tnn.Sequential(*model)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class TorchUnetGenerator(tnn.Module):
    def __init__(self, input_nc, output_nc, num_downs, ngf, norm, use_dropout):
        super().__init__()
        block = TorchUnetBlock(8 * ngf, 8 * ngf, innermost=True, norm=norm)
        for _ in range(num_downs - 5):
            block = TorchUnetBlock(8 * ngf, 8 * ngf, submodule=block, norm=norm, use_dropout=use_dropout)
        for mult in (4, 2, 1):
            block = TorchUnetBlock(mult * ngf, 2 * mult * ngf, submodule=block, norm=norm)
        self.model = TorchUnetBlock(output_nc, ngf, input_nc, block, outermost=True, norm=norm)

    def forward(self, x):
        return self.model(x)


class TorchNLayerDiscriminator(tnn.Module):
    def __init__(self, input_nc, ndf, n_layers, norm):
        super().__init__()
        norm_layer, use_bias = torch_norm_layer(norm), norm == "instance"
        seq = [tnn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), tnn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            seq += [tnn.Conv2d(ndf * prev, ndf * mult, 4, stride=2 if n < n_layers else 1, padding=1, bias=use_bias),
                    norm_layer(ndf * mult), tnn.LeakyReLU(0.2, True)]
        seq.append(tnn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
        self.model = tnn.Sequential(*seq)

    def forward(self, x):
        return self.model(x)


class TorchPixelDiscriminator(tnn.Module):
    def __init__(self, input_nc, ndf, norm):
        super().__init__()
        use_bias = norm == "instance"
        self.net = tnn.Sequential(
            tnn.Conv2d(input_nc, ndf, 1), tnn.LeakyReLU(0.2, True),
            tnn.Conv2d(ndf, 2 * ndf, 1, bias=use_bias), torch_norm_layer(norm)(2 * ndf), tnn.LeakyReLU(0.2, True),
            tnn.Conv2d(2 * ndf, 1, 1, bias=use_bias))

    def forward(self, x):
        return self.net(x)


def assert_same_outputs(tmodule, fmodule, x, train, atol=1e-4):
    """Loads tmodule's state dict into fmodule, runs both on x (NCHW numpy)
    in train or eval mode, and compares the outputs and, in train mode, the
    updated running statistics."""
    like = jax.eval_shape(lambda k: fmodule.init(k, jnp.zeros(x.transpose(0, 2, 3, 1).shape), train=False),
                          jax.random.key(0))
    variables = pix2pix.params_from_torch_state_dict(state_dict(tmodule), like=like)
    tmodule.train(train)
    with torch.no_grad():
        want = nhwc(tmodule(torch.from_numpy(x)))
    # One compile of the whole network is faster than running its ops one by one.
    apply = jax.jit(lambda v, x: fmodule.apply(v, x, train=train, mutable=["batch_stats"]))
    got, updates = apply(variables, jnp.asarray(x.transpose(0, 2, 3, 1)))
    assert got.shape == want.shape
    assert np.std(want) > 0.1, "outputs nearly constant: the comparison would show little"
    np.testing.assert_allclose(np.asarray(got), want, atol=atol, rtol=0)
    if train and "batch_stats" in variables:
        stats = pix2pix.params_from_torch_state_dict(state_dict(tmodule))["batch_stats"]
        jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, atol=atol, rtol=1e-5),
                               jax.device_get(updates["batch_stats"]), stats)


# --------------------------------------------------------------------------


def flax_count(module, channels, size=256):
    return flax_count_on(module, jnp.zeros((1, size, size, channels)))


@pytest.mark.parametrize("name,channels,norm,want", [
    ("unet_256", 3, "batch", 54_413_955),  # pix2pix's G
    ("resnet_9blocks", 3, "instance", 11_378_179),  # CycleGAN's G
    ("resnet_6blocks", 3, "batch", 7_841_411),
])
def test_generator_parameter_counts_equal_the_reference(name, channels, norm, want):
    if name.startswith("unet"):
        ref = lambda: TorchUnetGenerator(channels, 3, pix2pix.UNET_NUM_DOWNS[name], 64, norm, False)
    else:
        ref = lambda: TorchResnetGenerator(channels, 3, 64, norm, False, int(name[7]))
    assert flax_count(pix2pix.define_G(name, 3, 64, norm), channels) == want == torch_count(ref)


@pytest.mark.parametrize("name,channels,norm,want", [
    ("basic", 6, "batch", 2_768_705),  # pix2pix's D on (input, output) pairs
    ("basic", 3, "instance", 2_764_737),  # CycleGAN's D
    ("pixel", 6, "batch", 9_024),
])
def test_discriminator_parameter_counts_equal_the_reference(name, channels, norm, want):
    if name == "basic":
        ref = lambda: TorchNLayerDiscriminator(channels, 64, 3, norm)
    else:
        ref = lambda: TorchPixelDiscriminator(channels, 64, norm)
    assert flax_count(pix2pix.define_D(name, 64, norm=norm), channels) == want == torch_count(ref)


# BatchNorm in eval mode: in the dropout test below.
@pytest.mark.parity
@pytest.mark.parametrize("norm,train", [("batch", True), ("instance", False)])
def test_unet_outputs_equal_the_reference(norm, train):
    tmodule = randomize(TorchUnetGenerator(3, 2, 5, 8, norm, use_dropout=False), 0)
    assert_same_outputs(tmodule, pix2pix.UnetGenerator(2, 5, 8, norm), images(3, 3, 32), train)


@pytest.mark.parity
def test_unet_with_dropout_equals_the_reference_in_eval_mode_and_drops_out_in_training():
    # num_downs 6: the smallest U-Net with a dropout block (index 7 of its Sequential in the reference).
    tmodule = randomize(TorchUnetGenerator(2, 3, 6, 4, "batch", use_dropout=True), 1)
    g = pix2pix.define_G("unet_64", 3, 4, use_dropout=True)
    x = images(2, 2, 64)
    assert_same_outputs(tmodule, g, x, False)

    variables = pix2pix.params_from_torch_state_dict(state_dict(tmodule))
    x = jnp.asarray(x.transpose(0, 2, 3, 1))
    train = jax.jit(lambda key: g.apply(variables, x, rngs={"dropout": key}, mutable=["batch_stats"])[0])
    assert not np.allclose(train(jax.random.key(2)), train(jax.random.key(3)))
    with pytest.raises(Exception, match="dropout"):
        jax.eval_shape(lambda: g.apply(variables, x, mutable=["batch_stats"]))


@pytest.mark.parity
@pytest.mark.parametrize("norm,train,padding", [("batch", True, "reflect"), ("instance", False, "zero")])
def test_resnet_generator_outputs_equal_the_reference(norm, train, padding):
    tmodule = randomize(TorchResnetGenerator(3, 3, 8, norm, False, 2, padding), 2)
    fmodule = pix2pix.ResnetGenerator(3, 8, norm, n_blocks=2, padding_type=padding)
    assert_same_outputs(tmodule, fmodule, images(2, 3, 32), train)


@pytest.mark.parity
@pytest.mark.parametrize("norm,train", [("batch", True), ("instance", False)])
def test_discriminator_outputs_equal_the_reference(norm, train):
    x = images(3, 6, 32, seed=1)
    assert_same_outputs(randomize(TorchNLayerDiscriminator(6, 8, 3, norm), 3),
                        pix2pix.define_D("basic", 8, norm=norm), x, train)
    assert_same_outputs(randomize(TorchPixelDiscriminator(6, 8, norm), 4),
                        pix2pix.define_D("pixel", 8, norm=norm), x, train)


def test_state_dict_names_map_to_flax_paths():
    assert pix2pix.flax_path("model.10.conv_block.5") == ("model_10", "conv_block_5")
    assert pix2pix.flax_path("model.model.1.model.3") == ("model", "model_1", "model_3")
    # An old checkpoint's InstanceNorm running statistics and DataParallel's prefix are dropped.
    sd = {"module.model.1.weight": np.zeros((4, 3, 7, 7)), "module.model.1.bias": np.zeros(4),
          "module.model.2.running_mean": np.zeros(4), "module.model.2.running_var": np.ones(4),
          "module.model.2.num_batches_tracked": np.zeros(())}
    variables = pix2pix.params_from_torch_state_dict(sd)
    assert jax.tree_util.tree_map(np.shape, variables) == {"params": {"model_1": {"kernel": (7, 7, 3, 4),
                                                                                  "bias": (4,)}}}
    with pytest.raises(ValueError, match="model.1.gamma"):
        pix2pix.params_from_torch_state_dict({"model.1.gamma": np.zeros(3)})
    like = jax.eval_shape(lambda k: pix2pix.define_D("pixel", 8).init(k, jnp.zeros((1, 4, 4, 6)), train=False),
                          jax.random.key(0))
    with pytest.raises(ValueError, match="missing"):
        pix2pix.params_from_torch_state_dict(state_dict(TorchPixelDiscriminator(6, 8, "instance")), like=like)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="netG must be one of"):
        pix2pix.define_G("unet_512")
    with pytest.raises(ValueError, match="norm must be one of"):
        pix2pix.define_D("basic", norm="group")
    with pytest.raises(ValueError, match="divisible by 256"):
        pix2pix.define_G("unet_256").init(jax.random.key(0), jnp.zeros((1, 128, 128, 3)))


# --------------------------------------------------------------------------
# bfloat16 compute: float32 parameters and statistics, bfloat16 activations


def f32_and_bf16(make, tmodule, inputs, train, rngs=None, grads_f32=False):
    """make(dtype)'s network on tmodule's weights, run in float32 and in
    bfloat16 on the same parameters: {'f32', 'bf16': outputs, 'stats': the
    bfloat16 run's batch_stats updates, 'grads': the gradients of a float32
    loss through the bfloat16 network w.r.t. the parameters, and with
    grads_f32 'grads_f32': the same loss's through the float32 network}."""
    f32, bf16 = make(jnp.float32), make(jnp.bfloat16)
    init = lambda module: jax.eval_shape(lambda k: module.init(k, *inputs, train=False), jax.random.key(0))
    like = init(bf16)
    # Parameters and running statistics stay float32, with the float32 network's names and shapes.
    assert {leaf.dtype for leaf in jax.tree_util.tree_leaves(like)} == {jnp.dtype(jnp.float32)}
    assert jax.tree_util.tree_map(jnp.shape, like) == jax.tree_util.tree_map(jnp.shape, init(f32))
    variables = pix2pix.params_from_torch_state_dict(state_dict(tmodule), like=like)

    def loss(module, params):
        out, stats = module.apply({**variables, "params": params}, *inputs, train=train, rngs=rngs,
                                  mutable=["batch_stats"])
        # A float32 loss on every output, with random weights so that no gradient vanishes by symmetry.
        outs = jax.tree_util.tree_leaves(out)
        keys = jax.random.split(jax.random.key(9), len(outs))
        total = sum(jnp.mean(o.astype(jnp.float32) * jax.random.normal(k, o.shape)) for o, k in zip(outs, keys))
        return total, (out, stats)

    @jax.jit
    def run(params):
        # One program: each compile of a backward pass costs seconds on the CPU.
        (_, (got, stats)), grads = jax.value_and_grad(functools.partial(loss, bf16), has_aux=True)(params)
        result = {"bf16": got, "stats": stats, "grads": grads}
        if grads_f32:
            (_, (result["f32"], _)), result["grads_f32"] = jax.value_and_grad(functools.partial(loss, f32),
                                                                               has_aux=True)(params)
        else:
            result["f32"] = loss(f32, params)[1][0]
        return result

    return run(variables["params"])


def assert_bf16_close(result, atol=None, rtol=None, out_dtype=jnp.bfloat16):
    """The bfloat16 network's outputs (of out_dtype) within atol (or rtol
    times the largest float32 output) of the float32 ones; float32 running
    statistics; float32, finite, nonzero gradients, with the direction of
    float32's when the result has them."""
    # In numpy: an eager jnp op compiles a program for each new shape, seconds over a network's leaves.
    result = jax.device_get(result)
    got, want = jax.tree_util.tree_leaves(result["bf16"]), jax.tree_util.tree_leaves(result["f32"])
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == out_dtype and w.dtype == np.float32 and g.shape == w.shape
        assert np.std(w) > 0.1, "outputs nearly constant: the comparison would show little"
        err = np.abs(g.astype(np.float32) - w).max()
        assert err < (atol if atol is not None else rtol * np.abs(w).max()), err
    for s in jax.tree_util.tree_leaves(result["stats"]):
        assert s.dtype == np.float32 and np.isfinite(s).all()
    grads = jax.tree_util.tree_leaves(result["grads"])
    assert all(g.dtype == np.float32 and np.isfinite(g).all() for g in grads)
    flat = np.concatenate([g.ravel() for g in grads])
    assert np.linalg.norm(flat) > 0
    if "grads_f32" in result:
        flat_f32 = np.concatenate([g.ravel() for g in jax.tree_util.tree_leaves(result["grads_f32"])])
        # Not elementwise: with random loss weights the sums behind each gradient cancel, and the few
        # activations whose sign (LeakyReLU's slope) bfloat16 rounding flips move them by several percent.
        cos = flat @ flat_f32 / (np.linalg.norm(flat) * np.linalg.norm(flat_f32))
        assert cos > 0.98, cos


def test_unet_in_bfloat16_stays_close_to_float32():
    tmodule = randomize(TorchUnetGenerator(3, 2, 5, 8, "batch", use_dropout=False), 0)
    result = f32_and_bf16(lambda dtype: pix2pix.define_G("unet_32", 2, 8, "batch", dtype=dtype), tmodule,
                          (jnp.asarray(images(3, 3, 32).transpose(0, 2, 3, 1)),), True)
    assert_bf16_close(result, atol=0.05)


def test_resnet_generator_with_dropout_in_bfloat16_stays_close_to_float32():
    # Training mode: the same dropout masks in both dtypes (drawn from the key, not from the activations).
    tmodule = randomize(TorchResnetGenerator(3, 3, 8, "instance", True, 1), 2)
    result = f32_and_bf16(lambda dtype: pix2pix.ResnetGenerator(3, 8, "instance", True, 1, dtype=dtype), tmodule,
                          (jnp.asarray(images(2, 3, 32).transpose(0, 2, 3, 1)),), True,
                          rngs={"dropout": jax.random.key(1)})
    assert_bf16_close(result, atol=0.05)


@pytest.mark.parametrize("name,norm,train", [("basic", "instance", False), ("pixel", "batch", True)])
def test_discriminators_in_bfloat16_stay_close_to_float32(name, norm, train):
    torch_d = TorchNLayerDiscriminator(6, 8, 3, norm) if name == "basic" else TorchPixelDiscriminator(6, 8, norm)
    result = f32_and_bf16(lambda dtype: pix2pix.define_D(name, 8, norm=norm, dtype=dtype), randomize(torch_d, 3),
                          (jnp.asarray(images(3, 6, 32, seed=1).transpose(0, 2, 3, 1)),), train, grads_f32=True)
    assert_bf16_close(result, rtol=0.03)


@pytest.mark.parametrize("norm,train", [("instance", True), ("batch", True), ("batch", False)])
def test_bfloat16_norms_keep_no_float32_activations_for_the_backward_pass(norm, train):
    # pix2pix.remat_narrow: without it, each norm would keep its float32 x - mean (twice x's bytes) for the
    # backward pass. What jax.vjp keeps (its residuals) of a batch of 5, from shapes only.
    g = pix2pix.ResnetGenerator(3, 8, norm, n_blocks=1, dtype=jnp.bfloat16)
    variables = jax.eval_shape(lambda: g.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)), train=False))

    def residuals(variables, x):
        f = lambda params: g.apply({**variables, "params": params}, x, train=train, mutable=["batch_stats"])[0]
        return jax.vjp(f, variables["params"])[1]

    kept = jax.tree_util.tree_leaves(jax.eval_shape(residuals, variables, jax.ShapeDtypeStruct((5, 32, 32, 3),
                                                                                                jnp.float32)))
    activations = {(str(r.dtype), r.shape) for r in kept if r.ndim == 4 and r.shape[0] == 5}
    assert ("bfloat16", (5, 32, 32, 8)) in activations
    assert not [a for a in activations if a[0] == "float32"], activations
