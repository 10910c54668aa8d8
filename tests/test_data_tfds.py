"""tfds source: mock data through data_source, a tiny array_record dataset and a
tiny tfrecord dataset (read through tfds.load, needs TensorFlow) built here,
and the errors for missing datasets and a missing TensorFlow. No downloads.

Building a tfds dataset and reading tfrecords import TensorFlow (slow), so
those live in module-scoped fixtures used by the few tests that need them.
"""

import collections
import json
import sys

import ml_collections
import numpy as np
import pytest

import tensorflow_datasets as tfds

from jaxgan.data import build_input

NUM_RECORDS = 22  # not a multiple of the batch sizes or of 2 processes


class JaxganTinyImages(tfds.core.GeneratorBasedBuilder):
    """Record i: a constant image of value 10*i + 5 (odd shapes: 9..30 x 14,
    some grayscale), label i % 3. PNG-encoded by tfds, so values survive."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(None, None, 3)),
            "label": tfds.features.ClassLabel(num_classes=3),
        }))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        for i in range(NUM_RECORDS):
            yield i, {"image": np.full((9 + i, 14, 3), 10 * i + 5, np.uint8), "label": i % 3}


def build_tiny(data_dir, file_format):
    builder = JaxganTinyImages(data_dir=str(data_dir), file_format=file_format)
    builder.download_and_prepare()
    return str(data_dir)


@pytest.fixture(scope="module")
def array_record_dir(tmp_path_factory):
    return build_tiny(tmp_path_factory.mktemp("tfds_ar"), "array_record")


def config(data_dir, **kw):
    c = ml_collections.ConfigDict(dict(source="tfds", name="jaxgan_tiny_images", split="train",
                                       tfds_data_dir=data_dir, image_size=8, num_classes=3, channels=3,
                                       random_flip=False, num_workers=2, shuffle_buffer=64))
    c.update(kw)
    c.lock()
    return c


def record_ids(batch):
    return ((np.round((batch["image"][:, 0, 0, 0] + 1) * 127.5).astype(int) - 5) // 10).tolist()


def check_format(data_dir, expected_pipeline):
    """Contents, labels, determinism, resume and process sharding of one prepared dataset."""
    pipe = build_input(config(data_dir), batch_size=4, seed=0)
    assert type(pipe).__name__ == expected_pipeline
    assert pipe.num_classes == 3 and pipe.image_shape == (8, 8, 3)
    batches = [next(pipe) for _ in range(11)]  # 44 = two epochs
    for b in batches:
        assert b["image"].shape == (4, 8, 8, 3) and b["image"].dtype == np.float32
        assert b["label"].tolist() == [i % 3 for i in record_ids(b)]
    ids = sum((record_ids(b) for b in batches), [])
    assert sorted(ids[:22]) == list(range(22)) and sorted(ids[22:]) == list(range(22))
    assert ids[:22] != ids[22:]  # reshuffled per epoch

    again = build_input(config(data_dir), batch_size=4, seed=0)
    assert sum((record_ids(next(again)) for _ in range(11)), []) == ids
    other = build_input(config(data_dir), batch_size=4, seed=1)
    assert sum((record_ids(next(other)) for _ in range(11)), []) != ids

    # Resume mid-epoch and in the second epoch.
    for stop in (3, 7):
        first = build_input(config(data_dir), batch_size=4, seed=0)
        for _ in range(stop):
            next(first)
        resumed = build_input(config(data_dir), batch_size=4, seed=0)
        resumed.set_state(json.loads(json.dumps(first.get_state())))
        for k in range(stop, 11):
            b = next(resumed)
            np.testing.assert_array_equal(b["image"], batches[k]["image"])
            np.testing.assert_array_equal(b["label"], batches[k]["label"])

    parts = []
    for p in range(2):
        part = build_input(config(data_dir), batch_size=11, seed=0, process_index=p, process_count=2)
        parts.append(record_ids(next(part)))  # 11 = one epoch of this process's half
    assert not set(parts[0]) & set(parts[1])
    assert sorted(parts[0] + parts[1]) == list(range(NUM_RECORDS))


def test_array_record_through_data_source(array_record_dir):
    check_format(array_record_dir, "RandomAccessPipeline")


def test_tfrecord_through_tfds_load(tmp_path_factory):
    # CI installs the `tf` extra: a missing or broken TensorFlow must fail here, not skip.
    import tensorflow  # noqa: F401

    check_format(build_tiny(tmp_path_factory.mktemp("tfds_tfr"), "tfrecord"), "TFRecordPipeline")


def test_mock_data_through_data_source():
    with tfds.testing.mock_data(num_examples=24, policy=tfds.testing.MockPolicy.USE_CODE):
        pipe = build_input(ml_collections.ConfigDict(dict(source="tfds", name="cifar10", split="train",
                                                          image_size=16, num_classes=10, channels=3)),
                           batch_size=8, seed=0)
        batches = [next(pipe) for _ in range(4)]
    for b in batches:
        assert b["image"].shape == (8, 16, 16, 3) and b["image"].dtype == np.float32
        assert b["image"].min() >= -1 and b["image"].max() <= 1 and b["image"].std() > 0.1
        assert b["label"].dtype == np.int32 and ((0 <= b["label"]) & (b["label"] < 10)).all()
    # Unconditional on the same data: labels are zeros.
    with tfds.testing.mock_data(num_examples=8, policy=tfds.testing.MockPolicy.USE_CODE):
        b = next(build_input(ml_collections.ConfigDict(dict(source="tfds", name="cifar10", image_size=16,
                                                            num_classes=0)), batch_size=8, seed=0))
    assert b["label"].tolist() == [0] * 8


def test_errors_say_how_to_prepare(tmp_path, array_record_dir):
    with pytest.raises(FileNotFoundError, match=r"tfds build cifar10 --data_dir .*"):
        build_input(ml_collections.ConfigDict(dict(source="tfds", name="cifar10", tfds_data_dir=str(tmp_path),
                                                   image_size=32, num_classes=10)), batch_size=2, seed=0)
    with pytest.raises(FileNotFoundError, match="tfds build no_such_dataset_xyz"):
        build_input(ml_collections.ConfigDict(dict(source="tfds", name="no_such_dataset_xyz",
                                                   tfds_data_dir=str(tmp_path), image_size=32)),
                    batch_size=2, seed=0)
    with pytest.raises(ValueError, match=r"num_classes=10 .* 3 classes"):
        build_input(config(array_record_dir, num_classes=10), batch_size=2, seed=0)
    with pytest.raises(ValueError, match="config.data.image_key='img'"):
        build_input(config(array_record_dir, image_key="img"), batch_size=2, seed=0)
    with pytest.raises(ValueError, match="config.data.name"):
        build_input(ml_collections.ConfigDict(dict(source="tfds", image_size=32)), batch_size=2, seed=0)
    with pytest.raises(ValueError, match="unknown data source 'tfsd'"):
        build_input(ml_collections.ConfigDict(dict(source="tfsd", image_size=32)), batch_size=2, seed=0)


def test_missing_tensorflow_names_the_extra(monkeypatch):
    from jaxgan.data import tfds_source

    monkeypatch.setitem(sys.modules, "tensorflow", None)  # `import tensorflow` now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'jaxgan\[tf\]'.*--file_format=array_record"):
        tfds_source.require_tensorflow("imagenet2012", "gs://bucket/tfds")


def test_unreadable_records_are_skipped_and_counted(array_record_dir, caplog):
    # A data source whose record 2 raises on read stands in for a corrupt record.
    real = tfds.data_source

    class Flaky(collections.abc.Sequence):
        def __init__(self, inner):
            self.inner = inner

        def __len__(self):
            return len(self.inner)

        def __getitem__(self, i):
            if i == 2:
                raise ValueError("corrupt record")
            return self.inner[i]

    # tfds stores records in its own (hashed) order: find which image index 2 holds.
    bad_id = (int(real("jaxgan_tiny_images", split="train", data_dir=array_record_dir)[2]["image"][0, 0, 0]) - 5) // 10
    mp = pytest.MonkeyPatch()
    mp.setattr(tfds, "data_source", lambda *a, **k: Flaky(real(*a, **k)))
    try:
        pipe = build_input(config(array_record_dir), batch_size=21, seed=0)
        ids = record_ids(next(pipe))
    finally:
        mp.undo()
    assert sorted(ids) == [i for i in range(NUM_RECORDS) if i != bad_id]
    assert pipe.bad_files.count == 1 and pipe.bad_files.unique == 1
    assert "jaxgan_tiny_images/train[2]" in caplog.text


def test_array_record_needs_no_tensorflow(array_record_dir):
    # A fresh process that knows the dataset only from its files (no builder
    # code registered) reads it without importing TensorFlow.
    import subprocess
    import textwrap

    code = textwrap.dedent(f"""
        import sys, ml_collections
        from jaxgan.data import build_input
        c = ml_collections.ConfigDict(dict(source="tfds", name="jaxgan_tiny_images", tfds_data_dir={array_record_dir!r},
                                           image_size=8, num_classes=3))
        batch = next(build_input(c, batch_size=4, seed=0))
        assert batch["image"].shape == (4, 8, 8, 3), batch["image"].shape
        loaded = sorted(m for m in sys.modules if m == "tensorflow" or m.startswith("tensorflow."))
        assert not loaded, loaded
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
