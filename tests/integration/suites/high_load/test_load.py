"""Twenty tests that each change the shared services and check that nothing leaked in from earlier tests.

The harness runs sixteen copies of this file, one per worker under
`--dist loadfile`: 320 executions.
"""

from __future__ import annotations

import pytest
from tests.integration.suite_support import record

from worker_locator import ServiceLocator
from worker_locator.pytest_plugin import OverrideService


@pytest.mark.parametrize("n", range(20))
def test_each_test_starts_from_the_baseline(
    n: int, request: pytest.FixtureRequest, service_locator: ServiceLocator, override_service: OverrideService
) -> None:
    nodeid = request.node.nodeid
    record({"kind": "test", "nodeid": nodeid})
    cart = service_locator.get("cart")
    assert cart == []  # nothing from the tests before
    cart.append(nodeid)
    assert service_locator.get("greeting") == "hello from eu"
    override_service("region", f"region-{n}")
    assert service_locator.get("greeting") == f"hello from region-{n}"
    database = service_locator.get("db")
    database.connection.execute("INSERT INTO runs VALUES (?)", (nodeid,))
    (count,) = database.connection.execute("SELECT COUNT(*) FROM runs WHERE test = ?", (nodeid,)).fetchone()
    assert count == 1
