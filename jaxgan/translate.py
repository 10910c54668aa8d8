"""Translate a folder with a trained pix2pix, pix2pixHD, CycleGAN or StarGAN
generator: `python -m jaxgan.translate`, the reference test scripts' job
(junyanz/pytorch-CycleGAN-and-pix2pix test.py, NVIDIA/pix2pixHD test.py and
encode_features.py, yunjey/stargan's solver.test).

Weights come from a jaxgan run (its workdir: the config it saved, or --config,
and the latest checkpoint, or --step; only G's and the encoder's variables
are read) or from the references' PyTorch files (latest_net_G.pth, read
without torch), described with the references' own option names:

    # a jaxgan run
    python -m jaxgan.translate --workdir runs/facades --input photos/ --output out/
    # a jaxgan CycleGAN run: G_A (A to B, the default) or G_B (--direction BtoA)
    python -m jaxgan.translate --workdir runs/horse2zebra --direction BtoA --input zebras/ --output horses/
    # the reference's pix2pix (facades_label2photo: unet_256, batch norm)
    python -m jaxgan.translate --weights latest_net_G.pth --arch unet_256 --input labels/ --output out/
    # aligned A|B files, translating the right half (B) as the reference's --direction BtoA
    python -m jaxgan.translate --weights G.pth --arch unet_256 --aligned --direction BtoA --input val/ --output out/
    # a CycleGAN generator (latest_net_G_A.pth): ResNet, instance norm, no dropout
    python -m jaxgan.translate --weights latest_net_G_A.pth --arch resnet_9blocks --norm instance --no_dropout \\
        --input horses/ --output zebras/
    # the reference's pix2pixHD (label2city_1024p is --arch pix2pixhd_local --ngf 32; 512p: pix2pixhd_global)
    python -m jaxgan.translate --weights latest_net_G.pth --arch pix2pixhd_local --ngf 32 \\
        --input test_label/ --instance test_inst/ --output out/
    # an instance-feature model (--instance_feat): features of real images ...
    python -m jaxgan.translate --workdir runs/city_feat --input test_label/ --instance test_inst/ \\
        --encode-from test_img/ --output out/
    # ... or cluster centres of the training set's features, one drawn per instance (--seed)
    python -m jaxgan.translate --workdir runs/city_feat --encode-features --input train_img/ \\
        --instance train_inst/ --output clusters.npz
    python -m jaxgan.translate --workdir runs/city_feat --input test_label/ --instance test_inst/ \\
        --features clusters.npz --seed 3 --output out/
    # StarGAN's published CelebA model (200000-G.ckpt; Black_Hair,Blond_Hair,Brown_Hair,Male,Young): the
    # reference's test grid, each input beside its five translations, the inputs' labels from CelebA's file
    python -m jaxgan.translate --weights 200000-G.ckpt --arch stargan --labels list_attr_celeba.txt \\
        --input celeba/ --output out/
    # one target: blond and female, the other attributes each input's own (or all of them set: no --labels)
    python -m jaxgan.translate --weights 200000-G.ckpt --arch stargan --target Blond_Hair=1,Male=0 \\
        --labels list_attr_celeba.txt --input celeba/ --output out/
    # a StarGAN run (its attributes or domains, crop and size from its config)
    python -m jaxgan.translate --workdir runs/stargan_celeba --labels 0,1,0,0,1 --input faces/ --output out/

A CycleGAN run holds two generators: --direction AtoB (default) translates
with G_A (domain A to B), BtoA with G_B (B to A); with --aligned the same flag
also picks the half of each file (the left one for AtoB).

Inputs (--input, files sorted by name; --instance, --encode-from and --labels
pair with them in that order): pix2pix reads images (RGB, or grey with
--input_nc 1) or, with --aligned, A|B files; pix2pixHD reads label-id maps
(grey, palette or 16/32-bit PNGs; ids must lie below label_nc) and instance-id
maps, or images when label_nc is 0. --load-size N resizes every input to
width N first (the references' scale_width: label and instance maps NEAREST,
images BICUBIC); by default inputs are read at their size.

Sizes: a generator needs sides that are multiples of its stride (unet_N: 2 to
the number of its levels, unet_256: 256, unet_128: 128; resnet: 4;
pix2pixHD's global G: 2**n_downsample_global, the local one
2**(n_downsample_global + n_local_enhancers); the encoder's
2**n_downsample_E). Other sizes are padded at the bottom and right up to the
next multiple (images by reflection, label and instance maps by repeating
their edge, so no instance edge appears at the seam) and the output is cropped
back: every output has its input's size. (The references resize to a multiple
instead, which changes the size.)

Modes (--mode): 'eval' runs BatchNorm on its running statistics with no
dropout (the reference's test.py --eval); 'train' translates each image
alone in training mode (its own BatchNorm statistics, dropout on, keys from
--seed and the image's place in the folder), as the reference's test.py does
by default at batch 1 (pix2pixHD's test never leaves training mode; with
instance norm the modes agree). Default: a run's config.model.sample_mode,
else 'eval'.

Outputs: one PNG per input, named after it, in --output (each written to a
temporary file and renamed, so none is ever partial), or with
--output-format npz one file --output/translations.npz holding 'x', float32
[N, H, W, C] in [-1, 1], and 'names', the input files' names (all inputs must
then have one size), written at the end.

Instance features (pix2pixHD --instance_feat): G also reads feat_num channels
that hold, over each instance, one vector. --encode-from DIR takes them from
the encoder run on real images (the reference's --use_encoded_image);
--features clusters.npz draws one cluster centre of the instance's class for
each instance (the reference's default test with --instance_feat; instances
of classes without centres get zeros). --encode-features writes that file
from training images (--input), their instance maps (--instance) and
optionally their label maps (--labels), as the reference's encode_features.py:
each instance's vector is the encoder's output at the instance's middle pixel
(in raster order; the encoder averages over the instance, so every pixel of it
holds the same vector); instances of at most --min-instance-fraction of the
image are left out (the reference keeps those over half a 1/32 block: 1/64);
its class is the id itself below 1000 and id // 1000 above (Cityscapes'
instance ids), or with --labels the label at that pixel; then per class
k-means (k-means++ starts, 10 restarts, deterministic with --seed) to
--n_clusters centres, or all vectors of a class with fewer. The file holds
'class_<c>' [k, feat_num] per class, 'feat_num', 'n_clusters' and
'class_rule' ('instance_ids' or 'labels', which --features then applies).

StarGAN (--arch stargan, or a stargan run). One G for every domain reads
the image and a target label vector c, each entry an attribute's 0/1 (the
reference's CelebA: --attributes names them in order, default
Black_Hair,Blond_Hair,Brown_Hair,Male,Young, its --selected_attrs) or one
domain's one-hot (its RaFD and custom folders: --domains names them; a file
whose c_dim is not 5 without either is read as domains 0..c_dim-1). The
reference's options --c_dim (default: the file's, from its first conv, which
reads 3 image channels + c_dim), --g_conv_dim 64 and --g_repeat_num 6
describe the file (its {iters}-G.ckpt: zip or the legacy format of the
2018 published models); the InstanceNorms' running statistics in it are
never used (the reference never leaves training mode, so --mode changes
nothing). Inputs are read as the reference's test: a center crop of
--crop_size (default 178, celeba_crop_size; 0: none), the short side resized
(bilinear) to --image_size (default 128; 0: none), in [-1, 1]; a run uses its
config.data.crop_size and image_size.

Targets. --target 'Black_Hair=1,Male=0' sets those attributes of each
input's own labels; setting an attribute of an exclusive group (--exclusive
'A,B,C;D,E', default the hair colours Black_Hair, Blond_Hair, Brown_Hair,
Gray_Hair among the attributes, as the reference's create_labels; a run's
config.data.exclusive) to 1 sets the rest of its group to 0. The inputs' own
labels come from --labels: an attribute file in list_attr_celeba.txt's
format (a count line, the names, then `filename v1 .. v40` with 1 / -1; rows
found by the input's file name, or its name without the extension) or one
comma-separated 0/1 vector in the attributes' order for every input;
without --labels the target must set every attribute. A domain model's
target is a domain's name (--target happy). Without --target: the
reference's test grid, per input one row [the input, then one translation
per attribute: a hair colour set (the others of its group cleared), any other
attribute flipped], or for a domain model [the input, then one translation
per domain].

StarGAN outputs: one PNG per input (the grid row, or the one translation),
or with --output-format npz translations.npz holding 'x' (float32 [N, H, W, C] with
--target, [N, c_dim, H, W, C] for the grid), 'input' (the preprocessed inputs
[N, H, W, C]), 'c' (the targets, [N, c_dim] or [N, c_dim, c_dim]), 'names',
'columns' (the target, or the grid's attribute per column) and 'attributes'.

Python: `network_from_run`, `network_from_torch`, `stargan_from_torch`,
`translate_folder`, `translate_stargan_folder`, `encode_features` and
`sample_features` are the same steps.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import re
import sys
import time
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags
from PIL import Image

from jaxgan.models import pix2pix as p2p_networks
from jaxgan.models import pix2pixhd as hd_networks

PIX2PIX_ARCHS = (*p2p_networks.UNET_NUM_DOWNS, "resnet_6blocks", "resnet_9blocks")
PIX2PIXHD_ARCHS = ("pix2pixhd_global", "pix2pixhd_local")
ARCHS = PIX2PIX_ARCHS + PIX2PIXHD_ARCHS + ("stargan",)
# The reference StarGAN's (yunjey/stargan) default selected_attrs, those of its published CelebA models, and the
# attributes its create_labels treats as mutually exclusive (one set to 1 clears the others).
STARGAN_ATTRIBUTES = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")
HAIR_COLOURS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")
MODES = ("eval", "train")
OUTPUT_FORMATS = ("png", "npz")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
ID_MODES = ("L", "P", "I", "I;16", "I;16B", "I;16L", "I;16N", "F", "1")
NPZ_NAME = "translations.npz"
LOG_EVERY = 50


class InputError(ValueError):
    """An input file that cannot be used; the message names it."""


# --------------------------------------------------------------------------
# Networks


@dataclasses.dataclass(frozen=True)
class LabelSpace:
    """What a StarGAN G's label vector c [c_dim] means: `names` in c's
    order; `one_hot` False: attributes (c holds each attribute's 0/1, the
    reference's CelebA), True: domains (c is one domain's one-hot vector, the
    reference's RaFD and custom folders); `exclusive`: groups of attributes
    of which a target sets one to 1 and the others to 0 (the reference's hair
    colours)."""

    names: tuple[str, ...]
    one_hot: bool = False
    exclusive: tuple[tuple[str, ...], ...] = ()

    @property
    def c_dim(self) -> int:
        return len(self.names)

    def group_of(self, name: str) -> tuple[str, ...]:
        return next((g for g in self.exclusive if name in g), ())

    def describe(self) -> str:
        if self.one_hot:
            return f"{self.c_dim} one-hot domains ({', '.join(self.names)})"
        groups = "; ".join(", ".join(g) for g in self.exclusive)
        return f"attributes {', '.join(self.names)}" + (f" (exclusive: {groups})" if groups else "")


@dataclasses.dataclass
class Network:
    """A generator (and pix2pixHD's instance-feature encoder) ready to
    translate. `family` 'pix2pix' (G reads the input image), 'pix2pixhd'
    (G reads one-hot labels, or the input image with label_nc 0, the instance
    edges with `instance`, and feat_num feature channels with an encoder) or
    'stargan' (G reads the image and a target label vector; `labels` says
    what the vector means, `crop_size` and `image_size` are the default
    preprocessing). `multiple`: the side multiple G (and E) need. `G` is None
    for a network loaded only to encode features."""

    family: str
    G: Any
    g: Any
    input_nc: int
    output_nc: int
    multiple: int
    label_nc: int = 0
    instance: bool = False
    E: Any = None
    e: Any = None
    feat_num: int = 0
    default_mode: str = "eval"
    description: str = ""
    labels: LabelSpace | None = None
    crop_size: int = 0
    image_size: int = 0

    @property
    def input_key(self) -> str:
        return "label_map" if self.label_nc else "input"


def pix2pix_multiple(netG: str) -> int:
    """The side multiple of the reference's pix2pix G: the U-Net halves the
    image once per level and concatenates each level's input with its
    upsampled output (so every level needs an even side): 2**num_downs; the
    ResNet G downsamples twice (odd sides would come back one pixel larger)."""
    if netG in p2p_networks.UNET_NUM_DOWNS:
        return 2 ** p2p_networks.UNET_NUM_DOWNS[netG]
    return 4


def pix2pixhd_multiple(netG: str, n_downsample_global: int, n_local_enhancers: int = 1,
                       n_downsample_E: int | None = None) -> int:
    """The side multiple of pix2pixHD's G (`netG` 'global' or 'local') and,
    when given, of the encoder."""
    multiple = 2 ** (int(n_downsample_global) + (int(n_local_enhancers) if netG == "local" else 0))
    return max(multiple, 2 ** int(n_downsample_E)) if n_downsample_E is not None else multiple


def network_from_run(config: Any, workdir: str, step: int | None = None, direction: str = "AtoB") -> Network:
    """G (and E) of a pix2pix, pix2pixHD, CycleGAN or StarGAN run's checkpoint
    (default the latest), restored alone (D and the optimizer states stay on
    disk) on one device; of a CycleGAN run G_A for `direction` 'AtoB', G_B
    for 'BtoA'."""
    from jaxgan import checkpoint
    from jaxgan.trainers import get_trainer

    if config.trainer not in ("pix2pix", "pix2pixhd", "cyclegan", "stargan"):
        raise ValueError(f"the run in {workdir} trains {config.trainer!r}: jaxgan.translate takes pix2pix, "
                         "pix2pixhd, cyclegan and stargan runs")
    if direction not in ("AtoB", "BtoA"):
        raise ValueError(f"--direction must be 'AtoB' or 'BtoA', got {direction!r}")
    if "://" not in str(workdir) and not os.path.isdir(workdir):
        raise FileNotFoundError(f"no workdir {workdir}")
    trainer = get_trainer(config)
    abstract = jax.eval_shape(trainer.init_state, jax.random.key(config.seed))
    cyclegan = config.trainer == "cyclegan"
    g_name = ("g_a" if direction == "AtoB" else "g_b") if cyclegan else "g"
    wanted = {g_name: getattr(abstract, g_name)}
    if getattr(trainer, "E", None) is not None:
        wanted["e"] = abstract.e
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    wanted = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=device), wanted)
    ckpt = checkpoint.Checkpointer(workdir, config.ckpt.max_to_keep)
    try:
        steps = sorted(ckpt.manager.all_steps())
        if not steps:
            raise FileNotFoundError(f"no checkpoint in {ckpt.directory}: train first (python -m jaxgan.main)")
        step = steps[-1] if step is None else int(step)
        if step not in steps:
            raise FileNotFoundError(f"no checkpoint of step {step} in {ckpt.directory}; it has steps {steps}")
        restored = ckpt.restore_partial(wanted, step)
    finally:
        ckpt.close()
    m, d = config.model, config.data
    description = f"the {config.trainer} run in {workdir} at step {step}"
    if config.trainer == "stargan":
        # The labels' meaning from the trainer (data.attributes, or data.domains / model.c_dim, one-hot) and the
        # config (data.exclusive); preprocessing as the run's data: center crop data.crop_size, then image_size.
        names = tuple(trainer.names) or tuple(str(i) for i in range(trainer.c_dim))
        one_hot = trainer.label_kind == "domains"
        space = LabelSpace(names, one_hot, () if one_hot else exclusive_groups(
            list(d.get("exclusive") or []), names, strict=False))
        channels = int(d.channels)
        return Network("stargan", trainer.G, restored["g"], channels, channels, 4, labels=space,
                       crop_size=int(d.get("crop_size", 0) or 0), image_size=int(d.image_size),
                       description=f"{description} ({space.describe()})")
    if cyclegan:
        # G_A reads domain A (input_channels) and writes B (channels); G_B the other way round. Both in eval
        # mode by default: with CycleGAN's instance norm and no dropout it is the reference's train-mode test.
        a_nc, b_nc = int(d.input_channels), int(d.channels)
        G, input_nc, output_nc = (trainer.G_A, a_nc, b_nc) if direction == "AtoB" else (trainer.G_B, b_nc, a_nc)
        return Network("pix2pix", G, restored[g_name], input_nc, output_nc, pix2pix_multiple(m.g.netG),
                       description=f"{description} (G_{g_name[-1].upper()}, {direction})")
    common = dict(G=trainer.G, g=restored["g"], output_nc=int(d.channels), default_mode=m.sample_mode,
                  description=description)
    if config.trainer == "pix2pix":
        return Network("pix2pix", input_nc=int(d.input_channels), multiple=pix2pix_multiple(m.g.netG), **common)
    e_down = int(m.e.n_downsample_E) if trainer.E is not None else None
    multiple = pix2pixhd_multiple(m.g.netG, m.g.n_downsample_global, m.g.get("n_local_enhancers", 1), e_down)
    return Network("pix2pixhd", input_nc=int(d.input_channels), multiple=multiple, label_nc=trainer.label_nc,
                   instance=trainer.instance, E=trainer.E, e=restored.get("e"), feat_num=trainer.feat_num, **common)


def _flat_shapes(tree: Any) -> dict[str, tuple]:
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {"/".join(str(getattr(k, "key", k)) for k in path): tuple(np.shape(v)) for path, v in flat}


def _mismatch_hint(got: dict[str, tuple], want: dict[str, tuple], flags_of: dict[str, str]) -> str:
    """The flag most likely wrong when a state dict `got` does not fit the
    network `want` (flat {path: shape}); flags_of names the flags of each
    kind of mistake: 'structure', 'norm', 'input', 'output', 'width'."""
    differ = set(got) ^ set(want)
    if differ:
        # Norms differ in norm parameters, running statistics and (pix2pix) the conv biases before them only.
        if all(p.rsplit("/", 1)[-1] in ("scale", "bias", "mean", "var") for p in differ):
            return flags_of["norm"]
        return flags_of["structure"]
    wrong = sorted(p for p in got if got[p] != want[p])
    if all(p.endswith("kernel") for p in wrong):
        if all(got[p][:2] == want[p][:2] and got[p][3] == want[p][3] for p in wrong):
            # Only the input axis of the first convs (kernels HWIO): what feeds G, not G's width.
            return f"{flags_of['input']} (the file's first layer reads {got[wrong[0]][2]} channels, these flags " \
                   f"give {want[wrong[0]][2]})"
    biases = [p for p in wrong if p.endswith("bias")]
    if len(wrong) <= 2 and len(biases) == 1:
        return f"{flags_of['output']} (the file's last layer has {got[biases[0]][0]} outputs, these flags give " \
               f"{want[biases[0]][0]})"
    return flags_of["width"]


def _load_torch(path: str, like: Any, what: str, flags_of: dict[str, str],
                alternatives: Sequence[tuple[Any, str]] = (), convert: Any = None,
                state_dict: dict | None = None) -> dict:
    """The variables in the reference's state dict `path` (or `state_dict`,
    already read from it), checked against `like` (the flax network's
    eval_shape); one-line errors naming the file and the flag most likely
    wrong: the hint of the first of `alternatives` ((like, hint) of other
    settings) that the file fits, else a guess from the differences.
    `convert(state_dict, like=None)`: the state dict's variables (default
    pix2pix.params_from_torch_state_dict)."""
    from jaxgan.convert import torch_checkpoint

    convert = convert or p2p_networks.params_from_torch_state_dict
    if state_dict is None:
        state_dict = torch_checkpoint.load_state_dict(path)  # FileNotFoundError / CheckpointError name the file
    try:
        variables = convert(state_dict)
    except ValueError as e:
        raise ValueError(f"{path} is not a generator state dict of the references ({e}); check --weights") from e
    try:
        convert(state_dict, like=like)
    except ValueError as e:
        got = _flat_shapes(variables)
        fits = [h for other, h in alternatives if _flat_shapes(other) == got]
        hint = fits[0] if fits else _mismatch_hint(got, _flat_shapes(like), flags_of)
        raise ValueError(f"{path} does not fit {what}: {e}; check {hint}") from e
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), variables)


def network_from_torch(arch: str, weights: str | None, *, encoder_weights: str | None = None, ngf: int = 64,
                       norm: str | None = None, input_nc: int = 3, output_nc: int = 3, no_dropout: bool = False,
                       label_nc: int = 35, no_instance: bool = False, n_downsample_global: int = 4,
                       n_blocks_global: int = 9, n_local_enhancers: int = 1, n_blocks_local: int = 3,
                       instance_feat: bool = False, feat_num: int = 3, nef: int = 16,
                       n_downsample_E: int = 4) -> Network:
    """The network in the references' .pth files, described by their
    options (same names and defaults; norm: 'batch' for pix2pix, 'instance'
    for pix2pixHD). `weights`: G's file (None to encode features only);
    `encoder_weights`: pix2pixHD's latest_net_E.pth (with instance_feat)."""
    if arch not in ARCHS:
        raise ValueError(f"--arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    if arch == "stargan":
        raise ValueError("StarGAN's options differ: stargan_from_torch(weights, c_dim=..., g_conv_dim=..., ...)")
    key = jax.random.key(0)
    if arch in PIX2PIX_ARCHS:
        norm = norm or "batch"
        G = p2p_networks.define_G(arch, output_nc, ngf, norm, use_dropout=not no_dropout)
        multiple = pix2pix_multiple(arch)
        what = f"--arch {arch} --ngf {ngf} --norm {norm} --input_nc {input_nc} --output_nc {output_nc}"
        flags_of = dict(structure="--arch", norm="--norm", input="--input_nc", output="--output_nc", width="--ngf")
        x = jnp.zeros((1, multiple, multiple, input_nc))
        like = jax.eval_shape(lambda k: G.init(k, x, train=False), key)
        # The ResNet's dropout layer shifts the indices (names) of the layers after it in each block.
        other = p2p_networks.define_G(arch, output_nc, ngf, norm, use_dropout=no_dropout)
        alternatives = [(jax.eval_shape(lambda k: other.init(k, x, train=False), key),
                         "--no_dropout (the file's G has no dropout layers)" if not no_dropout
                         else "--no_dropout (the file's G has dropout layers: leave the flag out)")]
        g = _load_torch(weights, like, what, flags_of, alternatives) if weights else None
        return Network("pix2pix", G, g, input_nc, output_nc, multiple, description=f"{weights} ({what})")

    norm = norm or "instance"
    if norm not in ("batch", "instance"):
        raise ValueError(f"--norm: pix2pixHD's norms are 'instance' and 'batch', got {norm!r}")
    if instance_feat and no_instance:
        raise ValueError("--instance_feat encodes features per instance: it needs instance maps (drop --no_instance)")
    netG = arch.split("_", 1)[1]
    G = hd_networks.define_G(netG, output_nc, ngf, n_downsample_global, n_blocks_global, n_local_enhancers,
                             n_blocks_local, norm)
    e_down = n_downsample_E if instance_feat else None
    multiple = pix2pixhd_multiple(netG, n_downsample_global, n_local_enhancers, e_down)
    feat = feat_num if instance_feat else 0
    g_in = (label_nc or input_nc) + (not no_instance) + feat
    what = (f"--arch {arch} --ngf {ngf} --norm {norm} --n_downsample_global {n_downsample_global} --n_blocks_global "
            f"{n_blocks_global}" + (f" --n_local_enhancers {n_local_enhancers} --n_blocks_local {n_blocks_local}"
                                    if netG == "local" else "") + f", {g_in} inputs")
    structure = "--arch" + (", --n_downsample_global, --n_blocks_global" +
                            (", --n_local_enhancers, --n_blocks_local" if netG == "local" else ""))
    inputs = "--label_nc" + ("" if label_nc else "/--input_nc") + ", --no_instance" + \
             (", --feat_num" if instance_feat else " or --instance_feat")
    flags_of = dict(structure=structure, norm="--norm", input=inputs, output="--output_nc", width="--ngf")
    side = 2 ** (n_downsample_global + (n_local_enhancers if netG == "local" else 0))
    like = jax.eval_shape(lambda k: G.init(k, jnp.zeros((1, side, side, g_in)), train=False), key)
    g = _load_torch(weights, like, what, flags_of) if weights else None
    E = e = None
    if instance_feat:
        E = hd_networks.define_G("encoder", output_nc=feat_num, ngf=nef, n_downsample_global=n_downsample_E,
                                 norm=norm)
        side = 2 ** n_downsample_E
        like = jax.eval_shape(lambda k: E.init(k, jnp.zeros((1, side, side, output_nc)),
                                               jnp.zeros((1, side, side), jnp.int32), train=False), key)
        if encoder_weights:
            e = _load_torch(encoder_weights, like, f"the encoder (--nef {nef} --n_downsample_E {n_downsample_E} "
                            f"--feat_num {feat_num} --norm {norm}, {output_nc} inputs)",
                            dict(structure="--n_downsample_E", norm="--norm", input="--output_nc",
                                 output="--feat_num", width="--nef"))
    return Network("pix2pixhd", G, g, input_nc, output_nc, multiple, label_nc=label_nc, instance=not no_instance,
                   E=E, e=e, feat_num=feat, description=f"{weights or encoder_weights} ({what})")


# --------------------------------------------------------------------------
# StarGAN: one G for every domain, told the target by a label vector c


def _names(spec: str | Sequence[str] | None, flag: str) -> tuple[str, ...] | None:
    """Names from 'a,b,c' (or a sequence of them); None stays None."""
    if spec is None:
        return None
    names = tuple(n.strip() for n in (spec.split(",") if isinstance(spec, str) else spec))
    if not names or not all(names):
        raise ValueError(f"{flag}: an empty name in {spec!r} (comma-separated names)")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"{flag} names {twice[0]} twice")
    return names


