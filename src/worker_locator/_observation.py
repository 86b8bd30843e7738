"""What the pytest plugin's pollution report reads from a locator at test boundaries, on the slow path only.

These functions are the locator's own, like the miss path in `_lookup`: they
take its lock and read its registry journal and cache. None of them is on the
path of a cached `get`. The one thing they change is the CLOCK "used since
the last sweep" bit of cached entries (presence in the cache's fast map):
`carried_over` clears it at the start of a test, so that the test's first
`get` of each service built before it takes the slow path once, which sets the
bit again; `used_of` then reads which bits are set. A cleared bit is what a
CLOCK sweep does anyway: the entry stays cached, and only its next lookup is
slower, once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from ._entries import Entry, Key, Registration
from ._registry import Checkpoint

if TYPE_CHECKING:
    from ._locator import ServiceLocator

__all__ = ["Marks", "built_since", "carried_over", "changed_since", "journal_position", "marks", "used_of"]


class Marks(NamedTuple):
    """Where a locator stands at one moment: its registry journal, constructions and open overrides."""

    journal: int
    constructions: int
    overrides: int


def marks(loc: ServiceLocator) -> Marks:
    """Return the locator's journal position, construction count and number of open override blocks."""
    with loc._lock:
        return Marks(len(loc._registry._journal), loc._constructions, len(loc._overrides))


def carried_over(loc: ServiceLocator) -> list[tuple[Key, Entry]]:
    """Return what is cached now, and clear each entry's "used since" bit (see the module's docstring)."""
    with loc._lock:
        entries = list(loc._cache.entries.items())
        fast = loc._cache.fast
        for key, _ in entries:
            fast.pop(key, None)
    return entries


def used_of(loc: ServiceLocator, carried: list[tuple[Key, Entry]]) -> list[tuple[Key, Entry]]:
    """Return the entries of `carried` still cached whose bit is set again: looked up since `carried_over`."""
    with loc._lock:
        entries, fast = loc._cache.entries, loc._cache.fast
        return [(key, entry) for key, entry in carried if key in fast and entries.get(key) is entry]


def built_since(loc: ServiceLocator, carried: list[tuple[Key, Entry]]) -> list[tuple[Key, Entry]]:
    """Return the cached entries that are not among `carried`: built (or overridden) since."""
    before = {id(entry) for _, entry in carried}
    with loc._lock:
        return [(key, entry) for key, entry in loc._cache.entries.items() if id(entry) not in before]


def changed_since(loc: ServiceLocator, position: int) -> list[tuple[Key, bool]]:
    """Return the keys whose registration differs from what it was at journal `position`.

    Each with whether its registration now is an `override` value. Empty if
    the journal no longer reaches back to `position` (nothing was journalled,
    or a restore went back past it).
    """
    with loc._lock:
        journal = loc._registry._journal
        if position >= len(journal):
            return []
        before: dict[Key, Registration | None] = {}
        for key, previous in journal[position:]:
            before.setdefault(key, previous)
        factories = loc._registry.factories
        changed = []
        for key, previous in before.items():
            current = factories.get(key)
            if current is not previous:
                changed.append((key, current is not None and current.is_override))
        return changed


def journal_position(checkpoint: Checkpoint | None) -> int:
    """Return where `checkpoint` stands in its registry's journal (0 for none).

    A restore to it keeps the changes journalled before that position.
    """
    return 0 if checkpoint is None else checkpoint._position
