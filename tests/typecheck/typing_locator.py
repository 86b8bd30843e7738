"""Type-checked, never run: what mypy and pyright infer for the public API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, assert_type

from worker_locator import (
    Checkpoint,
    LazyProxy,
    LocatorStats,
    ServiceLocator,
    get_locator,
    reset_locator,
    resource_namespace,
    worker_id,
)


class Database:
    def query(self) -> list[int]:
        return []


def connection() -> Iterator[Database]:
    yield Database()


def check_types() -> None:
    locator = ServiceLocator(max_cached=None, count_hits=True)
    locator.register(Database, Database)
    locator.register(Database, connection)
    locator.register(Database, Database, keep_between_tests=True)
    locator.register("url", lambda: "sqlite://")

    assert_type(locator.get(Database), Database)
    assert_type(locator.get(Database).query(), list[int])
    assert_type(locator.get("url"), Any)

    with locator.override(Database, Database()) as fake:
        assert_type(fake, Database)

    assert_type(locator.stats(), LocatorStats)
    assert_type(locator.stats()["hits"], int | None)
    assert_type(locator.checkpoint(), Checkpoint)
    assert_type(get_locator(), ServiceLocator)
    assert_type(reset_locator(), ServiceLocator)
    assert_type(worker_id(), str)
    assert_type(resource_namespace(), str)

    proxy = LazyProxy(Database)
    assert_type(proxy, LazyProxy[Database])


def check_errors() -> None:
    locator = ServiceLocator()
    locator.register(Database, Database())  # type: ignore[call-overload]
    locator.register(42, Database)  # type: ignore[call-overload]
    locator.get(42)  # type: ignore[call-overload]
    ServiceLocator(50)  # type: ignore[call-arg]