def exclusive_groups(spec: str | Sequence | None, names: Sequence[str], strict: bool = True
                     ) -> tuple[tuple[str, ...], ...]:
    """The groups of mutually exclusive attributes among `names`: spec None:
    the hair colours among them (the reference's create_labels); 'A,B;C,D'
    (--exclusive: groups split by ';', '' none); a list of names (one group,
    a run's config.data.exclusive) or of lists. Names not among `names` are
    an error when `strict` (a flag's typo), else left out (a config lists
    all four hair colours)."""
    if spec is None:
        groups = [[n for n in names if n in HAIR_COLOURS]]
    elif isinstance(spec, str):
        groups = [g.split(",") for g in spec.split(";")] if spec.strip() else []
    else:
        spec = list(spec)
        groups = [list(g) for g in spec] if spec and not isinstance(spec[0], str) else [spec]
    out: list[tuple[str, ...]] = []
    seen: set[str] = set()
    for group in groups:
        group = [str(n).strip() for n in group if str(n).strip()]
        unknown = [n for n in group if n not in names]
        if unknown and strict:
            raise ValueError(f"--exclusive: unknown attribute {unknown[0]!r}; the model's attributes: "
                             f"{', '.join(names)}")
        group = [n for n in group if n in names]
        again = [n for n in group if n in seen]
        if again:
            raise ValueError(f"--exclusive puts {again[0]} in two groups")
        seen.update(group)
        if group:
            out.append(tuple(group))
    return tuple(out)


