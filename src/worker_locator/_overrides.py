"""`override` blocks: what one block changed, so that leaving it undoes exactly that.

`enter` and `leave` work on the locator's own registry, cache and lock, under
that lock, as part of the locator.
"""

from __future__ import annotations

import types
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, TypeVar

from ._cache import close_entries
from ._entries import Entry, Key, Registration
from ._errors import shown_name
from ._lookup import in_progress

if TYPE_CHECKING:
    from ._locator import ServiceLocator

__all__ = ["OverrideBlock", "OverrideState", "enter", "leave"]

T = TypeVar("T")


class OverrideState:
    """What one open block changed: the key's previous registration and the cached services it set aside."""

    __slots__ = ("generation", "key", "previous", "registration", "saved")

    def __init__(
        self,
        key: Key,
        registration: Registration,
        previous: Registration | None,
        saved: list[tuple[Key, Entry]],
        generation: int,
    ) -> None:
        self.key = key
        self.registration = registration
        self.previous = previous
        self.saved = saved
        self.generation = generation


class OverrideBlock(AbstractContextManager[T]):
    """The context manager `ServiceLocator.override` returns; see there."""

    def __init__(self, locator: ServiceLocator, key: Key, value: T) -> None:
        self._locator = locator
        self._key = key
        self._value = value
        self._state: OverrideState | None = None

    def __enter__(self) -> T:
        if self._state is not None:
            msg = f"override({shown_name(self._key)!r}) is already open; call override() again to nest"
            raise RuntimeError(msg)
        self._state = enter(self._locator, self._key, self._value)
        return self._value

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        state, self._state = self._state, None
        if state is None:
            return
        errors, still_open = leave(self._locator, state)
        name = shown_name(self._key)
        if exc is not None:
            for error in errors:
                exc.add_note(f"closing a service built inside override({name!r}) also failed: {error!r}")
        elif still_open:
            msg = (
                f"override() blocks must be exited in the reverse order they were entered; {still_open} inner"
                " block(s) were still open and have been undone before this one"
            )
            raise RuntimeError(msg)
        elif errors:
            msg = f"closing services built inside override({name!r}) failed"
            raise ExceptionGroup(msg, errors)


def enter(loc: ServiceLocator, key: Key, value: object) -> OverrideState:
    """Override `key` with `value` in `loc` until `leave`; return what the block changed."""
    registration = Registration(lambda: value, is_override=True)
    with loc._lock:
        previous = loc._registry.factories.get(key)
        loc._registry.set(key, registration)
        saved = loc._cache.drop_with_dependents(key)
        state = OverrideState(key, registration, previous, saved, loc._generation)
        loc._cache.add(key, Entry(value, next(loc._seq), registration))
        loc._overrides.append(state)
        return state


def leave(loc: ServiceLocator, state: OverrideState) -> tuple[list[Exception], int]:
    """Undo `state` and the blocks opened after it; return the close failures and how many those were."""
    to_close: list[Entry] = []
    with loc._lock:
        if state not in loc._overrides:
            return [], 0  # discarded by `restore` or by an outer block's exit
        position = loc._overrides.index(state)
        undone = loc._overrides[position:]
        del loc._overrides[position:]
        for block in reversed(undone):
            to_close.extend(_undo(loc, block))
    return close_entries(to_close), len(undone) - 1


def _undo(loc: ServiceLocator, state: OverrideState) -> list[Entry]:
    """Undo one override block (`loc`'s lock is held); return the entries to close."""
    to_close = [entry for _, entry in loc._cache.drop_with_dependents(state.key)]
    if loc._registry.factories.get(state.key) is state.registration:
        loc._registry.set(state.key, state.previous)
    if state.generation != loc._generation:
        return to_close  # the set-aside services are the parent's: never touched here
    for key, entry in sorted(state.saved, key=lambda item: item[1].seq):
        if (
            loc._registry.factories.get(key) is entry.registration
            and key not in loc._cache.entries
            and loc._cache.all_cached(entry.deps)
        ):
            loc._cache.add(key, entry)
        else:
            to_close.append(entry)
    if loc._cache.over_bound():
        to_close.extend(loc._cache.evict(keep=None, protected=in_progress(loc)))
    return to_close
