"""Mechanism 4, a thread race on lazy construction: a naive cache builds once per thread, the locator once."""

from __future__ import annotations

import pytest

from tests.integration.conftest import SuiteFactory

RACE = "test_threads.py::test_threads_racing_for_the_first_get_build_the_service_once"


@pytest.mark.parametrize("workers", [0, 4])
def test_naive_cache_builds_the_service_in_every_racing_thread(
    make_suite: SuiteFactory, workers: int
) -> None:
    result = make_suite("thread_race", WL_IT_CACHE="naive").run(workers=workers)
    assert result.outcomes() == {RACE: "failed"}, result.explain()
    (race,) = result.records_of("race")
    assert (race["constructions"], race["distinct"]) == (32, 32)


@pytest.mark.parametrize("workers", [0, 4])
def test_locator_builds_the_service_once_for_racing_threads(make_suite: SuiteFactory, workers: int) -> None:
    result = make_suite("thread_race", WL_IT_CACHE="locator").run(workers=workers)
    assert result.outcomes() == {RACE: "passed"}, result.explain()
    (race,) = result.records_of("race")
    assert (race["constructions"], race["distinct"]) == (1, 1)
