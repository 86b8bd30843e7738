"""Exceptions raised by the locator, and how keys are named in messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Final

__all__ = [
    "CircularDependencyError",
    "ServiceNotRegisteredError",
    "key_name",
    "shown_name",
]


# Names longer than this are elided in messages, and not offered as suggestions.
_SHOWN_NAME: Final = 200


def key_name(key: object) -> str:
    """Return the short name a key is shown by: a type's qualified name, a string as is."""
    if isinstance(key, type):
        return key.__qualname__
    return str(key)


def shown_name(key: object) -> str:
    """Return `key_name(key)` elided in the middle to at most 200 characters, for messages."""
    name = key_name(key)
    if len(name) <= _SHOWN_NAME:
        return name
    half = (_SHOWN_NAME - 3) // 2
    return f"{name[:half]}...{name[-half:]}"


class ServiceNotRegisteredError(LookupError):
    """Raised by `get` for a key that has no registered factory.

    Attributes:
        key: The key that was asked for.
        suggestions: Names of registered keys that look like it, closest first,
            searched among the first 2,000 registered keys and only among names
            of at most 200 characters, so that a miss costs the same however
            many keys are registered.
    """

    def __init__(self, key: object, registered: Iterable[object]) -> None:
        self.key = key
        name = key_name(key)
        self.suggestions: tuple[str, ...] = ()
        if len(name) <= _SHOWN_NAME:
            names = [n for n in map(key_name, registered) if len(n) <= _SHOWN_NAME]
            self.suggestions = tuple(difflib.get_close_matches(name, names, n=3, cutoff=0.5))
        message = f"no service registered for {shown_name(key)!r}"
        if self.suggestions:
            message += f"; did you mean {' or '.join(map(repr, self.suggestions))}?"
        else:
            message += "; register a factory for it first with locator.register(key, factory)"
        super().__init__(message)


class CircularDependencyError(RuntimeError):
    """Raised when resolving a key needs that key again, directly or through other factories.

    Attributes:
        chain: The keys in the order they were being resolved, ending with the repeated one.
    """

    def __init__(self, chain: Sequence[object]) -> None:
        self.chain: tuple[object, ...] = tuple(chain)
        super().__init__("circular dependency: " + " -> ".join(shown_name(k) for k in self.chain))
