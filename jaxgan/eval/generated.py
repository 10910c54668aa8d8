"""FID / IS / KID of a generator's images against the training data, during
training and in `--mode eval`, for any family that generates images.

The data's Inception statistics are computed once and cached as .npz in
`config.eval.stats_dir` (empty: the workdir). The Inception weights are
pytorch-fid's: from `config.eval.inception_weights` if set, else downloaded
once into the jaxgan cache.
"""

from __future__ import annotations

from typing import Any, Callable

import jax

from jaxgan.data import build_input
from jaxgan.eval.features import InceptionExtractor, compute_metrics, reference_statistics

# generate(state, key, num) -> images [num, H, W, C] in [-1, 1]
Generate = Callable[[Any, jax.Array, int], jax.Array]


class ImageEvaluator:
    """`evaluator(state) -> {'fid', 'is_mean', ...}` for `config.eval.num_samples`
    images of `generate`, drawn with keys folded from config.seed (the same
    images at every evaluation of the same state)."""

    def __init__(self, config: Any, workdir: str, mesh: Any, generate: Generate, resolution: int):
        e = config.eval
        self.config, self.resolution = config, resolution
        self.extractor = InceptionExtractor(weights_path=e.inception_weights or None, batch_size=e.batch_size,
                                            mesh=mesh)
        self.num_samples = e.num_samples
        self._generate = generate
        self._stats_dir = e.stats_dir or workdir
        self._reference = None

    def reference(self) -> dict:
        if self._reference is None:
            d = self.config.data

            def real_batches():  # only opened when the statistics are not cached yet
                data = build_input(d, batch_size=self.extractor.batch_size, seed=self.config.seed,
                                   process_index=jax.process_index(), process_count=jax.process_count())
                return (b["image"] for b in data)

            self._reference = reference_statistics(
                self.extractor, real_batches, dataset=f"{d.source}-{d.name or 'data'}", split=d.split,
                resolution=self.resolution, cache_dir=self._stats_dir, num_images=self.num_samples)
        return self._reference

    def __call__(self, state: Any) -> dict:
        key = jax.random.fold_in(jax.random.key(self.config.seed), 2)

        def generate(index, batch_size):
            return self._generate(state, jax.random.fold_in(key, index), batch_size)

        return compute_metrics(generate, self.reference(), self.extractor, num_images=self.num_samples,
                               seed=self.config.seed)
