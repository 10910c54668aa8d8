"""Did the pix2pixHD quickstart learn to draw digits from label and instance
maps? Scores a configs/pix2pixhd_digits.py run on the 500 held-out canvases
(jaxgan.data.digit_canvas).

    python benchmarks/pix2pixhd_quality.py --config configs/pix2pixhd_digits.py --workdir runs/digits
    python benchmarks/pix2pixhd_quality.py --config configs/pix2pixhd_digits.py --workdir runs/digits_no_inst \
        --config.data.instance=False

1. Trains the digit classifier of quickstart_quality.py (DigitReference) on
   4000 real digits; at its default --seed 0 the held-out canvases' digits
   are among those it never saw (jaxgan.data.edges2digits' test split).
2. Restores the run's checkpoint (latest, or --step), translates the 500
   held-out canvases and reports
   - recognised: the share of the canvases' digits (about 1540) that the
     classifier assigns to their true class, each cut out of the generated
     canvas as its 28x28 box, the pixels outside its silhouette (the instance
     map's pixels of that digit) set to background, padded to 32x32 (issue
     20's bar, as for edges2digits: >= 0.9);
   - real_recognised: the same for the real canvases (the ceiling);
   - l1: mean |G(maps) - canvas| per pixel in [-1, 1] units, beside
     mean_canvas_l1, the same for predicting the mean training canvas
     everywhere (bar: l1 <= mean_canvas_l1 / 2);
   - touching_recognised: `recognised` on the digits of canvases whose two
     same-class digits touch (one blob in the label map; only the instance
     map tells them apart).
Last line: one JSON object with these figures and `meets_bar`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax
import numpy as np

if __name__ == "__main__" and not __package__:  # run as a file: import as `python -m benchmarks.NAME` would
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repo root, not benchmarks/

from benchmarks.quickstart_quality import DigitReference, run_in_batches, split  # noqa: E402
from jaxgan import configs, train  # noqa: E402
from jaxgan.data import digit_canvas, edges2digits, mnist5k  # noqa: E402
from jaxgan.trainers import get_trainer  # noqa: E402

BATCH = 50


def digit_crops(canvases: np.ndarray, instances: np.ndarray, digits: dict[str, np.ndarray]) -> np.ndarray:
    """[M, 32, 32, 1]: each digit's 28x28 box of its canvas (grey, [-1, 1]),
    background outside its silhouette, padded by 2 as mnist5k pads."""
    grey = np.asarray(canvases, np.float32).mean(-1)
    out = np.full((len(digits["canvas"]), 32, 32, 1), -1.0, np.float32)
    d = digit_canvas.DIGIT
    for m, (c, top, left, inst) in enumerate(zip(digits["canvas"], digits["top"], digits["left"],
                                                 digits["instance"])):
        box = grey[c, top:top + d, left:left + d]
        mine = instances[c, top:top + d, left:left + d] == inst
        out[m, 2:2 + d, 2:2 + d, 0] = np.where(mine, box, -1.0)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", required=True, help="the run's workdir")
    p.add_argument("--config", default=os.path.join(os.path.dirname(__file__), "..", "configs",
                                                    "pix2pixhd_digits.py"),
                   help="config of the run (default configs/pix2pixhd_digits.py); --config.FIELD=VALUE "
                        "overrides as for jaxgan.main")
    p.add_argument("--epochs", type=int, default=15, help="classifier training epochs")
    p.add_argument("--seed", type=int, default=0, help="the classifier's seed")
    p.add_argument("--step", type=int, default=None, help="checkpoint step (default the latest)")
    args, config = configs.parse_args(p, argv)
    if config.data.source != "digit_canvas":
        p.error(f"the run's config.data.source is {config.data.source!r}; this benchmark scores digit_canvas runs")

    t0 = time.perf_counter()
    reference = DigitReference.fit(epochs=args.epochs, seed=args.seed)
    _, state = train.restore_latest(config, args.workdir, args.step)[::2]
    trainer = get_trainer(config)
    data = {k: v for k, v in digit_canvas.held_out(config.data, "test").items() if k != "label"}
    targets = data["image"]
    translate = jax.jit(lambda inputs: trainer.translate(state.g, inputs, state.e))
    out = np.concatenate([np.asarray(translate({k: v[i:i + BATCH] for k, v in data.items()}))
                          for i in range(0, len(targets), BATCH)])

    cv = digit_canvas.canvases("test")
    digits = digit_canvas.digits_of("test")
    instances = cv.instances.astype(np.int64)
    labels = digits["class"]
    touching = cv.touching[digits["canvas"]]
    unseen = bool(np.isin(edges2digits.split_indices()["test"], split(mnist5k.load_arrays()[1], args.seed)[1]).all())

    def recognised(canvases):
        logits, _ = run_in_batches(reference.classify, digit_crops(canvases, instances, digits))
        right = logits.argmax(-1) == labels
        return float(right.mean()), float(right[touching].mean())

    train_images = digit_canvas.held_out(config.data, "train")["image"]
    mean_canvas_l1 = float(np.abs(train_images.mean(0, keepdims=True) - targets).mean())
    got, got_touching = recognised(out)
    real, real_touching = recognised(targets)
    l1 = float(np.abs(out - targets).mean())
    result = {
        "workdir": args.workdir, "step": int(state.step), "instance_maps": bool(config.data.instance),
        "num_canvases": len(targets), "num_digits": len(labels), "recognised": got,
        "touching_recognised": got_touching, "l1": l1, "mean_canvas_l1": mean_canvas_l1,
        "l1_ratio": l1 / mean_canvas_l1, "meets_bar": got >= 0.9 and l1 <= 0.5 * mean_canvas_l1,
        "real_recognised": real, "real_touching_recognised": real_touching,
        "classifier_accuracy": reference.accuracy, "digits_unseen_by_classifier": unseen,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
