"""Exceptions raised by the locator, and how keys are named in messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

__all__ = [
    "CircularDependencyError",
    "ServiceNotRegisteredError",
    "key_name",
]


def key_name(key: object) -> str:
    """Return the short name a key is shown by: a type's qualified name, a string as is."""
    if isinstance(key, type):
        return key.__qualname__
    return str(key)


class ServiceNotRegisteredError(LookupError):
    """Raised by `get` for a key that has no registered factory.

    Attributes:
        key: The key that was asked for.
        suggestions: Names of registered keys that look like it, closest first.
    """

    def __init__(self, key: object, registered: Iterable[object]) -> None:
        self.key = key
        name = key_name(key)
        self.suggestions: tuple[str, ...] = tuple(
            difflib.get_close_matches(name, [key_name(k) for k in registered], n=3, cutoff=0.5)
        )
        message = f"no service registered for {name!r}"
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
        super().__init__("circular dependency: " + " -> ".join(key_name(k) for k in self.chain))
