"""TensorFlow Datasets (`config.data.source = 'tfds'`), e.g. cifar10, imagenet2012,
celeb_a_hq, lsun/bedroom.

The prepared dataset's file format decides the reader:
- array_record (`tfds build NAME --file_format=array_record`): random access
  through `tfds.data_source`, batched by our grain pipeline; no TensorFlow.
- tfrecord (tfds' default): sequential reading through `tfds.load`, which needs
  TensorFlow (`pip install 'jaxgan[tf]'`). Files and examples are shuffled with
  seeds derived from (seed, epoch, process) and tf.data runs deterministically,
  so the stream is a pure function of the seed; the state is (epoch, records
  consumed in it) and a resume skips that many records (before decoding, so a
  skip is cheap compared with training on them).

Datasets are never downloaded from here: preparing ImageNet-sized data is a
deliberate step, and a training job that starts a download on every host is a
bug. A missing dataset raises an error with the `tfds build` command to run.
"""

from __future__ import annotations

import collections
import concurrent.futures
import logging
from typing import Any

import numpy as np

from jaxgan.data.preprocess import BadFileLog, BadImageError, decode, preprocess_array, preprocess_pil

log = logging.getLogger("jaxgan.data")

TF_EXTRA_HELP = ("reading a tfrecord-format tfds dataset needs TensorFlow: `pip install 'jaxgan[tf]'`, or "
                 "rebuild the dataset as array_record (`tfds build {name} --file_format=array_record "
                 "--data_dir {data_dir}`), which jaxgan reads without TensorFlow")


def _prepare_help(name: str, data_dir: str | None) -> str:
    where = data_dir or "~/tensorflow_datasets"
    return (f"prepare it first with `tfds build {name} --data_dir {where} --file_format=array_record` "
            "(some datasets, e.g. imagenet2012, need their archives placed in <data_dir>/downloads/manual "
            "first; see the dataset's tfds catalog page), then set config.data.tfds_data_dir")


def require_tensorflow(name: str = "NAME", data_dir: str | None = None):
    try:
        import tensorflow as tf  # noqa: F401
    except ImportError as e:
        raise ImportError(TF_EXTRA_HELP.format(name=name, data_dir=data_dir or "~/tensorflow_datasets")) from e
    return tf


def _builder(name: str, data_dir: str | None):
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as e:
        raise FileNotFoundError(f"config.data.name={name!r} is neither a tfds catalog dataset nor a prepared "
                                f"dataset under config.data.tfds_data_dir={data_dir!r}; "
                                + _prepare_help(name, data_dir)) from e


def _features(builder, data_config):
    """(image key, label key or None, num_classes or None) after checking them
    against the config."""
    image_key = data_config.image_key
    label_key = data_config.label_key
    features = builder.info.features
    if image_key not in features:
        raise ValueError(f"config.data.image_key={image_key!r} is not a feature of {builder.name}; it has "
                         f"{sorted(features.keys())}")
    num_classes = data_config.num_classes or None
    if num_classes is None:
        return image_key, None, None
    if label_key not in features:
        raise ValueError(f"config.data.num_classes={num_classes} but {builder.name} has no label feature "
                         f"config.data.label_key={label_key!r} (features: {sorted(features.keys())}); set "
                         "num_classes = 0 to train unconditionally")
    have = getattr(features[label_key], "num_classes", None)
    if have is not None and have != num_classes:
        raise ValueError(f"config.data.num_classes={num_classes} but {builder.name}'s {label_key!r} has "
                         f"{have} classes")
    return image_key, label_key, num_classes


def _split_size(builder, split: str) -> int:
    try:
        return builder.info.splits[split].num_examples
    except (KeyError, ValueError) as e:
        raise ValueError(f"config.data.split={split!r} is not a split of {builder.name} "
                         f"(splits: {list(builder.info.splits.keys())})") from e


