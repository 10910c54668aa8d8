"""A download-free source of random images and labels of a chosen shape, for
smoke runs, tests and benchmarks. Not data to learn from."""

from __future__ import annotations

from typing import Any

import numpy as np


class SyntheticImages:
    """Batches of uniform noise images in [-1, 1] with uniform labels.

    Batch k of process p is a pure function of (seed, k, p), so the iterator
    state is just k and resuming is exact.
    """

    def __init__(self, data_config: Any, *, batch_size: int, seed: int, process_index: int = 0,
                 process_count: int = 1):
        size = int(data_config.image_size)
        self.image_shape = (size, size, int(data_config.channels))
        self.num_classes = data_config.num_classes
        self.batch_size = batch_size
        self.seed, self.process_index = seed, process_index
        self.step = 0

    def __iter__(self):
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([self.seed, self.step, self.process_index])
        self.step += 1
        image = rng.uniform(-1, 1, (self.batch_size, *self.image_shape)).astype(np.float32)
        if self.num_classes:
            label = rng.integers(0, self.num_classes, self.batch_size, dtype=np.int32)
        else:
            label = np.zeros(self.batch_size, np.int32)
        return {"image": image, "label": label}

    def get_state(self) -> dict[str, Any]:
        return {"step": self.step}

    def set_state(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])


class SyntheticDomains(SyntheticImages):
    """StarGAN-shaped noise for smoke runs (`config.data.attributes` or
    `config.data.domains` declared): uniform noise images with random 0/1
    attribute labels, float32 [B, len(attributes)] (label_kind
    'attributes'), or with `domains` (which wins, as in the trainer) random
    domain indices, int32 [B] in [0, len(domains)) (label_kind 'domains').
    Batch k of process p is a pure function of (seed, k, p), as
    SyntheticImages'."""

    def __init__(self, data_config: Any, **kwargs: Any):
        super().__init__(data_config, **kwargs)
        domains = tuple(data_config.get("domains") or ())
        self.label_kind = "domains" if domains else "attributes"
        self.attribute_names = tuple(str(n) for n in (domains or data_config.get("attributes") or ()))
        if not self.attribute_names:
            raise ValueError("config.data.attributes or config.data.domains must name at least one for StarGAN's "
                             "synthetic data")
        self.num_classes = None

    def __next__(self) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([self.seed, self.step, self.process_index, 0x57A6])
        self.step += 1
        image = rng.uniform(-1, 1, (self.batch_size, *self.image_shape)).astype(np.float32)
        n = len(self.attribute_names)
        if self.label_kind == "domains":
            label = rng.integers(0, n, self.batch_size, dtype=np.int32)
        else:
            label = rng.integers(0, 2, (self.batch_size, n)).astype(np.float32)
        return {"image": image, "label": label}
