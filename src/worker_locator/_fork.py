"""Tell live locators and proxies that they now run in a forked child.

One `os.register_at_fork` hook serves every object: such hooks cannot be
unregistered, so each object is held weakly and is garbage-collected as usual.
The hook costs nothing per lookup, unlike an `os.getpid()` check on every call.
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol

__all__ = ["ForkAware", "fork_generation", "watch_forks"]


class ForkAware(Protocol):
    """An object that must forget what it inherited when the process forks."""

    def _after_fork_in_child(self) -> None: ...


_watched: weakref.WeakSet[ForkAware] = weakref.WeakSet()
_generation = 0


def watch_forks(obj: ForkAware) -> None:
    """Call `obj._after_fork_in_child()` in every child forked while `obj` is alive."""
    _watched.add(obj)


def fork_generation() -> int:
    """Return how many forks separate this process from the one that imported the library."""
    return _generation


def _after_fork_in_child() -> None:
    global _generation  # noqa: PLW0603 - the per-process fork counter is process state by nature
    _generation += 1
    for obj in list(_watched):
        obj._after_fork_in_child()  # noqa: SLF001 - the protocol's own hook


if hasattr(os, "register_at_fork"):  # pragma: no branch - absent only on Windows
    os.register_at_fork(after_in_child=_after_fork_in_child)
