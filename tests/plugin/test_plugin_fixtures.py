"""The `service_locator` and `override_service` fixtures."""

from __future__ import annotations

import pytest

from worker_locator import ServiceLocator, get_locator
from worker_locator.pytest_plugin import OverrideService


def test_service_locator_is_the_default_locator(service_locator: ServiceLocator) -> None:
    assert service_locator is get_locator()


def test_override_service_returns_the_value_and_rebuilds_dependents(
    service_locator: ServiceLocator, override_service: OverrideService
) -> None:
    service_locator.register("region", lambda: "eu")
    service_locator.register("greeting", lambda: f"hello from {service_locator.get('region')}")
    assert service_locator.get("greeting") == "hello from eu"
    assert override_service("region", "us") == "us"
    assert service_locator.get("greeting") == "hello from us"


# The fixture must undo its overrides by itself, so these runs switch the plugin's resets off.
OVERRIDE_SUITE = """
    from worker_locator import get_locator

    locator = get_locator()
    locator.register("region", lambda: "eu")
    locator.register("greeting", lambda: f"hello from {locator.get('region')}")
    DANGLING = []


    def test_1_overrides(override_service):
        assert locator.get("greeting") == "hello from eu"
        override_service("region", "us")
        override_service("greeting", "hi")
        assert locator.get("greeting") == "hi"
        if DANGLE:
            block = locator.override("region", "mars")  # entered after the fixture's, never exited
            block.__enter__()
            DANGLING.append(block)


    def test_2_sees_the_services_again():
        assert locator.get("region") == "eu"
        assert locator.get("greeting") == "hello from eu"
"""


@pytest.mark.parametrize("dangle", [False, True])
def test_override_service_is_undone_at_teardown(pytester: pytest.Pytester, dangle: bool) -> None:
    pytester.makepyfile(OVERRIDE_SUITE.replace("DANGLE:", f"{dangle}:"))
    result = pytester.runpytest_inprocess("-p", "no:randomly", "-o", "locator_isolation=none")
    result.assert_outcomes(passed=2)