def build(data_config: Any, *, batch_size: int, seed: int, process_index: int = 0, process_count: int = 1):
    import tensorflow_datasets as tfds

    name = data_config.name
    if not name:
        raise ValueError("config.data.name must name the tfds dataset (e.g. 'cifar10') for source 'tfds'")
    data_dir = data_config.tfds_data_dir or None
    split = data_config.split
    builder = _builder(name, data_dir)
    image_key, label_key, num_classes = _features(builder, data_config)
    size = int(data_config.image_size)
    channels = int(data_config.channels)
    center_crop = bool(data_config.center_crop)
    flip = data_config.random_flip
    random_flip = True if flip is None else bool(flip)
    common = dict(batch_size=batch_size, seed=seed, process_index=process_index, process_count=process_count)
    prepared = builder.is_prepared()

    if prepared and builder.info.file_format == tfds.core.FileFormat.TFRECORD:
        require_tensorflow(name, data_dir)
        _split_size(builder, split)
        return TFRecordPipeline(
            name=name, split=split, data_dir=data_dir, image_key=image_key, label_key=label_key,
            num_classes=num_classes, image_shape=(size, size, channels), center_crop=center_crop,
            random_flip=random_flip, num_workers=int(data_config.num_workers),
            shuffle_buffer=int(data_config.shuffle_buffer), **common)
    if prepared and builder.info.file_format != tfds.core.FileFormat.ARRAY_RECORD:
        raise ValueError(f"tfds dataset {name!r} is stored as {builder.info.file_format.value}; jaxgan reads "
                         "array_record and tfrecord. Rebuild it with `tfds build ... --file_format=array_record`")

    # array_record, or not prepared at all. Asking data_source anyway (rather
    # than failing on is_prepared) keeps tfds.testing.mock_data working, which
    # patches data_source but leaves the builder unprepared.
    try:
        # Images come back encoded and are decoded by our PIL path: one decoder
        # for every source, so odd modes convert and bad bytes are counted the
        # same way, and no decode-to-array then array-to-PIL round trip.
        source = tfds.data_source(name, split=split, data_dir=data_dir, download=False,
                                  decoders={image_key: tfds.decode.SkipDecoding()})
    except Exception as e:
        if not prepared:
            raise FileNotFoundError(f"tfds dataset {name!r} is not prepared under {builder.data_dir}; "
                                    + _prepare_help(name, data_dir)) from e
        raise ValueError(f"cannot open split config.data.split={split!r} of tfds dataset {name!r} "
                         f"(splits: {list(builder.info.splits.keys())}): {e}") from e

    from jaxgan.data.pipeline import RandomAccessPipeline

    def load(index: int, flip_it: bool):
        try:
            example = source[index]
        except Exception as e:  # a record whose bytes or image do not decode
            raise BadImageError(f"{type(e).__name__}: {e}") from e
        value = example[image_key]
        if isinstance(value, (bytes, np.bytes_)):
            image = preprocess_pil(decode(bytes(value), name=f"{name}/{split}[{index}]"), image_size=size,
                                   channels=channels, center_crop=center_crop, flip=flip_it)
        else:  # already an array (e.g. tfds.testing.mock_data ignores decoders)
            image = preprocess_array(value, image_size=size, channels=channels, center_crop=center_crop,
                                     flip=flip_it)
        return image, int(example[label_key]) if label_key else 0

    return RandomAccessPipeline(
        load=load, describe=lambda i: f"{name}/{split}[{i}]", num_records=len(source),
        image_shape=(size, size, channels), num_classes=num_classes, random_flip=random_flip,
        num_workers=int(data_config.num_workers), name=f"tfds:{name}:{split}", **common)