def label_space(c_dim: int | None = None, *, attributes: str | Sequence[str] | None = None,
                domains: str | Sequence[str] | None = None, exclusive: str | Sequence | None = None) -> LabelSpace:
    """What a StarGAN G's c means (module docstring): `attributes` names c's
    attributes in order, `domains` its one-hot domains; with neither, c_dim
    5 is the reference's CelebA attributes (Black_Hair, Blond_Hair,
    Brown_Hair, Male, Young) and any other c_dim one-hot domains named 0 ..
    c_dim - 1. `exclusive`: see exclusive_groups."""
    attributes, domains = _names(attributes, "--attributes"), _names(domains, "--domains")
    if attributes and domains:
        raise ValueError("--attributes (a multi-attribute model, CelebA's) and --domains (one-hot domains, RaFD's) "
                         "exclude each other")
    names = attributes or domains
    if names is not None and c_dim is not None and len(names) != c_dim:
        raise ValueError(f"--c_dim is {c_dim} but --{'attributes' if attributes else 'domains'} names {len(names)}: "
                         f"{', '.join(names)}")
    if names is None:
        c_dim = len(STARGAN_ATTRIBUTES) if c_dim is None else int(c_dim)
        if c_dim == len(STARGAN_ATTRIBUTES):
            attributes = names = STARGAN_ATTRIBUTES
        else:
            domains = names = tuple(str(i) for i in range(c_dim))
    if domains:
        if exclusive:
            raise ValueError("--exclusive groups attributes; a domain model's label is one-hot already")
        return LabelSpace(names, one_hot=True)
    return LabelSpace(names, False, exclusive_groups(exclusive, names))


def stargan_layout(state_dict: dict) -> dict[str, int] | None:
    """{conv_dim, repeat_num, channels, c_dim} of the reference StarGAN G
    whose state dict this is (the first conv reads channels + c_dim, the
    last writes channels); None when it is none."""
    sd = {k.removeprefix("module."): v for k, v in state_dict.items()}
    first = sd.get("main.0.weight")
    top = [int(m.group(1)) for k in sd if (m := re.fullmatch(r"main\.(\d+)\.weight", k)) and np.ndim(sd[k]) == 4]
    if first is None or np.ndim(first) != 4 or not top:
        return None
    blocks = {m.group(1) for k in sd if (m := re.fullmatch(r"main\.(\d+)\.main\.0\.weight", k))}
    channels = int(np.shape(sd[f"main.{max(top)}.weight"])[0])
    return dict(conv_dim=int(np.shape(first)[0]), repeat_num=len(blocks), channels=channels,
                c_dim=int(np.shape(first)[1]) - channels)


def _stargan_like(G: Any) -> Any:
    x, c = jnp.zeros((1, 4, 4, G.channels)), jnp.zeros((1, G.c_dim))
    return jax.eval_shape(lambda k: G.init(k, x, c), jax.random.key(0))


