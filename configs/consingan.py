"""ConSinGAN on one photo that scikit-image ships (no download), as the
reference trains unconditional generation (6 stages, 3 trained together),
sized for a CPU: 128 px and 300 iterations per stage (the reference: 250 px,
2000; set --config.model.max_size=250 --config.train.iters_per_stage=2000).

    python -m jaxgan.main --config configs/consingan.py --workdir runs/consingan \
        [--config.data.image=path/to/photo.jpg]
"""

from jaxgan.configs import consingan, with_variants


@with_variants(smoke=consingan.smoke)
def get_config():
    return consingan.cpu(consingan.get_config())
