"""The in-process scenarios: worker-locator, the floors and the peers, timed in one process each.

Each scenario returns a dict with `cases` (every timed case, ns per call by
CPU and wall) and `figures` (the ratios the goals in `goals.py` check). Only
the public API of worker-locator is used, so the scenarios can be rerun
unchanged on any later version of the core.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import re
import sys
from collections.abc import Callable
from typing import Any

import _miss_floors
import _peers
from _peers import Service
from _timing import Timing, measure, measure_many
from worker_locator import LazyProxy, ServiceLocator

Result = dict[str, Any]

FULL_SIZES = (10, 1_000, 10_000, 50_000, 100_000)
QUICK_SIZES = (10, 10_000, 100_000)
PEER_SIZES = (10, 1_000)


_RAW = {Service: Service()}


def raw(key: type[Service]) -> Service:
    """Look a key up in a module-level dict: the floor every lookup is compared with."""
    return _RAW[key]


@functools.cache
def cached() -> Service:
    """Return a `functools.cache`d instance: the standard library's memoised singleton."""
    return Service()


def _filled(registrations: int, **options: Any) -> ServiceLocator:
    locator = ServiceLocator(**options)
    for index in range(registrations):
        locator.register(f"filler{index}", object)
    return locator


def _timings(namespace: dict[str, Any], cases: list[_peers.Case], quick: bool) -> list[Timing]:  # noqa: FBT001 - internal helper
    return measure_many(cases, namespace, quick=quick)


def _result(timings: list[Timing], figures: dict[str, Any], **extra: Any) -> Result:
    return {"cases": [t.as_dict() for t in timings], "figures": figures, **extra}


def _by_label(timings: list[Timing]) -> dict[str, Timing]:
    return {t.label: t for t in timings}


def cached_get(quick: bool) -> Result:  # noqa: FBT001 - scenarios share one signature
    """Time a cached `get` against the floors and each peer's cached singleton."""
    locator = ServiceLocator()
    locator.register(Service, Service)
    counting = ServiceLocator(count_hits=True)
    counting.register(Service, Service)
    assert locator.get(Service) is locator.get(Service)
    assert counting.get(Service) is counting.get(Service)
    assert cached() is cached()
    namespace: dict[str, Any] = {
        "raw": raw,
        "cached": cached,
        "Service": Service,
        "locator": locator,
        "counting": counting,
        "getpid": os.getpid,
    }
    ours: list[_peers.Case] = [
        ("raw dict lookup in a function", "raw(Service)", "", "the floor"),
        ("functools.cache call", "cached()", "", "the floor"),
        ("worker-locator get", "locator.get(Service)", "", ""),
        (
            "worker-locator get, count_hits=True",
            "counting.get(Service)",
            "",
            "exact hit counts, opt-in (the plugin: locator_count_hits)",
        ),
        ("os.getpid()", "getpid()", "", "what a per-call pid check would add to every get"),
    ]
    peer_namespace, peer_cases = _peers.cached_get()
    timings = _timings({**namespace, **peer_namespace}, ours + peer_cases, quick)
    by = _by_label(timings)
    floor = by["raw dict lookup in a function"]
    figures = {
        "get_cpu_ratio": by["worker-locator get"].cpu_ns / floor.cpu_ns,
        "get_wall_ratio": by["worker-locator get"].wall_ns / floor.wall_ns,
        "count_hits_cpu_ratio": by["worker-locator get, count_hits=True"].cpu_ns / floor.cpu_ns,
    }
    return _result(timings, figures, baseline="raw dict lookup in a function")


def _chain_locator() -> ServiceLocator:
    locator = ServiceLocator()
    locator.register(_peers.Leaf, _peers.Leaf)
    locator.register(_peers.Middle, lambda: _peers.Middle(locator.get(_peers.Leaf)))
    locator.register(_peers.Top, lambda: _peers.Top(locator.get(_peers.Middle)))
    return locator


def _floor_chain(floor: _miss_floors.FloorLocator) -> None:
    floor.register(_peers.Leaf, _peers.Leaf)
    floor.register(_peers.Middle, lambda: _peers.Middle(floor.get(_peers.Leaf)))
    floor.register(_peers.Top, lambda: _peers.Top(floor.get(_peers.Middle)))


def cold_chain(quick: bool) -> Result:  # noqa: FBT001 - as above
    """Time building Top(Middle(Leaf())) with nothing cached."""
    locator = _chain_locator()
    assert isinstance(locator.get(_peers.Top).middle.leaf, _peers.Leaf)

    def by_hand() -> _peers.Top:
        return _peers.Top(_peers.Middle(_peers.Leaf()))

    namespace: dict[str, Any] = {"locator": locator, "Top": _peers.Top, "by_hand": by_hand}
    ours: list[_peers.Case] = [
        ("constructors called by hand", "by_hand()", "", "the floor"),
        (
            "worker-locator clear_cache() + get",
            "locator.clear_cache()\nlocator.get(Top)",
            "",
            "three factories, each calling get",
        ),
    ]
    floor_namespace, floor_cases = _miss_floors.chain_cases(_peers.Top, _floor_chain)
    peer_namespace, peer_cases = _peers.cold_chain()
    timings = _timings(
        {**namespace, **floor_namespace, **peer_namespace}, ours + floor_cases + peer_cases, quick
    )
    by = _by_label(timings)
    svcs = by["svcs fresh Container().get"]
    figures = {
        "vs_svcs_cpu_ratio": by["worker-locator clear_cache() + get"].cpu_ns / svcs.cpu_ns,
        "ours_cpu_us": by["worker-locator clear_cache() + get"].cpu_ns / 1000,
        "floors_vs_svcs_cpu_ratio": {label: by[label].cpu_ns / svcs.cpu_ns for label, *_ in floor_cases},
    }
    return _result(timings, figures, baseline="constructors called by hand")


