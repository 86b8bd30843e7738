"""Fixtures for the diagnosis tests: pytester, and an environment without the outer run's xdist variables."""

from __future__ import annotations

from typing import Any

import pytest

from worker_locator import ServiceLocator


def pytest_configure(config: pytest.Config) -> None:
    # `pytest_plugins` is refused in a conftest below the root when pytest runs from the root,
    # so the pytester plugin is loaded here; its options get their defaults when it registers.
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")


_OUTER_RUN_VARIABLES = (
    "PYTEST_ADDOPTS",
    "PYTEST_XDIST_WORKER",
    "PYTEST_XDIST_WORKER_COUNT",
    "PYTEST_XDIST_TESTRUNUID",
)


@pytest.fixture(autouse=True)
def _fresh_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the outer run's xdist identity out of the runs these tests start."""
    for name in _OUTER_RUN_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def valid_snapshot() -> dict[str, Any]:
    """Return a real snapshot of a locator of this process with one service that holds a resource."""
    locator = ServiceLocator()
    locator.register("Database", Database)
    locator.get("Database")
    return locator.snapshot()


class Database:
    """A service that declares the sqlite file it holds."""

    def __init__(self, path: str = "/srv/app.db") -> None:
        self.path = path

    def held_resources(self) -> list[str]:
        return [f"sqlite:{self.path}"]
