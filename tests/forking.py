"""Running a function in a real forked child of the test process, with a deadline on its answer."""

from __future__ import annotations

import json
import os
import select
import signal
import time
from collections.abc import Callable
from typing import Any

#: How long a forked child may take to answer before the test fails (and the child is killed).
CHILD_DEADLINE = 120.0


def run_in_fork(body: Callable[[], Any]) -> Any:
    """Run `body` in a child made by `os.fork()` and return what it returned, through JSON."""
    payload, exit_code = fork_and_read(lambda: json.dumps(body()).encode())
    assert exit_code == 0, f"the forked child failed: {payload.decode(errors='replace')}"
    return json.loads(payload)


def fork_and_read(body: Callable[[], bytes], *, deadline: float = CHILD_DEADLINE) -> tuple[bytes, int]:
    """Run `body` in a child made by `os.fork()`; return the bytes it returned and its exit code.

    The child leaves through `os._exit` (status 0 if `body` returned, 1 if it raised), so no
    clean-up of the parent's objects runs in it. A child that has not answered within `deadline`
    seconds is sent SIGABRT (pytest's faulthandler, inherited, prints its stack to stderr), then
    killed, and the test fails saying so instead of hanging the run: a fork from a process with
    threads can deadlock in the child.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, whose coverage is not collected
        status = 1
        try:
            os.close(read_end)
            payload = body()
            status = 0
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the parent
            payload = f"{type(exc).__name__}: {exc}".encode()
        view = memoryview(payload)
        while view:
            view = view[os.write(write_end, view) :]
        os._exit(status)
    os.close(write_end)
    return read_child(read_end, pid, deadline)


def read_child(read_end: int, pid: int, deadline: float = CHILD_DEADLINE) -> tuple[bytes, int]:
    """Read what child `pid` writes to `read_end` until it closes it, then reap it; fail after `deadline` s.

    Returns the bytes and the child's exit code, and closes `read_end`.
    """
    chunks: list[bytes] = []
    ends_at = time.monotonic() + deadline
    try:
        while True:
            left = ends_at - time.monotonic()
            if left <= 0 or not select.select([read_end], [], [], left)[0]:
                _abort(pid)
                message = f"the forked child (pid {pid}) did not answer within {deadline:.0f} s"
                raise AssertionError(message)
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
    _, wait_status = os.waitpid(pid, 0)
    return b"".join(chunks), os.waitstatus_to_exitcode(wait_status)


def _abort(pid: int) -> None:
    """Make a hung child print its stack (SIGABRT), then kill it and reap it."""
    os.kill(pid, signal.SIGABRT)
    ends_at = time.monotonic() + 5
    while time.monotonic() < ends_at:
        if os.waitpid(pid, os.WNOHANG)[0]:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
