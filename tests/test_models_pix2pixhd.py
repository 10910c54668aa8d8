"""pix2pixHD's networks equal the reference's (NVIDIA/pix2pixHD,
models/networks.py): parameter counts, and outputs on the reference's weights
loaded through pix2pixhd.params_from_torch_state_dict. The torch side is
written here after the reference, with its module structure and so its
state-dict names."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from torch_parity import flax_count_on, images, nhwc, randomize, state_dict, torch_count
from test_models_pix2pix import assert_bf16_close, f32_and_bf16

from jaxgan.models import pix2pixhd

tnn = torch.nn


# --------------------------------------------------------------------------
# The reference's networks in torch (same modules, same state-dict names)


def torch_norm_layer(norm):
    return {"batch": functools.partial(tnn.BatchNorm2d, affine=True),
            "instance": functools.partial(tnn.InstanceNorm2d, affine=False)}[norm]


def torch_downsample():
    return tnn.AvgPool2d(3, stride=2, padding=[1, 1], count_include_pad=False)


class TorchResnetBlock(tnn.Module):
    """pix2pixHD's ResnetBlock with reflection padding, ReLU and no dropout."""

    def __init__(self, dim, norm_layer):
        super().__init__()
        self.conv_block = tnn.Sequential(
            tnn.ReflectionPad2d(1), tnn.Conv2d(dim, dim, 3), norm_layer(dim), tnn.ReLU(True),
            tnn.ReflectionPad2d(1), tnn.Conv2d(dim, dim, 3), norm_layer(dim))

    def forward(self, x):
        return x + self.conv_block(x)


