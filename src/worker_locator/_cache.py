"""The per-process cache: entries in recency order, the lock-free lookup map, dependency edges, eviction."""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from typing import Any, Final

from ._entries import Entry, Key
from ._errors import key_name

__all__ = ["Cache", "close_entries"]

# Eviction counts are kept per service name up to this many names, so that a workload
# with ever-new keys cannot grow them without limit; further names go in one total.
_MAX_EVICTED_NAMES: Final = 256


class Cache:
    """What one process has built, and which cached service was built from which.

    `entries` runs from least to most recently used. `fast` maps a key to its
    instance for the lock-free path of `get`; presence in it is also the
    "used since the last sweep" bit of the CLOCK eviction. `dependents` maps a
    cached key to the cached keys built from it, and holds cached keys only.
    Every method expects the locator's lock to be held.
    """

    __slots__ = (
        "bound",
        "dependents",
        "entries",
        "evicted",
        "evicted_unnamed",
        "evictions",
        "exact_lru",
        "fast",
    )

    def __init__(self, bound: int | None, *, exact_lru: bool = False) -> None:
        self.bound = bound
        self.exact_lru = exact_lru
        self.entries: OrderedDict[Key, Entry] = OrderedDict()
        self.fast: dict[Key, Any] = {}
        self.dependents: dict[Key, set[Key]] = {}
        self.evictions = 0
        self.evicted: Counter[str] = Counter()
        self.evicted_unnamed = 0

    def add(self, key: Key, entry: Entry) -> None:
        """Cache `entry` under `key` and record the edges from what it was built from."""
        self.entries[key] = entry
        if entry.deps:
            self.link(key, entry.deps)

    def link(self, key: Key, deps: Iterable[Key]) -> None:
        """Record that the cached `key` was built from the cached `deps`."""
        dependents = self.dependents
        for dep in deps:
            found = dependents.get(dep)
            if found is None:
                dependents[dep] = {key}
            else:
                found.add(key)

    def touch(self, key: Key, entry: Entry) -> None:
        """Note a use of `key`: it becomes the most recently used, and lookups of it take the fast path."""
        self.entries.move_to_end(key)
        self.fast[key] = entry.instance

    def all_cached(self, deps: Mapping[Key, Entry | None]) -> bool:
        """Whether every entry in `deps` is still the one cached under its key."""
        entries = self.entries
        for key, entry in deps.items():  # noqa: SIM110 - a loop is faster than all() over a generator, on every miss
            if entry is None or entries.get(key) is not entry:
                return False
        return True

    def drop_with_dependents(self, key: Key) -> list[tuple[Key, Entry]]:
        """Forget `key` and every cached service built from it; return them, newest first."""
        dropped: list[tuple[Key, Entry]] = []
        pending = [key]
        entries, fast, dependents = self.entries, self.fast, self.dependents
        while pending:
            current = pending.pop()
            entry = entries.pop(current, None)
            if entry is None:
                continue
            fast.pop(current, None)
            dropped.append((current, entry))
            pending.extend(dependents.pop(current, ()))
            if entry.deps:
                self._unlink(current, entry)
        if len(dropped) > 1:
            dropped.sort(key=lambda item: item[1].seq, reverse=True)
        return dropped

    def clear(self) -> list[Entry]:
        """Forget every cached service; return them."""
        entries = list(self.entries.values())
        self.entries.clear()
        self.fast.clear()
        self.dependents.clear()
        return entries

    def over_bound(self) -> bool:
        """Whether more services are cached than the bound allows."""
        return self.bound is not None and len(self.entries) > self.bound

    def _closure(self, key: Key) -> Iterable[Key]:
        """Return `key` and the cached services built from it, directly or not."""
        if key not in self.dependents:
            return (key,)
        closure: set[Key] = set()
        pending = [key]
        while pending:
            current = pending.pop()
            if current not in closure:
                closure.add(current)
                pending.extend(self.dependents.get(current, ()))
        return closure

    def _evictable(self, key: Key, keep: Key | None, protected: AbstractSet[Key]) -> bool:
        entries = self.entries
        if key not in self.dependents:  # the usual case: nothing was built from it
            return not (key == keep or key in protected or entries[key].is_override)
        for member in self._closure(key):
            if member == keep or member in protected or entries[member].is_override:
                return False
        return True

    def evict(self, keep: Key | None, protected: AbstractSet[Key]) -> list[Entry]:  # noqa: C901, PLR0912 - the usual case inlined, for speed
        """Evict least recently used services until the bound holds; return them, to be closed.

        Recency is tracked without touching the fast path (the CLOCK algorithm):
        presence in `fast` is a "used since the last sweep" bit. A swept entry
        loses it, and its next lookup takes the slow path, which sets it again
        and moves the entry to the young end. `keep`, the keys in `protected`
        and override values are never evicted, nor anything built from them.
        """
        victims: list[Entry] = []
        entries, fast, dependents = self.entries, self.fast, self.dependents
        clock = not self.exact_lru
        while self.bound is not None and len(entries) > self.bound:
            candidate = None
            swept: list[Key] = []
            for key, entry in entries.items():
                if key in dependents:
                    if not self._evictable(key, keep, protected):
                        continue
                elif key == keep or key in protected or entry.registration.is_override:
                    continue
                if clock and key in fast:
                    swept.append(key)
                    continue
                candidate = key
                break
            for key in swept:
                del fast[key]
                entries.move_to_end(key)
            if candidate is None:  # every bit was set and is now clear: take the oldest
                candidate = next((k for k in entries if self._evictable(k, keep, protected)), None)
            if candidate is None:
                break
            if candidate in dependents:
                dropped = self.drop_with_dependents(candidate)
            else:  # the usual case, without the walk
                entry = entries.pop(candidate)
                fast.pop(candidate, None)
                if entry.deps:
                    self._unlink(candidate, entry)
                dropped = [(candidate, entry)]
            for dropped_key, dropped_entry in dropped:
                victims.append(dropped_entry)
                self.evictions += 1
                name = dropped_key if type(dropped_key) is str else key_name(dropped_key)
                evicted = self.evicted
                if name in evicted:
                    evicted[name] += 1
                elif len(evicted) < _MAX_EVICTED_NAMES:
                    evicted[name] = 1
                else:
                    self.evicted_unnamed += 1
        return victims

    def _unlink(self, key: Key, entry: Entry) -> None:
        """Forget the edges from what `entry`, cached under `key` until now, was built from."""
        dependents = self.dependents
        for dep in entry.deps:
            found = dependents.get(dep)
            if found is not None:
                found.discard(key)
                if not found:
                    del dependents[dep]


def close_entries(entries: list[Entry]) -> list[Exception]:
    """Close entries newest first; return what failed, each error naming its service."""
    errors: list[Exception] = []
    if len(entries) > 1:
        entries = sorted(entries, key=lambda e: e.seq, reverse=True)
    for entry in entries:
        if entry.registration.is_override:
            continue
        try:
            _close_one(entry)
        except Exception as exc:  # noqa: BLE001 - every service is attempted; failures are grouped
            exc.add_note(f"while closing {type(entry.instance).__qualname__} built at seq {entry.seq}")
            errors.append(exc)
    return errors


def _close_one(entry: Entry) -> None:
    finaliser = entry.finaliser
    if finaliser is not None:
        entry.finaliser = None  # a service is closed once, whatever happens next
        try:
            next(finaliser)
        except StopIteration:
            return
        finaliser.close()
        msg = f"the generator factory of {type(entry.instance).__qualname__} yielded more than once"
        raise RuntimeError(msg)
    close = getattr(entry.instance, "close", None)
    if callable(close):
        close()
