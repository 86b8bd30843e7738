"""A lock for a resource that cannot be namespaced: one holder across a run's workers, or the machine's runs.

The lock is an OS-level `flock` taken through `filelock`, so the kernel
releases it when its holder dies, however it dies. Beside each lock file a
small JSON record names the current holder (worker, pid, test), which is
what a waiter's timeout message reports.

Where the lock files live:

- scope `"run"` in a pytest-xdist worker: a directory of that run, named
  after the run's controller process (the worker's parent) and its
  `PYTEST_XDIST_TESTRUNUID`, so two runs given the same `--testrunuid` still
  get two directories. Directories of runs whose controller has exited are
  removed when a new one is made.
- scope `"run"` anywhere else (`-n 0`, `-p no:xdist`, outside pytest): the
  run is this one process, so the lock is an in-process lock between its
  threads and touches no file.
- scope `"machine"`: one directory for every run of this user on this
  machine.

All of them are under `<tempdir>/worker-locator-<uid>/`, a directory only its
user may enter (`TMPDIR` moves it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import secrets
import shutil
import stat
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn, Protocol

from ._fork import fork_generation, watch_forks
from ._identity import worker_id

if TYPE_CHECKING:
    from filelock import UnixFileLock

__all__ = [
    "SCOPES",
    "ExclusiveResource",
    "ResourceBusyError",
    "exclusive",
    "hold_until_closed",
    "lock_statistics",
    "locks_asked_for",
]

Scope = Literal["run", "machine"]
SCOPES: Final = ("run", "machine")

_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+=-]{0,99}")
_RUN_DIRECTORY: Final = re.compile(r"run-(?P<pid>[0-9]+)-[0-9a-f]{16}")
_MAX_WAITED_FOR: Final = 10
_SHOWN_NAME: Final = 80  # characters of a refused name shown in its error
_SHOWN_MAX: Final = 200  # characters of a holder field shown in a message
_PHASES: Final = frozenset({"setup)", "call)", "teardown)"})
_POLL: Final = 0.02  # seconds between attempts on a contended file lock
# The controller of an xdist run is the worker's parent; read it at import, before any fork.
_PARENT_AT_IMPORT: Final = os.getppid()


class ResourceBusyError(TimeoutError):
    """Raised by [`exclusive`][] when the resource is still held after `timeout` seconds.

    Its message is one line naming the holder: worker, pid and test.

    Attributes:
        name: The resource's name.
        scope: `"run"` or `"machine"`.
        timeout: The seconds waited.
        holder: The holder's record (`worker`, `pid`, `test`, `since`), or `None` if it left none.
    """

    def __init__(self, name: str, scope: str, timeout: float, holder: dict[str, Any] | None) -> None:
        self.name = name
        self.scope = scope
        self.timeout = timeout
        self.holder = holder
        super().__init__(_busy_message(name, scope, timeout, holder))


class ExclusiveResource(Protocol):
    """The type of the `exclusive_resource` fixture, for annotating tests."""

    def __call__(
        self, name: str, *, scope: Literal["run", "machine"] = "run", timeout: float = 300.0
    ) -> None:
        """Hold `exclusive(name, scope=scope, timeout=timeout)` until the test ends."""
        ...  # pragma: no cover - a protocol method


@dataclass
class _Slot:
    """One lock as this process sees it: the threads' guard, the file lock and the current hold."""

    path: Path | None  # the lock file; None for a run that is this one process
    guard: threading.Lock = field(default_factory=threading.Lock)
    file: UnixFileLock | None = None
    owner: int | None = None  # the holding thread's ident
    depth: int = 0
    holder: dict[str, Any] | None = None
    acquired_at: float = 0.0
    generation: int = field(default_factory=fork_generation)  # a forked child must not release it


@dataclass
class _Statistics:
    """What one test did with one lock in this process."""

    name: str
    scope: str
    test: str | None
    acquisitions: int = 0
    timeouts: int = 0
    wait_seconds: float = 0.0
    max_wait_seconds: float = 0.0
    hold_seconds: float = 0.0
    max_hold_seconds: float = 0.0
    waited_for: list[dict[str, Any]] = field(default_factory=list)

    def held(self, seconds: float) -> None:
        with _registry.lock:
            self.hold_seconds += seconds
            self.max_hold_seconds = max(self.max_hold_seconds, seconds)

    def waited(self, seconds: float, holder: dict[str, Any] | None, *, acquired: bool) -> None:
        with _registry.lock:
            self.acquisitions += acquired
            self.timeouts += not acquired
            self._waited(seconds, holder)

    def _waited(self, seconds: float, holder: dict[str, Any] | None) -> None:
        self.wait_seconds += seconds
        self.max_wait_seconds = max(self.max_wait_seconds, seconds)
        if holder is None:
            return
        who = {key: holder.get(key) for key in ("worker", "pid", "test")}
        if who not in self.waited_for and len(self.waited_for) < _MAX_WAITED_FOR:
            self.waited_for.append(who)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "scope": self.scope,
            "test": self.test,
            "acquisitions": self.acquisitions,
            "timeouts": self.timeouts,
            "wait_seconds": round(self.wait_seconds, 6),
            "max_wait_seconds": round(self.max_wait_seconds, 6),
            "hold_seconds": round(self.hold_seconds, 6),
            "max_hold_seconds": round(self.max_hold_seconds, 6),
            "waited_for": [dict(who) for who in self.waited_for],
        }