def torch_encoder_decoder(input_nc, output_nc, ngf, n_down, n_blocks, norm_layer):
    """GlobalGenerator's (and, without blocks, Encoder's) `model` layers."""
    relu = tnn.ReLU(True)
    model = [tnn.ReflectionPad2d(3), tnn.Conv2d(input_nc, ngf, 7), norm_layer(ngf), relu]
    for i in range(n_down):
        c = ngf * 2 ** i
        model += [tnn.Conv2d(c, 2 * c, 3, stride=2, padding=1), norm_layer(2 * c), relu]
    model += [TorchResnetBlock(ngf * 2 ** n_down, norm_layer) for _ in range(n_blocks)]
    for i in range(n_down):
        c = ngf * 2 ** (n_down - i)
        model += [tnn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1), norm_layer(c // 2), relu]
    return model + [tnn.ReflectionPad2d(3), tnn.Conv2d(ngf, output_nc, 7), tnn.Tanh()]


class TorchGlobalGenerator(tnn.Module):
    def __init__(self, input_nc, output_nc, ngf, n_down, n_blocks, norm):
        super().__init__()
        self.model = tnn.Sequential(*torch_encoder_decoder(input_nc, output_nc, ngf, n_down, n_blocks,
                                                           torch_norm_layer(norm)))

    def forward(self, x):
        return self.model(x)


class TorchLocalEnhancer(tnn.Module):
    def __init__(self, input_nc, output_nc, ngf, n_down_global, n_blocks_global, n_local, n_blocks_local, norm):
        super().__init__()
        norm_layer = torch_norm_layer(norm)
        self.n_local = n_local
        trunk = torch_encoder_decoder(input_nc, output_nc, ngf * 2 ** n_local, n_down_global, n_blocks_global,
                                      norm_layer)
        self.model = tnn.Sequential(*trunk[:-3])  # without the last pad, conv and tanh
        for n in range(1, n_local + 1):
            c = ngf * 2 ** (n_local - n)
            setattr(self, f"model{n}_1", tnn.Sequential(
                tnn.ReflectionPad2d(3), tnn.Conv2d(input_nc, c, 7), norm_layer(c), tnn.ReLU(True),
                tnn.Conv2d(c, 2 * c, 3, stride=2, padding=1), norm_layer(2 * c), tnn.ReLU(True)))
            up = [TorchResnetBlock(2 * c, norm_layer) for _ in range(n_blocks_local)]
            up += [tnn.ConvTranspose2d(2 * c, c, 3, stride=2, padding=1, output_padding=1), norm_layer(c),
                   tnn.ReLU(True)]
            if n == n_local:
                up += [tnn.ReflectionPad2d(3), tnn.Conv2d(ngf, output_nc, 7), tnn.Tanh()]
            setattr(self, f"model{n}_2", tnn.Sequential(*up))
        self.downsample = torch_downsample()

    def forward(self, x):
        pyramid = [x]
        for _ in range(self.n_local):
            pyramid.append(self.downsample(pyramid[-1]))
        out = self.model(pyramid[-1])
        for n in range(1, self.n_local + 1):
            down, up = getattr(self, f"model{n}_1"), getattr(self, f"model{n}_2")
            out = up(down(pyramid[self.n_local - n]) + out)
        return out


def torch_patch_groups(input_nc, ndf, n_layers, norm, use_sigmoid):
    """NLayerDiscriminator's layer groups (padding 2, widths capped at 512)."""
    norm_layer = torch_norm_layer(norm)
    groups = [[tnn.Conv2d(input_nc, ndf, 4, stride=2, padding=2), tnn.LeakyReLU(0.2, True)]]
    nf = ndf
    for n in range(1, n_layers + 1):
        prev, nf = nf, min(2 * nf, 512)
        groups.append([tnn.Conv2d(prev, nf, 4, stride=2 if n < n_layers else 1, padding=2), norm_layer(nf),
                       tnn.LeakyReLU(0.2, True)])
    groups.append([tnn.Conv2d(nf, 1, 4, stride=1, padding=2)])
    if use_sigmoid:
        groups.append([tnn.Sigmoid()])
    return groups


class TorchNLayerDiscriminator(tnn.Module):
    def __init__(self, input_nc, ndf, n_layers, norm, use_sigmoid=False, interm=False):
        super().__init__()
        self.interm, self.n_layers = interm, n_layers
        groups = torch_patch_groups(input_nc, ndf, n_layers, norm, use_sigmoid)
        if interm:
            for n, group in enumerate(groups):
                setattr(self, f"model{n}", tnn.Sequential(*group))
        else:
            self.model = tnn.Sequential(*[layer for group in groups for layer in group])

    def forward(self, x):
        if not self.interm:
            return self.model(x)
        out = [x]
        for n in range(self.n_layers + 2):
            out.append(getattr(self, f"model{n}")(out[-1]))
        return out[1:]


class TorchMultiscaleDiscriminator(tnn.Module):
    def __init__(self, input_nc, ndf, n_layers, norm, use_sigmoid, num_D, interm):
        super().__init__()
        self.num_D, self.n_layers, self.interm = num_D, n_layers, interm
        for i in range(num_D):
            d = TorchNLayerDiscriminator(input_nc, ndf, n_layers, norm, use_sigmoid, interm)
            if interm:
                for j in range(n_layers + 2):
                    setattr(self, f"scale{i}_layer{j}", getattr(d, f"model{j}"))
            else:
                setattr(self, f"layer{i}", d.model)
        self.downsample = torch_downsample()

    def forward(self, x):
        result = []
        for i in range(self.num_D):
            d = self.num_D - 1 - i
            if self.interm:
                out = [x]
                for j in range(self.n_layers + 2):
                    out.append(getattr(self, f"scale{d}_layer{j}")(out[-1]))
                result.append(out[1:])
            else:
                result.append([getattr(self, f"layer{d}")(x)])
            if i != self.num_D - 1:
                x = self.downsample(x)
        return result


class TorchEncoder(tnn.Module):
    def __init__(self, input_nc, output_nc, ngf, n_down, norm):
        super().__init__()
        self.output_nc = output_nc
        self.model = tnn.Sequential(*torch_encoder_decoder(input_nc, output_nc, ngf, n_down, 0,
                                                           torch_norm_layer(norm)))

    def forward(self, x, inst):
        # The reference's loops: per instance id, image and channel, the mean over that instance's pixels.
        out = self.model(x)
        pooled = out.clone()
        for i in np.unique(inst.numpy().astype(int)):
            for b in range(x.shape[0]):
                mask = inst[b, 0] == int(i)
                for j in range(self.output_nc):
                    if mask.any():
                        pooled[b, j][mask] = out[b, j][mask].mean()
        return pooled


def load(tmodule, fmodule, *inputs):
    like = jax.eval_shape(lambda k: fmodule.init(k, *inputs, train=False), jax.random.key(0))
    return pix2pixhd.params_from_torch_state_dict(state_dict(tmodule), like=like)


def compare(got, want, atol=1e-4):
    assert got.shape == want.shape
    assert np.std(want) > 0.1, "outputs nearly constant: the comparison would show little"
    np.testing.assert_allclose(np.asarray(got), want, atol=atol, rtol=0)


def run_both(tmodule, fmodule, x, train):
    """(flax output, torch output NHWC) for x NCHW, in train or eval mode."""
    variables = load(tmodule, fmodule, jnp.asarray(x.transpose(0, 2, 3, 1)))
    tmodule.train(train)
    with torch.no_grad():
        want = tmodule(torch.from_numpy(x))
    # One compile of the whole network is faster than running its ops one by one.
    apply = jax.jit(lambda v, x: fmodule.apply(v, x, train=train, mutable=["batch_stats"]))
    got, _ = apply(variables, jnp.asarray(x.transpose(0, 2, 3, 1)))
    return got, want


# --------------------------------------------------------------------------


def flax_count(module, channels, size=256, inst=False):
    args = (jnp.zeros((1, size, size, channels)),) + ((jnp.zeros((1, size, size), jnp.int32),) if inst else ())
    return flax_count_on(module, *args)


# 36 generator inputs: Cityscapes' 35 label channels (--label_nc) + 1 instance edge map; 39 with 3
# instance features (--feat_num); the discriminator sees labels, edges and the 3-channel image: 39.
@pytest.mark.parametrize("make,torch_make,channels,size,want", [
    pytest.param(pix2pixhd.GlobalGenerator, lambda: TorchGlobalGenerator(36, 3, 64, 4, 9, "instance"), 36, 256,
                 182_546_755, id="global G, 36 in"),
    pytest.param(pix2pixhd.GlobalGenerator, lambda: TorchGlobalGenerator(39, 3, 64, 4, 9, "instance"), 39, 256,
                 182_556_163, id="global G, 39 in"),
    # The local G's figure is for 36 inputs (35 give 182,852,355; 39 give 182,871,171): ngf 32, the global G
    # inside at ngf 64 with 4 downsamplings and 9 blocks, one enhancer with 3 blocks, as the reference's defaults.
    pytest.param(pix2pixhd.LocalEnhancer, lambda: TorchLocalEnhancer(36, 3, 32, 4, 9, 1, 3, "instance"), 36, 512,
                 182_857_059, id="local G, 36 in"),
    pytest.param(lambda: pix2pixhd.define_D(num_D=2),
                 lambda: TorchMultiscaleDiscriminator(39, 64, 3, "instance", False, 2, True), 39, 256, 5_603_202,
                 id="D, num_D 2"),
    pytest.param(lambda: pix2pixhd.define_D(num_D=3, get_interm_feat=False),
                 lambda: TorchMultiscaleDiscriminator(39, 64, 3, "instance", False, 3, False), 39, 256, 8_404_803,
                 id="D, num_D 3"),
])
def test_parameter_counts_equal_the_reference(make, torch_make, channels, size, want):
    assert flax_count(make(), channels, size) == want == torch_count(torch_make)


def test_encoder_parameter_count_equals_the_reference():
    encoder = pix2pixhd.define_G("encoder", output_nc=3, ngf=16, n_downsample_global=4)
    assert flax_count(encoder, 3, inst=True) == 788_803 == torch_count(lambda: TorchEncoder(3, 3, 16, 4, "instance"))


@pytest.mark.parity
def test_global_generator_outputs_equal_the_reference():
    tmodule = randomize(TorchGlobalGenerator(5, 3, 8, 2, 2, "instance"), 0)
    got, want = run_both(tmodule, pix2pixhd.GlobalGenerator(3, 8, 2, 2, "instance"), images(2, 5, 32), False)
    compare(got, nhwc(want))


@pytest.mark.parity
def test_global_generator_with_batch_norm_outputs_and_gradients_equal_the_reference():
    # Train mode: batch statistics, and the gradients of the CPU forms of the strided, transposed
    # (output padding 1) and 7x7 convolutions, through reflection padding.
    tmodule = randomize(TorchGlobalGenerator(3, 3, 4, 1, 1, "batch"), 5).train()
    fmodule = pix2pixhd.GlobalGenerator(3, 4, 1, 1, "batch")
    x = images(2, 3, 16, seed=6)
    weights = np.random.default_rng(7).standard_normal((2, 16, 16, 3)).astype(np.float32)
    variables = load(tmodule, fmodule, jnp.asarray(x.transpose(0, 2, 3, 1)))
    tx = torch.from_numpy(x).requires_grad_()
    out = tmodule(tx)
    (out * torch.from_numpy(weights.transpose(0, 3, 1, 2))).sum().backward()
    grads = {**state_dict(tmodule), **{k: p.grad.numpy() for k, p in tmodule.named_parameters()}}
    want = pix2pixhd.params_from_torch_state_dict(grads)["params"]

    def forward(params, x):
        return fmodule.apply({**variables, "params": params}, x, train=True, mutable=["batch_stats"])[0]

    @jax.jit
    def forward_and_grads(params, x):
        y, vjp = jax.vjp(forward, params, x)
        return y, *vjp(jnp.asarray(weights))

    got_out, got, got_x = forward_and_grads(variables["params"], jnp.asarray(x.transpose(0, 2, 3, 1)))
    compare(got_out, nhwc(out))
    np.testing.assert_allclose(got_x, nhwc(tx.grad), atol=1e-4 * np.abs(tx.grad.numpy()).max(), rtol=0)
    flat_got, flat_want = jax.tree_util.tree_leaves_with_path(got), jax.tree_util.tree_leaves(want)
    assert len(flat_got) == len(flat_want)
    # One scale for all: the biases before a BatchNorm have zero gradients up to rounding.
    scale = max(np.abs(w).max() for w in flat_want)
    for (path, g), w in zip(flat_got, flat_want):
        np.testing.assert_allclose(g, w, atol=1e-5 * scale, rtol=0, err_msg=jax.tree_util.keystr(path))


@pytest.mark.parity
def test_local_enhancer_outputs_equal_the_reference():
    # Two enhancers: the loop over them, and the last one's final layers (one enhancer is the same code).
    n_local = 2
    tmodule = randomize(TorchLocalEnhancer(4, 3, 4, 2, 1, n_local, 1, "instance"), 1)
    fmodule = pix2pixhd.LocalEnhancer(3, 4, 2, 1, n_local, 1, "instance")
    got, want = run_both(tmodule, fmodule, images(2, 4, 32, seed=1), False)
    compare(got, nhwc(want))


@pytest.mark.parity
@pytest.mark.parametrize("interm,norm,use_sigmoid", [(True, "instance", False), (False, "batch", True)])
def test_multiscale_discriminator_outputs_equal_the_reference(interm, norm, use_sigmoid):
    tmodule = randomize(TorchMultiscaleDiscriminator(6, 8, 2, norm, use_sigmoid, 3, interm), 2)
    fmodule = pix2pixhd.define_D(8, 2, norm, use_sigmoid, num_D=3, get_interm_feat=interm)
    got, want = run_both(tmodule, fmodule, images(2, 6, 32, seed=2), train=norm == "batch")
    assert [len(scale) for scale in got] == [len(scale) for scale in want] == [4 if interm else 1] * 3
    for got_scale, want_scale in zip(got, want):
        for g, w in zip(got_scale, want_scale):
            if use_sigmoid:  # probabilities vary less than logits
                np.testing.assert_allclose(g, nhwc(w), atol=1e-5, rtol=0)
            else:
                compare(g, nhwc(w))


@pytest.mark.parity
@pytest.mark.parametrize("interm", [True, False])
def test_single_discriminator_outputs_equal_the_reference(interm):
    tmodule = randomize(TorchNLayerDiscriminator(3, 8, 3, "instance", interm=interm), 3)
    got, want = run_both(tmodule, pix2pixhd.NLayerDiscriminator(8, 3, get_interm_feat=interm),
                         images(1, 3, 32, seed=3), False)
    if not interm:
        got, want = [got], [want]
    assert len(got) == len(want) == (5 if interm else 1)
    for g, w in zip(got, want):
        compare(g, nhwc(w))


@pytest.mark.parity
def test_encoder_outputs_equal_the_reference():
    rng = np.random.default_rng(4)
    # Instances as blocks of ids, some in one image only, with an id that is a large number.
    inst = np.repeat(np.repeat(rng.choice([0, 7, 26001, 26002], (2, 1, 4, 4)), 4, axis=2), 4, axis=3)
    inst[1, 0, :8, :8] = 33
    tmodule = randomize(TorchEncoder(3, 3, 4, 2, "instance"), 4)
    fmodule = pix2pixhd.Encoder(3, 4, 2)
    x = images(2, 3, 16, seed=5)
    inst_nhwc = jnp.asarray(inst.transpose(0, 2, 3, 1))
    variables = load(tmodule, fmodule, jnp.asarray(x.transpose(0, 2, 3, 1)), inst_nhwc)
    with torch.no_grad():
        want = nhwc(tmodule.eval()(torch.from_numpy(x), torch.from_numpy(inst).float()))
    got = jax.jit(lambda v, x, inst: fmodule.apply(v, x, inst, train=False))(variables, x.transpose(0, 2, 3, 1),
                                                                             inst_nhwc)
    compare(got, want)
    # Constant over each instance, and not over the whole image.
    for b in range(2):
        for i in np.unique(inst[b]):
            assert np.ptp(np.asarray(got)[b][inst[b, 0] == i], axis=0).max() < 1e-6
    assert np.asarray(got)[0].std(axis=(0, 1)).min() > 0.01


def test_instance_average_under_jit():
    features = jnp.arange(2 * 2 * 3 * 1, dtype=jnp.float32).reshape(2, 2, 3, 1)
    inst = jnp.array([[[5, 5, 9], [9, 9, 5]], [[1, 1, 1], [1, 1, 1]]])
    got = jax.jit(pix2pixhd.instance_average)(features, inst)
    # Image 0: id 5 is pixels 0, 1, 5 (mean 2), id 9 pixels 2, 3, 4 (mean 3); image 1 is one instance.
    want = np.array([[[2, 2, 3], [3, 3, 2]], [[8.5] * 3] * 2])[..., None]
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="norm must be 'instance' or 'batch'"):
        pix2pixhd.GlobalGenerator(norm="none").init(jax.random.key(0), jnp.zeros((1, 16, 16, 3)))
    with pytest.raises(ValueError, match="divisible by 32"):
        pix2pixhd.LocalEnhancer().init(jax.random.key(0), jnp.zeros((1, 48, 48, 3)))
    with pytest.raises(ValueError, match="netG must be"):
        pix2pixhd.define_G("unet")


