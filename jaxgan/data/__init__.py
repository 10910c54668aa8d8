"""Input pipelines: `build_input(config.data, ...)` returns an `InputPipeline`.

The contract between data and trainer:
- iterating yields host-local batches `{"image": float32 [B, H, W, C] in [-1, 1],
  "label": int32 [B]}` (labels are zeros for unconditional data), where B is this
  process's share of the global batch; the trainer assembles global arrays
  sharded over the `data` mesh axis (jaxgan.parallel);
- `get_state()` returns a JSON-serialisable dict saved with each checkpoint and
  `set_state(state)` restores it, so a resumed run sees exactly the batches an
  uninterrupted run would have seen;
- `num_classes` (None for unconditional data) and `image_shape` describe the data.
"""

from __future__ import annotations

from typing import Any, Iterator, Protocol

import numpy as np


class InputPipeline(Protocol):
    num_classes: int | None
    image_shape: tuple[int, int, int]

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]: ...

    def __next__(self) -> dict[str, np.ndarray]: ...

    def get_state(self) -> dict[str, Any]: ...

    def set_state(self, state: dict[str, Any]) -> None: ...


def build_input(data_config: Any, *, batch_size: int, seed: int, process_index: int = 0,
                process_count: int = 1) -> InputPipeline:
    """The pipeline named by `data_config.source`, yielding `batch_size` (per
    process) examples per batch."""
    source = data_config.source
    if source == "synthetic":
        from jaxgan.data.synthetic import SyntheticImages

        return SyntheticImages(data_config, batch_size=batch_size, seed=seed, process_index=process_index,
                               process_count=process_count)
    raise ValueError(f"unknown data source {source!r} (config.data.source); known: 'synthetic'")
