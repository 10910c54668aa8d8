"""jaxgan: GANs in JAX/Flax. Models live in `jaxgan.models`, weight importers in `jaxgan.convert`."""

__version__ = "0.1.0"
