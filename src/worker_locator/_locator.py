"""`ServiceLocator`: lazy, cached, fork-safe and thread-safe access to services."""

from __future__ import annotations

import inspect
import itertools
import os
import threading
import time
import types
import warnings
from collections import Counter, OrderedDict
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any, Final, TypeAlias, TypedDict, TypeVar, cast, overload

from ._errors import CircularDependencyError, ServiceNotRegisteredError, key_name
from ._fork import quarantine, release, watch_forks
from ._identity import host_name, resource_namespace, worker_id

__all__ = ["LocatorStats", "ServiceLocator"]

T = TypeVar("T")
_Key: TypeAlias = "type[Any] | str"

SNAPSHOT_FORMAT: Final = 1
_MAX_RESOURCES_PER_SERVICE: Final = 100
# Eviction counts are kept per service name up to this many names, so that a workload
# with ever-new keys cannot grow them without limit; further names go in one total.
_MAX_EVICTED_NAMES: Final = 256

# `get` reads this instead of the real instance map whenever every lookup has to
# take the slow path: while a factory runs (to record what it depends on) and
# while hits are counted. Immutable, so nothing can ever be cached in it.
_NO_FAST_PATH: Final[Mapping[Any, Any]] = types.MappingProxyType({})


class LocatorStats(TypedDict):
    """Counters of one locator in this process, as `ServiceLocator.stats` returns them."""

    hits: int | None
    """Lookups answered from the cache, or `None` while hits are not counted."""
    misses: int
    """Lookups that had to build the service."""
    constructions: int
    """Factory calls that returned a service."""
    evictions: int
    """Services dropped and closed because the cache was at its bound."""
    cached: int
    """Services cached now."""


class _Registration:
    __slots__ = ("factory", "is_generator", "is_override", "keep_between_tests")

    def __init__(
        self, factory: Callable[[], Any], *, is_override: bool = False, keep_between_tests: bool = False
    ) -> None:
        self.factory = factory
        self.is_generator = inspect.isgeneratorfunction(factory)
        self.is_override = is_override
        self.keep_between_tests = keep_between_tests


class Checkpoint:
    """The registrations of a locator at one moment, as `ServiceLocator.checkpoint` took them.

    Pass it to `ServiceLocator.restore` to return to that moment. Opaque by
    design: only `checkpoint()` makes one.
    """

    __slots__ = ("_factories", "_generation")
    _factories: dict[_Key, _Registration]
    _generation: int

    def __init__(self) -> None:
        msg = "checkpoints are taken with ServiceLocator.checkpoint(), not built directly"
        raise TypeError(msg)

    @classmethod
    def _take(cls, factories: dict[_Key, _Registration], generation: int) -> Checkpoint:
        checkpoint = object.__new__(cls)
        checkpoint._factories = factories
        checkpoint._generation = generation
        return checkpoint

    def __repr__(self) -> str:
        return f"<Checkpoint of {len(self._factories)} registrations>"


class _Entry:
    __slots__ = ("created_at", "finaliser", "hits", "instance", "owner_pid", "registration", "seq")

    def __init__(
        self,
        instance: object,
        seq: int,
        registration: _Registration,
        *,
        finaliser: Generator[Any, None, None] | None = None,
    ) -> None:
        self.instance = instance
        self.seq = seq
        self.registration = registration
        self.finaliser = finaliser
        self.created_at = time.time()
        self.owner_pid = os.getpid()
        self.hits = 0

    @property
    def is_override(self) -> bool:
        return self.registration.is_override


class _SavedState:
    """What an `override` block restores on exit."""

    __slots__ = ("dependents", "entries", "factories", "fast", "generation", "seq")

    def __init__(self, locator: ServiceLocator) -> None:
        self.factories = dict(locator._factories)  # noqa: SLF001 - a private helper of the locator
        self.entries = OrderedDict(locator._entries)  # noqa: SLF001 - the same helper
        self.fast = dict(locator._fast)  # noqa: SLF001 - the same helper
        self.dependents = {k: set(v) for k, v in locator._dependents.items()}  # noqa: SLF001 - the same helper
        self.generation = locator._generation  # noqa: SLF001 - the same helper
        self.seq = locator._last_seq  # noqa: SLF001 - the same helper


