"""What a thread-safe miss costs in pure Python, one guarantee at a time: the floors of cold misses.

`FloorLocator` is a throwaway locator, not worker-locator's code: its miss
claims the key under a lock (a thread that finds it claimed waits), runs the
factory outside the lock and caches the result under it again: the least any
locator does that builds each service once while factories of other keys run
in parallel. Each flag adds one of the guarantees worker-locator's
miss path gives, in the plainest code that gives it:

- `stacks`: a per-thread stack of the keys being built (what detects cycles,
  deadlocks across threads and the depth limit);
- `deps`: every lookup made by a running factory takes the locked path and is
  recorded (what lets `override` rebuild dependents and eviction drop them);
- `entries`: a cache entry per service, with the fields `snapshot()` reports;
- `bound`: past it, the oldest service is evicted and closed outside the lock.

`UnlockedBoundedCache` is the eviction churn's lowest floor: a bounded cache
with no lock at all.

A cleared flag costs one attribute read per miss. The differences between
successive floors are what each guarantee costs, measured in the same process
as worker-locator and svcs.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import types
from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = ["FloorLocator", "UnlockedBoundedCache", "chain_cases", "churn_cases"]

_NO_FAST_PATH: Final[Mapping[Any, Any]] = types.MappingProxyType({})
_NO_DEPS: Final[Mapping[Any, Any]] = types.MappingProxyType({})


class _Entry:
    __slots__ = ("created_at", "deps", "finaliser", "hits", "instance", "owner_pid", "registration", "seq")

    def __init__(  # noqa: PLR0913, PLR0917 - the fields of worker-locator's entry, positional as there
        self,
        instance: object,
        seq: int,
        registration: Callable[[], Any],
        finaliser: object,
        deps: Mapping[Any, Any],
        created_at: float,
        owner_pid: int,
    ) -> None:
        self.instance = instance
        self.seq = seq
        self.registration = registration
        self.finaliser = finaliser
        self.deps = deps
        self.created_at = created_at
        self.owner_pid = owner_pid
        self.hits = 0


class FloorLocator:
    """A locator whose miss gives only the guarantees its flags ask for."""

    def __init__(
        self, *, stacks: bool = False, deps: bool = False, entries: bool = False, bound: int | None = None
    ) -> None:
        self._stacks_on, self._deps_on, self._entries_on = stacks, deps, entries
        self._bound = bound
        self._factories: dict[Any, Callable[[], Any]] = {}
        self._fast: dict[Any, Any] = {}
        self._hot: Mapping[Any, Any] = self._fast
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._waiters = 0
        self._owners: dict[Any, int] = {}
        self._stacks: dict[int, list[Any]] = {}
        self._deps: dict[Any, dict[Any, Any]] = {}
        self._entries: dict[Any, _Entry] = {}
        self._seq = itertools.count(1)
        self._pid = os.getpid()

    def register(self, key: Any, factory: Callable[[], Any]) -> None:
        """Register `factory` under `key`."""
        self._factories[key] = factory

    def clear(self) -> None:
        """Forget what was built."""
        self._fast.clear()
        self._entries.clear()

    def get(self, key: Any) -> Any:
        """Return `key`'s instance: a lock-free lookup, else the miss."""
        try:
            return self._hot[key]
        except KeyError:
            pass
        return self._miss(key)

    def _miss(self, key: Any) -> Any:
        me = threading.get_ident()
        lock = self._lock
        lock.acquire()
        try:
            instance = self._fast.get(key)
            if instance is not None:
                return instance
            while key in self._owners:  # another thread builds it: wait, then take what it cached
                self._waiters += 1
                try:
                    self._cond.wait()
                finally:
                    self._waiters -= 1
                instance = self._fast.get(key)
                if instance is not None:
                    return instance
            factory = self._factories[key]
            self._owners[key] = me
            stack = None
            if self._stacks_on:
                stack = self._stacks.get(me)
                if stack is None:
                    stack = self._stacks[me] = [key]
                elif key in stack:
                    msg = f"cycle at {key!r}"
                    raise RuntimeError(msg)
                else:
                    stack.append(key)
            if self._deps_on:
                self._hot = _NO_FAST_PATH
        finally:
            lock.release()
        return self._build(me, key, factory, stack)

    def _build(self, me: int, key: Any, factory: Callable[[], Any], stack: list[Any] | None) -> Any:
        try:
            instance = factory()
        except BaseException:
            with self._lock:
                self._end_claim(me, key, stack)
            raise
        lock = self._lock
        lock.acquire()
        try:
            deps = self._end_claim(me, key, stack)
            if self._deps_on and stack:  # the dependent being built looked `key` up
                found = self._deps.get(stack[-1])
                if found is None:
                    self._deps[stack[-1]] = {key: instance}
                else:
                    found[key] = instance
            if self._entries_on:
                entry = _Entry(instance, next(self._seq), factory, None, deps, time.time(), self._pid)
                self._entries[key] = entry
            fast = self._fast
            fast[key] = instance
            victim = None
            if self._bound is not None and len(fast) > self._bound:  # evict the oldest, close it below
                oldest = next(iter(fast))
                victim = fast.pop(oldest)
                self._entries.pop(oldest, None)
        finally:
            lock.release()
        if victim is not None:
            _close(victim)
        return instance

    def _end_claim(self, me: int, key: Any, stack: list[Any] | None) -> Mapping[Any, Any]:
        """Under the lock: end this thread's claim on `key`; return what its factory looked up."""
        owners = self._owners
        del owners[key]
        if self._waiters:
            self._cond.notify_all()
        if stack is not None:
            stack.pop()
            if not stack:
                del self._stacks[me]
        if not owners:
            self._hot = self._fast
        return self._deps.pop(key, _NO_DEPS) if self._deps else _NO_DEPS


