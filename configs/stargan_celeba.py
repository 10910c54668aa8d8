"""StarGAN on CelebA at 128x128, as the reference trains it (yunjey/stargan,
README: `python main.py --mode train --dataset CelebA --image_size 128 --c_dim 5
--selected_attrs Black_Hair Blond_Hair Brown_Hair Male Young`): G conv_dim 64
with 6 residual blocks (8,430,528 parameters), D conv_dim 64 with 6 stride-2
convs (44,762,048), WGAN-GP 10, classification 1, reconstruction 10, 5 D
updates per G update, Adam 1e-4 (0.5, 0.999), batch 16, 200,000 iterations
(40,000 G updates) with the rates decaying over the last 100,000
(jaxgan.configs.stargan: the linear decay the reference intends;
`--config.optim.lr_decay=reference` for what its code does).

Data: CelebA's aligned images and list_attr_celeba.txt, the reference's
split (its first 1999 shuffled lines are the test images):

    python -m jaxgan.main --config configs/stargan_celeba.py --workdir runs/stargan_celeba \\
        --config.data.folder=data/celeba/images --config.data.attr_file=data/celeba/list_attr_celeba.txt
"""

from jaxgan.configs import stargan, with_variants


@with_variants(smoke=stargan.smoke)
def get_config():
    return stargan.get_config()
