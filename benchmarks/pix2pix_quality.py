"""Did the pix2pix quickstart learn to draw digits from their edges? Scores a
configs/pix2pix_edges2digits.py run on the 500 held-out pairs.

    python benchmarks/pix2pix_quality.py --config configs/pix2pix_edges2digits.py --workdir runs/edges2digits

1. Trains the digit classifier of quickstart_quality.py (DigitReference) on
   4000 real digits; at its default --seed 0 the 500 held-out targets are
   among the 1000 digits it holds out (jaxgan.data.edges2digits), so it never
   saw them.
2. Restores the run's checkpoint (latest, or --step), translates the 500
   held-out edge maps in config.model.sample_mode (and in the other mode, for
   comparison) and reports
   - recognised: the share of translations the classifier assigns to the
     true digit (issue 20's bar: >= 0.9);
   - l1: mean |G(edges) - digit| per pixel in [-1, 1] units (the reference's
     L1, before lambda_L1), beside mean_digit_l1, the same for predicting the
     mean training digit everywhere (bar: l1 <= mean_digit_l1 / 2);
   - real_recognised: the classifier's accuracy on the 500 real targets (the
     ceiling of `recognised`).
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
from jaxgan.data import edges2digits, mnist5k  # noqa: E402
from jaxgan.trainers import get_trainer  # noqa: E402

BATCH = 100


def grey(images: np.ndarray) -> np.ndarray:
    """[N, 32, 32, C] -> the classifier's [N, 32, 32, 1]."""
    return np.asarray(images, np.float32).mean(-1, keepdims=True)


def translations(config, state, inputs: np.ndarray, mode: str) -> np.ndarray:
    with config.unlocked():
        config.model.sample_mode = mode
    translate = jax.jit(get_trainer(config).translate)
    return np.concatenate([np.asarray(translate(state.g, inputs[i:i + BATCH])) for i in range(0, len(inputs), BATCH)])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", required=True, help="the run's workdir")
    p.add_argument("--config", default=os.path.join(os.path.dirname(__file__), "..", "configs",
                                                    "pix2pix_edges2digits.py"),
                   help="config of the run (default configs/pix2pix_edges2digits.py); --config.FIELD=VALUE "
                        "overrides as for jaxgan.main")
    p.add_argument("--epochs", type=int, default=15, help="classifier training epochs")
    p.add_argument("--seed", type=int, default=0, help="the classifier's seed")
    p.add_argument("--step", type=int, default=None, help="checkpoint step (default the latest)")
    args, config = configs.parse_args(p, argv)
    if config.data.source != "edges2digits":
        p.error(f"the run's config.data.source is {config.data.source!r}; this benchmark scores edges2digits runs")

    t0 = time.perf_counter()
    reference = DigitReference.fit(epochs=args.epochs, seed=args.seed)
    _, state = train.restore_latest(config, args.workdir, args.step)[::2]
    inputs, targets = edges2digits.pairs(config.data, "test")
    _, train_targets = edges2digits.pairs(config.data, "train")
    labels = edges2digits.labels("test")
    unseen = bool(np.isin(edges2digits.split_indices()["test"], split(mnist5k.load_arrays()[1], args.seed)[1]).all())

    def score(images):
        logits, _ = run_in_batches(reference.classify, grey(images))
        return float((logits.argmax(-1) == labels).mean())

    mean_digit_l1 = float(np.abs(train_targets.mean(0, keepdims=True) - targets).mean())
    modes = [config.model.sample_mode] + [m for m in ("eval", "train") if m != config.model.sample_mode]
    by_mode = {}
    for mode in modes:
        out = translations(config, state, inputs, mode)
        by_mode[mode] = {"recognised": score(out), "l1": float(np.abs(out - targets).mean())}
    first = by_mode[modes[0]]
    result = {
        "workdir": args.workdir, "step": int(state.step), "num_pairs": len(inputs), "sample_mode": modes[0],
        "recognised": first["recognised"], "l1": first["l1"], "mean_digit_l1": mean_digit_l1,
        "l1_ratio": first["l1"] / mean_digit_l1,
        "meets_bar": first["recognised"] >= 0.9 and first["l1"] <= 0.5 * mean_digit_l1,
        "other_mode": {modes[1]: by_mode[modes[1]]},
        "real_recognised": score(targets), "classifier_accuracy": reference.accuracy,
        "targets_unseen_by_classifier": unseen, "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
