"""Command line: python -m jaxgan.main --config configs/X.py[:variant] --workdir DIR [--mode train|sample|eval]

Overrides: --config.train.batch_size=256 --config.optim.d.lr=2e-4 (the config
is locked: misspelt fields are errors). --workdir may be local or gs://; a
workdir with checkpoints resumes from the latest.

--mode sample writes EMA-generator samples of a checkpoint: a grid (default),
PNG files or an .npz (--sample_format), optionally truncated with standing
statistics (--truncation 0.5 --standing_stats); see jaxgan.train.sample.
"""

from __future__ import annotations

if __name__ == "__main__":  # before JAX is imported (see jaxgan.host_memory)
    from jaxgan import host_memory

    host_memory.reexec_with_huge_pages()

import logging  # noqa: E402

from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from jaxgan import download, train  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file (configs/NAME.py[:variant]).",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, logs and samples (local or gs://).")
_MODE = flags.DEFINE_enum("mode", "train", ["train", "sample", "eval"], "What to do.")
# --mode sample
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", None, "--mode sample: images (default config.samples.num for "
                                    "the grid, config.eval.num_samples for png / npz).")
_SAMPLE_FORMAT = flags.DEFINE_enum("sample_format", "grid", ["grid", "png", "npz"],
                                   "--mode sample: one PNG grid; one PNG per image (a folder under samples/); or "
                                   "one .npz of uint8 images 'x' and labels 'y' for python -m jaxgan.eval.")
_TRUNCATION = flags.DEFINE_float("truncation", None, "--mode sample: psi in (0, 1], z = psi * truncnorm(-2, 2) "
                                 "(DeepMind's convention); unset: z ~ N(0, I).")
_STANDING_STATS = flags.DEFINE_bool("standing_stats", False, "--mode sample: use standing BatchNorm statistics for "
                                    "--truncation, measured and saved in the checkpoint if it has none yet "
                                    "(saved ones are used whether or not this is set).")
_STANDING_STATS_BATCHES = flags.DEFINE_integer("standing_stats_batches", 16,
                                               "--mode sample: batches averaged for standing statistics.")
_CLASSES = flags.DEFINE_list("classes", None, "--mode sample: class ids, repeated to --num_samples (default: in "
                             "order for the grid, uniform for png / npz).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", None, "--mode sample: images per forward pass (default "
                                   "config.eval.batch_size).")
_SEED = flags.DEFINE_integer("seed", None, "--mode sample: seed of z and classes (default config.seed: the "
                             "z of the training grids).")
_STEP = flags.DEFINE_integer("step", None, "--mode sample: checkpoint step (default the latest).")
flags.mark_flags_as_required(["config", "workdir"])


def use_compilation_cache() -> str | None:
    """Keeps compiled programs between runs in XLA's persistent cache, so a
    resumed run, --mode sample and --mode eval skip the minutes of compiling
    that BigGAN's init and step take (measured: BigGAN-deep 256 state init
    75 s + step 49 s on a 2-core CPU, over 3 minutes on an H200). The cache is
    $JAXGAN_CACHE/xla unless JAX_COMPILATION_CACHE_DIR names another;
    JAX_ENABLE_COMPILATION_CACHE=false turns it off. Returns the directory."""
    import jax

    if not jax.config.jax_enable_compilation_cache:
        return None
    if not jax.config.jax_compilation_cache_dir:
        jax.config.update("jax_compilation_cache_dir", str(download.cache_root() / "xla"))
    return jax.config.jax_compilation_cache_dir


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    use_compilation_cache()
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
        try:
            classes = None if _CLASSES.value is None else [int(c) for c in _CLASSES.value]
        except ValueError:
            raise app.UsageError(f"--classes takes integer class ids, got {_CLASSES.value}") from None
        if _STANDING_STATS.value and _TRUNCATION.value is None:
            raise app.UsageError("--standing_stats needs --truncation (the statistics are per truncation)")
        path = train.sample(config, _WORKDIR.value, _NUM_SAMPLES.value, sample_format=_SAMPLE_FORMAT.value,
                            truncation=_TRUNCATION.value, standing_stats=_STANDING_STATS.value,
                            standing_stats_batches=_STANDING_STATS_BATCHES.value, classes=classes,
                            batch_size=_BATCH_SIZE.value, seed=_SEED.value, step=_STEP.value)
        print(f"wrote {path}", flush=True)
    else:
        import json

        print(json.dumps(train.evaluate(config, _WORKDIR.value)), flush=True)


if __name__ == "__main__":
    app.run(main)
