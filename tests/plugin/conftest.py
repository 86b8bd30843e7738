"""Fixtures for the plugin tests: an environment without the outer run's xdist variables."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_environment(without_outer_run: None) -> None:
    """Every test here starts pytest runs of its own, which must not see the outer run's identity."""
