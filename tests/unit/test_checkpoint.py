"""checkpoint() and restore(): the per-test reset the pytest plugin is built on."""

from __future__ import annotations

import pytest

from tests.unit.helpers import Resource
from worker_locator import ServiceLocator, ServiceNotRegisteredError


def test_restore_returns_to_the_checkpoint_registrations(locator: ServiceLocator) -> None:
    locator.register("region", lambda: "eu")
    baseline = locator.checkpoint()
    locator.register("region", lambda: "us")
    locator.register("extra", lambda: "extra")
    locator.restore(baseline)
    assert locator.get("region") == "eu"
    with pytest.raises(ServiceNotRegisteredError):
        locator.get("extra")


def test_restore_closes_and_drops_what_was_cached_even_mutated_instances(locator: ServiceLocator) -> None:
    locator.register("settings", lambda: {"debug": False})
    locator.register("db", lambda: Resource("db"))
    baseline = locator.checkpoint()
    locator.get("settings")["debug"] = True  # a test mutates a shared service
    db = locator.get("db")
    locator.restore(baseline)
    assert db.closed
    assert locator.get("settings") == {"debug": False}
    assert locator.get("db") is not db


def test_restore_discards_overrides_that_were_never_exited(locator: ServiceLocator) -> None:
    locator.register("region", lambda: "eu")
    baseline = locator.checkpoint()
    block = locator.override("region", "us")
    block.__enter__()
    assert locator.get("region") == "us"
    locator.restore(baseline)
    assert locator.get("region") == "eu"
    locator.close()  # no override is open any more: close() would refuse otherwise
    locator.register("region", lambda: "jp")
    block.__exit__(None, None, None)  # discarded: exiting later changes nothing
    assert locator.get("region") == "jp"


def test_services_kept_between_tests_survive_restore(locator: ServiceLocator) -> None:
    locator.register("engine", lambda: Resource("engine"), keep_between_tests=True)
    locator.register("session", lambda: Resource(f"session on {locator.get('engine').name}"))
    baseline = locator.checkpoint()
    engine, session = locator.get("engine"), locator.get("session")
    locator.restore(baseline)
    assert locator.get("engine") is engine
    assert not engine.closed
    assert session.closed


def test_a_kept_service_built_from_a_dropped_one_is_dropped_too(locator: ServiceLocator) -> None:
    locator.register("config", lambda: Resource("config"))
    locator.register(
        "engine", lambda: Resource(f"engine for {locator.get('config').name}"), keep_between_tests=True
    )
    baseline = locator.checkpoint()
    engine = locator.get("engine")
    locator.restore(baseline)
    assert engine.closed, "it held a service that was dropped, so it could not be kept"


def test_a_kept_service_whose_registration_changed_is_dropped(locator: ServiceLocator) -> None:
    locator.register("engine", lambda: Resource("real"), keep_between_tests=True)
    baseline = locator.checkpoint()
    locator.register("engine", lambda: Resource("test double"), keep_between_tests=True)
    double = locator.get("engine")
    locator.restore(baseline)
    assert double.closed
    assert locator.get("engine").name == "real"


def test_restore_raises_a_group_for_close_failures_after_restoring(locator: ServiceLocator) -> None:
    class Broken:
        def close(self) -> None:
            msg = "cannot close"
            raise OSError(msg)

    baseline = locator.checkpoint()
    locator.register("broken", Broken)
    locator.get("broken")
    with pytest.raises(ExceptionGroup, match="1 service failed to close while restoring"):
        locator.restore(baseline)
    assert "broken" not in locator.registered()
    assert locator.stats()["cached"] == 0


def test_a_checkpoint_has_a_readable_repr(locator: ServiceLocator) -> None:
    locator.register("a", object)
    assert repr(locator.checkpoint()) == "<Checkpoint of 1 registrations>"


def test_checkpoints_come_only_from_the_locator() -> None:
    from worker_locator import Checkpoint  # noqa: PLC0415 - the import is what is tested

    with pytest.raises(TypeError, match=r"checkpoints are taken with ServiceLocator.checkpoint\(\)"):
        Checkpoint()


def test_restore_drops_an_override_value_even_under_a_checkpoint_taken_inside_its_block(
    locator: ServiceLocator,
) -> None:
    # An override's value is never kept between tests: only keep_between_tests=True registrations are.
    with locator.override("region", "us"):
        inside = locator.checkpoint()
        locator.restore(inside)
        assert locator.snapshot()["services"] == []


def test_a_later_checkpoint_still_restores_after_a_restore_to_an_earlier_one(locator: ServiceLocator) -> None:
    locator.register("a", lambda: "a")
    first = locator.checkpoint()
    locator.register("b", lambda: "b")
    second = locator.checkpoint()
    locator.register("c", lambda: "c")
    locator.restore(first)
    assert locator.registered() == {"a"}
    locator.restore(second)  # its changes were undone by the first restore, yet it still returns to them
    assert locator.registered() == {"a", "b"}
    assert locator.get("b") == "b"


def test_restore_shortens_the_journal_to_its_checkpoint(locator: ServiceLocator) -> None:
    # The per-test reset runs after every test: what it undoes must not pile up.
    baseline = locator.checkpoint()
    for i in range(100):
        locator.register(f"key-{i}", object)
        locator.restore(baseline)
    assert locator.registered() == frozenset()
    assert len(locator._registry._journal) == 0


def test_a_checkpoint_of_another_locator_stands_for_its_registrations_then(locator: ServiceLocator) -> None:
    other = ServiceLocator()
    other.register("region", lambda: "eu")
    then = other.checkpoint()
    other.register("region", lambda: "us")
    other.register("extra", object)
    locator.restore(then)
    assert locator.registered() == {"region"}
    assert locator.get("region") == "eu"
