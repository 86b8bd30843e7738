"""The peers, each set up the fastest way its documentation shows, for the scenarios they have.

Each builder returns `(namespace, cases)`: the objects the statements use, and
a list of `(label, statement, setup, note)` to time. A peer without an
equivalent of a scenario is listed in `NO_EQUIVALENT` with the reason, which
the results file and the Performance page carry.

How each peer is used, and where its docs say so:

- svcs: a `Registry` with `register_factory`, one `Container` per request or
  test, `container.get(T)` (docs: core concepts). A factory that takes the
  container gets its own dependencies from it.
- dependency-injector: a `DeclarativeContainer` of `providers.Singleton`;
  calling the provider itself is its cheapest documented call (docs:
  providers, singleton). `with provider.override(value):` restores on exit.
- wireup: `@injectable` classes in `create_sync_container`, `container.get(T)`;
  `with container.override.injectable(T, new=value):` (docs: testing).
- lagom: explicit definitions, which its docs call the faster way
  (docs: explicit_definitions); `Singleton(...)` for cached services.
- dishka: a `Provider` with `provide(..., scope=Scope.APP)`, `make_container`;
  `lock_factory=None` is the documented way to drop the per-get lock when no
  other scope runs concurrently (docs: container, thread/task safety).
- that-depends: `BaseContainer` with `providers.Singleton`, `resolve_sync()`;
  `override_context_sync(value)` restores on exit (docs: testing).
- punq: `Container.register(T, instance=...)` or `scope=Scope.singleton`,
  `resolve(T)`; `child()` for a test's own registrations (docs: README).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from typing import Any

PEERS = ("svcs", "dependency-injector", "wireup", "lagom", "dishka", "that-depends", "punq")

Case = tuple[str, str, str, str]


def versions() -> dict[str, str | None]:
    """Return the installed version of each peer, `None` where one is missing."""
    found: dict[str, str | None] = {}
    for name in PEERS:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


class Service:
    """A cached service."""

    def __init__(self) -> None:
        self.value = 1


class Leaf:
    """The end of the 3-deep chain."""


class Middle:
    """The middle of the chain."""

    def __init__(self, leaf: Leaf) -> None:
        self.leaf = leaf


class Top:
    """The service asked for: Top(Middle(Leaf()))."""

    def __init__(self, middle: Middle) -> None:
        self.middle = middle


NO_EQUIVALENT: dict[str, dict[str, str]] = {
    "override": {
        "svcs": "no restoring override: its docs overwrite the registry and close the container",
        "dishka": "containers are immutable: a test builds a new container with an overriding provider",
    },
    "isolation": {
        "wireup": "no per-test reset of singletons; overrides restore, cached singletons stay",
        "that-depends": "no reset of every singleton at once (tear_down per provider)",
        "punq": "no reset; a test uses a child container",
        "lagom": "no reset; a test uses clone(), timed under override",
        "dishka": "a test builds a new container, whose cost grows with the providers",
    },
    "eviction": dict.fromkeys(PEERS, "no bounded cache: every singleton stays until its container goes"),
    "lazy_proxy": dict.fromkeys(PEERS, "no lazy attribute proxy"),
    "snapshot": dict.fromkeys(PEERS, "no picture of the cache for diagnosis (svcs has health pings only)"),
}


def cached_get() -> tuple[dict[str, Any], list[Case]]:
    """Return the peers' cached-singleton lookups."""
    import dishka
    import lagom
    import punq
    import svcs
    import that_depends
    import wireup
    from dependency_injector import containers, providers

    registry = svcs.Registry()
    registry.register_factory(Service, Service)
    svcs_container = svcs.Container(registry)

    class DIContainer(containers.DeclarativeContainer):
        svc = providers.Singleton(Service)

    di = DIContainer()
    di_provider = di.svc

    wired = wireup.create_sync_container(injectables=[wireup.injectable(Service)])

    lagom_container = lagom.Container()
    lagom_container[Service] = lagom.Singleton(Service)

    provider = dishka.Provider()
    provider.provide(Service, scope=dishka.Scope.APP)
    dishka_unlocked = dishka.make_container(provider, lock_factory=None)
    dishka_locked = dishka.make_container(provider)

    class TDContainer(that_depends.BaseContainer):
        svc = that_depends.providers.Singleton(Service)

    punq_container = punq.Container()
    punq_container.register(Service, instance=Service())

    namespace = {
        "Service": Service,
        "svcs_container": svcs_container,
        "di": di,
        "di_provider": di_provider,
        "wired": wired,
        "lagom_container": lagom_container,
        "dishka_unlocked": dishka_unlocked,
        "dishka_locked": dishka_locked,
        "TDContainer": TDContainer,
        "punq_container": punq_container,
    }
    warm_ups: tuple[Callable[[], object], ...] = (
        lambda: svcs_container.get(Service),
        di_provider,
        lambda: wired.get(Service),
        lambda: lagom_container[Service],
        lambda: dishka_unlocked.get(Service),
        lambda: dishka_locked.get(Service),
        TDContainer.svc.resolve_sync,
        lambda: punq_container.resolve(Service),
    )
    for warm in warm_ups:
        assert warm() is warm()
    cases: list[Case] = [
        ("svcs Container.get", "svcs_container.get(Service)", "", ""),
        ("dependency-injector provider()", "di_provider()", "", "the provider called directly"),
        ("dependency-injector container.svc()", "di.svc()", "", ""),
        ("wireup container.get", "wired.get(Service)", "", ""),
        ("lagom container[T] (Singleton)", "lagom_container[Service]", "", ""),
        ("dishka get, lock_factory=None", "dishka_unlocked.get(Service)", "", "no lock: one thread only"),
        ("dishka get, default lock", "dishka_locked.get(Service)", "", ""),
        ("that-depends resolve_sync", "TDContainer.svc.resolve_sync()", "", ""),
        ("punq resolve (instance)", "punq_container.resolve(Service)", "", ""),
    ]
    return namespace, cases


