"""State leaking between tests in one worker: the cache the tests use is chosen by `WL_IT_CACHE`.

- `naive`: a class-level cache, as the original report had it. What one test
  registers or mutates stays for every later test in the same process.
- `keyed`: the same, keyed by `PYTEST_XDIST_WORKER`, the original report's
  "fix". The key never changes inside a worker, so nothing changes.
- `locator`: `worker_locator.get_locator()`, which the pytest plugin resets
  after each test (turn the plugin off with `-p no:worker_locator` to see the
  same tests fail).
"""

from __future__ import annotations

import pytest
from tests.integration.suite_support import Cache, chosen_cache

CACHE = chosen_cache()
# Registered at import time, as an application registers its services: the baseline.
CACHE.register("region", lambda: "eu")
CACHE.register("cart", list)


@pytest.fixture
def cache() -> Cache:
    """Return the cache the suite was told to use."""
    return CACHE
