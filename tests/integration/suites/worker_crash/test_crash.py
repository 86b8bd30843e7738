"""Seven tests; the first ends its worker's process, as a segfault in an extension would.

With `-n 4` and no shuffling, xdist sends all seven at once, round robin:
the crashing worker also holds the fifth test, which only a replacement
worker can run, since the other workers were already told to shut down.
"""

from __future__ import annotations

import os

import pytest
from tests.integration.suite_support import record

from worker_locator import get_locator


def _record_start(test: str) -> None:
    locator = get_locator()
    services = [service["key"] for service in locator.snapshot()["services"]]
    record({"kind": "start", "test": test, "stats": dict(locator.stats()), "services": services})


def test_0_crashes_its_worker() -> None:
    _record_start("test_0")
    get_locator().get("service")
    os._exit(3)


@pytest.mark.parametrize("n", range(1, 7))
def test_after(n: int) -> None:
    _record_start(f"test_after[{n}]")
    assert get_locator().get("service").owner_pid == os.getpid()