def stargan_from_torch(weights: str, *, c_dim: int | None = None, g_conv_dim: int = 64, g_repeat_num: int = 6,
                       attributes: str | Sequence[str] | None = None, domains: str | Sequence[str] | None = None,
                       exclusive: str | Sequence | None = None, crop_size: int = 178,
                       image_size: int = 128) -> Network:
    """The reference StarGAN's G in `weights` (its {iters}-G.ckpt, a
    torch.save of G.state_dict() in the zip or the legacy format), described
    by the reference's options (c_dim, g_conv_dim, g_repeat_num) and what its
    labels mean (label_space); c_dim, unless an option states it, is the
    file's (its first conv reads 3 image channels + c_dim). The
    InstanceNorms' running statistics in the file are dropped: the reference
    never uses them (jaxgan.models.stargan)."""
    from jaxgan.convert import torch_checkpoint
    from jaxgan.models import stargan

    state_dict = torch_checkpoint.load_state_dict(weights)  # FileNotFoundError / CheckpointError name the file
    layout = stargan_layout(state_dict)
    if layout is None or layout["c_dim"] < 1:
        raise ValueError(f"{weights} is not a StarGAN generator state dict (no first conv main.0.weight reading "
                         "image channels + c_dim labels); check --weights (the reference's {iters}-G.ckpt)")
    names = _names(attributes, "--attributes") or _names(domains, "--domains")
    if c_dim is not None and names is not None and c_dim != len(names):
        label_space(c_dim, attributes=attributes, domains=domains)  # raises, naming both
    stated = c_dim if c_dim is not None else (len(names) if names else None)
    if stated is not None and stated != layout["c_dim"]:
        flag = "--c_dim" if c_dim is not None else ("--attributes" if attributes else "--domains")
        raise ValueError(f"{weights} does not fit {flag} ({stated} labels): its first conv reads "
                         f"{layout['channels'] + layout['c_dim']} channels = {layout['channels']} image channels + "
                         f"c_dim {layout['c_dim']}; check {flag}")
    space = label_space(layout["c_dim"], attributes=attributes, domains=domains, exclusive=exclusive)
    channels = layout["channels"]
    G = stargan.Generator(g_conv_dim, space.c_dim, g_repeat_num, channels)
    what = f"--arch stargan --g_conv_dim {g_conv_dim} --g_repeat_num {g_repeat_num} --c_dim {space.c_dim}"
    alternatives = []
    if (layout["conv_dim"], layout["repeat_num"]) != (g_conv_dim, g_repeat_num):
        other = stargan.Generator(layout["conv_dim"], space.c_dim, layout["repeat_num"], channels)
        alternatives.append((_stargan_like(other), f"--g_conv_dim {layout['conv_dim']} --g_repeat_num "
                                                   f"{layout['repeat_num']} (the file's G)"))
    flags_of = dict(structure="--g_repeat_num", norm="--g_repeat_num", input="--c_dim", output="--c_dim",
                    width="--g_conv_dim")
    g = _load_torch(weights, _stargan_like(G), what, flags_of, alternatives, convert=stargan.params_from_torch,
                    state_dict=state_dict)
    return Network("stargan", G, g, channels, channels, 4, labels=space, crop_size=crop_size, image_size=image_size,
                   description=f"{weights} ({what}; {space.describe()})")


# --------------------------------------------------------------------------
# Forward passes (jitted once per network, shapes and mode)


def _apply(module: Any, variables: Any, args: tuple, train: bool, keys: jax.Array) -> jax.Array:
    """module(*args) in eval mode, or each image alone in training mode (its
    own BatchNorm statistics, dropout from its key; the statistics' updates
    are dropped)."""
    if not train:
        return module.apply(variables, *args, train=False)
    mutable = [c for c in variables if c != "params"]

    def one(key, *xs):
        xs = [x[None] for x in xs]
        if mutable:
            out, _ = module.apply(variables, *xs, train=True, rngs={"dropout": key}, mutable=mutable)
        else:
            out = module.apply(variables, *xs, train=True, rngs={"dropout": key})
        return out[0]

    return jax.vmap(one)(keys, *args)


def _keys(seed: jax.Array, indices: jax.Array) -> jax.Array:
    return jax.vmap(lambda i: jax.random.fold_in(jax.random.key(seed), i))(indices)


@functools.partial(jax.jit, static_argnames=("G", "E", "label_nc", "train"))
def _translate(g, e, inputs, seed, indices, *, G, E, label_nc: int, train: bool):
    """G's outputs for a batch: `inputs` {"input" or "label_map", ["instance"],
    ["image" (for E) or "features"]}, [N, H, W, C]."""
    keys = _keys(seed, indices)
    parts = [hd_networks.one_hot_labels(inputs["label_map"], label_nc) if label_nc
             else inputs["input"].astype(jnp.float32)]
    if "instance" in inputs:
        parts.append(hd_networks.instance_edges(inputs["instance"]))
    if E is not None:
        parts.append(_apply(E, e, (inputs["image"], inputs["instance"]), train, keys))
    elif "features" in inputs:
        parts.append(inputs["features"])
    x = jnp.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]
    return _apply(G, g, (x,), train, keys)


@functools.partial(jax.jit, static_argnames=("E", "train"))
def _encode(e, image, instance, seed, indices, *, E, train: bool):
    return _apply(E, e, (image, instance), train, _keys(seed, indices))


# --------------------------------------------------------------------------
# Inputs


def list_images(directory: str, flag: str) -> list[str]:
    """The image files in `directory`, sorted by name."""
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{flag} {directory}: no such directory")
    names = sorted(n for n in os.listdir(directory)
                   if n.lower().endswith(IMAGE_EXTENSIONS) and not n.startswith("."))
    if not names:
        raise FileNotFoundError(f"{flag} {directory}: no images ({', '.join(IMAGE_EXTENSIONS)})")
    return [os.path.join(directory, n) for n in names]


def _open(path: str) -> Image.Image:
    from jaxgan.data.preprocess import BadImageError, decode

    try:
        return decode(path)
    except BadImageError as e:
        raise InputError(f"cannot read {e}") from e


def _target_size(size: tuple[int, int], load_size: int) -> tuple[int, int]:
    """(width, height) after the references' scale_width to `load_size` (0: as it is)."""
    w, h = size
    return (w, h) if not load_size or w == load_size else (load_size, int(load_size * h / w))


