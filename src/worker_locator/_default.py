"""The process's default locator: `get_locator` and `reset_locator`."""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from collections.abc import Callable

from ._locator import ServiceLocator

__all__ = ["current_default", "get_locator", "install_default", "reset_locator", "watch_creation"]

_lock = threading.Lock()
_default: ServiceLocator | None = None
# Called once each, outside the lock, when `get_locator` or `reset_locator` next creates a default.
_watchers: list[Callable[[ServiceLocator], None]] = []


def get_locator() -> ServiceLocator:
    """Return this process's default locator, creating it on first use.

    It is closed when the interpreter exits. A forked child keeps the same
    object, which drops the services it inherited, like every locator.

    Examples:
        >>> get_locator() is get_locator()
        True
    """
    locator = _default
    if locator is None:
        with _lock:
            locator = _default
            if locator is not None:
                return locator
            locator = _install(ServiceLocator())
        _created(locator)
    return locator


def reset_locator() -> ServiceLocator:
    """Replace the default locator with a new, empty one, then close the old one.

    Returns:
        The new default locator.

    Raises:
        ExceptionGroup: Closing the old locator's services failed; the new
            locator is installed all the same.

    Examples:
        >>> old = get_locator()
        >>> new = reset_locator()
        >>> new is get_locator() and new is not old
        True
    """
    with _lock:
        old = _default
        new = _install(ServiceLocator())
    if old is None:
        _created(new)
    else:
        old.close()
    return new


def install_default(locator: ServiceLocator) -> ServiceLocator | None:
    """Make `locator` the process's default and return the one it replaces, unclosed.

    Not public API: the pytest plugin reinstates the locator it isolates with it.
    """
    with _lock:
        previous = _default
        _install(locator)
    return previous


def current_default() -> ServiceLocator | None:
    """Return the default locator if one exists, without creating it.

    Not public API: the pytest plugin stays dormant while this is `None`.
    """
    return _default


def watch_creation(callback: Callable[[ServiceLocator], None]) -> Callable[[], None]:
    """Call `callback(locator)` once, when a default locator is next created; return a canceller.

    Not public API: the pytest plugin wakes up with it when a test, or a
    fixture, first uses the default locator.
    """
    with _lock:
        _watchers.append(callback)

    def cancel() -> None:
        with _lock, contextlib.suppress(ValueError):
            _watchers.remove(callback)

    return cancel


def _created(locator: ServiceLocator) -> None:
    with _lock:
        watchers = _watchers[:]
        _watchers.clear()
    for callback in watchers:
        callback(locator)


def _install(locator: ServiceLocator) -> ServiceLocator:
    global _default  # noqa: PLW0603 - the default locator is process state by definition
    _default = locator
    return locator


def _close_default_at_exit() -> None:
    if _default is not None:
        _default.close()


def _reinit_lock_in_child() -> None:
    global _lock  # noqa: PLW0603 - a lock held by another thread at fork time never unlocks
    _lock = threading.Lock()
    _watchers.clear()  # they belong to the parent's pytest session


atexit.register(_close_default_at_exit)
if hasattr(os, "register_at_fork"):  # pragma: no branch - absent only on Windows
    os.register_at_fork(after_in_child=_reinit_lock_in_child)
