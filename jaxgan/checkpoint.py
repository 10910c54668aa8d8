"""Checkpoints: the only module that imports orbax.

Each checkpoint holds the GAN state and the input pipeline's state; the config
is written beside them once (config.json in the workdir). Saves are async and
atomic; the newest `max_to_keep` are kept. Local paths and gs:// both work.
"""

from __future__ import annotations

import json
from typing import Any

import jax
import orbax.checkpoint as ocp
from etils import epath


class Checkpointer:
    def __init__(self, workdir: str, max_to_keep: int = 3, config_json: str | None = None,
                 subdir: str = "checkpoints"):
        self.directory = epath.Path(workdir) / subdir
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

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.wait_until_finished()
        self.manager.close()


def config_to_json(config: Any) -> str:
    return json.dumps(config.to_dict(), indent=2, sort_keys=True, default=str)
