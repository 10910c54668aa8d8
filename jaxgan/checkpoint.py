"""Checkpoints: the only module that imports orbax.

Each checkpoint holds the GAN state and the input pipeline's state; the config
is written beside them once (config.json in the workdir). Saves are async and
atomic; the newest `max_to_keep` are kept. Local paths and gs:// both work.

A checkpoint can also hold the generator's standing statistics, one set per
truncation, added after training (`save_standing_stats`): one .npz per
truncation in `<step>/standing_stats/`, inside the step's directory so they
are deleted with it. Orbax restores named items only and ignores them.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp
from etils import epath
from flax import traverse_util

STANDING_STATS_DIR = "standing_stats"


def absolute(path: str | os.PathLike) -> epath.Path:
    """`path` with a relative local path made absolute (Orbax refuses relative
    ones); URLs such as gs://bucket/run stay as they are."""
    return epath.Path(path if "://" in str(path) else os.path.abspath(path))


class Checkpointer:
    def __init__(self, workdir: str, max_to_keep: int = 3, config_json: str | None = None,
                 subdir: str = "checkpoints"):
        self.directory = absolute(workdir) / subdir
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                               enable_async_checkpointing=True)
        self.manager = ocp.CheckpointManager(self.directory, options=options, item_names=("state", "data"))
        if config_json is not None and jax.process_index() == 0:
            path = epath.Path(workdir) / "config.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(config_json)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, step: int, state: Any, data_state: dict | None = None, force: bool = False) -> bool:
        """Starts an async save of `state` (and the data iterator state) at `step`."""
        args = {"state": ocp.args.StandardSave(state)}
        args["data"] = ocp.args.JsonSave(data_state or {})
        return self.manager.save(step, args=ocp.args.Composite(**args), force=force)

    def restore(self, abstract_state: Any, step: int | None = None) -> tuple[Any, dict] | None:
        """(state, data_state) of `step` (default: the latest), laid out as
        `abstract_state` (ShapeDtypeStructs with shardings); None if there is none."""
        step = self.latest_step() if step is None else step
        if step is None:
            return None
        restored = self.manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state), data=ocp.args.JsonRestore()))
        return restored["state"], dict(restored["data"] or {})

    def restore_partial(self, abstract: dict, step: int | None = None) -> dict | None:
        """Only some top-level entries of a step's state, e.g. `{"g_ema": ...}`
        for sampling (D and the optimizer moments stay on disk), laid out as
        `abstract`; None if there is no checkpoint."""
        step = self.latest_step() if step is None else step
        if step is None:
            return None
        # Its own checkpointer: a manager binds each item to one handler kind.
        checkpointer = ocp.PyTreeCheckpointer()
        restored = checkpointer.restore(self.step_directory(step) / "state", args=ocp.args.PyTreeRestore(
            abstract, restore_args=ocp.checkpoint_utils.construct_restore_args(abstract), partial_restore=True))
        checkpointer.close()
        return dict(restored)

    def step_directory(self, step: int) -> epath.Path:
        """The directory of a finished checkpoint; raises ValueError if there is none."""
        return epath.Path(ocp.step.find_step_path(self.directory, ocp.step.standard_name_format(), step=step))

    def save_standing_stats(self, step: int, truncation: float, batch_stats: Any, info: dict | None = None) -> str:
        """Writes standing statistics for `truncation` into checkpoint `step`
        (replacing those of the same truncation, keeping the others); `info`
        (how they were measured) is stored beside them. Returns the path.
        Only process 0 writes."""
        path = self.step_directory(step) / STANDING_STATS_DIR / f"psi_{float(truncation)!r}.npz"
        if jax.process_index() != 0:
            return str(path)
        arrays = {k: np.asarray(v) for k, v in traverse_util.flatten_dict(jax.device_get(batch_stats), sep="/").items()}
        arrays["__info__"] = np.asarray(json.dumps({"truncation": float(truncation), **(info or {})}))
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")  # complete files only, also on gs://
        tmp.write_bytes(buf.getvalue())
        tmp.rename(path)
        return str(path)

    def restore_standing_stats(self, step: int) -> dict[float, dict]:
        """{truncation: batch_stats} saved in checkpoint `step` ({} if none)."""
        directory = self.step_directory(step) / STANDING_STATS_DIR
        if not directory.exists():
            return {}
        out = {}
        for path in directory.glob("psi_*.npz"):
            try:
                with np.load(io.BytesIO(path.read_bytes())) as f:
                    flat = {k: f[k] for k in f.files if k != "__info__"}
            except Exception as e:
                raise ValueError(f"cannot read the standing statistics {path}: {e}; delete the file "
                                 "and measure them again") from e
            out[float(path.name[len("psi_"):-len(".npz")])] = traverse_util.unflatten_dict(flat, sep="/")
        return out

    def close(self) -> None:
        self.manager.wait_until_finished()
        self.manager.close()


def config_to_json(config: Any) -> str:
    return json.dumps(config.to_dict(), indent=2, sort_keys=True, default=str)
