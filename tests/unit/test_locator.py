"""Registration and lookup: laziness, caching, errors, cycles and generator factories."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from worker_locator import CircularDependencyError, ServiceLocator, ServiceNotRegisteredError


class Database:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


class Repository:
    def __init__(self, db: Database) -> None:
        self.db = db


@pytest.mark.parametrize("bound", [0, -1])
def test_a_bound_below_one_is_a_value_error(bound: int) -> None:
    with pytest.raises(
        ValueError, match=rf"max_cached must be at least 1 \(or None for no bound\), got {bound}"
    ):
        ServiceLocator(max_cached=bound)


@pytest.mark.parametrize("bound", [True, 2.5, "50"])
def test_a_bound_of_the_wrong_type_is_a_type_error(bound: object) -> None:
    with pytest.raises(TypeError, match="max_cached must be an int or None"):
        ServiceLocator(max_cached=bound)  # type: ignore[arg-type]


def test_no_bound_and_a_bound_of_one_are_accepted() -> None:
    assert ServiceLocator(max_cached=None).max_cached is None
    assert ServiceLocator(max_cached=1).max_cached == 1
    assert ServiceLocator().max_cached == 50


def test_a_non_callable_factory_is_a_type_error_naming_the_key(locator: ServiceLocator) -> None:
    with pytest.raises(TypeError, match="the factory for 'Database' is not callable \\(got Database\\)"):
        locator.register(Database, Database())  # type: ignore[call-overload]
    assert Database not in locator.registered()


@pytest.mark.parametrize("key", [42, ("a", "b"), None])
def test_keys_are_types_or_strings(locator: ServiceLocator, key: object) -> None:
    with pytest.raises(TypeError, match="service keys are types or strings"):
        locator.register(key, object)  # type: ignore[call-overload]


def test_get_is_lazy_and_builds_once(locator: ServiceLocator) -> None:
    calls: list[int] = []

    def factory() -> Database:
        calls.append(1)
        return Database()

    locator.register(Database, factory)
    assert calls == []
    first = locator.get(Database)
    assert locator.get(Database) is first
    assert locator.get(Database) is first
    assert calls == [1]


def test_string_and_type_keys_are_separate(locator: ServiceLocator) -> None:
    locator.register(Database, Database)
    locator.register("Database", lambda: "a string key")
    assert isinstance(locator.get(Database), Database)
    assert locator.get("Database") == "a string key"


def test_a_factory_may_resolve_its_dependencies(locator: ServiceLocator) -> None:
    locator.register(Database, Database)
    locator.register(Repository, lambda: Repository(locator.get(Database)))
    assert locator.get(Repository).db is locator.get(Database)


def test_an_unknown_key_names_itself_and_the_closest_registered_names(locator: ServiceLocator) -> None:
    locator.register(Database, Database)
    locator.register("database_url", lambda: "sqlite://")
    with pytest.raises(ServiceNotRegisteredError) as caught:
        locator.get("Databse")
    assert isinstance(caught.value, LookupError)
    assert caught.value.key == "Databse"
    assert caught.value.suggestions[0] == "Database"
    assert str(caught.value).startswith("no service registered for 'Databse'; did you mean 'Database'")


def test_an_unknown_key_with_nothing_similar_says_how_to_register(locator: ServiceLocator) -> None:
    with pytest.raises(ServiceNotRegisteredError, match=r"register a factory for it first"):
        locator.get(Repository)


def test_a_factory_exception_propagates_unchanged_and_nothing_is_cached(locator: ServiceLocator) -> None:
    failure = ConnectionError("database is down")
    attempts: list[int] = []

    def flaky() -> Database:
        attempts.append(1)
        if len(attempts) == 1:
            raise failure
        return Database()

    locator.register(Database, flaky)
    with pytest.raises(ConnectionError) as caught:
        locator.get(Database)
    assert caught.value is failure
    assert locator.stats()["cached"] == 0
    assert isinstance(locator.get(Database), Database)
    assert len(attempts) == 2


def test_reregistering_replaces_the_factory_and_drops_the_cached_instance(locator: ServiceLocator) -> None:
    locator.register(Database, Database)
    locator.register(Repository, lambda: Repository(locator.get(Database)))
    old_db, old_repo = locator.get(Database), locator.get(Repository)
    replacement = Database()
    locator.register(Database, lambda: replacement)
    assert locator.get(Database) is replacement
    assert locator.get(Repository) is not old_repo
    assert locator.get(Repository).db is replacement
    assert not old_db.closed, "re-registering drops the old instance, it does not close it"


def test_a_direct_cycle_names_the_chain(locator: ServiceLocator) -> None:
    locator.register("a", lambda: locator.get("a"))
    with pytest.raises(CircularDependencyError, match=r"^circular dependency: a -> a$"):
        locator.get("a")


def test_an_indirect_cycle_names_the_chain_and_is_not_a_recursion_error(locator: ServiceLocator) -> None:
    def database() -> Any:
        return locator.get(Repository)

    def repository() -> Any:
        return locator.get("cache")

    locator.register(Database, database)
    locator.register(Repository, repository)
    locator.register("cache", lambda: locator.get(Database))
    with pytest.raises(CircularDependencyError) as caught:
        locator.get(Repository)
    assert str(caught.value) == "circular dependency: Repository -> cache -> Database -> Repository"
    assert caught.value.chain == (Repository, "cache", Database, Repository)
    assert not isinstance(caught.value, RecursionError)


def test_a_cycle_caches_nothing_and_a_fixed_registration_then_works(locator: ServiceLocator) -> None:
    locator.register("a", lambda: locator.get("b"))
    locator.register("b", lambda: locator.get("a"))
    with pytest.raises(CircularDependencyError):
        locator.get("a")
    assert locator.stats()["cached"] == 0
    locator.register("b", lambda: "b")
    assert locator.get("a") == "b"


def test_a_deep_but_acyclic_chain_resolves(locator: ServiceLocator) -> None:
    depth = 120
    locator.register("s0", lambda: 0)

    def one_more_than(previous: str) -> Callable[[], int]:
        return lambda: locator.get(previous) + 1

    for i in range(1, depth):
        locator.register(f"s{i}", one_more_than(f"s{i - 1}"))
    assert locator.get(f"s{depth - 1}") == depth - 1


def test_a_generator_factory_yields_the_service_and_cleans_up_at_close(locator: ServiceLocator) -> None:
    events: list[str] = []

    def connection() -> Iterator[Database]:
        db = Database()
        events.append("opened")
        yield db
        events.append("cleaned up")

    locator.register(Database, connection)
    db = locator.get(Database)
    assert isinstance(db, Database)
    assert events == ["opened"]
    locator.close()
    assert events == ["opened", "cleaned up"]
    assert not db.closed, "the generator's own clean-up runs, not the service's close()"


def test_a_generator_factory_that_yields_nothing_is_an_error(locator: ServiceLocator) -> None:
    def empty() -> Iterator[Database]:
        return
        yield  # pragma: no cover - makes this a generator function

    locator.register(Database, empty)
    with pytest.raises(RuntimeError, match="the generator factory for 'Database' returned without yielding"):
        locator.get(Database)


def test_a_generator_factory_that_yields_twice_fails_at_close(locator: ServiceLocator) -> None:
    events: list[str] = []

    def twice() -> Iterator[Database]:
        try:
            yield Database()
            events.append("resumed")
            yield Database()
            events.append("resumed again")  # pragma: no cover - must never run
        finally:
            events.append("finally")

    locator.register(Database, twice)
    locator.get(Database)
    with pytest.raises(ExceptionGroup, match="1 of 1 services failed to close") as caught:
        locator.close()
    assert caught.group_contains(
        RuntimeError, match="the generator factory of Database yielded more than once"
    )
    assert events == ["resumed", "finally"], "the generator is closed, not left suspended"
    assert locator.stats()["cached"] == 0
    locator.close()  # closed once: a second close has nothing left to close
    assert events == ["resumed", "finally"]


def test_registered_lists_the_keys(locator: ServiceLocator) -> None:
    locator.register(Database, Database)
    locator.register("url", lambda: "sqlite://")
    assert locator.registered() == frozenset({Database, "url"})


def test_repr_says_what_is_registered_and_cached(locator: ServiceLocator) -> None:
    locator.register(Database, Database)
    locator.get(Database)
    assert repr(locator).startswith("<ServiceLocator: 1 registered, 1 cached in pid ")


def test_a_service_built_from_one_that_could_not_be_cached_is_not_cached_either(
    locator: ServiceLocator,
) -> None:
    built: list[str] = []

    def inner_that_replaces_itself() -> str:
        locator.register("inner", lambda: "inner, second factory")  # so this instance is not cached
        return "inner, first factory"

    def outer() -> str:
        built.append("outer")
        return f"from {locator.get('inner')}"

    locator.register("inner", inner_that_replaces_itself)
    locator.register("outer", outer)
    assert locator.get("outer") == "from inner, first factory"
    assert locator.get("outer") == "from inner, second factory"  # rebuilt: its dependency was not cached
    assert locator.get("outer") == "from inner, second factory"
    assert built == ["outer", "outer"]


def test_a_cached_get_takes_no_lock(locator: ServiceLocator) -> None:
    # The fast path: once built, and while no factory runs, a lookup is a dict read.
    locator.register("settings", dict)
    settings = locator.get("settings")
    assert locator.get("settings") is settings  # the first hit puts it on the fast path
    got: list[object] = []
    done = threading.Event()

    def look_up() -> None:
        got.append(locator.get("settings"))
        done.set()

    with locator._lock:  # another thread holding the locator's lock does not stop the lookup
        reader = threading.Thread(target=look_up, daemon=True)
        reader.start()
        finished = done.wait(30)
    reader.join(30)
    assert finished, "a cached get waited for the locator's lock"
    assert got == [settings]
