"""Time a statement by CPU time and wall time at once: the minimum of 7 repeats.

Every benchmark scenario times its cases with `measure`. One repeat runs the
statement in a compiled loop and reads both clocks around it, so the CPU and
wall figures come from the same runs. The minimum is the figure least
disturbed by other processes on a shared machine; ratios between cases timed
in one process are what the benchmarks compare.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

REPEATS = 7
FULL_REPEAT_SECONDS = 0.02
QUICK_REPEAT_SECONDS = 0.005
MAX_LOOPS = 10_000_000


@dataclass
class Timing:
    """What one case costs per call, in nanoseconds."""

    label: str
    cpu_ns: float
    wall_ns: float
    loops: int
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Return the figures as JSON types."""
        return asdict(self)


def _compile(stmt: str, setup: str, namespace: dict[str, Any]) -> Callable[[int], None]:
    source = (
        "def _bench_loop(_bench_n):\n"
        + textwrap.indent(textwrap.dedent(setup) or "pass", "    ")
        + "\n    for _bench_i in range(_bench_n):\n"
        + textwrap.indent(textwrap.dedent(stmt), "        ")
        + "\n"
    )
    scope = dict(namespace)
    exec(compile(source, "<benchmark>", "exec"), scope)  # noqa: S102 - our own benchmark statements
    loop: Callable[[int], None] = scope["_bench_loop"]
    return loop


def _once(loop: Callable[[int], None], loops: int) -> tuple[float, float]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    loop(loops)
    cpu1, wall1 = time.process_time(), time.perf_counter()
    return cpu1 - cpu0, wall1 - wall0


def measure(  # noqa: PLR0913 - one statement, its namespace, and keyword-only options
    label: str,
    stmt: str,
    namespace: dict[str, Any],
    *,
    setup: str = "",
    quick: bool = False,
    repeats: int = REPEATS,
    note: str = "",
) -> Timing:
    """Time `stmt` (run `loops` times after `setup`, in `namespace`); return the best repeat per call."""
    loop = _compile(stmt, setup, namespace)
    target = QUICK_REPEAT_SECONDS if quick else FULL_REPEAT_SECONDS
    loops = 1
    while True:  # calibrate: grow the loop until one repeat lasts the target time
        _, wall = _once(loop, loops)
        if wall >= target or loops >= MAX_LOOPS:
            break
        loops = max(loops * 2, int(loops * target / max(wall, 1e-9) * 1.2))
    best_cpu = best_wall = float("inf")
    for _ in range(repeats):
        cpu, wall = _once(loop, loops)
        best_cpu, best_wall = min(best_cpu, cpu), min(best_wall, wall)
    return Timing(label, best_cpu / loops * 1e9, best_wall / loops * 1e9, loops, note)


def load_average() -> list[float]:
    """Return the 1, 5 and 15 minute load averages as `uptime` prints them."""
    try:
        out = subprocess.run(["uptime"], capture_output=True, text=True, check=True, timeout=10).stdout  # noqa: S607 - the system's uptime, by name on purpose
        tail = out.rsplit("load average:", 1)[1]
        return [float(part.strip().replace(",", ".")) for part in tail.split(", ")[:3]]
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        return [round(x, 2) for x in os.getloadavg()]
