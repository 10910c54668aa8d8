"""Defaults of SeqGAN (`trainer = "seqgan"`: jaxgan.trainers.seqgan), on top
of jaxgan.configs.base, at the reference's values (LantaoYu/SeqGAN,
sequence_gan.py): the synthetic-data experiment, whose "real" data are
10,000 sequences of 20 tokens (vocabulary 5000) sampled from an oracle LSTM
with N(0, 1) parameters; G an LSTM (embedding and hidden 32) trained by
Adam 0.01 with gradients clipped to a global norm of 5; D the text CNN
(embedding 64, filter sizes 1..10, 15, 20) with dropout keep 0.75, L2 0.2
on its output layer, Adam 1e-4; batch 64.

Steps. The run is three phases, each step of which is what the reference
logs once:
- 'mle': train.mle_epochs (120) steps, each one epoch of maximum likelihood
  over the training sequences (floor(N / batch) batches; 156 for 10,000);
- 'd_pretrain': train.d_pretrain_rounds (50) steps, each a D round:
  floor(train.d_pretrain_negatives / batch) batches of fresh G samples (the
  reference's int(10000 / 64) = 156), then train.d_pretrain_epochs (3)
  passes over them and as many real sequences, each pass 2 x 156 updates of
  batch/2 real and batch/2 generated sequences (the reference shuffles the
  two sets together, so its batches hold about as many of each);
- 'adversarial': train.num_steps (the reference's TOTAL_BATCH, 200) steps,
  each one policy-gradient update of G (train.rollouts Monte Carlo
  rollouts per prefix; the rollout network follows G at
  train.rollout_update_rate) and train.adversarial_d_rounds (5) D rounds
  of train.d_epochs (3) passes over train.d_negatives (10,000) negatives.
The CPU benchmark (configs/seqgan_oracle_cpu.py) shrinks the D budget.

Rollout network. The paper's rollout policy is a delayed copy of G, and the
reference's ROLLOUT.update_params mixes 0.8 of its parameters with 0.2 of
G's after each G update. Its rollout graph, however, reads G's variables
directly (update_params builds new tensors that no op uses), so the
reference's rollouts run the current G. train.rollout_update_rate: 0.8, the
paper's and the intended behaviour (the default); 0.0, what the reference's
code does.
"""

from __future__ import annotations

import ml_collections

from jaxgan.configs import base
from jaxgan.models import seqgan


def get_config() -> ml_collections.ConfigDict:
    c = base.base_config(trainer="seqgan")

    # data.source 'oracle': num_sequences samples of an LSTM of G's shape
    # (oracle_emb_dim, oracle_hidden_dim) with N(0, 1) parameters drawn from
    # oracle_seed (jaxgan.data.sequences). 'text': the lines of text_file,
    # as word or char tokens (level), max_vocab tokens at most (0: all), cut
    # or padded to seq_len, every round(1 / held_out_fraction)-th line held
    # out for the BLEU evaluation (jaxgan.data.text).
    c.data.source = "oracle"
    c.data.name = ""
    c.data.num_classes = 0
    c.data.image_size = 0  # no images
    c.data.vocab_size = 5000
    c.data.seq_len = 20
    c.data.num_sequences = 10_000
    c.data.oracle_seed = 0
    c.data.oracle_emb_dim = 32
    c.data.oracle_hidden_dim = 32
    c.data.text_file = ""
    # A saved vocabulary (a run's vocab.json): sizes the networks without
    # reading text_file (`--mode sample` uses the run's); training checks
    # that text_file gives the same vocabulary.
    c.data.vocab_file = ""
    c.data.level = "word"
    c.data.max_vocab = 0
    c.data.held_out_fraction = 0.1
    c.data.num_workers = 0

    # arch 'seqgan': jaxgan.models.seqgan's LSTMGenerator(model.g) and Discriminator(model.d).
    c.model = ml_collections.ConfigDict(dict(
        arch="seqgan",
        g=ml_collections.ConfigDict(dict(emb_dim=32, hidden_dim=32, init_std=0.1)),
        d=ml_collections.ConfigDict(dict(emb_dim=64, filter_sizes=seqgan.FILTER_SIZES,
                                         num_filters=seqgan.NUM_FILTERS, dropout_keep=0.75))))
    c.optim = ml_collections.ConfigDict(dict(g_lr=0.01, grad_clip=5.0, d_lr=1e-4, d_l2=0.2))

    c.train.batch_size = 64
    c.train.mle_epochs = 120
    c.train.d_pretrain_rounds = 50
    c.train.d_pretrain_negatives = 10_000
    c.train.d_pretrain_epochs = 3
    c.train.num_steps = 200  # adversarial steps
    c.train.adversarial_d_rounds = 5
    c.train.d_negatives = 10_000  # the adversarial phase's D rounds
    c.train.d_epochs = 3
    c.train.rollouts = 16
    c.train.rollout_update_rate = 0.8

    # eval: every every_steps steps, eval.num_samples G samples scored by the
    # oracle (nll_oracle, keeps best/) or, for text, BLEU-2..4 against the
    # held-out lines. The reference scores 10,000 samples every 5 epochs
    # and every 5 adversarial steps.
    c.eval.every_steps = 5
    c.eval.num_samples = 10_000
    c.eval.batch_size = 1000
    c.samples.every_steps = 25
    c.samples.num = 16  # sequences in each samples/samples_<step>.txt
    c.ckpt.every_steps = 25
    c.log.every_steps = 1
    return c


def smoke(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """A few steps of every phase on a small oracle (vocabulary 50, length 8,
    256 sequences; the sequence families' synthetic data, whatever the
    config's source) with narrow networks, evaluated every 2 steps."""
    c = base.smoke(c)
    c.data.source = "oracle"
    c.data.vocab_size, c.data.seq_len, c.data.num_sequences = 50, 8, 256
    c.data.oracle_emb_dim = c.data.oracle_hidden_dim = 8
    c.model.g.emb_dim = c.model.g.hidden_dim = 8
    c.model.d.emb_dim = 8
    c.model.d.filter_sizes, c.model.d.num_filters = (1, 2, 4), (4, 8, 4)
    c.train.batch_size = 16
    c.train.mle_epochs, c.train.d_pretrain_rounds, c.train.num_steps = 2, 1, 2
    c.train.adversarial_d_rounds, c.train.d_negatives, c.train.d_epochs = 1, 32, 1
    c.train.d_pretrain_negatives, c.train.d_pretrain_epochs = 32, 1
    c.train.rollouts = 2
    c.eval.every_steps, c.eval.num_samples, c.eval.batch_size = 2, 64, 32
    return c
