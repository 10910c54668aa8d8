"""ConSinGAN's networks (jaxgan/models/consingan.py): parameter counts pinned
to the reference's, the reference's init, stage growth and learning-rate
groups, and parity with a torch transcription of tohinz/ConSinGAN's
models.py (GrowingGenerator, Discriminator) written below with the
reference's state-dict names, whose weights are loaded through
`params_from_torch`; and the bicubic upsampling against
torch.nn.functional.interpolate(mode='bicubic', align_corners=True)."""

import platform

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jaxgan.models import consingan, init_noise
from jaxgan.state import count_params

SHAPES = [(25, 33), (33, 44), (44, 59)]


def _init_shapes(model, shapes=SHAPES, train_mode="generation"):
    """eval_shape of the generator's init: shapes only, nothing computed."""
    noise = [jax.ShapeDtypeStruct(s, jnp.float32)
             for s in consingan.noise_shapes(shapes, model.num_stages, 1, model.nfc, model.num_layer,
                                             model.channels, train_mode)]
    amp = jnp.ones((model.num_stages,))
    return jax.eval_shape(lambda n: model.init(jax.random.key(0), n, shapes, amp), noise)


def _init(model, key, noise, shapes=SHAPES):
    """model.init, jitted and from one random draw (init_noise.one_draw): an
    eager init compiles every draw on its own, 10 s on a 2-core CPU."""
    init = init_noise.one_draw(lambda k, n: model.init(k, n, shapes, jnp.ones((model.num_stages,))))
    return jax.jit(init)(key, noise)


def test_parameter_counts_match_the_reference():
    # The reference's counts: sum(p.numel()) of GrowingGenerator after 6
    # stages (5 init_next_stage calls) and of Discriminator, default config.
    shapes = [(25 + 8 * i, 33 + 8 * i) for i in range(6)]
    g6 = _init_shapes(consingan.ConSinGANGenerator(num_stages=6), shapes)
    assert count_params(g6["params"]) == 668_227
    g1 = _init_shapes(consingan.ConSinGANGenerator(num_stages=1), shapes)
    assert count_params(g1["params"]) == 114_307  # head 1,792 + stage 110,784 + tail 1,731
    d = jax.eval_shape(lambda x: consingan.ConSinGANDiscriminator().init(jax.random.key(0), x),
                       jax.ShapeDtypeStruct((1, 25, 33, 3), jnp.float32))
    assert count_params(d["params"]) == 113_153
    assert sorted(g6["params"]) == ["body_0", "body_1", "body_2", "body_3", "body_4", "body_5", "head", "tail_0"]
    assert sorted(g6["params"]["body_3"]) == ["block0", "block1", "block2"]
    assert sorted(d["params"]) == ["body", "head", "tail"]
    assert consingan.num_stages_of(g6) == 6
    # batch norm adds a scale and a bias per block of G (4 blocks a stage + head), none in D
    gbn = _init_shapes(consingan.ConSinGANGenerator(num_stages=1, batch_norm=True))
    assert count_params(gbn["params"]) == 114_307 + 4 * 2 * 64
    assert sorted(gbn["batch_stats"]) == ["body_0", "head"]


def test_init_is_the_references_weights_init():
    model = consingan.ConSinGANGenerator(num_stages=1, batch_norm=True, activation="prelu")
    noise = [jnp.zeros(s) for s in consingan.noise_shapes(SHAPES, 1)]
    variables = _init(model, jax.random.key(1), noise)
    block = variables["params"]["body_0"]["block1"]
    kernel, bias = np.asarray(block["conv"]["kernel"]), np.asarray(block["conv"]["bias"])
    assert kernel.shape == (3, 3, 64, 64)
    assert abs(kernel.std() - 0.02) < 0.001 and abs(kernel.mean()) < 0.001  # N(0, 0.02)
    bound = 1 / np.sqrt(64 * 9)  # torch's default bias init, which weights_init keeps
    assert np.abs(bias).max() <= bound and np.abs(bias).max() > bound / 2
    scale = np.asarray(block["norm"]["scale"])
    assert abs(scale.mean() - 1) < 0.01 and 0.005 < scale.std() < 0.04  # N(1, 0.02)
    assert np.all(np.asarray(block["norm"]["bias"]) == 0)
    assert np.asarray(block["prelu"]["weight"]).tolist() == [0.25]


