"""The one-process command that replays a worker's order of tests up to a failure.

A short order is printed in full: `pytest -p no:xdist -p no:randomly` and the
node ids. A long one (a worker of a large suite runs tens of thousands of
tests) goes into an argument file, one node id a line, which pytest 8.2 and
later read as `pytest ... @FILE`; for an older pytest the command is a
`python -c` line that passes the file's lines to `pytest.main`. The files are
written under `<tempdir>/worker-locator-<uid>/replay/`, a directory only its
user may enter, at most `MAX_FILES` per process, so that a run where
thousands of tests fail cannot fill the disk with lists.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import pytest

__all__ = ["MAX_FILES", "MAX_INLINE", "WIDTH", "ReplayWriter"]

MAX_INLINE: Final = 8
"""The most node ids printed on the command line itself; longer orders go into a file."""

WIDTH: Final = 74
"""The longest command printed on one line."""

MAX_FILES: Final = 10
"""The most argument files one process writes in a run; later failures get no replay command."""

_PREFIX: Final = ("pytest", "-p", "no:xdist", "-p", "no:randomly")
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_-]")


class ReplayWriter:
    """Builds the replay commands of one process, writing the argument files long orders need."""

    def __init__(self, rootdir: Path, invocation_dir: Path, worker: str) -> None:
        self._rootdir = rootdir
        self._cd = "" if rootdir == invocation_dir else f"cd {shlex.quote(str(rootdir))} && "
        run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid{os.getpid()}"
        self._stem = f"{_UNSAFE.sub('', run)[:16]}-{_UNSAFE.sub('', worker)[:64]}"
        self._written = 0

    def command(self, node_ids: Sequence[str]) -> str:
        """Return the command that runs `node_ids` in this order in one process, or why there is none.

        A command longer than `WIDTH` is continued over several lines (with
        backslashes), one node id a line.
        """
        if len(node_ids) <= MAX_INLINE:
            command = self._cd + shlex.join([*_PREFIX, *node_ids])
            if len(command) <= WIDTH:
                return command
            return " \\\n  ".join([self._cd + shlex.join(_PREFIX), *map(shlex.quote, node_ids)])
        if self._written >= MAX_FILES:
            return (
                f"(not written: this process wrote {MAX_FILES} replay files already;"
                " replay one of the earlier failures)"
            )
        try:
            path = self._write(node_ids)
        except OSError as exc:
            return f"(could not write the replay file: {exc})"
        if _pytest_reads_argument_files():
            return self._cd + shlex.join([*_PREFIX, f"@{path}"])
        code = (
            "import sys, pytest; sys.exit(pytest.main(['-p', 'no:xdist', '-p', 'no:randomly',"
            " *open(sys.argv[1]).read().splitlines()]))"
        )
        return self._cd + shlex.join(["python", "-c", code, str(path)])

    def _write(self, node_ids: Sequence[str]) -> Path:
        directory = _private_directory()
        self._written += 1
        path = directory / f"{self._stem}-{len(node_ids)}.args"
        partial = path.with_suffix(".partial")
        with partial.open("w", encoding="utf-8") as file:
            for node_id in node_ids:
                file.write(node_id)
                file.write("\n")
        partial.replace(path)
        return path


def _pytest_reads_argument_files() -> bool:
    """Whether this pytest expands `@FILE` arguments (8.2 and later)."""
    match = re.match(r"(\d+)\.(\d+)", pytest.__version__)
    return match is not None and (int(match[1]), int(match[2])) >= (8, 2)


def _private_directory() -> Path:
    """Return `<tempdir>/worker-locator-<uid>/replay`, created mode 0700; refuse it if others may use it."""
    path = Path(tempfile.gettempdir()) / f"worker-locator-{os.getuid()}"
    for directory in (path, path / "replay"):
        directory.mkdir(mode=0o700, exist_ok=True)
        info = directory.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
            msg = f"{directory} must be a directory only uid {os.getuid()} can use; remove it"
            raise OSError(msg)
    return path / "replay"
