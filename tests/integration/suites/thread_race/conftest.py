"""Threads racing for the first `get` of a lazily built service: the cache is chosen by `WL_IT_CACHE`."""

from __future__ import annotations

import pytest
from tests.integration.suite_support import Cache, chosen_cache

CACHE = chosen_cache()


@pytest.fixture
def cache() -> Cache:
    """Return the cache the suite was told to use."""
    return CACHE