def cold_chain() -> tuple[dict[str, Any], list[Case]]:
    """Return each peer building Top(Middle(Leaf())) from nothing cached."""
    import dishka
    import lagom
    import punq
    import svcs
    import that_depends
    import wireup
    from dependency_injector import containers, providers

    registry = svcs.Registry()
    registry.register_factory(Leaf, Leaf)
    registry.register_factory(Middle, lambda svcs_container: Middle(svcs_container.get(Leaf)))
    registry.register_factory(Top, lambda svcs_container: Top(svcs_container.get(Middle)))

    class DIChain(containers.DeclarativeContainer):
        leaf = providers.Factory(Leaf)
        middle = providers.Factory(Middle, leaf=leaf)
        top = providers.Factory(Top, middle=middle)

    di = DIChain()

    wired = wireup.create_sync_container(
        injectables=[wireup.injectable(cls, lifetime="transient") for cls in (Leaf, Middle, Top)]
    )

    lagom_container = lagom.Container()
    lagom_container[Leaf] = Leaf
    lagom_container[Middle] = lambda c: Middle(c[Leaf])
    lagom_container[Top] = lambda c: Top(c[Middle])

    provider = dishka.Provider(scope=dishka.Scope.APP)
    for cls in (Leaf, Middle, Top):
        provider.provide(cls, cache=False)
    dishka_container = dishka.make_container(provider, lock_factory=None)

    class TDChain(that_depends.BaseContainer):
        leaf = that_depends.providers.Factory(Leaf)
        middle = that_depends.providers.Factory(Middle, leaf=leaf.cast)
        top = that_depends.providers.Factory(Top, middle=middle.cast)

    punq_container = punq.Container()
    punq_container.register(Leaf)
    punq_container.register(Middle)
    punq_container.register(Top)

    namespace = {
        "svcs": svcs,
        "registry": registry,
        "Top": Top,
        "di": di,
        "wired": wired,
        "lagom_container": lagom_container,
        "dishka_container": dishka_container,
        "TDChain": TDChain,
        "punq_container": punq_container,
    }
    with wired.enter_scope() as scope:
        first = scope.get(Top)
    for built in (
        svcs.Container(registry).get(Top),
        di.top(),
        first,
        lagom_container[Top],
        dishka_container.get(Top),
        TDChain.top.resolve_sync(),
        punq_container.resolve(Top),
    ):
        assert isinstance(built.middle.leaf, Leaf)
    cases: list[Case] = [
        (
            "svcs fresh Container().get",
            "svcs.Container(registry).get(Top)",
            "",
            "a new container: nothing cached",
        ),
        ("dependency-injector Factory chain", "di.top()", "", ""),
        (
            "wireup transient chain in a scope",
            "scope.get(Top)",
            "_cm = wired.enter_scope()\nscope = _cm.__enter__()",
            "one scope open",
        ),
        ("lagom explicit definitions", "lagom_container[Top]", "", ""),
        ("dishka cache=False chain", "dishka_container.get(Top)", "", "lock_factory=None"),
        ("that-depends Factory chain", "TDChain.top.resolve_sync()", "", ""),
        ("punq transient chain", "punq_container.resolve(Top)", "", "autowired from type hints"),
    ]
    return namespace, cases


