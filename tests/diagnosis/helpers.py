"""Real snapshots taken in real child processes, for the diagnosis tests."""

from __future__ import annotations

import ctypes
import json
import os
from collections.abc import Callable
from typing import Any


class Database:
    """A service that declares the sqlite file it holds."""

    def __init__(self, path: str = "/srv/app.db") -> None:
        self.path = path

    def held_resources(self) -> list[str]:
        return [f"sqlite:{self.path}"]


class Plain:
    """A service that declares nothing."""


def in_child(take: Callable[[], dict[str, Any]], fork: Callable[[], int] = os.fork) -> dict[str, Any]:
    """Return the snapshot `take` returns in a child process made by `fork`."""
    read_end, write_end = os.pipe()
    pid = fork()
    if pid == 0:  # pragma: no cover - the child process
        status = 0
        try:
            os.close(read_end)
            os.write(write_end, json.dumps(take()).encode())
        except BaseException:  # noqa: BLE001 - the child must always leave through os._exit
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return json.loads(b"".join(chunks))  # type: ignore[no-any-return]


def libc_fork() -> int:
    """Fork in C, skipping Python's at-fork hooks, so the child keeps the parent's instances."""
    return int(ctypes.CDLL(None).fork())