def torch_get_edges(t):
    """The reference's Pix2PixHDModel.get_edges, on the CPU."""
    edge = torch.zeros(t.size(), dtype=torch.bool)
    edge[:, :, :, 1:] = edge[:, :, :, 1:] | (t[:, :, :, 1:] != t[:, :, :, :-1])
    edge[:, :, :, :-1] = edge[:, :, :, :-1] | (t[:, :, :, 1:] != t[:, :, :, :-1])
    edge[:, :, 1:, :] = edge[:, :, 1:, :] | (t[:, :, 1:, :] != t[:, :, :-1, :])
    edge[:, :, :-1, :] = edge[:, :, :-1, :] | (t[:, :, 1:, :] != t[:, :, :-1, :])
    return edge.float()


def test_instance_edges_and_one_hot_labels_equal_the_reference():
    rng = np.random.default_rng(0)
    # Blocky instance ids (runs of equal ids, as real maps have) with Cityscapes-style ids.
    inst = np.kron(rng.integers(0, 4, (2, 6, 5)), np.ones((1, 3, 4), np.int64)) * 1000 + 26
    want = torch_get_edges(torch.from_numpy(inst[:, None])).numpy().transpose(0, 2, 3, 1)
    got = np.asarray(jax.jit(pix2pixhd.instance_edges)(inst))
    np.testing.assert_array_equal(got, want)
    assert 0.1 < got.mean() < 0.9
    labels = rng.integers(0, 35, (2, 18, 20, 1))
    one_hot = torch.zeros(2, 35, 18, 20).scatter_(1, torch.from_numpy(labels.transpose(0, 3, 1, 2)), 1.0)
    np.testing.assert_array_equal(np.asarray(pix2pixhd.one_hot_labels(labels, 35)),
                                  one_hot.numpy().transpose(0, 2, 3, 1))