def _half(img: Image.Image, path: str, direction: str) -> Image.Image:
    """The input half of an aligned A|B image."""
    w, h = img.size
    if w % 2:
        raise InputError(f"{path}: width {w} is odd; an aligned file holds A and B side by side (--aligned)")
    return img.crop((0, 0, w // 2, h)) if direction == "AtoB" else img.crop((w // 2, 0, w, h))


def _read_ids(path: str, load_size: int) -> np.ndarray:
    """An id map as int32 [H, W, 1], resized NEAREST to width load_size."""
    img = _open(path)
    if img.mode not in ID_MODES:
        raise InputError(f"{path}: an id map must have one channel (a grey, palette or 16/32-bit PNG), got mode "
                         f"{img.mode}")
    ids = np.asarray(img).astype(np.int32)
    target = _target_size(img.size, load_size)
    if target != img.size:
        ids = np.asarray(Image.fromarray(ids, "I").resize(target, Image.NEAREST))
    return ids[:, :, None]


def _read_image(path: str, channels: int, load_size: int, aligned: str | None = None) -> np.ndarray:
    """An image as float32 [H, W, channels] in [-1, 1] (as the references'
    ToTensor and Normalize(0.5, 0.5)), resized BICUBIC to width load_size;
    `aligned`: the direction whose input half to take."""
    from jaxgan.data.preprocess import scale_uint8, to_mode

    img = _open(path)
    if aligned:
        img = _half(img, path, aligned)
    if channels not in (1, 3):
        raise ValueError(f"images have 1 or 3 channels; the network wants {channels} (--input_nc / --output_nc)")
    img = to_mode(img, channels)
    target = _target_size(img.size, load_size)
    if target != img.size:
        img = img.resize(target, Image.BICUBIC)
    arr = np.asarray(img, dtype=np.uint8)
    return scale_uint8(arr[:, :, None] if arr.ndim == 2 else arr)


def read_example(paths: dict[str, str], *, channels: dict[str, int], label_nc: int = 0, load_size: int = 0,
                 aligned: str | None = None) -> dict[str, np.ndarray]:
    """{key: [H, W, C] array} of one example's files ({key: path}; keys
    "input" / "image" (images of channels[key] channels), "label_map",
    "instance"); all must come out the same size."""
    out: dict[str, np.ndarray] = {}
    for key, path in paths.items():
        if key in ("label_map", "instance"):
            arr = _read_ids(path, load_size)
            if key == "label_map":
                bad = arr[(arr < 0) | (arr >= label_nc)]
                if bad.size:
                    raise InputError(f"{path}: label id {int(bad.max() if bad.max() >= label_nc else bad.min())} is "
                                     f"outside [0, label_nc = {label_nc})")
        else:
            arr = _read_image(path, channels[key], load_size, aligned if key == "input" else None)
        out[key] = arr
    shapes = {paths[k]: v.shape[:2] for k, v in out.items()}
    if len(set(shapes.values())) > 1:
        after = f" (after --load-size {load_size})" if load_size else ""
        raise InputError("files paired by sorted order have different sizes: " + ", ".join(
            f"{p} {h}x{w}" for p, (h, w) in shapes.items()) + after)
    return out


def _scan_size(path: str, load_size: int, aligned: bool) -> tuple[int, int]:
    """(height, width) of an input after resizing, from its header only."""
    try:
        with Image.open(path) as img:
            w, h = img.size
    except (OSError, ValueError, SyntaxError) as e:
        raise InputError(f"cannot read {path}: {type(e).__name__}: {e}") from e
    if aligned:
        w //= 2
    w, h = _target_size((w, h), load_size)
    return h, w


def pad_to_multiple(arr: np.ndarray, multiple: int, mode: str) -> np.ndarray:
    """[H, W, C] padded at the bottom and right to multiples of `multiple`
    ('reflect' for images, 'edge' for id maps)."""
    h, w = arr.shape[:2]
    return np.pad(arr, ((0, -h % multiple), (0, -w % multiple), (0, 0)), mode=mode)


def _pad_example(example: dict[str, np.ndarray], multiple: int) -> dict[str, np.ndarray]:
    return {k: pad_to_multiple(v, multiple, "edge" if k in ("label_map", "instance", "features") else "reflect")
            for k, v in example.items()}


def _paired(paths: list[str], other: str | None, flag: str, input_flag: str = "--input") -> list[str] | None:
    if other is None:
        return None
    files = list_images(other, flag)
    if len(files) != len(paths):
        raise InputError(f"{input_flag} has {len(paths)} images and {flag} {other} has {len(files)}: they pair by "
                         "sorted name, one for one")
    return files


# --------------------------------------------------------------------------
# Instance features and their clusters


def instance_classes(instance: np.ndarray, labels: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ids, class of each, pixel count of each, the flat index of each one's
    middle pixel in raster order) of an instance map [H, W(, 1)]. Class: the
    label at that pixel with `labels`, else the id below 1000 and id // 1000
    above (Cityscapes' instance ids, as the reference's encode_features)."""
    flat = instance.reshape(-1)
    ids, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")  # each id's pixels in raster order, ids one after another
    starts = np.cumsum(counts) - counts
    middle = order[starts + counts // 2]
    if labels is not None:
        classes = labels.reshape(-1)[middle].astype(np.int64)
    else:
        classes = np.where(ids < 1000, ids, ids // 1000).astype(np.int64)
    return ids, classes, counts, middle


def kmeans(x: np.ndarray, k: int, seed: int = 0, n_init: int = 10, max_iter: int = 300) -> np.ndarray:
    """[k, D] centres of x [N, D] (N >= k) by Lloyd's k-means from k-means++
    starts, the best (lowest inertia) of n_init runs; deterministic for a
    seed."""
    x = np.asarray(x, np.float64)
    rng = np.random.default_rng(seed)
    best, best_inertia = None, np.inf
    for _ in range(n_init):
        centres = x[[rng.integers(len(x))]]
        for _ in range(1, k):
            d2 = ((x[:, None] - centres[None]) ** 2).sum(-1).min(1)
            total = d2.sum()
            nxt = rng.choice(len(x), p=d2 / total) if total > 0 else rng.integers(len(x))
            centres = np.concatenate([centres, x[[nxt]]])
        for _ in range(max_iter):
            assign = ((x[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
            new = np.stack([x[assign == j].mean(0) if np.any(assign == j) else centres[j] for j in range(k)])
            if np.allclose(new, centres, rtol=0, atol=1e-10):
                break
            centres = new
        inertia = ((x - centres[((x[:, None] - centres[None]) ** 2).sum(-1).argmin(1)]) ** 2).sum()
        if inertia < best_inertia:
            best, best_inertia = centres, inertia
    return best


def sample_features(instance: np.ndarray, clusters: dict, rng: np.random.Generator,
                    labels: np.ndarray | None = None) -> np.ndarray:
    """[H, W, feat_num] float32: over each instance of `instance` ([H, W(,
    1)]) one centre of its class drawn from `clusters` (as read by
    `load_clusters`); zeros where its class has none."""
    h, w = instance.shape[:2]
    use_labels = clusters["class_rule"] == "labels"
    if use_labels and labels is None:
        raise ValueError("the clusters were encoded with --labels: their classes are the label maps' ids")
    ids, classes, _, _ = instance_classes(instance, labels if use_labels else None)
    table = np.zeros((len(ids), clusters["feat_num"]), np.float32)  # one vector per instance
    for n, c in enumerate(classes):
        centres = clusters["centres"].get(int(c))
        if centres is not None and len(centres):
            table[n] = centres[rng.integers(len(centres))]
    inverse = np.searchsorted(ids, instance.reshape(-1))
    return table[inverse].reshape(h, w, -1)


def load_clusters(path: str, feat_num: int) -> dict:
    """{'centres': {class: [k, feat_num]}, 'feat_num', 'class_rule'} of a
    file `--encode-features` wrote."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--features {path}: no such file (write it with --encode-features)")
    try:
        with np.load(path) as f:
            centres = {int(k[len("class_"):]): f[k].astype(np.float32) for k in f.files if k.startswith("class_")
                       and k != "class_rule"}
            file_feat, rule = int(f["feat_num"]), str(f["class_rule"])
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(f"--features {path}: not a clusters file of --encode-features ({e})") from e
    if file_feat != feat_num:
        raise ValueError(f"--features {path} holds {file_feat}-channel features, the model reads {feat_num}")
    return {"centres": centres, "feat_num": file_feat, "class_rule": rule}


def encode_features(net: Network, image_dir: str, instance_dir: str, output: str, *, labels_dir: str | None = None,
                    n_clusters: int = 10, seed: int = 0, mode: str | None = None, load_size: int = 0,
                    min_instance_fraction: float = 1 / 64) -> str:
    """The reference's encode_features.py (module docstring): every training
    instance's feature vector, clustered per class; writes `output` (.npz)
    and returns its path."""
    if net.E is None or net.e is None:
        raise ValueError("--encode-features needs the instance-feature encoder: a run with model.instance_feat, or "
                         "--instance_feat --encoder_weights latest_net_E.pth")
    if not net.label_nc:
        raise ValueError("--encode-features clusters per label class: the model must read label maps (label_nc > 0)")
    train = _check_mode(mode or net.default_mode) == "train"
    images = list_images(image_dir, "--input")
    instances = _paired(images, instance_dir, "--instance")
    labels = _paired(images, labels_dir, "--labels")
    found: dict[int, list[np.ndarray]] = {}
    start = time.time()
    for i, path in enumerate(images):
        paths = {"image": path, "instance": instances[i]}
        if labels:
            paths["label_map"] = labels[i]
        example = read_example(paths, channels={"image": net.output_nc}, label_nc=net.label_nc, load_size=load_size)
        h, w = example["image"].shape[:2]
        padded = _pad_example(example, net.multiple)
        feat = _encode(net.e, padded["image"][None], padded["instance"][None], seed, np.array([i], np.int32),
                       E=net.E, train=train)
        feat = np.asarray(feat)[0, :h, :w].reshape(h * w, -1)
        ids, classes, counts, middle = instance_classes(example["instance"], example.get("label_map"))
        for c, n, m, id_ in zip(classes, counts, middle, ids):
            if n <= min_instance_fraction * h * w:
                continue
            if not 0 <= c < net.label_nc:
                raise InputError(f"{instances[i]}: instance id {id_} gives class {c}, outside [0, label_nc = "
                                 f"{net.label_nc}) (ids below 1000 are classes, others class * 1000 + n; or pass "
                                 "--labels)")
            found.setdefault(int(c), []).append(feat[m])
        _progress(i + 1, len(images), start, "encoded")
    arrays: dict[str, Any] = {"feat_num": np.int64(net.feat_num), "n_clusters": np.int64(n_clusters),
                              "class_rule": np.asarray("labels" if labels else "instance_ids")}
    for c, vectors in sorted(found.items()):
        x = np.stack(vectors).astype(np.float64)
        centres = x if len(x) <= n_clusters else kmeans(x, n_clusters, seed)
        arrays[f"class_{c}"] = centres.astype(np.float32)
    logging.info("clusters of %d classes (%s instances)", len(found), sum(len(v) for v in found.values()))
    return _atomic_write(output, lambda f: np.savez(f, **arrays))


# --------------------------------------------------------------------------
# Translation


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"--mode must be 'eval' or 'train', got {mode!r}")
    return mode


def _progress(done: int, total: int, start: float, verb: str) -> None:
    if done % LOG_EVERY == 0 or done == total:
        elapsed = max(time.time() - start, 1e-9)
        logging.info("%s %d/%d images (%.2f images/s)", verb, done, total, done / elapsed)


