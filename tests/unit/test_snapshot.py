"""snapshot() and stats(): a JSON picture of this process's partition, with declared resources."""

from __future__ import annotations

import json
import os
import socket

import pytest

from worker_locator import ResourceHolder, ServiceLocator, resource_namespace, worker_id


class SqliteStore:
    def __init__(self, path: str) -> None:
        self.path = path

    def held_resources(self) -> list[str]:
        return [f"sqlite:{self.path}"]


class Broken:
    def held_resources(self) -> list[str]:
        msg = "no idea"
        raise RuntimeError(msg)


def test_a_snapshot_names_the_process_and_survives_a_json_round_trip(locator: ServiceLocator) -> None:
    locator.register(SqliteStore, lambda: SqliteStore("/tmp/app.db"))  # noqa: S108 - a name only, never opened
    locator.get(SqliteStore)
    snapshot = json.loads(json.dumps(locator.snapshot()))
    assert snapshot["format"] == 1
    assert snapshot["pid"] == os.getpid()
    assert snapshot["worker_id"] == worker_id()
    assert snapshot["host"] == socket.gethostname()
    assert snapshot["resource_namespace"] == resource_namespace()
    assert snapshot["max_cached"] == 50
    [service] = snapshot["services"]
    assert service["key"] == "SqliteStore"
    assert service["type"] == f"{__name__}.SqliteStore"
    assert service["owner_pid"] == os.getpid()
    assert service["resources"] == ["sqlite:/tmp/app.db"]
    assert service["override"] is False
    assert isinstance(service["created_at"], float)


def test_services_declare_resources_through_the_protocol() -> None:
    assert isinstance(SqliteStore("x"), ResourceHolder)
    assert not isinstance(object(), ResourceHolder)


def test_a_broken_resource_declaration_does_not_break_the_snapshot(locator: ServiceLocator) -> None:
    locator.register(Broken, Broken)
    locator.get(Broken)
    [service] = locator.snapshot()["services"]
    assert service["resources"] == []
    assert service["resources_error"] == "RuntimeError: no idea"


def test_hits_are_none_unless_counted(locator: ServiceLocator) -> None:
    locator.register("x", object)
    locator.get("x")
    locator.get("x")
    assert locator.stats()["hits"] is None
    assert locator.snapshot()["services"][0]["hits"] is None


def test_counted_hits_are_exact_per_service_and_in_total() -> None:
    locator = ServiceLocator(count_hits=True)
    locator.register("x", object)
    locator.register("y", lambda: (locator.get("x"), "y")[1])
    for _ in range(5):
        locator.get("x")
    locator.get("y")
    locator.get("y")
    stats = locator.stats()
    assert stats == {"hits": 6, "misses": 2, "constructions": 2, "evictions": 0, "cached": 2}
    hits = {s["key"]: s["hits"] for s in locator.snapshot()["services"]}
    assert hits == {"x": 5, "y": 1}


def test_counting_can_be_switched_on_later(locator: ServiceLocator) -> None:
    locator.register("x", object)
    locator.get("x")
    locator.count_hits = True
    locator.get("x")
    assert locator.count_hits is True
    assert locator.stats()["hits"] == 1
    locator.count_hits = False
    assert locator.stats()["hits"] is None


def test_an_override_is_marked(locator: ServiceLocator) -> None:
    with locator.override("x", 1):
        assert locator.snapshot()["services"][0]["override"] is True


@pytest.mark.parametrize("count", [1, 150])
def test_resource_lists_are_bounded(locator: ServiceLocator, count: int) -> None:
    class Many:
        def held_resources(self) -> list[str]:
            return [f"file:/tmp/{i}" for i in range(count)]

    locator.register(Many, Many)
    locator.get(Many)
    assert len(locator.snapshot()["services"][0]["resources"]) == min(count, 100)


def test_an_override_value_is_reported_as_this_process_s(locator: ServiceLocator) -> None:
    with locator.override("x", 1):
        (service,) = locator.snapshot()["services"]
    assert service["owner_pid"] == os.getpid()
