"""SeqGAN on your own text: the reference's networks, optimizers and
schedule (jaxgan.configs.seqgan) on the lines of a text file, as word
tokens (or characters: --config.data.level=char), 20 tokens a sequence
(shorter lines padded with <eos>, longer ones cut into pieces), every 10th
line held out; BLEU-2..4 of 1,000 samples against the held-out lines every
5 steps. The vocabulary is saved as <workdir>/vocab.json;
`--mode sample` writes decoded samples to samples/samples_<step>.txt.

    python -m jaxgan.main --config configs/seqgan_text.py --config.data.text_file=poems.txt --workdir runs/poems
    python -m jaxgan.main --config configs/seqgan_text.py --config.data.text_file=poems.txt --workdir runs/poems \\
        --mode sample --num_samples 100
"""

from jaxgan.configs import seqgan, with_variants


@with_variants(smoke=seqgan.smoke)
def get_config():
    c = seqgan.get_config()
    c.data.source = "text"
    c.eval.num_samples = 1000
    c.eval.batch_size = 500
    return c
