"""What a locator reports about itself: its counters, and the snapshot the diagnosis reads."""

from __future__ import annotations

import itertools
import os
import time
import warnings
from collections.abc import Iterable
from typing import Any, Final, TypedDict, cast

from ._entries import Entry, Key
from ._errors import key_name
from ._identity import host_name, resource_namespace, worker_id

__all__ = ["SNAPSHOT_FORMAT", "LocatorStats", "describe_process", "describe_service"]

SNAPSHOT_FORMAT: Final = 1
_MAX_RESOURCES_PER_SERVICE: Final = 100


class LocatorStats(TypedDict):
    """Counters of one locator in this process, as [`ServiceLocator.stats`][] returns them."""

    hits: int | None
    """Lookups answered from the cache, or `None` while hits are not counted."""
    misses: int
    """Lookups that had to build the service."""
    constructions: int
    """Factory calls that returned a service."""
    evictions: int
    """Services dropped and closed because the cache was at its bound."""
    cached: int
    """Services cached now."""


def describe_process() -> dict[str, Any]:
    """Return the fields of a snapshot that name this process."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        wid = worker_id()
    return {
        "format": SNAPSHOT_FORMAT,
        "worker_id": wid,
        "pid": os.getpid(),
        "host": host_name(),
        "resource_namespace": resource_namespace(),
        "testrun_uid": os.environ.get("PYTEST_XDIST_TESTRUNUID"),
        "taken_at": time.time(),
    }


def describe_service(key: Key, entry: Entry, *, counted: bool) -> dict[str, Any]:
    """Return the snapshot record of one cached service."""
    instance_type = type(entry.instance)
    described: dict[str, Any] = {
        "key": key_name(key),
        "type": f"{instance_type.__module__}.{instance_type.__qualname__}",
        "created_at": entry.created_at,
        "owner_pid": entry.owner_pid,
        "hits": entry.hits if counted else None,
        "override": entry.is_override,
        "resources": [],
    }
    held = getattr(entry.instance, "held_resources", None)
    if callable(held):
        try:
            declared = cast("Iterable[object]", held())
            described["resources"] = [str(r) for r in itertools.islice(declared, _MAX_RESOURCES_PER_SERVICE)]
        except Exception as exc:  # noqa: BLE001 - a broken service must not break the snapshot
            described["resources_error"] = f"{type(exc).__name__}: {exc}"
    return described
