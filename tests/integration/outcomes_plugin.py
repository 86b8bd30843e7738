"""A pytest plugin the harness loads into each generated suite's run: it writes what happened as JSON.

Loaded with `-p tests.integration.outcomes_plugin`; it writes to the file named
by `WL_IT_OUTCOMES`. It records what the controlling process saw, so under
pytest-xdist the worker of each report is known without parsing the terminal
output: the collected node ids, one entry per test phase report (node id,
phase, outcome, worker, the failure's message) and the workers that went
down with an error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

_reports: list[dict[str, Any]] = []
_collected: list[str] = []
_nodes_down: list[dict[str, str]] = []


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Record the collection of a run without xdist (under xdist, the controller collects nothing)."""
    if not _is_worker(session.config) and not _collected:
        _collected.extend(item.nodeid for item in session.items)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """Record the collection the first worker reported; xdist checks that every worker agrees."""
    del node
    if not _collected:
        _collected.extend(ids)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """Record a worker that went down with an error (a crash), not one that finished."""
    if error is not None:
        _nodes_down.append({"worker": str(node.gateway.id), "error": str(error)})


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Record one phase of one test, with the worker that ran it."""
    node = getattr(report, "node", None)
    worker = str(node.gateway.id) if node is not None else "master"
    message = ""
    if report.failed:
        crash = getattr(report.longrepr, "reprcrash", None)
        lines = str(report.longreprtext).strip().splitlines()
        message = str(crash.message).splitlines()[0] if crash is not None else (lines[-1] if lines else "")
    _reports.append(
        {
            "nodeid": report.nodeid,
            "when": report.when,
            "outcome": report.outcome,
            "worker": worker,
            "message": message,
        }
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    """Write everything into `WL_IT_OUTCOMES` from the process that saw every report."""
    target = os.environ.get("WL_IT_OUTCOMES")
    if _is_worker(config) or not target:
        return
    payload = {"collected": _collected, "reports": _reports, "nodes_down": _nodes_down}
    Path(target).write_text(json.dumps(payload, indent=1), encoding="utf-8")
