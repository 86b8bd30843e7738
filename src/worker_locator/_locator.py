"""`ServiceLocator`: lazy, cached, fork-safe and thread-safe access to services."""

from __future__ import annotations

import itertools
import os
import threading
import types
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any, Final, NoReturn, SupportsIndex, TypeVar, cast, overload

from ._cache import Cache, close_entries
from ._construction import MAX_DEPTH, Frame, construct, deadlock_chain, too_deep
from ._entries import Entry, Key, Registration, check_key
from ._errors import CircularDependencyError, ServiceNotRegisteredError, shown_name
from ._fork import quarantine, release, watch_forks
from ._overrides import OverrideBlock, OverrideState
from ._registry import Checkpoint, Registry
from ._snapshot import SNAPSHOT_FORMAT, LocatorStats, describe_process, describe_service

__all__ = ["MAX_DEPTH", "SNAPSHOT_FORMAT", "Checkpoint", "LocatorStats", "ServiceLocator"]

T = TypeVar("T")

# `get` reads this instead of the real instance map whenever every lookup has to
# take the slow path: while a factory runs (to record what it depends on) and
# while hits are counted. Immutable, so nothing can ever be cached in it.
_NO_FAST_PATH: Final[Mapping[Any, Any]] = types.MappingProxyType({})
_NONE: Final[frozenset[Any]] = frozenset()
# A miss copies at most this many registered keys, under the lock, to suggest names from.
_SUGGESTION_SCAN: Final = 2_000


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