def test_growth_copies_the_last_stage_and_lr_groups():
    model = consingan.ConSinGANGenerator(num_stages=1, nfc=8)
    noise = [jnp.zeros(s) for s in consingan.noise_shapes(SHAPES, 3, nfc=8)]
    variables = _init(model, jax.random.key(2), noise[:1])
    grown = consingan.init_next_stage(consingan.init_next_stage(variables))
    assert consingan.num_stages_of(grown) == 3 and consingan.num_stages_of(variables) == 1
    for leaf0, leaf2 in zip(jax.tree.leaves(grown["params"]["body_0"]), jax.tree.leaves(grown["params"]["body_2"])):
        np.testing.assert_array_equal(leaf0, leaf2)
    model3 = consingan.ConSinGANGenerator(num_stages=3, nfc=8)
    out = jax.jit(lambda v, n: model3.apply(v, n, SHAPES, jnp.array([1.0, 0.1, 0.1])))(grown, noise)
    assert out.shape == (1, 44, 59, 3)
    with pytest.raises(ValueError, match="noise\\[1\\]"):
        bad = [noise[0], jnp.zeros((1, 33, 44, 8)), noise[2]]  # unpadded noise in 'generation'
        jax.eval_shape(lambda v, n: model3.apply(v, n, SHAPES, [1.0, 0.1, 0.1]), grown, bad)

    assert consingan.lr_multipliers(1) == {"body_0": 1.0, "head": 1.0, "tail": 1.0}
    lr3 = consingan.lr_multipliers(3)
    assert lr3 == pytest.approx({"body_0": 0.01, "body_1": 0.1, "body_2": 1.0, "head": 0.01, "tail": 1.0})
    lr6 = consingan.lr_multipliers(6, train_depth=3, lr_scale=0.1)
    assert lr6 == pytest.approx({"body_0": 0.0, "body_1": 0.0, "body_2": 0.0, "body_3": 0.01, "body_4": 0.1,
                                 "body_5": 1.0, "head": 0.0, "tail": 1.0})


def test_noise_for_the_other_modes():
    model = consingan.ConSinGANGenerator(num_stages=2, nfc=8, train_mode="retarget")
    noise = consingan.sample_noise(jax.random.key(3), SHAPES, 2, nfc=8, train_mode="retarget")
    assert [n.shape for n in noise] == [(1, 25, 33, 3), (1, 33, 44, 8)]  # G pads them itself
    assert abs(float(jnp.std(noise[1])) - 1) < 0.05
    variables = _init(model, jax.random.key(4), noise)
    out = jax.jit(lambda v, n, a: model.apply(v, n, SHAPES, a))(variables, noise, jnp.array([1.0, 0.5]))
    assert out.shape == (1, 33, 44, 3) and bool(jnp.all(jnp.abs(out) < 1))


# --------------------------------------------------------------------------
# torch parity

tnn = torch.nn
F = torch.nn.functional


def _torch_act(opt):
    if opt["activation"] == "lrelu":
        return tnn.LeakyReLU(opt["lrelu_alpha"])
    return {"elu": lambda: tnn.ELU(alpha=1.0), "prelu": lambda: tnn.PReLU(num_parameters=1, init=0.25),
            "selu": tnn.SELU}[opt["activation"]]()


def _torch_block(cin, cout, opt, generator=False):
    """The reference's ConvBlock: an nn.Sequential conv [norm] <activation name>."""
    block = tnn.Sequential()
    block.add_module("conv", tnn.Conv2d(cin, cout, opt["ker_size"], stride=1, padding=opt["padd_size"]))
    if generator and opt["batch_norm"]:
        block.add_module("norm", tnn.BatchNorm2d(cout))
    block.add_module(opt["activation"], _torch_act(opt))
    return block


def _torch_stage(opt, generator):
    stage = tnn.Sequential()
    for i in range(opt["num_layer"]):
        stage.add_module(f"block{i}", _torch_block(opt["nfc"], opt["nfc"], opt, generator))
    return stage


def _up(x, size):
    return F.interpolate(x, size=list(size), mode="bicubic", align_corners=True)


