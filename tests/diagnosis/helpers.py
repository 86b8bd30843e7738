"""Real snapshots taken in real child processes, for the diagnosis tests."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.forking import run_in_fork

_ROOT = Path(__file__).resolve().parents[2]


class Database:
    """A service that declares the sqlite file it holds."""

    def __init__(self, path: str = "/srv/app.db") -> None:
        self.path = path

    def held_resources(self) -> list[str]:
        return [f"sqlite:{self.path}"]


class Plain:
    """A service that declares nothing."""


def in_child(take: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Return the snapshot `take` returns in a child process made by `os.fork()`."""
    return run_in_fork(take)  # type: ignore[no-any-return]


_LIBC_FORK_SCRIPT = """
import ctypes, json, os, sys
from tests.diagnosis.helpers import Database
from worker_locator import ServiceLocator

locator = ServiceLocator()
locator.register("Database", Database)
locator.get("Database")
children = []
for n in range(int(sys.argv[1])):
    read_end, write_end = os.pipe()
    pid = ctypes.CDLL(None).fork()  # in C: Python's at-fork hooks do not run
    if pid == 0:
        os.write(write_end, json.dumps(locator.snapshot()).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        children.append(json.loads(pipe.read()))
    os.waitpid(pid, 0)
print(json.dumps({"parent": os.getpid(), "children": children}))
"""


def snapshots_of_libc_forks(children: int) -> tuple[int, list[dict[str, Any]]]:
    """Fork `children` times in C from a process that built a `Database`; return its pid and their snapshots.

    The forks happen in a fresh, single-threaded interpreter: a fork in C skips CPython's own
    after-fork repair, so a child forked from a process with other threads (an xdist worker has
    execnet's) can wait forever for a GIL another thread held or asked for.
    """
    done = subprocess.run(  # noqa: S603 - our own interpreter running our own code
        [sys.executable, "-c", _LIBC_FORK_SCRIPT, str(children)],
        cwd=_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = json.loads(done.stdout)
    return found["parent"], found["children"]
