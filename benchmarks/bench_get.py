"""Measure a cached `ServiceLocator.get` against a raw dict lookup and `functools.cache`.

Run with `python benchmarks/bench_get.py` (add `--json` for machine-readable
output). Every figure comes from this one process run, timed with both CPU
time and wall time, as the minimum of 7 repeats; ratios are to the raw-dict
function, so machine speed and load cancel out as far as they can. The target
is a cached `get` at most 1.5 times the raw-dict function.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
import timeit
from collections.abc import Callable

from worker_locator import ServiceLocator

REPEATS = 7
TARGET_RATIO = 1.5


class Service:
    """A stand-in service."""


_RAW = {Service: Service()}


def raw(key: type[Service]) -> Service:
    """Look a key up in a module-level dict: the floor a locator is compared with."""
    return _RAW[key]


@functools.cache
def cached() -> Service:
    """Return a `functools.cache`d instance: the standard library's memoised singleton."""
    return Service()


def _per_call_ns(stmt: str, namespace: dict[str, object], timer: Callable[[], float]) -> float:
    measure = timeit.Timer(stmt, globals=namespace, timer=timer)
    loops, _ = measure.autorange()
    loops = max(loops, 200_000)
    return min(measure.repeat(REPEATS, loops)) / loops * 1e9


def main(argv: list[str] | None = None) -> int:
    """Print ns per call and ratios to the raw-dict function; return 1 if the target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    locator = ServiceLocator()
    locator.register(Service, Service)
    counting = ServiceLocator(count_hits=True)
    counting.register(Service, Service)
    locator.get(Service)
    counting.get(Service)
    assert cached() is cached()

    namespace: dict[str, object] = {
        "raw": raw,
        "cached": cached,
        "Service": Service,
        "locator": locator,
        "counting": counting,
        "getpid": os.getpid,
    }
    cases = {
        "raw dict lookup in a function": "raw(Service)",
        "functools.cache call": "cached()",
        "ServiceLocator.get, cached": "locator.get(Service)",
        "ServiceLocator.get, count_hits=True": "counting.get(Service)",
        "os.getpid() (what a per-call pid check adds)": "getpid()",
    }
    results: dict[str, dict[str, float]] = {}
    for clock, timer in (("cpu", time.process_time), ("wall", time.perf_counter)):
        for label, stmt in cases.items():
            results.setdefault(label, {})[f"{clock}_ns"] = _per_call_ns(stmt, namespace, timer)
    for figures in results.values():
        for clock in ("cpu", "wall"):
            figures[f"{clock}_ratio"] = (
                figures[f"{clock}_ns"] / results["raw dict lookup in a function"][f"{clock}_ns"]
            )

    verdict = results["ServiceLocator.get, cached"]
    ok = verdict["cpu_ratio"] <= TARGET_RATIO
    if args.json:
        print(
            json.dumps(
                {"python": sys.version.split()[0], "target_ratio": TARGET_RATIO, "ok": ok, "results": results}
            )
        )
    else:
        print(f"Python {sys.version.split()[0]}, min of {REPEATS} repeats, ratios to the raw-dict function")
        print(f"{'case':46} {'cpu ns':>8} {'ratio':>6} {'wall ns':>8} {'ratio':>6}")
        for label, f in results.items():
            cpu, wall = (
                f"{f['cpu_ns']:8.1f} {f['cpu_ratio']:6.2f}",
                f"{f['wall_ns']:8.1f} {f['wall_ratio']:6.2f}",
            )
            print(f"{label:46} {cpu} {wall}")
        print(
            f"target: cached get at most {TARGET_RATIO}x the raw dict (CPU time): {'met' if ok else 'MISSED'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
