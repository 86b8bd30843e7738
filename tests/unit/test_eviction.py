"""The per-process bound: least recently used services are evicted, closed and counted."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest

from tests.unit.helpers import Resource
from worker_locator import ServiceLocator


def _build(into: list[Resource], name: str) -> Resource:
    into.append(Resource(name))
    return into[-1]


def _register(locator: ServiceLocator, *names: str) -> None:
    for name in names:
        locator.register(name, functools.partial(Resource, name))


@pytest.mark.parametrize("count_hits", [False, True])
def test_past_the_bound_the_service_not_used_since_is_evicted_and_closed(count_hits: bool) -> None:
    locator = ServiceLocator(max_cached=3, count_hits=count_hits)
    _register(locator, "a", "b", "c", "d")
    a, b, c = locator.get("a"), locator.get("b"), locator.get("c")
    locator.get("a")  # a is used again, b and c are not
    locator.get("d")
    assert b.closed
    assert not a.closed
    assert not c.closed
    assert locator.get("a") is a
    assert locator.stats()["evictions"] == 1
    assert locator.stats()["cached"] == 3


def test_exact_lru_order_when_hits_are_counted() -> None:
    locator = ServiceLocator(max_cached=3, count_hits=True)
    _register(locator, "a", "b", "c", "d")
    a, b, c = locator.get("a"), locator.get("b"), locator.get("c")
    for name in ("c", "a", "b"):  # c is now the least recently used
        locator.get(name)
    locator.get("d")
    assert c.closed
    assert not a.closed
    assert not b.closed


def test_10000_distinct_keys_stay_within_the_default_bound(locator: ServiceLocator) -> None:
    built: list[Resource] = []
    for i in range(10_000):
        name = f"key-{i}"
        locator.register(name, functools.partial(_build, built, name))
        locator.get(name)
        assert locator.stats()["cached"] <= 50
    assert locator.stats()["evictions"] == 10_000 - 50
    assert sum(r.closed for r in built) == 10_000 - 50
    snapshot = locator.snapshot()
    assert snapshot["evicted"]["key-0"] == 1
    assert len(snapshot["evicted"]) == 256, "per-name counts are bounded"
    assert snapshot["evicted_unnamed"] == 10_000 - 50 - 256


def test_evicting_a_dependency_also_evicts_what_was_built_from_it() -> None:
    locator = ServiceLocator(max_cached=2)
    dbs: list[Resource] = []
    locator.register("db", functools.partial(_build, dbs, "db"))
    locator.register("repo", lambda: Resource(f"repo on {locator.get('db').name}"))
    locator.register("x", lambda: Resource("x"))
    repo = locator.get("repo")
    locator.get("repo")  # repo is used again; db, the oldest, is not
    db = dbs[0]
    locator.get("x")  # over the bound: db is evicted, and repo was built from it
    assert db.closed
    assert repo.closed, "the dependent goes with its dependency, never left holding a closed object"
    assert locator.stats()["evictions"] == 2
    assert locator.get("repo") is not repo
    assert locator.get("repo").name == "repo on db"


def test_the_service_just_built_is_never_its_own_victim() -> None:
    locator = ServiceLocator(max_cached=1)
    locator.register("db", lambda: Resource("db"))
    locator.register("repo", lambda: Resource(f"repo on {locator.get('db').name}"))
    repo = locator.get("repo")
    assert not repo.closed
    assert locator.get("repo") is repo


def test_an_evicted_generator_factory_is_finalised() -> None:
    events: list[str] = []

    def connection() -> Iterator[Resource]:
        events.append("open")
        yield Resource("conn")
        events.append("cleanup")

    locator = ServiceLocator(max_cached=1)
    locator.register("conn", connection)
    locator.register("other", lambda: "other")
    locator.get("conn")
    locator.get("other")
    assert events == ["open", "cleanup"]


def test_a_failing_close_of_an_evicted_service_is_a_warning_not_an_error_of_the_unrelated_get() -> None:
    class Broken:
        def close(self) -> None:
            msg = "cannot close"
            raise OSError(msg)

    locator = ServiceLocator(max_cached=1)
    locator.register("broken", Broken)
    locator.register("next", lambda: "next")
    locator.get("broken")
    with pytest.warns(RuntimeWarning, match="closing an evicted service failed: OSError"):
        assert locator.get("next") == "next"


def test_without_a_bound_nothing_is_evicted() -> None:
    locator = ServiceLocator(max_cached=None)
    _register(locator, *(f"k{i}" for i in range(500)))
    for i in range(500):
        locator.get(f"k{i}")
    assert locator.stats()["cached"] == 500
    assert locator.stats()["evictions"] == 0


def test_a_sweep_spends_the_second_chance_of_what_it_passes_over() -> None:
    # CLOCK: a full sweep clears the "used" bit of every service it passes over, so that a
    # service not used again since loses to one that was, and to the one built last.
    locator = ServiceLocator(max_cached=3)
    _register(locator, "a", "b", "c", "d", "e", "f")
    a, b, c = (locator.get(name) for name in ("a", "b", "c"))
    for name in ("a", "b", "c"):
        locator.get(name)  # each one used again: its bit is set
    d = locator.get("d")  # the sweep clears every bit and evicts the oldest, a
    assert a.closed
    locator.get("e")  # d was never used again: evicted
    assert d.closed
    e = locator.get("e")
    locator.get("b")  # b is used after the sweep; c is not
    locator.get("f")
    assert c.closed
    assert not b.closed
    assert not e.closed


def test_switching_hit_counting_on_later_switches_to_exact_lru_as_well() -> None:
    locator = ServiceLocator(max_cached=3)
    locator.count_hits = True
    _register(locator, "a", "b", "c", "d")
    a, b = locator.get("a"), locator.get("b")
    locator.get("a")
    locator.get("b")
    c = locator.get("c")  # built last, never used again: CLOCK would evict it, exact LRU evicts a
    locator.get("d")
    assert a.closed
    assert not b.closed
    assert not c.closed
