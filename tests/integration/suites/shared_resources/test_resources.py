"""Sixteen database tests and sixteen port tests: enough for each of up to sixteen workers to run some."""

from __future__ import annotations

import pytest
from tests.integration.suite_support import Cache


@pytest.mark.parametrize("n", range(16))
def test_database_holds_only_this_workers_rows(
    n: int, cache: Cache, open_errors: dict[str, OSError], rows_per_worker: int
) -> None:
    del n
    if "db" in open_errors:
        raise open_errors["db"]
    assert cache.get("db").count() == rows_per_worker


@pytest.mark.parametrize("n", range(16))
def test_port_is_this_workers_own(n: int, cache: Cache, open_errors: dict[str, OSError]) -> None:
    del n
    if "listener" in open_errors:
        raise open_errors["listener"]
    assert cache.get("listener").round_trip() == b"ping"