# --------------------------------------------------------------------------
# bfloat16 compute (test_models_pix2pix's checks): float32 parameters and statistics, bfloat16 activations


def test_global_generator_in_bfloat16_stays_close_to_float32():
    tmodule = randomize(TorchGlobalGenerator(5, 3, 8, 2, 2, "instance"), 0)
    result = f32_and_bf16(lambda dtype: pix2pixhd.define_G("global", 3, 8, 2, 2, norm="instance", dtype=dtype),
                          tmodule, (jnp.asarray(images(2, 5, 32).transpose(0, 2, 3, 1)),), False)
    assert_bf16_close(result, atol=0.05)


def test_local_enhancer_with_batch_norm_in_bfloat16_stays_close_to_float32():
    # Training mode: batch statistics (float32 running statistics updated from bfloat16 activations).
    tmodule = randomize(TorchLocalEnhancer(4, 3, 4, 2, 1, 1, 1, "batch"), 1)
    result = f32_and_bf16(lambda dtype: pix2pixhd.define_G("local", 3, 4, 2, 1, 1, 1, "batch", dtype=dtype),
                          tmodule, (jnp.asarray(images(2, 4, 32, seed=1).transpose(0, 2, 3, 1)),), True)
    assert jax.tree_util.tree_leaves(result["stats"])
    assert_bf16_close(result, atol=0.05)


