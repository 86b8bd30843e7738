"""Building one service: calling its factory, deadlock detection across threads and the depth limit."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Final

from ._entries import Key, Registration
from ._errors import shown_name

__all__ = ["MAX_DEPTH", "construct", "deadlock_chain", "too_deep"]

MAX_DEPTH: Final = 200
"""The longest chain of services building each other (a factory calling `get`, and so on)."""


def construct(key: Key, registration: Registration) -> tuple[Any, Generator[Any, None, None] | None]:
    """Call the factory of `key`; return the service and, for a generator factory, the suspended generator."""
    if not registration.is_generator:
        return registration.factory(), None
    generator = registration.factory()
    try:
        instance = next(generator)
    except StopIteration:
        msg = f"the generator factory for {shown_name(key)!r} returned without yielding a service"
        raise RuntimeError(msg) from None
    return instance, generator


def too_deep(start: Key, depth: int) -> RuntimeError:
    """Return the error for a chain of constructions that is too deep to finish."""
    reached = f"{depth} levels" if depth else "Python's recursion limit"
    return RuntimeError(
        f"the chain of services starting at {shown_name(start)!r} reached {reached} (the limit is"
        f" {MAX_DEPTH}); build part of it without nested get() calls, or shorten it"
    )


def deadlock_chain(
    me: int,
    key: Key,
    owners: dict[Key, int],
    stacks: dict[int, list[Key]],
    waiting: dict[int, Key],
) -> list[Key] | None:
    """Return the cycle that waiting for `key` would close, or `None` if waiting is safe.

    Follows "thread builds key, waits for key owned by thread ..." until it
    either ends or comes back to this thread, as importlib does for module locks.
    """
    chain = list(stacks.get(me, ()))
    for _ in range(len(owners) + 1):
        owner = owners.get(key)
        if owner is None:
            return None
        chain.append(key)
        owner_keys = stacks.get(owner, [])
        if key in owner_keys:
            chain.extend(owner_keys[owner_keys.index(key) + 1 :])
        waited = waiting.get(owner)
        if waited is None:
            return None
        if owners.get(waited) == me:
            chain.append(waited)
            return chain[chain.index(waited) :]
        key = waited
    return None