def _atomic_write(path: str, write) -> str:
    """write(file object) into a temporary file beside `path`, renamed to it
    once complete."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def _write_png(path: str, image: np.ndarray) -> str:
    from jaxgan import pictures

    picture = pictures.to_uint8(image)
    picture = Image.fromarray(picture[:, :, 0] if picture.shape[-1] == 1 else picture)
    return _atomic_write(path, lambda f: picture.save(f, format="PNG"))


def translate_folder(net: Network, input_dir: str, output: str, *, instance_dir: str | None = None,
                     encode_from: str | None = None, features: str | None = None, aligned: bool = False,
                     direction: str = "AtoB", output_format: str = "png", mode: str | None = None,
                     load_size: int = 0, batch_size: int = 1, seed: int = 0) -> str:
    """Translates every image in `input_dir` (module docstring) into `output`
    (a directory); returns the directory (png) or the .npz written."""
    if net.G is None or net.g is None:
        raise ValueError("translating needs G's weights (--weights)")
    train = _check_mode(mode or net.default_mode) == "train"
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"--output-format must be 'png' or 'npz', got {output_format!r}")
    if direction not in ("AtoB", "BtoA"):
        raise ValueError(f"--direction must be 'AtoB' or 'BtoA', got {direction!r}")
    if output_format == "png" and net.output_nc not in (1, 3):
        raise ValueError(f"the network writes {net.output_nc} channels: PNGs hold 1 or 3; use --output-format npz")
    if os.path.isdir(output) and os.path.samefile(output, input_dir):
        raise ValueError(f"--output {output} is the input directory: the translations would replace the inputs")
    if net.family == "pix2pixhd" and aligned:
        raise ValueError("--aligned splits A|B image files: pix2pix inputs only")
    paths = list_images(input_dir, "--input")
    if net.instance and instance_dir is None:
        raise ValueError("the model reads instance maps: pass --instance DIR (reference weights of a model "
                         "trained without them: --no_instance)")
    if not net.instance and instance_dir is not None:
        raise ValueError("--instance: the model reads no instance maps")
    instances = _paired(paths, instance_dir, "--instance")
    clusters = images = None
    if net.feat_num:
        if (encode_from is None) == (features is None):
            raise ValueError("the model reads instance features: pass --encode-from DIR (real images, the "
                             "reference's --use_encoded_image) or --features clusters.npz (from --encode-features)")
        if encode_from is not None and net.e is None:
            raise ValueError("--encode-from needs the encoder's weights (--encoder_weights latest_net_E.pth)")
        images = _paired(paths, encode_from, "--encode-from")
        clusters = load_clusters(features, net.feat_num) if features else None
    elif encode_from is not None or features is not None:
        raise ValueError("--encode-from / --features: the model reads no instance features (--instance_feat)")
    names = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    if output_format == "png" and len(set(names)) < len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"--input has several files named {twice[0]}.*: their outputs would share one PNG")
    sizes = {_scan_size(p, load_size, aligned) for p in paths}  # unreadable files fail here, before any output
    for other in (instances or []) + (images or []):
        _scan_size(other, load_size, False)
    if output_format == "npz" and len(sizes) > 1:
        raise InputError(f"--output-format npz holds one array of equal-sized images; --input has sizes "
                         f"{sorted(sizes)[:4]} (use png, or --load-size for one width of equal aspect)")
    if output_format == "png":
        os.makedirs(output, exist_ok=True)
    channels = {"input": net.input_nc, "image": net.output_nc}
    outputs: list[np.ndarray] = []
    pending: list[tuple[int, dict, tuple[int, int]]] = []
    start = time.time()
    done = 0

    def flush():
        nonlocal done
        if not pending:
            return
        batch = {k: np.stack([p[1][k] for p in pending]) for k in pending[0][1]}
        indices = np.array([p[0] for p in pending], np.int32)
        out = np.asarray(_translate(net.g, net.e if "image" in batch else None, batch, seed, indices,
                                    G=net.G, E=net.E if "image" in batch else None, label_nc=net.label_nc,
                                    train=train))
        for (index, _, (h, w)), y in zip(pending, out):
            y = y[:h, :w]
            if output_format == "png":
                _write_png(os.path.join(output, names[index] + ".png"), y)
            else:
                outputs.append(y.astype(np.float32))
            done += 1
            _progress(done, len(paths), start, "translated")
        pending.clear()

    for i, path in enumerate(paths):
        files = {net.input_key: path}
        if instances:
            files["instance"] = instances[i]
        if images:
            files["image"] = images[i]
        example = read_example(files, channels=channels, label_nc=net.label_nc, load_size=load_size,
                               aligned=direction if aligned else None)
        if clusters is not None:
            rng = np.random.default_rng([seed, i])  # per image: the same draws at any batch size
            example["features"] = sample_features(example["instance"], clusters, rng, example.get("label_map"))
        size = example[net.input_key].shape[:2]
        example = _pad_example(example, net.multiple)
        if pending and pending[0][1][net.input_key].shape != example[net.input_key].shape:
            flush()  # a batch holds one padded size
        pending.append((i, example, size))
        if len(pending) >= batch_size:
            flush()
    flush()
    if output_format == "png":
        return output
    return _atomic_write(os.path.join(output, NPZ_NAME),
                         lambda f: np.savez(f, x=np.stack(outputs), names=np.asarray([os.path.basename(p)
                                                                                        for p in paths])))


# --------------------------------------------------------------------------
# StarGAN translation: labels, targets, images


@functools.partial(jax.jit, static_argnames=("G",))
def _translate_stargan(g, x, c, *, G):
    """G(x_i, c_ik) for images x [N, H, W, C] and targets c [N, K, c_dim]:
    [N, K, H, W, C] float32."""
    n, k = c.shape[:2]
    out = G.apply(g, jnp.repeat(x, k, axis=0), c.reshape(n * k, c.shape[-1]))
    return out.astype(jnp.float32).reshape(n, k, *out.shape[1:])


def parse_target(spec: str, space: LabelSpace) -> dict[str, float]:
    """--target as {name: 0. or 1.}: 'NAME=0/1,...' for attributes (an
    attribute set to 1 sets the others of its exclusive group to 0), one
    domain name for one-hot domains (all of c then)."""
    items = [t.strip() for t in spec.split(",") if t.strip()]
    if not items:
        raise ValueError("--target is empty: NAME=0/1 pairs (attributes) or a domain's name")
    if space.one_hot:
        name, _, value = items[0].partition("=")
        if len(items) != 1 or value.strip() not in ("", "1"):
            raise ValueError(f"--target: a domain model translates to one domain, by name ({', '.join(space.names)});"
                             f" got {spec!r}")
        if name.strip() not in space.names:
            raise ValueError(f"--target: unknown domain {name.strip()!r}; the model's domains: {', '.join(space.names)}")
        return {n: float(n == name.strip()) for n in space.names}
    out: dict[str, float] = {}
    for item in items:
        name, eq, value = (t.strip() for t in item.partition("="))
        if not eq:
            raise ValueError(f"--target: {item!r} is not NAME=0 or NAME=1")
        if name not in space.names:
            raise ValueError(f"--target: unknown attribute {name!r}; the model's attributes: {', '.join(space.names)}")
        if value not in ("0", "1"):
            raise ValueError(f"--target: {name}={value}: an attribute's value is 0 or 1")
        if name in out:
            raise ValueError(f"--target sets {name} twice")
        out[name] = float(value)
    for group in space.exclusive:
        ones = [n for n in group if out.get(n) == 1.0]
        if len(ones) > 1:
            raise ValueError(f"--target sets {' and '.join(ones)} to 1: they are mutually exclusive (--exclusive)")
        if ones:
            for n in group:
                out.setdefault(n, 0.0)
    return out


def apply_target(c_org: np.ndarray | None, target: dict[str, float], space: LabelSpace, n: int) -> np.ndarray:
    """[n, c_dim] float32: each input's labels c_org [n, c_dim] with the
    attributes of `target` (parse_target) set; without c_org the target must
    set them all."""
    missing = [a for a in space.names if a not in target]
    if c_org is None:
        if missing:
            raise ValueError(f"--target leaves {', '.join(missing)} as each input's own: pass --labels (an attribute "
                             "file such as list_attr_celeba.txt, or one 0/1 vector for every input) or set them in "
                             "--target")
        c = np.zeros((n, space.c_dim), np.float32)
    else:
        c = np.array(c_org, np.float32, copy=True)
    for i, name in enumerate(space.names):
        if name in target:
            c[:, i] = target[name]
    return c


def create_labels(c_org: np.ndarray | None, space: LabelSpace, n: int) -> list[np.ndarray]:
    """The reference's create_labels (its test's targets), c_dim arrays [n,
    c_dim] float32: for one-hot domains each domain in turn; for attributes,
    for each attribute i in turn each input's own labels c_org with i set to
    1 and the rest of its exclusive group to 0 when i is in one, else with i
    flipped."""
    if space.one_hot:
        return [np.tile(np.eye(space.c_dim, dtype=np.float32)[i], (n, 1)) for i in range(space.c_dim)]
    if c_org is None:
        raise ValueError("the grid (no --target) changes each input's own attributes in turn, as the reference's "
                         "test: pass --labels (an attribute file such as list_attr_celeba.txt, or one 0/1 vector "
                         "for every input), or --target NAME=0/1,...")
    targets = []
    for i, name in enumerate(space.names):
        c = np.array(c_org, np.float32, copy=True)
        group = space.group_of(name)
        if group:
            for j, other in enumerate(space.names):
                if other in group:
                    c[:, j] = 0.0
            c[:, i] = 1.0
        else:
            c[:, i] = (c[:, i] == 0).astype(np.float32)
        targets.append(c)
    return targets


def read_attribute_file(path: str, files: Sequence[str], attributes: Sequence[str]) -> np.ndarray:
    """[len(files), len(attributes)] float32 0/1: the files' labels in a
    CelebA-style attribute file (list_attr_celeba.txt: an optional count
    line, the attribute names, then `filename v1 .. vK` per image with 1 for
    yes and -1 (or 0) for no; or the same as CSV with a header naming the
    file column). A file is found by its name, else by its name without the
    extension (000001.png finds 000001.jpg)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = [(n, line) for n, line in enumerate(f.read().splitlines(), 1) if line.strip()]
    if lines and re.fullmatch(r"\d+", lines[0][1].strip()):
        lines = lines[1:]  # the image count
    if not lines:
        raise ValueError(f"--labels {path}: no attribute names (a CelebA-style attribute file: a count line, the "
                         "names, then 'filename v1 .. vK' per image)")
    csv = "," in lines[0][1]
    split = (lambda s: [t.strip() for t in s.split(",")]) if csv else str.split
    header, rows = split(lines[0][1]), lines[1:]
    if rows and len(split(rows[0][1])) == len(header):
        header = header[1:]  # the header names the file column too (CSV's image_id)
    unknown = [a for a in attributes if a not in header]
    if unknown:
        raise ValueError(f"--labels {path} has no attribute {unknown[0]!r}; it has {', '.join(header[:12])}"
                         + (", ..." if len(header) > 12 else ""))
    columns = [header.index(a) for a in attributes]
    first = (lambda s: s.split(",", 1)[0].strip()) if csv else (lambda s: s.split(None, 1)[0])
    index = {}
    for n, line in rows:
        index.setdefault(first(line), (n, line))
    stems: dict[str, list[str]] | None = None
    out = np.zeros((len(files), len(attributes)), np.float32)
    for i, name in enumerate(files):
        row = index.get(name)
        if row is None:
            if stems is None:
                stems = {}
                for key in index:
                    stems.setdefault(os.path.splitext(key)[0], []).append(key)
            found = stems.get(os.path.splitext(name)[0], [])
            if len(found) != 1:
                raise InputError(f"--labels {path} has no line for {name} (an input of --input)" if not found else
                                 f"--labels {path}: {name} matches several lines ({', '.join(found[:3])})")
            row = index[found[0]]
        n, line = row
        values = split(line)[1:]
        if len(values) != len(header):
            raise InputError(f"--labels {path} line {n}: {len(values)} values for {len(header)} attributes")
        for j, col in enumerate(columns):
            v = values[col]
            if v not in ("1", "-1", "0"):
                raise InputError(f"--labels {path} line {n}: {attributes[j]} is {v!r}; values are 1 (yes) and -1 or "
                                 "0 (no)")
            out[i, j] = float(v == "1")
    return out


def input_labels(spec: str | None, paths: Sequence[str], space: LabelSpace) -> np.ndarray | None:
    """[N, c_dim] float32 0/1: each input's own attribute labels from
    --labels: an attribute file (read_attribute_file) or one comma-separated
    vector of c_dim 0/1 values for every input; None without it."""
    if spec is None:
        return None
    if space.one_hot:
        raise ValueError("--labels: a domain model's target is a whole domain; it reads no input labels")
    if os.path.isfile(spec):
        return read_attribute_file(spec, [os.path.basename(p) for p in paths], space.names)
    if re.fullmatch(r"[\s\d.+-]+(,[\s\d.+-]+)*", spec):
        values = [t.strip() for t in spec.split(",")]
        if len(values) != space.c_dim:
            raise ValueError(f"--labels {spec}: {len(values)} values; the model has {space.c_dim} attributes "
                             f"({', '.join(space.names)})")
        bad = [t for t in values if t not in ("0", "1")]
        if bad:
            raise ValueError(f"--labels {spec}: an attribute's value is 0 or 1, got {bad[0]}")
        return np.tile(np.asarray(values, np.float32), (len(paths), 1))
    raise FileNotFoundError(f"--labels {spec}: no such file (an attribute file such as list_attr_celeba.txt, or "
                            f"{space.c_dim} comma-separated 0/1 values)")


def _stargan_size(size: tuple[int, int], crop_size: int, image_size: int) -> tuple[int, int]:
    """(width, height) after the reference's CenterCrop(crop_size) and
    Resize(image_size) (torchvision's: the short side to image_size, the
    long one int(image_size * long / short)); 0s skip them."""
    w, h = (crop_size, crop_size) if crop_size else size
    if image_size:
        w, h = (image_size, int(image_size * h / w)) if w <= h else (int(image_size * w / h), image_size)
    return w, h


def read_stargan_image(path: str, channels: int, crop_size: int, image_size: int) -> np.ndarray:
    """An input as the reference's test reads it and a stargan run's data
    (jaxgan.data.celeba_attrs.transform without the flip): float32 [H, W,
    channels] in [-1, 1] after torchvision's CenterCrop(crop_size) (zero
    padding where the image is smaller) and Resize(image_size) (the short
    side, bilinear); 0s skip them."""
    from jaxgan.data.celeba_attrs import center_crop, resize_short_side
    from jaxgan.data.preprocess import scale_uint8, to_mode

    img = _open(path)
    if channels not in (1, 3):
        raise ValueError(f"images have 1 or 3 channels; the network wants {channels}")
    img = to_mode(img, channels)
    if crop_size:
        img = center_crop(img, crop_size)
    if image_size:
        img = resize_short_side(img, image_size)
    arr = np.asarray(img, dtype=np.uint8)
    return scale_uint8(arr[:, :, None] if arr.ndim == 2 else arr)