class TFRecordPipeline:
    """A tfrecord tfds dataset read with `tfds.load` (TensorFlow), decoded with
    PIL in `num_workers` threads, batched in order. See the module docstring for
    the order and the state."""

    def __init__(self, *, name, split, data_dir, image_key, label_key, num_classes, image_shape, center_crop,
                 random_flip, num_workers, shuffle_buffer, batch_size, seed, process_index, process_count):
        import tensorflow_datasets as tfds

        self.name, self.data_dir, self.image_key, self.label_key = name, data_dir, image_key, label_key
        self.num_classes, self.image_shape = num_classes, tuple(image_shape)
        self.center_crop, self.random_flip = center_crop, random_flip
        self.shuffle_buffer = max(1, shuffle_buffer)
        self.batch_size, self.seed, self.process_index = batch_size, int(seed), int(process_index)
        # tfds.even_splits cuts the split into process_count disjoint,
        # contiguous parts whose union is the split: each host reads only its part.
        self.split = tfds.even_splits(split, n=process_count, drop_remainder=False)[process_index]
        self.bad_files = BadFileLog()
        self._pool = concurrent.futures.ThreadPoolExecutor(max(1, num_workers), thread_name_prefix="jaxgan-decode")
        self._lookahead = max(1, num_workers) * 4
        self.epoch, self.position = 0, 0
        self._records = None

    def _epoch_seed(self, epoch: int) -> int:
        return int(np.random.default_rng([self.seed, 0x7F4EC, self.process_index, epoch]).integers(2**31 - 1))

    def _open(self):
        """Records of the current epoch from `self.position` on: (index in epoch, raw example)."""
        import tensorflow as tf
        import tensorflow_datasets as tfds

        epoch_seed = self._epoch_seed(self.epoch)
        read_config = tfds.ReadConfig(shuffle_seed=epoch_seed, interleave_cycle_length=4, try_autocache=False)
        ds = tfds.load(self.name, split=self.split, data_dir=self.data_dir, download=False, shuffle_files=True,
                       read_config=read_config, decoders={self.image_key: tfds.decode.SkipDecoding()})
        options = tf.data.Options()
        options.deterministic = True
        ds = ds.with_options(options)
        ds = ds.shuffle(self.shuffle_buffer, seed=epoch_seed, reshuffle_each_iteration=False)
        start = self.position  # read once: __next__ advances self.position as records are consumed
        ds = ds.skip(start).prefetch(self._lookahead)
        for offset, example in enumerate(ds.as_numpy_iterator()):
            yield start + offset, example

    def _decode(self, epoch: int, index: int, example) -> tuple[np.ndarray, int] | None:
        flip = False
        if self.random_flip:
            flip = bool(np.random.default_rng([self.seed, 0xF11B, self.process_index, epoch, index]).integers(2))
        try:
            img = decode(bytes(example[self.image_key]), name=f"{self.name}/{self.split}@epoch{epoch}[{index}]")
            image = preprocess_pil(img, image_size=self.image_shape[0], channels=self.image_shape[2],
                                   center_crop=self.center_crop, flip=flip)
        except BadImageError as e:
            self.bad_files.skipped(f"{self.name}/{self.split} epoch {epoch} record {index}", e)
            return None
        return image, int(example[self.label_key]) if self.label_key else 0

    def _stream(self):
        """Decoded examples in order, decoding up to `lookahead` ahead in the pool;
        yields (epoch, index, decoded or None)."""
        while True:
            epoch = self.epoch
            pending = collections.deque()
            records = self._open()
            empty = True
            for index, example in records:
                empty = False
                pending.append((index, self._pool.submit(self._decode, epoch, index, example)))
                if len(pending) >= self._lookahead:
                    i, fut = pending.popleft()
                    yield epoch, i, fut.result()
            while pending:
                i, fut = pending.popleft()
                yield epoch, i, fut.result()
            if empty and self.position == 0:
                raise ValueError(f"tfds dataset {self.name} split {self.split!r} is empty")
            self.epoch, self.position = epoch + 1, 0

    def __iter__(self):
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        if self._records is None:
            self._records = self._stream()
        images, labels = [], []
        while len(images) < self.batch_size:
            epoch, index, decoded = next(self._records)
            # Consumed up to and including this record (stream order is fixed).
            self.epoch, self.position = epoch, index + 1
            if decoded is not None:
                images.append(decoded[0])
                labels.append(decoded[1])
        return {"image": np.stack(images), "label": np.asarray(labels, np.int32)}

    def get_state(self) -> dict[str, Any]:
        return {"version": 1, "source": f"tfds-tfrecord:{self.name}:{self.split}", "epoch": self.epoch,
                "position": self.position}

    def set_state(self, state: dict[str, Any]) -> None:
        want = f"tfds-tfrecord:{self.name}:{self.split}"
        if state.get("source") != want or state.get("version") != 1:
            raise ValueError(f"data iterator state {state!r} was not written by a {want!r} pipeline; was "
                             "config.data changed since the checkpoint?")
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._records = None  # reopened lazily at the restored place
