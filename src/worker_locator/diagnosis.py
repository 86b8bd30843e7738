"""Find where pytest-xdist workers and test runs collide, from locator snapshots.

A snapshot (`ServiceLocator.snapshot`) names one process (worker id, pid,
host, pytest-xdist run id) and the services it cached, with the external
resources each one declared through a `held_resources()` method. The pytest
plugin writes one per worker with `--locator-snapshot DIR`; `write_snapshot`
writes one from any process. `detect_conflicts` compares snapshots from
several workers, runs, CI shards and hosts and reports four kinds of conflict
(see `ConflictKind`). On the command line:

    python -m worker_locator.diagnosis DIR [DIR ...] [--json]

prints a table (or JSON) and exits 0 when the snapshots are clean, 1 when
conflicts were found and 2 when an input is unusable, with one line per
unusable file naming it and the problem.

Examples:
    Two workers that open the same sqlite file, and the report about it:

    >>> def fake(worker, pid, resources):
    ...     return {"format": 1, "worker_id": worker, "pid": pid, "host": "ci-1",
    ...             "resource_namespace": f"{worker}_0123456789abcdef", "testrun_uid": "run1",
    ...             "taken_at": 0.0, "max_cached": 50,
    ...             "stats": {"hits": 0, "misses": 1, "constructions": 1, "evictions": 0, "cached": 1},
    ...             "services": [{"key": "Database", "type": "app.Database", "created_at": 0.0,
    ...                           "owner_pid": pid, "hits": 0, "override": False,
    ...                           "resources": resources}],
    ...             "evicted": {}, "inherited_dropped": 0}
    >>> conflicts = detect_conflicts([fake("gw0", 101, ["sqlite:/tmp/app.db"]),
    ...                               fake("gw1", 102, ["sqlite:/tmp/app.db"])])
    >>> [(c.kind.value, c.subject, [h.worker_id for h in c.holders]) for c in conflicts]
    [('shared-resource', 'sqlite:/tmp/app.db', ['gw0', 'gw1'])]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import secrets
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, TextIO, TypeGuard, cast

from ._default import get_locator
from ._locator import SNAPSHOT_FORMAT, ServiceLocator

__all__ = [
    "MAX_SNAPSHOT_BYTES",
    "Conflict",
    "ConflictKind",
    "Holder",
    "SnapshotError",
    "collect_snapshot",
    "detect_conflicts",
    "load_snapshot",
    "main",
    "read_snapshots",
    "write_snapshot",
]

MAX_SNAPSHOT_BYTES: Final = 16 * 1024 * 1024
"""The largest file `load_snapshot` reads: far above any real snapshot, far below a memory problem."""

# Resource kinds that name something on one machine: the same name on two hosts is two resources.
_HOST_LOCAL_KINDS: Final = frozenset({"sqlite", "file", "dir", "path", "port", "unix", "socket", "lock"})
_UNSAFE_NAME: Final = re.compile(r"[^a-z0-9_]+")
_SNAPSHOT_GLOB: Final = "*.json"
_TOO_LARGE: Final = (
    f"larger than {MAX_SNAPSHOT_BYTES} bytes, too large to be a snapshot; is it the right file?"
)


class SnapshotError(ValueError):
    """Raised for an input that cannot be read as a snapshot: its path and what is wrong with it.

    `str()` of it is one line, `<path>: <problem>`, which is what the command line prints.

    Attributes:
        path: The file or directory.
        problem: What is wrong, and where that helps, what to do.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{_printable(str(self.path))}: {_printable(problem)}")


class ConflictKind(StrEnum):
    """What `detect_conflicts` reports."""

    SHARED_RESOURCE = "shared-resource"
    """Two processes (workers, runs or shards) held the same external resource."""
    FOREIGN_INSTANCE = "foreign-instance"
    """A cached service was built by another process than the one using it: inherited across fork."""
    SINGLETON_EVICTED = "singleton-evicted"
    """A service that looks like a singleton was evicted, so the process built it more than once."""
    CACHE_AT_BOUND = "cache-at-bound"
    """A locator's cache reached `max_cached`, so it evicts and rebuilds services."""


