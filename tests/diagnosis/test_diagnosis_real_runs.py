"""The diagnosis of snapshots written by real pytest runs, with and without a real conflict."""

from __future__ import annotations

import json
import re

import pytest

from worker_locator.diagnosis import main

# Every test writes to a real sqlite file; NAMESPACED=1 gives each worker and run its own file.
SUITE_CONFTEST = """
    import os
    import sqlite3

    from worker_locator import get_locator, resource_namespace

    class Database:
        def __init__(self):
            name = f"app-{resource_namespace()}.db" if os.environ.get("NAMESPACED") == "1" else "app.db"
            self.path = os.path.join(os.environ["DB_DIR"], name)
            self.connection = sqlite3.connect(self.path, timeout=30)
            self.connection.execute("create table if not exists runs (worker text)")

        def close(self):
            self.connection.close()

        def held_resources(self):
            return [f"sqlite:{self.path}"]

    get_locator().register(Database, Database)
"""

SUITE_TESTS = """
    import os

    import pytest
    from worker_locator import get_locator
    from conftest import Database

    @pytest.mark.parametrize("n", range(8))
    def test_writes(n):
        database = get_locator().get(Database)
        database.connection.execute("insert into runs values (?)", (os.environ.get("PYTEST_XDIST_WORKER"),))
        database.connection.commit()
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("DB_DIR", str(pytester.path))
    pytester.makeconftest(SUITE_CONFTEST)
    pytester.makepyfile(test_suite=SUITE_TESTS)
    return pytester


def _diagnose(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()  # what pytester printed about the runs
    code = main(list(argv))
    captured = capsys.readouterr()
    assert captured.err == ""
    return code, captured.out


def test_two_workers_on_one_sqlite_file_are_a_conflict(
    suite: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    result = suite.runpytest_subprocess("-n", "2", "-p", "no:randomly", "--locator-snapshot", "snapshots")
    result.assert_outcomes(passed=8)
    snapshots = str(suite.path / "snapshots")
    database = f"sqlite:{suite.path / 'app.db'}"

    code, table = _diagnose(capsys, snapshots)
    assert code == 1
    lines = table.splitlines()
    assert lines[0] == "2 snapshots from 2 processes (1 run, 1 host): 1 conflict"
    assert lines[2].split() == ["KIND", "SUBJECT", "PROCESSES"]
    kind, subject, first = re.split(r"  +", lines[3])
    assert (kind, first) == ("shared-resource", f"gw0 (pid {_pid(suite, 'gw0')})")
    # A long path keeps its start and its end in the table; --json keeps it whole.
    head, cut, tail = subject.partition("…")
    shown = (database[: len(head)], database[len(database) - len(tail) :]) if cut else (database, "")
    assert (head, tail) == shown
    assert subject.endswith("/app.db")
    assert lines[4].strip() == f"gw1 (pid {_pid(suite, 'gw1')})"
    assert lines[4].index("gw1") == lines[3].index("gw0")
    assert lines[5].strip() == "2 processes (workers of one run) held it on host " + _host(suite)
    assert lines[7] == "What usually fixes them:"
    assert lines[8].startswith("shared-resource: name files, databases and directories per worker and run")
    assert max(len(line) for line in lines) <= 80

    code, output = _diagnose(capsys, snapshots, "--json")
    assert code == 1
    report = json.loads(output)
    assert report["snapshots"] == report["processes"] == 2
    (conflict,) = report["conflicts"]
    assert conflict["kind"] == "shared-resource"
    assert conflict["subject"] == database
    assert [holder["worker_id"] for holder in conflict["holders"]] == ["gw0", "gw1"]


def test_a_run_that_names_its_files_per_worker_is_clean(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NAMESPACED", "1")
    result = suite.runpytest_subprocess("-n", "2", "-p", "no:randomly", "--locator-snapshot", "snapshots")
    result.assert_outcomes(passed=8)
    assert len(list(suite.path.glob("app-gw*.db"))) == 2

    code, table = _diagnose(capsys, str(suite.path / "snapshots"))
    assert (code, table) == (0, "2 snapshots from 2 processes (1 run, 1 host): no conflicts\n")
    code, output = _diagnose(capsys, str(suite.path / "snapshots"), "--json")
    assert code == 0
    assert json.loads(output)["conflicts"] == []


def test_two_runs_on_one_file_are_a_conflict_between_runs(
    suite: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    for shard in ("shard-1", "shard-2"):
        result = suite.runpytest_subprocess("-p", "no:randomly", "--locator-snapshot", f"artifacts/{shard}")
        result.assert_outcomes(passed=8)
    artifacts = suite.path / "artifacts"
    code, output = _diagnose(capsys, str(artifacts / "shard-1"), str(artifacts / "shard-2"), "--json")
    assert code == 1
    (conflict,) = json.loads(output)["conflicts"]
    assert conflict["detail"].startswith("2 processes (runs) held it")
    assert all(holder["worker_id"].startswith("pid-") for holder in conflict["holders"])


CROWDED_TESTS = """
    import pytest
    from worker_locator import get_locator
    from conftest import Database

    @pytest.mark.parametrize("n", range(4))
    def test_uses_more_services_than_the_cache_holds(n):
        locator = get_locator()
        for key in range(60):
            locator.register(f"plain-{key}", object)
        locator.get(Database)
        for key in range(60):
            locator.get(f"plain-{key}")
        locator.get(Database)
"""


def test_two_workers_that_outgrow_their_caches(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NAMESPACED", "1")
    suite.makepyfile(test_suite=CROWDED_TESTS)
    result = suite.runpytest_subprocess("-n", "2", "-p", "no:randomly", "--locator-snapshot", "snapshots")
    result.assert_outcomes(passed=4)
    code, output = _diagnose(capsys, str(suite.path / "snapshots"), "--json")
    assert code == 1
    found = [
        (c["kind"], c["subject"], [h["worker_id"] for h in c["holders"]])
        for c in json.loads(output)["conflicts"]
        if not c["subject"].startswith("plain-")  # evicted in several tests: also reported, per worker
    ]
    assert found == [
        ("singleton-evicted", "Database", ["gw0"]),
        ("singleton-evicted", "Database", ["gw1"]),
        ("cache-at-bound", "max_cached=50", ["gw0"]),
        ("cache-at-bound", "max_cached=50", ["gw1"]),
    ]
    code, table = _diagnose(capsys, str(suite.path / "snapshots"))
    assert code == 1
    assert table.splitlines()[0].startswith("2 snapshots from 2 processes (1 run, 1 host): ")


def _host(pytester: pytest.Pytester) -> str:
    (snapshot,) = [
        json.loads(p.read_text(encoding="utf-8")) for p in (pytester.path / "snapshots").glob("*.json")
    ][:1]
    return str(snapshot["host"])


def _pid(pytester: pytest.Pytester, worker: str) -> int:
    for path in (pytester.path / "snapshots").glob("*.json"):
        snapshot = json.loads(path.read_text(encoding="utf-8"))
        if snapshot["worker_id"] == worker:
            return int(snapshot["pid"])
    raise AssertionError(worker)
