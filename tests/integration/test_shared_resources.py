"""Mechanism 2, external resources shared by worker processes: a real sqlite file and a real listening port.

Each worker of the suite (`suites/shared_resources`) opens a database and a
listening socket in a session fixture and then waits at a barrier until every
worker holds both, so fixed names collide in every run. The cache does not
matter: a per-worker cache still opens the one file and the one port.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import SuiteFactory
from tests.integration.harness import RunResult, Suite, free_port

ROWS = 3
DB_TESTS = [f"test_resources.py::test_database_holds_only_this_workers_rows[{n}]" for n in range(16)]
PORT_TESTS = [f"test_resources.py::test_port_is_this_workers_own[{n}]" for n in range(16)]
ALL_PASS = dict.fromkeys(DB_TESTS + PORT_TESTS, "passed")


def _suite(make_suite: SuiteFactory, cache: str, naming: str, workers: int) -> Suite:
    return make_suite(
        "shared_resources",
        WL_IT_CACHE=cache,
        WL_IT_NAMING=naming,
        WL_IT_PORT=str(free_port()),
        WL_IT_PARTIES=str(max(workers, 1)),
    )


def _opened(result: RunResult, workers: int) -> list[dict[str, object]]:
    opened = result.records_of("opened")
    assert sorted(str(r["worker"]) for r in opened) == sorted(
        [f"gw{i}" for i in range(workers)] if workers else ["master"]
    ), result.explain()
    return opened


def diagnose(snapshots: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m worker_locator.diagnosis` on a folder of snapshots."""
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "worker_locator.diagnosis", str(snapshots), *options],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_fixed_names_pass_without_xdist(make_suite: SuiteFactory) -> None:
    suite = _suite(make_suite, "naive", "fixed", 0)
    result = suite.run(workers=0)
    assert result.outcomes() == ALL_PASS, result.explain()


@pytest.mark.parametrize(
    "workers", [4, pytest.param(8, marks=pytest.mark.slow), pytest.param(16, marks=pytest.mark.slow)]
)
def test_fixed_names_collide_between_workers(make_suite: SuiteFactory, workers: int) -> None:
    suite = _suite(make_suite, "naive", "fixed", workers)
    result = suite.run(workers=workers)
    opened = _opened(result, workers)
    assert {r["db"] for r in opened} == {str(suite.shared / "app.db")}
    # One worker got the port; every other one failed to bind it while the first held it.
    holders = [str(r["worker"]) for r in opened if r["port"] is not None]
    assert len(holders) == 1, result.explain()
    refused = [r for r in opened if r["port"] is None]
    assert len(refused) == workers - 1
    assert all("Address already in use" in str(r["errors"]) for r in refused)
    # Every worker sees every worker's rows.
    outcomes = result.outcomes()
    for nodeid in DB_TESTS:
        assert outcomes[nodeid] == "failed", result.explain()
        assert result.message_of(nodeid).endswith(f"assert {ROWS * workers} == {ROWS}")
    for nodeid in PORT_TESTS:
        expected = "passed" if result.worker_of(nodeid) == holders[0] else "failed"
        assert outcomes[nodeid] == expected, result.explain()


def test_a_per_worker_cache_does_not_make_a_fixed_name_per_worker(
    make_suite: SuiteFactory, tmp_path: Path
) -> None:
    suite = _suite(make_suite, "locator", "fixed", 4)
    snapshots = tmp_path / "snapshots"
    result = suite.run("--locator-snapshot", str(snapshots), workers=4)
    assert all(result.outcome(nodeid) == "failed" for nodeid in DB_TESTS), result.explain()
    report = diagnose(snapshots)
    assert report.returncode == 1, report.stdout + report.stderr
    assert "shared-resource" in report.stdout
    # The table shortens long paths in the middle; --json gives every subject whole.
    (conflict,) = json.loads(diagnose(snapshots, "--json").stdout)["conflicts"]
    assert (conflict["kind"], conflict["subject"]) == ("shared-resource", f"sqlite:{suite.shared / 'app.db'}")


@pytest.mark.parametrize(
    "workers", [0, 4, pytest.param(8, marks=pytest.mark.slow), pytest.param(16, marks=pytest.mark.slow)]
)
def test_namespaced_names_and_port_zero_never_collide(make_suite: SuiteFactory, workers: int) -> None:
    suite = _suite(make_suite, "locator", "namespace", workers)
    result = suite.run(workers=workers)
    assert result.outcomes() == ALL_PASS, result.explain()
    opened = _opened(result, workers)
    assert len({r["db"] for r in opened}) == len(opened)
    assert len({r["port"] for r in opened}) == len(opened)


def test_tmp_path_factory_names_never_collide(make_suite: SuiteFactory) -> None:
    suite = _suite(make_suite, "naive", "tmp_path", 4)
    result = suite.run(workers=4)
    assert result.outcomes() == ALL_PASS, result.explain()


def test_worker_id_names_are_unique_within_one_run(make_suite: SuiteFactory, tmp_path: Path) -> None:
    suite = _suite(make_suite, "locator", "worker_id", 4)
    snapshots = tmp_path / "snapshots"
    result = suite.run("--locator-snapshot", str(snapshots), workers=4)
    assert result.outcomes() == ALL_PASS, result.explain()
    report = diagnose(snapshots)
    assert report.returncode == 0, report.stdout + report.stderr
