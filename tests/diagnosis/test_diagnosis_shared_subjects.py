"""Several processes with one conflict subject: one conflict per process, in a stable order."""

from __future__ import annotations

import functools
import json
import os
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.diagnosis.helpers import Database, Plain, in_child, snapshots_of_libc_forks
from worker_locator import ServiceLocator
from worker_locator.diagnosis import Conflict, detect_conflicts, main, write_snapshot


def _rows(conflicts: list[Conflict]) -> list[tuple[str, str, list[int]]]:
    return [(c.kind.value, c.subject, [h.pid for h in c.holders]) for c in conflicts]


def _at_bound() -> dict[str, Any]:
    locator = ServiceLocator(max_cached=2)
    locator.register("a", Plain)
    locator.register("b", Plain)
    locator.get("a")
    locator.get("b")
    return locator.snapshot()


def _evicting_the_database() -> dict[str, Any]:
    locator = ServiceLocator(max_cached=1)
    locator.register("Database", lambda: Database(f"/srv/app-{os.getpid()}.db"))
    locator.register("Plain", Plain)
    for key in ("Database", "Plain", "Database"):
        locator.get(key)
    return locator.snapshot()


def _on_host(host: str) -> dict[str, Any]:
    """Take a snapshot of a process holding /srv/app.db, on `host` (this child's host name)."""
    socket.gethostname = lambda: host  # only in this forked child, which stands for a process on `host`
    locator = ServiceLocator()
    locator.register("Database", Database)
    locator.get("Database")
    return locator.snapshot()


def test_two_workers_at_their_bound_are_two_conflicts() -> None:
    first, second = in_child(_at_bound), in_child(_at_bound)
    conflicts = detect_conflicts([second, first])
    pids = sorted([first["pid"], second["pid"]])
    assert _rows(conflicts) == [("cache-at-bound", "max_cached=2", [pid]) for pid in pids]


def test_one_service_inherited_by_two_children_is_two_conflicts() -> None:
    parent, children = snapshots_of_libc_forks(2)
    conflicts = detect_conflicts(children)
    pids = sorted(child["pid"] for child in children)
    assert _rows(conflicts) == [
        ("shared-resource", "sqlite:/srv/app.db", pids),  # the inherited connection, in both children
        *[("foreign-instance", "Database", [pid]) for pid in pids],
    ]
    assert {c.detail.split(",")[0] for c in conflicts[1:]} == {f"built by pid {parent}"}


def test_one_service_evicted_in_two_workers_is_two_conflicts() -> None:
    first, second = in_child(_evicting_the_database), in_child(_evicting_the_database)
    pids = sorted([first["pid"], second["pid"]])
    assert _rows(detect_conflicts([first, second])) == [
        *[("singleton-evicted", "Database", [pid]) for pid in pids],
        *[("cache-at-bound", "max_cached=1", [pid]) for pid in pids],
    ]


def test_one_sqlite_file_shared_on_each_of_two_hosts_is_one_conflict_per_host() -> None:
    snapshots = [in_child(functools.partial(_on_host, host)) for host in ("ci-2", "ci-1", "ci-2", "ci-1")]
    conflicts = detect_conflicts(snapshots)
    assert [(c.subject, [h.host for h in c.holders]) for c in conflicts] == [
        ("sqlite:/srv/app.db", ["ci-1", "ci-1"]),
        ("sqlite:/srv/app.db", ["ci-2", "ci-2"]),
    ]
    assert [c.detail for c in conflicts] == [
        "2 processes (runs) held it on host ci-1",
        "2 processes (runs) held it on host ci-2",
    ]


def test_the_order_does_not_depend_on_the_order_of_the_snapshots() -> None:
    snapshots = [in_child(_evicting_the_database) for _ in range(3)]
    expected = detect_conflicts(snapshots)
    assert detect_conflicts(snapshots[::-1]) == expected
    assert detect_conflicts([*snapshots[1:], snapshots[0]]) == expected


def test_the_command_line_reports_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(2):
        write_snapshot(tmp_path, in_child(_at_bound))
    assert main([str(tmp_path)]) == 1
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "2 snapshots from 2 processes (2 runs, 1 host): 2 conflicts"
    assert [line.split()[:2] for line in table[3:7:2]] == [["cache-at-bound", "max_cached=2"]] * 2
    assert [line.split() for line in table[4:8:2]] == [["2", "of", "2", "cached,", "0", "evictions"]] * 2
    assert main([str(tmp_path), "--json"]) == 1
    assert [c["kind"] for c in json.loads(capsys.readouterr().out)["conflicts"]] == ["cache-at-bound"] * 2


def _holding_the_file() -> dict[str, Any]:
    locator = ServiceLocator()
    locator.register("Database", Database)
    locator.get("Database")
    return locator.snapshot()


def test_many_holders_are_listed_in_full_in_json_and_counted_in_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(10):
        write_snapshot(tmp_path, in_child(_holding_the_file))
    assert main([str(tmp_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "10 snapshots from 10 processes (10 runs, 1 host): 1 conflict"
    assert all(re.search(r"  pid-(\d+) \(pid \1, no run id\)$", line) for line in lines[3:6])
    assert lines[6].strip() == "… and 7 more"
    assert lines[7].strip() == "10 processes (runs) held it on host " + socket.gethostname()
    assert main([str(tmp_path), "--json"]) == 1
    (conflict,) = json.loads(capsys.readouterr().out)["conflicts"]
    assert len(conflict["holders"]) == 10


def _as_worker(worker: str) -> dict[str, Any]:
    """Take a snapshot of a process holding /srv/app.db as xdist worker `worker` (this child's id)."""
    os.environ["PYTEST_XDIST_WORKER"] = worker  # only in this forked child
    locator = ServiceLocator()
    locator.register("Database", Database)
    locator.get("Database")
    return locator.snapshot()


def test_holders_are_listed_by_worker_number_not_as_strings() -> None:
    workers = ["gw10", "gw2", "gw1"]
    snapshots = [in_child(functools.partial(_as_worker, worker)) for worker in workers]
    (conflict,) = detect_conflicts(snapshots)
    assert [h.worker_id for h in conflict.holders] == ["gw1", "gw2", "gw10"]
