"""The `worker-locator-diagnose` command line and its exit statuses."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from enum import IntEnum
from typing import Final, NoReturn

from .conflicts import detect_conflicts
from .files import read_all
from .report import as_json, json_report, table
from .text import elide

__all__ = ["ExitStatus", "main"]

_PROG: Final = "worker-locator-diagnose"
_MESSAGE_WIDTH: Final = 1000
"""No line the command writes to standard error is longer."""


class ExitStatus(IntEnum):
    """What the exit status of `worker-locator-diagnose` (and [`main`][]) means."""

    CLEAN = 0
    """Every snapshot was read, and no conflict was found."""
    CONFLICTS = 1
    """Every snapshot was read, and conflicts were found: the report lists them."""
    UNUSABLE_INPUT = 2
    """An input could not be used (one line per input on standard error), or the command line was wrong."""
    INTERNAL_ERROR = 3
    """The diagnosis itself failed: a bug in worker-locator, to be reported; nothing was diagnosed."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose error line is bounded, however long the argument it quotes."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(ExitStatus.UNUSABLE_INPUT, f"{self.prog}: error: {elide(message, _MESSAGE_WIDTH)}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the diagnosis command line; return its exit status.

    Args:
        argv: The arguments, without the program name; `sys.argv[1:]` if omitted.

    Returns:
        An [`ExitStatus`][]: 0 when the snapshots are clean, 1 when conflicts were
            found, 2 when an input is unusable (one line per problem on standard
            error), 3 when the diagnosis itself failed (one line naming the error).
    """
    parser = _Parser(
        prog=_PROG,
        description=(
            "Report where pytest-xdist workers and test runs collide, from the snapshots that"
            " `pytest --locator-snapshot DIR` wrote. Exit 0 when clean, 1 on conflicts, 2 on unusable"
            " input, 3 on an internal error (please report it)."
        ),
    )
    parser.add_argument(
        "paths", nargs="+", metavar="DIR", help="a snapshot directory (its *.json files) or a snapshot file"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table, for CI")
    args = parser.parse_args(argv)
    try:
        status, output = _diagnose(args.paths, as_data=args.json)
    except Exception as exc:  # noqa: BLE001 - the boundary: a bug must not pass for a diagnosis
        message = elide(
            f"internal error, nothing was diagnosed: {_describe(exc)}; this is a bug in"
            " worker-locator, please report it with this line and the snapshots",
            _MESSAGE_WIDTH,
        )
        _say(message)
        output = as_json({"internal_error": message}) if args.json else ""
        status = ExitStatus.INTERNAL_ERROR
    try:
        sys.stdout.write(output)
        sys.stdout.flush()
    except BrokenPipeError:
        _stop_writing_to_stdout()  # the reader left (`| head`): the status still says what was found
    return status


def _diagnose(paths: Sequence[str], *, as_data: bool) -> tuple[ExitStatus, str]:
    """Return the exit status and what to print; report unusable inputs on standard error."""
    snapshots, errors = read_all(paths)
    if errors:
        for error in errors:
            _say(str(error))
        document = {"errors": [{"path": str(e.path), "problem": e.problem} for e in errors]}
        return ExitStatus.UNUSABLE_INPUT, as_json(document) if as_data else ""
    conflicts = detect_conflicts(snapshots)
    status = ExitStatus.CONFLICTS if conflicts else ExitStatus.CLEAN
    return status, json_report(snapshots, conflicts) if as_data else table(snapshots, conflicts)


def _describe(exc: Exception) -> str:
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - an exception whose str() fails is still named
        text = "(its message cannot be shown)"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _say(message: str) -> None:
    sys.stderr.write(f"{_PROG}: {elide(message, _MESSAGE_WIDTH)}\n")


def _stop_writing_to_stdout() -> None:
    # Python flushes stdout again at exit; pointing it at /dev/null keeps that quiet.
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
