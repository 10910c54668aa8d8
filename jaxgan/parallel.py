"""Devices, meshes and global batches.

One `Mesh` over all devices with a single `data` axis: the batch is sharded on
it and the GAN state is replicated; `jax.jit` inserts the gradient all-reduce,
and BatchNorm statistics over the sharded batch are global (cross-replica BN).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"


def maybe_initialize_distributed() -> None:
    """`jax.distributed.initialize()` when this is one process of several.

    On SLURM / Open MPI clusters and GKE TPU pods JAX discovers the cluster
    itself from their variables. A Cloud TPU VM sets none (JAX reads the slice
    from the metadata server), so launch/tpu_vm.py exports JAXGAN_DISTRIBUTED=1,
    which asks for the same auto-detection. Elsewhere set JAX_COORDINATOR_ADDRESS,
    JAX_NUM_PROCESSES and JAX_PROCESS_ID. A single process with none of those
    does nothing.
    """
    if jax.distributed.is_initialized():
        return
    explicit = "JAX_COORDINATOR_ADDRESS" in os.environ
    managed = os.environ.get("JAXGAN_DISTRIBUTED") == "1" or any(
        k in os.environ for k in ("TPU_WORKER_HOSTNAMES", "SLURM_JOB_ID", "OMPI_COMM_WORLD_SIZE"))
    if explicit:
        jax.distributed.initialize(
            coordinator_address=os.environ["JAX_COORDINATOR_ADDRESS"],
            num_processes=int(os.environ["JAX_NUM_PROCESSES"]),
            process_id=int(os.environ["JAX_PROCESS_ID"]),
        )
    elif managed:
        try:
            jax.distributed.initialize()
        except (ValueError, RuntimeError) as e:  # e.g. a single-host TPU VM: nothing to join
            logging.info("jax.distributed.initialize() skipped: %s", e)
            return
    else:
        return
    logging.info("process %d of %d, %d local of %d devices", jax.process_index(), jax.process_count(),
                 jax.local_device_count(), jax.device_count())


def make_mesh(devices: list | None = None) -> Mesh:
    """A 1-D mesh named `data` over `devices` (default: all devices of all processes)."""
    devices = jax.devices() if devices is None else devices
    return Mesh(np.asarray(devices), (DATA_AXIS,), axis_types=(AxisType.Auto,))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh: Mesh, leading: int = 0) -> NamedSharding:
    """Sharding of arrays whose axis `leading` is the batch (e.g. 1 for [steps, batch, ...])."""
    return NamedSharding(mesh, PartitionSpec(*([None] * leading), DATA_AXIS))


def check_batch_size(global_batch: int, mesh: Mesh) -> int:
    """The per-process batch; raises if the global batch does not divide evenly."""
    n = mesh.devices.size
    if global_batch % n:
        raise ValueError(f"train.batch_size {global_batch} must be divisible by the {n} devices")
    return global_batch // jax.process_count()


def global_batch(host_batch: Any, mesh: Mesh, leading: int = 0) -> Any:
    """Global arrays sharded over `data` from this process's part of a batch.

    Each process passes its own examples; on one process this is a device_put.
    """
    sharding = batch_sharding(mesh, leading)
    return jax.tree_util.tree_map(lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)),
                                  host_batch)


def allgather_json(obj: Any) -> list:
    """Every process's JSON-serialisable `obj`, in process order (e.g. each
    host's input-pipeline state, which differs per host). Collective: all
    processes must call it."""
    if jax.process_count() == 1:
        return [obj]
    import json

    from jax.experimental import multihost_utils

    data = np.frombuffer(json.dumps(obj).encode(), np.uint8)
    lengths = multihost_utils.process_allgather(np.array([data.size], np.int32))
    padded = np.zeros(int(lengths.max()), np.uint8)
    padded[:data.size] = data
    gathered = multihost_utils.process_allgather(padded)
    return [json.loads(bytes(row[:int(n)]).decode()) for row, n in zip(gathered, lengths.reshape(-1))]
