"""Tests that need one fixed port, or one sandbox account, with `exclusive()` around them or not.

`WL_IT_LOCK=exclusive,none` chooses. The four port tests each listen on the
same fixed port (`WL_IT_PORT`) on 127.0.0.1. They meet at
`rendezvous("arrived")` first, so every worker is inside a test at once, and
a test that bound the port keeps it until every test has tried to bind it:
without the lock three of them get "Address already in use" in every run.
With `exclusive("fixed-port")` only one is inside at a time, and a holder
keeps it for at most `HOLD_AT_MOST` seconds. `WL_IT_KILL=1` makes the first
test to hold the lock SIGKILL its own worker while it holds it.

`test_holder` and `test_waiter` (run them alone, with `-n 2`): the holder
keeps the lock until the waiter has given up on it, so the waiter's timeout
names the holder.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.suite_support import choice, directory, parties, port, record, rendezvous

from worker_locator import exclusive

LOCK_TIMEOUT = 120.0  # seconds; a lock never released would fail the run instead of hanging it
HOLD_AT_MOST = 1.0  # seconds a holder waits for the other tests' bind attempts


def guard(name: str) -> contextlib.AbstractContextManager[None]:
    """Return `exclusive(name)` with `WL_IT_LOCK=exclusive`, a no-op block with `none`."""
    if choice("WL_IT_LOCK", ("exclusive", "none")) == "exclusive":
        return exclusive(name, timeout=LOCK_TIMEOUT)
    return contextlib.nullcontext()


def markers(name: str) -> Path:
    """Return the shared folder `name`, where each process drops a file named after its pid."""
    folder = directory("WL_IT_SHARED_DIR") / name
    folder.mkdir(exist_ok=True)
    return folder


def mark(name: str) -> None:
    (markers(name) / str(os.getpid())).touch()


@contextlib.contextmanager
def attempt_recorded() -> Iterator[None]:
    """Drop this process's `attempted` marker once its bind attempt is over, whether it bound or not."""
    try:
        yield
    finally:
        mark("attempted")


def hold_while_others_try() -> None:
    """Keep holding until every party has tried to bind, or `HOLD_AT_MOST` seconds (under a working lock)."""
    deadline = time.monotonic() + HOLD_AT_MOST
    while len(list(markers("attempted").iterdir())) < parties() and time.monotonic() < deadline:
        time.sleep(0.01)


def first_holder() -> bool:
    """Return True in exactly one process of the run: the first to ask."""
    try:
        (directory("WL_IT_SHARED_DIR") / "victim").open("x").close()
    except FileExistsError:
        return False
    return True


def kill_mode() -> bool:
    return choice("WL_IT_KILL", ("0", "1")) == "1"


@pytest.mark.parametrize("n", range(4))
def test_needs_the_fixed_port(n: int) -> None:
    rendezvous("arrived")
    with guard("fixed-port"):
        record({"kind": "enter", "test": n, "at": time.time()})
        with socket.socket() as server:
            with attempt_recorded():
                server.bind(("127.0.0.1", port()))
                server.listen()
            if kill_mode() and first_holder():
                record({"kind": "victim", "test": n})
                os.kill(os.getpid(), signal.SIGKILL)
            hold_while_others_try()
        record({"kind": "exit", "test": n, "at": time.time()})


WAIT = 300.0  # seconds; a guard against hanging the run, never a measurement


def _wait_for(name: str) -> None:
    deadline = time.monotonic() + WAIT
    while not any(markers(name).iterdir()):
        assert time.monotonic() < deadline, f"nobody dropped {name!r} in {WAIT:.0f}s"
        time.sleep(0.01)


def test_holder() -> None:
    with exclusive("sandbox-account"):
        record({"kind": "holding"})
        mark("holding")
        _wait_for("waiter-done")


def test_waiter() -> None:
    _wait_for("holding")
    try:
        with exclusive("sandbox-account", timeout=0.5):
            pass
    finally:
        mark("waiter-done")
