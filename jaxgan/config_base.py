"""`load`, the config loader, under the name that scripts and tests import it
by; the configs' building blocks and the loader live in jaxgan.configs."""

from jaxgan.configs.loader import load

__all__ = ["load"]
