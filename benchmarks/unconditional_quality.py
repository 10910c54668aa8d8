"""Did an unconditional run learn the MNIST-5k digits? Scores any family's
generator with the MNIST classifier of quickstart_quality.py.

    python benchmarks/unconditional_quality.py --config configs/dcgan_mnist.py --workdir runs/dcgan_mnist

1. Trains the small CNN on 4000 of the 5000 real digits and prints its
   accuracy on the other 1000.
2. Restores the latest checkpoint in --workdir and draws --num-samples digits
   the way the run's sample grids are drawn (the trainer's `grid_inputs` and
   `sample_grid`), and as many from the untrained generator (the run's
   initial state, `init_state` at config.seed), then reports
   - frechet_distance: the Frechet distance between the classifier's
     penultimate features (128-d) of the generated digits and of all 5000
     real ones; untrained_frechet_distance, the same for the untrained
     generator, and improvement, their ratio;
   - coverage: the share of the generated digits the classifier puts in each
     class (uniform is 0.1 each), and min_coverage;
   - real_frechet_distance: the distance between the 1000 held-out and the
     4000 training digits, the scale of a perfect generator at this size;
   - the first and last logged value of the run's `measure` metric (BEGAN's
     convergence measure), when it logs one.
Images of other sizes are brought to the classifier's 32x32 grey digits:
28x28 padded with black as mnist5k pads, colour averaged to grey.
One JSON line of these figures per scored checkpoint (--step, repeated;
default the latest).
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

from benchmarks.quickstart_quality import DigitReference, run_in_batches  # noqa: E402
from jaxgan import configs, train  # noqa: E402
from jaxgan.eval import metrics  # noqa: E402

BATCH = 500


def as_digits(images: np.ndarray) -> np.ndarray:
    """[N, H, W, C] in [-1, 1] -> the classifier's [N, 32, 32, 1] grey digits."""
    images = np.asarray(images, np.float32).mean(-1, keepdims=True)
    if images.shape[1:3] == (28, 28):
        images = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)), constant_values=-1.0)
    if images.shape[1:3] != (32, 32):
        raise ValueError(f"the classifier reads 32x32 (or 28x28) digits, the generator makes {images.shape[1:3]}")
    return images


def generated(trainer, state, num: int, seed: int) -> np.ndarray:
    """`num` digits of `state`'s generator, drawn as its sample grids are."""
    draw = jax.jit(trainer.sample_grid)
    parts = []
    for i, start in enumerate(range(0, num, BATCH)):
        inputs = trainer.grid_inputs(jax.random.fold_in(jax.random.key(seed), i), min(BATCH, num - start))
        parts.append(as_digits(draw(state, inputs)))
    return np.concatenate(parts)


def logged(workdir: str, name: str) -> list[float]:
    path = os.path.join(workdir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line[name] for line in map(json.loads, f) if name in line]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", required=True, help="the run's workdir")
    p.add_argument("--config", required=True, help="config of the run; --config.FIELD=VALUE overrides as for "
                                                   "jaxgan.main")
    p.add_argument("--num-samples", type=int, default=5000, help="generated digits")
    p.add_argument("--epochs", type=int, default=15, help="classifier training epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--step", type=int, action="append", help="score this checkpoint (repeat for several, one "
                                                             "JSON line each); default: the latest")
    args, config = configs.parse_args(p, argv)
    results = []

    t0 = time.perf_counter()
    reference = DigitReference.fit(epochs=args.epochs, seed=args.seed)

    def score(state):
        logits, features = run_in_batches(reference.classify, generated(trainer, state, args.num_samples, args.seed))
        return metrics.fid_from_features(reference.features, features), np.bincount(logits.argmax(-1), minlength=10)

    measure = logged(args.workdir, "measure")
    untrained_fd = None
    for step in args.step or [None]:
        trainer, mesh, state = train.restore_latest(config, args.workdir, step)
        if untrained_fd is None:
            untrained_fd = score(train.create_state(trainer, config, mesh)[0])[0]
        fd, counts = score(state)
        coverage = counts / counts.sum()
        results.append({
            "workdir": args.workdir, "step": int(state.step), "num_samples": args.num_samples,
            "classifier_accuracy": reference.accuracy,
            "frechet_distance": fd, "untrained_frechet_distance": untrained_fd,
            "improvement": untrained_fd / fd,
            "coverage": [round(float(c), 4) for c in coverage], "min_coverage": float(coverage.min()),
            "real_frechet_distance": reference.real_frechet_distance,
            **({"measure_first": measure[0], "measure_last": measure[-1]} if measure else {}),
            "seconds": round(time.perf_counter() - t0, 1),
        })
        print(json.dumps(results[-1]), flush=True)
    return results


if __name__ == "__main__":
    main()
