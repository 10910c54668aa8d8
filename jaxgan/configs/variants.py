"""Variants of an experiment file: `configs/NAME.py:VARIANT`.

Every configs/NAME.py defines its full run and names its variants with one
decorator, so that all files accept the same variants the same way and an
unknown one is an error instead of the full run:

    @with_variants(smoke=biggan.smoke)
    def get_config():
        ...  # the full run
        return c

`get_config("")` (no `:VARIANT`) is the full run; `get_config("smoke")` is
`biggan.smoke(get_config())`.
"""

from __future__ import annotations

import os
from typing import Callable

import ml_collections

FULL = ""  # the variant of `configs/NAME.py` without `:VARIANT`: the full run

Edit = Callable[[ml_collections.ConfigDict], ml_collections.ConfigDict]


class UnknownVariantError(ValueError):
    """`configs/NAME.py:VARIANT` names a variant that NAME.py does not have."""


def describe(names) -> str:
    return ", ".join("'' (the full run)" if n == FULL else repr(n) for n in names)


def _shown_path(path: str) -> str:
    """`path` relative to the working directory when it is under it, as users type it."""
    rel = os.path.relpath(path)
    return path if rel.startswith(os.pardir) else rel


def with_variants(**variants: Edit) -> Callable[[Callable[[], ml_collections.ConfigDict]], Callable]:
    """Decorator for a config file's `get_config()` (the full run): returns
    `get_config(variant="")`, which builds the full run and applies
    `variants[variant]` to it; the known variants are in `get_config.variants`."""
    if FULL in variants:
        raise ValueError("the variant '' is the full run itself")

    def decorate(full: Callable[[], ml_collections.ConfigDict]) -> Callable[[str], ml_collections.ConfigDict]:
        where = full.__globals__.get("__file__") or full.__module__

        def get_config(variant: str = FULL) -> ml_collections.ConfigDict:
            if variant != FULL and variant not in variants:
                raise UnknownVariantError(f"unknown variant {variant!r} of {_shown_path(where)}; known: "
                                          f"{describe(get_config.variants)}")
            c = full()
            return variants[variant](c) if variant else c

        get_config.variants = (FULL, *variants)
        get_config.__doc__ = full.__doc__
        return get_config

    return decorate
