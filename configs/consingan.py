"""ConSinGAN on one photo that scikit-image ships (no download), as the
reference trains unconditional generation: 6 stages, 3 trained together.

    python -m jaxgan.main --config configs/consingan.py --workdir runs/consingan \
        [--config.data.image=path/to/photo.jpg]
"""

from jaxgan.configs import consingan, with_variants


@with_variants(smoke=consingan.smoke)
def get_config():
    return consingan.get_config()