class UnlockedBoundedCache:
    """The least a bounded cache costs in Python: a dict, no lock, the oldest key evicted and closed."""

    def __init__(self, bound: int) -> None:
        self._bound = bound
        self._factories: dict[Any, Callable[[], Any]] = {}
        self._fast: dict[Any, Any] = {}

    def register(self, key: Any, factory: Callable[[], Any]) -> None:
        """Register `factory` under `key`."""
        self._factories[key] = factory

    def get(self, key: Any) -> Any:
        """Return `key`'s instance, building it on a miss."""
        try:
            return self._fast[key]
        except KeyError:
            pass
        fast = self._fast
        instance = fast[key] = self._factories[key]()
        if len(fast) > self._bound:
            _close(fast.pop(next(iter(fast))))
        return instance


def _close(instance: object) -> None:
    close = getattr(instance, "close", None)
    if callable(close):
        close()


_FLOORS: Final[tuple[tuple[str, dict[str, bool], str], ...]] = (
    ("floor: two-lock miss, nothing else", {}, "claim under the lock, build outside it, cache"),
    ("floor: + per-thread stack", {"stacks": True}, "cycles, deadlocks, depth"),
    ("floor: + recording each lookup", {"stacks": True, "deps": True}, "override rebuilds, eviction"),
    (
        "floor: + a cache entry",
        {"stacks": True, "deps": True, "entries": True},
        "what snapshot() reports",
    ),
)


Cases = list[tuple[str, str, str, str]]


def chain_cases(top: type, chain: Callable[[FloorLocator], None]) -> tuple[dict[str, Any], Cases]:
    """Return a namespace and the timed cases of each floor building `top` with nothing cached.

    `chain` registers the chain's factories on a floor locator.
    """
    namespace: dict[str, Any] = {"FloorTop": top}
    cases: Cases = []
    for index, (label, flags, note) in enumerate(_FLOORS):
        floor = FloorLocator(**flags)
        chain(floor)
        assert isinstance(floor.get(top), top)  # a floor that fails to build would time nothing
        floor.clear()
        name = f"floor{index}"
        namespace[name] = floor
        cases.append((label, f"{name}.clear()\n{name}.get(FloorTop)", "", note))
    return namespace, cases


def churn_cases(keys: list[str], bound: int) -> tuple[dict[str, Any], Cases]:
    """Return a namespace and the timed cases of each floor looking up `keys` in a cycle, past `bound`."""
    floors: dict[str, FloorLocator | UnlockedBoundedCache] = {
        "floor: a miss without locks, evicting the oldest": UnlockedBoundedCache(bound),
        "floor: two-lock miss, evicting the oldest": FloorLocator(bound=bound),
        "floor: + stack, lookups and entry, evicting the oldest": FloorLocator(
            stacks=True, deps=True, entries=True, bound=bound
        ),
    }
    namespace: dict[str, Any] = {}
    cases: Cases = []
    for index, (label, floor) in enumerate(floors.items()):
        for key in keys:
            floor.register(key, object)
        namespace[f"churn{index}"] = floor
        namespace[f"churn{index}_keys"] = itertools.cycle(keys)
        cases.append((label, f"churn{index}.get(next(churn{index}_keys))", "", "every call a miss"))
    return namespace, cases
