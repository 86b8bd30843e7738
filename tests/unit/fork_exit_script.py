"""Build services in the parent, fork, and let the child exit the way `argv[1]` says.

`argv[3]` is the scenario: `locators` (a user locator in a module global, and
the default locator) or `proxy` (a `LazyProxy` in a module global).

Run by `test_fork_exit.py` as a real script: `sys.exit`, `raise SystemExit` and
`end` (falling off the end of the script) all run interpreter shutdown in the
child, which frees what module globals hold. Every clean-up appends
`<pid that ran it> <what> built-by <pid that built it>` to `log.txt` in the
directory `argv[2]`, and the sqlite session's clean-up also writes a row into
`app.db` there, so the test can tell whose clean-up ran where.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from worker_locator import LazyProxy, ServiceLocator, get_locator

MODE, WORKDIR, SCENARIO = sys.argv[1], Path(sys.argv[2]), sys.argv[3]


# Clean-ups may run while interpreter shutdown clears module globals, so everything
# they use is bound in advance: default arguments and the generators' locals.
LOG = os.open(WORKDIR / "log.txt", os.O_WRONLY | os.O_APPEND | os.O_CREAT)


def note(event: str, builder: int, *, _log: int = LOG, _write: Any = os.write, _pid: Any = os.getpid) -> None:
    """Record that this process ran the clean-up `event` of something `builder` built."""
    _write(_log, f"{_pid()} {event} built-by {builder}\n".encode())


class Part:
    """Something a service holds, with a `weakref.finalize` of its own."""


class Finalised:
    """An object whose `__del__` and `weakref.finalize` callbacks (its own, its part's) leave traces."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.builder = os.getpid()
        self.part = Part()
        weakref.finalize(self, note, f"finalize:{name}", self.builder)
        weakref.finalize(self.part, note, f"finalize-part:{name}", self.builder)

    def __del__(self, _note: Any = note) -> None:
        _note(f"del:{self.name}", self.builder)


class Closed:
    """A service with a `close()` method that leaves a trace."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.builder = os.getpid()

    def close(self, _note: Any = note) -> None:
        _note(f"close:{self.name}", self.builder)


def session() -> Iterator[sqlite3.Connection]:
    """Yield a real sqlite connection; its clean-up writes a row and closes it, as a lease release would."""
    builder, getpid, done = os.getpid(), os.getpid, note
    conn = sqlite3.connect(WORKDIR / "app.db", isolation_level=None)
    try:
        yield conn
    finally:
        conn.execute("insert into cleanups values (?, ?)", (getpid(), builder))
        conn.close()
        done("finally:session", builder)


def journal() -> Iterator[Finalised]:
    """A generator factory of the default locator, whose `finally:` leaves a trace."""
    builder, done = os.getpid(), note
    try:
        yield Finalised("journal")
    finally:
        done("finally:journal", builder)


with sqlite3.connect(WORKDIR / "app.db") as setup:
    setup.execute("create table if not exists cleanups (closer integer, builder integer)")
setup.close()

# The two scenarios run apart: what the child quarantines keeps the module's
# globals alive, so a proxy beside a locator would survive even if unprotected.
if SCENARIO == "locators":
    LOCATOR = ServiceLocator()  # a user locator held by a module global
    LOCATOR.register(sqlite3.Connection, session)
    LOCATOR.register(Finalised, lambda: Finalised("global-locator"))
    get_locator().register(Closed, lambda: Closed("default-locator"))
    get_locator().register("journal", journal)
    parent_conn = LOCATOR.get(sqlite3.Connection)
    LOCATOR.get(Finalised)
    get_locator().get(Closed)
    get_locator().get("journal")
else:
    PROXY = LazyProxy(lambda: Finalised("proxy"))
    _ = PROXY.name

pid = os.fork()
if pid == 0:
    # The child's own services: built here, and cleaned up here as documented.
    if SCENARIO == "locators":
        LOCATOR.get(sqlite3.Connection)
        LOCATOR.get(Finalised)
        LOCATOR.close()  # closes only what this child built
        get_locator().get(Closed)  # closed by the default locator's exit hook
    else:
        _ = PROXY.name  # the child's own target, freed at its exit
    if MODE == "sys.exit":
        sys.exit(0)
    elif MODE == "SystemExit":
        raise SystemExit(0)
    # MODE "end": fall off the end of the script
else:
    _, status = os.waitpid(pid, 0)
    note(f"child-exit:{os.waitstatus_to_exitcode(status)}", pid)
    # Then the parent cleans up its own, which shows that the traces can appear.
    if SCENARIO == "locators":
        # The parent's connection still works, inside a transaction of its own.
        parent_conn.execute("begin")
        parent_conn.execute("insert into cleanups values (0, 0)")
        parent_conn.execute("rollback")
        note(f"parent-conn-ok:{parent_conn.execute('select 1').fetchone()[0]}", os.getpid())
        LOCATOR.close()
    else:
        del PROXY
