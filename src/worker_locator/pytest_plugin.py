"""The pytest plugin: every test starts from the same default locator, in every worker.

Installing worker-locator activates it through the `pytest11` entry point,
under the name `worker_locator`; `-p no:worker_locator` turns it off. It
works with pytest-xdist, without it and with `-p no:xdist`.

**Isolation.** Before the first test, the plugin takes a checkpoint of the
default locator (`worker_locator.get_locator()`): registrations made while
conftest files and test modules were imported are the baseline. After each
isolation unit it calls `restore` with that checkpoint, which drops the
registrations made since, discards `override` blocks that were never exited
and closes the cached instances, including ones a test mutated. Services
registered with `keep_between_tests=True` stay cached. Registrations made by a
fixture whose scope is wider than the unit (a session fixture, under
per-test isolation) join the baseline until that fixture is torn down; the
instances such a fixture gets from the locator are closed at the end of the
unit like any other, unless their service keeps them between tests. A test
that calls `reset_locator()` is undone as well: the locator it installed is
closed and the baseline locator becomes the default again.

The unit is set with the ini option `locator_isolation`:

- `test` (the default): one test. All examples of one Sybil document are one
  unit, since they share one namespace and build on each other; the plugin
  also keeps each document's examples together and in file order when
  pytest-randomly shuffles the items.
- `module`: one test file.
- `session`: the whole run of this process.
- `none`: no resets; the fixtures, figures and snapshots still work.

`test` is the default because state that leaks from one test to the next is
what makes a suite pass with `-n 0` and fail with `-n 4`: which tests share a
worker process, and in what order, is decided by the scheduler and by
pytest-randomly, so a hidden dependency fails only now and then. Resetting
after every test makes such a dependency fail in every run and every order,
where it can be found. A wider unit is cheaper only where building services is
expensive, and `keep_between_tests=True` handles that per service.

**Fixtures.** `service_locator` is the locator a test should use, and
`override_service(key, value)` overrides a service until the test ends.

**Report.** With `-v` the header names this process's worker id and
resource namespace. A `worker-locator` section at the end gives, for each
worker, the constructions, cache hits and evictions of its default locator
(hits are counted while the session runs); `-q` hides it.

**Snapshots.** `--locator-snapshot DIR` makes each worker (or the single
process of a run without xdist) write its snapshot to `DIR` at the end of the
session, atomically and under a name no other worker, run or host uses. The
services in it are every service the process cached during the session. Read
them with `python -m worker_locator.diagnosis DIR`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar

import pytest

from ._default import get_locator, install_default
from ._exclusive import ExclusiveResource, hold_until_closed, lock_statistics
from ._identity import resource_namespace, worker_id
from ._locator import Checkpoint, ServiceLocator

__all__ = ["ISOLATION_SCOPES", "OverrideService", "keep_sybil_documents_together"]

T = TypeVar("T")

ISOLATION_SCOPES: Final = ("test", "module", "session", "none")
"""The values of the `locator_isolation` ini option; the first is the default."""

_STATE: Final = "worker_locator_state"
_OUTPUT_KEY: Final = "worker_locator"
# Fixtures of these scopes outlive one unit, so what they register joins the baseline.
_WIDER_SCOPES: Final = {
    "test": frozenset({"session", "package", "module", "class"}),
    "module": frozenset({"session", "package"}),
    "session": frozenset[str](),
    "none": frozenset[str](),
}
_INSTANCE_COUNTERS: Final = ("constructions", "misses", "evictions")


class OverrideService(Protocol):
    """The type of the `override_service` fixture, for annotating tests."""

    def __call__(self, key: type[Any] | str, value: T) -> T:
        """Make `service_locator.get(key)` return `value` until the test ends; return `value`."""
        ...  # pragma: no cover - a protocol method


# -- configuration ------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the `locator_isolation` ini option and the `--locator-snapshot` flag."""
    parser.addini(
        "locator_isolation",
        "worker-locator: reset the default locator after each test (default), module, session, or none",
        default=ISOLATION_SCOPES[0],
    )
    group = parser.getgroup("worker-locator")
    group.addoption(
        "--locator-snapshot",
        metavar="DIR",
        dest="locator_snapshot",
        default=None,
        help="worker-locator: write each worker's locator snapshot into DIR (created if missing) at the end",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Check the options and register the object that holds this session's state."""
    scope = _isolation_scope(config)
    snapshots = _snapshot_directory(config)
    config.pluginmanager.register(_LocatorSession(config, scope, snapshots), _STATE)


def _isolation_scope(config: pytest.Config) -> str:
    value = config.getini("locator_isolation")
    scope = value.strip() if isinstance(value, str) else value
    if scope not in ISOLATION_SCOPES:
        shown = repr(value)[:80]
        msg = f"locator_isolation = {shown} is not valid; use one of: {', '.join(ISOLATION_SCOPES)}"
        raise pytest.UsageError(msg)
    return str(scope)


def _snapshot_directory(config: pytest.Config) -> Path | None:
    value = config.getoption("locator_snapshot")
    if value is None:
        return None
    shown = repr(str(value))[:200]
    if not str(value).strip():
        msg = "--locator-snapshot needs a directory, got an empty value"
        raise pytest.UsageError(msg)
    directory = config.invocation_params.dir / Path(value)
    if directory.exists() and not directory.is_dir():
        msg = f"--locator-snapshot {shown} is not a directory; pass a directory (it is created if missing)"
        raise pytest.UsageError(msg)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"--locator-snapshot {shown}: cannot create the directory ({exc.strerror or exc})"
        raise pytest.UsageError(msg) from None
    return directory


# -- fixtures -----------------------------------------------------------------


@pytest.fixture
def service_locator() -> ServiceLocator:
    """Return the locator a test should use: the default one, which the plugin isolates."""
    return get_locator()


@pytest.fixture
def override_service(service_locator: ServiceLocator) -> Iterator[OverrideService]:
    """Return `override_service(key, value)`, which overrides a service until the test ends.

    Each call enters `service_locator.override(key, value)`; teardown exits the
    blocks in reverse order, which restores the previous services exactly. If
    the test left an `override` block of its own open on top of them, the
    locator goes back to the registrations it had before the first call.
    """
    stack = contextlib.ExitStack()
    before: list[Checkpoint] = []

    def override(key: type[Any] | str, value: T) -> T:
        if not before:
            before.append(service_locator.checkpoint())
        stack.enter_context(service_locator.override(key, value))
        return value

    yield override
    try:
        stack.close()
    except RuntimeError:
        if not before:
            raise
        service_locator.restore(before[0])


@pytest.fixture
def exclusive_resource() -> Iterator[ExclusiveResource]:
    """Return `exclusive_resource(name, scope="run", timeout=300.0)`, which holds a lock until the test ends.

    Each call enters `worker_locator.exclusive(name, ...)`; teardown releases
    the locks in reverse order.
    """
    with contextlib.ExitStack() as stack:
        yield hold_until_closed(stack)


# -- the session --------------------------------------------------------------


def _is_sybil(node: pytest.Item) -> bool:
    module = type(node).__module__
    return module == "sybil" or module.startswith("sybil.")


def _file_of(item: pytest.Item) -> object:
    node = item.parent
    while node is not None and not isinstance(node, pytest.File):
        node = node.parent
    return node if node is not None else item.path


def keep_sybil_documents_together(items: list[pytest.Item]) -> None:
    """Put each Sybil document's examples next to each other, in source order.

    pytest-randomly shuffles Sybil's examples one by one, since they belong to
    no module, and an example that uses an earlier one's names then fails. Each
    document moves to where its first example landed, so a seed still changes
    which document runs first; other tests keep their order. The plugin does
    this itself; call it from a `pytest_collection_modifyitems` hook when the
    plugin is turned off.

    Args:
        items: The session's items, reordered in place.
    """
    documents: dict[int, list[pytest.Item]] = {}
    for item in items:
        if _is_sybil(item):
            documents.setdefault(id(item.parent), []).append(item)
    if not documents:
        return
    reordered: list[pytest.Item] = []
    for item in items:
        if not _is_sybil(item):
            reordered.append(item)
            continue
        examples = documents.pop(id(item.parent), None)
        if examples is not None:
            reordered.extend(sorted(examples, key=_source_position))
    items[:] = reordered


def _source_position(item: pytest.Item) -> int:
    region = getattr(getattr(item, "example", None), "region", None)
    return int(getattr(region, "start", 0))


class _LocatorSession:
    """This process's isolation state, figures and snapshot, registered as a plugin object."""

    def __init__(self, config: pytest.Config, scope: str, snapshots: Path | None) -> None:
        self._config = config
        self._scope = scope
        self._wider = _WIDER_SCOPES[scope]
        self._snapshots = snapshots
        self._locator: ServiceLocator | None = None
        self._baseline: Checkpoint | None = None
        self._extended: list[tuple[object, Checkpoint]] = []
        self._count_hits_before = False
        self._resets = 0
        # Added to the locator's own counters: minus what it had counted before this
        # session, plus what the locators that tests installed counted.
        self._extra: dict[str, int] = dict.fromkeys((*_INSTANCE_COUNTERS, "hits"), 0)
        self._extra_evicted: dict[str, int] = {}
        self._seen: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._instance_hits: dict[tuple[Any, ...], int | None] = {}
        self._problems: list[str] = []
        self._finished = False
        self._workers: dict[str, dict[str, Any] | None] = {}

    @property
    def _worker(self) -> bool:
        return hasattr(self._config, "workerinput")

    @property
    def _controller(self) -> bool:
        return not self._worker and self._config.pluginmanager.has_plugin("dsession")

    # -- collection -----------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        keep_sybil_documents_together(items)

    # -- isolation ------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self) -> Generator[None, object, object]:
        __tracebackhide__ = True
        locator = self._locator = get_locator()
        self._count_hits_before = locator.count_hits
        locator.count_hits = True
        before = (
            locator.snapshot() if self._snapshots is not None else {"stats": locator.stats(), "evicted": {}}
        )
        self._count(before, sign=-1)
        if self._scope != "none":
            self._baseline = locator.checkpoint()
        return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any]) -> Generator[None, object, object]:
        __tracebackhide__ = True
        result = yield
        locator = self._locator
        if fixturedef.scope in self._wider and self._baseline is not None and locator is get_locator():
            assert locator is not None  # noqa: S101 - a baseline implies a locator
            self._extended.append((fixturedef, self._baseline))
            self._baseline = locator.checkpoint()
        return result

    def pytest_fixture_post_finalizer(self, fixturedef: pytest.FixtureDef[Any]) -> None:
        for index in range(len(self._extended) - 1, -1, -1):
            if self._extended[index][0] is fixturedef:
                self._baseline = self._extended[index][1]
                del self._extended[index:]
                return

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, object, object]:
        __tracebackhide__ = True
        try:
            return (yield)
        finally:
            if self._baseline is not None and self._unit_ends(item, nextitem):
                self._reset()

    def _unit_ends(self, item: pytest.Item, nextitem: pytest.Item | None) -> bool:
        if nextitem is None:
            return True
        if self._scope == "test":
            return not _is_sybil(item) or not _is_sybil(nextitem) or item.parent is not nextitem.parent
        if self._scope == "module":
            return _file_of(item) is not _file_of(nextitem)
        return False

    def _reset(self, *, count: bool = True) -> None:
        """Bring the default locator back to the baseline; raise what closing services raised."""
        locator, baseline = self._locator, self._baseline
        assert locator is not None  # noqa: S101 - only called once the loop has started
        assert baseline is not None  # noqa: S101 - as above
        errors: list[Exception] = []
        current = get_locator()
        if current is not locator:
            errors.extend(self._retire(current))
            install_default(locator)
        if self._snapshots is not None:
            self._remember(locator.snapshot())
        self._resets += count
        try:
            locator.restore(baseline)
        except ExceptionGroup as group:
            errors.extend(group.exceptions)
        if errors:
            msg = f"worker-locator: closing {len(errors)} services failed while resetting the default locator"
            raise ExceptionGroup(msg, errors)

    def _retire(self, stray: ServiceLocator) -> list[Exception]:
        """Count and close a locator a test installed with `reset_locator()`."""
        snapshot = stray.snapshot()
        if self._snapshots is not None:
            self._remember(snapshot)
        self._count(snapshot, sign=1)
        try:
            stray.restore(ServiceLocator().checkpoint())  # no registrations: every instance is closed
        except ExceptionGroup as group:
            return list(group.exceptions)
        return []

    def _count(self, snapshot: dict[str, Any], *, sign: int) -> None:
        for name in self._extra:
            self._extra[name] += sign * (snapshot["stats"][name] or 0)
        for name, count in snapshot["evicted"].items():
            self._extra_evicted[name] = self._extra_evicted.get(name, 0) + sign * count

    def _remember(self, snapshot: dict[str, Any]) -> None:
        for service in snapshot["services"]:
            group = (
                service["key"],
                service["type"],
                service["owner_pid"],
                service["override"],
                tuple(service["resources"]),
            )
            self._instance_hits[(*group, service["created_at"])] = service["hits"]
            seen = self._seen.get(group)
            if seen is None:
                self._seen[group] = dict(service)
            else:
                seen["created_at"] = min(seen["created_at"], service["created_at"])

    def _services_seen(self) -> list[dict[str, Any]]:
        totals: dict[tuple[Any, ...], int | None] = {}
        for instance, hits in self._instance_hits.items():
            key = instance[:-1]  # the group, without the instance's creation time
            total = totals.get(key, 0)
            totals[key] = None if hits is None or total is None else total + hits
        services = []
        for group, service in self._seen.items():
            services.append({**service, "hits": totals.get(group)})
        return sorted(services, key=lambda s: (s["created_at"], s["key"]))

    # -- end of session -------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self) -> None:
        locator = self._locator
        if locator is None or self._finished:
            return
        self._finished = True
        if self._baseline is not None:
            try:
                self._reset(count=False)  # the last unit, if -x or an interrupt ended the loop early
            except ExceptionGroup as group:
                self._problems.append(f"closing services at the end of the session failed: {group!r}")
        figures = self._figures(locator)
        if self._snapshots is not None and not self._controller:
            from .diagnosis import write_snapshot  # noqa: PLC0415 - only runs that write snapshots pay for it

            try:
                figures["snapshot"] = str(write_snapshot(self._snapshots, self._snapshot(locator)))
            except OSError as exc:
                self._problems.append(f"could not write the snapshot into {self._snapshots}: {exc}")
        figures["problems"] = list(self._problems)
        locator.count_hits = self._count_hits_before
        if self._worker:
            self._config.workeroutput[_OUTPUT_KEY] = figures  # type: ignore[attr-defined]
        elif not self._controller:
            self._workers[figures["worker_id"]] = figures

    def _figures(self, locator: ServiceLocator) -> dict[str, Any]:
        stats = locator.stats()
        return {
            "worker_id": worker_id(),
            "pid": os.getpid(),
            "resource_namespace": resource_namespace(),
            "isolation": self._scope,
            "resets": self._resets,
            "constructions": stats["constructions"] + self._extra["constructions"],
            "hits": None if stats["hits"] is None else stats["hits"] + self._extra["hits"],
            "evictions": stats["evictions"] + self._extra["evictions"],
        }

    def _snapshot(self, locator: ServiceLocator) -> dict[str, Any]:
        snapshot = locator.snapshot()
        self._remember(snapshot)
        snapshot["services"] = self._services_seen()
        stats = snapshot["stats"]
        for name, extra in self._extra.items():
            if stats[name] is not None:
                stats[name] += extra
        evicted = snapshot["evicted"]
        for name, extra in self._extra_evicted.items():
            evicted[name] = evicted.get(name, 0) + extra
        snapshot["evicted"] = {name: count for name, count in evicted.items() if count > 0}
        snapshot["locks"] = lock_statistics()  # who held which exclusive() lock, and who waited
        return snapshot

    # -- reporting ------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        del error  # a crashed worker sent no figures, which is all that matters here
        figures = (getattr(node, "workeroutput", None) or {}).get(_OUTPUT_KEY)
        name = figures["worker_id"] if figures else getattr(getattr(node, "gateway", None), "id", "?")
        self._workers[str(name)] = figures

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        if config.get_verbosity() < 1:
            return []
        isolation = f"isolation per {self._scope}" if self._scope != "none" else "no isolation"
        if self._controller:
            return [f"worker-locator: {isolation}; worker ids and resource namespaces are in the summary"]
        return [
            f"worker-locator: worker {worker_id()}, resource namespace {resource_namespace()}, {isolation}"
        ]

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self._worker or not self._workers or self._config.get_verbosity() < 0:
            return
        verbose = self._config.get_verbosity() > 0
        terminalreporter.section("worker-locator")
        for name in sorted(self._workers, key=_worker_order):
            figures = self._workers[name]
            if figures is None:
                terminalreporter.line(f"{name}: no figures (the worker did not finish)")
                continue
            hits = "uncounted" if figures["hits"] is None else figures["hits"]
            who = name
            if verbose:
                who += f" (pid {figures['pid']}, resource namespace {figures['resource_namespace']})"
            terminalreporter.line(
                f"{who}: {figures['constructions']} constructions, {hits} hits,"
                f" {figures['evictions']} evictions, {figures['resets']} resets"
            )
            if verbose and figures.get("snapshot"):
                terminalreporter.line(f"{name}: snapshot {figures['snapshot']}")
            for problem in figures.get("problems", ()):
                terminalreporter.line(f"{name}: {problem}", red=True)


def _worker_order(name: str) -> tuple[int, int, str]:
    digits = name[2:] if name.startswith("gw") else ""
    return (0, int(digits), name) if digits.isdigit() else (1, 0, name)
