"""LazyProxy: deferred, created once even under threads, failures not cached, repr never creates."""

from __future__ import annotations

import copy
import pickle
import threading
import time
from collections.abc import Iterator

import pytest

from worker_locator import LazyProxy, _lazy

THREADS = 32


@pytest.fixture(name="fresh_forwarding")
def _fresh_forwarding() -> Iterator[None]:
    """Start the test with no forwarding properties on `LazyProxy`, and end it so too."""

    def remove_all() -> None:
        for name in list(_lazy._forwarding):
            delattr(LazyProxy, name)
            _lazy._forwarding.discard(name)

    remove_all()
    yield
    remove_all()


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


@pytest.mark.usefixtures("fresh_forwarding")
@pytest.mark.parametrize("path", ["hook", "forwarding property"])
def test_32_threads_create_it_once(path: str) -> None:
    """A real race: the first build lasts until every other thread is inside the proxy.

    The factory returns only once the 31 other threads are all either waiting
    for the proxy's lock or building too. An unlocked proxy, or one that does
    not check again once it holds the lock, then builds 32 times, every time.
    The first read of `value` goes through `__getattr__` or, once some proxy
    has read `value`, through its forwarding property: both are raced.
    """
    if path == "forwarding property":
        assert LazyProxy(Target).value == 1
        assert isinstance(vars(LazyProxy).get("value"), property)
    else:
        assert "value" not in vars(LazyProxy)
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


@pytest.mark.usefixtures("fresh_forwarding")
def test_a_name_read_once_is_then_forwarded_by_a_property_for_every_proxy() -> None:
    first, second = LazyProxy(Target), LazyProxy(lambda: {"a": 1})
    assert "method" not in vars(LazyProxy)
    assert first.method() == "called"
    assert isinstance(vars(LazyProxy)["method"], property)
    assert first.method() == "called"
    assert LazyProxy(Target).method() == "called"  # a proxy not built yet is built by the property
    assert not hasattr(second, "method")
    with pytest.raises(AttributeError, match="'dict' object has no attribute 'method'"):
        second.method  # noqa: B018 - the access is the point
    assert second.get("a") == 1


class _Failing:
    def __init__(self) -> None:
        self.reads = 0

    @property
    def broken(self) -> int:
        self.reads += 1
        msg = "broken inside"
        raise AttributeError(msg)

    @property
    def working(self) -> int:
        self.reads += 1
        return 1


@pytest.mark.usefixtures("fresh_forwarding")
def test_an_attribute_that_raises_attribute_error_is_read_once_per_access() -> None:
    """A forwarding property that fails hands its error to `__getattr__`, which must not read again."""
    target = _Failing()
    proxy = LazyProxy(lambda: target)
    assert proxy.working == 1
    assert proxy.working == 1
    assert target.reads == 2
    target.reads = 0
    other = LazyProxy(type("Plain", (), {"broken": 2}))
    assert other.broken == 2  # `broken` is forwarded by a property from now on
    assert isinstance(vars(LazyProxy)["broken"], property)
    for reads in (1, 2, 3):
        with pytest.raises(AttributeError, match="broken inside"):
            proxy.broken  # noqa: B018 - the access is the point
        assert target.reads == reads
    assert not hasattr(proxy, "broken")
    assert target.reads == 4


@pytest.mark.usefixtures("fresh_forwarding")
def test_a_factory_that_raises_attribute_error_runs_once_per_access() -> None:
    attempts: list[int] = []

    def factory() -> Target:
        attempts.append(1)
        msg = "no settings yet"
        raise AttributeError(msg)

    assert LazyProxy(Target).value == 1  # `value` is forwarded by a property from now on
    proxy = LazyProxy(factory)
    for count in (1, 2):
        with pytest.raises(AttributeError, match="no settings yet"):
            proxy.value  # noqa: B018 - the access is the point
        assert len(attempts) == count


@pytest.mark.usefixtures("fresh_forwarding")
def test_dunder_names_and_the_proxy_s_own_names_keep_the_hook() -> None:
    def greet() -> str:
        return "hi"

    proxy = LazyProxy(lambda: greet)
    assert proxy.__name__ == "greet"
    assert proxy.__qualname__.endswith("greet")
    assert getattr(proxy, "not-an-identifier", "absent") == "absent"
    assert _lazy._forwarding == set()
    slot = vars(LazyProxy)["_lazy_target"]
    _lazy._forward("_lazy_target")  # a name of the proxy's own is never replaced by a property
    assert vars(LazyProxy)["_lazy_target"] is slot
    assert _lazy._forwarding == set()


@pytest.mark.usefixtures("fresh_forwarding")
def test_forwarding_properties_stop_at_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the limit, names keep the hook: every new property changes the class (see `_lazy.py`)."""
    monkeypatch.setattr(_lazy, "_MAX_FORWARDED", 2)
    target = type("Many", (), {f"name_{n}": n for n in range(4)})()
    proxy = LazyProxy(lambda: target)
    assert [getattr(proxy, f"name_{n}") for n in range(4)] == [0, 1, 2, 3]
    assert _lazy._forwarding == {"name_0", "name_1"}
    assert "name_2" not in vars(LazyProxy)


@pytest.mark.usefixtures("fresh_forwarding")
def test_a_half_built_proxy_fails_plainly_through_a_forwarding_property() -> None:
    assert LazyProxy(Target).value == 1
    half_built = LazyProxy.__new__(LazyProxy)
    with pytest.raises(AttributeError, match="_lazy_target"):
        half_built.value  # noqa: B018 - the access is the point
