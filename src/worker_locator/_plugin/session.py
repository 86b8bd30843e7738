"""One process's session: the isolation of the default locator, its figures and its snapshot."""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any, Final

import pytest

from worker_locator._default import current_default, get_locator, install_default, watch_creation
from worker_locator._exclusive import lock_statistics
from worker_locator._identity import resource_namespace, worker_id
from worker_locator._locator import Checkpoint, ServiceLocator
from worker_locator._observation import journal_position

from .documents import guard_traceback_filters, keep_sybil_documents_together
from .leftovers import print_leftovers
from .pollution import PollutionRecorder
from .replay import ReplayWriter
from .scheduling import keep_documents_whole
from .units import DormantOrder, UnitHooks, running_now

__all__ = ["LocatorSession"]

_OUTPUT_KEY: Final = "worker_locator"
# Fixtures of these scopes outlive one unit, so what they register joins the baseline.
_WIDER_SCOPES: Final = {
    "test": frozenset({"session", "package", "module", "class"}),
    "module": frozenset({"session", "package"}),
    "session": frozenset[str](),
    "none": frozenset[str](),
}
_COUNTERS: Final = ("constructions", "misses", "evictions", "hits")
_UNIT_HOOKS: Final = "worker_locator_unit_hooks"
_DORMANT_ORDER: Final = "worker_locator_dormant_order"


