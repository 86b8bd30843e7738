"""LazyProxy: deferred, created once even under threads, failures not cached, repr never creates."""

from __future__ import annotations

import copy
import pickle
import threading
import time
from collections.abc import Iterator

import pytest

from worker_locator import LazyProxy

THREADS = 32


class Target:
    def __init__(self) -> None:
        self.value = 1
        self.items = {"a": 1}

    def method(self) -> str:
        return "called"

    def __call__(self, x: int) -> int:
        return x * 2

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[str]:
        return iter(self.items)

    def __contains__(self, item: object) -> bool:
        return item in self.items

    def __getitem__(self, key: str) -> int:
        return self.items[key]

    def __setitem__(self, key: str, value: int) -> None:
        self.items[key] = value

    def __delitem__(self, key: str) -> None:
        del self.items[key]

    def __enter__(self) -> str:
        return "entered"

    def __exit__(self, *exc: object) -> None:
        self.value = -1


def _counting() -> tuple[LazyProxy[Target], list[Target]]:
    built: list[Target] = []

    def factory() -> Target:
        built.append(Target())
        return built[-1]

    return LazyProxy(factory), built


def test_creation_waits_for_the_first_attribute_access() -> None:
    proxy, built = _counting()
    assert built == []
    assert proxy.method() == "called"
    assert len(built) == 1
    assert proxy.value == 1
    assert len(built) == 1


def test_repr_never_creates() -> None:
    proxy, built = _counting()
    assert repr(proxy) == "<LazyProxy of _counting.<locals>.factory, not created>"
    assert built == []
    proxy.value  # noqa: B018 - the access is the point
    assert repr(proxy).startswith("<LazyProxy of <tests.unit.test_lazy_proxy.Target object")


class _CountingLock:
    """A lock that knows how many threads are waiting to take it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._guard = threading.Lock()
        self.waiting = 0

    def __enter__(self) -> None:
        with self._guard:
            self.waiting += 1
        self._lock.acquire()
        with self._guard:
            self.waiting -= 1

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def test_32_threads_create_it_once() -> None:
    """A real race: the first build lasts until every other thread is inside the proxy.

    The factory returns only once the 31 other threads are all either waiting
    for the proxy's lock or building too. An unlocked proxy, or one that does
    not check again once it holds the lock, then builds 32 times, every time.
    """
    builders: list[int] = []
    lock = _CountingLock()

    def factory() -> Target:
        builders.append(threading.get_ident())
        deadline = time.monotonic() + 60  # reached only by a broken proxy that deadlocks
        while lock.waiting < THREADS - len(builders) and time.monotonic() < deadline:
            time.sleep(0.001)
        return Target()

    proxy = LazyProxy(factory)
    object.__setattr__(proxy, "_lazy_lock", lock)
    barrier = threading.Barrier(THREADS)
    seen: list[int] = []

    def use() -> None:
        barrier.wait()
        seen.append(proxy.value)

    threads = [threading.Thread(target=use) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert seen == [1] * THREADS
    assert len(builders) == 1


def test_a_failed_creation_is_not_cached() -> None:
    attempts: list[int] = []

    def flaky() -> Target:
        attempts.append(1)
        if len(attempts) == 1:
            msg = "not yet"
            raise ConnectionError(msg)
        return Target()

    proxy = LazyProxy(flaky)
    with pytest.raises(ConnectionError, match="not yet"):
        proxy.value  # noqa: B018 - the access is the point
    assert repr(proxy).endswith("not created>")
    assert proxy.value == 1
    assert len(attempts) == 2


def test_operations_reach_the_target() -> None:
    proxy, built = _counting()
    proxy.value = 5
    assert built[0].value == 5
    assert proxy(21) == 42
    assert len(proxy) == 1
    assert list(proxy) == ["a"]
    assert "a" in proxy
    proxy["b"] = 2
    assert proxy["b"] == 2
    del proxy["b"]
    assert "b" not in built[0].items
    with proxy as entered:
        assert entered == "entered"
    assert built[0].value == -1
    del proxy.value
    assert not hasattr(built[0], "value")


def test_a_factory_must_be_callable() -> None:
    with pytest.raises(TypeError, match="LazyProxy needs a zero-argument callable, got int"):
        LazyProxy(42)  # type: ignore[arg-type]


def test_copying_a_proxy_copies_what_it_stands_for_and_pickling_is_refused() -> None:
    proxy, built = _counting()
    clone: object = copy.copy(proxy)
    deep = copy.deepcopy(proxy)
    assert type(clone) is Target
    assert clone is not built[0]
    assert deep.items == built[0].items
    assert deep.items is not built[0].items
    with pytest.raises(TypeError, match="a LazyProxy cannot be pickled"):
        pickle.dumps(proxy)


def test_a_single_underscore_attribute_of_the_target_is_reached_too() -> None:
    target = Target()
    target._private = "mine"  # type: ignore[attr-defined]
    proxy = LazyProxy(lambda: target)
    assert proxy._private == "mine"
