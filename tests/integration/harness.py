"""Run a generated suite from `suites/` in a subprocess, as a developer runs pytest, and read the results.

Each run gets a copy of the suite in a temporary directory of its own, with a
`pytest.ini` written there and passed with `-c`, so the project's own
configuration is never used. The environment is the caller's minus every
`PYTEST_*` variable (the harness itself runs inside a pytest-xdist worker,
whose `PYTEST_XDIST_WORKER` must not leak into the suite) plus the suite's
settings (`WL_IT_*`). Whether pytest-randomly shuffles is decided per run.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

REPO_ROOT = Path(__file__).resolve().parents[2]
SUITES = Path(__file__).resolve().parent / "suites"
RUN_TIMEOUT = 900.0
"""Seconds one run of a generated suite may take before it is killed: a hang guard, never a measure."""

_INI = """\
[pytest]
addopts = --strict-markers
xfail_strict = true
filterwarnings =
    error
    # Python 3.12+ warns about fork() in a process with threads; an xdist worker has execnet's.
    ignore:This process .* is multi-threaded, use of fork\\(\\) may lead to deadlocks:DeprecationWarning
"""


@dataclass(frozen=True)
class Report:
    """One phase report of one test, as `outcomes_plugin` recorded it."""

    nodeid: str
    when: str
    outcome: str
    worker: str
    message: str


@dataclass
class RunResult:
    """What one run of a suite produced: exit status, terminal output, reports and records."""

    args: list[str]
    returncode: int
    output: str
    collected: list[str]
    reports: list[Report]
    nodes_down: list[dict[str, str]]
    records: list[dict[str, Any]]

    def explain(self) -> str:
        """Return the command and the end of the output, for assertion messages."""
        tail = "\n".join(self.output.splitlines()[-60:])
        return f"command: pytest {' '.join(self.args)}\nexit status: {self.returncode}\n{tail}"

    def outcome(self, nodeid: str) -> str:
        """Return a test's overall outcome: `error` (setup or teardown failed), `failed`, `passed`, `skipped`.

        A test with no report at all is `not run`. A crash report (xdist's, whose
        phase is `???`) counts as `failed`, as pytest's summary counts it.
        """
        phases = [r for r in self.reports if r.nodeid == nodeid]
        if not phases:
            return "not run"
        if any(r.outcome == "failed" and r.when in {"setup", "teardown"} for r in phases):
            return "error"
        if any(r.outcome == "failed" for r in phases):
            return "failed"
        if any(r.outcome == "skipped" for r in phases):
            return "skipped"
        return "passed"

    def outcomes(self) -> dict[str, str]:
        """Return every collected test's outcome, by node id."""
        return {nodeid: self.outcome(nodeid) for nodeid in self.collected}

    def counts(self) -> Counter[str]:
        """Return how many collected tests ended in each outcome."""
        return Counter(self.outcomes().values())

    def worker_of(self, nodeid: str) -> str:
        """Return the worker that ran a test (`master` without xdist)."""
        for report in self.reports:
            if report.nodeid == nodeid:
                return report.worker
        msg = f"{nodeid} has no report: it did not run\n{self.explain()}"
        raise AssertionError(msg)

    def message_of(self, nodeid: str) -> str:
        """Return the message of a test's first failure report (for an assertion, its first line)."""
        return next((r.message for r in self.reports if r.nodeid == nodeid and r.outcome == "failed"), "")

    def records_of(self, kind: str) -> list[dict[str, Any]]:
        """Return the records of one kind that the suite's processes wrote."""
        return [r for r in self.records if r.get("kind") == kind]


@dataclass(frozen=True)
class Round:
    """The folders that the processes of one run, or of runs started together, share."""

    records: Path
    barriers: Path