def _stargan_scan(path: str, crop_size: int, image_size: int) -> tuple[int, int, bool]:
    """(height, width) of an input after preprocessing, and whether the crop
    pads it, from its header only."""
    try:
        with Image.open(path) as img:
            size = img.size
    except (OSError, ValueError, SyntaxError) as e:
        raise InputError(f"cannot read {path}: {type(e).__name__}: {e}") from e
    w, h = _stargan_size(size, crop_size, image_size)
    return h, w, bool(crop_size) and min(size) < crop_size


def translate_stargan_folder(net: Network, input_dir: str, output: str, *, target: str | None = None,
                             labels: str | None = None, output_format: str = "png", crop_size: int | None = None,
                             image_size: int | None = None, batch_size: int = 1) -> str:
    """Translates every image in `input_dir` with a StarGAN G (module
    docstring): to `target` (--target) or, without it, to the reference's
    test targets (create_labels); `labels` (--labels) gives the inputs' own
    attributes. crop_size / image_size: default the network's. Returns the
    directory (png) or the .npz written."""
    if net.family != "stargan" or net.labels is None:
        raise ValueError("translate_stargan_folder translates with a StarGAN G (stargan_from_torch or a stargan run)")
    if net.g is None:
        raise ValueError("translating needs G's weights (--weights)")
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"--output-format must be 'png' or 'npz', got {output_format!r}")
    if output_format == "png" and net.output_nc not in (1, 3):
        raise ValueError(f"the network writes {net.output_nc} channels: PNGs hold 1 or 3; use --output-format npz")
    if os.path.isdir(output) and os.path.samefile(output, input_dir):
        raise ValueError(f"--output {output} is the input directory: the translations would replace the inputs")
    crop_size = net.crop_size if crop_size is None else int(crop_size)
    image_size = net.image_size if image_size is None else int(image_size)
    if crop_size < 0 or image_size < 0:
        raise ValueError(f"--crop_size and --image_size are >= 0 (0 skips the step), got {crop_size}, {image_size}")
    space = net.labels
    paths = list_images(input_dir, "--input")
    names = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    if output_format == "png" and len(set(names)) < len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"--input has several files named {twice[0]}.*: their outputs would share one PNG")
    c_org = input_labels(labels, paths, space)
    if target is not None:
        targets = apply_target(c_org, parse_target(target, space), space, len(paths))[:, None]
        columns = [target]
    else:
        targets = np.stack(create_labels(c_org, space, len(paths)), axis=1)
        columns = list(space.names)
    targets = targets.astype(np.float32)  # [N, K, c_dim]
    scans = [_stargan_scan(p, crop_size, image_size) for p in paths]  # unreadable files fail before any output
    sizes = {s[:2] for s in scans}
    small = [p for p, s in zip(paths, scans) if s[2]]
    if small:
        logging.warning("%d inputs (%s ...) are smaller than --crop_size %d: zero-padded to it, as the reference's "
                        "CenterCrop (--crop_size 0 skips the crop)", len(small), small[0], crop_size)
    if output_format == "npz" and len(sizes) > 1:
        raise InputError(f"--output-format npz holds one array of equal-sized images; the inputs come out at "
                         f"{sorted(sizes)[:4]} (use png, or --crop_size for square crops)")
    logging.info("targets: %s (%s)", f"--target {target}" if target is not None else
                 "the reference's test grid, one column per " + ("domain" if space.one_hot else "attribute"),
                 space.describe())
    if output_format == "png":
        os.makedirs(output, exist_ok=True)
    results: list[np.ndarray] = []
    inputs: list[np.ndarray] = []
    pending: list[tuple[int, np.ndarray, tuple[int, int]]] = []
    start, done = time.time(), 0

    def flush():
        nonlocal done
        if not pending:
            return
        x = np.stack([p[1] for p in pending])
        c = targets[[p[0] for p in pending]]
        out = np.asarray(_translate_stargan(net.g, x, c, G=net.G))
        for (index, padded, (h, w)), y in zip(pending, out):
            y, x0 = y[:, :h, :w], padded[:h, :w]
            if output_format == "png":
                picture = y[0] if target is not None else np.concatenate([x0, *y], axis=1)
                _write_png(os.path.join(output, names[index] + ".png"), picture)
            else:
                results.append(y[0] if target is not None else y)
                inputs.append(x0)
            done += 1
            _progress(done, len(paths), start, "translated")
        pending.clear()

    for i, path in enumerate(paths):
        x = read_stargan_image(path, net.input_nc, crop_size, image_size)
        size = x.shape[:2]
        x = pad_to_multiple(x, net.multiple, "reflect")
        if pending and pending[0][1].shape != x.shape:
            flush()  # a batch holds one padded size
        pending.append((i, x, size))
        if len(pending) >= batch_size:
            flush()
    flush()
    if output_format == "png":
        return output
    arrays = dict(x=np.stack(results), input=np.stack(inputs), c=targets[:, 0] if target is not None else targets,
                  names=np.asarray([os.path.basename(p) for p in paths]), columns=np.asarray(columns),
                  attributes=np.asarray(space.names))
    return _atomic_write(os.path.join(output, NPZ_NAME), lambda f: np.savez(f, **arrays))


# --------------------------------------------------------------------------
# Command line


def define_flags(fv: flags.FlagValues, argv: Sequence[str]) -> None:
    """The command line's flags, defined on `fv`."""
    from jaxgan import configs

    s, i, b, e, f = (functools.partial(getattr(flags, f"DEFINE_{kind}"), flag_values=fv)
                     for kind in ("string", "integer", "boolean", "enum", "float"))
    # Where the weights come from.
    s("workdir", None, "A jaxgan pix2pix / pix2pixhd / cyclegan / stargan run: its checkpoints (and config.json) are "
      "read.")
    configs.DEFINE_config_file("config", "With --workdir: the run's config file (configs/NAME.py[:variant], "
                               "--config.FIELD=VALUE overrides); default the workdir's config.json.",
                               flag_values=fv, sys_argv=list(argv))
    i("step", None, "With --workdir: the checkpoint's step (default the latest).")
    s("weights", None, "A reference PyTorch G file (latest_net_G.pth of pytorch-CycleGAN-and-pix2pix or "
      "pix2pixHD, StarGAN's {iters}-G.ckpt), read without torch; describe it with --arch and the reference's options "
      "below.")
    e("arch", None, list(ARCHS), "With --weights: pix2pix's --netG (unet_32/64/128/256, resnet_6blocks/9blocks), "
      "pix2pixHD's G (pix2pixhd_global: --netG global; pix2pixhd_local: --netG local) or stargan (yunjey/stargan's "
      "Generator).")
    s("encoder_weights", None, "With --weights and --instance_feat: pix2pixHD's latest_net_E.pth.")
    # The references' options, their names and defaults.
    i("ngf", 64, "Reference option: G's width (pix2pixHD's 1024p models, label2city_1024p: 32).")
    e("norm", None, ["batch", "instance", "none"], "Reference option: G's norm (default pix2pix 'batch', "
      "pix2pixHD 'instance').")
    i("input_nc", 3, "Reference option: input image channels (pix2pix; pix2pixHD with --label_nc 0).")
    i("output_nc", 3, "Reference option: output channels.")
    b("no_dropout", False, "Reference option (pix2pix): G has no dropout layers (CycleGAN's default; a ResNet G's "
      "layer names depend on it; in a U-Net it matters in --mode train only).")
    i("label_nc", 35, "Reference option (pix2pixHD): label classes of the input maps; 0: RGB input images.")
    b("no_instance", False, "Reference option (pix2pixHD): the model reads no instance maps.")
    i("n_downsample_global", 4, "Reference option (pix2pixHD).")
    i("n_blocks_global", 9, "Reference option (pix2pixHD).")
    i("n_local_enhancers", 1, "Reference option (pix2pixHD, pix2pixhd_local).")
    i("n_blocks_local", 3, "Reference option (pix2pixHD, pix2pixhd_local).")
    b("instance_feat", False, "Reference option (pix2pixHD): G also reads instance features (--feat_num channels).")
    i("feat_num", 3, "Reference option (pix2pixHD): instance feature channels.")
    i("nef", 16, "Reference option (pix2pixHD): the encoder's width.")
    i("n_downsample_E", 4, "Reference option (pix2pixHD): the encoder's downsamplings.")
    i("c_dim", None, "Reference option (StarGAN): the labels G reads (default: the file's, from its first conv; the "
      "reference's default is 5).")
    i("g_conv_dim", 64, "Reference option (StarGAN): G's width.")
    i("g_repeat_num", 6, "Reference option (StarGAN): G's residual blocks.")
    s("attributes", None, "StarGAN --weights: the attributes of G's label, in order (the reference's "
      f"--selected_attrs; default with c_dim 5: {','.join(STARGAN_ATTRIBUTES)}).")
    s("domains", None, "StarGAN --weights: G's label is one-hot over these domains, in order (RaFD-style folders, "
      "sorted; default with a c_dim other than 5: domains 0..c_dim-1).")
    s("exclusive", None, "StarGAN: groups of mutually exclusive attributes ('A,B,C;D,E', '' for none): a target "
      "setting one to 1 sets the others to 0. Default: the hair colours among the attributes (the reference's "
      "create_labels), or a run's config.data.exclusive.")
    s("target", None, "StarGAN: translate every input to this target: 'Black_Hair=1,Male=0' sets those attributes "
      "of each input's own labels (--labels), a domain model takes a domain's name. Default: the reference's test "
      "grid, one translation per attribute (domain) beside the input.")
    i("crop_size", None, "StarGAN: center crop of this side before resizing (the reference's celeba_crop_size; "
      "default --weights 178, a run's config.data.crop_size; 0: none).")
    i("image_size", None, "StarGAN: resize the (cropped) input's short side to this (default --weights 128, a run's "
      "config.data.image_size; 0: none).")
    # What to translate.
    s("input", None, "Directory of inputs, sorted by name: images (pix2pix; pix2pixHD with label_nc 0), label-id "
      "maps (pix2pixHD), or with --encode-features the training images.")
    s("instance", None, "pix2pixHD: directory of instance-id maps, paired with --input by sorted order (required "
      "unless the model has none).")
    b("aligned", False, "pix2pix: each input file is A|B side by side; --direction picks the input half.")
    e("direction", "AtoB", ["AtoB", "BtoA"], "With --aligned: AtoB translates the left half, BtoA the right. With a "
      "cyclegan --workdir: AtoB translates with G_A (A to B), BtoA with G_B (B to A).")
    s("encode-from", None, "pix2pixHD --instance_feat: directory of real images whose encoder features G reads "
      "(the reference's --use_encoded_image), paired with --input by sorted order.")
    s("features", None, "pix2pixHD --instance_feat: clusters.npz of --encode-features; one centre of each "
      "instance's class is drawn per instance (--seed).")
    b("encode-features", False, "pix2pixHD --instance_feat: write --output (a .npz) with per-class k-means centres "
      "of the encoder's features of every instance of --input (training images) and --instance.")
    s("labels", None, "With --encode-features: directory of label maps; an instance's class is then its label "
      "(default: the id below 1000, id // 1000 above, as Cityscapes' instance ids). StarGAN: each input's own "
      "attributes, an attribute file (list_attr_celeba.txt's format, 1/-1 per attribute, rows by file name) or one "
      "comma-separated 0/1 vector (--attributes' order) for every input.")
    i("n_clusters", 10, "With --encode-features: centres per class (the reference's --n_clusters).")
    f("min-instance-fraction", 1 / 64, "With --encode-features: instances of at most this fraction of the image "
      "are left out (the reference's 1/64).")
    s("output", None, "Directory for the translations (or, with --encode-features, the .npz file to write).")
    e("output-format", "png", list(OUTPUT_FORMATS), "png: one PNG per input, named after it; npz: "
      f"{NPZ_NAME} with float32 'x' in [-1, 1] [N, H, W, C] and 'names'.")
    e("mode", None, list(MODES), "eval: BatchNorm running statistics, no dropout (the reference's test.py --eval); "
      "train: each image alone in training mode with dropout (the reference's test.py default). Default: the "
      "run's config.model.sample_mode, else eval.")
    i("load-size", 0, "Resize inputs to this width first (label/instance maps NEAREST, images BICUBIC; the "
      "references' scale_width); 0: as they are.")
    i("batch-size", 1, "Images per forward pass (a batch holds images of one size).")
    i("seed", 0, "Seed of the dropout in --mode train and of the cluster draws of --features.")


