"""Find where pytest-xdist workers and test runs collide, from locator snapshots.

A snapshot ([`ServiceLocator.snapshot`][]) names one process (worker id, pid,
host, pytest-xdist run id) and the services it cached, with the external
resources each one declared through a `held_resources()` method. The pytest
plugin writes one per worker with `--locator-snapshot DIR`; [`write_snapshot`][]
writes one from any process. [`detect_conflicts`][] compares snapshots from
several workers, runs, CI shards and hosts and reports four kinds of conflict
(see [`ConflictKind`][]). On the command line:

    python -m worker_locator.diagnosis DIR [DIR ...] [--json]

prints a table (or JSON) and exits with an [`ExitStatus`][]: 0 when the snapshots
are clean, 1 when conflicts were found, 2 when an input is unusable, with one
line per unusable file naming it and the problem, and 3 when the diagnosis
itself failed (a bug to report), never 0 or 1 then.

Examples:
    Two workers that open the same sqlite file, and the report about it:

    >>> def fake(worker, pid, resources):
    ...     return {"format": 1, "worker_id": worker, "pid": pid, "host": "ci-1",
    ...             "resource_namespace": f"{worker}_0123456789abcdef", "testrun_uid": "run1",
    ...             "taken_at": 0.0, "max_cached": 50,
    ...             "stats": {"hits": 0, "misses": 1, "constructions": 1, "evictions": 0, "cached": 1},
    ...             "services": [{"key": "Database", "type": "app.Database", "created_at": 0.0,
    ...                           "owner_pid": pid, "hits": 0, "override": False,
    ...                           "resources": resources}],
    ...             "evicted": {}, "inherited_dropped": 0}
    >>> conflicts = detect_conflicts([fake("gw0", 101, ["sqlite:/tmp/app.db"]),
    ...                               fake("gw1", 102, ["sqlite:/tmp/app.db"])])
    >>> [(c.kind.value, c.subject, [h.worker_id for h in c.holders]) for c in conflicts]
    [('shared-resource', 'sqlite:/tmp/app.db', ['gw0', 'gw1'])]
"""

from ._diagnosis.cli import ExitStatus, main
from ._diagnosis.conflicts import Conflict, ConflictKind, Holder, detect_conflicts
from ._diagnosis.files import (
    MAX_SNAPSHOT_BYTES,
    SnapshotError,
    collect_snapshot,
    load_snapshot,
    read_snapshots,
    write_snapshot,
)

__all__ = [
    "MAX_SNAPSHOT_BYTES",
    "Conflict",
    "ConflictKind",
    "ExitStatus",
    "Holder",
    "SnapshotError",
    "collect_snapshot",
    "detect_conflicts",
    "load_snapshot",
    "main",
    "read_snapshots",
    "write_snapshot",
]


def _report_public_module() -> None:
    """Make public classes and functions name this module, as `worker_locator`'s do."""
    namespace = globals()
    for name in __all__:
        if isinstance(namespace[name], type) or callable(namespace[name]):
            namespace[name].__module__ = "worker_locator.diagnosis"


_report_public_module()

if __name__ == "__main__":
    raise SystemExit(main())
