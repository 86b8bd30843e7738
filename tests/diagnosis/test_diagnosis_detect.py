"""`detect_conflicts`, on snapshots of real locators taken in real processes."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.diagnosis.helpers import Database, Plain, in_child, snapshots_of_libc_forks
from worker_locator import ServiceLocator
from worker_locator.diagnosis import Conflict, ConflictKind, Holder, detect_conflicts


def _holding(path: str) -> dict[str, Any]:
    locator = ServiceLocator()
    locator.register("Database", lambda: Database(path))
    locator.get("Database")
    return locator.snapshot()


def _as_another_process(snapshot: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Return a copy of `snapshot` as if another process (another pid, and `fields`) had taken it."""
    other = copy.deepcopy(snapshot)
    pid = snapshot["pid"] + 1000
    other.update(pid=pid, resource_namespace=f"gw{pid}_0123456789abcdef", **fields)
    for service in other["services"]:
        service["owner_pid"] = pid
    return other


def _kinds(conflicts: list[Conflict]) -> list[tuple[str, str]]:
    return [(c.kind.value, c.subject) for c in conflicts]


def test_a_clean_snapshot_has_no_conflicts(valid_snapshot: dict[str, Any]) -> None:
    assert detect_conflicts([valid_snapshot]) == []


def test_two_processes_holding_one_sqlite_file_conflict() -> None:
    here = _holding("/srv/app.db")
    there = in_child(lambda: _holding("/srv/app.db"))
    elsewhere = in_child(lambda: _holding("/srv/other.db"))
    assert here["pid"] != there["pid"]
    (conflict,) = detect_conflicts([here, there, elsewhere])
    assert conflict.kind is ConflictKind.SHARED_RESOURCE
    assert conflict.subject == "sqlite:/srv/app.db"
    # Holders come in worker-id order, numbers by value: outside xdist the ids are `pid-<pid>`, so
    # pid-2864 comes before pid-15348 (a child whose pid wrapped round comes first); under xdist both
    # are this worker's id and the pid decides. Either way, the lower pid first.
    assert [h.pid for h in conflict.holders] == sorted([here["pid"], there["pid"]])
    assert conflict.detail.startswith("2 processes")


def test_two_snapshots_of_one_process_are_one_holder() -> None:
    first = _holding("/srv/app.db")
    assert detect_conflicts([first, _holding("/srv/app.db")]) == []


def test_host_local_resources_are_compared_per_host_and_others_across_hosts() -> None:
    here = _holding("/srv/app.db")
    here["services"][0]["resources"].append("postgres://db.internal/app")
    there = _as_another_process(here, host="another-host")
    assert _kinds(detect_conflicts([here, there])) == [("shared-resource", "postgres://db.internal/app")]


def test_runs_and_workers_are_told_apart() -> None:
    one = _holding("/srv/app.db")
    two = _as_another_process(one, worker_id="gw1")
    one["testrun_uid"] = two["testrun_uid"] = "same-run"
    (conflict,) = detect_conflicts([one, two])
    assert "workers of one run" in conflict.detail
    two["testrun_uid"] = "another-run"
    (conflict,) = detect_conflicts([one, two])
    assert "(runs)" in conflict.detail


def test_an_instance_inherited_by_a_fork_without_hooks_is_foreign() -> None:
    parent, (child,) = snapshots_of_libc_forks(1)
    (conflict,) = detect_conflicts([child])
    assert conflict.kind is ConflictKind.FOREIGN_INSTANCE
    assert conflict.subject == "Database"
    assert conflict.detail == f"built by pid {parent}, cached in pid {child['pid']}"
    # os.fork runs the hooks: the child drops what it inherited and has nothing foreign.
    locator = ServiceLocator()
    locator.register("Database", Database)
    locator.get("Database")
    assert detect_conflicts([in_child(locator.snapshot)]) == []


def test_evicting_a_service_that_holds_resources_is_reported() -> None:
    locator = ServiceLocator(max_cached=1)
    locator.register("Database", Database)
    locator.register("Plain", Plain)
    locator.get("Database")
    locator.get("Plain")  # evicts Database
    locator.get("Database")  # evicts Plain, builds a second Database
    snapshot = locator.snapshot()
    assert snapshot["evicted"] == {"Database": 1, "Plain": 1}
    assert _kinds(detect_conflicts([snapshot])) == [
        ("singleton-evicted", "Database"),
        ("cache-at-bound", "max_cached=1"),
    ]


def test_a_service_evicted_twice_is_reported_even_without_resources() -> None:
    locator = ServiceLocator(max_cached=1)
    locator.register("a", Plain)
    locator.register("b", Plain)
    for key in ("a", "b", "a", "b"):
        locator.get(key)
    snapshot = locator.snapshot()
    assert snapshot["evicted"] == {"a": 2, "b": 1}
    conflicts = detect_conflicts([snapshot])
    assert _kinds(conflicts) == [("singleton-evicted", "a"), ("cache-at-bound", "max_cached=1")]
    assert conflicts[0].detail == "evicted 2 times; it was built again after being evicted"
    assert conflicts[1].detail == "1 of 1 cached, 3 evictions"


def test_a_cache_at_its_bound_without_evictions_is_reported() -> None:
    locator = ServiceLocator(max_cached=2)
    locator.register("a", Plain)
    locator.register("b", Plain)
    locator.get("a")
    locator.get("b")
    assert _kinds(detect_conflicts([locator.snapshot()])) == [("cache-at-bound", "max_cached=2")]
    unbounded = ServiceLocator(max_cached=None)
    unbounded.register("a", Plain)
    unbounded.get("a")
    assert detect_conflicts([unbounded.snapshot()]) == []


def test_conflicts_are_json_ready(valid_snapshot: dict[str, Any]) -> None:
    other = _as_another_process(valid_snapshot)
    (conflict,) = detect_conflicts([valid_snapshot, other])
    as_json = json.loads(json.dumps(conflict.to_dict()))
    assert as_json["kind"] == "shared-resource"
    assert as_json["holders"][0] == Holder.of(valid_snapshot).to_dict()
    assert "resource_namespace()" in as_json["advice"]


@pytest.mark.parametrize("with_host", [False, True])
def test_holder_labels(with_host: bool) -> None:
    holder = Holder("gw0", "ci-7", 42, "3f9a1c2b7d4e5f60aa", "gw0_0123456789abcdef")
    expected = "gw0@ci-7 (pid 42, run 3f9a1c2b)" if with_host else "gw0 (pid 42, run 3f9a1c2b)"
    assert holder.label(with_host=with_host) == expected
    assert Holder("pid-7", "h", 7, None, "pid_7_x").label() == "pid-7 (pid 7, no run id)"
