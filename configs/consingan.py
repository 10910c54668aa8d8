"""ConSinGAN on one photo that scikit-image ships (no download), as the
reference trains unconditional generation (6 stages, 3 trained together),
sized for a CPU: 128 px and 300 iterations per stage (the reference: 250 px,
2000; set --config.model.max_size=250 --config.train.iters_per_stage=2000).

    python -m jaxgan.main --config configs/consingan.py --workdir runs/consingan \
        [--config.data.image=path/to/photo.jpg]

Variants: `:editing` (the reference's editing model: BatchNorm, 1000
iterations per stage; then `python -m jaxgan.singan editing --config
configs/consingan.py:editing --workdir W --ref edited.png [--mask mask.png]`),
`:smoke`, `:editing_smoke`.
"""

from jaxgan.configs import consingan, with_variants


@with_variants(smoke=consingan.smoke, editing=consingan.editing,
               editing_smoke=lambda c: consingan.smoke(consingan.editing(c)))
def get_config():
    return consingan.cpu(consingan.get_config())
