"""`python -m jaxgan.eval A B`: FID between two image sets, a drop-in for
`python -m pytorch_fid A B`.

A and B are each a folder of images (png, jpg, ... directly inside it, as
pytorch-fid reads them), a statistics .npz (arrays `mu`, `sigma`: pytorch-fid's
or jaxgan's), or a .npz of images (one array [N, H, W, 3] or [N, 3, H, W],
uint8, or float in [0, 1] or [-1, 1]). Prints FID, IS of each image set and
KID when both are images; the last line is one JSON object with at least "fid".

`--save-stats A OUT.npz` writes A's statistics (mu, sigma) instead, like
pytorch-fid's flag of the same name.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

IMAGE_EXTENSIONS = {"bmp", "jpg", "jpeg", "pgm", "png", "ppm", "tif", "tiff", "webp"}


def _folder_batches(files: list[Path], batch_size: int) -> Iterator[np.ndarray]:
    from PIL import Image  # only the folder input needs Pillow

    shape = None
    for i in range(0, len(files), batch_size):
        batch = []
        for f in files[i:i + batch_size]:
            try:
                with Image.open(f) as im:
                    arr = np.asarray(im.convert("RGB"), np.uint8)
            except OSError as e:
                raise SystemExit(f"error: cannot read image {f}: {e}") from None
            if shape is None:
                shape = arr.shape
            elif arr.shape != shape:
                raise SystemExit(f"error: {f} is {arr.shape[1]}x{arr.shape[0]} but {files[0]} is "
                                 f"{shape[1]}x{shape[0]}; all images of a set must have one size")
            batch.append(arr)
        yield np.stack(batch)


def _image_array(arr: np.ndarray, path: Path, float_range: str) -> tuple[np.ndarray, tuple[float, float]]:
    if arr.ndim == 4 and arr.shape[1] == 3 and arr.shape[-1] != 3:
        arr = arr.transpose(0, 2, 3, 1)  # NCHW -> NHWC
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise SystemExit(f"error: {path}: image array must be [N, H, W, 3] or [N, 3, H, W], got {arr.shape}")
    if arr.dtype == np.uint8:
        return arr, (0.0, 255.0)
    if not np.issubdtype(arr.dtype, np.floating):
        raise SystemExit(f"error: {path}: images must be uint8 or float, got {arr.dtype}")
    if float_range == "auto":
        lo = float(arr.min()) if arr.size else 0.0
        rng = (-1.0, 1.0) if lo < 0 else (0.0, 1.0)
        print(f"{path}: float images taken as in [{rng[0]:g}, {rng[1]:g}] (min {lo:.3g}); "
              "set --float-range to override", file=sys.stderr)
    else:
        rng = tuple(float(v) for v in float_range.split(","))
    return arr.astype(np.float32), rng


def _load_input(path: str, args) -> dict:
    """{'stats': {...}} for a statistics file, or {'batches', 'num', 'input_range'} for images."""
    p = Path(path)
    if not p.exists():
        raise SystemExit(f"error: no such file or folder: {p}")
    if p.is_dir():
        files = sorted(f for ext in IMAGE_EXTENSIONS for f in p.glob(f"*.{ext}"))
        files += sorted(f for ext in IMAGE_EXTENSIONS for f in p.glob(f"*.{ext.upper()}"))
        if not files:
            raise SystemExit(f"error: {p} holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
        return {"batches": _folder_batches(files, args.batch_size), "num": len(files), "input_range": (0.0, 255.0)}
    if p.suffix != ".npz":
        raise SystemExit(f"error: {p}: expected a folder of images or a .npz file")
    with np.load(p) as z:
        keys = list(z.files)
        if "mu" in keys and "sigma" in keys:
            return {"stats": {k: z[k] for k in keys}}
        key = next((k for k in ("images", "arr_0", "x") if k in keys), keys[0] if len(keys) == 1 else None)
        if key is None:
            raise SystemExit(f"error: {p}: has arrays {keys}; expected 'mu' and 'sigma', or one image array")
        arr, rng = _image_array(z[key], p, args.float_range)
    bs = args.batch_size
    return {"batches": (arr[i:i + bs] for i in range(0, len(arr), bs)), "num": len(arr), "input_range": rng}


def _features(extractor, inp: dict, label: str) -> dict:
    lo, hi = inp["input_range"]
    float_range = None if (lo, hi) == (0.0, 255.0) else (lo, hi)  # uint8 is always [0, 255]
    return extractor.extract(inp["batches"], inp["num"], label=label, input_range=float_range)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jaxgan.eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs=2, metavar="PATH", help="two image folders / .npz files")
    parser.add_argument("--inception-weights", default=None,
                        help="pytorch-fid's pt_inception-2015-12-05-6726825d.pth or a converted .npz "
                             "(default: $JAXGAN_CACHE or ~/.cache/jaxgan, downloaded on first use)")
    parser.add_argument("--batch-size", type=int, default=50, help="images per step (default 50)")
    parser.add_argument("--float-range", default="auto",
                        help="value range of float image arrays: '0,1', '-1,1' or auto (default)")
    parser.add_argument("--is-splits", type=int, default=10, help="Inception Score splits (default 10)")
    parser.add_argument("--kid-subset-size", type=int, default=1000)
    parser.add_argument("--kid-subsets", type=int, default=100)
    parser.add_argument("--save-stats", action="store_true",
                        help="write the statistics of the first path to the second (.npz) and exit")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error("--batch-size must be positive")

    from jaxgan.eval import features, metrics  # after argument errors: importing jax is slow

    extractor = features.InceptionExtractor(weights_path=args.inception_weights, batch_size=args.batch_size,
                                            progress=not args.quiet)
    if args.save_stats:
        src = _load_input(args.paths[0], args)
        if "stats" in src:
            raise SystemExit(f"error: {args.paths[0]} already holds statistics")
        feats = _features(extractor, src, Path(args.paths[0]).name)
        stats = features.stats_from_features(feats)
        stats["weights_id"] = np.asarray(extractor.weights_id)
        features.save_stats(args.paths[1], stats)
        print(json.dumps({"saved": args.paths[1], "num_images": int(stats["num_images"])}))
        return 0

    inputs = [_load_input(p, args) for p in args.paths]
    result: dict = {}
    stats, feats = [], []
    for name, inp in zip("ab", inputs):
        if "stats" in inp:
            stats.append((inp["stats"]["mu"], inp["stats"]["sigma"]))
            feats.append(None)
            continue
        f = _features(extractor, inp, label=f"{name}: {Path(args.paths['ab'.index(name)]).name}")
        feats.append(f)
        stats.append(metrics.statistics(f["pool3"]))
        result[f"num_images_{name}"] = int(f["pool3"].shape[0])
        if f["pool3"].shape[0] >= args.is_splits:
            m, s = metrics.inception_score(f["logits_unbiased"], splits=args.is_splits)
            result[f"is_mean_{name}"], result[f"is_std_{name}"] = m, s
            print(f"IS {name}: {m:.4f} +- {s:.4f}")
    fid = metrics.frechet_distance(*stats[0], *stats[1])
    if all(f is not None for f in feats):
        result["kid_mean"], result["kid_std"] = metrics.kernel_inception_distance(
            feats[0]["pool3"], feats[1]["pool3"], args.kid_subsets, args.kid_subset_size)
        print(f"KID: {result['kid_mean']:.6f} +- {result['kid_std']:.6f}")
    print(f"FID: {fid:.6f}")
    print(json.dumps({"fid": fid, **result, "weights_id": extractor.weights_id}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
