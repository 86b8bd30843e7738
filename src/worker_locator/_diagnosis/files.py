"""Snapshot files: taking, writing and reading them, with one clear error per unusable input."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final, cast

from worker_locator import ServiceLocator, get_locator

from .locks import check_locks
from .text import elide
from .validation import InvalidSnapshotError, NewerFormatError, check_snapshot

__all__ = [
    "MAX_SNAPSHOT_BYTES",
    "SnapshotError",
    "collect_snapshot",
    "load_snapshot",
    "read_all",
    "read_snapshots",
    "write_snapshot",
]

MAX_SNAPSHOT_BYTES: Final = 16 * 1024 * 1024
"""The largest file [`load_snapshot`][] reads: far above any real snapshot, far below a memory problem."""

_UNSAFE_NAME: Final = re.compile(r"[^a-z0-9_]+")
_SNAPSHOT_SUFFIX: Final = ".json"
_TOO_LARGE: Final = (
    f"larger than {MAX_SNAPSHOT_BYTES} bytes, too large to be a snapshot; is it the right file?"
)
_PATH_WIDTH: Final = 300
_PROBLEM_WIDTH: Final = 500


class SnapshotError(ValueError):
    """Raised for an input that cannot be read as a snapshot: its path and what is wrong with it.

    `str()` of it is one line, `<path>: <problem>`, which is what the command
    line prints; a very long path or problem is shortened in the middle.

    Attributes:
        path: The file or directory.
        problem: What is wrong, and where that helps, what to do.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{elide(str(self.path), _PATH_WIDTH)}: {elide(problem, _PROBLEM_WIDTH)}")


# -- writing ------------------------------------------------------------------


def collect_snapshot(locator: ServiceLocator | None = None) -> dict[str, Any]:
    """Return a snapshot of `locator`, by default this process's default locator.

    Args:
        locator: The locator to describe;
            [`worker_locator.get_locator()`][worker_locator.get_locator] if omitted.

    Returns:
        What [`ServiceLocator.snapshot`][] returns: a dict of JSON types.

    Examples:
        >>> from worker_locator import ServiceLocator
        >>> locator = ServiceLocator()
        >>> locator.register("answer", lambda: 42)
        >>> _ = locator.get("answer")
        >>> [service["key"] for service in collect_snapshot(locator)["services"]]
        ['answer']
    """
    return (get_locator() if locator is None else locator).snapshot()


