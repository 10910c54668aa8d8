"""SeqGAN's synthetic-data experiment as the reference runs it
(jaxgan.configs.seqgan): an oracle LSTM with N(0, 1) parameters, 10,000 of
its sequences of 20 tokens as the training data, 120 MLE epochs, 50 D
pretraining rounds, 200 adversarial steps with 5 D rounds each, NLL-oracle
of 10,000 samples every 5 steps.

    python -m jaxgan.main --config configs/seqgan_oracle.py --workdir runs/seqgan_oracle

Its D budget is hours on a CPU: configs/seqgan_oracle_cpu.py is the one the
CPU benchmark (benchmarks/seqgan_oracle.py) runs.
"""

from jaxgan.configs import seqgan, with_variants


@with_variants(smoke=seqgan.smoke)
def get_config():
    return seqgan.get_config()
