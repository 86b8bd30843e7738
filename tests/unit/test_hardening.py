"""The defects found by attacking the core (issue 9): each test failed before its fix."""

from __future__ import annotations

import contextlib
import difflib
import json
import pickle
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.helpers import Resource
from worker_locator import ServiceLocator, ServiceNotRegisteredError, get_locator, resource_namespace


def test_suggestions_for_a_missing_key_are_searched_outside_the_lock(
    locator: ServiceLocator, monkeypatch: pytest.MonkeyPatch
) -> None:
    locator.register("database", object)
    registered_meanwhile: list[bool] = []
    real = difflib.get_close_matches

    def matches_while_another_thread_registers(word: str, possibilities: Any, **kwargs: Any) -> list[str]:
        other = threading.Thread(target=locator.register, args=("cache", object))
        other.start()
        other.join(30)  # only a failing run waits this long: the register is blocked behind the lock
        registered_meanwhile.append(not other.is_alive())
        return real(word, possibilities, **kwargs)

    monkeypatch.setattr(difflib, "get_close_matches", matches_while_another_thread_registers)
    with pytest.raises(ServiceNotRegisteredError, match="did you mean 'database'"):
        locator.get("databse")
    assert registered_meanwhile == [True]
    assert "cache" in locator.registered()


def test_suggestions_cost_the_same_however_many_keys_are_registered(
    locator: ServiceLocator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(100_000):
        locator.register(f"service-{i}", object)
    locator.register("x" * 10_000_000, object)
    searched: list[int] = []
    real = difflib.get_close_matches

    def counting(word: str, possibilities: list[str], **kwargs: Any) -> list[str]:
        searched.append(len(possibilities))
        return real(word, possibilities, **kwargs)

    monkeypatch.setattr(difflib, "get_close_matches", counting)
    with pytest.raises(ServiceNotRegisteredError, match="did you mean 'service-1'"):
        locator.get("service-1x")
    assert len(searched) == 1
    assert searched[0] <= 2_000
    with pytest.raises(ServiceNotRegisteredError) as caught:
        locator.get("x" * 10_000_001)
    assert len(str(caught.value)) < 400, "a huge key is elided in the message and not compared"


def test_the_dependency_map_follows_what_is_cached() -> None:
    locator = ServiceLocator(max_cached=5)
    locator.register("base", lambda: "base")

    def dependent(i: int) -> Callable[[], str]:
        def build() -> str:
            with contextlib.suppress(ServiceNotRegisteredError):
                locator.get(f"missing-{i}")  # looked up and missing: not recorded
            return f"{locator.get('base')}-{i}"

        return build

    for i in range(1_000):
        locator.register(f"d{i}", dependent(i))
        locator.get(f"d{i}")
    cache = locator._cache
    cached = set(cache.entries)
    assert set(cache.dependents) <= cached
    assert all(members <= cached for members in cache.dependents.values())
    assert sum(len(members) for members in cache.dependents.values()) <= 5


def test_a_host_name_that_is_not_utf8_still_gives_a_namespace_and_a_snapshot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = {}
    for raw in (b"build-\xff", b"build-\xfe"):
        monkeypatch.setattr(socket, "gethostname", lambda raw=raw: raw.decode("utf-8", "surrogateescape"))
        names[raw] = resource_namespace()
        snapshot = ServiceLocator().snapshot()
        json.dumps(snapshot, ensure_ascii=False).encode()  # what a snapshot writer does
        assert snapshot["host"] == f"build-\\x{raw[-1]:x}"
    assert names[b"build-\xff"] != names[b"build-\xfe"], "distinct hosts keep distinct names"


def test_a_host_name_with_control_characters_is_printable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: "evil\nhost\x1b[31m")
    assert ServiceLocator().snapshot()["host"] == "evil\\nhost\\x1b[31m"


def _chain(locator: ServiceLocator, depth: int) -> str:
    locator.register("s0", lambda: 0)

    def one_more_than(previous: str) -> Callable[[], int]:
        return lambda: locator.get(previous) + 1

    for i in range(1, depth):
        locator.register(f"s{i}", one_more_than(f"s{i - 1}"))
    return f"s{depth - 1}"


def test_a_chain_at_the_depth_limit_resolves(locator: ServiceLocator) -> None:
    assert locator.get(_chain(locator, 200)) == 199


def test_a_chain_past_the_depth_limit_is_a_clear_error_not_a_recursion_error(locator: ServiceLocator) -> None:
    top = _chain(locator, 1_000)
    with pytest.raises(
        RuntimeError, match=r"starting at 's999' reached 201 levels \(the limit is 200\)"
    ) as caught:
        locator.get(top)
    assert not isinstance(caught.value, RecursionError)
    assert locator.stats()["cached"] == 0
    assert locator.get("s150") == 150, "the locator still works"


@pytest.mark.parametrize("interrupt", ["close", "restore", "clear_cache"])
def test_an_instance_whose_construction_spans_a_reset_is_not_cached(
    locator: ServiceLocator, interrupt: str
) -> None:
    entered, resume = threading.Event(), threading.Event()

    def slow() -> Resource:
        entered.set()
        resume.wait(60)
        return Resource("slow")

    locator.register("slow", slow)
    baseline = locator.checkpoint()  # "slow" stays registered across a restore
    got: list[Resource] = []
    builder = threading.Thread(target=lambda: got.append(locator.get("slow")))
    builder.start()
    assert entered.wait(60)
    if interrupt == "restore":
        locator.restore(baseline)
    else:
        getattr(locator, interrupt)()
    resume.set()
    builder.join(60)
    assert got, "the caller still gets what it asked for"
    entered.clear()
    resume.set()
    assert locator.get("slow") is not got[0], "but it is not cached past the reset"


def test_pickling_a_locator_says_locators_are_per_process(locator: ServiceLocator) -> None:
    for subject in (locator, get_locator()):
        with pytest.raises(
            TypeError, match=r"^a ServiceLocator cannot be pickled: locators are per process"
        ) as caught:
            pickle.dumps(subject)
        assert "\n" not in str(caught.value)


def test_a_host_name_longer_than_any_real_one_is_cut_to_255_characters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: "h" * 300)
    assert ServiceLocator().snapshot()["host"] == "h" * 255
