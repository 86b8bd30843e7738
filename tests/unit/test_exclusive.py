"""exclusive(name): names, scopes, where files live, threads, re-entrancy, holder death, forks, figures."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.helpers import ChildRunner
from worker_locator import ResourceBusyError, exclusive
from worker_locator import _exclusive as module
from worker_locator._exclusive import lock_statistics

JOIN_TIMEOUT = 30.0  # a guard against hanging the suite on a deadlock, never a measurement
UID = os.getuid()


@pytest.fixture(name="lock_root")
def _lock_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put every lock directory under this test's tmp_path (as TMPDIR would), and return the root."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path / f"worker-locator-{UID}"


@pytest.fixture(name="one_process")
def _one_process(monkeypatch: pytest.MonkeyPatch, lock_root: Path) -> Path:
    """Make this process a run of its own, as with `-n 0`, `-p no:xdist` or outside pytest."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_TESTRUNUID", raising=False)
    return lock_root


@pytest.fixture(name="xdist_worker")
def _xdist_worker(monkeypatch: pytest.MonkeyPatch, lock_root: Path) -> Path:
    """Make this process look like worker gw7 of a pytest-xdist run."""
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw7")
    monkeypatch.setenv("PYTEST_XDIST_TESTRUNUID", "0123abcd")
    return lock_root


@pytest.fixture(name="name")
def _name() -> str:
    """A resource name no other test uses: the process's lock table outlives one test."""
    return f"res-{uuid.uuid4().hex[:12]}"


@pytest.fixture(name="where", params=["one process", "xdist worker", "machine"])
def _where(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, lock_root: Path) -> str:
    """Run the test with the in-process lock, the run's file lock and the machine's file lock."""
    del lock_root  # requested for its TMPDIR
    if request.param == "one process":
        monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    else:
        monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw7")
    return "machine" if request.param == "machine" else "run"


def _thread(target: Any) -> threading.Thread:
    thread = threading.Thread(target=target)
    thread.start()
    return thread


def _joined(*threads: threading.Thread) -> None:
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a thread is still blocked: a deadlock"


# -- what is refused ----------------------------------------------------------


@pytest.mark.parametrize(
    "bad", ["", "../etc", "a/b", ".hidden", "-x", "a b", "tab\there", "new\nline", "é", "a" * 101, 8765, None]
)
def test_a_name_that_cannot_be_a_file_name_is_refused_in_one_line(bad: object) -> None:
    refused = r"^exclusive\(.*\): a resource name is 1 to 100 characters"
    with pytest.raises(ValueError, match=refused) as caught:
        exclusive(bad).__enter__()  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message
    assert repr(bad)[:40] in message or len(repr(bad)) > 80


