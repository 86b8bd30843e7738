"""The miss path of `ServiceLocator.get`: claim a key, build it once under per-key locks, cache it.

These functions are the locator's own: they run with its lock, condition and
construction bookkeeping, which they share with it, and
`ServiceLocator._resolve` is `resolve`. The bookkeeping, all under the lock:

- `_owners` maps each key being built to the thread building it (the per-key lock);
- `_stacks` maps each thread that is building to the keys it is building, outermost first;
- `_deps` maps a key being built to what its factory has looked up so far, once it has;
- `_waiting` maps each thread waiting for another's construction to the key it waits for.

While `_owners` is not empty, `get` reads `NO_FAST_PATH`, so that every lookup
made by a running factory comes here and is recorded as a dependency.
"""

from __future__ import annotations

import itertools
import time
import types
import warnings
from collections.abc import Mapping
from threading import get_ident
from typing import TYPE_CHECKING, Any, Final

from ._cache import close_entries
from ._construction import MAX_DEPTH, construct, deadlock_chain, too_deep
from ._entries import NO_DEPS, Entry, Key, Registration
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


def resolve(loc: ServiceLocator, key: Key) -> Any:
    """Return `key`'s instance when the lock-free lookup of `get` missed: count a hit, or build it.

    An uncontended miss takes the lock twice, to claim the key here and to
    cache what its factory returned in `_build` (the factory runs outside the
    lock), and allocates the cache entry and nothing else.
    """
    me = get_ident()
    lock = loc._lock  # acquired and released by hand: cheaper than `with` on the hot path
    try:
        lock.acquire()
        try:
            stack = loc._stacks.get(me)
            if stack is not None:
                if key in stack:
                    raise CircularDependencyError([*stack[stack.index(key) :], key])
                if len(stack) >= MAX_DEPTH:
                    raise too_deep(stack[0], len(stack) + 1)
            entry = loc._cache.entries.get(key)
            if entry is not None:
                return _hit(loc, key, entry, stack)
            registration = loc._registry.factories.get(key)
            if registration is None or key in loc._owners:
                found = _wait_for(loc, me, key)
                if isinstance(found, Entry):
                    return _hit(loc, key, found, stack)
                registration = found
            loc._misses += 1
            loc._owners[key] = me
            if stack is None:
                stack = loc._stacks[me] = [key]
            else:
                stack.append(key)
            loc._hot = NO_FAST_PATH
            generation, epoch = loc._generation, loc._epoch
        finally:
            lock.release()
    except _NotRegistered as missing:
        registered = missing.registered
    else:
        return _build(loc, me, key, registration, stack, generation, epoch)
    # Outside the handler, so that the error is not chained; names are searched outside the lock.
    raise ServiceNotRegisteredError(key, registered)


def _build(  # noqa: C901, PLR0912, PLR0913, PLR0917 - one frame for the whole build, for speed; the claim passed on as is
    loc: ServiceLocator,
    me: int,
    key: Key,
    registration: Registration,
    stack: list[Key],
    generation: int,
    epoch: int,
) -> Any:
    """Run the factory of `key`, which this thread has claimed, then cache the service and end the claim.

    The instance is not cached if the process forked meanwhile (`generation`),
    if the cache was reset (`epoch`) or `key` registered again, or if
    something its factory looked up is no longer cached.
    """
    try:
        if registration.is_generator:
            instance, finaliser = construct(key, registration)
        else:
            instance, finaliser = registration.factory(), None
    except BaseException as exc:
        with loc._lock:
            if generation == loc._generation:
                _release(loc, me, key, stack)
        if isinstance(exc, RecursionError) and _too_deep(exc, stack):
            raise too_deep(key, getattr(exc, "worker_locator_depth", 0)) from None
        raise
    victims: list[Entry] | None = None
    lock = loc._lock  # read again: a factory that forks runs on in a child with a new lock
    lock.acquire()
    try:
        if generation != loc._generation:
            return instance  # built across a fork: the child's caller gets it, uncached
        deps = _release(loc, me, key, stack)
        loc._constructions += 1
        cache = loc._cache
        entries = cache.entries
        if (
            epoch == loc._epoch
            and loc._registry.factories.get(key) is registration
            and (deps is NO_DEPS or cache.all_cached(deps))
        ):
            entry = Entry(instance, next(loc._seq), registration, finaliser, deps, time.time(), loc._pid)
            entries[key] = entry
            if deps is not NO_DEPS:
                cache.link(key, deps)
            if stack:
                _record(loc, stack[-1], key, entry)
            bound = cache.bound
            if bound is not None and len(entries) > bound:
                victims = cache.evict(keep=key, protected=in_progress(loc) if loc._owners else _NONE)
        elif stack:
            _record(loc, stack[-1], key, None)  # the dependent is built from an uncached service
    finally:
        lock.release()
    if victims:
        _close_evicted(victims)
    return instance


