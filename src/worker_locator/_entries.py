"""What the locator stores: registrations (how to build a key) and cache entries (what was built)."""

from __future__ import annotations

import inspect
import os
import time
import types
from collections.abc import Callable, Generator, Mapping
from typing import Any, Final, TypeAlias

__all__ = ["NO_DEPS", "Entry", "Key", "Registration", "check_key"]

Key: TypeAlias = "type[Any] | str"


class Registration:
    """How one key is built: its factory, and the flags given to `register` or `override`."""

    __slots__ = ("factory", "is_generator", "is_override", "keep_between_tests")

    def __init__(
        self, factory: Callable[[], Any], *, is_override: bool = False, keep_between_tests: bool = False
    ) -> None:
        self.factory = factory
        self.is_generator = inspect.isgeneratorfunction(factory)
        self.is_override = is_override
        self.keep_between_tests = keep_between_tests


NO_DEPS: Final[Mapping[Any, Any]] = types.MappingProxyType({})
"""The `deps` of an entry whose factory looked nothing up: shared, so immutable."""


class Entry:
    """One cached service: the instance, how it was built, and what it was built from.

    `deps` maps each key its factory looked up to the entry it got, or to
    `None` when that dependency could not be cached; an entry is cached only
    while all of them still are.
    """

    __slots__ = ("created_at", "deps", "finaliser", "hits", "instance", "owner_pid", "registration", "seq")

    def __init__(  # noqa: PLR0913, PLR0917 - positional, since a miss builds one: keywords cost more
        self,
        instance: object,
        seq: int,
        registration: Registration,
        finaliser: Generator[Any, None, None] | None = None,
        deps: Mapping[Key, Entry | None] = NO_DEPS,
        created_at: float | None = None,
        owner_pid: int | None = None,
    ) -> None:
        self.instance = instance
        self.seq = seq
        self.registration = registration
        self.finaliser = finaliser
        self.deps = deps
        self.created_at = time.time() if created_at is None else created_at
        self.owner_pid = os.getpid() if owner_pid is None else owner_pid
        self.hits = 0

    @property
    def is_override(self) -> bool:
        """Whether this is an `override` value, which belongs to the caller and is never closed."""
        return self.registration.is_override


def check_key(key: object) -> None:
    """Raise `TypeError` unless `key` is a type or a string."""
    if not isinstance(key, (type, str)):
        msg = f"service keys are types or strings, got {type(key).__name__} {key!r}"
        raise TypeError(msg)
