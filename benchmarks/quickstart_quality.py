"""Did the quickstart learn digits? Scores its EMA generator with an MNIST classifier.

    python benchmarks/quickstart_quality.py --workdir runs/quickstart

1. Trains a small CNN on 4000 of the 5000 real MNIST-5k digits (the quickstart's
   training data) and prints its accuracy on the other 1000 (100 per class).
2. Restores the latest checkpoint in --workdir, draws --num-samples digits from
   the EMA generator, the same number of each class, and reports
   - class_accuracy: the share the classifier assigns to the class G was asked for;
   - frechet_distance: the Frechet distance between the classifier's penultimate
     features (128-d) of the generated digits and of all 5000 real digits;
   - real_frechet_distance: the same distance between the 1000 held-out and the
     4000 training digits, the scale of a perfect generator at this sample size.
Last line: one JSON object with these figures (and per-class accuracies).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

if __name__ == "__main__" and not __package__:  # run as a file: import as `python -m benchmarks.NAME` would
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repo root, not benchmarks/

from jaxgan import configs, train  # noqa: E402
from jaxgan.data import mnist5k  # noqa: E402
from jaxgan.eval import metrics  # noqa: E402

HELD_OUT_PER_CLASS = 100


class DigitClassifier(nn.Module):
    """conv32-pool-conv64-pool-dense128-dense10 on 32x32 grey digits in [-1, 1]
    (`num_classes` outputs: 10 digits, or e.g. benchmarks/stargan_quality.py's 6 stroke domains)."""

    num_classes: int = 10

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.max_pool(nn.relu(nn.Conv(32, (3, 3))(x)), (2, 2), (2, 2))
        x = nn.max_pool(nn.relu(nn.Conv(64, (3, 3))(x)), (2, 2), (2, 2))
        x = x.reshape(x.shape[0], -1)
        x = nn.Dropout(0.3, deterministic=not train)(x)
        features = nn.relu(nn.Dense(128)(x))
        logits = nn.Dense(self.num_classes)(nn.Dropout(0.3, deterministic=not train)(features))
        return logits, features


def real_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5000 digits as float32 [5000, 32, 32, 1] in [-1, 1] and their labels."""
    images, labels = mnist5k.load_arrays()
    images = mnist5k.padded(images).astype(np.float32)[..., None] * np.float32(2 / 255) - 1
    return images, np.asarray(labels)


def split(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, held-out indices): HELD_OUT_PER_CLASS of each class held out."""
    rng = np.random.default_rng(seed)
    held = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:HELD_OUT_PER_CLASS] for c in range(10)])
    return np.setdiff1d(np.arange(len(labels)), held), np.sort(held)