class _Registry:
    """This process's locks and figures; a forked child starts with none (it inherits no hold)."""

    def __init__(self) -> None:
        self._reset()
        watch_forks(self)

    def _reset(self) -> None:
        self.lock = threading.Lock()
        self.slots: dict[tuple[str, str], _Slot] = {}
        self.statistics: dict[tuple[str, str, str | None], _Statistics] = {}
        self.by_test: dict[str | None, set[str]] = {}  # the lock names each test asked for

    def _after_fork_in_child(self) -> None:
        # The parent's holds stay the parent's: drop them here, never release them.
        self._reset()

    def slot(self, name: str, scope: Scope) -> _Slot:
        with self.lock:
            directory = _lock_directory(scope)
            key = (str(directory), name)
            slot = self.slots.get(key)
            if slot is None:
                slot = self.slots[key] = _Slot(None if directory is None else directory / f"{name}.lock")
            return slot

    def figures(self, name: str, scope: str, test: str | None) -> _Statistics:
        with self.lock:
            key = (scope, name, test)
            figures = self.statistics.get(key)
            if figures is None:
                figures = self.statistics[key] = _Statistics(name, scope, test)
                self.by_test.setdefault(test, set()).add(name)
            return figures


_registry = _Registry()


def lock_statistics() -> list[dict[str, Any]]:
    """Return what each test did with each lock in this process: acquisitions, waits, holds, timeouts.

    One entry per (scope, name, test), sorted; `waited_for` lists the holders
    (worker, pid, test) a test found in its way, at most ten.
    """
    with _registry.lock:
        entries = [figures.to_dict() for figures in _registry.statistics.values()]
    return sorted(entries, key=lambda e: (e["scope"], e["name"], e["test"] or ""))


def locks_asked_for(test: str) -> frozenset[str]:
    """Return the names of the locks the test `test` (a node id) asked for in this process, at once."""
    with _registry.lock:
        return frozenset(_registry.by_test.get(test, ()))


def exclusive(
    name: str, *, scope: Literal["run", "machine"] = "run", timeout: float = 300.0
) -> contextlib.AbstractContextManager[None]:
    """Hold the resource `name` alone: no other worker of this run (or no other run) holds it meanwhile.

    For what cannot take a per-worker name: a fixed port a third-party tool
    insists on, one sandbox account, a device. The lock is released when the
    block ends, and by the kernel when the holding process dies, so a crashed
    or killed worker never leaves it held.

    Threads of one process exclude each other too. The lock is re-entrant in
    the thread that holds it: a nested `exclusive(name)` there returns at once,
    and the lock is released when the outermost block ends.

    Args:
        name: The resource, 1 to 100 characters from `A-Z a-z 0-9 . _ - : @ + =`,
            starting with a letter or digit (it becomes a file name): `port-8765`,
            `sandbox:eu-account`.
        scope: `"run"` (the default): the workers of this pytest-xdist run; without
            xdist a run is one process. `"machine"`: every run of this user on this machine.
        timeout: Seconds to wait for the holder to let go.

    Raises:
        ResourceBusyError: The resource was still held after `timeout` seconds;
            the message names the holder.
        ValueError: `name`, `scope` or `timeout` is not valid.

    Examples:
        >>> with exclusive("sandbox-account"):
        ...     with exclusive("sandbox-account"):  # the same thread may nest it
        ...         print("held")
        held
    """
    _check(name, scope, timeout)  # at the call, so that a bad name fails where it is written
    return _held(name, scope, timeout)


@contextlib.contextmanager
def _held(name: str, scope: Scope, timeout: float) -> Iterator[None]:
    slot = _registry.slot(name, scope)
    me = threading.get_ident()
    if slot.owner == me:  # only this thread ever sets `owner` to its own ident
        slot.depth += 1
        try:
            yield
        finally:
            slot.depth -= 1
        return
    request = _Request(name, scope, timeout, _registry.figures(name, scope, _current_test()))
    _acquire(slot, request)
    figures = request.figures
    slot.owner, slot.depth = me, 1
    try:
        yield
    finally:
        figures.held(time.monotonic() - slot.acquired_at)
        _release(slot)


