"""Whether parsed JSON is a snapshot this version can read, and plausible enough to report on."""

from __future__ import annotations

import math
from typing import Any, Final, TypeGuard

from worker_locator._snapshot import SNAPSHOT_FORMAT

from .text import shown

__all__ = ["MAX_COUNT", "MAX_PID", "InvalidSnapshotError", "NewerFormatError", "check_snapshot", "json_type"]

MAX_PID: Final = 2**31 - 1
"""The largest process id any system hands out (`pid_t` is a signed 32-bit integer)."""

MAX_COUNT: Final = 2**63 - 1
"""The largest count a real run can reach: the counters of a 64-bit process."""

_STATS_FIELDS: Final = ("misses", "constructions", "evictions", "cached")


class InvalidSnapshotError(Exception):
    """The data is not a snapshot; the message says which field is wrong."""


class NewerFormatError(InvalidSnapshotError):
    """The data is a snapshot of a format this version cannot read."""


def check_snapshot(data: object) -> None:
    """Raise `InvalidSnapshotError` unless `data` is a snapshot with plausible values."""
    if not isinstance(data, dict):
        msg = f"the top level is {json_type(data)}, not an object"
        raise InvalidSnapshotError(msg)
    version = data.get("format")
    if not _is_int(version):
        msg = "no integer 'format' field" if version is None else "'format' is not an integer"
        raise InvalidSnapshotError(msg)
    if version > SNAPSHOT_FORMAT:
        msg = (
            f"snapshot format {_number(version)} comes from a newer worker-locator (this one reads format"
            f" {SNAPSHOT_FORMAT}); upgrade worker-locator to diagnose it"
        )
        raise NewerFormatError(msg)
    if version < 1:
        msg = f"'format' is {_number(version)}; snapshot formats start at 1"
        raise InvalidSnapshotError(msg)
    _require(data, "worker_id", str)
    _require(data, "host", str)
    _require(data, "resource_namespace", str)
    _require(data, "testrun_uid", str, optional=True)
    _require_int(data, "pid", minimum=1, maximum=MAX_PID, what="a process id")
    _require_number(data, "taken_at")
    _require_count(data, "max_cached", minimum=1, optional=True)
    _require_count(data, "inherited_dropped")
    stats = _require(data, "stats", dict)
    _require_count(stats, "hits", optional=True, where="stats.")
    for name in _STATS_FIELDS:
        _require_count(stats, name, where="stats.")
    evicted = _require(data, "evicted", dict)
    for name, count in evicted.items():
        if not _is_int(count) or not 0 <= count <= MAX_COUNT:
            kind = _number(count) if _is_int(count) else json_type(count)
            msg = f"evicted[{shown(name, 80)}] is {kind}, not a count"
            raise InvalidSnapshotError(msg)
    for index, service in enumerate(_require(data, "services", list)):
        _check_service(service, f"services[{index}].")


def _check_service(service: object, where: str) -> None:
    if not isinstance(service, dict):
        msg = f"{where[:-1]} is {json_type(service)}, not an object"
        raise InvalidSnapshotError(msg)
    _require(service, "key", str, where=where)
    _require(service, "type", str, where=where)
    _require(service, "override", bool, where=where)
    _require_number(service, "created_at", where=where)
    _require_int(service, "owner_pid", minimum=1, maximum=MAX_PID, what="a process id", where=where)
    _require_count(service, "hits", optional=True, where=where)
    for position, resource in enumerate(_require(service, "resources", list, where=where)):
        if not isinstance(resource, str):
            msg = f"{where}resources[{position}] is {json_type(resource)}, not a string"
            raise InvalidSnapshotError(msg)
    if "resources_error" in service:
        _require(service, "resources_error", str, where=where)


def _require(
    data: dict[str, Any], name: str, kind: type[Any], *, optional: bool = False, where: str = ""
) -> Any:
    if name not in data:
        msg = f"no '{where}{name}' field"
        raise InvalidSnapshotError(msg)
    value = data[name]
    if value is None and optional:
        return None
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        msg = f"'{where}{name}' is {json_type(value)}, not {_with_article(_json_type_name(kind))}"
        raise InvalidSnapshotError(msg)
    return value


def _require_int(  # noqa: PLR0913 - each bound is a keyword, and all are needed
    data: dict[str, Any],
    name: str,
    *,
    minimum: int,
    maximum: int,
    what: str,
    optional: bool = False,
    where: str = "",
) -> None:
    value = _require(data, name, int, optional=optional, where=where)
    if value is None:
        return
    if value < minimum:
        msg = f"'{where}{name}' is {_number(value)}, below {minimum}"
        raise InvalidSnapshotError(msg)
    if value > maximum:
        msg = f"'{where}{name}' is {_number(value)}, too large to be {what} (at most {maximum})"
        raise InvalidSnapshotError(msg)


def _require_count(
    data: dict[str, Any], name: str, *, minimum: int = 0, optional: bool = False, where: str = ""
) -> None:
    _require_int(
        data, name, minimum=minimum, maximum=MAX_COUNT, what="a count", optional=optional, where=where
    )


def _require_number(data: dict[str, Any], name: str, *, where: str = "") -> None:
    if name not in data:
        msg = f"no '{where}{name}' field"
        raise InvalidSnapshotError(msg)
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        msg = f"'{where}{name}' is {json_type(value)}, not a number"
        raise InvalidSnapshotError(msg)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: int) -> str:
    """Show an integer from untrusted input: in full when short, else as its number of digits."""
    digits = str(value)
    return digits if len(digits) <= 24 else f"a {len(digits.lstrip('-'))}-digit number"  # noqa: PLR2004


def json_type(value: object) -> str:
    """Name a parsed JSON value's type with its article: "an object", "a string", "null"."""
    if value is None:
        return "null"
    return _with_article(_json_type_name(type(value)))


def _with_article(name: str) -> str:
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _json_type_name(kind: type[Any]) -> str:
    names: dict[type[Any], str] = {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
    }
    return names.get(kind, kind.__name__)