def _usage(message: str) -> app.UsageError:
    return app.UsageError(message)


def _check_stargan_flags(fv: flags.FlagValues, reference_options: Sequence[str]) -> None:
    """Flag misuse with a StarGAN network (--arch stargan or a stargan run)."""
    for name in reference_options:
        if fv[name].present:
            raise _usage(f"--{name} is a pix2pix / pix2pixHD option; StarGAN's G reads --c_dim, --g_conv_dim and "
                         "--g_repeat_num")
    for name in ("encoder_weights", "instance", "aligned", "encode-from", "features", "encode-features", "load-size",
                 "direction"):
        if fv[name].present:
            raise _usage(f"--{name} does not apply to StarGAN (its inputs: --input images, --labels, --target; "
                         "--crop_size and --image_size resize them)")
    for name, low in (("c_dim", 1), ("g_conv_dim", 1), ("g_repeat_num", 0), ("crop_size", 0), ("image_size", 0)):
        if fv[name].value is not None and fv[name].value < low:
            raise _usage(f"--{name} must be >= {low}, got {fv[name].value}")


def _value(fv: flags.FlagValues, name: str) -> Any:
    return fv[name].value


def run(argv: Sequence[str]) -> str:
    """The command line without its error handling: parses argv (argv[0] the
    program), translates (or encodes features) and returns the path written.
    Raises app.UsageError for flag misuse."""
    fv = flags.FlagValues()
    define_flags(fv, argv)
    try:
        rest = fv(list(argv))
    except flags.Error as e:
        raise _usage(str(e)) from e
    if len(rest) > 1:
        raise _usage(f"unexpected arguments: {' '.join(rest[1:])}")
    v = functools.partial(_value, fv)
    workdir, weights, enc_weights = v("workdir"), v("weights"), v("encoder_weights")
    if workdir is not None and (fv["arch"].present or weights or enc_weights):
        raise _usage("--workdir reads the run's own network: --arch / --weights / --encoder_weights describe "
                     "PyTorch files instead")
    if workdir is None and weights is None and enc_weights is None:
        raise _usage("pass the weights: --workdir RUN (a jaxgan run) or --weights G.pth --arch ARCH (a reference "
                     "PyTorch file)")
    reference_options = ("ngf", "norm", "input_nc", "output_nc", "no_dropout", "label_nc", "no_instance",
                         "n_downsample_global", "n_blocks_global", "n_local_enhancers", "n_blocks_local",
                         "instance_feat", "feat_num", "nef", "n_downsample_E")
    stargan_options = ("c_dim", "g_conv_dim", "g_repeat_num", "attributes", "domains")
    stargan_inputs = ("target", "exclusive", "crop_size", "image_size")
    if workdir is not None and any(fv[n].present for n in reference_options + stargan_options):
        given = next(n for n in reference_options + stargan_options if fv[n].present)
        raise _usage(f"--{given} describes a PyTorch file (--weights); a --workdir run's network is its config's")
    if workdir is None and (fv["config"].present or v("step") is not None):
        raise _usage("--config and --step go with --workdir")
    if workdir is None and v("arch") is None:
        raise _usage(f"--weights needs --arch ({', '.join(ARCHS)})")
    for name in ("input", "output"):
        if v(name) is None:
            raise _usage(f"--{name} is required")
    for name, low in (("batch-size", 1), ("n_clusters", 1), ("load-size", 0), ("ngf", 1), ("input_nc", 1),
                      ("output_nc", 1), ("label_nc", 0)):
        if v(name) < low:
            raise _usage(f"--{name} must be >= {low}, got {v(name)}")
    config = None
    if workdir is not None:
        from jaxgan.generator import load_config

        config = v("config") if fv["config"].present else load_config(workdir)
    stargan = config.trainer == "stargan" if config is not None else v("arch") == "stargan"
    encoding = v("encode-features")
    if stargan:
        _check_stargan_flags(fv, reference_options)
    elif any(fv[n].present for n in stargan_options + stargan_inputs):
        given = next(n for n in stargan_options + stargan_inputs if fv[n].present)
        raise _usage(f"--{given} is a StarGAN option (--arch stargan, or a stargan --workdir)")
    elif not encoding:
        if v("labels") is not None:
            raise _usage("--labels goes with --encode-features (or StarGAN)")
        if weights is None and workdir is None:
            raise _usage("translating needs G: --weights latest_net_G.pth")
    elif v("encode-from") or v("features") or v("aligned"):
        raise _usage("--encode-features reads --input (training images), --instance and --labels only")

    if workdir is not None:
        net = network_from_run(config, workdir, v("step"), v("direction"))
    elif stargan:
        net = stargan_from_torch(weights, c_dim=v("c_dim"), g_conv_dim=v("g_conv_dim"),
                                 g_repeat_num=v("g_repeat_num"), attributes=v("attributes"), domains=v("domains"),
                                 exclusive=v("exclusive"))
    else:
        arch = v("arch")
        if arch in PIX2PIX_ARCHS:
            hd_only = [n for n in ("label_nc", "no_instance", "n_downsample_global", "n_blocks_global",
                                   "n_local_enhancers", "n_blocks_local", "instance_feat", "feat_num", "nef",
                                   "n_downsample_E", "encoder_weights") if fv[n].present]
            if hd_only:
                raise _usage(f"--{hd_only[0]} is a pix2pixHD option; --arch {arch} is pix2pix's")
        elif fv["no_dropout"].present:
            raise _usage("--no_dropout is a pix2pix option (pix2pixHD's G has no dropout)")
        net = network_from_torch(arch, weights, encoder_weights=enc_weights, **{n: v(n) for n in reference_options})
    if stargan and workdir is not None and v("exclusive") is not None:
        if net.labels.one_hot and v("exclusive"):
            raise ValueError("--exclusive groups attributes; this run's label is one-hot over domains")
        net = dataclasses.replace(net, labels=dataclasses.replace(
            net.labels, exclusive=exclusive_groups(v("exclusive"), net.labels.names)))
    logging.info("network: %s", net.description)
    if stargan:
        return translate_stargan_folder(net, v("input"), v("output"), target=v("target"), labels=v("labels"),
                                        output_format=v("output-format"), crop_size=v("crop_size"),
                                        image_size=v("image_size"), batch_size=v("batch-size"))
    if encoding:
        if v("instance") is None:
            raise _usage("--encode-features needs --instance DIR (the training images' instance maps)")
        return encode_features(net, v("input"), v("instance"), v("output"), labels_dir=v("labels"),
                               n_clusters=v("n_clusters"), seed=v("seed"), mode=v("mode"), load_size=v("load-size"),
                               min_instance_fraction=v("min-instance-fraction"))
    return translate_folder(net, v("input"), v("output"), instance_dir=v("instance"), encode_from=v("encode-from"),
                            features=v("features"), aligned=v("aligned"), direction=v("direction"),
                            output_format=v("output-format"), mode=v("mode"), load_size=v("load-size"),
                            batch_size=v("batch-size"), seed=v("seed"))


def help_text(argv: Sequence[str] = ("jaxgan.translate",)) -> str:
    fv = flags.FlagValues()
    define_flags(fv, argv)
    return f"{__doc__}\nflags:\n{fv.get_help(include_special_flags=False)}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m jaxgan.translate`: 0 on success; a one-line error and 2 for
    flag misuse, 1 for what else the user can fix (a missing or unreadable
    file, a wrong option); JAXGAN_TRACEBACK=1 shows the traceback instead."""
    from jaxgan.convert.torch_checkpoint import CheckpointError
    from jaxgan.data.preprocess import BadImageError

    argv = list(sys.argv if argv is None else argv)
    if any(a in ("-h", "--help", "-help", "--helpshort", "--helpfull") for a in argv[1:]):
        print(help_text(argv))
        return 0
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    for name in ("absl", "jax"):  # Orbax's restore chatter (absl logging) and JAX's backend probing
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        path = run(argv)
    except app.UsageError as e:
        print(f"error: {e} (--help lists the flags)", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError, CheckpointError, BadImageError) as e:
        if os.environ.get("JAXGAN_TRACEBACK"):
            raise
        print(f"error: {e} (JAXGAN_TRACEBACK=1 shows where)", file=sys.stderr)
        return 1
    print(f"wrote {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
