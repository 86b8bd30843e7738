"""Wall and CPU time of a real suite against `-n`: what more workers buy on this machine.

    nice -n 5 python benchmarks/workers_scaling.py           # tests/unit at -n 0, 1, 2, 4, 8; 3 rounds
    python benchmarks/workers_scaling.py --rounds 1          # a quick look; do not commit its figures

Runs the project's unit tests (`pytest -n N tests/unit -p no:randomly`), the worker
counts interleaved in each round, and records each run's wall time and CPU time (the
pytest process and its workers, from the children's resource usage). Writes
docs/_data/workers-wall-cpu.json; `benchmarks/docs_charts.py` draws
docs/assets/diagrams/workers-wall-cpu.svg from it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from _timing import load_average

_ROOT = Path(__file__).resolve().parent.parent
OUTPUT = _ROOT / "docs" / "_data" / "workers-wall-cpu.json"
WORKERS = (0, 1, 2, 4, 8)
SUITE = "tests/unit"
RUN_TIMEOUT = 1200
_PASSED = re.compile(r"(\d+) passed")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}


def _run(workers: int) -> tuple[float, float, int]:
    """Run the suite once with `-n workers`; return wall seconds, CPU seconds and the tests passed."""
    command = [sys.executable, "-m", "pytest", "-n", str(workers), "-p", "no:randomly", "-q", SUITE]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own interpreter running the project's tests
        command, cwd=_ROOT, env=_env(), capture_output=True, text=True, check=False, timeout=RUN_TIMEOUT
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    passed = _PASSED.search(done.stdout)
    if done.returncode != 0 or passed is None:
        msg = f"{' '.join(command[2:])} failed (exit {done.returncode}):\n{done.stdout[-3000:]}"
        raise RuntimeError(msg)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, int(passed[1])


def measure(rounds: int) -> dict[str, Any]:
    """Run every worker count `rounds` times, interleaved; keep each count's fastest run (wall)."""
    started, load_before = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), load_average()
    runs: dict[int, list[tuple[float, float, int]]] = {n: [] for n in WORKERS}
    for round_ in range(rounds):
        for workers in WORKERS:
            runs[workers].append(_run(workers))
            wall, cpu, _ = runs[workers][-1]
            print(f"round {round_ + 1}/{rounds} -n {workers}: wall {wall:.2f} s, cpu {cpu:.2f} s", flush=True)
    best = {n: min(found) for n, found in runs.items()}
    return {
        "started": started,
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_before": load_before,
        "load_after": load_average(),
        "suite": f"pytest -n N {SUITE} -p no:randomly",
        "tests": best[0][2],
        "rounds": rounds,
        "method": (
            "worker counts interleaved in each round; the run with the least wall time of each count is kept,"
            " with its CPU time (pytest and its workers, RUSAGE_CHILDREN); run under nice -n 5"
        ),
        "workers": [
            {
                "n": n,
                "wall_s": round(best[n][0], 3),
                "cpu_s": round(best[n][1], 3),
                "all_wall_s": [round(w, 3) for w, _, _ in runs[n]],
            }
            for n in WORKERS
        ],
        "python": platform.python_version(),
        "versions": {name: metadata.version(name) for name in ("pytest", "pytest-xdist", "worker-locator")},
        "machine": {"cores": os.cpu_count(), "platform": platform.platform()},
    }


def main() -> None:
    """Measure, print the figures and write them to docs/_data/workers-wall-cpu.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs of each worker count (3)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the figures")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    result = measure(args.rounds)
    args.output.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
