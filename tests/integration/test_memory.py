"""Memory: per-worker resident memory at 4, 8 and 16 workers, and a bounded cache under 10,000 distinct keys.

No figure here is a performance target. The worker figures come from
`benchmarks/bench_worker_memory.py`, which prints them as a table; this
test checks that every worker reported a sane figure. The key test traces
Python allocations (deterministic, unlike resident memory) in a process of
its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from tests.integration.harness import REPO_ROOT

RSS_BOUNDS_KIB = (8 * 1024, 512 * 1024)
"""A sane range for one worker's resident memory: a real interpreter with pytest, far from a leak."""
FLAT_GROWTH_BYTES = 1024 * 1024
"""What 9,000 more keys may add under the default bound: the bound keeps 50 services of 4 KiB;
the locator's per-key eviction counter grows by about 20 bytes a key (measured: ~200 KiB)."""


def _python(*args: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    done = subprocess.run(  # noqa: S603 - our own interpreter and files
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.slow
def test_worker_memory_is_recorded_at_4_8_and_16_workers() -> None:
    figures = _python(str(REPO_ROOT / "benchmarks" / "bench_worker_memory.py"), "--json")
    assert [run["workers"] for run in figures["runs"]] == [4, 8, 16]
    low, high = RSS_BOUNDS_KIB
    for run in figures["runs"]:
        assert sorted(run["rss_kib"]) == sorted(f"gw{index}" for index in range(run["workers"]))
        assert all(low < kib < high for kib in run["rss_kib"].values()), run


def test_ten_thousand_distinct_keys_keep_memory_flat_under_the_default_bound() -> None:
    bounded = _python("-m", "tests.integration.memory_probe", "default")
    assert bounded["max_cached"] == 50
    assert bounded["stats"]["cached"] == 50
    assert bounded["stats"]["evictions"] == 10_000 - 50
    assert bounded["after_10k_bytes"] - bounded["after_1k_bytes"] < FLAT_GROWTH_BYTES, bounded
    # Without the bound the same probe grows by the 9,000 services it now keeps: the measure can see growth.
    unbounded = _python("-m", "tests.integration.memory_probe", "none")
    assert unbounded["stats"]["cached"] == 10_000
    assert unbounded["after_10k_bytes"] - unbounded["after_1k_bytes"] > 9_000 * 4096
