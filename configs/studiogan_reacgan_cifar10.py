"""StudioGAN's ReACGAN on CIFAR-10 (src/configs/CIFAR10/ReACGAN.yaml; FID 3.87 in
StudioGAN's table): its BigGAN (configs/studiogan_biggan_cifar10.py) with D's
projection replaced by the D2D-CE loss on a normalised 512-d embedding and
class proxies (weight 0.5, margin m_p 0.98, temperature 0.5), batch 128 and
Adam 2.83e-4 (2e-4 x sqrt 2) for both networks."""

from jaxgan.configs import biggan, with_variants


@with_variants(smoke=biggan.smoke)
def get_config():
    c = biggan.studiogan_classifier_head("d2dce", weight=0.5, margin=0.98, temperature=0.5)
    c.train.batch_size = 128
    c.optim.g.lr = c.optim.d.lr = 0.00028284271
    return c