def override(registrations: int) -> tuple[dict[str, Any], list[Case]]:
    """Return each peer's restoring override of one service among `registrations` others."""
    import lagom
    import punq
    import that_depends
    import wireup
    from dependency_injector import containers, providers

    fillers = [type(f"Filler{i}", (), {}) for i in range(registrations)]

    di = containers.DynamicContainer()
    for index in range(registrations):
        setattr(di, f"filler{index}", providers.Singleton(object))
    di.target = providers.Singleton(Service)

    wired = wireup.create_sync_container(injectables=[wireup.injectable(cls) for cls in (*fillers, Service)])

    td_attrs: dict[str, Any] = {
        f"filler{i}": that_depends.providers.Singleton(object) for i in range(registrations)
    }
    td_attrs["target"] = that_depends.providers.Singleton(Service)
    td_container = type("TDOverride", (that_depends.BaseContainer,), td_attrs)

    lagom_container = lagom.Container()
    for cls in fillers:
        lagom_container[cls] = cls
    lagom_container[Service] = Service

    punq_container = punq.Container()
    for cls in fillers:
        punq_container.register(cls)
    punq_container.register(Service)

    namespace = {
        "Service": Service,
        "replacement": Service(),
        "di": di,
        "wired": wired,
        "td_container": td_container,
        "lagom_container": lagom_container,
        "punq_container": punq_container,
    }
    cases: list[Case] = [
        ("dependency-injector provider.override", "with di.target.override(replacement):\n    pass", "", ""),
        (
            "wireup override.injectable",
            "with wired.override.injectable(Service, new=replacement):\n    pass",
            "",
            "",
        ),
        (
            "that-depends override_context_sync",
            "with td_container.target.override_context_sync(replacement):\n    pass",
            "",
            "",
        ),
        (
            "lagom clone() + define",
            "lagom_container.clone()[Service] = replacement",
            "",
            "no exit needed: drop the clone",
        ),
        (
            "punq child() + register",
            "punq_container.child().register(Service, instance=replacement)",
            "",
            "no exit needed: drop the child",
        ),
    ]
    return namespace, cases


def isolation(registrations: int) -> tuple[dict[str, Any], list[Case]]:
    """Return the peers' per-test reset: what a test suite would run between tests."""
    import svcs
    from dependency_injector import containers, providers

    registry = svcs.Registry()
    for index in range(registrations):
        registry.register_factory(type(f"Filler{index}", (), {}), object)
    registry.register_factory(Service, Service)

    di = containers.DynamicContainer()
    for index in range(registrations):
        setattr(di, f"filler{index}", providers.Singleton(object))
    di.target = providers.Singleton(Service)

    namespace = {"svcs": svcs, "registry": registry, "Service": Service, "di": di}
    cases: list[Case] = [
        (
            "svcs new Container per test, get, close",
            "container = svcs.Container(registry)\ncontainer.get(Service)\ncontainer.close()",
            "",
            "",
        ),
        ("dependency-injector get, reset_singletons()", "di.target()\ndi.reset_singletons()", "", ""),
    ]
    return namespace, cases
