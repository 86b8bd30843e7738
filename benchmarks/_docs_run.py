"""Where the time of `pytest -n 8 docs/ src/` goes, and -n 8 against -n 2 on this machine.

Runs the users' command in the project root (with `--durations=0` added, to
read every example's time), alternating -n 8 and -n 2, and records each run's
wall time and CPU time (the pytest process and its workers). Worker start-up
is timed apart: the same `pytest -n N` over one empty test in an empty folder,
so what it costs is starting N workers and nothing else. Only `run.py --docs`
runs this: it takes minutes.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT = 1200
_DURATION = re.compile(r"^(?P<seconds>[\d.]+)s (?P<phase>call|setup|teardown)\s+(?P<test>\S+)")
_SUMMARY = re.compile(r"(?P<passed>\d+) passed")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}


def _timed(command: list[str], cwd: Path) -> tuple[str, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own interpreter running pytest
        command, cwd=cwd, env=_env(), capture_output=True, text=True, check=False, timeout=RUN_TIMEOUT
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        shown = " ".join(command[2:])
        msg = f"{shown} failed (exit {done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-1500:]}"
        raise RuntimeError(msg)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout, wall, cpu


def _durations(output: str) -> list[dict[str, Any]]:
    rows = []
    for line in output.splitlines():
        match = _DURATION.match(line.strip())
        if match:
            rows.append({"seconds": float(match["seconds"]), "phase": match["phase"], "test": match["test"]})
    return rows


def docs_run(quick: bool) -> dict[str, Any]:  # noqa: FBT001 - scenarios share one signature
    """Time the docs command at -n 8 and -n 2, and the start-up of 8 and 2 workers."""
    repeats = 1 if quick else 2
    base = [sys.executable, "-m", "pytest"]
    runs: dict[str, list[tuple[float, float]]] = {"8": [], "2": []}
    durations: list[dict[str, Any]] = []
    passed = 0
    for repeat in range(repeats):
        for workers in ("8", "2") if repeat % 2 == 0 else ("2", "8"):
            output, wall, cpu = _timed([*base, "-n", workers, "docs/", "src/", "--durations=0", "-q"], _ROOT)
            runs[workers].append((wall, cpu))
            if workers == "8" and not durations:
                durations = _durations(output)
                found = _SUMMARY.search(output)
                passed = int(found["passed"]) if found else 0
    startup: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as folder:
        root = Path(folder)
        (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        (root / "test_nothing.py").write_text("def test_nothing():\n    pass\n", encoding="utf-8")
        for workers in ("8", "2", "0"):
            best = (float("inf"), float("inf"))
            for _ in range(3):
                _, wall, cpu = _timed([*base, "-n", workers, "-q", "-p", "no:cacheprovider"], root)
                best = (min(best[0], wall), min(best[1], cpu))
            startup[workers] = best
    best_runs = {w: (min(r[0] for r in rs), min(r[1] for r in rs)) for w, rs in runs.items()}
    cases = [
        {
            "label": f"pytest -n {w} docs/ src/",
            "cpu_ns": c * 1e9,
            "wall_ns": wl * 1e9,
            "loops": 1,
            "note": f"best of {repeats}",
        }
        for w, (wl, c) in best_runs.items()
    ]
    cases += [
        {
            "label": f"start-up: pytest -n {w} over one empty test",
            "cpu_ns": c * 1e9,
            "wall_ns": wl * 1e9,
            "loops": 1,
            "note": "best of 3" + ("; no xdist workers" if w == "0" else ""),
        }
        for w, (wl, c) in startup.items()
    ]
    calls = sorted((d for d in durations if d["phase"] == "call"), key=lambda d: -d["seconds"])
    by_page: dict[str, float] = {}
    for row in durations:
        page = row["test"].split("::", 1)[0]
        by_page[page] = by_page.get(page, 0.0) + row["seconds"]
    figures = {
        "n8_to_n2_wall_ratio": best_runs["8"][0] / best_runs["2"][0],
        "n8_to_n2_cpu_ratio": best_runs["8"][1] / best_runs["2"][1],
        "n8_wall_s": best_runs["8"][0],
        "n2_wall_s": best_runs["2"][0],
        "n8_cpu_s": best_runs["8"][1],
        "n2_cpu_s": best_runs["2"][1],
        "startup_wall_s": {w: s[0] for w, s in startup.items()},
        "startup_cpu_s": {w: s[1] for w, s in startup.items()},
        "tests_passed": passed,
        "sum_of_test_seconds": sum(d["seconds"] for d in durations),
        "slowest": calls[:15],
        "seconds_by_page": dict(sorted(by_page.items(), key=lambda kv: -kv[1])),
    }
    return {"cases": cases, "figures": figures, "repeats": repeats}


SCENARIOS = {"docs_run": docs_run}