def test_multiscale_discriminator_in_bfloat16_stays_close_to_float32():
    # Intermediate features too (feature matching reads them), at two scales (the pooled one in bfloat16).
    tmodule = randomize(TorchMultiscaleDiscriminator(6, 8, 2, "instance", False, 2, True), 2)
    result = f32_and_bf16(lambda dtype: pix2pixhd.define_D(8, 2, "instance", num_D=2, dtype=dtype), tmodule,
                          (jnp.asarray(images(2, 6, 32, seed=2).transpose(0, 2, 3, 1)),), False)
    assert [len(scale) for scale in result["bf16"]] == [4, 4]
    assert_bf16_close(result, rtol=0.03)


def test_encoder_in_bfloat16_stays_close_to_float32():
    # Its output is instance_average's, in float32 from the bfloat16 features.
    inst = np.repeat(np.repeat(np.random.default_rng(4).choice([0, 7, 26001], (2, 4, 4, 1)), 4, axis=1), 4, axis=2)
    result = f32_and_bf16(lambda dtype: pix2pixhd.define_G("encoder", 3, 4, 2, dtype=dtype),
                          randomize(TorchEncoder(3, 3, 4, 2, "instance"), 4),
                          (jnp.asarray(images(2, 3, 16, seed=5).transpose(0, 2, 3, 1)), jnp.asarray(inst)), False)
    assert_bf16_close(result, atol=0.05, out_dtype=jnp.float32)