class LocatorSession:
    """This process's isolation state, figures and snapshot, registered as a plugin object."""

    def __init__(
        self, config: pytest.Config, scope: str, snapshots: Path | None, *, count_hits: bool, leftovers: bool
    ) -> None:
        self._config = config
        self._leftovers = leftovers
        self._recorder: PollutionRecorder | None = None
        self._count_hits = count_hits
        self._scope = scope
        self._wider = _WIDER_SCOPES[scope]
        self._snapshots = snapshots
        self._locator: ServiceLocator | None = None
        self._baseline: Checkpoint | None = None
        self._extended: list[tuple[object, Checkpoint]] = []
        self._count_hits_before = False
        self._resets = 0
        self._retired = 0
        # Added to the locator's own counters: minus what it had counted before this
        # session, plus what the locators that tests installed counted.
        self._extra: dict[str, int] = dict.fromkeys(_COUNTERS, 0)
        self._extra_evicted: dict[str, int] = {}
        self._seen: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._instance_hits: dict[tuple[Any, ...], int | None] = {}
        self._problems: list[str] = []
        self._finished = False
        self._fixtures_used = False
        self._workers: dict[str, dict[str, Any] | None] = {}
        self._cancel_watch: Callable[[], None] | None = None
        self._pending_wider: pytest.FixtureDef[Any] | None = None
        self._woken_in: pytest.Item | None = None  # the test during which the locator was created
        self._dormant_order: DormantOrder | None = None

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
        guard_traceback_filters(items)

    @pytest.hookimpl(wrapper=True, optionalhook=True)
    def pytest_xdist_make_scheduler(self) -> Generator[None, object, object]:
        """Deal each Sybil document's examples to one worker as one unit, whatever the `--dist` mode."""
        scheduler = yield
        return keep_documents_whole(scheduler)

    # -- isolation ------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self) -> Generator[None, object, object]:
        __tracebackhide__ = True
        locator = current_default()
        if locator is None and self._snapshots is None:
            # Dormant until a test or a fixture first uses the default locator: a suite that never
            # does runs none of the per-test hooks, only the one that notes the order of its tests.
            self._dormant_order = DormantOrder()
            self._config.pluginmanager.register(self._dormant_order, f"{_DORMANT_ORDER}-{id(self)}")
            self._cancel_watch = watch_creation(self._wake)
        else:
            self._activate(get_locator())
        return (yield)

    def _activate(self, locator: ServiceLocator) -> None:
        """Start isolating the default `locator`: its baseline, the recorder and the per-test hooks."""
        self._locator = locator
        self._count_hits_before = locator.count_hits
        if self._count_hits:
            locator.count_hits = True
        before = (
            locator.snapshot() if self._snapshots is not None else {"stats": locator.stats(), "evicted": {}}
        )
        self._count(before, sign=-1)
        if self._scope != "none":
            self._baseline = locator.checkpoint()
        if not self._controller:
            self._recorder = PollutionRecorder(
                locator,
                worker=worker_id(),
                replay=ReplayWriter(self._config.rootpath, self._config.invocation_params.dir, worker_id()),
                leftovers=self._leftovers,
                journal_from=lambda: journal_position(self._baseline),
                anchor=self._scope == "none",
            )
        self._config.pluginmanager.register(UnitHooks(self), f"{_UNIT_HOOKS}-{id(self)}")

    def _wake(self, locator: ServiceLocator) -> None:
        """Start isolating a default locator that a test or a fixture has just created.

        The per-test hooks start with the next hook call, in the middle of the
        running test, so what they would have done at its start is done here.
        """
        self._cancel_watch = None
        if self._finished:
            return
        self._activate(locator)
        ran = self._stop_noting_order()
        item, fixturedef = running_now(self._config)
        if fixturedef is not None and fixturedef.scope in self._wider:
            # What a wider fixture registers joins the baseline once its set-up returns.
            self._pending_wider = fixturedef
        if self._recorder is not None:
            self._recorder.ran_before([test for test in ran if test is not item])
            if item is not None:
                self._recorder.test_starts(item)
                self._woken_in = item

    def _stop_noting_order(self) -> list[pytest.Item]:
        """Unregister the dormant plugin's order of tests; return the tests it noted."""
        noted, self._dormant_order = self._dormant_order, None
        if noted is None:
            return []
        self._config.pluginmanager.unregister(noted)
        return noted.items

    def _extend_baseline(self, fixturedef: pytest.FixtureDef[Any]) -> None:
        """Make what a fixture wider than the unit registered part of the baseline until its teardown."""
        locator = self._locator
        if self._baseline is not None and locator is get_locator():
            assert locator is not None  # noqa: S101 - a baseline implies a locator
            self._extended.append((fixturedef, self._baseline))
            self._baseline = locator.checkpoint()
            if self._recorder is not None:
                self._recorder.fixture_registered()

    def _extend_for_pending(self) -> None:
        fixturedef, self._pending_wider = self._pending_wider, None
        if fixturedef is not None:
            self._extend_baseline(fixturedef)

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
        self._retired += 1
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
        if self._finished:
            return
        self._finished = True
        if self._cancel_watch is not None:
            self._cancel_watch()
            self._cancel_watch = None
        self._stop_noting_order()
        locator = self._locator
        if locator is None:
            self._report_unused()
            return
        if self._baseline is not None:
            try:
                self._reset(count=False)  # the last unit, if -x or an interrupt ended the loop early
            except ExceptionGroup as group:
                self._problems.append(f"closing services at the end of the session failed: {group!r}")
        figures = self._figures(dict(locator.stats()))
        if self._snapshots is not None and not self._controller:
            from worker_locator.diagnosis import write_snapshot  # noqa: PLC0415 - only runs that write snapshots pay for it

            try:
                figures["snapshot"] = str(write_snapshot(self._snapshots, self._snapshot(locator)))
            except OSError as exc:
                self._problems.append(f"could not write the snapshot into {self._snapshots}: {exc}")
        figures["problems"] = list(self._problems)
        figures["used"] = self._used(figures)
        if self._recorder is not None:
            figures["leftovers"] = self._recorder.leftovers()
            figures["recorded"] = self._recorder.used
        locator.count_hits = self._count_hits_before
        self._publish(figures)

    def _report_unused(self) -> None:
        """Publish the figures of a process whose tests never created the default locator."""
        if self._controller:
            return
        stats = dict.fromkeys(_COUNTERS, 0)
        figures = self._figures({**stats, "hits": None})
        figures.update(problems=[], recorded=False)
        figures["used"] = self._used(figures)
        figures["leftovers"] = {"tests": [], "more": 0} if self._leftovers else None
        self._publish(figures)

    def _publish(self, figures: dict[str, Any]) -> None:
        if self._worker:
            self._config.workeroutput[_OUTPUT_KEY] = figures  # type: ignore[attr-defined]
        elif not self._controller:
            self._workers[figures["worker_id"]] = figures

    def note_fixture_use(self) -> None:
        """Record that a test asked for one of the plugin's fixtures."""
        self._fixtures_used = True

    def _used(self, figures: dict[str, Any]) -> bool:
        """Whether this session touched the default locator: built, missed, evicted or hit anything."""
        counted = (figures[name] or 0 for name in _COUNTERS)
        return self._fixtures_used or self._retired > 0 or any(count > 0 for count in counted)

    def _worth_reporting(self) -> bool:
        """Whether the summary has anything to say: figures of a used locator, a snapshot or a problem."""
        reported = [figures for figures in self._workers.values() if figures is not None]
        if any(figures.get("problems") for figures in reported):
            return True
        if not self._workers or _verbosity(self._config) < 0:
            return False
        return self._snapshots is not None or any(figures.get("used") for figures in reported)

    def _figures(self, stats: dict[str, Any]) -> dict[str, Any]:
        return {
            "worker_id": worker_id(),
            "pid": os.getpid(),
            "resource_namespace": resource_namespace(),
            "isolation": self._scope,
            "resets": self._resets,
            "constructions": stats["constructions"] + self._extra["constructions"],
            "misses": stats["misses"] + self._extra["misses"],
            "hits": None
            if not self._count_hits or stats["hits"] is None
            else stats["hits"] + self._extra["hits"],
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

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self._worker:
            return
        if self._worth_reporting():
            self._print_figures(terminalreporter)
        if self._leftovers:
            print_leftovers(terminalreporter, self._workers, order=_worker_order)

    def _print_figures(self, terminalreporter: pytest.TerminalReporter) -> None:
        verbose = _verbosity(self._config) > 0
        terminalreporter.section("worker-locator")
        for name in sorted(self._workers, key=_worker_order):
            figures = self._workers[name]
            if figures is None:
                terminalreporter.line(f"{name}: no figures (the worker did not finish)")
                continue
            who = name
            if verbose:
                who += f" (pid {figures['pid']}, resource namespace {figures['resource_namespace']})"
            hits = "" if figures["hits"] is None else f", {figures['hits']} hits"
            terminalreporter.line(
                f"{who}: {figures['constructions']} constructions, {figures['misses']} misses{hits},"
                f" {figures['evictions']} evictions, {figures['resets']} resets"
            )
            if verbose and figures.get("snapshot"):
                terminalreporter.line(f"{name}: snapshot {figures['snapshot']}")
            for problem in figures.get("problems", ()):
                terminalreporter.line(f"{name}: {problem}", red=True)


def _verbosity(config: pytest.Config) -> int:
    """The run's verbosity (`Config.get_verbosity` is not in pytest 7)."""
    verbose: int = config.option.verbose
    return verbose


def _worker_order(name: str) -> tuple[int, int, str]:
    digits = name[2:] if name.startswith("gw") else ""
    return (0, int(digits), name) if digits.isdigit() else (1, 0, name)
