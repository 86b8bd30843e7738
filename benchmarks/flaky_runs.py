"""How many of 20 runs fail, with a plain, a worker-keyed and an isolated cache: the keyed-vs-unkeyed figure.

    nice -n 5 python benchmarks/flaky_runs.py            # 20 runs of each variant, -n 4 and without xdist
    python benchmarks/flaky_runs.py --runs 3             # a quick look; do not commit its figures

Writes docs/_data/flaky-runs.json (the counts, with date, load and versions);
`benchmarks/docs_charts.py` draws docs/assets/diagrams/keyed-vs-unkeyed.svg from it,
and docs/_data/keyed-vs-unkeyed.md quotes it. The suite is the one the project's
research notes describe: one file of 41 tests in file order; `test_00` expects the
default region, `test_01` registers region `us` and never undoes it, 38 fillers
sleep 0 to 20 ms, and `test_40` silently relies on the leak. The three caches:

- plain: a class-level dict (`-p no:worker_locator`, as an application without the plugin);
- keyed: the same dict keyed by `PYTEST_XDIST_WORKER`, the original report's "fix";
- isolated: `worker_locator.get_locator()` with the pytest plugin, which resets it after each test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from _timing import load_average

_ROOT = Path(__file__).resolve().parent.parent
OUTPUT = _ROOT / "docs" / "_data" / "flaky-runs.json"
RUN_TIMEOUT = 600
VARIANTS = ("plain", "keyed", "isolated")
MODES = {"-n 4": ["-n", "4"], "no xdist": ["-p", "no:xdist"]}
_FAILED = re.compile(r"^FAILED \S+::(\w+)", re.MULTILINE)

_CONFTEST = '''
import os

import pytest

VARIANT = os.environ["FLAKY_CACHE"]


class ServiceLocator:
    """The original report's locator: a class-level cache, keyed by worker when asked to be."""

    _factories: dict = {}
    _cache: dict = {}

    @classmethod
    def _key(cls, name):
        return (os.environ.get("PYTEST_XDIST_WORKER"), name) if VARIANT == "keyed" else name

    @classmethod
    def register(cls, name, factory):
        cls._factories[cls._key(name)] = factory
        cls._cache.pop(cls._key(name), None)

    @classmethod
    def get(cls, name):
        key = cls._key(name)
        if key not in cls._cache:
            cls._cache[key] = cls._factories[key]()
        return cls._cache[key]


if VARIANT == "isolated":
    from worker_locator import get_locator

    LOCATOR = get_locator()
else:
    LOCATOR = ServiceLocator

LOCATOR.register("region", lambda: "eu")


@pytest.fixture
def locator():
    return LOCATOR
'''

_TESTS = (
    """
import time


def test_00_expects_the_default_region(locator):
    assert locator.get("region") == "eu"


def test_01_polluter_registers_us_and_never_undoes_it(locator):
    locator.register("region", lambda: "us")
    assert locator.get("region") == "us"
"""
    + "".join(
        f"\n\ndef test_{i:02d}_filler():\n    time.sleep({(i * 7) % 21} / 1000)\n" for i in range(2, 40)
    )
    + """

def test_40_relies_on_leak(locator):
    assert locator.get("region") == "us"
"""
)


def _env(variant: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["FLAKY_CACHE"] = variant
    return env


def _run(suite: Path, variant: str, mode: list[str]) -> list[str]:
    """Run the suite once; return the names of the tests that failed."""
    plugin = [] if variant == "isolated" else ["-p", "no:worker_locator"]
    command = [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", *plugin, *mode]
    done = subprocess.run(  # noqa: S603 - our own interpreter running pytest on the generated suite
        [*command, "-q", "-rf", "test_order.py"],
        cwd=suite,
        env=_env(variant),
        capture_output=True,
        text=True,
        check=False,
        timeout=RUN_TIMEOUT,
    )
    if done.returncode not in {0, 1}:
        msg = f"{' '.join(command[2:])} exited {done.returncode}:\n{done.stdout[-3000:]}{done.stderr[-1500:]}"
        raise RuntimeError(msg)
    return sorted(_FAILED.findall(done.stdout))


def measure(runs: int) -> dict[str, Any]:
    """Run every variant `runs` times in each mode, interleaved; return the counts and how they were taken."""
    started, load_before = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), load_average()
    failing: dict[str, dict[str, int]] = {v: dict.fromkeys(MODES, 0) for v in VARIANTS}
    failed_tests: dict[str, dict[str, list[str]]] = {v: {m: [] for m in MODES} for v in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="flaky-runs-") as folder:
        suite = Path(folder)
        (suite / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        (suite / "conftest.py").write_text(_CONFTEST, encoding="utf-8")
        (suite / "test_order.py").write_text(_TESTS, encoding="utf-8")
        for run in range(runs):
            for mode, args in MODES.items():
                for variant in VARIANTS:
                    failed = _run(suite, variant, args)
                    failing[variant][mode] += bool(failed)
                    failed_tests[variant][mode] = sorted({*failed_tests[variant][mode], *failed})
            print(f"run {run + 1}/{runs}: {json.dumps(failing)}", flush=True)
    return {
        "started": started,
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_before": load_before,
        "load_after": load_average(),
        "runs": runs,
        "failing_runs": failing,
        "failed_tests": failed_tests,
        "method": (
            "one file of 41 tests in file order (-p no:randomly -p no:cacheprovider), interleaved runs;"
            " plain and keyed with -p no:worker_locator, isolated with the plugin; run under nice -n 5"
        ),
        "python": platform.python_version(),
        "versions": {name: metadata.version(name) for name in ("pytest", "pytest-xdist", "worker-locator")},
        "machine": {"cores": os.cpu_count(), "platform": platform.platform()},
    }


def main() -> None:
    """Measure, print the counts and write them to docs/_data/flaky-runs.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of each variant in each mode (20)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the figures")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")
    result = measure(args.runs)
    args.output.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result["failing_runs"], indent=1))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
