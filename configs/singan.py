"""SinGAN on one photo that scikit-image ships (no download), as the
reference trains it: a pyramid up to 250 px, 2000 iterations per scale.

    python -m jaxgan.main --config configs/singan.py --workdir runs/singan \
        [--config.data.image=path/to/photo.jpg]

Variants: `:sr` (the x4 super-resolution model), `:animation` (the
animation model), `:smoke`, `:sr_smoke`, `:animation_smoke`. The
applications on a trained pyramid: `python -m jaxgan.singan --help`.
"""

from jaxgan.configs import singan, with_variants


@with_variants(smoke=singan.smoke, sr=singan.sr, animation=singan.animation,
               sr_smoke=singan.sr_smoke, animation_smoke=lambda c: singan.smoke(singan.animation(c)))
def get_config():
    return singan.get_config()
