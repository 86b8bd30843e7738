"""Two runs of the same suite at once on one machine: `gw0` of run A is `gw0` of run B.

Both runs use one copy of `suites/shared_resources` and meet at the same
barriers (eight processes: four workers each), so each run holds its
resources while the other holds its own. Names built from the worker id are
unique within a run and collide across runs; names from
`resource_namespace()` or `tmp_path_factory` differ per run too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.conftest import PortReserver, SuiteFactory
from tests.integration.harness import RunResult, Suite, finish_together
from tests.integration.test_shared_resources import ALL_PASS, DB_TESTS, ROWS, diagnose

WORKERS = 4


def _run_twice_at_once(suite: Suite, snapshots: Path) -> tuple[RunResult, RunResult]:
    shared = suite.new_round()
    args = ("--locator-snapshot", str(snapshots))
    with (
        suite.started(*args, workers=WORKERS, shared=shared) as run_a,
        suite.started(*args, workers=WORKERS, shared=shared) as run_b,
    ):
        result_a, result_b = finish_together([run_a, run_b])
    runs = {str(r["run"]) for r in result_a.records_of("opened")}
    assert len(runs) == 2, result_a.explain()  # eight processes from two runs met at the barrier
    return result_a, result_b


def test_worker_id_names_collide_between_concurrent_runs(
    make_suite: SuiteFactory, reserve_ports: PortReserver, tmp_path: Path
) -> None:
    suite = make_suite(
        "shared_resources",
        WL_IT_CACHE="locator",
        WL_IT_NAMING="worker_id",
        WL_IT_PORT=str(reserve_ports(WORKERS)),
        WL_IT_PARTIES=str(2 * WORKERS),
    )
    snapshots = tmp_path / "snapshots"
    result_a, result_b = _run_twice_at_once(suite, snapshots)
    for result in (result_a, result_b):
        assert result.returncode == 1, result.explain()
        # gwN of both runs opened app-gwN.db: each sees the other run's rows too.
        for nodeid in DB_TESTS:
            assert result.message_of(nodeid).endswith(f"assert {2 * ROWS} == {ROWS}"), result.explain()
    opened = result_a.records_of("opened")
    for index in range(WORKERS):
        pair = [r for r in opened if r["worker"] == f"gw{index}"]
        assert {str(r["db"]) for r in pair} == {str(suite.shared / f"app-gw{index}.db")}
        # Both runs' gwN wanted one port: one bound it, the other was refused.
        assert sorted(r["port"] is None for r in pair) == [False, True], pair
    report = diagnose(snapshots)
    assert report.returncode == 1, report.stdout + report.stderr
    assert "2 runs" in report.stdout
    # The table shortens long paths in the middle, by how long the temp folder's path is; --json is whole.
    subjects = {c["subject"] for c in json.loads(diagnose(snapshots, "--json").stdout)["conflicts"]}
    assert f"sqlite:{suite.shared / 'app-gw0.db'}" in subjects


@pytest.mark.parametrize("naming", ["namespace", "tmp_path"])
def test_run_unique_names_never_collide_between_concurrent_runs(
    make_suite: SuiteFactory, tmp_path: Path, naming: str
) -> None:
    suite = make_suite(
        "shared_resources",
        WL_IT_CACHE="locator",
        WL_IT_NAMING=naming,
        WL_IT_PORT="1",  # unused: both namings bind port 0
        WL_IT_PARTIES=str(2 * WORKERS),
    )
    snapshots = tmp_path / "snapshots"
    result_a, result_b = _run_twice_at_once(suite, snapshots)
    for result in (result_a, result_b):
        assert result.outcomes() == ALL_PASS, result.explain()
    opened = result_a.records_of("opened")
    assert len({r["db"] for r in opened}) == 2 * WORKERS
    assert len({r["port"] for r in opened}) == 2 * WORKERS
    report = diagnose(snapshots)
    assert report.returncode == 0, report.stdout + report.stderr