class ServiceLocator:
    """Build each registered service once per process, on first use, and hand out that instance.

    A locator maps keys (types or strings) to zero-argument factories. `get`
    calls a key's factory the first time the key is asked for and caches the
    result; factories may call `get` for their own dependencies. The cache is
    this process's own: a child made by `os.fork()` or a multiprocessing "fork"
    start drops what it inherited (never closing it, since the parent still uses
    it) and builds its own instances. Construction is locked per key, so racing
    threads build a service once, while factories of different keys run in
    parallel.

    Args:
        max_cached: How many services this process keeps at most; past it, the
            least recently used one is evicted and closed. `None` for no bound.
        count_hits: Count cache hits exactly (see `stats`). Counting takes every
            lookup through the slow path, so it is off unless asked for.

    Raises:
        ValueError: `max_cached` is below 1.

    Examples:
        >>> class Database:
        ...     def close(self):
        ...         print("closed")
        >>> locator = ServiceLocator()
        >>> locator.register(Database, Database)
        >>> locator.get(Database) is locator.get(Database)
        True
        >>> locator.close()
        closed
    """

    def __init__(self, *, max_cached: int | None = 50, count_hits: bool = False) -> None:
        if max_cached is not None:
            if isinstance(max_cached, bool) or not isinstance(max_cached, int):
                msg = f"max_cached must be an int or None, got {type(max_cached).__name__}"
                raise TypeError(msg)
            if max_cached < 1:
                msg = f"max_cached must be at least 1 (or None for no bound), got {max_cached}"
                raise ValueError(msg)
        self._max_cached = max_cached
        self._count_hits = bool(count_hits)
        self._factories: dict[_Key, _Registration] = {}
        self._inherited: list[object] = []
        self._overrides: list[_SavedState] = []
        self._generation = 0
        self._seq = itertools.count(1)
        self._last_seq = 0
        self._reset_partition()
        watch_forks(self)

    def _reset_partition(self) -> None:
        """Start this process's cache, locks and counters afresh."""
        self._cond = threading.Condition(threading.Lock())
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()
        self._fast: dict[_Key, Any] = {}
        self._dependents: dict[_Key, set[_Key]] = {}
        self._owners: dict[_Key, int] = {}
        self._waiting: dict[int, _Key] = {}
        self._stacks: dict[int, list[_Key]] = {}
        self._building = 0
        self._pin_seq = 0
        self._hits = self._misses = self._constructions = self._evictions = 0
        self._evicted: Counter[str] = Counter()
        self._evicted_unnamed = 0
        self._update_fast_path()

    def _update_fast_path(self) -> None:
        fast = self._building == 0 and not self._count_hits
        self._hot: Mapping[_Key, Any] = self._fast if fast else _NO_FAST_PATH

    def _after_fork_in_child(self) -> None:
        # Quarantine the parent's objects so that no finaliser of theirs runs here,
        # not even at interpreter shutdown: closing an inherited connection (or
        # resuming a generator factory's `finally:`) can end the parent's session.
        inherited = {id(e): e for e in self._entries.values()}
        for saved in self._overrides:
            inherited.update((id(e), e) for e in saved.entries.values())
        self._inherited.extend(quarantine(inherited.values()))
        self._generation += 1
        self._reset_partition()

    # -- registration ---------------------------------------------------------

    @overload
    def register(
        self,
        key: type[T],
        factory: Callable[[], Iterator[T]],
        *,
        keep_between_tests: bool = False,
    ) -> None: ...
    @overload
    def register(
        self, key: type[T], factory: Callable[[], T], *, keep_between_tests: bool = False
    ) -> None: ...
    @overload
    def register(
        self, key: str, factory: Callable[[], object], *, keep_between_tests: bool = False
    ) -> None: ...

    def register(
        self, key: type[Any] | str, factory: Callable[[], Any], *, keep_between_tests: bool = False
    ) -> None:
        """Register `factory` as the way to build the service `key`.

        A generator function is a factory too: what it yields is the service,
        and the rest of it runs when the service is closed or evicted.
        Registering a key again replaces its factory and drops its cached
        instance, along with the cached services that were built from it.

        Args:
            key: A type, so that `get(key)` is typed, or a string.
            factory: A zero-argument callable that returns (or yields) the service.
            keep_between_tests: Let `restore` (and so the pytest plugin's
                per-test isolation) keep this service's cached instance, for
                expensive services that tests cannot change. It is kept only
                while everything it was built from is kept too.

        Raises:
            TypeError: The key is neither a type nor a string, or the factory is not callable.

        Examples:
            >>> locator = ServiceLocator()
            >>> locator.register("greeting", lambda: "hello")
            >>> locator.get("greeting")
            'hello'
            >>> locator.register("greeting", lambda: "bonjour")
            >>> locator.get("greeting")
            'bonjour'
        """
        _check_key(key)
        if not callable(cast("object", factory)):
            msg = (
                f"the factory for {key_name(key)!r} is not callable (got {type(factory).__name__});"
                " pass a zero-argument callable, such as the class itself or a lambda"
            )
            raise TypeError(msg)
        with self._cond:
            self._factories[key] = _Registration(factory, keep_between_tests=keep_between_tests)
            self._drop_with_dependents(key)

    # -- lookup ---------------------------------------------------------------

    @overload
    def get(self, key: type[T]) -> T: ...
    @overload
    def get(self, key: str) -> Any: ...

    def get(self, key: type[Any] | str) -> Any:
        """Return the service registered under `key`, building it on first use.

        Args:
            key: The type or string the service was registered under.

        Returns:
            This process's instance of the service.

        Raises:
            ServiceNotRegisteredError: Nothing is registered under `key`.
            CircularDependencyError: Building `key` needs `key` again.

        Examples:
            >>> locator = ServiceLocator()
            >>> locator.register(list, list)
            >>> locator.get(list).append(1)
            >>> locator.get(list)
            [1]
            >>> locator.get("lst")
            Traceback (most recent call last):
            ...
            worker_locator.ServiceNotRegisteredError: no service registered for 'lst'; did you mean 'list'?
        """
        try:
            return self._hot[key]
        except KeyError:
            pass
        # Outside the handler, so that errors are not chained to the KeyError of the miss.
        return self._resolve(key)

    def _resolve(self, key: _Key) -> Any:  # noqa: C901, PLR0912, PLR0915 - one state machine under one lock
        me = threading.get_ident()
        with self._cond:
            stack = self._stacks.get(me)
            if stack:
                if key in stack:
                    raise CircularDependencyError([*stack[stack.index(key) :], key])
                self._dependents.setdefault(key, set()).add(stack[-1])
            while True:
                entry = self._entries.get(key)
                if entry is not None:
                    self._note_hit(key, entry)
                    return entry.instance
                registration = self._factories.get(key)
                if registration is None:
                    raise ServiceNotRegisteredError(key, self._factories)
                if key not in self._owners:
                    break
                chain = self._deadlock_chain(me, key)
                if chain:
                    raise CircularDependencyError(chain)
                self._waiting[me] = key
                try:
                    self._cond.wait()
                finally:
                    del self._waiting[me]
            self._misses += 1
            self._owners[key] = me
            if stack is None:
                stack = self._stacks[me] = []
            stack.append(key)
            self._building += 1
            self._update_fast_path()
            generation = self._generation
        victims: list[tuple[_Key, _Entry]] = []
        try:
            instance, finaliser = _construct(key, registration)
        finally:
            with self._cond:
                if generation == self._generation:
                    stack.pop()
                    if not stack:
                        del self._stacks[me]
                    del self._owners[key]
                    self._building -= 1
                    self._cond.notify_all()
                    self._update_fast_path()
        with self._cond:
            self._constructions += 1
            if generation == self._generation and self._factories.get(key) is registration:
                seq = self._next_seq()
                self._entries[key] = _Entry(instance, seq, registration, finaliser=finaliser)
                # no recency bit yet: the first hit takes the slow path and sets it
                victims = self._evict_over_bound(keep=key)
        if victims:
            self._close_evicted(victims)
        return instance

    def _note_hit(self, key: _Key, entry: _Entry) -> None:
        entry.hits += 1
        self._hits += 1
        self._entries.move_to_end(key)
        self._fast[key] = entry.instance

    def _next_seq(self) -> int:
        self._last_seq = next(self._seq)
        return self._last_seq

    def _deadlock_chain(self, me: int, key: _Key) -> list[_Key] | None:
        """Return the cycle that waiting for `key` would close, or `None` if waiting is safe.

        Follows "thread builds key, waits for key owned by thread ..." until it
        either ends or comes back to this thread, as importlib does for module locks.
        """
        chain = list(self._stacks.get(me, ()))
        for _ in range(len(self._owners) + 1):
            owner = self._owners.get(key)
            if owner is None:
                return None
            chain.append(key)
            owner_stack = self._stacks.get(owner, [])
            if key in owner_stack:
                chain.extend(owner_stack[owner_stack.index(key) + 1 :])
            waited = self._waiting.get(owner)
            if waited is None:
                return None
            if self._owners.get(waited) == me:
                chain.append(waited)
                return chain[chain.index(waited) :]
            key = waited
        return None

    # -- overrides ------------------------------------------------------------

    def override(self, key: type[T] | str, value: T) -> AbstractContextManager[T]:
        """Make `get(key)` return `value` inside a `with` block, for tests.

        Cached services that depend on `key` are rebuilt inside the block, so
        they see `value` too. On exit, also on an exception, the locator returns
        to exactly its previous state: the same registrations and the same
        cached objects. What was built inside the block is closed, except
        `value` itself, which belongs to the caller. Blocks nest; exit them in
        reverse order. While a block is open, services cached before it are
        never evicted. The override starts at `__enter__`; a block that is
        entered and never exited stays in force until `restore` discards it.

        Args:
            key: The key to override.
            value: What `get(key)` returns inside the block.

        Returns:
            A context manager whose `__enter__` returns `value`.

        Raises:
            TypeError: The key is neither a type nor a string.
            RuntimeError: On exit, an outer block was exited while inner ones
                were open; the outer block's previous state is restored all the same.
            ExceptionGroup: On exit, closing services built inside the block failed.

        Examples:
            >>> locator = ServiceLocator()
            >>> locator.register("region", lambda: "eu")
            >>> locator.register("greeting", lambda: f"hello from {locator.get('region')}")
            >>> locator.get("greeting")
            'hello from eu'
            >>> with locator.override("region", "us"):
            ...     locator.get("greeting")
            'hello from us'
            >>> locator.get("greeting")
            'hello from eu'
        """
        _check_key(key)
        return _OverrideBlock(self, key, value)

    def _enter_override(self, key: _Key, value: object) -> _SavedState:
        with self._cond:
            saved = _SavedState(self)
            self._overrides.append(saved)
            if len(self._overrides) == 1:
                self._pin_seq = saved.seq
            registration = _Registration(lambda: value, is_override=True)
            self._factories[key] = registration
            self._drop_with_dependents(key)
            self._entries[key] = _Entry(value, self._next_seq(), registration)
            self._fast[key] = value
            return saved

    def _leave_override(self, saved: _SavedState) -> list[Exception]:
        with self._cond:
            if saved not in self._overrides:
                return []  # discarded by `restore` or by an outer block's exit
            position = self._overrides.index(saved)
            still_open = len(self._overrides) - position - 1
            del self._overrides[position:]
            built_inside = [e for e in self._entries.values() if e.seq > saved.seq and not e.is_override]
            self._factories = saved.factories
            if saved.generation == self._generation:
                self._entries = saved.entries
                self._fast = saved.fast
                self._dependents = saved.dependents
            self._pin_seq = self._overrides[0].seq if self._overrides else 0
            self._update_fast_path()
        errors = _close_entries(built_inside)
        if still_open:
            msg = (
                f"override() blocks must be exited in the reverse order they were entered; {still_open} inner"
                " block(s) were still open and have been discarded with this one"
            )
            raise RuntimeError(msg)
        return errors

    # -- eviction, dropping and closing ---------------------------------------

    def _drop_with_dependents(self, key: _Key) -> list[tuple[_Key, _Entry]]:
        """Forget `key` and every cached service built from it; return them, dependents first."""
        dropped: list[tuple[_Key, _Entry]] = []
        pending = [key]
        seen: set[_Key] = set()
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            entry = self._entries.pop(current, None)
            self._fast.pop(current, None)
            if entry is not None:
                dropped.append((current, entry))
            pending.extend(self._dependents.get(current, ()))
        dropped.sort(key=lambda item: item[1].seq, reverse=True)
        return dropped

    def _cached_closure(self, key: _Key) -> set[_Key]:
        """Return `key` and the cached services built from it, directly or not."""
        closure: set[_Key] = set()
        pending = [key]
        while pending:
            current = pending.pop()
            if current in closure or current not in self._entries:
                continue
            closure.add(current)
            pending.extend(self._dependents.get(current, ()))
        return closure

    def _evictable(self, key: _Key, keep: _Key) -> bool:
        for member in self._cached_closure(key):
            entry = self._entries[member]
            if member == keep or entry.is_override or entry.seq <= self._pin_seq:
                return False
        return True

    def _evict_over_bound(self, keep: _Key) -> list[tuple[_Key, _Entry]]:
        """Evict least recently used services until the bound holds; return them."""
        victims: list[tuple[_Key, _Entry]] = []
        while self._max_cached is not None and len(self._entries) > self._max_cached:
            # Recency is tracked without touching the fast path (the CLOCK
            # algorithm): presence in `_fast` is a "used since the last sweep"
            # bit. A swept entry loses it, and its next lookup takes the slow
            # path, which sets it again and moves the entry to the young end.
            candidate = None
            for key in list(self._entries):
                if not self._evictable(key, keep):
                    continue
                if not self._count_hits and key in self._fast:
                    del self._fast[key]
                    self._entries.move_to_end(key)
                    continue
                candidate = key
                break
            if candidate is None:  # every bit was set and is now clear: take the oldest
                candidate = next((k for k in self._entries if self._evictable(k, keep)), None)
            if candidate is None:
                break
            for dropped_key, dropped in self._drop_with_dependents(candidate):
                victims.append((dropped_key, dropped))
                self._evictions += 1
                name = key_name(dropped_key)
                if name in self._evicted or len(self._evicted) < _MAX_EVICTED_NAMES:
                    self._evicted[name] += 1
                else:
                    self._evicted_unnamed += 1
        return victims

    def _close_evicted(self, victims: list[tuple[_Key, _Entry]]) -> None:
        for error in _close_entries([entry for _, entry in victims]):
            warnings.warn(f"closing an evicted service failed: {error!r}", RuntimeWarning, stacklevel=3)

    def close(self) -> None:
        """Close this process's cached services and empty the cache.

        Services are closed in reverse order of creation: a generator factory is
        resumed to run its clean-up, any other service with a `close()` method
        has it called. Every one is attempted; failures are raised together.
        Registrations stay, so the locator can be used again.

        Raises:
            ExceptionGroup: One or more services failed to close.
            RuntimeError: An `override` block is still open.
        """
        with self._cond:
            if self._overrides:
                msg = "close() called inside an override() block; leave the block first"
                raise RuntimeError(msg)
            entries = list(self._entries.values())
            self._entries.clear()
            self._fast.clear()
            self._dependents.clear()
        errors = _close_entries(entries)
        if errors:
            msg = f"{len(errors)} of {len(entries)} services failed to close"
            raise ExceptionGroup(msg, errors)

    def checkpoint(self) -> Checkpoint:
        """Remember the current registrations, to return to them with `restore`.

        Examples:
            >>> locator = ServiceLocator()
            >>> locator.register("region", lambda: "eu")
            >>> baseline = locator.checkpoint()
            >>> locator.register("region", lambda: "us")
            >>> locator.register("extra", object)
            >>> locator.restore(baseline)
            >>> locator.get("region"), "extra" in locator.registered()
            ('eu', False)
        """
        with self._cond:
            return Checkpoint._take(dict(self._factories), self._generation)  # noqa: SLF001 - its own factory

    def restore(self, checkpoint: Checkpoint) -> None:
        """Return to a checkpoint's registrations and close what was cached since.

        Open `override` blocks are discarded (their later exit does nothing).
        Cached services are closed and dropped, except those registered with
        `keep_between_tests=True` under an unchanged registration and built
        only from services kept as well. This is the per-test reset the pytest
        plugin runs between tests.

        Args:
            checkpoint: What `checkpoint` returned on this locator.

        Raises:
            ExceptionGroup: Closing one or more dropped services failed; the
                registrations are restored all the same.
        """
        with self._cond:
            self._overrides.clear()
            self._pin_seq = 0
            self._factories = dict(checkpoint._factories)  # noqa: SLF001 - the class's own opaque state
            dropped: list[_Entry] = []
            for key in list(self._entries):
                entry = self._entries.get(key)
                if entry is None:  # already dropped with a dependency
                    continue
                registration = entry.registration
                if not registration.keep_between_tests or self._factories.get(key) is not registration:
                    dropped.extend(e for _, e in self._drop_with_dependents(key))
            self._update_fast_path()
        errors = _close_entries(dropped)
        if errors:
            msg = f"{len(errors)} services failed to close while restoring a checkpoint"
            raise ExceptionGroup(msg, errors)

    def registered(self) -> frozenset[_Key]:
        """Return the keys that have a factory registered."""
        with self._cond:
            return frozenset(self._factories)

    def clear_cache(self) -> None:
        """Forget this process's cached services without closing them.

        Registrations stay; the next `get` of each key builds it again.
        """
        with self._cond:
            self._entries.clear()
            self._fast.clear()
            self._dependents.clear()

    def clear_all_caches(self) -> None:
        """Forget every cached service: this process's, and those inherited across fork.

        Inherited services are kept alive, never closed, until this call, so
        that a forked child never finalises an object its parent still uses,
        however it exits. After it, Python may free them here, running their
        `__del__` and a generator factory's clean-up in this process: call it
        only in a child whose inherited objects are safe to finalise.
        """
        with self._cond:
            inherited, self._inherited = self._inherited, []
        release(inherited)  # outside the lock: their finalisers may run now
        self.clear_cache()

    # -- introspection --------------------------------------------------------

    @property
    def max_cached(self) -> int | None:
        """The most services this process caches, or `None` for no bound."""
        return self._max_cached

    @property
    def count_hits(self) -> bool:
        """Whether cache hits are counted exactly; settable."""
        return self._count_hits

    @count_hits.setter
    def count_hits(self, value: bool) -> None:
        with self._cond:
            self._count_hits = bool(value)
            self._update_fast_path()

    def stats(self) -> LocatorStats:
        """Return this process's counters.

        Returns:
            Hits (`None` unless `count_hits` is on), misses, constructions,
            evictions and the number of services cached now.

        Examples:
            >>> locator = ServiceLocator(count_hits=True)
            >>> locator.register(dict, dict)
            >>> _ = locator.get(dict), locator.get(dict)
            >>> locator.stats()
            {'hits': 1, 'misses': 1, 'constructions': 1, 'evictions': 0, 'cached': 1}
        """
        with self._cond:
            return self._stats_locked()

    def _stats_locked(self) -> LocatorStats:
        return LocatorStats(
            hits=self._hits if self._count_hits else None,
            misses=self._misses,
            constructions=self._constructions,
            evictions=self._evictions,
            cached=len(self._entries),
        )

    def snapshot(self) -> dict[str, Any]:
        """Return a JSON-serialisable picture of this process's cache, for diagnosis.

        It names the process (worker id, pid, host, resource namespace, pytest-xdist
        run id) and, for each cached service, its key, type, creation time,
        hits, the pid that built it and the external resources it declares
        through a `held_resources()` method (for example `"sqlite:/tmp/app.db"`
        or `"port:tcp:127.0.0.1:8765"`). `evicted` counts evictions per service
        name for the first 256 names; `evicted_unnamed` counts the rest, so the
        snapshot stays small however many distinct keys pass through the cache.

        Returns:
            A dict of JSON types only; `format` is its version number.
        """
        with self._cond:
            entries = list(self._entries.items())
            stats = self._stats_locked()
            evicted = dict(self._evicted)
            evicted_unnamed = self._evicted_unnamed
            inherited = len(self._inherited)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            wid = worker_id()
        return {
            "format": SNAPSHOT_FORMAT,
            "worker_id": wid,
            "pid": os.getpid(),
            "host": host_name(),
            "resource_namespace": resource_namespace(),
            "testrun_uid": os.environ.get("PYTEST_XDIST_TESTRUNUID"),
            "taken_at": time.time(),
            "max_cached": self._max_cached,
            "stats": dict(stats),
            "services": [_describe(key, entry, counted=self._count_hits) for key, entry in entries],
            "evicted": evicted,
            "evicted_unnamed": evicted_unnamed,
            "inherited_dropped": inherited,
        }

    def __repr__(self) -> str:
        return (
            f"<ServiceLocator: {len(self._factories)} registered,"
            f" {len(self._entries)} cached in pid {os.getpid()}>"
        )


