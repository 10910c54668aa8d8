"""SeqGAN's synthetic-data table (Yu et al. 2017, Table 1) on this machine:
NLL-oracle of random, MLE and SeqGAN generators on one oracle.

    python benchmarks/seqgan_oracle.py [--config configs/seqgan_oracle_cpu.py] [--workdir DIR] \\
        [--config.FIELD=VALUE ...]

Trains the config (jaxgan.main's loop: MLE epochs, D pretraining,
adversarial steps) in --workdir (default: a temporary directory) and
reports the oracle's mean negative log-likelihood per token of
config.eval.num_samples generated sequences (the reference's target_loss,
10,000 samples):
- random: the untrained generator (its N(0, 0.1) parameters);
- mle: after config.train.mle_epochs epochs of maximum likelihood;
- seqgan: the same generator after the adversarial steps (the last
  evaluation, not the best one);
so MLE and SeqGAN share the oracle, the data and the pretraining epochs.
Scheduled sampling and PG-BLEU are not implemented. Last line: one JSON
object with the three values, the paper's, the NLL-oracle curve, the
settings and the wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

if __name__ == "__main__" and not __package__:  # run as a file: import as `python -m benchmarks.NAME` would
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repo root, not benchmarks/

import jax  # noqa: E402

from jaxgan import configs, train  # noqa: E402
from jaxgan.trainers import get_trainer  # noqa: E402

PAPER = {"random": 10.310, "mle": 9.038, "scheduled_sampling": 8.985, "pg_bleu": 8.946, "seqgan": 8.736}


def nll_curve(workdir: str) -> list[tuple[int, float]]:
    """(step, eval/nll_oracle) of the run's metrics.jsonl, in order."""
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        lines = [json.loads(line) for line in f]
    return [(line["step"], line["eval/nll_oracle"]) for line in lines if "eval/nll_oracle" in line]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/seqgan_oracle_cpu.py")
    parser.add_argument("--workdir", default="", help="where to train (default: a temporary directory)")
    args, config = configs.parse_args(parser, argv)
    t = config.train
    if config.data.source != "oracle":
        parser.error(f"config.data.source must be 'oracle', got {config.data.source!r}")
    every = int(config.eval.every_steps)
    if not every or t.mle_epochs % every or (t.mle_epochs + t.d_pretrain_rounds + t.num_steps) % every:
        parser.error(f"config.eval.every_steps ({every}) must divide train.mle_epochs ({t.mle_epochs}) and the "
                     f"last step, where the MLE and SeqGAN figures are read")
    workdir = args.workdir or tempfile.mkdtemp(prefix="seqgan_oracle_")
    if os.path.exists(os.path.join(workdir, "metrics.jsonl")):
        parser.error(f"{workdir} holds a run already: give an empty --workdir")

    start = time.perf_counter()
    trainer = get_trainer(config)
    evaluate = trainer.evaluator(workdir, None)
    random_nll = evaluate(jax.jit(trainer.init_state)(jax.random.key(config.seed)))["nll_oracle"]
    random_s = time.perf_counter() - start
    print(f"random: nll_oracle {random_nll:.3f}; training in {workdir}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    summary = train.train_and_evaluate(config, workdir)
    train_s = time.perf_counter() - t0
    curve = dict(nll_curve(workdir))
    last = summary["step"]
    result = {
        "nll_oracle": {"random": round(random_nll, 4), "mle": round(curve[t.mle_epochs], 4),
                       "seqgan": round(curve[last], 4)},
        "seqgan_below_mle": round(curve[t.mle_epochs] - curve[last], 4),
        "paper": PAPER,
        "curve": [[s, round(v, 4)] for s, v in sorted(curve.items())],
        "settings": {"config": args.config, "overrides": args.config_overrides,
                     "vocab_size": config.data.vocab_size, "seq_len": config.data.seq_len,
                     "num_sequences": config.data.num_sequences, "oracle_seed": config.data.oracle_seed,
                     "batch_size": t.batch_size, "mle_epochs": t.mle_epochs,
                     "d_pretrain_rounds": t.d_pretrain_rounds, "d_pretrain_epochs": t.d_pretrain_epochs,
                     "d_pretrain_negatives": trainer.pretrain_round[1] * t.batch_size,
                     "adversarial_steps": t.num_steps, "adversarial_d_rounds": t.adversarial_d_rounds,
                     "d_epochs": t.d_epochs, "d_negatives": trainer.adversarial_round[1] * t.batch_size,
                     "rollouts": t.rollouts,
                     "rollout_update_rate": t.rollout_update_rate, "eval_samples": config.eval.num_samples,
                     "backend": jax.default_backend(), "devices": jax.device_count()},
        "wall_s": {"random_eval": round(random_s, 1), "training": round(train_s, 1),
                   "total": round(time.perf_counter() - start, 1)},
        "workdir": workdir,
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
