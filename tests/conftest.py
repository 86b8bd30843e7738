"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from worker_locator import ServiceLocator


@pytest.fixture(name="locator")
def _locator() -> Iterator[ServiceLocator]:
    """Return a fresh locator of the test's own, closed when the test ends."""
    locator = ServiceLocator()
    yield locator
    locator.clear_all_caches()
