"""Did the StarGAN quickstart learn the six stroke styles of stroke_digits?
Scores a configs/stargan_stroke_digits.py run on the 500 held-out digits
(jaxgan.data.stroke_digits: edges2digits' test digits, each shown in its
source domain, the truth of any target its true render).

    python benchmarks/stargan_quality.py --workdir runs/stargan_stroke_digits

Restores the run's checkpoint (latest, or --step; --best: the best/ one)
and, for each of the six target domains (width normal / Thick / Thin x
Slanted or not), over the held-out digits whose source domain is another,
reports in [-1, 1] pixel units (mean absolute difference per pixel):
- l1: G(x, target) against the digit's true render in the target domain;
- baseline: the do-nothing translation, x itself, against that truth;
- ratio: l1 / baseline;
- recognised: the share of translations that a domain classifier (the
  quickstart's digit CNN with 6 outputs, trained --epochs epochs on the true
  renders of the 4500 training digits in all six domains) assigns to the
  target domain;
and overall: `recognised` over all translations, `classifier_accuracy` (the
domain classifier's accuracy on the true renders of the 500 held-out digits
in all six domains: the most a perfect G can expect), `meets_bar`: every
domain's l1 below its baseline and recognised >= 0.8.
Last line: one JSON object with these figures.

--oracle scores the true renders instead of a checkpoint (l1 0, recognised
about classifier_accuracy): a check of the scoring itself. --data-figures
prints the data's own figures quoted in jaxgan/data/stroke_digits.py (ink,
the digit classifier's accuracy per domain, the do-nothing L1s).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Callable

import numpy as np

if __name__ == "__main__" and not __package__:  # run as a file: import as `python -m benchmarks.NAME` would
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repo root, not benchmarks/

from benchmarks import quickstart_quality  # noqa: E402
from jaxgan import configs  # noqa: E402
from jaxgan.data import mnist5k, stroke_digits, with_defaults  # noqa: E402
from jaxgan.data.stroke_digits import DOMAIN_NAMES, DOMAINS  # noqa: E402

BATCH = 100
RECOGNISED_BAR = 0.8


def all_domains(digits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(renders float32 [6N, 32, 32, 1] of uint8 digits [N, 32, 32] in every
    domain, domain indices [6N]), domain by domain."""
    images = [stroke_digits.render(digits, np.repeat(DOMAINS[d:d + 1], len(digits), 0)) for d in range(len(DOMAINS))]
    return np.concatenate(images), np.repeat(np.arange(len(DOMAINS), dtype=np.int32), len(digits))


