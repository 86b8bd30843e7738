"""The `exclusive()` locks in the snapshots: who held which lock, for how long, and who waited for whom."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Final

from .text import elide
from .validation import MAX_COUNT, MAX_PID, InvalidSnapshotError, json_type

__all__ = ["LockUse", "check_locks", "lock_lines", "lock_uses"]

_SECONDS: Final = ("wait_seconds", "max_wait_seconds", "hold_seconds", "max_hold_seconds")
_COUNTS: Final = ("acquisitions", "timeouts")
_HOLDER_FIELDS: Final = ("worker", "pid", "test")
_MAX_SECONDS: Final = 10.0**9  # about 30 years: anything longer is not a real wait
_TESTS_SHOWN: Final = 12
_HOLDERS_SHOWN: Final = 3
"""A lock lists this many of its tests at most (those that waited longest), then how many more."""


def check_locks(data: Mapping[str, Any]) -> None:
    """Raise `InvalidSnapshotError` unless the snapshot's optional `locks` list is well formed."""
    if "locks" not in data:
        return  # a snapshot from before exclusive() existed, or from a tool that has none
    for index, entry in enumerate(_objects(data["locks"], "locks")):
        where = f"locks[{index}]"
        _string(entry, "name", where)
        _string(entry, "scope", where)
        _string(entry, "test", where, optional=True)
        for name in _COUNTS:
            _integer(entry, name, where, bounds=(0, MAX_COUNT))
        for name in _SECONDS:
            _seconds(entry, name, where)
        for position, holder in enumerate(_objects(entry.get("waited_for"), f"{where}.waited_for")):
            inner = f"{where}.waited_for[{position}]"
            _string(holder, "worker", inner, optional=True)
            _string(holder, "test", inner, optional=True)
            _integer(holder, "pid", inner, bounds=(1, MAX_PID), optional=True)


@dataclass(frozen=True)
class LockUse:
    """What one test, in one process, did with one lock."""

    name: str
    scope: str
    test: str | None
    worker: str
    pid: int
    acquisitions: int
    timeouts: int
    wait_seconds: float
    max_wait_seconds: float
    hold_seconds: float
    max_hold_seconds: float
    waited_for: tuple[tuple[str | None, int | None, str | None], ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the use as JSON types, its fields in order, each holder it waited for an object."""
        return {
            **{field.name: getattr(self, field.name) for field in fields(self)},
            "waited_for": [dict(zip(_HOLDER_FIELDS, holder, strict=True)) for holder in self.waited_for],
        }


def lock_uses(snapshots: Iterable[Mapping[str, Any]]) -> list[LockUse]:
    """Return every lock use the snapshots recorded, by lock, then by test."""
    uses = [
        LockUse(
            name=entry["name"],
            scope=entry["scope"],
            test=entry["test"],
            worker=snapshot["worker_id"],
            pid=snapshot["pid"],
            acquisitions=entry["acquisitions"],
            timeouts=entry["timeouts"],
            wait_seconds=float(entry["wait_seconds"]),
            max_wait_seconds=float(entry["max_wait_seconds"]),
            hold_seconds=float(entry["hold_seconds"]),
            max_hold_seconds=float(entry["max_hold_seconds"]),
            waited_for=tuple((h.get("worker"), h.get("pid"), h.get("test")) for h in entry["waited_for"]),
        )
        for snapshot in snapshots
        for entry in snapshot.get("locks", ())
    ]
    return sorted(uses, key=lambda u: (u.scope, u.name, u.test or "", u.worker, u.pid))


def lock_lines(uses: list[LockUse], width: int) -> list[str]:
    """Return the report's lock section: per lock, its holds and waits, then each test and whom it waited for.

    Empty when no snapshot recorded a lock, so reports of suites that do not
    use `exclusive()` are unchanged.
    """
    if not uses:
        return []
    by_lock: dict[tuple[str, str], list[LockUse]] = {}
    for use in uses:
        by_lock.setdefault((use.scope, use.name), []).append(use)
    lines = ["", "Locks taken with exclusive():"]
    for (scope, name), group in by_lock.items():
        holds = sum(u.acquisitions for u in group)
        waited = sum(1 for u in group if u.waited_for or u.timeouts)
        timeouts = sum(u.timeouts for u in group)
        head = (
            f"{name} ({scope}): {holds} hold{_s(holds)},"
            f" longest {max(u.max_hold_seconds for u in group):.2f}s; {waited} waited"
        )
        if waited:
            head += f", longest {max(u.max_wait_seconds for u in group):.2f}s"
        if timeouts:
            head += f"; {timeouts} timed out"
        lines.append(elide("  " + head, width))
        shown = sorted(group, key=lambda u: -u.max_wait_seconds)[:_TESTS_SHOWN]
        for use in sorted(shown, key=lambda u: (u.test or "", u.worker)):
            lines.extend(elide(line, width) for line in _use_lines(use))
        if len(group) > len(shown):
            lines.append(f"    … and {len(group) - len(shown)} more tests that waited less")
    return lines


def _use_lines(use: LockUse) -> list[str]:
    text = f"    {use.test or '(outside any test)'} on {use.worker}: held {use.hold_seconds:.2f}s"
    if use.waited_for or use.timeouts:
        text += f", waited {use.wait_seconds:.2f}s"
    if use.timeouts:
        text += f", gave up {use.timeouts} time{_s(use.timeouts)}"
    holders = [f"      for {test or '(outside any test)'} on {worker}" for worker, _, test in use.waited_for]
    if len(holders) > _HOLDERS_SHOWN:
        more = len(holders) - (_HOLDERS_SHOWN - 1)
        holders = [*holders[: _HOLDERS_SHOWN - 1], f"      … and {more} more"]
    return [text, *holders]


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _objects(value: object, where: str) -> list[dict[str, Any]]:
    """Return `value`, an array of objects, or raise naming the first part of it that is not."""
    if not isinstance(value, list):
        msg = f"'{where}' is {json_type(value)}, not an array"
        raise InvalidSnapshotError(msg)
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            msg = f"{where}[{index}] is {json_type(item)}, not an object"
            raise InvalidSnapshotError(msg)
    return value


def _shown(data: dict[str, Any], name: str) -> str:
    """Say what the field `name` of `data` is, for an error message: "missing", "null", "a string"..."""
    return "missing" if name not in data else json_type(data[name])


def _string(data: dict[str, Any], name: str, where: str, *, optional: bool = False) -> None:
    value = data.get(name)
    if value is None and optional and name in data:
        return
    if not isinstance(value, str):
        msg = f"'{where}.{name}' is {_shown(data, name)}, not a string"
        raise InvalidSnapshotError(msg)


def _integer(
    data: dict[str, Any], name: str, where: str, *, bounds: tuple[int, int], optional: bool = False
) -> None:
    minimum, maximum = bounds
    value = data.get(name)
    if value is None and optional and name in data:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"'{where}.{name}' is {_shown(data, name)}, not an integer"
        raise InvalidSnapshotError(msg)
    if not minimum <= value <= maximum:
        msg = f"'{where}.{name}' is {elide(str(value), 30)}, outside {minimum} to {maximum}"
        raise InvalidSnapshotError(msg)


def _seconds(data: dict[str, Any], name: str, where: str) -> None:
    value = data.get(name)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 <= value <= _MAX_SECONDS
    ):
        msg = f"'{where}.{name}' is {_shown(data, name)}, not a number of seconds"
        raise InvalidSnapshotError(msg)
