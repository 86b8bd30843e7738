"""Measure, with tracemalloc, what a locator holds after 1,000 and after 10,000 distinct keys.

Run as `python -m tests.integration.memory_probe {default|none}` in a process
of its own, so that nothing else allocates while it traces. It registers
10,000 keys whose services are 4 KiB each, then looks up the first 1,000 and
the other 9,000, and prints JSON: the traced bytes after each phase and the
locator's counters. `default` uses `ServiceLocator()` (at most 50 services
cached); `none` uses `ServiceLocator(max_cached=None)`, for contrast.
"""

from __future__ import annotations

import json
import sys
import tracemalloc

from worker_locator import ServiceLocator

KEYS = 10_000
FIRST = 1_000
SERVICE_BYTES = 4096


def main(argv: list[str]) -> int:
    """Run the probe; return the exit status."""
    if argv not in (["default"], ["none"]):
        sys.stderr.write("usage: python -m tests.integration.memory_probe {default|none}\n")
        return 2
    locator = ServiceLocator() if argv == ["default"] else ServiceLocator(max_cached=None)
    keys = [f"service-{index:05d}" for index in range(KEYS)]
    for key in keys:
        locator.register(key, lambda: bytearray(SERVICE_BYTES))
    tracemalloc.start()
    for key in keys[:FIRST]:
        locator.get(key)
    after_first = tracemalloc.get_traced_memory()[0]
    for key in keys[FIRST:]:
        locator.get(key)
    after_all = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    figures = {
        "max_cached": locator.max_cached,
        "after_1k_bytes": after_first,
        "after_10k_bytes": after_all,
        "stats": dict(locator.stats()),
    }
    sys.stdout.write(json.dumps(figures) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
