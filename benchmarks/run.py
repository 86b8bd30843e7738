"""Run the benchmarks, each scenario in a process of its own, check the goals, write the results.

    python benchmarks/run.py                  # the full run: the Performance page's figures
    python benchmarks/run.py --quick          # CI: fewer sizes, shorter repeats, same goals
    python benchmarks/run.py --docs           # also time `pytest -n 8 docs/ src/` against -n 2 (slow)
    python benchmarks/run.py --only eviction lazy_proxy

Every figure is the minimum of 7 repeats, by CPU time and by wall time;
ratios compare cases timed in the same process, so machine speed and load
cancel out as far as they can. The load average (`uptime`) is recorded before
and after each scenario. The results go to a JSON file (default
`benchmarks/results/results.json`, which `benchmarks/plot.py` turns into the
Performance page's table and charts). Goals are in `goals.py`; a missed goal
exits 1, except a known miss, which prints `MISSED (issue N)` and passes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
_ROOT = _HERE.parent
DEFAULT_OUTPUT = _HERE / "results" / "results.json"
LAZY_PYTHONS = ("3.12", "3.13")
SCENARIO_TIMEOUT = 1800
# In the order they run; "lazy_proxy" also runs under each pyenv Python found.
ORDER = (
    "cached_get",
    "in_test_get",
    "cold_chain",
    "override",
    "isolation",
    "suite",
    "suite_instructions",
    "eviction",
    "lazy_proxy",
    "snapshot",
)


def _scenarios() -> dict[str, Callable[[bool], dict[str, Any]]]:
    import _docs_run
    import _instructions
    import _pytest_runs
    import _scenarios

    return {
        **_scenarios.SCENARIOS,
        **_pytest_runs.SCENARIOS,
        **_instructions.SCENARIOS,
        **_docs_run.SCENARIOS,
    }


def _other_pythons() -> dict[str, str]:
    """Return `{version: interpreter}` for the newer CPythons pyenv has here."""
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True).stdout.strip()  # noqa: S607 - pyenv by name, if installed
    except (OSError, subprocess.CalledProcessError):
        root = str(Path.home() / ".pyenv")
    found = {}
    for version in LAZY_PYTHONS:
        candidates = sorted(
            Path(root, "versions").glob(f"{version}.*/bin/python"),
            key=lambda p: [int(x) for x in p.parent.parent.name.split(".") if x.isdigit()],
        )
        if candidates:
            found[version] = str(candidates[-1])
    return found


def _child(name: str, python: str, *, quick: bool) -> dict[str, Any]:
    """Run one scenario in a fresh interpreter and return its results."""
    import _timing

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_ROOT / "src"), str(_HERE)])}
    command = [python, str(Path(__file__).resolve()), "--scenario", name, *(["--quick"] if quick else [])]
    load_before = _timing.load_average()
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own script under a Python we found
        command, capture_output=True, text=True, env=env, check=False, timeout=SCENARIO_TIMEOUT
    )
    if done.returncode != 0:
        msg = f"scenario {name} under {python} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        raise RuntimeError(msg)
    result: dict[str, Any] = json.loads(done.stdout)
    result["seconds"] = time.perf_counter() - started
    result["load_before"] = load_before
    result["load_after"] = _timing.load_average()
    return result


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines()
            if line.startswith("MemTotal:")
        )
    except (OSError, StopIteration, ValueError):
        mem_kib = 0
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "platform": platform.platform(),
    }


def _commit() -> str | None:
    try:
        head = subprocess.run(  # noqa: S603 - git by name, in our own checkout
            ["git", "-C", str(_ROOT), "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head


def _fmt_ns(ns: float) -> str:
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e4:
        return f"{ns / 1e3:.1f} us"
    return f"{ns:.0f} ns"


def print_table(results: dict[str, Any], verdicts: list[dict[str, Any]]) -> None:
    """Print every case of every scenario, then the goals."""
    meta = results["meta"]
    cores = meta["machine"]["cores"]
    print(f"worker-locator benchmarks, {meta['date']}, Python {meta['python']}, {cores} cores")
    print(f"min of {meta['repeats']} repeats per case; x = ratio to the scenario's baseline, same clock")
    for name, scenario in results["scenarios"].items():
        baseline = scenario.get("baseline")
        load = scenario.get("load_before", [])
        print(f"\n== {name}  (load before: {', '.join(map(str, load))})")
        if "skipped" in scenario:
            print(f"  skipped: {scenario['skipped']}")
        base = next((c for c in scenario["cases"] if c["label"] == baseline), None)
        for case in scenario["cases"]:
            if "instructions" in case:
                print(f"  {case['label'][:62]:62} {case['instructions']:>15,} instructions")
                continue
            cpu, wall = case["cpu_ns"], case["wall_ns"]
            ratio_cpu = f"{cpu / base['cpu_ns']:7.2f}x" if base else " " * 8
            ratio_wall = f"{wall / base['wall_ns']:7.2f}x" if base else " " * 8
            figures = f"cpu {_fmt_ns(cpu):>9} {ratio_cpu}  wall {_fmt_ns(wall):>9} {ratio_wall}"
            print(f"  {case['label'][:62]:62} {figures}")
    print("\n== goals")
    for verdict in verdicts:
        figure = f"{verdict['value']:.2f}{verdict['unit']} vs goal <= {verdict['limit']:g}{verdict['unit']}"
        print(f"  {verdict['status']}: {figure}  [{verdict['goal']}]")


def _keep(scenarios: dict[str, Any], earlier_file: Path) -> list[str]:
    """Add the scenarios of an earlier results file that this run skipped; return their names."""
    earlier = json.loads(earlier_file.read_text(encoding="utf-8"))
    kept = []
    for name, result in earlier["scenarios"].items():
        if name not in scenarios:
            result.setdefault("date", earlier["meta"]["date"])
            result.setdefault("commit", earlier["meta"]["commit"])
            scenarios[name] = result
            kept.append(name)
    return kept


def _position(name: str) -> int:
    """Where a scenario's results go: in `ORDER`, each Python's `lazy_proxy` in its place, docs last."""
    base = "lazy_proxy" if name.startswith("lazy_proxy_") else name
    return ORDER.index(base) if base in ORDER else len(ORDER)


def main(argv: list[str] | None = None) -> int:
    """Run the scenarios, print the table and goals, write the JSON; return 1 on a missed goal."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI mode: fewer sizes and shorter repeats")
    parser.add_argument("--docs", action="store_true", help="also time pytest -n 8 docs/ src/ against -n 2")
    parser.add_argument(
        "--only", nargs="+", metavar="SCENARIO", help=f"run only these (of {', '.join(ORDER)})"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the results file (JSON)")
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="RESULTS",
        help="take the scenarios this run skips from an earlier results file (they keep their own dates)",
    )
    parser.add_argument("--scenario", help=argparse.SUPPRESS)  # the child process: run one, print JSON
    args = parser.parse_args(argv)

    if args.scenario:
        print(json.dumps(_scenarios()[args.scenario](args.quick)))
        return 0

    import _peers
    import goals

    names = list(args.only or ORDER) + (["docs_run"] if args.docs and not args.only else [])
    unknown = sorted(set(names) - {*ORDER, "docs_run"})
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}; choose from {', '.join(ORDER)}, docs_run")
    others = _other_pythons()
    scenarios: dict[str, Any] = {}
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        if name == "lazy_proxy":
            version = f"{sys.version_info.major}.{sys.version_info.minor}"
            scenarios[f"lazy_proxy_{version}"] = _child(name, sys.executable, quick=args.quick)
            for other, python in others.items():
                scenarios[f"lazy_proxy_{other}"] = _child(name, python, quick=args.quick)
        else:
            scenarios[name] = _child(name, sys.executable, quick=args.quick)

    import _timing

    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    for result in scenarios.values():
        result["date"] = stamp
    kept = _keep(scenarios, args.keep) if args.keep else []
    scenarios = dict(sorted(scenarios.items(), key=lambda item: _position(item[0])))
    results: dict[str, Any] = {
        "meta": {
            "date": stamp,
            "kept_from_earlier_run": kept,
            "commit": _commit(),
            "quick": args.quick,
            "repeats": _timing.REPEATS,
            "python": sys.version.split()[0],
            "other_pythons": {v: p for v, p in others.items() if f"lazy_proxy_{v}" in scenarios},
            "machine": _machine(),
            "load_at_end": _timing.load_average(),
            "versions": {
                "worker-locator": _version("worker-locator"),
                "pytest": _version("pytest"),
                "pytest-xdist": _version("pytest-xdist"),
                "sybil": _version("sybil"),
                **_peers.versions(),
            },
            "no_equivalent": _peers.NO_EQUIVALENT,
        },
        "scenarios": scenarios,
    }
    verdicts, passed = goals.check(scenarios)
    results["goals"] = verdicts
    print_table(results, verdicts)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"\nresults written to {args.output}")
    if not passed:
        print("a goal was missed: see MISSED above", file=sys.stderr)
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