def _too_deep(exc: RecursionError, stack: list[Key]) -> bool:
    """Whether `exc` ends the outermost construction of a chain, to be replaced by the depth error.

    Inner constructions let it propagate, noting the depth it was raised at.
    """
    if len(stack) <= 1:
        return True
    if not hasattr(exc, "worker_locator_depth"):
        exc.worker_locator_depth = len(stack)  # type: ignore[attr-defined]
    return False


def _hit(loc: ServiceLocator, key: Key, entry: Entry, stack: list[Key] | None) -> Any:
    """Under the lock: answer a lookup of cached `key` on the slow path, noting the use."""
    loc._hits += 1
    entry.hits += 1
    loc._cache.touch(key, entry)
    if stack:
        _record(loc, stack[-1], key, entry)
    return entry.instance


def _record(loc: ServiceLocator, building: Key, key: Key, entry: Entry | None) -> None:
    """Under the lock: note that the factory of `building` looked up `key` and got `entry`."""
    deps = loc._deps.get(building)
    if deps is None:
        loc._deps[building] = {key: entry}
    else:
        deps[key] = entry


class _NotRegistered(Exception):  # noqa: N818 - not an error of its own: carries what `resolve` raises
    """Nothing is registered under the key: `registered` holds the keys to suggest names from."""

    def __init__(self, registered: list[Key]) -> None:
        self.registered = registered


def _wait_for(loc: ServiceLocator, me: int, key: Key) -> Entry | Registration:
    """Under the lock: wait while another thread builds `key`; return what `resolve` goes on with.

    That is the entry once `key` is cached, or its registration once no thread
    builds it. Raises `CircularDependencyError` where waiting would deadlock,
    and `_NotRegistered` when nothing is registered under `key`.
    """
    while True:
        registration = loc._registry.factories.get(key)
        if registration is None:
            raise _NotRegistered(list(itertools.islice(loc._registry.factories, _SUGGESTION_SCAN)))
        if key not in loc._owners:
            return registration
        cycle = deadlock_chain(me, key, loc._owners, loc._stacks, loc._waiting)
        if cycle:
            raise CircularDependencyError(cycle)
        loc._waiting[me] = key
        try:
            loc._cond.wait()
        finally:
            del loc._waiting[me]
        entry = loc._cache.entries.get(key)
        if entry is not None:
            return entry


def _release(loc: ServiceLocator, me: int, key: Key, stack: list[Key]) -> Mapping[Key, Entry | None]:
    """Under the lock: end this thread's construction of `key`; return what its factory looked up."""
    stack.pop()
    if not stack:
        del loc._stacks[me]
    owners = loc._owners
    del owners[key]
    if loc._waiting:
        loc._cond.notify_all()
    if not owners and not loc._count_hits:
        loc._hot = loc._fast
    return loc._deps.pop(key, NO_DEPS) if loc._deps else NO_DEPS


def in_progress(loc: ServiceLocator) -> set[Key]:
    """Return the keys being built and those their factories have used: they must not be evicted."""
    keys = set(loc._owners)
    for deps in loc._deps.values():
        keys.update(deps)
    return keys


def _close_evicted(victims: list[Entry]) -> None:
    for error in close_entries(victims):
        warnings.warn(f"closing an evicted service failed: {error!r}", RuntimeWarning, stacklevel=4)
