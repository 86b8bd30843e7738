"""The miss path of `ServiceLocator.get`: claim a key, build it once under per-key locks, cache it.

These functions are the locator's own: they run with its lock, condition and
construction bookkeeping (`_owners`, `_waiting`, `_stacks`, `_building`), which
they share with it, and `ServiceLocator._resolve` is `resolve`.
"""

from __future__ import annotations

import itertools
import threading
import types
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from ._cache import close_entries
from ._construction import MAX_DEPTH, Frame, construct, deadlock_chain, too_deep
from ._entries import Entry, Key, Registration
from ._errors import CircularDependencyError, ServiceNotRegisteredError

if TYPE_CHECKING:
    from ._locator import ServiceLocator

__all__ = ["NO_FAST_PATH", "in_progress", "resolve"]

# A miss copies at most this many registered keys, under the lock, to suggest names from.
_SUGGESTION_SCAN: Final = 2_000
_NONE: Final[frozenset[Any]] = frozenset()

# `get` reads this instead of the real instance map whenever every lookup has to
# take the slow path: while a factory runs (to record what it depends on) and
# while hits are counted. Immutable, so nothing can ever be cached in it.
NO_FAST_PATH: Final[Mapping[Any, Any]] = types.MappingProxyType({})


class _Claim:
    """A construction this thread owns: what `_resolve` needs once the factory has run."""

    __slots__ = ("epoch", "frame", "generation", "registration", "stack")

    def __init__(
        self, registration: Registration, stack: list[Frame], frame: Frame, generation: int, epoch: int
    ) -> None:
        self.registration = registration
        self.stack = stack
        self.frame = frame
        self.generation = generation
        self.epoch = epoch


def resolve(loc: ServiceLocator, key: Key) -> Any:  # noqa: C901, PLR0912 - the slow path kept in one frame, for speed
    me = threading.get_ident()
    with loc._lock:
        found, value = _take(loc, me, key)
    if found:
        return value
    if type(value) is not _Claim:  # the keys to suggest from, searched outside the lock
        raise ServiceNotRegisteredError(key, value)
    claim: _Claim = value
    stack = claim.stack
    try:
        instance, finaliser = construct(key, claim.registration)
    except BaseException as exc:
        with loc._lock:
            if claim.generation == loc._generation:
                _finish(loc, me, stack, key)
        if isinstance(exc, RecursionError):
            if len(stack) <= 1:
                raise too_deep(key, getattr(exc, "worker_locator_depth", 0)) from None
            if not hasattr(exc, "worker_locator_depth"):
                exc.worker_locator_depth = len(stack)  # type: ignore[attr-defined]
        raise
    victims: list[Entry] = []
    with loc._lock:
        if claim.generation != loc._generation:
            return instance  # built across a fork: the child's caller gets it, uncached
        _finish(loc, me, stack, key)
        loc._constructions += 1
        deps = claim.frame.deps
        if (
            claim.epoch == loc._epoch
            and loc._registry.factories.get(key) is claim.registration
            and (not deps or loc._cache.all_cached(deps))
        ):
            entry = Entry(
                instance,
                next(loc._seq),
                claim.registration,
                finaliser=finaliser,
                deps=deps,
                owner_pid=loc._pid,
            )
            loc._cache.add(key, entry)
            if stack:
                stack[-1].deps[key] = entry
            if loc._cache.over_bound():
                victims = loc._cache.evict(keep=key, protected=in_progress(loc) if loc._building else _NONE)
        elif stack:
            stack[-1].deps[key] = None  # the dependent is built from an uncached service
    if victims:
        _close_evicted(victims)
    return instance


def _take(loc: ServiceLocator, me: int, key: Key) -> tuple[bool, Any]:  # noqa: C901 - one state machine under one lock
    """Under the lock: return (True, instance) for a cached key, else what building it needs.

    That is (False, claim) once this thread owns the construction of `key`,
    after waiting for another thread's construction of it if need be, or
    (False, keys to suggest from) when nothing is registered under `key`.
    """
    stack = loc._stacks.get(me)
    if stack:
        if any(frame.key == key for frame in stack):
            chain = [frame.key for frame in stack]
            raise CircularDependencyError([*chain[chain.index(key) :], key])
        if len(stack) >= MAX_DEPTH:
            raise too_deep(stack[0].key, len(stack) + 1)
    while True:
        entry = loc._cache.entries.get(key)
        if entry is not None:
            loc._hits += 1
            entry.hits += 1
            loc._cache.touch(key, entry)
            if stack:
                stack[-1].deps[key] = entry
            return True, entry.instance
        registration = loc._registry.factories.get(key)
        if registration is None:
            return False, list(itertools.islice(loc._registry.factories, _SUGGESTION_SCAN))
        if key not in loc._owners:
            break
        cycle = deadlock_chain(me, key, loc._owners, loc._stacks, loc._waiting)
        if cycle:
            raise CircularDependencyError(cycle)
        loc._waiting[me] = key
        try:
            loc._cond.wait()
        finally:
            del loc._waiting[me]
    loc._misses += 1
    loc._owners[key] = me
    if stack is None:
        stack = []
        loc._stacks[me] = stack
    frame = Frame(key)
    stack.append(frame)
    loc._building += 1
    loc._hot = NO_FAST_PATH
    return False, _Claim(registration, stack, frame, loc._generation, loc._epoch)


def _finish(loc: ServiceLocator, me: int, stack: list[Frame], key: Key) -> None:
    """End the construction of `key` by this thread (the lock is held)."""
    stack.pop()
    if not stack:
        del loc._stacks[me]
    del loc._owners[key]
    loc._building -= 1
    if loc._waiting:
        loc._cond.notify_all()
    if not loc._building:
        loc._update_fast_path()


def in_progress(loc: ServiceLocator) -> set[Key]:
    """Return the keys being built and those their factories have used: they must not be evicted."""
    keys = set(loc._owners)
    for stack in loc._stacks.values():
        for frame in stack:
            keys.update(frame.deps)
    return keys


def _close_evicted(victims: list[Entry]) -> None:
    for error in close_entries(victims):
        warnings.warn(f"closing an evicted service failed: {error!r}", RuntimeWarning, stacklevel=4)
