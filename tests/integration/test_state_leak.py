"""Mechanism 1, state leaking between tests in one worker: naive caches fail by construction.

The suite (`suites/state_leak`) has two polluters and two victims in one file,
in that order. `-n 0`, or `--dist loadfile` with `-p no:randomly` under any
worker count, puts all four in one process in file order, so a cache that
survives between tests makes both victims fail every time, not now and then.
"""

from __future__ import annotations

import pytest

from tests.integration.conftest import SuiteFactory

POLLUTERS = (
    "test_leak.py::test_1_polluter_swaps_in_a_fake_region",
    "test_leak.py::test_2_polluter_fills_the_cart",
)
VICTIMS = (
    "test_leak.py::test_3_victim_expects_the_default_region",
    "test_leak.py::test_4_victim_expects_an_empty_cart",
)
ALL_PASS = dict.fromkeys(POLLUTERS + VICTIMS, "passed")
VICTIMS_FAIL = {**ALL_PASS, **dict.fromkeys(VICTIMS, "failed")}


def _plugin_loaded(output: str) -> bool:
    plugins = next(line for line in output.splitlines() if line.startswith("plugins:"))
    return "worker-locator-" in plugins


@pytest.mark.parametrize("workers", [0, 4])
@pytest.mark.parametrize("cache", ["naive", "keyed"])
def test_naive_cache_leaks_into_later_tests_in_the_same_worker(
    make_suite: SuiteFactory, cache: str, workers: int
) -> None:
    suite = make_suite("state_leak", WL_IT_CACHE=cache)
    result = suite.run(workers=workers, dist="loadfile" if workers else None)
    assert result.outcomes() == VICTIMS_FAIL, result.explain()
    assert "assert 'us' == 'eu'" in result.output
    assert "assert ['book'] == []" in result.output
    # all four ran in one process: the leak needs nothing more than sharing a worker
    assert len({result.worker_of(nodeid) for nodeid in ALL_PASS}) == 1


@pytest.mark.parametrize(
    "workers", [0, 4, pytest.param(8, marks=pytest.mark.slow), pytest.param(16, marks=pytest.mark.slow)]
)
def test_plugin_resets_the_default_locator_after_each_test(make_suite: SuiteFactory, workers: int) -> None:
    suite = make_suite("state_leak", WL_IT_CACHE="locator")
    result = suite.run(workers=workers, dist="loadfile" if workers else None)
    assert result.outcomes() == ALL_PASS, result.explain()
    assert result.returncode == 0
    assert _plugin_loaded(result.output)
    assert len({result.worker_of(nodeid) for nodeid in ALL_PASS}) == 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_plugin_resets_the_default_locator_in_random_order(make_suite: SuiteFactory, seed: int) -> None:
    suite = make_suite("state_leak", WL_IT_CACHE="locator")
    result = suite.run(workers=4, dist="loadfile", randomly_seed=seed)
    assert result.outcomes() == ALL_PASS, result.explain()
    assert f"Using --randomly-seed={seed}" in result.output


@pytest.mark.parametrize("workers", [0, 4])
def test_same_suite_without_the_plugin_leaks_again(make_suite: SuiteFactory, workers: int) -> None:
    suite = make_suite("state_leak", WL_IT_CACHE="locator")
    result = suite.run("-p", "no:worker_locator", workers=workers, dist="loadfile" if workers else None)
    assert not _plugin_loaded(result.output)
    assert result.outcomes() == VICTIMS_FAIL, result.explain()
