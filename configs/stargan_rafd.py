"""StarGAN on RaFD's 8 expressions at 128x128, as the reference trains it
(yunjey/stargan, README: `python main.py --mode train --dataset RaFD
--image_size 128 --c_dim 8 --rafd_image_dir data/RaFD/train`): one folder per
expression (jaxgan.data.domain_folders, the reference's ImageFolder: domains
in sorted name order), 256 center crop resized to 128, flips; the networks
and optimisation of configs/stargan_celeba.py with 8 one-hot domains and the
softmax classification loss (G 8,439,936 and D 44,786,624 parameters).

    python -m jaxgan.main --config configs/stargan_rafd.py --workdir runs/stargan_rafd \\
        --config.data.folder=data/RaFD/train
"""

from jaxgan.configs import stargan, with_variants

EXPRESSIONS = ("angry", "contemptuous", "disgusted", "fearful", "happy", "neutral", "sad", "surprised")


@with_variants(smoke=stargan.smoke)
def get_config():
    c = stargan.get_config()
    c.data.source = "domain_folders"
    c.data.domains = EXPRESSIONS
    c.data.attributes = ()
    c.data.exclusive = ()
    c.data.crop_size = 256
    return c
