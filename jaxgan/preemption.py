"""Clean stops: SIGTERM (the preemption notice of Cloud TPU and SLURM) and a
first Ctrl-C make the loop save a checkpoint after the current step and exit;
a second Ctrl-C interrupts at once.

Saving is collective, so with several processes every process must stop after
the same step, also when only one host gets the signal or the hosts get it at
different steps. They agree through JAX's preemption sync point
(`multihost_utils.reached_preemption_sync_point`, set up by
`jax.distributed.initialize`): once any process reports a notice, the
coordination service picks the step after the furthest process's current one,
and every process's check says yes at that step. The check itself only reads
a local counter, so it costs nothing per step.

JAX learns of a notice from its own SIGTERM handler, which the handlers
installed here replace (they also cover Ctrl-C, which `launch/tpu_vm.py stop`
sends to every host); so a signal seen here is passed on by writing the notice
where JAX's handler writes it. Where that sync point is unavailable (the
jax_enable_preemption_service option off, or already used up by an earlier run
in this process) the processes instead all-gather their flags at every step.
"""

from __future__ import annotations

import datetime
import logging
import signal
import threading

import jax
import numpy as np
from jax.experimental import multihost_utils

# The key under which JAX's preemption sync manager (xla/tsl/distributed_runtime/
# preemption/preemption_sync_manager.cc) publishes a notice to every process; its
# value is the time of death, RFC 3339. A notice for now starts the protocol at once.
_NOTICE_KEY = "RECEIVED_PREEMPTION_NOTICE"


def _client():
    from jax._src import distributed

    return distributed.global_state.client


def _sync_manager():
    from jax._src import distributed

    return distributed.global_state.preemption_sync_manager


class Preemption:
    """Turns the signals into a flag, and the flags of all processes into one
    answer per step (`stop_requested`); `restore()` puts the previous handlers back."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)
    # The sync manager takes one notice per jax.distributed session and keeps its
    # step: a later run in the same processes must not use it again.
    _sync_point_spent = False

    def __init__(self):
        self.requested = False
        self._published = False
        self._multiprocess = jax.process_count() > 1
        self._use_sync_point = _sync_manager() is not None and not Preemption._sync_point_spent
        # How the processes agree: "local" (one process), "sync point" or "all-gather".
        self.agreement = ("local" if not self._multiprocess else
                          "sync point" if self._use_sync_point else "all-gather")
        if self.agreement == "all-gather":
            logging.info("no preemption sync point in this process: the %d processes all-gather their stop "
                         "flags after every step", jax.process_count())
        self._previous = {}
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}

    def _handle(self, signum, frame):
        name = signal.Signals(signum).name
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        logging.warning("%s received: saving a checkpoint after this step, then exiting%s", name,
                        " (Ctrl-C again to stop now)" if signum == signal.SIGINT else "")
        self.requested = True

    def stop_requested(self, step: int) -> bool:
        """Whether to save and stop after `step`. With several processes this is
        collective: every process calls it after every step, and gets the same
        answer at the same step."""
        if not self._multiprocess:
            return self.requested
        if not self._use_sync_point:
            flags = multihost_utils.process_allgather(np.array(self.requested))
            stop = bool(flags.any())
        else:
            if self.requested and not self._published:
                self._publish()
            # Steps, not calls: Orbax's CheckpointManager.save passes the sync point
            # the step as well, and the agreed step follows the last value passed.
            # (Its thread that finalizes an async save passes that save's step: a
            # notice agreed on just then picks a step already past on every process,
            # and no process stops; they still agree, and that save is recent.)
            stop = multihost_utils.reached_preemption_sync_point(step)
            Preemption._sync_point_spent |= stop or self._published
        if stop and not self.requested:
            logging.warning("a stop was requested on another process: saving a checkpoint after step %d, then exiting",
                            step)
        return stop

    def _publish(self):
        self._published = True
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds")
        try:
            _client().key_value_set(_NOTICE_KEY, now)
        except jax.errors.JaxRuntimeError as e:  # ALREADY_EXISTS: another process's notice runs already
            logging.info("preemption notice already given: %s", str(e).splitlines()[0])

    def restore(self):
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous = {}
