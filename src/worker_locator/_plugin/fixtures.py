"""The fixtures the plugin gives tests; `worker_locator.pytest_plugin` imports each one."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Protocol, TypeVar

import pytest

from worker_locator._default import get_locator
from worker_locator._exclusive import ExclusiveResource, hold_until_closed
from worker_locator._locator import Checkpoint, ServiceLocator

from .options import STATE

__all__ = [
    "ExclusiveResource",
    "OverrideService",
    "exclusive_resource",
    "override_service",
    "service_locator",
]

T = TypeVar("T")


class OverrideService(Protocol):
    """The type of the `override_service` fixture, for annotating tests."""

    def __call__(self, key: type[Any] | str, value: T) -> T:
        """Make `service_locator.get(key)` return `value` until the test ends; return `value`."""
        ...  # pragma: no cover - a protocol method


@pytest.fixture
def service_locator(request: pytest.FixtureRequest) -> ServiceLocator:
    """Return the locator a test should use: the default one, which the plugin isolates."""
    state = request.config.pluginmanager.get_plugin(STATE)
    if state is not None:  # the session object, registered by `configure`
        state.note_fixture_use()
    return get_locator()


@pytest.fixture
def override_service(service_locator: ServiceLocator) -> Iterator[OverrideService]:
    """Return `override_service(key, value)`, which overrides a service until the test ends.

    Each call enters `service_locator.override(key, value)`; teardown exits the
    blocks in reverse order, which undoes each override and only it: every
    overridden key gets its previous registration and its previously cached
    services back, and what was built from the values is closed. If the test
    left an `override` block of its own open on top of them, the locator goes
    back to the registrations it had before the first call.
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
