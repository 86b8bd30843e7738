"""Real snapshots taken in real child processes, for the diagnosis tests."""

from __future__ import annotations

import ctypes
import json
import os
from collections.abc import Callable
from typing import Any

from tests.forking import fork_and_read


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
    payload, exit_code = fork_and_read(lambda: json.dumps(take()).encode(), fork=fork)
    assert exit_code == 0, f"the child failed: {payload.decode(errors='replace')}"
    return json.loads(payload)  # type: ignore[no-any-return]


def libc_fork() -> int:
    """Fork in C, skipping Python's at-fork hooks, so the child keeps the parent's instances.

    Called through `PyDLL`, which keeps the GIL across the call: through `CDLL` the GIL is released,
    and a child forked while another thread of the test process held it waits for it forever.
    """
    return int(ctypes.PyDLL(None).fork())
