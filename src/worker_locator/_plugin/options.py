"""The plugin's ini options and command-line flags, checked before any test runs."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pytest

from .support import refuse_unsupported_pytest

__all__ = ["ISOLATION_SCOPES", "STATE", "add_options", "configure", "isolation_scope", "snapshot_directory"]

ISOLATION_SCOPES: Final = ("test", "module", "session", "none")
"""The values of the `locator_isolation` ini option; the first is the default."""

STATE: Final = "worker_locator_state"
"""The name the session object is registered under with pytest's plugin manager."""


def add_options(parser: pytest.Parser) -> None:
    """Add the ini options and the `--locator-snapshot` and `--locator-leftovers` flags."""
    parser.addini(
        "locator_isolation",
        "worker-locator: reset the default locator after each test (default), module, session, or none",
        default=ISOLATION_SCOPES[0],
    )
    parser.addini(
        "locator_count_hits",
        "worker-locator: count cache hits of the default locator exactly (slows every cached lookup)",
        type="bool",
        default=False,
    )
    parser.addini(
        "locator_leftovers",
        "worker-locator: list the tests that left registrations, override blocks or a new locator behind",
        type="bool",
        default=False,
    )
    group = parser.getgroup("worker-locator")
    group.addoption(
        "--locator-snapshot",
        metavar="DIR",
        dest="locator_snapshot",
        default=None,
        help="worker-locator: write each worker's locator snapshot into DIR (created if missing) at the end",
    )
    group.addoption(
        "--locator-leftovers",
        action="store_true",
        dest="locator_leftovers",
        default=False,
        help="worker-locator: list the tests that left state behind which the isolation undid"
        " (also the ini option locator_leftovers)",
    )


def configure(config: pytest.Config) -> None:
    """Check pytest's version and the options, and register the object that holds this session's state.

    The session's module is imported only here, once pytest and pluggy are
    known to be new enough for its hook wrappers.
    """
    refuse_unsupported_pytest()
    from .session import LocatorSession  # noqa: PLC0415 - needs the check above to have passed

    scope = isolation_scope(config)
    snapshots = snapshot_directory(config)
    count_hits = bool(config.getini("locator_count_hits"))
    leftovers = bool(config.getoption("locator_leftovers")) or bool(config.getini("locator_leftovers"))
    session = LocatorSession(config, scope, snapshots, count_hits=count_hits, leftovers=leftovers)
    config.pluginmanager.register(session, STATE)


def isolation_scope(config: pytest.Config) -> str:
    value = config.getini("locator_isolation")
    scope = value.strip() if isinstance(value, str) else value
    if scope not in ISOLATION_SCOPES:
        shown = repr(value)[:80]
        msg = f"locator_isolation = {shown} is not valid; use one of: {', '.join(ISOLATION_SCOPES)}"
        raise pytest.UsageError(msg)
    return str(scope)


def snapshot_directory(config: pytest.Config) -> Path | None:
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