def write_snapshot(directory: str | os.PathLike[str], snapshot: Mapping[str, Any] | None = None) -> Path:
    """Write a snapshot as JSON into `directory`, atomically, under a name no other process uses.

    The file is written to a temporary name in the same directory, flushed to
    disk, then renamed, so a reader never sees half a snapshot. The name is
    `locator-<resource namespace>-<random>.json`: the namespace differs per
    worker, run, host and process, and the random part per call.

    Args:
        directory: Where to write; it must exist.
        snapshot: What to write; [`collect_snapshot()`][collect_snapshot] if omitted.

    Returns:
        The path of the written file.

    Raises:
        SnapshotError: `snapshot` is not a valid snapshot.
        OSError: The directory is missing or not writable.

    Examples:
        >>> import tempfile
        >>> from worker_locator import ServiceLocator
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = write_snapshot(folder, collect_snapshot(ServiceLocator()))
        ...     load_snapshot(path)["services"]
        []
    """
    data = collect_snapshot() if snapshot is None else snapshot
    folder = Path(directory)
    try:
        check_snapshot(data)
        check_locks(data)
    except InvalidSnapshotError as exc:
        raise SnapshotError(folder, f"refusing to write an invalid snapshot: {exc}") from None
    text = json.dumps(data, indent=1, sort_keys=True, allow_nan=False) + "\n"
    namespace = _UNSAFE_NAME.sub("_", str(data["resource_namespace"]).lower())[:63] or "unknown"
    target = folder / f"locator-{namespace}-{secrets.token_hex(6)}{_SNAPSHOT_SUFFIX}"
    fd, temporary = tempfile.mkstemp(prefix=".locator-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        Path(temporary).replace(target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(temporary).unlink()
        raise
    return target


# -- reading ------------------------------------------------------------------


def load_snapshot(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read one snapshot file and check that it is one.

    Args:
        path: A JSON file written by [`write_snapshot`][] or the pytest plugin.

    Returns:
        The snapshot.

    Raises:
        SnapshotError: The file is missing, a symbolic link loop, not a
            regular file, too large, binary, not JSON, truncated, too deeply
            nested, not a snapshot, holds implausible values (such as a pid
            no system hands out), or is of a newer snapshot format.
    """
    file = Path(path)
    raw = _read_bytes(file)
    data = _parse(file, raw)
    try:
        check_snapshot(data)
        check_locks(data)
    except NewerFormatError as exc:
        raise SnapshotError(file, str(exc)) from None
    except InvalidSnapshotError as exc:
        raise SnapshotError(file, f"not a worker-locator snapshot: {exc}") from None
    return cast("dict[str, Any]", data)  # check_snapshot proved it is one


def read_snapshots(*paths: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read the snapshots in directories (their `*.json` files) and files, in name order.

    Args:
        *paths: Directories written by `--locator-snapshot`, or snapshot files.

    Returns:
        Every snapshot, each file read once.

    Raises:
        ExceptionGroup: One [`SnapshotError`][] per unusable input: a missing
            directory, a directory without snapshots, a symbolic link loop,
            or a file that [`load_snapshot`][] rejects. Nothing is returned then,
            since a diagnosis that skips inputs could call a conflicting run clean.
    """
    snapshots, errors = read_all(paths)
    if errors:
        msg = f"{len(errors)} unusable snapshot input{'s' if len(errors) > 1 else ''}"
        raise ExceptionGroup(msg, errors)
    return snapshots


def read_all(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[dict[str, Any]], list[SnapshotError]]:
    """Read what `read_snapshots` reads; return the snapshots and the errors instead of raising."""
    files: dict[tuple[int, int], Path] = {}  # by device and inode: a file given twice is read once
    errors: list[SnapshotError] = []
    for given in paths:
        path = Path(given)
        try:
            info = path.stat()
        except OSError as exc:
            errors.append(SnapshotError(path, _os_problem(path, exc)))
            continue
        if not stat.S_ISDIR(info.st_mode):
            files.setdefault((info.st_dev, info.st_ino), path)
            continue
        try:
            with os.scandir(path) as entries:
                names = sorted(
                    e.name
                    for e in entries
                    if e.name.endswith(_SNAPSHOT_SUFFIX) and not e.name.startswith(".")
                )
        except OSError as exc:
            errors.append(SnapshotError(path, f"cannot list it: {_os_problem(path, exc)}"))
            continue
        if not names:
            problem = (
                "no snapshot files (*.json) in this directory; run pytest with --locator-snapshot DIR first"
            )
            errors.append(SnapshotError(path, problem))
        for name in names:
            file = path / name
            try:
                info = file.stat()
            except OSError as exc:
                errors.append(SnapshotError(file, _os_problem(file, exc)))
                continue
            files.setdefault((info.st_dev, info.st_ino), file)
    snapshots: list[dict[str, Any]] = []
    for file in files.values():
        try:
            snapshots.append(load_snapshot(file))
        except SnapshotError as exc:
            errors.append(exc)
    return snapshots, errors


def _read_bytes(file: Path) -> bytes:
    try:
        # Non-blocking, so that a FIFO named like a snapshot is refused instead of waited on.
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise SnapshotError(file, _os_problem(file, exc)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SnapshotError(file, "not a regular file")
        if info.st_size > MAX_SNAPSHOT_BYTES:
            raise SnapshotError(file, _TOO_LARGE)
        with os.fdopen(fd, "rb", closefd=False) as stream:
            raw = stream.read(MAX_SNAPSHOT_BYTES + 1)
    except OSError as exc:
        raise SnapshotError(file, f"cannot read it: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(raw) > MAX_SNAPSHOT_BYTES:
        raise SnapshotError(file, _TOO_LARGE)
    return raw


def _os_problem(path: Path, exc: OSError) -> str:
    """Say in words why `path` cannot be opened: a link loop, a broken link, a missing file."""
    if exc.errno == errno.ELOOP:
        return (
            "a symbolic link loop (following its links leads back to one of them, or goes on for too"
            " many links); fix or remove the link"
        )
    if exc.errno in {errno.ENOENT, errno.ENOTDIR}:
        with contextlib.suppress(OSError):
            if path.is_symlink():
                return "a broken symbolic link: what it points to does not exist"
        return "no such file or directory"
    if exc.errno in {errno.EACCES, errno.EPERM}:
        return "permission denied"
    return f"cannot open it: {exc.strerror or exc}"


def _parse(file: Path, raw: bytes) -> Any:
    if b"\0" in raw:
        raise SnapshotError(file, "binary data (NUL bytes), not a JSON snapshot")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SnapshotError(file, f"not UTF-8 text (byte {exc.start}), so not a JSON snapshot") from None
    if not text.strip():
        raise SnapshotError(file, "empty file; a snapshot is never empty (was its writer killed?)")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
            problem = (
                f"truncated JSON: it stops before the document is complete ({exc.msg}, line {exc.lineno})"
            )
        else:
            problem = f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        raise SnapshotError(file, problem) from None
    except RecursionError:
        raise SnapshotError(file, "JSON nested too deeply to be a snapshot") from None
    except ValueError as exc:  # out-of-range numbers, NaN and Infinity
        raise SnapshotError(file, f"not valid JSON: {exc}") from None


def _reject_constant(name: str) -> Any:
    msg = f"{name} is not a JSON number"
    raise ValueError(msg)
