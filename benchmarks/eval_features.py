"""Throughput of FID Inception feature extraction on the current backend.

    python benchmarks/eval_features.py [--batch-size 256] [--sizes 32,128] [--steps 5]

Prints one JSON line: images/s at each input size (resize to 299 included,
host->device copy included, as in real use), the compile time, and the
seconds 50k images would take. Random weights: the cost does not depend on
their values, and no download is needed.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.eval import features, inception


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=None,
                        help="default: 16 per device on CPU, 256 per device elsewhere")
    parser.add_argument("--sizes", default="32,128", help="input resolutions, comma separated")
    parser.add_argument("--steps", type=int, default=3, help="timed batches per size (after one warm-up)")
    parser.add_argument("--precision", choices=["highest", "default"], default="highest")
    args = parser.parse_args()

    backend = jax.default_backend()
    n_dev = jax.local_device_count()
    batch = args.batch_size or (16 if backend == "cpu" else 256) * n_dev
    model = inception.FIDInceptionV3(resize=False)
    params = jax.jit(model.init)(jax.random.key(0), jnp.zeros((1, 299, 299, 3)))["params"]
    precision = jax.lax.Precision.HIGHEST if args.precision == "highest" else jax.lax.Precision.DEFAULT
    extractor = features.InceptionExtractor(params, weights_id="random", batch_size=batch, progress=False,
                                            precision=precision)
    result = {"benchmark": "eval_features", "backend": backend, "device": jax.devices()[0].device_kind,
              "devices": n_dev, "batch_size": extractor.batch_size, "precision": args.precision}
    rng = np.random.default_rng(0)
    for size in (int(s) for s in args.sizes.split(",")):
        images = rng.uniform(0, 255, (extractor.batch_size, size, size, 3)).astype(np.uint8)
        t0 = time.perf_counter()
        extractor.features(images)  # compile + first run
        result[f"first_batch_s_{size}"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        for _ in range(args.steps):
            extractor.features(images)  # returns host numpy: includes the device sync
        ips = args.steps * extractor.batch_size / (time.perf_counter() - t0)
        result[f"images_per_s_{size}"] = round(ips, 2)
        result[f"seconds_per_50k_{size}"] = round(50_000 / ips, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