def shift(rng: np.random.Generator, images: np.ndarray, max_shift: int = 2) -> np.ndarray:
    """Random translations by up to max_shift pixels (the background is -1)."""
    n, h, w, _ = images.shape
    padded = np.pad(images, ((0, 0), (max_shift,) * 2, (max_shift,) * 2, (0, 0)), constant_values=-1)
    dy, dx = rng.integers(0, 2 * max_shift + 1, (2, n))
    return np.stack([padded[i, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


def train_classifier(images, labels, *, epochs: int, seed: int, batch_size: int = 64, num_classes: int = 10):
    model = DigitClassifier(num_classes)
    params = model.init(jax.random.key(seed), images[:1])["params"]
    steps = epochs * (len(images) // batch_size)
    tx = optax.adam(optax.cosine_decay_schedule(2e-3, steps))
    opt_state = tx.init(params)

    @jax.jit
    def step(params, opt_state, x, y, key):
        def loss_fn(p):
            logits, _ = model.apply({"params": p}, x, train=True, rngs={"dropout": key})
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        grads = jax.grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    rng = np.random.default_rng(seed)
    key = jax.random.key(seed + 1)
    for epoch in range(epochs):
        order = rng.permutation(len(images))
        for b in range(len(images) // batch_size):
            idx = order[b * batch_size:(b + 1) * batch_size]
            key, sub = jax.random.split(key)
            params, opt_state = step(params, opt_state, shift(rng, images[idx]), labels[idx], sub)
    apply = jax.jit(lambda x: model.apply({"params": params}, x))
    return lambda x: tuple(np.asarray(a) for a in apply(x))


def run_in_batches(fn, images: np.ndarray, batch_size: int = 500):
    outs = [fn(images[i:i + batch_size]) for i in range(0, len(images), batch_size)]
    return tuple(np.concatenate(parts) for parts in zip(*outs))


class DigitReference(NamedTuple):
    """The classifier trained on the training digits, its held-out accuracy,
    its features of all 5000 digits, and the held-out digits' Frechet distance
    to the training digits (a perfect generator's scale)."""

    classify: Any
    accuracy: float
    features: np.ndarray
    real_frechet_distance: float

    @classmethod
    def fit(cls, epochs: int, seed: int) -> "DigitReference":
        t0 = time.perf_counter()
        images, labels = real_digits()
        train_idx, held_idx = split(labels, seed)
        classify = train_classifier(images[train_idx], labels[train_idx], epochs=epochs, seed=seed)
        held_logits, held_features = run_in_batches(classify, images[held_idx])
        accuracy = float((held_logits.argmax(-1) == labels[held_idx]).mean())
        _, features = run_in_batches(classify, images)
        print(f"classifier: {accuracy:.2%} held-out accuracy ({len(held_idx)} digits), "
              f"trained in {time.perf_counter() - t0:.0f} s", flush=True)
        return cls(classify, accuracy, features, metrics.fid_from_features(features[train_idx], held_features))


def generated_digits(config, workdir: str, num: int, seed: int):
    """(images [num, 32, 32, 1] in [-1, 1] as grey, requested classes, checkpoint step)."""
    trainer, _, state = train.restore_latest(config, workdir)
    if trainer.num_classes != 10:
        raise ValueError(f"{workdir}: the generator has {trainer.num_classes} classes, MNIST has 10")
    sample = jax.jit(trainer.sample)
    images, classes = [], []
    for i, start in enumerate(range(0, num, 500)):
        n = min(500, num - start)
        z, _ = trainer.sample_inputs(jax.random.fold_in(jax.random.key(seed), i), n)
        y = jnp.arange(start, start + n, dtype=jnp.int32) % 10
        images.append(np.asarray(sample(state.g_ema, z, y)).mean(-1, keepdims=True))
        classes.append(np.asarray(y))
    return np.concatenate(images), np.concatenate(classes), int(state.step)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", required=True, help="the quickstart run's workdir")
    p.add_argument("--config", default=os.path.join(os.path.dirname(__file__), "..", "configs", "quickstart.py"),
                   help="config of the run (default configs/quickstart.py); --config.FIELD=VALUE overrides as "
                        "for jaxgan.main")
    p.add_argument("--num-samples", type=int, default=5000, help="generated digits, equally many per class")
    p.add_argument("--epochs", type=int, default=15, help="classifier training epochs")
    p.add_argument("--seed", type=int, default=0)
    args, config = configs.parse_args(p, argv)

    t0 = time.perf_counter()
    reference = DigitReference.fit(epochs=args.epochs, seed=args.seed)
    classify, classifier_accuracy, real_features = reference.classify, reference.accuracy, reference.features

    fake, classes, step = generated_digits(config, args.workdir, args.num_samples, args.seed)
    fake_logits, fake_features = run_in_batches(classify, fake)
    hits = fake_logits.argmax(-1) == classes
    result = {
        "workdir": args.workdir, "step": step, "num_samples": len(fake),
        "classifier_accuracy": classifier_accuracy,
        "class_accuracy": float(hits.mean()),
        "per_class_accuracy": [round(float(hits[classes == c].mean()), 4) for c in range(10)],
        "frechet_distance": metrics.fid_from_features(real_features, fake_features),
        "real_frechet_distance": reference.real_frechet_distance,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
