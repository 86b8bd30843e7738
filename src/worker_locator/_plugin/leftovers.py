"""The leftovers report: the tests that left state behind at their end, which the isolation undid.

Off by default; `--locator-leftovers` (or the ini option `locator_leftovers =
true`) turns it on. A test that leaves registrations, open `override` blocks
or a new default locator behind passes with the plugin, whose reset undoes
them, and pollutes the tests after it without the plugin or with a wider
isolation unit. Each process lists at most 1,000 such tests, and counts the
rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

__all__ = ["describe", "print_leftovers"]

_SHOWN_KEYS = 5


def print_leftovers(
    terminalreporter: pytest.TerminalReporter,
    workers: Mapping[str, dict[str, Any] | None],
    *,
    order: Callable[[str], Any],
) -> None:
    """Print the `worker-locator: state left behind` section, if a test left some, or the locator was used."""
    lines: list[str] = []
    used = False
    for name in sorted(workers, key=order):
        figures = workers[name]
        if not figures:
            continue
        used = used or bool(figures.get("used") or figures.get("recorded"))
        found = figures.get("leftovers") or {"tests": [], "more": 0}
        lines.extend(f"{name} {test['test']}: {describe(test)}" for test in found["tests"])
        if found["more"]:
            lines.append(f"{name}: and {found['more']} more tests (only the first 1,000 are listed)")
    if not lines and not used:
        return
    terminalreporter.section("worker-locator: state left behind")
    if not lines:
        terminalreporter.line("no test left registrations, override blocks or a new default locator behind")
    for line in lines:
        terminalreporter.line(line)


def describe(test: Mapping[str, Any]) -> str:
    """Return what one test left behind, in words."""
    parts = []
    registrations: list[str] = test["registrations"]
    if registrations:
        parts.append(_count(len(registrations), "registration") + _names(registrations))
    overrides: list[str] = test["overrides"]
    blocks = max(int(test["open_blocks"]), len(overrides))
    if blocks:
        parts.append(_count(blocks, "override block") + " left open" + _names(overrides))
    if test["replaced_locator"]:
        parts.append("replaced the default locator")
    return ", ".join(parts)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _names(names: list[str]) -> str:
    if not names:
        return ""
    shown = ", ".join(repr(name[:60]) for name in names[:_SHOWN_KEYS])
    more = f", and {len(names) - _SHOWN_KEYS} more" if len(names) > _SHOWN_KEYS else ""
    return f" ({shown}{more})"
