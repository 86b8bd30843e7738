"""The pollution recorder's memory stays bounded over a 100,000-test run (measured with tracemalloc)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any, cast

import pytest

from worker_locator import ServiceLocator
from worker_locator._observation import journal_position
from worker_locator._plugin.pollution import HISTORY, MAX_KEYS, PollutionRecorder
from worker_locator._plugin.replay import ReplayWriter

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("unmeasured")]

TESTS = 100_000


class _Item:
    """What the recorder reads of a pytest item: its node id."""

    __slots__ = ("nodeid",)

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid


class Settings(dict[str, Any]):
    pass


def _recorder(locator: ServiceLocator, journal_from: int, *, anchor: bool) -> PollutionRecorder:
    return PollutionRecorder(
        locator,
        worker="gw0",
        replay=ReplayWriter(Path.cwd(), Path.cwd(), "gw0"),
        leftovers=True,
        journal_from=lambda: journal_from,
        anchor=anchor,
    )


def _grown_by(run: Any) -> int:
    """Return how many bytes `run()` left allocated."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        run()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_per_test_isolation_over_100_000_tests_that_all_leave_registrations() -> None:
    locator = ServiceLocator()
    locator.register(Settings, Settings, keep_between_tests=True)
    baseline = locator.checkpoint()
    recorder = _recorder(locator, journal_position(baseline), anchor=False)
    items = [cast("pytest.Item", _Item(f"tests/test_big.py::test_case[{n}]")) for n in range(TESTS)]

    def run() -> None:
        for n, item in enumerate(items):
            recorder.test_starts(item)
            locator.get(Settings)
            locator.register(f"leaked-{n}", object)  # a leftover every time
            locator.get(f"leaked-{n}")
            recorder.test_ending(item, replaced=False)
            locator.restore(baseline)
            recorder.test_ended(item)

    grown = _grown_by(run)
    # The order (one reference a test) is 0.8 MB; the leftovers list stops at 1,000 tests.
    assert grown < 3_000_000, f"{grown:,} bytes"
    leftovers = recorder.leftovers()
    assert leftovers is not None
    assert len(leftovers["tests"]) == 1_000
    assert leftovers["more"] == TESTS - 1_000
    assert len(recorder._got) == 1
    assert len(next(iter(recorder._got.values()))) == HISTORY


def test_no_isolation_over_100_000_tests_that_each_register_a_new_key() -> None:
    locator = ServiceLocator()
    recorder = _recorder(locator, 0, anchor=True)
    items = [cast("pytest.Item", _Item(f"tests/test_big.py::test_case[{n}]")) for n in range(TESTS)]
    keys = [f"kept-{n}" for n in range(TESTS)]

    def run() -> None:
        for n, item in enumerate(items):
            recorder.test_starts(item)
            locator.register(keys[n], object)  # nothing resets it
            recorder.test_ending(item, replaced=False)
            recorder.test_ended(item)

    grown = _grown_by(run)
    assert len(recorder._registered) == MAX_KEYS
    # The locator's own 100,000 registrations are most of it; the recorder's histories stop at 10,000 keys.
    assert grown < 20_000_000, f"{grown:,} bytes"
