"""Registrations, and the journal of their changes that makes `checkpoint` and `restore` cheap."""

from __future__ import annotations

import weakref

from ._entries import Key, Registration

__all__ = ["Checkpoint", "Registry"]

_Change = tuple[Key, "Registration | None"]


class Checkpoint:
    """The registrations of a locator at one moment, as [`ServiceLocator.checkpoint`][] took them.

    Pass it to [`ServiceLocator.restore`][] to return to that moment. Opaque by
    design: only `checkpoint()` makes one.
    """

    __slots__ = ("__weakref__", "_count", "_full", "_marker", "_position", "_registry")
    _registry: Registry
    _position: int
    _marker: _Change | None
    _count: int
    _full: dict[Key, Registration] | None

    def __init__(self) -> None:
        msg = "checkpoints are taken with ServiceLocator.checkpoint(), not built directly"
        raise TypeError(msg)

    @classmethod
    def _take(cls, registry: Registry, position: int, marker: _Change | None, count: int) -> Checkpoint:
        checkpoint = object.__new__(cls)
        checkpoint._registry = registry
        checkpoint._position = position
        checkpoint._marker = marker
        checkpoint._count = count
        checkpoint._full = None
        return checkpoint

    def __repr__(self) -> str:
        return f"<Checkpoint of {self._count} registrations>"


class Registry:
    """The factories of one locator, by key.

    While a checkpoint is alive, every change is journalled as (key, previous
    registration), so that a restore undoes only what changed since its
    checkpoint. A checkpoint that a restore to an earlier one would make
    unreachable is first given a full copy: rare, and the only step whose cost
    grows with the number of registrations. Every method expects the
    locator's lock to be held.
    """

    __slots__ = ("_checkpoints", "_journal", "factories")

    def __init__(self) -> None:
        self.factories: dict[Key, Registration] = {}
        self._journal: list[_Change] = []
        self._checkpoints: weakref.WeakSet[Checkpoint] = weakref.WeakSet()

    def set(self, key: Key, registration: Registration | None) -> None:
        """Register `registration` under `key`, or unregister `key` if it is `None`."""
        factories = self.factories
        if self._checkpoints:
            self._journal.append((key, factories.get(key)))
        elif self._journal:
            self._journal.clear()  # no checkpoint can be restored any more
        if registration is None:
            factories.pop(key, None)
        else:
            factories[key] = registration

    def checkpoint(self) -> Checkpoint:
        """Return a checkpoint of the registrations now."""
        journal = self._journal
        if not self._checkpoints:
            journal.clear()
        marker = journal[-1] if journal else None
        checkpoint = Checkpoint._take(self, len(journal), marker, len(self.factories))  # noqa: SLF001 - its own factory
        self._checkpoints.add(checkpoint)
        return checkpoint

    def rollback(self, checkpoint: Checkpoint) -> None:
        """Return the registrations to what they were at `checkpoint`."""
        full = checkpoint._full  # noqa: SLF001 - the class's own opaque state
        if full is None and checkpoint._registry is not self:  # noqa: SLF001 - the same
            full = checkpoint._registry.state_at(checkpoint)  # noqa: SLF001 - the same
        if full is not None:
            self._replace(full)
            return
        position = checkpoint._position  # noqa: SLF001 - the same
        journal, factories = self._journal, self.factories
        if len(journal) <= position:  # nothing changed since: the plugin's usual per-test case
            return
        later = sorted(
            (c for c in self._checkpoints if c._full is None and c._position > position),  # noqa: SLF001 - the same
            key=lambda c: c._position,  # noqa: SLF001 - the same
        )
        while len(journal) > position:
            while later and later[-1]._position == len(journal):  # noqa: SLF001 - the same
                stranded = later.pop()
                if stranded._marker is journal[-1]:  # noqa: SLF001 - the same
                    stranded._full = dict(factories)  # noqa: SLF001 - the same
            key, previous = journal.pop()
            if previous is None:
                factories.pop(key, None)
            else:
                factories[key] = previous

    def state_at(self, checkpoint: Checkpoint) -> dict[Key, Registration]:
        """Return a copy of the registrations at `checkpoint` (one of this registry's), changing nothing."""
        if checkpoint._full is not None:  # noqa: SLF001 - the class's own opaque state
            return dict(checkpoint._full)  # noqa: SLF001 - the same
        state = dict(self.factories)
        for key, previous in reversed(self._journal[checkpoint._position :]):  # noqa: SLF001 - the same
            if previous is None:
                state.pop(key, None)
            else:
                state[key] = previous
        return state

    def _replace(self, full: dict[Key, Registration]) -> None:
        for key in [k for k in self.factories if k not in full]:
            self.set(key, None)
        for key, registration in full.items():
            if self.factories.get(key) is not registration:
                self.set(key, registration)