def _sized(
    quick: bool,  # noqa: FBT001 - as above
    label: str,
    build: Callable[[int], tuple[dict[str, Any], str]],
    peers: Callable[[int], tuple[dict[str, Any], list[_peers.Case]]],
) -> tuple[list[Timing], dict[str, float]]:
    sizes = QUICK_SIZES if quick else FULL_SIZES
    namespace: dict[str, Any] = {}
    cases: list[_peers.Case] = []
    for size in sizes:  # every size in one namespace, timed in interleaved rounds
        built, stmt = build(size)
        namespace.update({f"{name}_{size}": value for name, value in built.items()})
        for name in built:
            stmt = re.sub(rf"\b{name}\b", f"{name}_{size}", stmt)
        cases.append((f"{label} at {size:,}", stmt, "", f"registrations={size}"))
    timings = measure_many(cases, namespace, quick=quick)
    per_size = {str(size): timing.cpu_ns for size, timing in zip(sizes, timings, strict=True)}
    if not quick:
        for size in PEER_SIZES:
            peer_namespace, peer_cases = peers(size)
            relabelled = [
                (
                    f"{case_label} at {size:,}",
                    stmt,
                    setup,
                    f"registrations={size}" + (f"; {note}" if note else ""),
                )
                for case_label, stmt, setup, note in peer_cases
            ]
            timings += measure_many(relabelled, peer_namespace, quick=quick)
    return timings, per_size


def override(quick: bool) -> Result:  # noqa: FBT001 - as above
    """Time `override` enter+exit among 10 to 100,000 registrations, one cached dependent."""

    def build(size: int) -> tuple[dict[str, Any], str]:
        locator = _filled(size)
        locator.register("target", Service)
        locator.register("dependent", lambda: ("built from", locator.get("target")))
        locator.get("dependent")
        return {"locator": locator, "replacement": Service()}, (
            'with locator.override("target", replacement):\n    pass'
        )

    timings, per_size = _sized(quick, "worker-locator override enter+exit", build, _peers.override)
    sizes = sorted(per_size, key=int)
    figures = {
        "cpu_us_by_registrations": {k: v / 1000 for k, v in per_size.items()},
        "largest_to_smallest": per_size[sizes[-1]] / per_size[sizes[0]],
    }
    return _result(timings, figures)


def isolation(quick: bool) -> Result:  # noqa: FBT001 - as above
    """Time one test's worth of change plus `restore(checkpoint)`, as the plugin runs it per test."""

    def build(size: int) -> tuple[dict[str, Any], str]:
        locator = _filled(size)
        locator.register(Service, Service)
        baseline = locator.checkpoint()
        return {"locator": locator, "baseline": baseline, "Service": Service}, (
            'locator.register("made by the test", object)\nlocator.get(Service)\nlocator.restore(baseline)'
        )

    timings, per_size = _sized(quick, "worker-locator register+get+restore", build, _peers.isolation)
    sizes = sorted(per_size, key=int)
    figures = {
        "cpu_us_by_registrations": {k: v / 1000 for k, v in per_size.items()},
        "largest_to_smallest": per_size[sizes[-1]] / per_size[sizes[0]],
    }
    return _result(timings, figures)


def eviction(quick: bool) -> Result:  # noqa: FBT001 - as above
    """Time `get` with max_cached=50 while 1,000 keys cycle, against `functools.lru_cache(50)`."""
    keys = [f"key{i}" for i in range(1_000)]
    locator = ServiceLocator(max_cached=50)
    for key in keys:
        locator.register(key, object)
    lru = functools.lru_cache(maxsize=50)(lambda _key: object())
    namespace: dict[str, Any] = {
        "locator": locator,
        "lru": lru,
        "ours_keys": itertools.cycle(keys),
        "lru_keys": itertools.cycle(keys),
        "plain_keys": itertools.cycle(keys),
    }
    cases: list[_peers.Case] = [
        ("next() on the key cycle alone", "next(plain_keys)", "", "the loop's own cost"),
        ("functools.lru_cache(50) on the cycle", "lru(next(lru_keys))", "", "every call a miss"),
        (
            "worker-locator get, max_cached=50",
            "locator.get(next(ours_keys))",
            "",
            "every call a miss and an eviction",
        ),
    ]
    floor_namespace, floor_cases = _miss_floors.churn_cases(keys, 50)
    namespace.update(floor_namespace)
    cases += floor_cases
    timings = _timings(namespace, cases, quick)
    by = _by_label(timings)
    stats = locator.stats()
    lru_timing = by["functools.lru_cache(50) on the cycle"]
    figures = {
        "vs_lru_cpu_ratio": by["worker-locator get, max_cached=50"].cpu_ns / lru_timing.cpu_ns,
        "floors_vs_lru_cpu_ratio": {label: by[label].cpu_ns / lru_timing.cpu_ns for label, *_ in floor_cases},
        "ours_cpu_us": by["worker-locator get, max_cached=50"].cpu_ns / 1000,
        "evictions": stats["evictions"],
        "cached_at_end": stats["cached"],
    }
    return _result(timings, figures, baseline="functools.lru_cache(50) on the cycle")


