"""Training logs: console progress lines, a JSONL file and TensorBoard events
(through tensorboardX, so TensorFlow is not needed), plus sample-grid PNGs.

Only process 0 writes; other processes get a writer that does nothing.
"""

from __future__ import annotations

import json
import time
from typing import Mapping

import numpy as np
from etils import epath

from jaxgan import pictures


def _format_duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


class MetricWriter:
    """Writes scalars (console + metrics.jsonl + TensorBoard) and images
    (samples/*.png + TensorBoard) under `workdir`."""

    def __init__(self, workdir: str, total_steps: int, enabled: bool = True):
        self.enabled = enabled
        self.total_steps = total_steps
        self.workdir = epath.Path(workdir)
        self._last_time = None
        self._last_step = None
        self._images = 0  # real images read since the last write_scalars (count_images)
        self._tb = None
        if enabled:
            self.workdir.mkdir(parents=True, exist_ok=True)
            from tensorboardX import SummaryWriter

            self._tb = SummaryWriter(logdir=str(self.workdir / "tensorboard"))

    def count_images(self, n: int) -> None:
        """Adds `n` real images read by a step (the speed's img/s)."""
        self._images += n

    def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
        """Logs scalars and a console line with speed and ETA since the last call."""
        if not self.enabled:
            return
        scalars = {k: float(v) for k, v in scalars.items()}
        now = time.perf_counter()
        if self._last_time is not None and step > self._last_step:
            steps_per_s = (step - self._last_step) / (now - self._last_time)
            scalars["steps_per_s"] = steps_per_s
            scalars["images_per_s"] = self._images / (now - self._last_time)
        self._last_time, self._last_step, self._images = now, step, 0
        with (self.workdir / "metrics.jsonl").open("a") as f:
            f.write(json.dumps({"step": step, "time": time.time(), **scalars}) + "\n")
        for k, v in scalars.items():
            self._tb.add_scalar(k, v, step)
        self._tb.flush()
        parts = [f"step {step}/{self.total_steps}"]
        parts += [f"{k} {v:.4g}" for k, v in scalars.items() if k not in ("steps_per_s", "images_per_s")]
        if "steps_per_s" in scalars:
            eta = (self.total_steps - step) / max(scalars["steps_per_s"], 1e-9)
            parts += [f"{scalars['images_per_s']:.1f} img/s", f"{scalars['steps_per_s']:.3g} steps/s",
                      f"ETA {_format_duration(eta)}"]
        print(" | ".join(parts), flush=True)

    def write_image(self, step: int, name: str, image: np.ndarray) -> str | None:
        """Saves a uint8 [H, W, C] picture as samples/{name}_{step}.png and in TensorBoard."""
        if not self.enabled:
            return None
        path = pictures.write_png(self.workdir / "samples" / f"{name}_{step:08d}.png", image)
        self._tb.add_image(name, image, step, dataformats="HWC")
        self._tb.flush()
        return path

    def write_text(self, step: int, name: str, text: str) -> str | None:
        """Saves text samples as samples/{name}_{step}.txt and in TensorBoard."""
        if not self.enabled:
            return None
        path = self.workdir / "samples" / f"{name}_{step:08d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        self._tb.add_text(name, text, step)
        self._tb.flush()
        return str(path)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
