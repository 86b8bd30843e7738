"""Fixtures for the diagnosis tests: an environment without the outer run's xdist variables, and snapshots."""

from __future__ import annotations

from typing import Any

import pytest

from tests.diagnosis.helpers import Database
from worker_locator import ServiceLocator


@pytest.fixture(autouse=True)
def _fresh_environment(without_outer_run: None) -> None:
    """Every test here starts pytest runs of its own, which must not see the outer run's identity."""


@pytest.fixture
def valid_snapshot() -> dict[str, Any]:
    """Return a real snapshot of a locator of this process with one service that holds a resource."""
    locator = ServiceLocator()
    locator.register("Database", Database)
    locator.get("Database")
    return locator.snapshot()
