"""The high-load suite: every test uses the default locator through the plugin's fixtures.

Services registered here, at import time, are the baseline the plugin
returns to after each test. The database is expensive, so it is kept between
tests (`keep_between_tests=True`) and named by `resource_namespace()`. At the
end of its session each process records its resident memory.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from tests.integration.suite_support import directory, record, vm_rss_kib

from worker_locator import get_locator, resource_namespace


class Database:
    """A sqlite database of this worker's own."""

    def __init__(self) -> None:
        self.path = directory("WL_IT_SHARED_DIR") / f"app-{resource_namespace()}.db"
        self.connection = sqlite3.connect(self.path, isolation_level=None)
        self.connection.execute("CREATE TABLE IF NOT EXISTS runs (test TEXT)")

    def held_resources(self) -> list[str]:
        return [f"sqlite:{self.path}"]

    def close(self) -> None:
        self.connection.close()


def _database() -> Iterator[Database]:
    database = Database()
    yield database
    database.close()


locator = get_locator()
locator.register("region", lambda: "eu")
locator.register("greeting", lambda: f"hello from {locator.get('region')}")
locator.register("cart", list)
locator.register("db", _database, keep_between_tests=True)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Record this process's resident memory, in each worker (or the only process without xdist)."""
    controller = not hasattr(session.config, "workerinput") and session.config.getoption("dist", "no") != "no"
    if not controller:
        record({"kind": "rss", "rss_kib": vm_rss_kib()})
