"""Did the CycleGAN quickstart learn to thicken digits it never saw paired?
Scores a configs/cyclegan_thick_digits.py run on the 500 held-out digits
(jaxgan.data.thick_digits: edges2digits' test digits, the truth of each its
own thickened version).

    python benchmarks/cyclegan_quality.py --config configs/cyclegan_thick_digits.py --workdir runs/thick_digits

Restores the run's checkpoint (latest, or --step; --best: the best/ one)
and reports, in [-1, 1] pixel units (mean absolute difference per pixel):
- l1: G_A(A) against the thickened truth;
- baseline_l1: the do-nothing translation, A itself, against the truth;
- l1_ratio: l1 / baseline_l1;
- cycle_l1: G_B(G_A(A)) against A;
- l1_BtoA, cycle_l1_B: the same for G_B on the thickened truths (thinning
  back to A) and G_A(G_B(B)) against B, for reference;
- meets_bar: issue 21's bar, l1 <= baseline_l1 / 2 and cycle_l1 < 0.1.
Last line: one JSON object with these figures.
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

from jaxgan import checkpoint, configs, parallel, train  # noqa: E402
from jaxgan.data import paired, thick_digits, with_defaults  # noqa: E402
from jaxgan.trainers import get_trainer  # noqa: E402

BATCH = 100


def restore(config, workdir: str, step: int | None, best: bool):
    if not best:
        return train.restore_latest(config, workdir, step)[2]
    ckpt = checkpoint.Checkpointer(workdir, 1, subdir="best")
    try:
        restored = ckpt.restore(train.abstract_state(get_trainer(config), config, parallel.make_mesh()))
    finally:
        ckpt.close()
    if restored is None:
        raise FileNotFoundError(f"no best/ checkpoint in {workdir}")
    return restored[0]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", required=True, help="the run's workdir")
    p.add_argument("--config", default=os.path.join(os.path.dirname(__file__), "..", "configs",
                                                    "cyclegan_thick_digits.py"),
                   help="config of the run (default configs/cyclegan_thick_digits.py); --config.FIELD=VALUE "
                        "overrides as for jaxgan.main")
    p.add_argument("--step", type=int, default=None, help="checkpoint step (default the latest)")
    p.add_argument("--best", action="store_true", help="score the best/ checkpoint (lowest eval l1)")
    args, config = configs.parse_args(p, argv)
    if config.data.source != "thick_digits":
        p.error(f"the run's config.data.source is {config.data.source!r}; this benchmark scores thick_digits runs")

    t0 = time.perf_counter()
    trainer = get_trainer(config)
    state = restore(config, args.workdir, args.step, args.best)
    held = thick_digits.held_out(with_defaults(config.data, **paired.PAIRED_DEFAULTS), "test")
    a, truth = held["input"], held["image"]
    cycle = jax.jit(trainer.cycle)
    outs = [{k: np.asarray(v) for k, v in cycle(state, a[i:i + BATCH], truth[i:i + BATCH]).items()}
            for i in range(0, len(a), BATCH)]
    out = {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}
    l1 = lambda x, y: float(np.abs(x.astype(np.float64) - y).mean())
    result = {"workdir": args.workdir, "step": int(state.step), "checkpoint": "best" if args.best else "latest",
              "num_digits": len(a), "l1": l1(out["fake_B"], truth), "baseline_l1": l1(a, truth)}
    result["l1_ratio"] = result["l1"] / result["baseline_l1"]
    result["cycle_l1"] = l1(out["rec_A"], a)
    result.update(l1_BtoA=l1(out["fake_A"], a), cycle_l1_B=l1(out["rec_B"], truth))
    result["meets_bar"] = result["l1_ratio"] <= 0.5 and result["cycle_l1"] < 0.1
    result["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