class TorchGrowingGenerator(tnn.Module):
    """models.py's GrowingGenerator (its names: head, body.<stage>, tail.0)."""

    def __init__(self, opt):
        super().__init__()
        self.opt = opt
        self.padded = opt["train_mode"] in ("generation", "animation")
        self.block_pad = opt["num_layer"] - 1 if self.padded else opt["num_layer"]
        self.head = _torch_block(opt["nc_im"], opt["nfc"], opt, generator=True)
        self.body = tnn.ModuleList([_torch_stage(opt, generator=True)])
        self.tail = tnn.Sequential(tnn.Conv2d(opt["nfc"], opt["nc_im"], opt["ker_size"], padding=opt["padd_size"]),
                                   tnn.Tanh())

    def init_next_stage(self):
        import copy
        self.body.append(copy.deepcopy(self.body[-1]))

    def forward(self, noise, real_shapes, noise_amp):
        x = self.head(F.pad(noise[0], [1] * 4))
        if self.padded:
            x = _up(x, (x.shape[2] + 2, x.shape[3] + 2))
        out = self.body[0](F.pad(x, [self.block_pad] * 4))
        m = 2 * self.opt["num_layer"]
        for s in range(1, len(self.body)):
            h, w = real_shapes[s][2:]
            skip = _up(out, (h, w))
            if self.padded:
                y = self.body[s](_up(out, (h + m, w + m)) + noise[s] * noise_amp[s])
            else:
                y = self.body[s](F.pad(skip + noise[s] * noise_amp[s], [self.block_pad] * 4))
            out = y + skip
        return self.tail(F.pad(out, [1] * 4))


class TorchDiscriminator(tnn.Module):
    def __init__(self, opt):
        super().__init__()
        self.head = _torch_block(opt["nc_im"], opt["nfc"], opt)
        self.body = _torch_stage(opt, generator=False)
        self.tail = tnn.Conv2d(opt["nfc"], 1, opt["ker_size"], padding=opt["padd_size"])

    def forward(self, x):
        return self.tail(self.body(self.head(x)))


def _weights_init(m):
    """weights_init as the reference's (conv weights N(0, 0.02), norms N(1, 0.02) / 0)."""
    name = m.__class__.__name__
    if "Conv2d" in name:
        m.weight.data.normal_(0.0, 0.02)
    elif "Norm" in name:
        m.weight.data.normal_(1.0, 0.02)
        m.bias.data.fill_(0)


def _opt(**kw):
    opt = {"nfc": 64, "num_layer": 3, "ker_size": 3, "padd_size": 0, "nc_im": 3, "activation": "lrelu",
           "lrelu_alpha": 0.05, "batch_norm": False, "train_mode": "generation"}
    opt.update(kw)
    return opt


