"""The plugin's per-test hooks, and what stands in for them while the default locator does not exist.

`LocatorSession` registers `DormantOrder` when no default locator exists as the
run starts, and `UnitHooks` once one does; `running_now` tells it, when it
wakes up mid-test, which test and which fixture set-up are running.
"""

from __future__ import annotations

import sys
from collections.abc import Generator
from types import FrameType
from typing import TYPE_CHECKING, Any

import pytest

from worker_locator._default import get_locator

from .documents import file_of, is_sybil
from .pollution import SECTION

if TYPE_CHECKING:
    from .session import LocatorSession

__all__ = ["DormantOrder", "UnitHooks", "running_now"]


class DormantOrder:
    """While the plugin is dormant: the tests this process ran, so that a later failure report counts them."""

    def __init__(self) -> None:
        self.items: list[pytest.Item] = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> None:
        self.items.append(item)


class UnitHooks:
    """The per-test hooks of a `LocatorSession`: note each test's start and end, reset after each unit.

    Registered only once the default locator exists, so that a suite that
    never uses it runs none of them; they read and change their session's state.
    """

    def __init__(self, session: LocatorSession) -> None:
        self._session = session

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        __tracebackhide__ = True
        recorder = self._session._recorder
        if recorder is not None:
            recorder.test_starts(item)
        try:
            return (yield)
        finally:
            if recorder is not None:
                recorder.test_ended(item)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        session = self._session
        if session._pending_wider is not None:
            session._extend_for_pending()
        report = yield
        if report.failed and session._recorder is not None:
            text = session._recorder.section(item, call)
            if text is not None:
                report.sections.append((SECTION, text))
        return report

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any]) -> Generator[None, object, object]:
        __tracebackhide__ = True
        session = self._session
        if session._pending_wider is not None:
            session._extend_for_pending()
        result = yield
        if fixturedef.scope in session._wider:
            session._extend_baseline(fixturedef)
        return result

    def pytest_fixture_post_finalizer(self, fixturedef: pytest.FixtureDef[Any]) -> None:
        session = self._session
        extended = session._extended
        for index in range(len(extended) - 1, -1, -1):
            if extended[index][0] is fixturedef:
                session._baseline = extended[index][1]
                del extended[index:]
                return

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, object, object]:
        __tracebackhide__ = True
        session = self._session
        try:
            return (yield)
        finally:
            recorder = session._recorder
            if recorder is not None:
                recorder.test_ending(item, replaced=get_locator() is not session._locator)
            try:
                if session._baseline is not None and self._unit_ends(item, nextitem):
                    session._reset()
            finally:
                if session._woken_in is item and recorder is not None:
                    session._woken_in = None
                    recorder.test_ended(item)  # its protocol hook started before this object was registered

    def _unit_ends(self, item: pytest.Item, nextitem: pytest.Item | None) -> bool:
        if nextitem is None:
            return True
        scope = self._session._scope
        if scope == "test":
            return not is_sybil(item) or not is_sybil(nextitem) or item.parent is not nextitem.parent
        if scope == "module":
            return file_of(item) is not file_of(nextitem)
        return False


def running_now(config: pytest.Config) -> tuple[pytest.Item | None, pytest.FixtureDef[Any] | None]:
    """Return the test of `config`'s session running now, and the fixture being set up for it, if any.

    Read from the call stack: pytest's `runtestprotocol(item, ...)` is on it
    while a test runs, and `pytest_fixture_setup(fixturedef, request)` while a
    fixture's function runs; the innermost of each counts, and only if it
    belongs to this session (an in-process pytester run has tests of its own).
    """
    item: pytest.Item | None = None
    fixturedef: pytest.FixtureDef[Any] | None = None
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and item is None:
        name, found = frame.f_code.co_name, frame.f_locals
        if name == "pytest_fixture_setup" and fixturedef is None:
            request = found.get("request")
            if getattr(request, "config", None) is config:
                fixturedef = found.get("fixturedef")
        elif name == "runtestprotocol":
            candidate = found.get("item")
            if isinstance(candidate, pytest.Item) and candidate.config is config:
                item = candidate
        frame = frame.f_back
    return item, fixturedef
