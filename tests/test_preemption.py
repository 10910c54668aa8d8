"""jaxgan.preemption on one process: SIGTERM and a first Ctrl-C ask for a stop
after the current step, a second Ctrl-C interrupts, and restore() puts the
previous handlers back. (Several processes: tests/test_multiprocess.py.)"""

import signal
import threading

import pytest

from jaxgan.preemption import Preemption


@pytest.fixture
def preemption():
    before = {sig: signal.getsignal(sig) for sig in Preemption.SIGNALS}
    p = Preemption()
    try:
        yield p
    finally:
        p.restore()
        assert {sig: signal.getsignal(sig) for sig in Preemption.SIGNALS} == before


def test_sigterm_asks_for_a_stop_after_the_step(preemption):
    assert preemption.agreement == "local"
    assert not preemption.stop_requested(1)
    signal.raise_signal(signal.SIGTERM)  # runs the Python handler before returning
    assert preemption.stop_requested(2) and preemption.stop_requested(3)


def test_first_ctrl_c_asks_for_a_stop_and_the_second_interrupts(preemption):
    signal.raise_signal(signal.SIGINT)
    assert preemption.stop_requested(1)
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)


def test_sigterm_then_ctrl_c_interrupts(preemption):
    signal.raise_signal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)


def test_restore_puts_back_a_previous_python_handler():
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda *_: seen.append("mine"))
    try:
        p = Preemption()
        signal.raise_signal(signal.SIGTERM)
        assert p.stop_requested(1) and not seen
        p.restore()
        signal.raise_signal(signal.SIGTERM)
        assert seen == ["mine"]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_off_the_main_thread_it_installs_no_handler():
    before = {sig: signal.getsignal(sig) for sig in Preemption.SIGNALS}
    made = []
    thread = threading.Thread(target=lambda: made.append(Preemption()))
    thread.start()
    thread.join()
    assert {sig: signal.getsignal(sig) for sig in Preemption.SIGNALS} == before
    assert not made[0].stop_requested(1)
    made[0].restore()
