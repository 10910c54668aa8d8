"""Input pipeline throughput: images/s of the folder and tfds (array_record)
pipelines at 128x128, printed as JSON lines.

    python benchmarks/data_pipeline.py [--workers 2] [--images 384] [--batch 64]

Builds its own data in a temp dir: ImageNet-like JPEGs (random sizes around
500x375, smooth content plus noise, quality 90) for the folder pipeline, and the
same pictures as a tfds array_record dataset for the tfds pipeline, so both
decode a JPEG, center-crop, resize and flip per image. Each pipeline is timed
over two epochs after one warm-up batch.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import tempfile
import time

import numpy as np
from PIL import Image

if __name__ == "__main__" and not __package__:  # run as a file: import as `python -m benchmarks.NAME` would
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repo root, not benchmarks/

from jaxgan.data import build_input  # noqa: E402


def photo(rng: np.random.Generator) -> Image.Image:
    w, h = int(rng.integers(400, 640)), int(rng.integers(300, 480))
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([np.sin(x / rng.uniform(20, 80) + c) * np.cos(y / rng.uniform(20, 80) - c) for c in range(3)], -1)
    arr = (base * 100 + 128 + rng.normal(0, 12, (h, w, 3))).clip(0, 255).astype(np.uint8)
    return Image.fromarray(arr)


def jpeg_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def make_folder(root: str, n: int, classes: int = 4) -> list[bytes]:
    rng = np.random.default_rng(0)
    blobs = []
    for i in range(n):
        d = os.path.join(root, f"class{i % classes}")
        os.makedirs(d, exist_ok=True)
        blob = jpeg_bytes(photo(rng))
        with open(os.path.join(d, f"{i:05d}.jpg"), "wb") as f:
            f.write(blob)
        blobs.append(blob)
    return blobs


def make_array_record(data_dir: str, blobs: list[bytes], classes: int = 4) -> None:
    import tensorflow_datasets as tfds

    class JaxganBenchImages(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(None, None, 3), encoding_format="jpeg"),
                "label": tfds.features.ClassLabel(num_classes=classes)}))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples()}

        def _generate_examples(self):
            for i, blob in enumerate(blobs):
                # Encoded bytes pass through as they are: the pipeline decodes the same JPEGs as the folder one.
                yield i, {"image": io.BytesIO(blob), "label": i % classes}

    JaxganBenchImages(data_dir=data_dir, file_format="array_record").download_and_prepare()


def measure(data_config, batch: int, num_images: int) -> float:
    pipe = build_input(data_config, batch_size=batch, seed=0)
    next(pipe)  # warm-up: threads started, first files cached by the OS
    steps = max(1, 2 * num_images // batch)
    start = time.perf_counter()
    for _ in range(steps):
        next(pipe)
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--images", type=int, default=384)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", type=int, default=128)
    args = ap.parse_args()

    import ml_collections

    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, "folder")
        blobs = make_folder(folder, args.images)
        tfds_dir = os.path.join(tmp, "tfds")
        make_array_record(tfds_dir, blobs)
        common = dict(image_size=args.size, num_classes=4, channels=3, num_workers=args.workers, random_flip=True)
        runs = {
            "folder": ml_collections.ConfigDict(dict(source="folder", folder=folder, **common)),
            "tfds_array_record": ml_collections.ConfigDict(dict(source="tfds", name="jaxgan_bench_images",
                                                                tfds_data_dir=tfds_dir, **common)),
        }
        for name, cfg in runs.items():
            rate = measure(cfg, args.batch, args.images)
            print(json.dumps({"benchmark": "data_pipeline", "pipeline": name, "image_size": args.size,
                              "num_workers": args.workers, "batch_size": args.batch, "images": args.images,
                              "images_per_s": round(rate, 1), "cpus": os.cpu_count(),
                              "machine": platform.machine()}), flush=True)


if __name__ == "__main__":
    main()
