"""Defaults of StarGAN (`trainer = "stargan"`: jaxgan.trainers.stargan), on
top of jaxgan.configs.base, at the reference's values (yunjey/stargan,
main.py and solver.py): G with conv_dim 64 and 6 residual blocks, D with
conv_dim 64 and 6 stride-2 convs at 128x128, WGAN-GP (lambda_gp 10), domain
classification (lambda_cls 1), reconstruction (lambda_rec 10), 5 D updates
per G update, Adam 1e-4 (0.5, 0.999) for both, batch 16, CelebA with the
five attributes Black_Hair, Blond_Hair, Brown_Hair, Male, Young (178 center
crop, resized to 128, flips).

Counting. The reference counts iterations, one D update each, with a G
update after every n_critic-th: num_iters 200,000 iterations = 40,000 G
updates. Here a training step is one G update with its n_critic D updates
(each on a fresh batch), so train.num_steps = num_iters / n_critic; the
learning-rate fields keep the reference's units (iterations).

Learning rate (optim.lr_decay), updated after every lr_update_step-th
iteration i (1-based) once i > num_iters - num_iters_decay, where num_iters
= train.num_steps * n_critic; with k such updates before an iteration:
- 'linear' (the default): lr * (1 - k * lr_update_step / num_iters_decay),
  the linear decay to 0 over the last num_iters_decay iterations that the
  reference intends;
- 'reference': lr * (1 - k / num_iters_decay), what the reference's code
  does (it subtracts lr / num_iters_decay per update, so its rates end at
  0.999 lr with its defaults);
- 'none': constant.

`smoke(config)` is the `:smoke` variant of every StarGAN config.
"""

from __future__ import annotations

import ml_collections

from jaxgan.configs import base

HAIR_COLOURS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")  # the reference's create_labels group
LR_DECAYS = ("linear", "reference", "none")


def get_config() -> ml_collections.ConfigDict:
    c = base.base_config(trainer="stargan")

    # arch 'stargan': jaxgan.models.stargan's Generator(model.g) and
    # Discriminator(model.d, image_size = data.image_size); c_dim = the number
    # of data.attributes (or data.domains); model.c_dim > 0 states it for
    # domain folders whose domains the config does not list.
    c.model = ml_collections.ConfigDict(dict(
        arch="stargan", c_dim=0,
        g=ml_collections.ConfigDict(dict(conv_dim=64, repeat_num=6)),
        d=ml_collections.ConfigDict(dict(conv_dim=64, repeat_num=6))))

    c.loss = ml_collections.ConfigDict(dict(lambda_cls=1.0, lambda_rec=10.0, lambda_gp=10.0))

    # num_iters_decay and lr_update_step in iterations (D updates), as the reference's.
    c.optim = ml_collections.ConfigDict(dict(g_lr=1e-4, d_lr=1e-4, b1=0.5, b2=0.999, eps=1e-8, n_critic=5,
                                             lr_decay="linear", num_iters_decay=100_000, lr_update_step=1000))
    c.train.num_steps = 200_000 // 5
    c.train.batch_size = 16

    # celeba_attrs: list_attr_celeba.txt + the aligned images (jaxgan.data.celeba_attrs).
    c.data.source = "celeba_attrs"
    c.data.name = ""
    c.data.split = "train"
    c.data.folder = ""  # the images (the reference's celeba_image_dir)
    c.data.attr_file = ""  # list_attr_celeba.txt (the reference's attr_path)
    c.data.attributes = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")  # selected_attrs
    # Mutually exclusive attributes: the grids and translate set one of them and clear the others.
    c.data.exclusive = HAIR_COLOURS
    c.data.domains = ()  # domain_folders: the domain folders, in label order (empty: all, sorted)
    c.data.num_classes = 0
    c.data.image_size = 128
    c.data.crop_size = 178  # center crop before resizing (RaFD: 256)
    c.data.channels = 3
    c.data.random_flip = True

    # eval: on the first num_samples held-out images of eval.split, each
    # translated to the grid's target domains: the reconstruction L1, D's
    # classification accuracy on the translations and, where the true
    # translation is known (stroke_digits), the L1 to it (keeps best/).
    c.eval.split = "test"
    c.eval.num_samples = 100
    c.eval.batch_size = 16
    c.eval.every_steps = 0
    c.samples.num = 8  # rows of (input, one translation per target domain)
    c.samples.every_steps = 200  # the reference's sample_step 1000 iterations
    c.ckpt.every_steps = 2000  # model_save_step 10000 iterations
    c.log.every_steps = 2
    return c


def smoke(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """base.smoke (noise images with random attributes, 4 steps of batch 8)
    at 32x32 with width-4 networks (2 residual blocks, 3 stride-2 D convs),
    2 D updates per step, the lr decay over the last 2 steps, and an
    evaluation every 2 steps."""
    c = base.smoke(c)
    c.data.num_classes = 0
    c.data.image_size = 32
    c.data.crop_size = 0
    c.model.g.conv_dim = c.model.d.conv_dim = 4
    c.model.g.repeat_num, c.model.d.repeat_num = 2, 3
    c.optim.n_critic = 2
    c.optim.num_iters_decay, c.optim.lr_update_step = 4, 2
    c.eval.every_steps, c.eval.num_samples, c.eval.batch_size = 2, 8, 4
    return c