class ServiceLocator:
    """Build each registered service once per process, on first use, and hand out that instance.

    A locator maps keys (types or strings) to zero-argument factories. `get`
    calls a key's factory the first time the key is asked for and caches the
    result; factories may call `get` for their own dependencies, up to chains
    of `MAX_DEPTH` (200) services. The cache is this process's own: a child made
    by `os.fork()` or a multiprocessing "fork" start drops what it inherited
    (never closing or finalising it, however the child exits, since the parent
    still uses it) and builds its own instances. Construction is locked per key,
    so racing threads build a service once, while factories of different keys
    run in parallel. A locator cannot be pickled: it belongs to its process.

    Args:
        max_cached: How many services this process keeps at most; past it, the
            least recently used one is evicted and closed. `None` for no bound.
        count_hits: Count cache hits exactly (see `stats`). Counting takes every
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
        self._stacks: dict[int, list[Frame]] = {}
        self._building = 0
        self._epoch = 0  # bumped by close(), restore() and clear_cache(): builds that span one are not cached
        self._hits = self._misses = self._constructions = 0
        self._pid = os.getpid()
        self._update_fast_path()

    def _update_fast_path(self) -> None:
        fast = self._building == 0 and not self._count_hits
        self._hot: Mapping[Key, Any] = self._fast if fast else _NO_FAST_PATH

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
        """
        try:
            return self._hot[key]
        except KeyError:
            pass
        # Outside the handler, so that errors are not chained to the KeyError of the miss.
        return self._resolve(key)

    def _resolve(self, key: Key) -> Any:  # noqa: C901, PLR0912 - the slow path kept in one frame, for speed
        me = threading.get_ident()
        with self._lock:
            found, value = self._claim(me, key)
        if found:
            return value
        if type(value) is not _Claim:  # the keys to suggest from, searched outside the lock
            raise ServiceNotRegisteredError(key, value)
        claim: _Claim = value
        stack = claim.stack
        try:
            instance, finaliser = construct(key, claim.registration)
        except BaseException as exc:
            with self._lock:
                if claim.generation == self._generation:
                    self._finish(me, stack, key)
            if isinstance(exc, RecursionError):
                if len(stack) <= 1:
                    raise too_deep(key, getattr(exc, "worker_locator_depth", 0)) from None
                if not hasattr(exc, "worker_locator_depth"):
                    exc.worker_locator_depth = len(stack)  # type: ignore[attr-defined]
            raise
        victims: list[Entry] = []
        with self._lock:
            if claim.generation != self._generation:
                return instance  # built across a fork: the child's caller gets it, uncached
            self._finish(me, stack, key)
            self._constructions += 1
            deps = claim.frame.deps
            if (
                claim.epoch == self._epoch
                and self._registry.factories.get(key) is claim.registration
                and self._cache.all_cached(deps)
            ):
                entry = Entry(
                    instance,
                    next(self._seq),
                    claim.registration,
                    finaliser=finaliser,
                    deps=deps,
                    owner_pid=self._pid,
                )
                self._cache.add(key, entry)
                if stack:
                    stack[-1].deps[key] = entry
                if self._cache.over_bound():
                    victims = self._cache.evict(
                        keep=key, protected=self._in_progress() if self._building else _NONE
                    )
            elif stack:
                stack[-1].deps[key] = None  # the dependent is built from an uncached service
        if victims:
            self._close_evicted(victims)
        return instance

    def _claim(self, me: int, key: Key) -> tuple[bool, Any]:  # noqa: C901 - one state machine under one lock
        """Under the lock: return (True, instance) for a cached key, else what building it needs.

        That is (False, claim) once this thread owns the construction of `key`,
        after waiting for another thread's construction of it if need be, or
        (False, keys to suggest from) when nothing is registered under `key`.
        """
        stack = self._stacks.get(me)
        if stack:
            if any(frame.key == key for frame in stack):
                chain = [frame.key for frame in stack]
                raise CircularDependencyError([*chain[chain.index(key) :], key])
            if len(stack) >= MAX_DEPTH:
                raise too_deep(stack[0].key, len(stack) + 1)
        while True:
            entry = self._cache.entries.get(key)
            if entry is not None:
                self._hits += 1
                entry.hits += 1
                self._cache.touch(key, entry)
                if stack:
                    stack[-1].deps[key] = entry
                return True, entry.instance
            registration = self._registry.factories.get(key)
            if registration is None:
                return False, list(itertools.islice(self._registry.factories, _SUGGESTION_SCAN))
            if key not in self._owners:
                break
            cycle = deadlock_chain(me, key, self._owners, self._stacks, self._waiting)
            if cycle:
                raise CircularDependencyError(cycle)
            self._waiting[me] = key
            try:
                self._cond.wait()
            finally:
                del self._waiting[me]
        self._misses += 1
        self._owners[key] = me
        if stack is None:
            stack = []
            self._stacks[me] = stack
        frame = Frame(key)
        stack.append(frame)
        self._building += 1
        self._hot = _NO_FAST_PATH
        return False, _Claim(registration, stack, frame, self._generation, self._epoch)

    def _finish(self, me: int, stack: list[Frame], key: Key) -> None:
        """End the construction of `key` by this thread (the lock is held)."""
        stack.pop()
        if not stack:
            del self._stacks[me]
        del self._owners[key]
        self._building -= 1
        if self._waiting:
            self._cond.notify_all()
        if not self._building:
            self._update_fast_path()

    def _in_progress(self) -> set[Key]:
        """Return the keys being built and those their factories have used: they must not be evicted."""
        keys = set(self._owners)
        for stack in self._stacks.values():
            for frame in stack:
                keys.update(frame.deps)
        return keys

    def _close_evicted(self, victims: list[Entry]) -> None:
        for error in close_entries(victims):
            warnings.warn(f"closing an evicted service failed: {error!r}", RuntimeWarning, stacklevel=4)

    # -- overrides ------------------------------------------------------------

    def override(self, key: type[T] | str, value: T) -> AbstractContextManager[T]:
        """Make `get(key)` return `value` inside a `with` block, for tests.

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
        that is entered and never exited stays in force until `restore` discards it.

        Args:
            key: The key to override.
            value: What `get(key)` returns inside the block.

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
        """
        check_key(key)
        return OverrideBlock(self, key, value)

    def _enter_override(self, key: Key, value: object) -> OverrideState:
        registration = Registration(lambda: value, is_override=True)
        with self._lock:
            previous = self._registry.factories.get(key)
            self._registry.set(key, registration)
            saved = self._cache.drop_with_dependents(key)
            state = OverrideState(key, registration, previous, saved, self._generation)
            self._cache.add(key, Entry(value, next(self._seq), registration))
            self._overrides.append(state)
            return state

    def _leave_override(self, state: OverrideState) -> tuple[list[Exception], int]:
        """Undo `state` and the blocks opened after it; return the close failures and how many those were."""
        to_close: list[Entry] = []
        with self._lock:
            if state not in self._overrides:
                return [], 0  # discarded by `restore` or by an outer block's exit
            position = self._overrides.index(state)
            undone = self._overrides[position:]
            del self._overrides[position:]
            for block in reversed(undone):
                to_close.extend(self._undo_override(block))
        return close_entries(to_close), len(undone) - 1

    def _undo_override(self, state: OverrideState) -> list[Entry]:
        """Undo one override block (the lock is held); return the entries to close."""
        to_close = [entry for _, entry in self._cache.drop_with_dependents(state.key)]
        if self._registry.factories.get(state.key) is state.registration:
            self._registry.set(state.key, state.previous)
        if state.generation != self._generation:
            return to_close  # the set-aside services are the parent's: never touched here
        for key, entry in sorted(state.saved, key=lambda item: item[1].seq):
            if (
                self._registry.factories.get(key) is entry.registration
                and key not in self._cache.entries
                and self._cache.all_cached(entry.deps)
            ):
                self._cache.add(key, entry)
            else:
                to_close.append(entry)
        if self._cache.over_bound():
            to_close.extend(self._cache.evict(keep=None, protected=self._in_progress()))
        return to_close

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
            RuntimeError: An `override` block is still open.
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
        """Remember the current registrations, to return to them with `restore`.

        Taking one costs the same however many services are registered; while
        checkpoints are alive, each registration change is noted, so that
        `restore` costs in proportion to what changed since.

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

        Open `override` blocks are discarded (their later exit does nothing).
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
            msg = f"{len(errors)} services failed to close while restoring a checkpoint"
            raise ExceptionGroup(msg, errors)

    def registered(self) -> frozenset[Key]:
        """Return the keys that have a factory registered."""
        with self._lock:
            return frozenset(self._registry.factories)

    def clear_cache(self) -> None:
        """Forget this process's cached services without closing them.

        Registrations stay; the next `get` of each key builds it again.
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
            Hits (`None` unless `count_hits` is on), misses, constructions,
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