_ADVICE: Final[Mapping[ConflictKind, str]] = {
    ConflictKind.SHARED_RESOURCE: (
        "name files, databases and directories per worker and run (worker_locator.resource_namespace()"
        " or tmp_path_factory), and bind port 0 instead of a fixed port"
    ),
    ConflictKind.FOREIGN_INSTANCE: (
        "a fork copied this object into another process; call clear_all_caches() in the child and build"
        " new instances there (the fork hook does it for os.fork and multiprocessing's fork start)"
    ),
    ConflictKind.SINGLETON_EVICTED: (
        "raise max_cached above the number of services a process uses, or register such services with"
        " keep_between_tests=True so they stay cached"
    ),
    ConflictKind.CACHE_AT_BOUND: (
        "raise max_cached (or pass None) so that services are not evicted and rebuilt"
    ),
}


@dataclass(frozen=True, slots=True)
class Holder:
    """The process a snapshot describes.

    Attributes:
        worker_id: `gw0`, `gw1`, ... or `pid-<pid>` outside pytest-xdist.
        host: The host name.
        pid: The process id.
        testrun_uid: The pytest-xdist run id, `None` outside xdist.
        resource_namespace: The process's `worker_locator.resource_namespace()`.
    """

    worker_id: str
    host: str
    pid: int
    testrun_uid: str | None
    resource_namespace: str

    @classmethod
    def of(cls, snapshot: Mapping[str, Any]) -> Holder:
        """Return the holder a (valid) snapshot describes."""
        return cls(
            worker_id=snapshot["worker_id"],
            host=snapshot["host"],
            pid=snapshot["pid"],
            testrun_uid=snapshot["testrun_uid"],
            resource_namespace=snapshot["resource_namespace"],
        )

    def label(self, *, with_host: bool = False) -> str:
        """Return a short name for tables: worker id, pid, run id prefix and, if asked, host."""
        run = f"run {self.testrun_uid[:8]}" if self.testrun_uid else "no run id"
        host = f"@{self.host}" if with_host else ""
        return _printable(f"{self.worker_id}{host} (pid {self.pid}, {run})")

    def to_dict(self) -> dict[str, Any]:
        """Return the holder as JSON types."""
        return {
            "worker_id": self.worker_id,
            "host": self.host,
            "pid": self.pid,
            "testrun_uid": self.testrun_uid,
            "resource_namespace": self.resource_namespace,
        }


@dataclass(frozen=True, slots=True)
class Conflict:
    """One problem `detect_conflicts` found.

    Attributes:
        kind: Which kind of conflict.
        subject: The resource, service or cache it is about.
        holders: The processes involved, in a stable order.
        detail: One line of explanation.
    """

    kind: ConflictKind
    subject: str
    holders: tuple[Holder, ...]
    detail: str

    @property
    def advice(self) -> str:
        """What usually fixes this kind of conflict."""
        return _ADVICE[self.kind]

    def to_dict(self) -> dict[str, Any]:
        """Return the conflict as JSON types, as `--json` prints it."""
        return {
            "kind": self.kind.value,
            "subject": self.subject,
            "holders": [holder.to_dict() for holder in self.holders],
            "detail": self.detail,
            "advice": self.advice,
        }


# -- writing ------------------------------------------------------------------


def collect_snapshot(locator: ServiceLocator | None = None) -> dict[str, Any]:
    """Return a snapshot of `locator`, by default this process's default locator.

    Args:
        locator: The locator to describe; `worker_locator.get_locator()` if omitted.

    Returns:
        What `ServiceLocator.snapshot` returns: a dict of JSON types.

    Examples:
        >>> from worker_locator import ServiceLocator
        >>> locator = ServiceLocator()
        >>> locator.register("answer", lambda: 42)
        >>> _ = locator.get("answer")
        >>> [service["key"] for service in collect_snapshot(locator)["services"]]
        ['answer']
    """
    return (get_locator() if locator is None else locator).snapshot()