def hold_until_closed(stack: contextlib.ExitStack) -> ExclusiveResource:
    """Return the `exclusive_resource` fixture's function: each call holds a lock until `stack` closes."""

    def hold(name: str, *, scope: Literal["run", "machine"] = "run", timeout: float = 300.0) -> None:
        stack.enter_context(exclusive(name, scope=scope, timeout=timeout))

    return hold


# -- acquiring and releasing --------------------------------------------------


@dataclass
class _Request:
    """One call's wish to hold a lock: what, how long it may wait, and where its figures go."""

    name: str
    scope: Scope
    timeout: float
    figures: _Statistics
    started: float = field(default_factory=time.monotonic)

    def remaining(self) -> float:
        return max(0.0, self.timeout - (time.monotonic() - self.started))

    def give_up(self, holder: dict[str, Any] | None) -> NoReturn:
        self.figures.waited(time.monotonic() - self.started, holder, acquired=False)
        raise ResourceBusyError(self.name, self.scope, self.timeout, holder) from None


def _acquire(slot: _Slot, request: _Request) -> None:
    """Take the threads' guard, then the file lock, within the timeout; record the hold and the wait."""
    in_the_way: dict[str, Any] | None = None
    if not slot.guard.acquire(blocking=False):
        in_the_way = slot.holder
        if not slot.guard.acquire(timeout=request.timeout):
            request.give_up(slot.holder or in_the_way)
    try:
        if slot.path is not None:
            in_the_way = _acquire_file(slot, slot.path, request) or in_the_way
        slot.acquired_at = time.monotonic()
        slot.holder = _holder_record(request.figures.test)
        if slot.path is not None:
            _write_record(slot.path, slot.holder)
    except BaseException:
        _release_file(slot)
        slot.guard.release()
        raise
    request.figures.waited(slot.acquired_at - request.started, in_the_way, acquired=True)


def _acquire_file(slot: _Slot, path: Path, request: _Request) -> dict[str, Any] | None:
    """Take the file lock; return the holder found in the way, if there was one."""
    # Imported here: importing filelock costs tens of milliseconds, which a session without a
    # cross-process lock (every session of a suite that does not use exclusive()) never pays.
    from filelock import Timeout, UnixFileLock  # noqa: PLC0415

    if slot.file is None:
        slot.file = UnixFileLock(path, mode=0o600, thread_local=False, fallback_to_soft=False)
    in_the_way = None
    try:
        try:
            slot.file.acquire(blocking=False)
        except Timeout:
            # The holder writes its record just after it takes the lock: until the record is there,
            # wait in short steps and look again, so the wait is put down to the right holder.
            in_the_way = _read_record(path)
            while True:
                step = request.remaining() if in_the_way is not None else min(request.remaining(), _POLL)
                try:
                    slot.file.acquire(timeout=step, poll_interval=_POLL)
                    break
                except Timeout:
                    if request.remaining() <= 0:
                        request.give_up(_read_record(path) or in_the_way)
                    in_the_way = _read_record(path)
    except TimeoutError:  # ResourceBusyError; an OSError too, but not one to reword
        raise
    except OSError as exc:
        msg = (
            f"exclusive({request.name!r}): cannot lock {path} ({exc.strerror or exc});"
            " point TMPDIR at a local file system that supports flock"
        )
        raise OSError(exc.errno, msg) from None
    return in_the_way


def _release(slot: _Slot) -> None:
    if slot.generation != fork_generation():
        return  # inherited across fork: the hold is the parent's, and unlocking would end it there too
    slot.owner, slot.depth, slot.holder = None, 0, None
    try:
        if slot.path is not None:
            with contextlib.suppress(FileNotFoundError):
                slot.path.with_suffix(".holder").unlink()
    finally:
        try:
            _release_file(slot)
        finally:
            slot.guard.release()


def _release_file(slot: _Slot) -> None:
    if slot.file is not None and slot.file.is_locked:
        slot.file.release(force=True)


# -- the holder's record ------------------------------------------------------


def _current_test() -> str | None:
    """Return the node id of the test pytest is running in this process, if any."""
    value = os.environ.get("PYTEST_CURRENT_TEST")
    if not value:
        return None
    test, _, phase = value.rpartition(" (")  # "path::name (call)"
    return test if test and phase in _PHASES else value


_workers: dict[tuple[str | None, int], str] = {}


def _worker() -> str:
    """Return `worker_id()`, remembered per value of `PYTEST_XDIST_WORKER` and pid (it is costly)."""
    key = (os.environ.get("PYTEST_XDIST_WORKER"), os.getpid())
    worker = _workers.get(key)
    if worker is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # worker_id() warns once elsewhere
            worker = _workers[key] = worker_id()
    return worker


