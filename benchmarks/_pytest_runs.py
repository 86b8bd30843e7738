"""The scenarios that run a real pytest session: where users meet the locator.

`in_test_get` times a cached `get` inside a test, once with the plugin on (as
installed, nothing configured) and once with `-p no:worker_locator`, each run
comparing against a raw dict function in the same test. `suite` runs a
1,000-test suite over 50,000 (and, in the full run, 100,000) registrations,
alternating plugin on and off, and compares the session's CPU time.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
PLUGIN_OFF = ["-p", "no:worker_locator"]
SUITE_TESTS = 1_000
RUN_TIMEOUT = 900

_IN_TEST_CONFTEST = """
from worker_locator import get_locator


class Service:
    pass


get_locator().register(Service, Service)
"""

_IN_TEST = """
import json, os

import conftest
from _timing import measure_many
from worker_locator import get_locator

_RAW = {conftest.Service: conftest.Service()}


def raw(key):
    return _RAW[key]


def test_time_a_cached_get():
    locator = get_locator()
    assert locator.get(conftest.Service) is locator.get(conftest.Service)
    namespace = {"raw": raw, "locator": locator, "Service": conftest.Service}
    quick = os.environ["BENCH_QUICK"] == "1"
    cases = measure_many(
        [
            ("raw dict lookup in a function", "raw(Service)", "", ""),
            ("get_locator().get, cached", "locator.get(Service)", "", ""),
        ],
        namespace,
        quick=quick,
    )
    with open(os.environ["BENCH_OUT"], "w") as out:
        json.dump({"cases": [c.as_dict() for c in cases], "count_hits": locator.count_hits}, out)
"""

_TIMER_PLUGIN = """
import json, os, time

def pytest_sessionstart(session):
    session.config._bench_start = time.process_time()

def pytest_sessionfinish(session):
    spent = time.process_time() - session.config._bench_start
    with open(os.environ["BENCH_OUT"], "w") as out:
        json.dump({"session_cpu": spent}, out)
"""

_SUITE_CONFTEST = """
import os

from worker_locator import get_locator

locator = get_locator()
for index in range(int(os.environ["BENCH_REGISTRATIONS"])):
    locator.register(f"service{index}", object)
"""

_SUITE_TESTS = """
import pytest

from worker_locator import get_locator


@pytest.mark.parametrize("n", range({count}))
def test_uses_one_service(n):
    assert get_locator().get(f"service{{n}}") is get_locator().get(f"service{{n}}")
"""


def write_suite(root: Path) -> None:
    """Write the 1,000-test suite into `root`: its config, its conftest and its tests."""
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (root / "conftest.py").write_text(_SUITE_CONFTEST, encoding="utf-8")
    (root / "test_suite.py").write_text(_SUITE_TESTS.format(count=SUITE_TESTS), encoding="utf-8")


def pytest_command(root: Path, extra: list[str]) -> list[str]:
    """Return the command that runs pytest on a suite written in `root`, in one process."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"]
    return [*command, "-p", "no:xdist", "-c", str(root / "pytest.ini"), "--rootdir", str(root), *extra]


def _pytest(root: Path, extra: list[str], env_extra: dict[str, str]) -> tuple[dict[str, Any], float, float]:
    out = root / "out.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "BENCH_"))}
    env.update(env_extra, BENCH_OUT=str(out), PYTHONPATH=os.pathsep.join([str(root), str(_HERE)]))
    command = pytest_command(root, extra)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own interpreter running pytest on our own files
        command, cwd=root, env=env, capture_output=True, text=True, check=False, timeout=RUN_TIMEOUT
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        msg = f"pytest {' '.join(extra) or '(plugin on)'} failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}"
        raise RuntimeError(msg)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(out.read_text(encoding="utf-8")), cpu, wall


def in_test_get(quick: bool) -> dict[str, Any]:  # noqa: FBT001 - scenarios share one signature
    """Time a cached `get` inside a pytest test, plugin on and off."""
    with tempfile.TemporaryDirectory(prefix="bench-in-test-") as folder:
        root = Path(folder)
        (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        (root / "conftest.py").write_text(_IN_TEST_CONFTEST, encoding="utf-8")
        (root / "test_in_test_get.py").write_text(_IN_TEST, encoding="utf-8")
        runs = {}
        for name, extra in (("plugin on", []), ("plugin off", PLUGIN_OFF)):
            runs[name], _, _ = _pytest(root, extra, {"BENCH_QUICK": "1" if quick else "0"})
    cases: list[dict[str, Any]] = []
    figures: dict[str, Any] = {}
    for name, run in runs.items():
        raw, got = run["cases"]
        cases.extend({**case, "label": f"{case['label']} ({name})"} for case in run["cases"])
        key = name.replace(" ", "_")
        figures[f"{key}_cpu_ratio"] = got["cpu_ns"] / raw["cpu_ns"]
        figures[f"{key}_wall_ratio"] = got["wall_ns"] / raw["wall_ns"]
        figures[f"{key}_count_hits"] = run["count_hits"]
    return {"cases": cases, "figures": figures, "baseline": "raw dict lookup in a function"}


def suite(quick: bool) -> dict[str, Any]:  # noqa: FBT001 - as above
    """Run a 1,000-test suite over many registrations, plugin on and off; compare session CPU."""
    repeats = 3 if quick else 7
    sizes = (50_000,) if quick else (50_000, 100_000)
    cases: list[dict[str, Any]] = []
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as folder:
        root = Path(folder)
        write_suite(root)
        (root / "bench_timer.py").write_text(_TIMER_PLUGIN, encoding="utf-8")
        for size in sizes:
            env = {"BENCH_REGISTRATIONS": str(size)}
            variants = {"plugin on": ["-p", "bench_timer"], "plugin off": ["-p", "bench_timer", *PLUGIN_OFF]}
            best: dict[str, dict[str, float]] = {}
            for name, extra in variants.items():  # warm the bytecode and file system caches
                _pytest(root, extra, env)
                best[name] = {"session_cpu": float("inf"), "process_cpu": float("inf"), "wall": float("inf")}
            for repeat in range(repeats):
                for name in list(variants) if repeat % 2 == 0 else list(reversed(variants)):
                    out, cpu, wall = _pytest(root, variants[name], env)
                    figures_now = {"session_cpu": out["session_cpu"], "process_cpu": cpu, "wall": wall}
                    best[name] = {k: min(best[name][k], figures_now[k]) for k in figures_now}
            for name, figures_best in best.items():
                cases.append(
                    {
                        "label": f"{SUITE_TESTS:,} tests over {size:,} registrations ({name})",
                        "cpu_ns": figures_best["session_cpu"] * 1e9,
                        "wall_ns": figures_best["wall"] * 1e9,
                        "process_cpu_s": figures_best["process_cpu"],
                        "loops": 1,
                        "note": f"best of {repeats} runs",
                    }
                )
            on, off = best["plugin on"], best["plugin off"]
            figures[f"session_cpu_ratio_at_{size}"] = on["session_cpu"] / off["session_cpu"]
            figures[f"process_cpu_ratio_at_{size}"] = on["process_cpu"] / off["process_cpu"]
            figures[f"plugin_cost_per_test_us_at_{size}"] = (
                (on["session_cpu"] - off["session_cpu"]) / SUITE_TESTS * 1e6
            )
    return {"cases": cases, "figures": figures, "repeats": repeats}


SCENARIOS = {"in_test_get": in_test_get, "suite": suite}