def _perturb(module):
    """Weights that make every layer matter: conv kernels x3 (std 0.06, about
    He's sqrt(2 / fan_in) at 64 channels, so activations neither vanish
    through the ten layers of three stages nor grow until tanh saturates),
    BatchNorm scales / biases and PReLU slopes away from their inits."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("conv.weight") or name.startswith("tail"):
                p.mul_(3.0)
            elif "norm" in name or "prelu" in name:
                p.add_(0.2 * torch.randn_like(p))


def _nhwc(t):
    return np.asarray(t.detach().numpy()).transpose(0, 2, 3, 1)


GEN_CASES = [
    {},  # the default: generation, lrelu 0.05, nfc 64, no BN
    {"nfc": 16, "train_mode": "retarget", "activation": "prelu", "batch_norm": True},
    {"nfc": 16, "train_mode": "animation", "activation": "elu", "batch_norm": True},
    {"nfc": 16, "train_mode": "harmonization", "activation": "selu"},
]


@pytest.mark.parity
@pytest.mark.parametrize("case", GEN_CASES, ids=lambda c: c.get("train_mode", "generation"))
def test_generator_matches_torch(case):
    torch.manual_seed(0)
    opt = _opt(**case)
    batch = 2 if opt["batch_norm"] else 1
    tg = TorchGrowingGenerator(opt)
    tg.apply(_weights_init)
    for _ in range(len(SHAPES) - 1):
        tg.init_next_stage()
    _perturb(tg)
    state = {k: v.clone() for k, v in tg.state_dict().items()}  # before the forward moves its statistics
    shapes = consingan.noise_shapes(SHAPES, 3, batch, opt["nfc"], opt["num_layer"], opt["nc_im"], opt["train_mode"])
    noise_nchw = [torch.randn(s[0], s[3], s[1], s[2]) for s in shapes]
    amp = [1.0, 0.4, 0.25]
    real_shapes_nchw = [(batch, 3, h, w) for h, w in SHAPES]
    want = tg(noise_nchw, real_shapes_nchw, amp)  # train mode, as the reference always runs

    model = consingan.ConSinGANGenerator(num_stages=3, nfc=opt["nfc"], activation=opt["activation"],
                                         batch_norm=opt["batch_norm"], train_mode=opt["train_mode"])
    noise = [jnp.asarray(_nhwc(n)) for n in noise_nchw]
    like = _init_shapes(model, SHAPES, opt["train_mode"])
    variables = consingan.params_from_torch(state, like=like)
    apply = jax.jit(lambda v, n, a: model.apply(v, n, SHAPES, a, mutable=["batch_stats"]))
    got, updates = apply(variables, noise, jnp.asarray(amp))
    assert got.shape == (batch, 44, 59, 3)
    err = np.abs(np.asarray(got) - _nhwc(want)).max()
    assert err < 1e-5, err
    assert np.abs(_nhwc(want)).std() > 0.05  # the comparison is not of near-constant images
    if opt["batch_norm"]:  # the running statistics move as torch's
        stats = updates["batch_stats"]["body_2"]["block1"]["norm"]
        np.testing.assert_allclose(stats["mean"], tg.body[2].block1.norm.running_mean.numpy(), atol=1e-5)
        np.testing.assert_allclose(stats["var"], tg.body[2].block1.norm.running_var.numpy(), atol=1e-5)


@pytest.mark.parity
def test_discriminator_matches_torch():
    torch.manual_seed(1)
    td = TorchDiscriminator(_opt())
    td.apply(_weights_init)
    _perturb(td)
    x = torch.randn(2, 3, 25, 33)
    want = td(x)
    model = consingan.ConSinGANDiscriminator()
    like = jax.eval_shape(lambda v: model.init(jax.random.key(0), v), jax.ShapeDtypeStruct((2, 25, 33, 3), jnp.float32))
    variables = consingan.params_from_torch(td.state_dict(), like=like)
    got = jax.jit(model.apply)(variables, jnp.asarray(_nhwc(x)))
    assert got.shape == (2, 15, 23, 1)
    err = np.abs(np.asarray(got) - _nhwc(want)).max()
    assert err < 1e-5, err
    assert sum(p.numel() for p in td.parameters()) == 113_153
    tg = TorchGrowingGenerator(_opt())
    for _ in range(5):
        tg.init_next_stage()
    assert sum(p.numel() for p in tg.parameters()) == 668_227


@pytest.mark.parity
@pytest.mark.parametrize("src,dst", [((7, 9), (9, 12)), ((25, 33), (33, 44)), ((33, 44), (44, 59)),
                                     ((10, 10), (12, 12)), ((5, 6), (20, 29)), ((9, 12), (7, 5)),
                                     ((1, 4), (3, 4)), ((4, 3), (1, 6))])
def test_bicubic_matches_torch(src, dst):
    torch.manual_seed(2)
    x = torch.randn(2, 5, *src)
    want = _nhwc(F.interpolate(x, size=list(dst), mode="bicubic", align_corners=True))
    got = np.asarray(consingan.upsample_bicubic_align_corners(jnp.asarray(_nhwc(x)), dst))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)
    jitted = jax.jit(consingan.upsample_bicubic_align_corners, static_argnums=1)(jnp.asarray(_nhwc(x)), dst)
    np.testing.assert_allclose(jitted, want, atol=1e-6, rtol=0)


@pytest.mark.parity
def test_bicubic_weights_are_torchs():
    """torch's output for one-hot inputs is its weight matrix; ours, summed
    over the clamped taps, is the same, bit for bit against torch's x86 build."""
    for n_in, n_out in [(25, 33), (33, 44), (44, 59), (6, 20)]:
        eye = torch.eye(n_in).reshape(n_in, 1, n_in, 1)  # each image one one-hot column
        want = F.interpolate(eye, size=[n_out, 1], mode="bicubic", align_corners=True)[:, 0, :, 0].numpy().T
        index, weight = consingan.bicubic_taps(n_in, n_out)
        got = np.zeros((n_out, n_in), np.float32)
        for j in range(4):
            np.add.at(got, (np.arange(n_out), index[j]), weight[j])
        np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)
        if platform.machine().lower() in ("x86_64", "amd64"):  # the FMAs bicubic_taps mirrors are x86 torch's
            np.testing.assert_array_equal(got, want)