class _OverrideBlock(AbstractContextManager[T]):
    """The context manager `ServiceLocator.override` returns; see there."""

    def __init__(self, locator: ServiceLocator, key: _Key, value: T) -> None:
        self._locator = locator
        self._key = key
        self._value = value
        self._saved: _SavedState | None = None

    def __enter__(self) -> T:
        if self._saved is not None:
            msg = f"override({key_name(self._key)!r}) is already open; call override() again to nest"
            raise RuntimeError(msg)
        self._saved = self._locator._enter_override(self._key, self._value)  # noqa: SLF001 - its own locator
        return self._value

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        saved, self._saved = self._saved, None
        if saved is None:
            return
        errors = self._locator._leave_override(saved)  # noqa: SLF001 - its own locator
        name = key_name(self._key)
        if exc is not None:
            for error in errors:
                exc.add_note(f"closing a service built inside override({name!r}) also failed: {error!r}")
        elif errors:
            msg = f"closing services built inside override({name!r}) failed"
            raise ExceptionGroup(msg, errors)


def _check_key(key: object) -> None:
    if not isinstance(key, (type, str)):
        msg = f"service keys are types or strings, got {type(key).__name__} {key!r}"
        raise TypeError(msg)


def _construct(key: _Key, registration: _Registration) -> tuple[Any, Generator[Any, None, None] | None]:
    if not registration.is_generator:
        return registration.factory(), None
    generator = registration.factory()
    try:
        instance = next(generator)
    except StopIteration:
        msg = f"the generator factory for {key_name(key)!r} returned without yielding a service"
        raise RuntimeError(msg) from None
    return instance, generator


