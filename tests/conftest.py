"""Fixtures shared by every test folder, and the pytester plugin for the tests that start pytest runs."""

from __future__ import annotations

from collections.abc import Iterator

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


@pytest.fixture(name="without_outer_run")
def _without_outer_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep this run's xdist identity and options out of the pytest runs a test starts."""
    for name in _OUTER_RUN_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(name="locator")
def _locator() -> Iterator[ServiceLocator]:
    """Return a fresh locator of the test's own, closed when the test ends."""
    locator = ServiceLocator()
    yield locator
    locator.clear_all_caches()


@pytest.fixture(name="unmeasured")
def _unmeasured() -> Iterator[None]:
    """Pause coverage measurement of this process during the test; a no-op when coverage is not running.

    For the in-process runs of 100,000 tests: tracing them takes minutes and covers nothing new.
    """
    try:
        import coverage  # noqa: PLC0415 - installed with the dev group only
    except ImportError:
        yield
        return
    current = coverage.Coverage.current()
    if current is None:
        yield
        return
    current.stop()
    try:
        yield
    finally:
        current.start()
