"""Trainers: one module per GAN family, each a class that satisfies
`jaxgan.trainers.protocol.Trainer`, registered here by name. `config.trainer`
picks one; the loop (jaxgan/train.py) and the command line (jaxgan/main.py)
drive every family the same way."""

from __future__ import annotations

import importlib
from typing import Any

import jax
from absl import flags

from jaxgan.trainers.protocol import BestMetric, Phase, Trainer

__all__ = ["BestMetric", "Phase", "Trainer", "TranslationSampleFlags", "define_flag", "define_image_sample_flags",
           "define_sample_flags",
           "check_sample_format", "get_trainer", "register", "registered", "trainer_class", "write_image_samples"]

# name -> "module:Class", imported when first used.
_REGISTRY: dict[str, str | type] = {
    "biggan": "jaxgan.trainers.biggan:BigGANTrainer",
    "classic": "jaxgan.trainers.classic:ClassicTrainer",
    "cyclegan": "jaxgan.trainers.cyclegan:CycleGANTrainer",
    "pix2pix": "jaxgan.trainers.pix2pix:Pix2PixTrainer",
    "pix2pixhd": "jaxgan.trainers.pix2pixhd:Pix2PixHDTrainer",
    "seqgan": "jaxgan.trainers.seqgan:SeqGANTrainer",
    "consingan": "jaxgan.trainers.consingan:ConSinGANTrainer",
    "singan": "jaxgan.trainers.singan:SinGANTrainer",
    "stargan": "jaxgan.trainers.stargan:StarGANTrainer",
}


def register(name: str, trainer: str | type) -> None:
    """Adds a family: `trainer` is its class or "package.module:Class"."""
    _REGISTRY[name] = trainer


def registered() -> list[str]:
    return sorted(_REGISTRY)


def trainer_class(name: str) -> type:
    """The trainer class registered as `name` (config.trainer)."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown trainer {name!r} (config.trainer); known: {', '.join(map(repr, registered()))}")
    target = _REGISTRY[name]
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        target = _REGISTRY[name] = getattr(importlib.import_module(module), attr)
    return target


def get_trainer(config: Any, mesh: Any = None) -> Trainer:
    """The trainer for `config.trainer`. With a `mesh`, inputs a step draws
    itself (noise, classes) are sharded over its `data` axis like the data."""
    return trainer_class(config.trainer)(config, mesh)


def define_flag(kind: str, name: str, default: Any, help_text: str, **kwargs) -> None:
    """`flags.DEFINE_<kind>(name, default, help_text)` unless another family
    defined `name` already (families that share a sample flag share its meaning)."""
    if name not in flags.FLAGS:
        getattr(flags, f"DEFINE_{kind}")(name=name, default=default, help=help_text, **kwargs)


def define_image_sample_flags() -> None:
    """The `--mode sample` flags of every family that writes images of a
    checkpoint: how many, in which format, in batches of what, from which seed
    and step."""
    define_flag("integer", "num_samples", None, "--mode sample: images (default config.samples.num for the "
                "grid, config.eval.num_samples for png / npz).")
    define_flag("enum", "sample_format", "grid", "--mode sample: one PNG grid; one PNG per image (a folder "
                "under samples/); or one .npz of uint8 images 'x' (and labels 'y') for python -m jaxgan.eval.",
                enum_values=["grid", "png", "npz"])
    define_flag("integer", "batch_size", None, "--mode sample: images per forward pass (default "
                "config.eval.batch_size).")
    define_flag("integer", "seed", None, "--mode sample: seed of the generator's inputs (default config.seed: "
                "those of the training grids).")
    define_flag("integer", "step", None, "--mode sample: checkpoint step (default the latest).")


SAMPLE_FORMATS = ("grid", "png", "npz")


class TranslationSampleFlags:
    """`define_sample_flags` and `sample_options` of the families whose
    `--mode sample` translates held-out inputs (no random draws, so no
    --seed): write_samples(config, workdir, num, sample_format=, batch_size=, step=)."""

    @classmethod
    def define_sample_flags(cls) -> None:
        define_image_sample_flags()

    @classmethod
    def sample_options(cls, flag_values: Any) -> dict[str, Any]:
        return dict(num=flag_values.num_samples, sample_format=flag_values.sample_format,
                    batch_size=flag_values.batch_size, step=flag_values.step)


def check_sample_format(sample_format: str) -> str:
    if sample_format not in SAMPLE_FORMATS:
        raise ValueError(f"sample_format must be 'grid', 'png' or 'npz', got {sample_format!r}")
    return sample_format


def write_image_samples(config: Any, workdir: str, step: int, images: Any, sample_format: str, name: str,
                        columns: int | None = None) -> str:
    """Writes `--mode sample` images (uint8 [N, H, W, C]) of checkpoint `step`:
    one PNG grid `name` in samples/ (`columns` per row), one PNG per image in
    samples/<step>/, or samples/<name>s_<step>.npz; only process 0 writes.
    Returns the path written (samples/ on other processes)."""
    from etils import epath

    from jaxgan import pictures, writers

    root = epath.Path(workdir) / "samples"
    if jax.process_index() != 0:
        return str(root)
    if check_sample_format(sample_format) == "grid":
        writer = writers.MetricWriter(workdir, config.train.num_steps)
        path = writer.write_image(step, name, pictures.make_grid(images, columns))
        writer.close()
        return path
    if sample_format == "npz":
        return pictures.save_npz(root / f"{name}s_{step:08d}.npz", images)
    for i, image in enumerate(images):
        pictures.write_png(root / f"{step:08d}" / f"{i:06d}.png", image)
    return str(root / f"{step:08d}")


def define_sample_flags() -> None:
    """Every registered family's `--mode sample` flags (jaxgan.main calls this
    before parsing the command line)."""
    for name in registered():
        trainer_class(name).define_sample_flags()