def write_snapshot(directory: str | os.PathLike[str], snapshot: Mapping[str, Any] | None = None) -> Path:
    """Write a snapshot as JSON into `directory`, atomically, under a name no other process uses.

    The file is written to a temporary name in the same directory, flushed to
    disk, then renamed, so a reader never sees half a snapshot. The name is
    `locator-<resource namespace>-<random>.json`: the namespace differs per
    worker, run, host and process, and the random part per call.

    Args:
        directory: Where to write; it must exist.
        snapshot: What to write; `collect_snapshot()` if omitted.

    Returns:
        The path of the written file.

    Raises:
        SnapshotError: `snapshot` is not a valid snapshot.
        OSError: The directory is missing or not writable.

    Examples:
        >>> import tempfile
        >>> from worker_locator import ServiceLocator
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = write_snapshot(folder, collect_snapshot(ServiceLocator()))
        ...     load_snapshot(path)["services"]
        []
    """
    data = collect_snapshot() if snapshot is None else snapshot
    folder = Path(directory)
    try:
        _check_snapshot(data)
    except _InvalidError as exc:
        raise SnapshotError(folder, f"refusing to write an invalid snapshot: {exc}") from None
    text = json.dumps(data, indent=1, sort_keys=True, allow_nan=False) + "\n"
    namespace = _UNSAFE_NAME.sub("_", str(data["resource_namespace"]).lower())[:63] or "unknown"
    target = folder / f"locator-{namespace}-{secrets.token_hex(6)}.json"
    fd, temporary = tempfile.mkstemp(prefix=".locator-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        Path(temporary).replace(target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(temporary).unlink()
        raise
    return target


# -- reading ------------------------------------------------------------------


def load_snapshot(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read one snapshot file and check that it is one.

    Args:
        path: A JSON file written by `write_snapshot` or the pytest plugin.

    Returns:
        The snapshot.

    Raises:
        SnapshotError: The file is missing, too large, binary, not JSON,
            truncated, too deeply nested, not a snapshot, or from a newer
            snapshot format.
    """
    file = Path(path)
    try:
        if not file.is_file():
            raise SnapshotError(file, "not a regular file" if file.exists() else "no such file")
        if file.stat().st_size > MAX_SNAPSHOT_BYTES:
            raise SnapshotError(file, _TOO_LARGE)
        with file.open("rb") as stream:
            raw = stream.read(MAX_SNAPSHOT_BYTES + 1)
    except OSError as exc:
        raise SnapshotError(file, f"cannot read it: {exc.strerror or exc}") from None
    if len(raw) > MAX_SNAPSHOT_BYTES:
        raise SnapshotError(file, _TOO_LARGE)
    data = _parse(file, raw)
    try:
        _check_snapshot(data)
    except _NewerFormatError as exc:
        raise SnapshotError(file, str(exc)) from None
    except _InvalidError as exc:
        raise SnapshotError(file, f"not a worker-locator snapshot: {exc}") from None
    return cast("dict[str, Any]", data)  # _check_snapshot proved it is one


def read_snapshots(*paths: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read the snapshots in directories (their `*.json` files) and files, in name order.

    Args:
        *paths: Directories written by `--locator-snapshot`, or snapshot files.

    Returns:
        Every snapshot, each file read once.

    Raises:
        ExceptionGroup: One `SnapshotError` per unusable input: a missing
            directory, a directory without snapshots, or a file that
            `load_snapshot` rejects. Nothing is returned then, since a
            diagnosis that skips inputs could call a conflicting run clean.
    """
    snapshots, errors = _read_all(paths)
    if errors:
        msg = f"{len(errors)} unusable snapshot input{'s' if len(errors) > 1 else ''}"
        raise ExceptionGroup(msg, errors)
    return snapshots


def _read_all(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[dict[str, Any]], list[SnapshotError]]:
    files: dict[Path, None] = {}
    errors: list[SnapshotError] = []
    for given in paths:
        path = Path(given)
        try:
            if path.is_dir():
                found = sorted(p for p in path.glob(_SNAPSHOT_GLOB) if not p.name.startswith("."))
                if not found:
                    errors.append(
                        SnapshotError(
                            path,
                            "no snapshot files (*.json) in this directory;"
                            " run pytest with --locator-snapshot DIR first",
                        )
                    )
                files.update(dict.fromkeys(p.resolve() for p in found))
            elif path.exists():
                files[path.resolve()] = None
            else:
                errors.append(SnapshotError(path, "no such file or directory"))
        except OSError as exc:
            errors.append(SnapshotError(path, f"cannot list it: {exc.strerror or exc}"))
    snapshots: list[dict[str, Any]] = []
    for file in files:
        try:
            snapshots.append(load_snapshot(file))
        except SnapshotError as exc:
            errors.append(exc)
    return snapshots, errors


def _parse(file: Path, raw: bytes) -> Any:
    if b"\0" in raw:
        raise SnapshotError(file, "binary data (NUL bytes), not a JSON snapshot")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SnapshotError(file, f"not UTF-8 text (byte {exc.start}), so not a JSON snapshot") from None
    if not text.strip():
        raise SnapshotError(file, "empty file; a snapshot is never empty (was its writer killed?)")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
            problem = (
                f"truncated JSON: it stops before the document is complete ({exc.msg}, line {exc.lineno})"
            )
        else:
            problem = f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        raise SnapshotError(file, problem) from None
    except RecursionError:
        raise SnapshotError(file, "JSON nested too deeply to be a snapshot") from None
    except ValueError as exc:  # out-of-range numbers, NaN and Infinity
        raise SnapshotError(file, f"not valid JSON: {exc}") from None


def _reject_constant(name: str) -> Any:
    msg = f"{name} is not a JSON number"
    raise ValueError(msg)


# -- validation ---------------------------------------------------------------


class _InvalidError(Exception):
    """The data is not a snapshot; the message says which field is wrong."""


class _NewerFormatError(_InvalidError):
    """The data is a snapshot of a format this version cannot read."""


_STATS_FIELDS: Final = ("misses", "constructions", "evictions", "cached")


def _check_snapshot(data: object) -> None:
    if not isinstance(data, dict):
        msg = f"the top level is {_json_type(data)}, not an object"
        raise _InvalidError(msg)
    version = data.get("format")
    if not _is_int(version):
        msg = "no integer 'format' field" if version is None else "'format' is not an integer"
        raise _InvalidError(msg)
    if version > SNAPSHOT_FORMAT:
        msg = (
            f"snapshot format {version} comes from a newer worker-locator (this one reads format"
            f" {SNAPSHOT_FORMAT}); upgrade worker-locator to diagnose it"
        )
        raise _NewerFormatError(msg)
    if version < 1:
        msg = f"'format' is {version}; snapshot formats start at 1"
        raise _InvalidError(msg)
    _require(data, "worker_id", str)
    _require(data, "host", str)
    _require(data, "resource_namespace", str)
    _require(data, "testrun_uid", str, optional=True)
    _require_int(data, "pid", minimum=1)
    _require_number(data, "taken_at")
    _require_int(data, "max_cached", minimum=1, optional=True)
    _require_int(data, "inherited_dropped", minimum=0)
    stats = _require(data, "stats", dict)
    _require_int(stats, "hits", minimum=0, optional=True, where="stats.")
    for name in _STATS_FIELDS:
        _require_int(stats, name, minimum=0, where="stats.")
    evicted = _require(data, "evicted", dict)
    for name, count in evicted.items():
        if not _is_int(count) or count < 0:
            msg = f"evicted[{name!r}] is {_json_type(count)}, not a count"
            raise _InvalidError(msg)
    for index, service in enumerate(_require(data, "services", list)):
        _check_service(service, f"services[{index}].")


def _check_service(service: object, where: str) -> None:
    if not isinstance(service, dict):
        msg = f"{where[:-1]} is {_json_type(service)}, not an object"
        raise _InvalidError(msg)
    _require(service, "key", str, where=where)
    _require(service, "type", str, where=where)
    _require(service, "override", bool, where=where)
    _require_number(service, "created_at", where=where)
    _require_int(service, "owner_pid", minimum=1, where=where)
    _require_int(service, "hits", minimum=0, optional=True, where=where)
    for position, resource in enumerate(_require(service, "resources", list, where=where)):
        if not isinstance(resource, str):
            msg = f"{where}resources[{position}] is {_json_type(resource)}, not a string"
            raise _InvalidError(msg)
    if "resources_error" in service:
        _require(service, "resources_error", str, where=where)


def _require(
    data: dict[str, Any], name: str, kind: type[Any], *, optional: bool = False, where: str = ""
) -> Any:
    if name not in data:
        msg = f"no '{where}{name}' field"
        raise _InvalidError(msg)
    value = data[name]
    if value is None and optional:
        return None
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        msg = f"'{where}{name}' is {_json_type(value)}, not {_with_article(_json_type_name(kind))}"
        raise _InvalidError(msg)
    return value


def _require_int(
    data: dict[str, Any], name: str, *, minimum: int, optional: bool = False, where: str = ""
) -> None:
    value = _require(data, name, int, optional=optional, where=where)
    if value is not None and value < minimum:
        msg = f"'{where}{name}' is {value}, below {minimum}"
        raise _InvalidError(msg)


def _require_number(data: dict[str, Any], name: str, *, where: str = "") -> None:
    if name not in data:
        msg = f"no '{where}{name}' field"
        raise _InvalidError(msg)
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        msg = f"'{where}{name}' is {_json_type(value)}, not a number"
        raise _InvalidError(msg)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_type(value: object) -> str:
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


# -- detection ----------------------------------------------------------------


def detect_conflicts(snapshots: Iterable[Mapping[str, Any]]) -> list[Conflict]:
    """Compare snapshots and return the conflicts among them, most serious kind first.

    The four kinds (`ConflictKind`), and the rule for each:

    - **shared-resource**: one resource name held by two different processes,
      whether workers of one run, two runs or two shards. Names of kinds that
      live on one machine (`sqlite:`, `file:`, `dir:`, `path:`, `port:`,
      `unix:`, `socket:`, `lock:`) are compared per host; any other kind (for
      example `postgres:` or `redis:`) is compared across hosts. The times
      are not compared: two runs that used one fixed name did not collide
      this time only because they did not overlap.
    - **foreign-instance**: a cached service whose `owner_pid` is not the
      pid of the process that took the snapshot.
    - **singleton-evicted**: an evicted service that looks like a singleton,
      meaning it holds external resources (its `held_resources()` named one
      in a snapshot of that process), or it was evicted at least twice, so
      the process went through three or more instances of it. One eviction
      of a service that declares nothing is left to cache-at-bound.
    - **cache-at-bound**: a process whose cache holds `max_cached` services,
      or evicted any.

    Snapshots of the same process (same host, pid and resource namespace)
    count as one holder.

    Args:
        snapshots: Valid snapshots, as `collect_snapshot` or `read_snapshots` return them.

    Returns:
        The conflicts, sorted by kind, then subject.
    """
    taken = list(snapshots)
    conflicts = [
        *_shared_resources(taken),
        *_foreign_instances(taken),
        *_evicted_singletons(taken),
        *_caches_at_bound(taken),
    ]
    order = list(ConflictKind)
    return sorted(
        conflicts, key=lambda c: (order.index(c.kind), c.subject, [_holder_order(h) for h in c.holders])
    )


def _process(holder: Holder) -> tuple[str, int, str]:
    return (holder.host, holder.pid, holder.resource_namespace)


def _holder_order(holder: Holder) -> tuple[str, str, str, int, str]:
    # Holders are not orderable themselves (testrun_uid may be None): conflicts sort by this.
    return (holder.host, holder.testrun_uid or "", holder.worker_id, holder.pid, holder.resource_namespace)


def _sorted_holders(holders: Iterable[Holder]) -> tuple[Holder, ...]:
    unique = {_process(h): h for h in holders}
    return tuple(sorted(unique.values(), key=_holder_order))


def _shared_resources(snapshots: list[Mapping[str, Any]]) -> list[Conflict]:
    holders_of: dict[tuple[str, str], list[Holder]] = {}
    for snapshot in snapshots:
        holder = Holder.of(snapshot)
        for service in snapshot["services"]:
            for resource in service["resources"]:
                kind = resource.split(":", 1)[0].lower()
                scope = holder.host if kind in _HOST_LOCAL_KINDS else ""
                holders_of.setdefault((scope, resource), []).append(holder)
    conflicts = []
    for (scope, resource), found in holders_of.items():
        holders = _sorted_holders(found)
        if len(holders) < 2:  # noqa: PLR2004 - a conflict takes two holders
            continue
        runs = {h.testrun_uid or h.resource_namespace for h in holders}
        who = "runs" if len(runs) > 1 else "workers of one run"
        where = f" on host {scope}" if scope else ""
        detail = f"{len(holders)} processes ({who}) held it{where}"
        conflicts.append(Conflict(ConflictKind.SHARED_RESOURCE, resource, holders, detail))
    return conflicts


def _foreign_instances(snapshots: list[Mapping[str, Any]]) -> list[Conflict]:
    conflicts = []
    for snapshot in snapshots:
        holder = Holder.of(snapshot)
        for service in snapshot["services"]:
            if service["owner_pid"] != holder.pid:
                detail = f"built by pid {service['owner_pid']}, cached in pid {holder.pid}"
                conflicts.append(Conflict(ConflictKind.FOREIGN_INSTANCE, service["key"], (holder,), detail))
    return conflicts


def _evicted_singletons(snapshots: list[Mapping[str, Any]]) -> list[Conflict]:
    holding: dict[tuple[str, int, str], set[str]] = {}
    evictions: dict[tuple[tuple[str, int, str], str], tuple[Holder, int]] = {}
    for snapshot in snapshots:
        holder = Holder.of(snapshot)
        process = _process(holder)
        names = holding.setdefault(process, set())
        names.update(s["key"] for s in snapshot["services"] if s["resources"])
        for name, count in snapshot["evicted"].items():
            previous = evictions.get((process, name), (holder, 0))[1]
            evictions[process, name] = (holder, max(previous, count))
    conflicts = []
    for (process, name), (holder, count) in evictions.items():
        if name in holding[process]:
            why = "it holds external resources"
        elif count >= 2:  # noqa: PLR2004 - evicted twice means built at least three times
            why = "it was built again after being evicted"
        else:
            continue
        detail = f"evicted {count} time{'s' if count > 1 else ''}; {why}"
        conflicts.append(Conflict(ConflictKind.SINGLETON_EVICTED, name, (holder,), detail))
    return conflicts


def _caches_at_bound(snapshots: list[Mapping[str, Any]]) -> list[Conflict]:
    worst: dict[tuple[str, int, str], tuple[Holder, int, int, int]] = {}
    for snapshot in snapshots:
        bound = snapshot["max_cached"]
        stats = snapshot["stats"]
        if bound is None or (stats["cached"] < bound and stats["evictions"] == 0):
            continue
        holder = Holder.of(snapshot)
        _, cached, evictions, _ = worst.get(_process(holder), (holder, 0, 0, bound))
        worst[_process(holder)] = (
            holder,
            max(cached, stats["cached"]),
            max(evictions, stats["evictions"]),
            bound,
        )
    return [
        Conflict(
            ConflictKind.CACHE_AT_BOUND,
            f"max_cached={bound}",
            (holder,),
            f"{cached} of {bound} cached, {evictions} evictions",
        )
        for holder, cached, evictions, bound in worst.values()
    ]


# -- command line -------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the diagnosis command line; return its exit status.

    Args:
        argv: The arguments, without the program name; `sys.argv[1:]` if omitted.

    Returns:
        0 when the snapshots are clean, 1 when conflicts were found, 2 when an
        input is unusable (one line per problem on standard error).
    """
    parser = argparse.ArgumentParser(
        prog="worker-locator-diagnose",
        description=(
            "Report where pytest-xdist workers and test runs collide, from the snapshots that"
            " `pytest --locator-snapshot DIR` wrote. Exit 0 when clean, 1 on conflicts, 2 on unusable input."
        ),
    )
    parser.add_argument(
        "paths", nargs="+", metavar="DIR", help="a snapshot directory (its *.json files) or a snapshot file"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table, for CI")
    args = parser.parse_args(argv)
    snapshots, errors = _read_all(args.paths)
    if errors:
        for error in errors:
            sys.stderr.write(f"worker-locator-diagnose: {error}\n")
        if args.json:
            _print_json({"errors": [{"path": str(e.path), "problem": e.problem} for e in errors]})
        return 2
    conflicts = detect_conflicts(snapshots)
    if args.json:
        _print_json(
            {
                "snapshots": len(snapshots),
                "processes": len({_process(Holder.of(s)) for s in snapshots}),
                "conflicts": [conflict.to_dict() for conflict in conflicts],
            }
        )
    else:
        _print_table(snapshots, conflicts, sys.stdout)
    return 1 if conflicts else 0


def _print_json(document: Mapping[str, Any]) -> None:
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _print_table(snapshots: list[dict[str, Any]], conflicts: list[Conflict], out: TextIO) -> None:
    holders = [Holder.of(s) for s in snapshots]
    hosts = {h.host for h in holders}
    runs = {h.testrun_uid or h.resource_namespace for h in holders}
    processes = {_process(h) for h in holders}
    scope = (
        f"{len(snapshots)} snapshot{_s(snapshots)} from {len(processes)} process{_es(processes)}"
        f" ({len(runs)} run{_s(runs)}, {len(hosts)} host{_s(hosts)})"
    )
    if not conflicts:
        print(f"{scope}: no conflicts", file=out)
        return
    print(f"{scope}: {len(conflicts)} conflict{_s(conflicts)}", file=out)
    print(file=out)
    with_host = len(hosts) > 1
    rows = [("KIND", "SUBJECT", "PROCESSES", "DETAIL")]
    rows.extend(
        (
            c.kind.value,
            _printable(c.subject),
            ", ".join(h.label(with_host=with_host) for h in c.holders),
            _printable(c.detail),
        )
        for c in conflicts
    )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[3]]).rstrip(), file=out)
    print(file=out)
    for kind in dict.fromkeys(c.kind for c in conflicts):
        print(f"{kind.value}: {_ADVICE[kind]}", file=out)


def _s(items: Sequence[object] | set[Any]) -> str:
    return "" if len(items) == 1 else "s"


def _es(items: set[Any]) -> str:
    return "" if len(items) == 1 else "es"


def _printable(text: str) -> str:
    """Escape what would break a one-line message: newlines, control and format characters."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


if __name__ == "__main__":
    raise SystemExit(main())
