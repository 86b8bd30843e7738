"""Record the resident memory of each pytest-xdist worker at 4, 8 and 16 workers.

Run with `python benchmarks/bench_worker_memory.py` (add `--json` for
machine-readable output, `--workers 2 4` for other counts). For each worker
count it writes a small suite into a temporary directory, with a `pytest.ini`
of its own, runs it with `python -m pytest -n N` (pytest-randomly off, the
worker-locator plugin on), and has every worker read `VmRSS` from
`/proc/self/status` at the end of its session. It prints the figures of this
one run: memory is per worker, so the total grows with the worker count. It
sets no target; it exits non-zero only when a run fails or a worker does not
report. Linux only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

TESTS_PER_WORKER = 4
RUN_TIMEOUT = 600

_INI = "[pytest]\naddopts = --strict-markers\nfilterwarnings = error\n"

_CONFTEST = """
import json, os
from pathlib import Path

import pytest

from worker_locator import get_locator

get_locator().register("payload", lambda: bytearray(64 * 1024))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    if not hasattr(session.config, "workerinput"):
        return  # the controller, which runs no tests
    status = Path("/proc/self/status").read_text()
    kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    worker = os.environ["PYTEST_XDIST_WORKER"]
    out = Path(os.environ["BENCH_RSS_DIR"]) / f"{worker}-{os.getpid()}.json"
    out.write_text(json.dumps({"worker": worker, "pid": os.getpid(), "rss_kib": kib}))
"""

_TESTS = """
import pytest

from worker_locator import get_locator


@pytest.mark.parametrize("n", range({count}))
def test_uses_a_service(n):
    assert len(get_locator().get("payload")) == 64 * 1024
"""


def measure(workers: int, base: Path) -> dict[str, Any]:
    """Run the suite with `workers` workers; return each worker's resident memory in KiB."""
    suite = base / f"suite-{workers}"
    rss_dir = base / f"rss-{workers}"
    suite.mkdir()
    rss_dir.mkdir()
    (suite / "pytest.ini").write_text(_INI)
    (suite / "conftest.py").write_text(_CONFTEST)
    (suite / "test_memory.py").write_text(_TESTS.format(count=workers * TESTS_PER_WORKER))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["BENCH_RSS_DIR"] = str(rss_dir)
    command = [sys.executable, "-m", "pytest", "-c", str(suite / "pytest.ini"), "--rootdir", str(suite)]
    command += ["-p", "no:cacheprovider", "-p", "no:randomly", "-q", "-n", str(workers), "--basetemp"]
    command += [str(base / f"tmp-{workers}")]
    done = subprocess.run(  # noqa: S603 - our own interpreter running pytest on our own files
        command, cwd=suite, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )
    if done.returncode != 0:
        output = done.stdout[-3000:] + done.stderr[-2000:]
        msg = f"pytest -n {workers} failed (exit status {done.returncode}):\n{output}"
        raise RuntimeError(msg)
    figures = [json.loads(path.read_text()) for path in sorted(rss_dir.glob("*.json"))]
    reported = sorted(f["worker"] for f in figures)
    if reported != sorted(f"gw{index}" for index in range(workers)):
        msg = f"pytest -n {workers}: expected one figure per worker, got {reported}"
        raise RuntimeError(msg)
    return {"workers": workers, "rss_kib": {f["worker"]: f["rss_kib"] for f in figures}}


def _row(run: dict[str, Any]) -> str:
    values = [kib / 1024 for kib in run["rss_kib"].values()]
    return (
        f"{run['workers']:>7} {min(values):>9.1f} {statistics.median(values):>11.1f}"
        f" {max(values):>9.1f} {sum(values):>10.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table (or JSON), and return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[4, 8, 16], help="worker counts (default 4 8 16)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if any(count < 1 for count in args.workers):
        parser.error("--workers takes counts of at least 1")
    if not Path("/proc/self/status").exists():
        print("error: this benchmark reads /proc/self/status, which only Linux has", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-worker-memory-") as base:
        try:
            runs = [measure(count, Path(base)) for count in args.workers]
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps({"runs": runs}, indent=2))
        return 0
    print("resident memory (VmRSS) of each pytest-xdist worker at the end of its session, MiB")
    print(f"{'workers':>7} {'min':>9} {'median':>11} {'max':>9} {'total':>10}")
    for run in runs:
        print(_row(run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
