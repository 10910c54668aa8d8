"""Command line: python -m jaxgan.main --config configs/X.py[:variant] --workdir DIR [--mode train|sample|eval]

Overrides: --config.train.batch_size=256 --config.optim.d.lr=2e-4 (the config
is locked: misspelt fields are errors). --workdir may be local or gs://; a
workdir with checkpoints resumes from the latest.

--mode sample writes samples of a checkpoint with the family's own flags
(`--helpfull` lists them; BigGAN's: jaxgan.generator.write_samples);
--mode eval scores the latest checkpoint (config.eval).
"""

from __future__ import annotations

if __name__ == "__main__":  # before JAX is imported (see jaxgan.host_memory)
    from jaxgan import host_memory

    host_memory.reexec_with_huge_pages()

import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

from absl import app, flags  # noqa: E402

from jaxgan import configs, download, train, trainers  # noqa: E402

_CONFIG = configs.DEFINE_config_file("config", "Experiment config file (configs/NAME.py[:variant]).")
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, logs and samples (local or gs://).")
_MODE = flags.DEFINE_enum("mode", "train", ["train", "sample", "eval"], "What to do.")
flags.mark_flags_as_required(["config", "workdir"])
trainers.define_sample_flags()  # each family's --mode sample flags


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
    try:
        if _MODE.value == "train":
            summary = train.train_and_evaluate(config, _WORKDIR.value)
            print(f"done: step {summary['step']}", flush=True)
        elif _MODE.value == "sample":
            options = trainers.trainer_class(config.trainer).sample_options(flags.FLAGS)
            print(f"wrote {train.sample(config, _WORKDIR.value, **options)}", flush=True)
        else:
            print(json.dumps(train.evaluate(config, _WORKDIR.value)), flush=True)
    except (FileNotFoundError, ValueError, FloatingPointError) as e:
        # What the user can fix (no checkpoint yet, a missing file, a bad
        # setting, a diverged run) in one line.
        if os.environ.get("JAXGAN_TRACEBACK"):
            raise
        sys.exit(f"error: {e} (JAXGAN_TRACEBACK=1 shows where)")


if __name__ == "__main__":
    app.run(main)
