"""Fixtures for the plugin tests: pytester, and an environment without the outer run's xdist variables."""

from __future__ import annotations

import pytest


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