@pytest.mark.parametrize(
    "good", ["port-8765", "port:tcp:127.0.0.1:8765", "sandbox@eu+1=2", "A_b.c", "a" * 100]
)
def test_names_made_of_safe_characters_are_taken(good: str, one_process: Path) -> None:
    del one_process
    with exclusive(good):
        pass


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"scope": "host"}, r"^exclusive\('x', scope='host'\): scope is 'run' or 'machine'$"),
        ({"timeout": -1}, r"^exclusive\('x', timeout=-1\): timeout is a finite number of seconds >= 0$"),
        ({"timeout": float("nan")}, r"timeout=nan\): timeout is a finite number"),
        ({"timeout": float("inf")}, r"timeout=inf\): timeout is a finite number"),
        ({"timeout": "5"}, r"timeout='5'\): timeout is a finite number"),
        ({"timeout": True}, r"timeout=True\): timeout is a finite number"),
    ],
)
def test_a_bad_scope_or_timeout_is_refused_in_one_line(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        exclusive("x", **options).__enter__()


# -- where the lock lives -----------------------------------------------------


def test_without_xdist_a_run_is_one_process_and_no_file_is_made(one_process: Path, name: str) -> None:
    with exclusive(name):
        assert not one_process.exists()


def test_in_a_worker_the_lock_file_is_in_a_private_folder_of_the_run(xdist_worker: Path, name: str) -> None:
    with exclusive(name):
        runs = list(xdist_worker.glob("run-*"))
        assert len(runs) == 1
        assert re.fullmatch(rf"run-{os.getppid()}-[0-9a-f]{{16}}", runs[0].name)
        assert (runs[0] / f"{name}.lock").is_file()
        for folder in (xdist_worker, runs[0]):
            assert folder.stat().st_mode & 0o777 == 0o700


def test_two_runs_with_the_same_testrunuid_get_two_directories(
    xdist_worker: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with exclusive(name):
        first = {p.name for p in xdist_worker.glob("run-*")}
    # A second run given the same --testrunuid: the same variables, another controller process.
    monkeypatch.setattr(module, "_PARENT_AT_IMPORT", os.getpid())
    with exclusive(name):
        both = {p.name for p in xdist_worker.glob("run-*")}
    assert len(first) == 1
    assert len(both) == 2


def test_two_testrunuids_under_one_controller_get_two_directories(
    xdist_worker: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with exclusive(name):
        pass
    monkeypatch.setenv("PYTEST_XDIST_TESTRUNUID", "another")
    with exclusive(name):
        pass
    assert len(list(xdist_worker.glob("run-*"))) == 2


def test_the_machine_scope_has_one_directory_for_every_run(
    xdist_worker: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with exclusive(name, scope="machine"):
        assert (xdist_worker / "machine" / f"{name}.lock").is_file()
    monkeypatch.setattr(module, "_PARENT_AT_IMPORT", os.getpid())
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    with exclusive(name, scope="machine"):
        assert {p.name for p in xdist_worker.iterdir()} == {"machine"}


def test_directories_of_finished_runs_are_removed_when_a_run_starts(xdist_worker: Path, name: str) -> None:
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    xdist_worker.mkdir(mode=0o700)
    finished = xdist_worker / f"run-{exited.pid}-{'0' * 16}"
    running = xdist_worker / f"run-{os.getpid()}-{'1' * 16}"
    unrelated = xdist_worker / "run-notes"
    for folder in (finished, running, unrelated):
        folder.mkdir()
        (folder / "x.lock").touch()
    with exclusive(name):
        pass
    assert not finished.exists()
    assert running.exists()
    assert unrelated.exists()


@pytest.mark.parametrize("problem", ["open to others", "a symlink", "a file"])
def test_a_lock_root_that_is_not_private_is_refused_in_one_line(
    lock_root: Path, tmp_path: Path, name: str, problem: str
) -> None:
    if problem == "open to others":
        lock_root.mkdir(mode=0o700)
        lock_root.chmod(0o755)
    elif problem == "a symlink":
        (tmp_path / "elsewhere").mkdir(mode=0o700)
        lock_root.symlink_to(tmp_path / "elsewhere")
    else:
        lock_root.write_text("")
    refused = r"^worker-locator: .* must be a directory that only uid"
    with pytest.raises(PermissionError, match=refused) as caught:
        exclusive(name, scope="machine").__enter__()
    assert "\n" not in str(caught.value)


# -- threads and re-entrancy --------------------------------------------------


def test_threads_of_one_process_exclude_each_other(where: str, name: str) -> None:
    inside = 0
    most = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        for _ in range(50):
            with exclusive(name, scope=where):  # type: ignore[arg-type]
                with guard:
                    inside += 1
                    most = max(most, inside)
                threading.Event().wait(0.0005)  # stay inside long enough for an overlap to show
                with guard:
                    inside -= 1

    _joined(*[_thread(work) for _ in range(6)])
    assert most == 1


def test_a_waiting_thread_times_out_naming_the_holding_thread(where: str, name: str) -> None:
    errors: list[ResourceBusyError] = []

    def waiter() -> None:
        try:
            with exclusive(name, scope=where, timeout=0.1):  # type: ignore[arg-type]
                pass
        except ResourceBusyError as exc:
            errors.append(exc)

    with exclusive(name, scope=where):  # type: ignore[arg-type]
        _joined(_thread(waiter))
    assert len(errors) == 1
    message = str(errors[0])
    scope = "" if where == "run" else ", scope='machine'"
    worker = "gw7" if os.environ.get("PYTEST_XDIST_WORKER") == "gw7" else f"pid-{os.getpid()}"
    test = os.environ["PYTEST_CURRENT_TEST"].rsplit(" (", 1)[0]
    assert re.fullmatch(
        rf"exclusive\('{name}'{scope}\) gave up after 0\.1s: held by worker {worker}"
        rf" \(pid {os.getpid()}, thread {re.escape(threading.current_thread().name)}\)"
        rf" in test {re.escape(test)} for \d+\.\ds; wait longer \(timeout=\) or hold it for less time",
        message,
    ), message
    assert errors[0].holder is not None
    assert errors[0].holder["test"] == test
    # Once released, the waiter gets it.
    _joined(_thread(waiter))
    assert len(errors) == 1


def test_the_holding_thread_may_nest_the_lock_and_releases_it_at_the_outermost_exit(
    where: str, name: str
) -> None:
    got: list[bool] = []

    def try_once() -> None:
        try:
            with exclusive(name, scope=where, timeout=0):  # type: ignore[arg-type]
                got.append(True)
        except ResourceBusyError:
            got.append(False)

    with exclusive(name, scope=where):  # type: ignore[arg-type]
        with (
            exclusive(name, scope=where, timeout=0),  # type: ignore[arg-type]
            exclusive(name, scope=where),  # type: ignore[arg-type]
        ):
            pass
        _joined(_thread(try_once))  # the inner blocks ended; the outer one still holds it
    _joined(_thread(try_once))
    assert got == [False, True]


def test_an_error_in_the_block_still_releases_the_lock(where: str, name: str) -> None:
    with pytest.raises(KeyError), exclusive(name, scope=where):  # type: ignore[arg-type]
        raise KeyError(name)
    got: list[str] = []

    def take() -> None:
        with exclusive(name, scope=where, timeout=0):  # type: ignore[arg-type]
            got.append("taken")

    _joined(_thread(take))
    assert got == ["taken"]


# -- other processes, death and fork ------------------------------------------

_HOLDER = """
import sys
from worker_locator import exclusive
with exclusive(sys.argv[1], scope="machine"):
    print("held", flush=True)
    sys.stdin.readline()
"""


@contextlib.contextmanager
def _holder_process(name: str, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Start a process that holds `name` (machine scope, under tmp_path) until its stdin closes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(TMPDIR=str(tmp_path), PYTEST_XDIST_WORKER="gw3")
    env["PYTEST_CURRENT_TEST"] = "t/x.py::test_holds (call)"
    with subprocess.Popen(  # noqa: S603 - our own interpreter running our own code
        [sys.executable, "-c", textwrap.dedent(_HOLDER), name],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline() == "held\n"
            yield process
        finally:
            if process.poll() is None:
                process.kill()


def test_another_process_waits_and_its_timeout_names_the_holder(
    lock_root: Path, tmp_path: Path, name: str
) -> None:
    del lock_root
    with (
        _holder_process(name, tmp_path) as holder,
        pytest.raises(ResourceBusyError) as caught,
        exclusive(name, scope="machine", timeout=0.2),
    ):
        pass
    assert re.fullmatch(
        rf"exclusive\('{name}', scope='machine'\) gave up after 0\.2s:"
        rf" held by worker gw3 \(pid {holder.pid}\) in test t/x\.py::test_holds for \d+\.\ds;"
        r" wait longer \(timeout=\) or hold it for less time",
        str(caught.value),
    ), caught.value
    assert caught.value.holder is not None
    assert caught.value.holder["pid"] == holder.pid


def test_a_killed_holder_never_leaves_the_lock_held(lock_root: Path, tmp_path: Path, name: str) -> None:
    with _holder_process(name, tmp_path) as holder:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        # Its record is left behind, but the kernel released its flock: the lock is free at once.
        assert (lock_root / "machine" / f"{name}.holder").is_file()
        with exclusive(name, scope="machine", timeout=0):
            record = module._read_record(lock_root / "machine" / f"{name}.lock")
    assert record is not None
    assert record["pid"] == os.getpid()


def test_a_stale_record_is_called_stale() -> None:
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    record = {"worker": "gw1", "pid": exited.pid, "test": "t.py::test_a", "since": 0.0}
    message = module._busy_message("dev", "run", 1.0, record)
    assert f"held by worker gw1 (pid {exited.pid}) in test t.py::test_a" in message
    assert "that process has exited: the record is stale" in message
    assert module._busy_message("dev", "run", 1.0, None) == (
        "exclusive('dev') gave up after 1s: held by a holder that left no record;"
        " look for a process still running from an old run"
    )


def test_a_forked_child_inherits_no_hold_and_releases_none(
    xdist_worker: Path, name: str, in_forked_child: ChildRunner
) -> None:
    del xdist_worker
    with contextlib.ExitStack() as held:
        held.enter_context(exclusive(name))
        lock_file = module._registry.slot(name, "run").path
        assert lock_file is not None

        def child() -> str:
            try:
                with exclusive(name, timeout=0.1):
                    return "the child got a lock its parent holds"
            except ResourceBusyError:
                pass
            held.close()  # leaving the inherited block in the child must not end the parent's hold
            return "busy"

        assert in_forked_child(child) == "busy"
        assert lock_file.with_suffix(".holder").is_file()  # the child left the parent's record alone
        with lock_file.open() as probe, pytest.raises(BlockingIOError):
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)


# -- figures ------------------------------------------------------------------


def test_figures_name_the_holder_a_test_waited_for(where: str, name: str) -> None:
    release = threading.Event()
    entered = threading.Event()

    def holder() -> None:
        with exclusive(name, scope=where):  # type: ignore[arg-type]
            entered.set()
            release.wait(JOIN_TIMEOUT)

    first = _thread(holder)
    assert entered.wait(JOIN_TIMEOUT)
    with pytest.raises(ResourceBusyError):
        exclusive(name, scope=where, timeout=0.05).__enter__()  # type: ignore[arg-type]
    release.set()
    with exclusive(name, scope=where):  # type: ignore[arg-type]
        pass
    _joined(first)
    test = os.environ["PYTEST_CURRENT_TEST"].rsplit(" (", 1)[0]
    (entry,) = [e for e in lock_statistics() if e["name"] == name]
    assert entry["scope"] == where
    assert entry["test"] == test
    assert entry["acquisitions"] == 2  # the holder thread's and this thread's
    assert entry["timeouts"] == 1
    assert entry["wait_seconds"] >= 0.05
    assert entry["hold_seconds"] > 0
    worker = os.environ.get("PYTEST_XDIST_WORKER") or f"pid-{os.getpid()}"
    assert entry["waited_for"] == [{"worker": worker, "pid": os.getpid(), "test": test}]


# -- the fixture --------------------------------------------------------------

FIXTURE_SUITE = """
import threading
import pytest
from worker_locator import ResourceBusyError, exclusive

def test_holds(exclusive_resource):
    exclusive_resource("fixture-res")
    exclusive_resource("fixture-res")  # the same test may ask again
    errors = []
    def other():
        try:
            exclusive("fixture-res", timeout=0).__enter__()
        except ResourceBusyError as exc:
            errors.append(exc)
    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert len(errors) == 1

def test_released_after_the_test_ended():
    got = []
    def take():
        with exclusive("fixture-res", timeout=0):
            got.append("taken")
    thread = threading.Thread(target=take)
    thread.start()
    thread.join()
    assert got == ["taken"]
"""


def test_the_fixture_holds_until_the_test_ends(pytester: pytest.Pytester, without_outer_run: None) -> None:
    del without_outer_run
    pytester.makepyfile(FIXTURE_SUITE)
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(passed=2)