@dataclass
class Suite:
    """A copy of one suite from `suites/`, ready to run, with the folders its processes share."""

    name: str
    root: Path
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    _runs: int = 0
    _started: int = 0

    @property
    def shared(self) -> Path:
        """A folder at a fixed path that every run of this suite sees (`WL_IT_SHARED_DIR`)."""
        return self.workdir / "shared"

    def new_round(self) -> Round:
        """Return fresh record and barrier folders, for one run or for runs started together."""
        self._runs += 1
        folder = self.workdir / f"round-{self._runs}"
        shared = Round(records=folder / "records", barriers=folder / "barriers")
        shared.records.mkdir(parents=True)
        shared.barriers.mkdir()
        return shared

    def command(
        self, *args: str, workers: int, randomly_seed: int | None = None, dist: str | None = None
    ) -> list[str]:
        """Return the pytest arguments of one run (after `python -m pytest`)."""
        command = ["-c", str(self.root / "pytest.ini"), "--rootdir", str(self.root), "-p", "no:cacheprovider"]
        command += ["-p", "tests.integration.outcomes_plugin", "-v", "-n", str(workers)]
        # pytest-randomly is installed, so it is on unless turned off: decide explicitly.
        command += ["-p", "no:randomly"] if randomly_seed is None else [f"--randomly-seed={randomly_seed}"]
        if dist is not None:
            command += ["--dist", dist]
        return [*command, *args]

    def environment(self, shared: Round, outcomes: Path, extra: Mapping[str, str]) -> dict[str, str]:
        """Return the environment of one run: the caller's without `PYTEST_*`, plus the suite's settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "WL_IT_"))}
        env.update(
            PYTHONPATH=str(REPO_ROOT),
            PYTEST_DEBUG_TEMPROOT=str(self.workdir / "temproot"),
            WL_IT_RECORDS=str(shared.records),
            WL_IT_BARRIERS=str(shared.barriers),
            WL_IT_SHARED_DIR=str(self.shared),
            WL_IT_OUTCOMES=str(outcomes),
            NO_COLOR="1",
            COLUMNS="200",
        )
        env.update(self.env)
        env.update(extra)
        return env

    @contextlib.contextmanager
    def started(
        self,
        *args: str,
        workers: int,
        randomly_seed: int | None = None,
        dist: str | None = None,
        env: Mapping[str, str] | None = None,
        shared: Round | None = None,
    ) -> Iterator[PendingRun]:
        """Start one run in the background; leaving the block kills it if it is still running.

        Runs given the same `shared` round meet at the same barriers and write
        records into the same folder; by default a run has a round of its own.
        """
        shared = shared or self.new_round()
        self._started += 1
        outcomes = self.workdir / f"outcomes-{self._started}.json"
        command = self.command(*args, workers=workers, randomly_seed=randomly_seed, dist=dist)
        process = subprocess.Popen(  # noqa: S603 - our own interpreter running pytest on our own files
            [sys.executable, "-m", "pytest", *command],
            cwd=self.root,
            env=self.environment(shared, outcomes, env or {}),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        pending = PendingRun(command, process, outcomes, shared)
        try:
            yield pending
        finally:
            pending.kill()

    def run(
        self,
        *args: str,
        workers: int,
        randomly_seed: int | None = None,
        dist: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> RunResult:
        """Run the suite to the end and return what it produced."""
        with self.started(*args, workers=workers, randomly_seed=randomly_seed, dist=dist, env=env) as run:
            return run.result(run.finish())


@dataclass
class PendingRun:
    """A run started with `Suite.started`."""

    args: list[str]
    process: subprocess.Popen[str]
    outcomes: Path
    shared: Round

    def finish(self) -> str:
        """Wait for the run to end (at most `RUN_TIMEOUT` seconds); return its terminal output."""
        try:
            output, _ = self.process.communicate(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            output, _ = self.process.communicate()
            msg = f"pytest {' '.join(self.args)} did not finish in {RUN_TIMEOUT:.0f}s:\n{output[-4000:]}"
            raise AssertionError(msg) from None
        return output

    def kill(self) -> None:
        """Kill the run's process group (pytest and its workers) if it is still running."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def result(self, output: str) -> RunResult:
        """Return the run's result once it has finished; records are those of its whole round."""
        try:
            data = json.loads(self.outcomes.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {"collected": [], "reports": [], "nodes_down": []}
        return RunResult(
            args=self.args,
            returncode=self.process.returncode,
            output=output,
            collected=list(data["collected"]),
            reports=[Report(**r) for r in data["reports"]],
            nodes_down=list(data["nodes_down"]),
            records=read_records(self.shared.records),
        )


def read_records(folder: Path) -> list[dict[str, Any]]:
    """Return every record the processes of a run wrote into `folder`."""
    records: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.jsonl")):
        records.extend(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line)
    return records


def prepare(name: str, base: Path, *, ini: str = "", files: Mapping[str, str] | None = None) -> Suite:
    """Copy the suite `suites/<name>` into `base` and write its `pytest.ini`.

    Args:
        name: The suite's folder under `suites/`.
        base: An empty folder of the calling test's own.
        ini: More lines for the `[pytest]` section.
        files: More files to write into the copy, by relative name.
    """
    source = SUITES / name
    if not source.is_dir():
        msg = f"no suite {name!r} in {SUITES}"
        raise ValueError(msg)
    root = base / "suite"
    shutil.copytree(source, root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "pytest.ini").write_text(_INI + ini, encoding="utf-8")
    for relative, text in (files or {}).items():
        (root / relative).write_text(text, encoding="utf-8")
    workdir = base / "work"
    for folder in ("shared", "temproot"):
        (workdir / folder).mkdir(parents=True)
    return Suite(name=name, root=root, workdir=workdir)


PORT_LOCKS = Path(tempfile.gettempdir()) / "worker-locator-test-ports"
"""One lock file per fixed port a test holds, seen by every run of this suite on this machine."""
_FIXED_PORTS = range(10_000, 65_536)


def _ephemeral_range() -> range:
    """Return the ports the kernel hands out for port 0 and outgoing connections (Linux's setting)."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32_768, 60_999  # Linux's default
    return range(low, high + 1)


def _bindable(port: int) -> bool:
    """Return whether a socket can bind the port on 127.0.0.1 now, as the suites' listeners do."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def reserved_ports(size: int = 1) -> Iterator[int]:
    """Hold `size` consecutive fixed ports for the block; yield the first.

    A port picked with `bind(port 0)` and closed is only "free a moment ago":
    the kernel may give it to any socket before the suite binds it, and under
    load that moment is long. So the ports come from outside the kernel's
    ephemeral range, which it never hands out by itself, and each is held with
    a lock file in `PORT_LOCKS` for the whole block, so that no other test, in
    this run or in a concurrent run from another checkout, picks it meanwhile.
    A port that something else is bound to (a server, a closing connection) is
    skipped.
    """
    ephemeral = _ephemeral_range()
    firsts = [p for p in _FIXED_PORTS if p not in ephemeral and p + size - 1 not in ephemeral]
    firsts = [p for p in firsts if p + size <= _FIXED_PORTS.stop]
    # SystemRandom: pytest-randomly reseeds `random` per test, and concurrent runs may share a seed.
    random.SystemRandom().shuffle(firsts)
    PORT_LOCKS.mkdir(exist_ok=True)
    for first in firsts[:1000]:
        with contextlib.ExitStack() as held:
            try:
                for port in range(first, first + size):
                    lock = PORT_LOCKS / f"{port}.lock"
                    held.enter_context(FileLock(lock, mode=0o666, blocking=False, preserve_lock_file=True))
            except Timeout:
                continue
            if all(_bindable(port) for port in range(first, first + size)):
                yield first
                return
    msg = f"found no {size} consecutive ports outside {ephemeral} that nothing holds, in 1000 attempts"
    raise RuntimeError(msg)


def finish_together(runs: Sequence[PendingRun]) -> list[RunResult]:
    """Wait for every run started together, then return their results in the same order."""
    outputs = [run.finish() for run in runs]
    return [run.result(output) for run, output in zip(runs, outputs, strict=True)]