class _MinimalProxy:
    """The least a Python `__getattr__` proxy can do: forward to a ready target."""

    __slots__ = ("_target",)

    def __init__(self, target: object) -> None:
        object.__setattr__(self, "_target", target)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


class _GetattributeProxy:
    """A proxy that forwards in `__getattribute__`, so no failed lookup comes first."""

    __slots__ = ("_target",)

    def __init__(self, target: object) -> None:
        object.__setattr__(self, "_target", target)

    def __getattribute__(self, name: str) -> Any:
        return getattr(object.__getattribute__(self, "_target"), name)


class _PropertyProxy:
    """Not a proxy: one property that reads the attribute of a ready target, the cheapest Python hook."""

    __slots__ = ("_target",)

    def __init__(self, target: Service) -> None:
        self._target = target

    @property
    def value(self) -> int:
        """The target's `value`, through one Python-level call."""
        return self._target.value


class _HookedPropertyProxy(_PropertyProxy):
    """`_PropertyProxy` with `_MinimalProxy`'s `__getattr__`, which a proxy for every name must have."""

    __slots__ = ()
    __getattr__ = _MinimalProxy.__getattr__


def lazy_proxy(quick: bool) -> Result:  # noqa: FBT001 - as above
    """Time an attribute read through a created `LazyProxy` against a plain attribute."""
    target = Service()
    proxy = LazyProxy(lambda: target)
    assert proxy.value == 1
    namespace: dict[str, Any] = {
        "target": target,
        "proxy": proxy,
        "minimal": _MinimalProxy(target),
        "forwarding": _GetattributeProxy(target),
        "by_property": _PropertyProxy(target),
        "hooked_property": _HookedPropertyProxy(target),
    }
    cases: list[_peers.Case] = [
        ("plain attribute", "target.value", "", "the floor"),
        ("minimal __getattr__ proxy", "minimal.value", "", "the least a pure-Python proxy costs"),
        ("minimal __getattribute__ proxy", "forwarding.value", "", "forwards first, no failed lookup"),
        ("a property reading the target's attribute", "by_property.value", "", "one Python call, no proxy"),
        (
            "the same property beside __getattr__",
            "hooked_property.value",
            "",
            "the floor of a proxy for every name",
        ),
        ("LazyProxy attribute (created)", "proxy.value", "", ""),
    ]
    timings = _timings(namespace, cases, quick)
    by = _by_label(timings)
    plain = by["plain attribute"]
    figures = {
        "python": sys.version.split()[0],
        "cpu_ratio": by["LazyProxy attribute (created)"].cpu_ns / plain.cpu_ns,
        "minimal_proxy_cpu_ratio": by["minimal __getattr__ proxy"].cpu_ns / plain.cpu_ns,
        "getattribute_proxy_cpu_ratio": by["minimal __getattribute__ proxy"].cpu_ns / plain.cpu_ns,
        "property_cpu_ratio": by["a property reading the target's attribute"].cpu_ns / plain.cpu_ns,
        "hooked_property_cpu_ratio": by["the same property beside __getattr__"].cpu_ns / plain.cpu_ns,
    }
    return _result(timings, figures, baseline="plain attribute")


def snapshot(quick: bool) -> Result:  # noqa: FBT001 - as above
    """Time `snapshot()` (and its JSON text) with 50 cached services among 10 and 100,000 registered."""
    timings: list[Timing] = []
    figures: dict[str, Any] = {}
    for size in (10, 100_000):
        locator = _filled(size, max_cached=None)
        for index in range(min(size, 50)):
            locator.get(f"filler{index}")
        namespace: dict[str, Any] = {"locator": locator, "dumps": json.dumps}
        label = f"snapshot() with {min(size, 50)} cached, {size:,} registered"
        timings.append(measure(label, "locator.snapshot()", namespace, quick=quick))
        timings.append(measure(label + ", as JSON", "dumps(locator.snapshot())", namespace, quick=quick))
        figures[f"cpu_us_at_{size}"] = timings[-2].cpu_ns / 1000
    return _result(timings, figures)


SCENARIOS: dict[str, Callable[[bool], Result]] = {
    "cached_get": cached_get,
    "cold_chain": cold_chain,
    "override": override,
    "isolation": isolation,
    "eviction": eviction,
    "lazy_proxy": lazy_proxy,
    "snapshot": snapshot,
}