def _close_entries(entries: list[_Entry]) -> list[Exception]:
    """Close entries newest first; return what failed, each error naming its service."""
    errors: list[Exception] = []
    for entry in sorted(entries, key=lambda e: e.seq, reverse=True):
        if entry.is_override:
            continue
        try:
            _close_one(entry)
        except Exception as exc:  # noqa: BLE001 - every service is attempted; failures are grouped
            exc.add_note(f"while closing {type(entry.instance).__qualname__} built at seq {entry.seq}")
            errors.append(exc)
    return errors


def _close_one(entry: _Entry) -> None:
    if entry.finaliser is not None:
        try:
            next(entry.finaliser)
        except StopIteration:
            return
        entry.finaliser.close()
        msg = f"the generator factory of {type(entry.instance).__qualname__} yielded more than once"
        raise RuntimeError(msg)
    close = getattr(entry.instance, "close", None)
    if callable(close):
        close()


def _describe(key: _Key, entry: _Entry, *, counted: bool) -> dict[str, Any]:
    instance_type = type(entry.instance)
    described: dict[str, Any] = {
        "key": key_name(key),
        "type": f"{instance_type.__module__}.{instance_type.__qualname__}",
        "created_at": entry.created_at,
        "owner_pid": entry.owner_pid,
        "hits": entry.hits if counted else None,
        "override": entry.is_override,
        "resources": [],
    }
    held = getattr(entry.instance, "held_resources", None)
    if callable(held):
        try:
            declared = cast("Iterable[object]", held())
            described["resources"] = [str(r) for r in itertools.islice(declared, _MAX_RESOURCES_PER_SERVICE)]
        except Exception as exc:  # noqa: BLE001 - a broken service must not break the snapshot
            described["resources_error"] = f"{type(exc).__name__}: {exc}"
    return described
