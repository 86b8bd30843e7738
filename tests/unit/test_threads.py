"""Locked construction: racing threads build once, different keys never wait on each other, no deadlocks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from worker_locator import CircularDependencyError, ServiceLocator

THREADS = 32
JOIN_TIMEOUT = 30.0  # a guard against hanging the suite on a deadlock, never a measurement


def _run_threads(targets: list[Callable[[], Any]]) -> list[Any]:
    """Start one thread per target behind a barrier; return each result or the exception it raised."""
    results: list[Any] = [None] * len(targets)
    barrier = threading.Barrier(len(targets))

    def run(index: int, target: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[index] = target()
        except Exception as exc:  # noqa: BLE001 - the caller inspects what each thread got
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, t), daemon=True) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "threads are still blocked: a deadlock"
    return results


class Expensive:
    constructions = 0

    def __init__(self) -> None:
        time.sleep(0.05)  # widen the race window so that every thread arrives while it is being built
        type(self).constructions += 1


def test_32_threads_racing_on_the_first_get_construct_once(locator: ServiceLocator) -> None:
    built: list[Expensive] = []

    def factory() -> Expensive:
        built.append(Expensive())
        return built[-1]

    locator.register(Expensive, factory)
    results = _run_threads([lambda: locator.get(Expensive)] * THREADS)
    assert len(built) == 1
    assert all(r is built[0] for r in results)
    assert locator.stats()["constructions"] == 1


def test_an_unlocked_cache_under_the_same_race_builds_many(locator: ServiceLocator) -> None:
    """The failure the lock prevents, shown with the naive check-then-set cache."""
    cache: dict[str, object] = {}
    built: list[object] = []
    # The builders wait for each other: every thread is inside at once, however slowly the threads arrive.
    inside = threading.Barrier(THREADS, timeout=JOIN_TIMEOUT)

    def naive_get() -> object:
        if "svc" not in cache:
            inside.wait()
            built.append(object())
            cache["svc"] = built[-1]
        return cache["svc"]

    _run_threads([naive_get] * THREADS)
    assert len(built) == THREADS
    del locator


def test_factories_of_different_keys_run_at_the_same_time(locator: ServiceLocator) -> None:
    # Each factory waits until the other one has started: if construction were
    # serialised across keys, the barrier would break instead of being passed.
    both_running = threading.Barrier(2, timeout=JOIN_TIMEOUT)

    def slow(name: str) -> str:
        both_running.wait()
        return name

    locator.register("a", lambda: slow("a"))
    locator.register("b", lambda: slow("b"))
    assert _run_threads([lambda: locator.get("a"), lambda: locator.get("b")]) == ["a", "b"]


def test_factories_resolving_dependencies_under_contention_never_deadlock(locator: ServiceLocator) -> None:
    locator.register("config", lambda: {"dsn": "sqlite://"})
    locator.register("db", lambda: ("db", locator.get("config")["dsn"]))
    locator.register("repo", lambda: ("repo", locator.get("db"), locator.get("config")))
    targets = [lambda: locator.get("repo"), lambda: locator.get("db"), lambda: locator.get("config")] * 10
    results = _run_threads(targets)
    assert not [r for r in results if isinstance(r, Exception)]
    assert locator.stats()["constructions"] == 3


def test_a_cycle_split_across_two_threads_is_reported_not_deadlocked(locator: ServiceLocator) -> None:
    # Thread 1 builds a and then wants b; thread 2 builds b and then wants a.
    # The barrier makes both hold their own key before asking for the other.
    holding = threading.Barrier(2, timeout=JOIN_TIMEOUT)
    first_time = {"a": True, "b": True}

    def factory(own: str, other: str) -> str:
        if first_time[own]:
            first_time[own] = False
            holding.wait()
        return f"{own}+{locator.get(other)}"

    locator.register("a", lambda: factory("a", "b"))
    locator.register("b", lambda: factory("b", "a"))
    results = _run_threads([lambda: locator.get("a"), lambda: locator.get("b")])
    assert all(isinstance(r, CircularDependencyError) for r in results), results
    messages = {str(r) for r in results}
    assert messages <= {"circular dependency: a -> b -> a", "circular dependency: b -> a -> b"}
    assert locator.stats()["cached"] == 0


def test_a_failed_construction_wakes_the_waiters_who_then_retry(locator: ServiceLocator) -> None:
    attempts: list[int] = []
    lock = threading.Lock()

    def flaky() -> str:
        with lock:
            attempts.append(1)
            first = len(attempts) == 1
        time.sleep(0.02)
        if first:
            msg = "first attempt fails"
            raise ConnectionError(msg)
        return "ok"

    locator.register("svc", flaky)
    results = _run_threads([lambda: locator.get("svc")] * 8)
    failures = [r for r in results if isinstance(r, ConnectionError)]
    assert len(failures) == 1
    assert results.count("ok") == 7
    assert len(attempts) == 2


def test_a_factory_may_start_a_thread_that_resolves_another_key(locator: ServiceLocator) -> None:
    locator.register("inner", lambda: "inner")

    def outer() -> str:
        found: list[str] = []
        helper = threading.Thread(target=lambda: found.append(locator.get("inner")), daemon=True)
        helper.start()
        helper.join(JOIN_TIMEOUT)
        return "outer:" + found[0]

    locator.register("outer", outer)
    assert locator.get("outer") == "outer:inner"


@pytest.mark.parametrize("count_hits", [False, True])
def test_many_threads_reading_a_cached_service_see_one_instance(count_hits: bool) -> None:
    locator = ServiceLocator(count_hits=count_hits)
    locator.register(dict, dict)
    expected = locator.get(dict)
    results = _run_threads([lambda: [locator.get(dict) for _ in range(200)]] * 8)
    assert all(all(x is expected for x in r) for r in results)
    hits = locator.stats()["hits"]
    assert hits == (8 * 200 if count_hits else None)
