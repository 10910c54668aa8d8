"""Translate a folder with a trained pix2pix, pix2pixHD or CycleGAN generator:
`python -m jaxgan.translate`, the reference test scripts' job
(junyanz/pytorch-CycleGAN-and-pix2pix test.py, NVIDIA/pix2pixHD test.py and
encode_features.py).

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

Python: `network_from_run`, `network_from_torch`, `translate_folder`,
`encode_features` and `sample_features` are the same steps.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
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
ARCHS = PIX2PIX_ARCHS + PIX2PIXHD_ARCHS
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


@dataclasses.dataclass
class Network:
    """A generator (and pix2pixHD's instance-feature encoder) ready to
    translate. `family` 'pix2pix' (G reads the input image) or 'pix2pixhd'
    (G reads one-hot labels, or the input image with label_nc 0, the instance
    edges with `instance`, and feat_num feature channels with an encoder).
    `multiple`: the side multiple G (and E) need. `G` is None for a network
    loaded only to encode features."""

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
    """G (and E) of a pix2pix, pix2pixHD or CycleGAN run's checkpoint (default
    the latest), restored alone (D and the optimizer states stay on disk) on
    one device; of a CycleGAN run G_A for `direction` 'AtoB', G_B for 'BtoA'."""
    from jaxgan import checkpoint
    from jaxgan.trainers import get_trainer

    if config.trainer not in ("pix2pix", "pix2pixhd", "cyclegan"):
        raise ValueError(f"the run in {workdir} trains {config.trainer!r}: jaxgan.translate takes pix2pix, "
                         "pix2pixhd and cyclegan runs")
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
                alternatives: Sequence[tuple[Any, str]] = ()) -> dict:
    """The variables in the reference's state dict `path`, checked against
    `like` (the flax network's eval_shape); one-line errors naming the file
    and the flag most likely wrong: the hint of the first of `alternatives`
    ((like, hint) of other settings) that the file fits, else a guess from
    the differences."""
    from jaxgan.convert import torch_checkpoint

    state_dict = torch_checkpoint.load_state_dict(path)  # FileNotFoundError / CheckpointError name the file
    try:
        variables = p2p_networks.params_from_torch_state_dict(state_dict)
    except ValueError as e:
        raise ValueError(f"{path} is not a generator state dict of the references ({e}); check --weights") from e
    try:
        p2p_networks.params_from_torch_state_dict(state_dict, like=like)
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
# Command line


def define_flags(fv: flags.FlagValues, argv: Sequence[str]) -> None:
    """The command line's flags, defined on `fv`."""
    from jaxgan import configs

    s, i, b, e, f = (functools.partial(getattr(flags, f"DEFINE_{kind}"), flag_values=fv)
                     for kind in ("string", "integer", "boolean", "enum", "float"))
    # Where the weights come from.
    s("workdir", None, "A jaxgan pix2pix / pix2pixhd / cyclegan run: its checkpoints (and config.json) are read.")
    configs.DEFINE_config_file("config", "With --workdir: the run's config file (configs/NAME.py[:variant], "
                               "--config.FIELD=VALUE overrides); default the workdir's config.json.",
                               flag_values=fv, sys_argv=list(argv))
    i("step", None, "With --workdir: the checkpoint's step (default the latest).")
    s("weights", None, "A reference PyTorch G file (latest_net_G.pth of pytorch-CycleGAN-and-pix2pix or "
      "pix2pixHD), read without torch; describe it with --arch and the reference's options below.")
    e("arch", None, list(ARCHS), "With --weights: pix2pix's --netG (unet_32/64/128/256, resnet_6blocks/9blocks) or "
      "pix2pixHD's G (pix2pixhd_global: --netG global; pix2pixhd_local: --netG local).")
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
      "(default: the id below 1000, id // 1000 above, as Cityscapes' instance ids).")
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
    if workdir is not None and any(fv[n].present for n in reference_options):
        given = next(n for n in reference_options if fv[n].present)
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
    encoding = v("encode-features")
    if not encoding:
        if v("labels") is not None:
            raise _usage("--labels goes with --encode-features")
        if weights is None and workdir is None:
            raise _usage("translating needs G: --weights latest_net_G.pth")
    elif v("encode-from") or v("features") or v("aligned"):
        raise _usage("--encode-features reads --input (training images), --instance and --labels only")

    if workdir is not None:
        from jaxgan.generator import load_config

        config = v("config") if fv["config"].present else load_config(workdir)
        net = network_from_run(config, workdir, v("step"), v("direction"))
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
    logging.info("network: %s", net.description)
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
