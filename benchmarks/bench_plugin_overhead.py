"""Measure what the worker-locator pytest plugin adds to a 2,000-test trivial suite.

Run with `python benchmarks/bench_plugin_overhead.py` (`--json` for
machine-readable output). The script writes the suite (20 files of 100 empty
tests) to a temporary directory and runs it with pytest in subprocesses,
alternating "plugin on" (the default `locator_isolation = test`, so one reset
per test) and "plugin off" (`-p no:worker_locator`), 7 times each. A small
timing plugin records the CPU time from session start to session finish in
each run; the whole process's CPU time and wall time are recorded as well.
Every figure is the minimum over the repeats, and the ratios compare the two
variants measured in this one script run, so machine speed and load cancel
out as far as they can. The target is a session CPU ratio of at most 1.05.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPEATS = 7
FILES = 20
TESTS_PER_FILE = 100
TARGET_RATIO = 1.05

_TIMER_PLUGIN = """
import json, os, time

def pytest_sessionstart(session):
    session.config._bench_start = time.process_time()

def pytest_sessionfinish(session):
    spent = time.process_time() - session.config._bench_start
    with open(os.environ["BENCH_TIMER_OUT"], "w") as out:
        json.dump({"session_cpu": spent}, out)
"""

VARIANTS = {
    "plugin on": [],
    "plugin off": ["-p", "no:worker_locator"],
}


def _write_suite(root: Path) -> None:
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (root / "bench_timer.py").write_text(_TIMER_PLUGIN, encoding="utf-8")
    body = "".join(f"def test_{n}():\n    pass\n\n\n" for n in range(TESTS_PER_FILE))
    for index in range(FILES):
        (root / f"test_trivial_{index:02}.py").write_text(body, encoding="utf-8")


def _run(root: Path, extra: list[str]) -> dict[str, float]:
    out = root / "timer.json"
    env = {**os.environ, "BENCH_TIMER_OUT": str(out), "PYTHONPATH": str(root)}
    for name in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_TESTRUNUID"):
        env.pop(name, None)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "bench_timer", "-p", "no:randomly"]
    command += ["-p", "no:cacheprovider", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False)  # noqa: S603 - our own interpreter and arguments
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    expected = f"{FILES * TESTS_PER_FILE} passed"
    if done.returncode != 0 or expected not in done.stdout:
        variant = " ".join(extra) or "plugin on"
        msg = f"the benchmark suite did not pass ({variant}):\n{done.stdout}{done.stderr}"
        raise RuntimeError(msg)
    process_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    session_cpu = float(json.loads(out.read_text(encoding="utf-8"))["session_cpu"])
    return {"session_cpu": session_cpu, "process_cpu": process_cpu, "wall": wall}


def main(argv: list[str] | None = None) -> int:
    """Print the figures and ratios; return 1 if the target is missed."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--repeats", type=int, default=REPEATS, help=f"runs per variant (default {REPEATS})")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-plugin-") as folder:
        root = Path(folder)
        _write_suite(root)
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
        for extra in VARIANTS.values():  # warm the file system cache and bytecode
            _run(root, extra)
        for repeat in range(args.repeats):
            order = list(VARIANTS) if repeat % 2 == 0 else list(reversed(VARIANTS))
            for name in order:
                runs[name].append(_run(root, VARIANTS[name]))

    best = {name: {k: min(r[k] for r in results) for k in results[0]} for name, results in runs.items()}
    on, off = best["plugin on"], best["plugin off"]
    ratios = {k: on[k] / off[k] for k in on}
    passed = ratios["session_cpu"] <= TARGET_RATIO
    if args.json:
        print(json.dumps({"tests": FILES * TESTS_PER_FILE, "best": best, "ratios": ratios, "passed": passed}))
    else:
        print(f"{FILES * TESTS_PER_FILE} trivial tests, best of {args.repeats} runs per variant")
        print(f"{'':12} {'session CPU s':>14} {'process CPU s':>14} {'wall s':>8}")
        for name, figures in [*best.items(), ("on / off", ratios)]:
            print(f"{name:12} {figures['session_cpu']:14.3f} {figures['process_cpu']:14.3f}", end="")
            print(f" {figures['wall']:8.3f}")
        per_test_us = (on["session_cpu"] - off["session_cpu"]) / (FILES * TESTS_PER_FILE) * 1e6
        print(f"plugin cost per test: {per_test_us:.1f} us of CPU")
        verdict = "met" if passed else "MISSED"
        print(f"target: session CPU ratio <= {TARGET_RATIO}: {verdict}")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
