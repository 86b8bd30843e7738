"""The helpers' C-level fork answers even while another thread of the test process is running."""

from __future__ import annotations

import threading

from tests.diagnosis.helpers import libc_fork
from tests.forking import fork_and_read


def test_a_libc_fork_child_answers_while_another_thread_holds_the_gil_often() -> None:
    # Through ctypes.CDLL the GIL is released around fork(), and about half of these children
    # (measured: 117 of 200) would wait forever for a GIL held by the spinning thread.
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(1000))

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        answers = [fork_and_read(lambda: b"here", fork=libc_fork, deadline=10) for _ in range(40)]
    finally:
        stop.set()
        spinner.join()
    assert answers == [(b"here", 0)] * 40
