"""Tell live locators and proxies that they now run in a forked child, and keep what the child inherited.

One `os.register_at_fork` hook serves every object: such hooks cannot be
unregistered, so each object is held weakly and is garbage-collected as usual.
The hook costs nothing per lookup, unlike an `os.getpid()` check on every call.

What a child inherited is *quarantined*: given one reference that no Python code
owns, so that nothing (not the garbage collector, not the clearing of module
globals at interpreter shutdown) ever frees it in the child, and no `__del__`,
weakref callback or suspended generator's `finally:` of the parent's objects
runs there, however the child exits.
"""

from __future__ import annotations

import ctypes
import os
import weakref
from collections.abc import Iterable
from typing import Protocol

__all__ = ["ForkAware", "fork_generation", "quarantine", "release", "watch_forks"]


class ForkAware(Protocol):
    """An object that must forget what it inherited when the process forks."""

    def _after_fork_in_child(self) -> None: ...


_watched: weakref.WeakSet[ForkAware] = weakref.WeakSet()
_generation = 0

_incref = ctypes.pythonapi.Py_IncRef
_incref.argtypes = [ctypes.py_object]
_incref.restype = None
_decref = ctypes.pythonapi.Py_DecRef
_decref.argtypes = [ctypes.py_object]
_decref.restype = None


def watch_forks(obj: ForkAware) -> None:
    """Call `obj._after_fork_in_child()` in every child forked while `obj` is alive."""
    _watched.add(obj)


def fork_generation() -> int:
    """Return how many forks separate this process from the one that imported the library."""
    return _generation


def quarantine(objects: Iterable[object]) -> list[object]:
    """Keep `objects` alive in this process until `release`, whatever happens to their Python references.

    Returns:
        The objects, in a list to hand to `release` later.
    """
    held = list(objects)
    for obj in held:
        _incref(obj)
    return held


def release(held: list[object]) -> None:
    """Give back the references `quarantine` took, emptying `held`; the objects may then be freed here."""
    while held:
        _decref(held.pop())


def _after_fork_in_child() -> None:
    global _generation  # noqa: PLW0603 - the per-process fork counter is process state by nature
    _generation += 1
    for obj in list(_watched):
        obj._after_fork_in_child()  # noqa: SLF001 - the protocol's own hook


if hasattr(os, "register_at_fork"):  # pragma: no branch - absent only on Windows
    os.register_at_fork(after_in_child=_after_fork_in_child)