def domain_classifier(epochs: int, seed: int) -> tuple[Callable, float]:
    """(classify: images [N, 32, 32, 1] -> (logits [N, 6], features), its
    accuracy on the held-out digits' true renders in all six domains)."""
    t0 = time.perf_counter()
    split, digits = stroke_digits.split_indices(), stroke_digits.normal_digits()
    images, labels = all_domains(digits[split["train"]])
    classify = quickstart_quality.train_classifier(images, labels, epochs=epochs, seed=seed,
                                                   num_classes=len(DOMAINS))
    images, labels = all_domains(digits[split["test"]])
    logits, _ = quickstart_quality.run_in_batches(classify, images)
    accuracy = float((logits.argmax(-1) == labels).mean())
    print(f"domain classifier: {accuracy:.2%} held-out accuracy ({len(images)} renders), trained in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    return classify, accuracy


def score(translate: Callable[[np.ndarray, np.ndarray], np.ndarray], classify: Callable,
          channels: int = 1) -> dict[str, Any]:
    """Per target domain {l1, baseline, ratio, recognised} (module docstring)
    of `translate(images [N, 32, 32, channels], c float32 [N, 3]) -> images`
    on the held-out digits, and the overall recognised share and meets_bar."""
    split = stroke_digits.split_indices()
    digits, source, _ = stroke_digits.source_images("test")
    x_all = stroke_digits.to_float(source, channels)
    per_domain, hits, total = {}, 0, 0
    for t, name in enumerate(DOMAIN_NAMES):
        moved = split["test_domain"] != t
        x, c = x_all[moved], np.repeat(DOMAINS[t:t + 1], int(moved.sum()), 0)
        truth = stroke_digits.render(digits[moved], c, channels)
        fake = np.concatenate([np.asarray(translate(x[i:i + BATCH], c[i:i + BATCH]), np.float32)
                               for i in range(0, len(x), BATCH)])
        logits, _ = quickstart_quality.run_in_batches(classify, fake.mean(-1, keepdims=True))
        recognised = logits.argmax(-1) == t
        hits, total = hits + int(recognised.sum()), total + len(x)
        l1 = float(np.abs(fake.astype(np.float64) - truth).mean())
        baseline = float(np.abs(x.astype(np.float64) - truth).mean())
        per_domain[name] = {"num_digits": len(x), "l1": round(l1, 4), "baseline": round(baseline, 4),
                            "ratio": round(l1 / baseline, 4), "recognised": round(float(recognised.mean()), 4)}
    result = {"domains": per_domain, "recognised": round(hits / total, 4)}
    result["meets_bar"] = (all(d["l1"] < d["baseline"] for d in per_domain.values())
                           and result["recognised"] >= RECOGNISED_BAR)
    return result


def data_figures(epochs: int, seed: int) -> dict[str, Any]:
    """The figures of jaxgan/data/stroke_digits.py's docstring, on the 500
    held-out digits: ink of each domain relative to the normal digits, the
    quickstart digit classifier's accuracy on each domain, the do-nothing L1
    per target domain (over the digits whose source domain is another)."""
    split = stroke_digits.split_indices()
    digits, source, _ = stroke_digits.source_images("test")
    classes = np.asarray(mnist5k.load_arrays()[1])[split["test"]]
    images, labels = quickstart_quality.real_digits()
    train_idx, _ = quickstart_quality.split(labels, seed)
    classify = quickstart_quality.train_classifier(images[train_idx], labels[train_idx], epochs=epochs, seed=seed)
    ink_of = lambda u: u.astype(np.float64).sum()
    out: dict[str, Any] = {"ink": {}, "digit_classifier_accuracy": {}, "do_nothing_l1": {}}
    for d, name in enumerate(DOMAIN_NAMES):
        target = stroke_digits.render_uint8(digits, np.repeat(DOMAINS[d:d + 1], len(digits), 0))
        out["ink"][name] = round(ink_of(target) / ink_of(digits), 3)
        logits, _ = quickstart_quality.run_in_batches(classify, stroke_digits.to_float(target))
        out["digit_classifier_accuracy"][name] = round(float((logits.argmax(-1) == classes).mean()), 3)
        moved = split["test_domain"] != d
        l1 = np.abs(stroke_digits.to_float(source[moved]) - stroke_digits.to_float(target[moved])).mean()
        out["do_nothing_l1"][name] = round(float(l1), 3)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", help="the run's workdir")
    p.add_argument("--config", default=os.path.join(os.path.dirname(__file__), "..", "configs",
                                                    "stargan_stroke_digits.py"),
                   help="config of the run (default configs/stargan_stroke_digits.py); --config.FIELD=VALUE "
                        "overrides as for jaxgan.main")
    p.add_argument("--step", type=int, default=None, help="checkpoint step (default the latest)")
    p.add_argument("--best", action="store_true", help="score the best/ checkpoint")
    p.add_argument("--epochs", type=int, default=3, help="domain classifier training epochs (27000 renders each)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--oracle", action="store_true", help="score the true renders, not a checkpoint")
    p.add_argument("--data-figures", action="store_true",
                   help="print the data's figures (ink, digit classifier accuracy, do-nothing L1) and exit")
    args, _ = p.parse_known_args(argv)
    t0 = time.perf_counter()
    if args.data_figures:
        result = data_figures(epochs=15, seed=args.seed)
        result["seconds"] = round(time.perf_counter() - t0, 1)
        print(json.dumps(result), flush=True)
        return result
    if args.oracle:
        result, channels, translate = {"checkpoint": "oracle (the true renders)"}, 1, oracle_translate()
    else:
        if not args.workdir:
            p.error("--workdir is required (or --oracle, --data-figures)")
        args, config = configs.parse_args(p, argv)
        if config.data.source != "stroke_digits":
            p.error(f"the run's config.data.source is {config.data.source!r}; this benchmark scores stroke_digits "
                    "runs")
        import jax

        from benchmarks.cyclegan_quality import restore
        from jaxgan.trainers import get_trainer

        channels = stroke_digits.check(with_defaults(config.data), "test")
        trainer = get_trainer(config)
        state = restore(config, args.workdir, args.step, args.best)
        run = jax.jit(trainer.translate)
        translate = lambda x, c: run(state.g, x, c)
        result = {"workdir": args.workdir, "step": int(state.step), "checkpoint": "best" if args.best else "latest"}
    classify, accuracy = domain_classifier(args.epochs, args.seed)
    result.update(score(translate, classify, channels))
    result["classifier_accuracy"] = round(accuracy, 4)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(result), flush=True)
    return result


def oracle_translate() -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A perfect G for `score`: the true render of each held-out digit, found
    by its source image (score walks the held-out digits in order)."""
    digits, source, _ = stroke_digits.source_images("test")
    lookup = {source[i].tobytes(): i for i in range(len(source))}

    def translate(x: np.ndarray, c: np.ndarray) -> np.ndarray:
        grey = np.rint((np.asarray(x)[..., 0] + 1) * (255 / 2)).astype(np.uint8)
        index = [lookup[g.tobytes()] for g in grey]
        return stroke_digits.render(digits[index], c, x.shape[-1])

    return translate


if __name__ == "__main__":
    main()