def _holder_record(test: str | None) -> dict[str, Any]:
    return {
        "worker": _worker(),
        "pid": os.getpid(),
        "test": test,
        "thread": threading.current_thread().name,
        "since": time.time(),
    }


def _write_record(lock_file: Path, record: dict[str, Any]) -> None:
    """Write the holder's record beside the lock file, atomically (a reader sees all of it or none)."""
    target = lock_file.with_suffix(".holder")
    partial = lock_file.with_name(f"{lock_file.stem}.holder.{secrets.token_hex(8)}.tmp")
    partial.write_text(json.dumps(record), encoding="utf-8")
    partial.replace(target)


def _read_record(lock_file: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(lock_file.with_suffix(".holder").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _busy_message(name: str, scope: str, timeout: float, holder: dict[str, Any] | None) -> str:
    where = "" if scope == "run" else f", scope={scope!r}"
    head = f"exclusive({name!r}{where}) gave up after {timeout:g}s: "
    if holder is None:
        return head + "held by a holder that left no record; look for a process still running from an old run"
    pid = holder.get("pid")
    test = holder.get("test")
    since = holder.get("since")
    thread = f", thread {_shown(holder.get('thread'))}" if pid == os.getpid() else ""
    who = f"held by worker {_shown(holder.get('worker'))} (pid {_shown(pid)}{thread})"
    who += f" in test {_shown(test)}" if test else " outside any test"
    if isinstance(since, (int, float)) and not isinstance(since, bool):
        who += f" for {max(0.0, time.time() - since):.1f}s"
    if isinstance(pid, int) and not isinstance(pid, bool) and pid != os.getpid() and not _alive(pid):
        who += " (that process has exited: the record is stale, and whoever holds the lock now left none)"
    return head + who + "; wait longer (timeout=) or hold it for less time"


def _shown(value: object) -> str:
    text = "".join(c if c.isprintable() else "?" for c in str(value))
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 3] + "..."


def _alive(pid: int) -> bool:
    """Return whether `pid` is a running process (a zombie, killed but not yet reaped, is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True  # no /proc here: the signal check is all there is
    return status.rpartition(")")[2].split()[:1] != ["Z"]


# -- where the lock files live -----------------------------------------------


def _check(name: object, scope: object, timeout: object) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        shown = repr(name) if len(repr(name)) <= _SHOWN_NAME else repr(name)[: _SHOWN_NAME - 3] + "..."
        msg = (
            f"exclusive({shown}): a resource name is 1 to 100 characters from A-Z a-z 0-9 . _ - : @ + =,"
            " starting with a letter or digit (it becomes a file name), for example 'port-8765'"
        )
        raise ValueError(msg)
    if scope not in SCOPES:
        msg = f"exclusive({name!r}, scope={repr(scope)[:40]}): scope is 'run' or 'machine'"
        raise ValueError(msg)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not math.isfinite(timeout)
        or timeout < 0
    ):
        msg = f"exclusive({name!r}, timeout={repr(timeout)[:40]}): timeout is a finite number of seconds >= 0"
        raise ValueError(msg)


def _lock_directory(scope: Scope) -> Path | None:
    """Return the directory of this scope's lock files; `None` where the run is this process alone."""
    if scope == "machine":
        return _private_directory(_root() / "machine")
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return None
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")
    digest = hashlib.blake2b(f"{run}\0{_PARENT_AT_IMPORT}".encode(), digest_size=8).hexdigest()
    directory = _root() / f"run-{_PARENT_AT_IMPORT}-{digest}"
    if directory not in _checked and not directory.is_dir():
        _remove_finished_runs(directory.parent)
    return _private_directory(directory)


def _root() -> Path:
    return _private_directory(Path(tempfile.gettempdir()) / f"worker-locator-{os.getuid()}")


_checked: set[Path] = set()  # directories already found private, so the check is once per process


def _private_directory(path: Path) -> Path:
    """Create `path` (mode 0700) if missing; refuse it unless it is a directory only this user can use."""
    if path in _checked:
        return path
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        msg = (
            f"worker-locator: {path} must be a directory that only uid {os.getuid()} can use"
            f" (it is mode {stat.filemode(info.st_mode)}, owner uid {info.st_uid});"
            " remove it, or point TMPDIR elsewhere"
        )
        raise PermissionError(msg)
    _checked.add(path)
    return path


def _remove_finished_runs(root: Path) -> None:
    """Remove the lock directories of runs whose controller process has exited."""
    try:
        entries = list(root.iterdir())
    except OSError:
        return
    for entry in entries:
        match = _RUN_DIRECTORY.fullmatch(entry.name)
        if match and not _alive(int(match["pid"])):
            shutil.rmtree(entry, ignore_errors=True)
