"""High load: 20 tests on each of 16 workers (320 executions) with the plugin, in file order and shuffled.

Every test of `suites/high_load` changes the default locator's services (a
cart it fills, an override) and checks that it found them at the baseline,
so a leak between any two tests sharing a worker fails a test. Each test
also records its node id from inside the worker, so the checks below count
executions, not the terminal's summary line.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.integration.conftest import SuiteFactory
from tests.integration.harness import SUITES, RunResult, Suite

WORKERS = 16
TESTS_PER_FILE = 20
FILES = [f"test_load_{index:02d}.py" for index in range(WORKERS)]
EXPECTED = {
    f"{name}::test_each_test_starts_from_the_baseline[{n}]" for name in FILES for n in range(TESTS_PER_FILE)
}
RSS_BOUNDS_KIB = (8 * 1024, 512 * 1024)
"""A sane range for one worker's resident memory: a real interpreter with pytest, far from a leak."""


def _suite(make_suite: SuiteFactory) -> Suite:
    template = (SUITES / "high_load" / "test_load.py").read_text(encoding="utf-8")
    suite = make_suite("high_load", files=dict.fromkeys(FILES, template))
    (suite.root / "test_load.py").unlink()  # only the sixteen numbered copies
    return suite


def _check_every_test_ran_once_on_every_worker(result: RunResult) -> Counter[str]:
    assert result.returncode == 0, result.explain()
    assert set(result.collected) == EXPECTED
    assert result.outcomes() == dict.fromkeys(EXPECTED, "passed"), result.explain()
    executions = Counter(str(r["nodeid"]) for r in result.records_of("test"))
    assert set(executions) == EXPECTED
    assert set(executions.values()) == {1}, [n for n, c in executions.items() if c != 1]
    per_worker = Counter(str(r["worker"]) for r in result.records_of("test"))
    assert set(per_worker) == {f"gw{index}" for index in range(WORKERS)}, per_worker
    assert f"= {len(EXPECTED)} passed in " in result.output
    return per_worker


def _check_memory(result: RunResult) -> None:
    rss = {str(r["worker"]): int(r["rss_kib"]) for r in result.records_of("rss")}
    assert set(rss) == {f"gw{index}" for index in range(WORKERS)}
    low, high = RSS_BOUNDS_KIB
    assert all(low < kib < high for kib in rss.values()), rss


@pytest.mark.slow
def test_320_executions_on_16_workers_each_run_once(make_suite: SuiteFactory) -> None:
    result = _suite(make_suite).run(workers=WORKERS, dist="loadfile")
    per_worker = _check_every_test_ran_once_on_every_worker(result)
    assert set(per_worker.values()) == {TESTS_PER_FILE}  # one file per worker: exactly 20 each
    _check_memory(result)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 22, 33])
def test_320_executions_on_16_workers_in_random_order(make_suite: SuiteFactory, seed: int) -> None:
    result = _suite(make_suite).run(workers=WORKERS, randomly_seed=seed)
    assert f"Using --randomly-seed={seed}" in result.output
    _check_every_test_ran_once_on_every_worker(result)
    # The order really was shuffled, and tests of different files shared a worker.
    in_file_order = sorted(
        EXPECTED, key=lambda nodeid: (nodeid.split("::")[0], int(nodeid.split("[")[1][:-1]))
    )
    assert result.collected != in_file_order
    files_per_worker: dict[str, set[str]] = {}
    for record in result.records_of("test"):
        files_per_worker.setdefault(str(record["worker"]), set()).add(str(record["nodeid"]).split("::")[0])
    assert any(len(files) > 1 for files in files_per_worker.values()), files_per_worker
