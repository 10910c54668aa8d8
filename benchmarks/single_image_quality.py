"""Does a single-image GAN (SinGAN, ConSinGAN) learn its image? Trains a
config (or resumes it) in --workdir, timing it, then scores the trained
pyramid and the untrained one (the run's initial state) with the family's
evaluator:

    python benchmarks/single_image_quality.py --config configs/consingan.py --workdir runs/consingan

- patch_swd: the multi-scale patch sliced Wasserstein distance between
  --num-samples random samples and the training image
  (jaxgan.eval.patch_swd); patch_swd_blurred / patch_swd_shifted: the image
  blurred (sigma 1 px) / shifted by 4 px against itself, the baselines;
- diversity: the SinGAN paper's (per-pixel std over the samples, averaged,
  over the image's std): 0 for copies of one image;
- closest_sample_psnr: the PSNR of the sample nearest to the image (high:
  a sample copies the image; memorisation); rec_psnr: the reconstruction's;
- train_s: wall time of the training command (compilation included), 0 when
  the workdir was trained already.
Writes one JSON line; `--overrides` are config overrides as on the command
line (--config.FIELD=VALUE).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax

if __name__ == "__main__" and not __package__:  # run as a file: import as `python -m benchmarks.NAME` would
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repo root, not benchmarks/

from jaxgan import configs, train  # noqa: E402
from jaxgan.trainers import get_trainer  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--num-samples", type=int, default=32)
    parser.add_argument("overrides", nargs="*", help="--config.FIELD=VALUE overrides")
    args, unknown = parser.parse_known_args(argv)
    config = configs.load(args.config, list(args.overrides) + unknown)
    with config.unlocked():
        config.eval.num_samples = args.num_samples
        config.eval.batch_size = min(config.eval.batch_size, args.num_samples)
    start = time.perf_counter()
    summary = train.train_and_evaluate(config, args.workdir)
    train_s = time.perf_counter() - start
    trainer = get_trainer(config)
    evaluate = trainer.evaluator(args.workdir, None)
    _, _, state = train.restore_latest(config, args.workdir)
    untrained = jax.jit(trainer.init_state)(jax.random.key(config.seed))
    # the untrained pyramid's noise amplitudes are unset: give it the trained run's
    untrained = untrained.replace(noise_amp=state.noise_amp)
    trained, before = evaluate(state), evaluate(untrained)
    result = {"config": args.config, "overrides": list(args.overrides) + unknown, "step": summary["step"],
              "train_s": round(train_s, 1), **{k: round(v, 4) for k, v in trained.items()},
              "untrained_patch_swd": round(before["patch_swd"], 4),
              "image_shape": list(trainer.reals[-1].shape[1:3])}
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
