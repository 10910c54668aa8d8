"""SinGAN on one photo that scikit-image ships (no download), as the
reference trains it: a pyramid up to 250 px, 2000 iterations per scale.

    python -m jaxgan.main --config configs/singan.py --workdir runs/singan \
        [--config.data.image=path/to/photo.jpg]
"""

from jaxgan.configs import singan, with_variants


@with_variants(smoke=singan.smoke)
def get_config():
    return singan.get_config()
