"""`ServiceLocator`: lazy, cached, fork-safe and thread-safe access to services."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any, NoReturn, SupportsIndex, TypeVar, cast, overload

from ._cache import Cache, close_entries
from ._construction import MAX_DEPTH
from ._entries import Entry, Key, Registration, check_key
from ._errors import shown_name
from ._fork import quarantine, release, watch_forks
from ._lookup import NO_FAST_PATH, resolve
from ._overrides import OverrideBlock, OverrideState
from ._registry import Checkpoint, Registry
from ._snapshot import SNAPSHOT_FORMAT, LocatorStats, describe_process, describe_service

__all__ = ["MAX_DEPTH", "SNAPSHOT_FORMAT", "Checkpoint", "LocatorStats", "ServiceLocator"]

T = TypeVar("T")


class ServiceLocator:
    """Build each registered service once per process, on first use, and hand out that instance.

    A locator maps keys (types or strings) to zero-argument factories. [`get`][]
    calls a key's factory the first time the key is asked for and caches the
    result; factories may call [`get`][] for their own dependencies, up to chains
    of `MAX_DEPTH` (200) services. The cache is this process's own: a child made
    by `os.fork()` or a multiprocessing "fork" start drops what it inherited
    (never closing or finalising it, however the child exits, since the parent
    still uses it) and builds its own instances. Construction is locked per key,
    so racing threads build a service once, while factories of different keys
    run in parallel. A locator cannot be pickled: it belongs to its process.

    Args:
        max_cached: How many services this process keeps at most; past it, the
            least recently used one is evicted and closed. `None` for no bound.
        count_hits: Count cache hits exactly (see [`stats`][]). Counting takes every
            lookup through the locked slow path, so it is off unless asked for.

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
        self._registry = Registry()
        self._inherited: list[object] = []
        self._overrides: list[OverrideState] = []
        self._generation = 0
        self._seq = itertools.count(1)
        self._reset_partition()
        watch_forks(self)

    def _reset_partition(self) -> None:
        """Start this process's cache, locks and counters afresh."""
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._cache = Cache(self._max_cached)
        self._fast = self._cache.fast
        self._owners: dict[Key, int] = {}
        self._waiting: dict[int, Key] = {}
        self._stacks: dict[int, list[Key]] = {}
        self._deps: dict[Key, dict[Key, Entry | None]] = {}
        self._epoch = 0  # bumped by close(), restore() and clear_cache(): builds that span one are not cached
        self._hits = self._misses = self._constructions = 0
        self._pid = os.getpid()
        self._update_fast_path()

    def _update_fast_path(self) -> None:
        fast = not self._owners and not self._count_hits
        self._hot: Mapping[Key, Any] = self._fast if fast else NO_FAST_PATH

    def _after_fork_in_child(self) -> None:
        # Quarantine the parent's objects so that no finaliser of theirs runs here,
        # not even at interpreter shutdown: closing an inherited connection (or
        # resuming a generator factory's `finally:`) can end the parent's session.
        inherited = {id(e): e for e in self._cache.entries.values()}
        for state in self._overrides:
            inherited.update((id(e), e) for _, e in state.saved)
        self._inherited.extend(quarantine(inherited.values()))
        self._generation += 1
        self._reset_partition()

    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn:
        msg = "a ServiceLocator cannot be pickled: locators are per process, so build one in each process"
        raise TypeError(msg)

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
            key: A type, so that [`get(key)`][get] is typed, or a string.
            factory: A zero-argument callable that returns (or yields) the service.
            keep_between_tests: Let [`restore`][] (and so the pytest plugin's
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
            >>> locator.register(42, lambda: "the answer")
            Traceback (most recent call last):
            ...
            TypeError: service keys are types or strings, got int 42
        """
        check_key(key)
        if not callable(cast("object", factory)):
            msg = (
                f"the factory for {shown_name(key)!r} is not callable (got {type(factory).__name__});"
                " pass a zero-argument callable, such as the class itself or a lambda"
            )
            raise TypeError(msg)
        registration = Registration(factory, keep_between_tests=keep_between_tests)
        with self._lock:
            self._registry.set(key, registration)
            self._cache.drop_with_dependents(key)

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
            RuntimeError: The chain of services building each other is deeper
                than `MAX_DEPTH`; the message names the depth and where the chain starts.

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

            A chain of factories that each look up the next one stops at
            `MAX_DEPTH`, well before Python's own recursion limit:

            >>> for n in range(300):
            ...     locator.register(f"layer-{n}", lambda n=n: [locator.get(f"layer-{n + 1}")])
            >>> locator.get("layer-0")
            Traceback (most recent call last):
            ...
            RuntimeError: the chain of services starting at 'layer-0' reached 201 levels
            (the limit is 200); build part of it without nested get() calls, or shorten it
        """
        try:
            return self._hot[key]
        except KeyError:
            pass
        # Outside the handler, so that errors are not chained to the KeyError of the miss.
        return self._resolve(key)

    _resolve = resolve

    # -- overrides ------------------------------------------------------------

    def override(self, key: type[T] | str, value: T) -> AbstractContextManager[T]:
        """Make [`get(key)`][get] return `value` inside a `with` block, for tests.

        An override is process-wide: every thread sees `value` while the block
        is open. Cached services built from `key` are rebuilt inside the block,
        so they see `value` too. On exit, also on an exception, the block undoes
        its own override and nothing else: `key` gets its previous registration
        back (unless it was registered again inside the block), the services
        built from `value` are closed (not `value` itself, which belongs to the
        caller), and the services it set aside are cached again, the same
        objects, if what they were built from is still cached. Registrations
        made meanwhile, and services built from other keys, stay. Blocks nest;
        exit them in reverse order. The override starts at `__enter__`; a block
        that is entered and never exited stays in force until [`restore`][] discards it.

        Args:
            key: The key to override.
            value: What [`get(key)`][get] returns inside the block.

        Returns:
            A context manager whose `__enter__` returns `value`.

        Raises:
            TypeError: The key is neither a type nor a string.
            RuntimeError: On exit, an outer block was exited while inner ones
                were open; the inner blocks are undone first, then this one.
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

            Registrations made inside the block stay, and a service it set aside
            comes back only while its registration is the same:

            >>> with locator.override("region", "us"):
            ...     locator.register("region", lambda: "apac")
            ...     locator.register("greeting", lambda: f"hi from {locator.get('region')}")
            >>> locator.get("greeting")
            'hi from apac'
        """
        check_key(key)
        return OverrideBlock(self, key, value)

    # -- closing, checkpoints -------------------------------------------------

    def close(self) -> None:
        """Close this process's cached services and empty the cache.

        Services are closed in reverse order of creation: a generator factory is
        resumed to run its clean-up, any other service with a `close()` method
        has it called. Every one is attempted; failures are raised together.
        Registrations stay, so the locator can be used again. A service whose
        construction was under way during the call is not cached.

        Raises:
            ExceptionGroup: One or more services failed to close.
            RuntimeError: An [`override`][] block is still open.

        Examples:
            >>> closed = []
            >>> class Named:
            ...     def __init__(self, name):
            ...         self.name = name
            ...     def close(self):
            ...         closed.append(self.name)
            >>> locator = ServiceLocator()
            >>> locator.register("engine", lambda: Named("engine"))
            >>> locator.register("session", lambda: Named("session"))
            >>> _ = locator.get("engine"), locator.get("session")
            >>> locator.close()
            >>> closed  # newest first
            ['session', 'engine']

            Inside an override block, closing is refused; leave the block first:

            >>> locator = ServiceLocator()
            >>> locator.register("region", lambda: "eu")
            >>> with locator.override("region", "us"):
            ...     locator.close()
            Traceback (most recent call last):
            RuntimeError: close() called inside an override() block; leave the block first
            >>> locator.get("region"), locator.close()
            ('eu', None)
        """
        with self._lock:
            if self._overrides:
                msg = "close() called inside an override() block; leave the block first"
                raise RuntimeError(msg)
            entries = self._cache.clear()
            self._epoch += 1
        errors = close_entries(entries)
        if errors:
            msg = f"{len(errors)} of {len(entries)} services failed to close"
            raise ExceptionGroup(msg, errors)

    def checkpoint(self) -> Checkpoint:
        """Remember the current registrations, to return to them with [`restore`][].

        Taking one costs the same however many services are registered; while
        checkpoints are alive, each registration change is noted, so that
        [`restore`][] costs in proportion to what changed since.

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
        with self._lock:
            return self._registry.checkpoint()

    def restore(self, checkpoint: Checkpoint) -> None:
        """Return to a checkpoint's registrations and close what was cached since.

        Open [`override`][] blocks are discarded (their later exit does nothing).
        Cached services are closed and dropped, except those registered with
        `keep_between_tests=True` under an unchanged registration and built
        only from services kept as well. A service whose construction was
        under way during the call is not cached. This is the per-test reset the
        pytest plugin runs between tests.

        Args:
            checkpoint: What `checkpoint` returned on this locator (one taken
                on another locator stands for that locator's registrations).

        Raises:
            ExceptionGroup: Closing one or more dropped services failed; the
                registrations are restored all the same.

        Examples:
            A test that leaves an override block open, and a service that fails
            to close, are both undone:

            >>> locator = ServiceLocator()
            >>> locator.register("region", lambda: "eu")
            >>> baseline = locator.checkpoint()
            >>> block = locator.override("region", "us")
            >>> block.__enter__()
            'us'
            >>> class Leaky:
            ...     def close(self):
            ...         raise OSError("socket already closed")
            >>> locator.register("leaky", Leaky)
            >>> _ = locator.get("leaky")
            >>> try:
            ...     locator.restore(baseline)
            ... except ExceptionGroup as failed:
            ...     print(failed.message, failed.exceptions)
            1 service failed to close while restoring a checkpoint (OSError('socket already closed'),)
            >>> locator.get("region"), "leaky" in locator.registered()
            ('eu', False)
            >>> block.__exit__(None, None, None)  # the block was discarded: this does nothing
            >>> locator.get("region")
            'eu'
        """
        with self._lock:
            self._registry.rollback(checkpoint)
            dropped: list[Entry] = []
            for state in self._overrides:
                if state.generation == self._generation:
                    dropped.extend(entry for _, entry in state.saved)
            self._overrides.clear()
            factories = self._registry.factories
            for key, entry in list(self._cache.entries.items()):
                if self._cache.entries.get(key) is not entry:  # already dropped with a dependency
                    continue
                registration = entry.registration
                if not registration.keep_between_tests or factories.get(key) is not registration:
                    dropped.extend(e for _, e in self._cache.drop_with_dependents(key))
            self._epoch += 1
        errors = close_entries(dropped)
        if errors:
            services = "service" if len(errors) == 1 else "services"
            msg = f"{len(errors)} {services} failed to close while restoring a checkpoint"
            raise ExceptionGroup(msg, errors)

    def registered(self) -> frozenset[type[Any] | str]:
        """Return the keys that have a factory registered."""
        with self._lock:
            return frozenset(self._registry.factories)

    def clear_cache(self) -> None:
        """Forget this process's cached services without closing them.

        Registrations stay; the next [`get`][] of each key builds it again.
        """
        with self._lock:
            self._cache.clear()
            self._epoch += 1

    def clear_all_caches(self) -> None:
        """Forget every cached service: this process's, and those inherited across fork.

        Inherited services are kept alive, never closed, until this call, so
        that a forked child never finalises an object its parent still uses,
        however it exits. After it, Python may free them here, running their
        `__del__` and a generator factory's clean-up in this process: call it
        only in a child whose inherited objects are safe to finalise.
        """
        with self._lock:
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
        with self._lock:
            self._count_hits = bool(value)
            self._cache.exact_lru = self._count_hits
            self._update_fast_path()

    def stats(self) -> LocatorStats:
        """Return this process's counters.

        Returns:
            Hits (`None` unless [`count_hits`][] is on), misses, constructions,
                evictions and the number of services cached now.

        Examples:
            >>> locator = ServiceLocator(count_hits=True)
            >>> locator.register(dict, dict)
            >>> _ = locator.get(dict), locator.get(dict)
            >>> locator.stats()
            {'hits': 1, 'misses': 1, 'constructions': 1, 'evictions': 0, 'cached': 1}
        """
        with self._lock:
            return self._stats_locked()

    def _stats_locked(self) -> LocatorStats:
        return LocatorStats(
            hits=self._hits if self._count_hits else None,
            misses=self._misses,
            constructions=self._constructions,
            evictions=self._cache.evictions,
            cached=len(self._cache.entries),
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
        with self._lock:
            entries = list(self._cache.entries.items())
            stats = self._stats_locked()
            evicted = dict(self._cache.evicted)
            evicted_unnamed = self._cache.evicted_unnamed
            inherited = len(self._inherited)
        return {
            **describe_process(),
            "max_cached": self._max_cached,
            "stats": dict(stats),
            "services": [describe_service(key, entry, counted=self._count_hits) for key, entry in entries],
            "evicted": evicted,
            "evicted_unnamed": evicted_unnamed,
            "inherited_dropped": inherited,
        }

    def __repr__(self) -> str:
        return (
            f"<ServiceLocator: {len(self._registry.factories)} registered,"
            f" {len(self._cache.entries)} cached in pid {os.getpid()}>"
        )
