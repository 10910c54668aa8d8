"""The WGAN reference's DCGAN checkpoints (martinarjovsky/WassersteinGAN:
`netG_epoch_*.pth`, `netD_epoch_*.pth`, state dicts of DCGAN_G / DCGAN_D) as
flax variables of jaxgan.models.dcgan.

The reference names each layer after its place and widths inside one
nn.Sequential `main`, e.g. `main.initial:100-512:convt.weight`,
`main.pyramid:512:batchnorm.running_mean`, `main.extra-layers-0:64:conv.weight`,
`main.final:64-3:convt.weight`; the layers come in the order the module built
them, which is the order flax builds jaxgan's. Reads files without torch
(jaxgan.convert.torch_checkpoint).
"""

from __future__ import annotations

import os
import re
from typing import Any, Mapping

import numpy as np

from jaxgan.convert import torch_checkpoint

_LAYER = re.compile(r"^main\.(initial|pyramid|extra-layers-\d+|final):[\d-]+:(convt|conv|batchnorm)$")


def _layers(state_dict: Mapping[str, Any]) -> list[tuple[str, str, dict[str, np.ndarray]]]:
    """[(place, kind, {param: array})] in the state dict's order."""
    layers: dict[str, tuple[str, str, dict]] = {}
    for key, value in state_dict.items():
        module, _, param = key.rpartition(".")
        match = _LAYER.match(module)
        if match is None:
            raise ValueError(f"{key!r} is not a layer of the reference's DCGAN_G / DCGAN_D (expected names like "
                             "'main.pyramid:512-256:convt.weight')")
        if param == "num_batches_tracked":
            continue
        place, kind = match.groups()
        layers.setdefault(module, (place.split("-layers-")[0], kind, {}))[2][param] = np.asarray(value)
    return list(layers.values())


def convert_state_dict(state_dict: Mapping[str, Any]) -> dict[str, dict]:
    """{'params', 'batch_stats'} of jaxgan.models.dcgan's DCGANGenerator or
    DCGANDiscriminator (whichever the state dict is) with the same layers."""
    params: dict[str, dict] = {}
    stats: dict[str, dict] = {}
    counters: dict[str, int] = {}
    for place, kind, tensors in _layers(state_dict):
        if kind == "batchnorm":
            name = f"{place}_bn" if place == "initial" else f"{place}_bn_{counters[place] - 1}"
            params[name] = {"scale": tensors["weight"], "bias": tensors["bias"]}
            stats[name] = {"mean": tensors["running_mean"], "var": tensors["running_var"]}
            continue
        if place in ("initial", "final"):
            name = f"{place}_{kind}"
        else:
            counters[place] = counters.get(place, 0) + 1
            name = f"{place}_{kind}_{counters[place] - 1}"
        # Conv2d [out, in, kh, kw] and ConvTranspose2d [in, out, kh, kw] both -> [kh, kw, ., .] (module docstring).
        params[name] = {"kernel": tensors["weight"].transpose(2, 3, 1, 0)}
    return {"params": params, "batch_stats": stats}


def load(path: str | os.PathLike) -> dict[str, dict]:
    """A reference checkpoint file (netG_epoch_*.pth or netD_epoch_*.pth) as flax variables."""
    return convert_state_dict(torch_checkpoint.load_state_dict(path))
