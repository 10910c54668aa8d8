"""Command line: python -m jaxgan.main --config configs/X.py[:variant] --workdir DIR [--mode train|sample|eval]

Overrides: --config.train.batch_size=256 --config.optim.d.lr=2e-4 (the config
is locked: misspelt fields are errors). --workdir may be local or gs://; a
workdir with checkpoints resumes from the latest.
"""

from __future__ import annotations

import logging

from absl import app, flags
from ml_collections import config_flags

from jaxgan import train

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file (configs/NAME.py[:variant]).",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, logs and samples (local or gs://).")
_MODE = flags.DEFINE_enum("mode", "train", ["train", "sample", "eval"], "What to do.")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", None, "--mode sample: images in the grid (default config.samples.num).")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    logging.getLogger().setLevel(logging.INFO)
    # jaxgan's own messages (resume, preemption, bad images) stay; the per-save
    # chatter of Orbax (absl logging) and JAX's backend probing do not.
    for name in ("absl", "jax"):
        logging.getLogger(name).setLevel(logging.WARNING)
    config = _CONFIG.value
    if _MODE.value == "train":
        summary = train.train_and_evaluate(config, _WORKDIR.value)
        print(f"done: step {summary['step']}", flush=True)
    elif _MODE.value == "sample":
        print(f"wrote {train.sample(config, _WORKDIR.value, _NUM_SAMPLES.value)}", flush=True)
    else:
        import json

        print(json.dumps(train.evaluate(config, _WORKDIR.value)), flush=True)


if __name__ == "__main__":
    app.run(main)
