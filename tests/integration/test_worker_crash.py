"""A worker crash (`os._exit` in a test): reported, replaced by a fresh process, and no test silently lost.

The suite (`suites/worker_crash`) keeps each worker's cache for the whole
session (`locator_isolation = session`), so a test that finds the cache
empty is the first one in its process. With `-n 4` and no shuffling, xdist
sends its seven tests round robin at once: the worker that runs the crashing
first test also holds the fifth, `test_after[4]`, and the other workers are
already told to shut down, so only a replacement worker can run it.

That dealing is pytest-xdist's (`LoadScheduling.schedule` in 3.8: fewer tests
than twice the workers are all sent at once, one by one in turn), not a
matter of timing: which worker is ready first only changes which worker id
gets which pair. The tests rely on it, so they check it from what each
worker ran (`_check_round_robin`) and say so if a newer xdist deals otherwise.
"""

from __future__ import annotations

import re

from tests.integration.conftest import SuiteFactory
from tests.integration.harness import RunResult

CRASH = "test_crash.py::test_0_crashes_its_worker"
AFTER = [f"test_crash.py::test_after[{n}]" for n in range(1, 7)]
HELD_BY_THE_CRASHED_WORKER = "test_crash.py::test_after[4]"
INITIAL_WORKERS = {"gw0", "gw1", "gw2", "gw3"}
DEALT_TO_THE_OTHERS = [
    ["test_after[1]", "test_after[5]"],
    ["test_after[2]", "test_after[6]"],
    ["test_after[3]"],
]
"""What the three workers that do not crash run; tests 0 and 4 went to the one that crashes."""


def _run(make_suite: SuiteFactory, *args: str) -> tuple[RunResult, dict[str, dict[str, object]]]:
    suite = make_suite("worker_crash", ini="locator_isolation = session\n")
    result = suite.run(*args, workers=4)
    starts: dict[str, dict[str, object]] = {}
    for record in result.records_of("start"):
        assert record["test"] not in starts, f"{record['test']} started twice"
        starts[str(record["test"])] = record
    assert result.collected == [CRASH, *AFTER], result.explain()
    assert result.returncode == 1, result.explain()
    return result, starts


def _crashed_worker(result: RunResult, starts: dict[str, dict[str, object]]) -> str:
    crashed = str(starts["test_0"]["worker"])
    assert result.nodes_down == [{"worker": crashed, "error": "Not properly terminated"}], result.explain()
    assert f"[{crashed}] node down: Not properly terminated" in result.output
    assert f"worker '{crashed}' crashed while running '{CRASH}'" in result.output
    assert result.outcome(CRASH) == "failed"
    _check_round_robin(result, starts, crashed)
    return crashed


def _check_round_robin(result: RunResult, starts: dict[str, dict[str, object]], crashed: str) -> None:
    """Check the dealing these tests rely on: the crashed worker got tests 0 and 4, the others the rest."""
    ran: dict[str, list[str]] = {}
    for test, start in starts.items():
        ran.setdefault(str(start["worker"]), []).append(test)
    others = sorted(sorted(tests) for worker, tests in ran.items() if worker in INITIAL_WORKERS - {crashed})
    dealt_otherwise = (
        "pytest-xdist no longer deals 7 tests to 4 workers round robin all at once (LoadScheduling.schedule),"
        f" which these tests rely on; the workers ran {ran}\n{result.explain()}"
    )
    assert ran[crashed] == ["test_0"], dealt_otherwise
    assert others == DEALT_TO_THE_OTHERS, dealt_otherwise


def test_crash_is_reported_and_a_fresh_worker_runs_the_rest(make_suite: SuiteFactory) -> None:
    result, starts = _run(make_suite)
    crashed = _crashed_worker(result, starts)
    assert f"replacing crashed worker {crashed}" in result.output
    # Nothing left unrun: every collected test started once, and all but the crashing one passed.
    assert sorted(starts) == sorted(["test_0", *(n.split("::")[1] for n in AFTER)])
    assert result.outcomes() == {CRASH: "failed", **dict.fromkeys(AFTER, "passed")}, result.explain()
    assert re.search(r"= 1 failed, 6 passed in ", result.output)
    # The crashed worker's other test ran in a new process, under a new worker id, with an empty cache.
    replacement = starts["test_after[4]"]
    assert replacement["worker"] not in INITIAL_WORKERS
    assert result.worker_of(HELD_BY_THE_CRASHED_WORKER) == replacement["worker"]
    assert replacement["pid"] not in {r["pid"] for name, r in starts.items() if name != "test_after[4]"}
    assert replacement["services"] == []
    # Hits are None: the plugin counts them only with locator_count_hits = true.
    assert replacement["stats"] == {
        "hits": None,
        "misses": 0,
        "constructions": 0,
        "evictions": 0,
        "cached": 0,
    }
    # ...while a worker's second test still finds the service its first test built: the cache did persist.
    assert any(r["services"] == ["service"] for r in starts.values()), starts


def test_max_worker_restart_zero_leaves_tests_silently_unrun(make_suite: SuiteFactory) -> None:
    result, starts = _run(make_suite, "--max-worker-restart=0")
    crashed = _crashed_worker(result, starts)
    assert f"worker {crashed} crashed and worker restarting disabled" in result.output
    assert "replacing crashed worker" not in result.output
    # Seven tests collected, six reported: the crashed worker's other test never ran, and no line names it.
    assert result.outcome(HELD_BY_THE_CRASHED_WORKER) == "not run"
    assert "test_after[4]" not in starts
    assert HELD_BY_THE_CRASHED_WORKER not in result.output
    assert re.search(r"= 1 failed, 5 passed in ", result.output)
    assert result.counts() == {"failed": 1, "passed": 5, "not run": 1}
