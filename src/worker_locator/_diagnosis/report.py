"""The report: a table short enough for a terminal or a docs page, or the whole findings as JSON."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping, Sized
from typing import Any, Final

from .conflicts import ADVICE, Conflict, ConflictKind, Holder, process_of
from .locks import lock_lines, lock_uses
from .text import elide

__all__ = ["LINE_WIDTH", "json_report", "table"]

LINE_WIDTH: Final = 80
"""No line of the table is longer, whatever the snapshots hold; `--json` keeps every value whole."""

_SUBJECT_WIDTH: Final = 36
_KIND_WIDTH: Final = max(len("KIND"), *(len(kind.value) for kind in ConflictKind))
_GAP: Final = "  "
_HOLDER_LINES: Final = 4
"""A conflict lists this many processes at most; past it, the first few and how many more."""


def table(snapshots: list[dict[str, Any]], conflicts: list[Conflict]) -> str:
    """Return the report for people: a summary line, one row per conflict, and what fixes each kind.

    Each row names the kind, the subject and the processes involved, one per
    line; the detail follows under the subject. Long cells are shortened in the
    middle, so the output stays in proportion to the number of conflicts.
    """
    holders = [Holder.of(s) for s in snapshots]
    hosts = {h.host for h in holders}
    runs = {h.testrun_uid or h.resource_namespace for h in holders}
    processes = {process_of(h) for h in holders}
    scope = (
        f"{len(snapshots)} snapshot{_s(snapshots)} from {len(processes)} process{_es(processes)}"
        f" ({len(runs)} run{_s(runs)}, {len(hosts)} host{_s(hosts)})"
    )
    locks = lock_lines(lock_uses(snapshots), LINE_WIDTH)
    if not conflicts:
        return "\n".join([f"{scope}: no conflicts", *locks]) + "\n"
    indent = " " * (_KIND_WIDTH + len(_GAP))
    room = LINE_WIDTH - len(indent) - len(_GAP)  # for the subject and the processes
    labels = [
        [h.label(with_host=len(hosts) > 1, with_run=len(runs) > 1) for h in c.holders] for c in conflicts
    ]
    label_width = min(max(len("PROCESSES"), *(len(x) for row in labels for x in row)), room - _SUBJECT_WIDTH)
    subjects = [elide(c.subject, room - label_width) for c in conflicts]
    subject_width = max(len("SUBJECT"), *(len(s) for s in subjects))
    column = len(indent) + subject_width + len(_GAP)
    lines = [f"{scope}: {len(conflicts)} conflict{_s(conflicts)}", ""]
    lines.append(f"{'KIND'.ljust(_KIND_WIDTH)}{_GAP}{'SUBJECT'.ljust(subject_width)}{_GAP}PROCESSES")
    for conflict, subject, row in zip(conflicts, subjects, labels, strict=True):
        shown = [elide(label, LINE_WIDTH - column) for label in row]
        if len(shown) > _HOLDER_LINES:
            more = len(shown) - (_HOLDER_LINES - 1)
            shown = [*shown[: _HOLDER_LINES - 1], elide(f"… and {more} more", LINE_WIDTH - column)]
        first, *others = shown or [""]
        kind = conflict.kind.value.ljust(_KIND_WIDTH)
        lines.append(f"{kind}{_GAP}{subject.ljust(subject_width)}{_GAP}{first}")
        lines.extend(" " * column + label for label in others)
        lines.append(indent + elide(conflict.detail, LINE_WIDTH - len(indent)))
    lines.extend(["", "What usually fixes them:"])
    for kind in dict.fromkeys(c.kind for c in conflicts):
        lines.extend(textwrap.wrap(f"{kind.value}: {ADVICE[kind]}", LINE_WIDTH, subsequent_indent="    "))
    lines.extend(locks)
    return "\n".join(line.rstrip() for line in lines) + "\n"


def json_report(snapshots: list[dict[str, Any]], conflicts: list[Conflict]) -> str:
    """Return the findings as JSON, every value whole: what `--json` prints."""
    document = {
        "snapshots": len(snapshots),
        "processes": len({process_of(Holder.of(s)) for s in snapshots}),
        "conflicts": [conflict.to_dict() for conflict in conflicts],
        "locks": [use.to_dict() for use in lock_uses(snapshots)],
    }
    return as_json(document)


def as_json(document: Mapping[str, Any]) -> str:
    """Return `document` as indented JSON and a final newline."""
    return json.dumps(document, indent=2) + "\n"


def _s(items: Sized) -> str:
    return "" if len(items) == 1 else "s"


def _es(items: Sized) -> str:
    return "" if len(items) == 1 else "es"
