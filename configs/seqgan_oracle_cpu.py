"""SeqGAN's synthetic-data experiment (configs/seqgan_oracle.py) with a D
budget a CPU runs in minutes: the benchmark benchmarks/seqgan_oracle.py
runs this config and reports NLL-oracle of the untrained G (random), of G
after the MLE epochs (MLE) and after adversarial training (SeqGAN), beside
the paper's table (README, SeqGAN).

The oracle, the data (10,000 sequences), the networks, the optimizers,
the rollouts (16 per step), the batch and the 120 MLE epochs are the
reference's; the D budgets are smaller: D_PRETRAIN_ROUNDS D pretraining
rounds of 3 passes over D_PRETRAIN_NEGATIVES fresh negatives (the
reference: 50 rounds of 3 passes over 10,000), ADVERSARIAL_STEPS
adversarial steps with one D round of one pass over D_NEGATIVES each (the
reference: 200 steps with 5 rounds of 3 passes over 10,000). NLL-oracle
stops improving after about 30 MLE epochs, but the adversarial steps gain
more from G's 120 (README, SeqGAN). D's pretraining budget matters: with D
at chance the rewards carry no signal. Evaluations come every 10 steps (each
scores 10,000 samples).
"""

from jaxgan.configs import seqgan, with_variants

MLE_EPOCHS = 120  # the reference's PRE_EPOCH_NUM
D_PRETRAIN_ROUNDS = 10
D_PRETRAIN_NEGATIVES = 5000
D_NEGATIVES = 2500
ADVERSARIAL_STEPS = 50


@with_variants(smoke=seqgan.smoke)
def get_config():
    c = seqgan.get_config()
    c.train.mle_epochs = MLE_EPOCHS
    c.train.d_pretrain_rounds = D_PRETRAIN_ROUNDS
    c.train.num_steps = ADVERSARIAL_STEPS
    c.train.d_pretrain_negatives = D_PRETRAIN_NEGATIVES
    c.train.d_pretrain_epochs = 3
    c.train.adversarial_d_rounds = 1
    c.train.d_epochs = 1
    c.train.d_negatives = D_NEGATIVES
    c.eval.every_steps = 10
    c.ckpt.every_steps = 10
    c.samples.every_steps = 10
    return c
