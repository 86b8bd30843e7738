"""`override` blocks: what one block changed, so that leaving it undoes exactly that."""

from __future__ import annotations

import types
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, TypeVar

from ._entries import Entry, Key, Registration
from ._errors import shown_name

if TYPE_CHECKING:
    from ._locator import ServiceLocator

__all__ = ["OverrideBlock", "OverrideState"]

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
        self._state = self._locator._enter_override(self._key, self._value)  # noqa: SLF001 - its own locator
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
        errors, still_open = self._locator._leave_override(state)  # noqa: SLF001 - its own locator
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
