"""The conditional-GAN techniques on MNIST-5k at the quickstart's budget.

    python benchmarks/conditional_mnist.py --workdir runs/conditional_mnist

Trains configs/quickstart.py (1000 steps, batch 32) once per technique, on all
5000 digits and on 500 (the first 50 of each class: `data.num_examples`), and
scores each run's EMA generator with benchmarks/quickstart_quality.py (class
accuracy, Frechet distance in its digit classifier's features). Techniques:
the quickstart (projection D), the classifier heads (AC, TAC, ADC, 2C,
D2D-CE), DiffAugment and LeCam. A run already scored in --workdir is not
trained again, so an interrupted table resumes. Prints one JSON line per run
and a markdown table at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Overrides of configs/quickstart.py per technique (StudioGAN's loss weights).
# LeCam's anchors track D from step 50 of the 1000 (StudioGAN: 1000 of 100k+).
TECHNIQUES = {
    "quickstart": [],
    "ac": ["--config.model.d.cond_head=ac"],
    "tac": ["--config.model.d.cond_head=ac", "--config.model.d.aux_head=tac"],
    "adc": ["--config.model.d.cond_head=ac", "--config.model.d.aux_head=adc"],
    "2c": ["--config.model.d.cond_head=2c", "--config.model.d.normalize_embed=True"],
    "d2dce": ["--config.model.d.cond_head=d2dce", "--config.model.d.normalize_embed=True",
              "--config.cond_loss.weight=0.5", "--config.cond_loss.temperature=0.5"],
    "diffaugment": ["--config.reg.diffaugment=color,translation,cutout"],
    "lecam": ["--config.reg.lecam_weight=0.3", "--config.reg.lecam_start_step=50"],
}
SIZES = (5000, 500)


def run(workdir: str, technique: str, num_examples: int, classifier_epochs: int, num_steps: int) -> dict:
    out = os.path.join(workdir, f"{technique}_{num_examples}")
    result_file = os.path.join(out, "quality.json")
    if os.path.exists(result_file):
        with open(result_file) as f:
            return json.load(f)
    start = time.time()
    subprocess.run([sys.executable, "-m", "jaxgan.main", "--config", "configs/quickstart.py", "--workdir", out,
                    f"--config.data.num_examples={num_examples}", f"--config.train.num_steps={num_steps}",
                    *TECHNIQUES[technique]], cwd=REPO, check=True)
    train_s = time.time() - start
    quality = subprocess.run([sys.executable, "benchmarks/quickstart_quality.py", "--workdir", out,
                              "--epochs", str(classifier_epochs), *TECHNIQUES[technique]], cwd=REPO, check=True, stdout=subprocess.PIPE,
                             text=True).stdout.strip().splitlines()[-1]
    result = {"technique": technique, "num_examples": num_examples, "train_s": round(train_s, 1),
              **json.loads(quality)}
    with open(result_file, "w") as f:
        json.dump(result, f)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--techniques", default=",".join(TECHNIQUES), help="comma-separated subset, in order")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="training digits per run")
    parser.add_argument("--num-steps", type=int, default=1000, help="training steps (the quickstart's 1000)")
    parser.add_argument("--classifier-epochs", type=int, default=15, help="quickstart_quality.py's --epochs")
    args = parser.parse_args(argv)
    techniques = args.techniques.split(",")
    unknown = sorted(set(techniques) - set(TECHNIQUES))
    if unknown:
        parser.error(f"unknown --techniques {unknown}; choose from {list(TECHNIQUES)}")
    results = []
    for n in map(int, args.sizes.split(",")):
        for technique in techniques:
            results.append(run(args.workdir, technique, n, args.classifier_epochs, args.num_steps))
            print(json.dumps(results[-1]), flush=True)
    print("| technique | digits | class accuracy | Frechet distance |\n|---|---|---|---|")
    for r in results:
        print(f"| {r['technique']} | {r['num_examples']} | {r['class_accuracy']:.1%} | {r['frechet_distance']:.1f} |")


if __name__ == "__main__":
    main()
