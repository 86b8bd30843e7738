"""Time a statement by CPU time and wall time at once: the minimum of 7 repeats.

Every benchmark scenario times its cases with `measure_many` (or `measure`
for one). One repeat runs the statement in a compiled loop, calibrated to a
fixed CPU time, and reads both clocks around it, so the CPU and wall figures
come from the same runs; the cases of a scenario are repeated in rounds. The minimum is the figure least
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
QUICK_REPEAT_SECONDS = 0.01
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


def _calibrate(loop: Callable[[int], None], target: float) -> int:
    """Grow the loop until one run lasts `target` seconds of CPU time."""
    loops = 1
    while True:
        cpu, _ = _once(loop, loops)
        if cpu >= target or loops >= MAX_LOOPS:
            return loops
        loops = max(loops * 2, int(loops * target / max(cpu, 1e-6) * 1.2))


def measure_many(
    cases: list[tuple[str, str, str, str]],
    namespace: dict[str, Any],
    *,
    quick: bool = False,
    repeats: int = REPEATS,
) -> list[Timing]:
    """Time `(label, stmt, setup, note)` cases in interleaved rounds; return each one's best repeat.

    Round-robin repeats let every case see the same spells of load on a shared
    machine, so the minima, and the ratios between them, are comparable.
    """
    target = QUICK_REPEAT_SECONDS if quick else FULL_REPEAT_SECONDS
    loops = [_compile(stmt, setup, namespace) for _, stmt, setup, _ in cases]
    counts = [_calibrate(loop, target) for loop in loops]
    best = [(float("inf"), float("inf")) for _ in cases]
    for _ in range(repeats):
        for index, (loop, count) in enumerate(zip(loops, counts, strict=True)):
            cpu, wall = _once(loop, count)
            best[index] = (min(best[index][0], cpu), min(best[index][1], wall))
    return [
        Timing(label, cpu / count * 1e9, wall / count * 1e9, count, note)
        for (label, _, _, note), (cpu, wall), count in zip(cases, best, counts, strict=True)
    ]


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
    """Time `stmt` (run in a loop after `setup`, in `namespace`); return the best repeat per call."""
    return measure_many([(label, stmt, setup, note)], namespace, quick=quick, repeats=repeats)[0]


def load_average() -> list[float]:
    """Return the 1, 5 and 15 minute load averages as `uptime` prints them."""
    try:
        out = subprocess.run(["uptime"], capture_output=True, text=True, check=True, timeout=10).stdout  # noqa: S607 - the system's uptime, by name on purpose
        tail = out.rsplit("load average:", 1)[1]
        return [float(part.strip().replace(",", ".")) for part in tail.split(", ")[:3]]
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        return [round(x, 2) for x in os.getloadavg()]
