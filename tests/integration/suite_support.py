"""What the generated suites under `suites/` share: reading the harness's settings, a barrier, records.

The harness runs each suite in a subprocess whose `PYTHONPATH` is the
repository root, so the suites import this module as
`tests.integration.suite_support`. Everything here is plain files and
environment variables, because the processes that use it (workers of one run,
workers of two concurrent runs, forked children) share nothing else.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Protocol

from worker_locator import get_locator

__all__ = [
    "Cache",
    "KeyedNaiveLocator",
    "NaiveLocator",
    "choice",
    "chosen_cache",
    "directory",
    "parties",
    "port",
    "process_identity",
    "record",
    "rendezvous",
    "vm_rss_kib",
]

BARRIER_TIMEOUT = 300.0
"""Seconds a party waits for the others before the barrier fails the test: a hang guard, never a measure."""


class Cache(Protocol):
    """What the suites ask of a cache; `ServiceLocator` and the suites' naive caches both fit."""

    def register(self, key: str, factory: Callable[[], Any], *, keep_between_tests: bool = False) -> None:
        """Register `factory` under `key`."""

    def get(self, key: str) -> Any:
        """Return the service under `key`."""

    def close(self) -> None:
        """Close the cached services."""


class NaiveLocator:
    """The naive global cache: a service locator whose cache is a class attribute.

    One cache per process, never reset, never told about forks, no lock: what
    the original report's suite had. What one test registers or mutates stays
    for every later test in the same process.
    """

    _factories: ClassVar[dict[str, Callable[[], Any]]] = {}
    _cache: ClassVar[dict[object, Any]] = {}

    def _slot(self, key: str) -> object:
        return key

    def register(self, key: str, factory: Callable[[], Any], *, keep_between_tests: bool = False) -> None:
        """Register `factory` under `key` and forget the cached instance."""
        del keep_between_tests
        self._factories[key] = factory
        self._cache.pop(self._slot(key), None)

    def get(self, key: str) -> Any:
        """Return the cached instance, building it if there is none (check, then build: no lock)."""
        slot = self._slot(key)
        if slot not in self._cache:
            self._cache[slot] = self._factories[key]()
        return self._cache[slot]

    def close(self) -> None:
        """Close every cached instance that has a `close()` method, as an exit hook would, and forget them."""
        instances = list(self._cache.values())
        self._cache.clear()
        for instance in reversed(instances):
            close = getattr(instance, "close", None)
            if callable(close):
                close()


class KeyedNaiveLocator(NaiveLocator):
    """The original report's fix: the same cache, keyed by the xdist worker id (constant in a worker)."""

    def _slot(self, key: str) -> object:
        return (os.environ.get("PYTEST_XDIST_WORKER", "master"), key)


def chosen_cache() -> Cache:
    """Return the cache `WL_IT_CACHE` names: `naive`, `keyed` or `locator` (`get_locator()`)."""
    kind = choice("WL_IT_CACHE", ("naive", "keyed", "locator"))
    if kind == "naive":
        return NaiveLocator()
    if kind == "keyed":
        return KeyedNaiveLocator()
    return get_locator()


def _setting(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        msg = f"{name} is not set; run this suite through tests/integration/harness.py, not by hand"
        raise RuntimeError(msg)
    return value


def choice(name: str, allowed: tuple[str, ...]) -> str:
    """Return the environment variable `name`, which must be one of `allowed`."""
    value = _setting(name)
    if value not in allowed:
        msg = f"{name}={value[:40]!r} is not one of {', '.join(allowed)}"
        raise RuntimeError(msg)
    return value


def directory(name: str) -> Path:
    """Return the existing directory the environment variable `name` points to."""
    path = Path(_setting(name))
    if not path.is_dir():
        msg = f"{name}={str(path)[:200]!r} is not an existing directory"
        raise RuntimeError(msg)
    return path


def _positive_int(name: str) -> int:
    raw = _setting(name)
    if not raw.isdigit() or int(raw) < 1:
        msg = f"{name}={raw[:40]!r} is not a positive integer"
        raise RuntimeError(msg)
    return int(raw)


def parties() -> int:
    """Return how many processes meet at each `rendezvous` (`WL_IT_PARTIES`)."""
    return _positive_int("WL_IT_PARTIES")


def port() -> int:
    """Return the fixed port the harness chose (`WL_IT_PORT`)."""
    value = _positive_int("WL_IT_PORT")
    if value > 65535:
        msg = f"WL_IT_PORT={value} is not a TCP port"
        raise RuntimeError(msg)
    return value


def process_identity() -> dict[str, Any]:
    """Return who this process is: xdist worker id (`master` without xdist), pid and run id."""
    return {
        "worker": os.environ.get("PYTEST_XDIST_WORKER", "master"),
        "pid": os.getpid(),
        "run": os.environ.get("PYTEST_XDIST_TESTRUNUID"),
    }


def rendezvous(name: str, count: int | None = None, timeout: float = BARRIER_TIMEOUT) -> None:
    """Wait until `count` processes (default `parties()`) have called `rendezvous(name)`.

    Each process drops a file named after its pid into `WL_IT_BARRIERS/name`
    and polls the folder; a process that arrives twice counts once.

    Raises:
        TimeoutError: The others did not arrive in time; the message lists who did.
    """
    wanted = parties() if count is None else count
    folder = directory("WL_IT_BARRIERS") / name
    folder.mkdir(exist_ok=True)
    identity = process_identity()
    (folder / f"{identity['pid']}").write_text(json.dumps(identity))
    deadline = time.monotonic() + timeout
    while True:
        arrived = sorted(p.name for p in folder.iterdir())
        if len(arrived) >= wanted:
            return
        if time.monotonic() > deadline:
            msg = f"rendezvous {name!r}: {len(arrived)} of {wanted} processes arrived in {timeout:.0f}s"
            raise TimeoutError(msg)
        time.sleep(0.02)


def record(event: Mapping[str, Any]) -> None:
    """Append `event`, with this process's identity, to this process's file in `WL_IT_RECORDS`.

    One file per pid, opened and closed per event, so that no two processes
    write one file and an event survives `os._exit` right after it.
    """
    line = json.dumps({**process_identity(), **event}, sort_keys=True)
    path = directory("WL_IT_RECORDS") / f"{os.getpid()}.jsonl"
    with path.open("a", encoding="utf-8") as stream:
        stream.write(line + "\n")


def vm_rss_kib() -> int:
    """Return this process's resident memory in KiB, from `/proc/self/status` (Linux)."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    msg = "/proc/self/status has no VmRSS line"
    raise RuntimeError(msg)
