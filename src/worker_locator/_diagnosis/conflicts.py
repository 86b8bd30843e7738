"""The conflict rules: what two or more snapshots say went wrong between processes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from .text import elide, natural_order, one_line

__all__ = ["ADVICE", "Conflict", "ConflictKind", "Holder", "detect_conflicts", "process_of"]

# Resource kinds that name something on one machine: the same name on two hosts is two resources.
_HOST_LOCAL_KINDS: Final = frozenset({"sqlite", "file", "dir", "path", "port", "unix", "socket", "lock"})
# A worker id or host name longer than this is shortened in labels: they come from untrusted snapshots.
_LABEL_PART: Final = 24


class ConflictKind(StrEnum):
    """What [`detect_conflicts`][] reports."""

    SHARED_RESOURCE = "shared-resource"
    """Two processes (workers, runs or shards) held the same external resource."""
    FOREIGN_INSTANCE = "foreign-instance"
    """A cached service was built by another process than the one using it: inherited across fork."""
    SINGLETON_EVICTED = "singleton-evicted"
    """A service that looks like a singleton was evicted, so the process built it more than once."""
    CACHE_AT_BOUND = "cache-at-bound"
    """A locator's cache reached `max_cached`, so it evicts and rebuilds services."""


ADVICE: Final[Mapping[ConflictKind, str]] = {
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
        resource_namespace: The process's
            [`worker_locator.resource_namespace()`][worker_locator.resource_namespace].
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

    def label(self, *, with_host: bool = False, with_run: bool = True) -> str:
        """Return a short, printable name for tables: worker id, pid and, as asked, host and run id prefix.

        Examples:
            >>> holder = Holder("gw0", "ci-7", 4101, "3f9a1c2b7d4e5f60", "gw0_0123456789abcdef")
            >>> holder.label(), holder.label(with_host=True, with_run=False)
            ('gw0 (pid 4101, run 3f9a1c2b)', 'gw0@ci-7 (pid 4101)')
        """
        host = f"@{elide(self.host, _LABEL_PART)}" if with_host else ""
        run = ""
        if with_run:
            run = f", run {one_line(self.testrun_uid[:8])}" if self.testrun_uid else ", no run id"
        return f"{elide(self.worker_id, _LABEL_PART)}{host} (pid {self.pid}{run})"

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
    """One problem [`detect_conflicts`][] found.

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
        return ADVICE[self.kind]

    def to_dict(self) -> dict[str, Any]:
        """Return the conflict as JSON types, as `--json` prints it."""
        return {
            "kind": self.kind.value,
            "subject": self.subject,
            "holders": [holder.to_dict() for holder in self.holders],
            "detail": self.detail,
            "advice": self.advice,
        }


def detect_conflicts(snapshots: Iterable[Mapping[str, Any]]) -> list[Conflict]:
    """Compare snapshots and return the conflicts among them, most serious kind first.

    The four kinds ([`ConflictKind`][]), and the rule for each:

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
        snapshots: Valid snapshots, as
            [`collect_snapshot`][worker_locator.diagnosis.collect_snapshot] or
            [`read_snapshots`][worker_locator.diagnosis.read_snapshots] return them.

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


def process_of(holder: Holder) -> tuple[str, int, str]:
    """Return what identifies one process: host, pid and resource namespace."""
    return (holder.host, holder.pid, holder.resource_namespace)


def _holder_order(holder: Holder) -> tuple[str, str, tuple[str | tuple[int, str], ...], int, str]:
    # Holders are not orderable themselves (testrun_uid may be None): conflicts sort by this.
    worker = natural_order(holder.worker_id)
    return (holder.host, holder.testrun_uid or "", worker, holder.pid, holder.resource_namespace)


def _sorted_holders(holders: Iterable[Holder]) -> tuple[Holder, ...]:
    unique = {process_of(h): h for h in holders}
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
        process = process_of(holder)
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
        _, cached, evictions, _ = worst.get(process_of(holder), (holder, 0, 0, bound))
        worst[process_of(holder)] = (
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
