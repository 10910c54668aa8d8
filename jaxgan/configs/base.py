"""The fields every config has, whatever its GAN family: what jaxgan/train.py,
jaxgan/data/, jaxgan/eval/ and jaxgan/checkpoint.py read. A family adds its
own (jaxgan/configs/biggan.py); `smoke` shrinks the neutral part.
"""

from __future__ import annotations

import ml_collections
from ml_collections import config_dict


def base_config(trainer: str) -> ml_collections.ConfigDict:
    """The neutral fields, for the family whose trainer is registered as `trainer`
    (jaxgan.trainers)."""
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.dtype = "float32"  # compute dtype: 'float32' or 'bfloat16' (params and statistics stay float32)
    c.trainer = trainer

    c.train = ml_collections.ConfigDict()
    c.train.num_steps = 200_000
    c.train.batch_size = 2048  # global, per update

    # The fields jaxgan.data's sources read; its docstring says which source
    # reads which. Defaults: ImageNet at 128 from a prepared tfds dataset.
    c.data = ml_collections.ConfigDict()
    c.data.source = "tfds"  # tfds | folder | mnist5k | synthetic
    c.data.name = "imagenet2012"  # tfds dataset
    c.data.split = "train"
    c.data.tfds_data_dir = ""  # empty: tfds' default (~/tensorflow_datasets); local or gs://
    c.data.image_key = "image"
    c.data.label_key = "label"
    c.data.shuffle_buffer = 10_000  # tfrecord datasets only
    c.data.folder = ""  # source 'folder': <folder>/<class>/*.jpg, or <folder>/*.jpg when unconditional
    c.data.image_size = 128
    c.data.num_classes = 1000  # 0 for unconditional
    c.data.channels = 3
    c.data.center_crop = True  # square crop of the short side before resizing
    c.data.random_flip = config_dict.placeholder(bool)  # unset: flips for photos, none for mnist5k
    c.data.num_workers = 2  # decoding threads per process

    # FID/IS/KID of EMA-G samples every `every_steps` (0: never during training;
    # `--mode eval` still works); 50k samples as the BigGAN paper reports.
    # inception_weights: pytorch-fid's .pth or a converted .npz; empty = download
    # once into $JAXGAN_CACHE. stats_dir: where the data's statistics are cached
    # (empty = the workdir).
    c.eval = ml_collections.ConfigDict(dict(every_steps=0, num_samples=50_000, batch_size=200,
                                            inception_weights="", stats_dir=""))
    c.ckpt = ml_collections.ConfigDict(dict(every_steps=1000, max_to_keep=3))
    c.log = ml_collections.ConfigDict(dict(every_steps=50))
    c.samples = ml_collections.ConfigDict(dict(every_steps=1000, num=64))  # image grids, fixed inputs
    return c


def smoke(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Shrinks the neutral fields so that a run takes a few steps on synthetic
    data (of the config's image size, with at most 10 classes) and checkpoints,
    logs and samples along the way. A family's smoke also shrinks its networks."""
    c.data.source = "synthetic"
    c.data.num_classes = min(c.data.num_classes, 10)
    c.train.num_steps = 4
    c.train.batch_size = 8
    c.eval.every_steps = 0
    c.ckpt.every_steps = 2
    c.log.every_steps = 1
    c.samples.every_steps = 2
    c.samples.num = 4
    return c
