"""32 threads ask for one service at once; the factory holds the first builder until all 32 are inside it.

A cache that checks and then builds without a lock lets every thread in, so
the factory's barrier fills and 32 services are built: certain, not likely.
A locked cache lets one thread in; the factory then waits out its barrier's
timeout alone and one service is built.
"""

from __future__ import annotations

import contextlib
import threading

from tests.integration.suite_support import Cache, record

THREADS = 32
ALONE_AFTER = 5.0  # seconds the factory waits for other builders before it gives up and returns


def test_threads_racing_for_the_first_get_build_the_service_once(cache: Cache) -> None:
    built: list[int] = []
    inside = threading.Barrier(THREADS, timeout=ALONE_AFTER)

    def build() -> object:
        built.append(threading.get_ident())
        with contextlib.suppress(threading.BrokenBarrierError):
            inside.wait()
        return object()

    cache.register("expensive", build)
    start = threading.Barrier(THREADS)
    got: list[object] = []

    def run() -> None:
        start.wait()
        got.append(cache.get("expensive"))

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    record({"kind": "race", "constructions": len(built), "distinct": len({id(o) for o in got})})
    assert len(got) == THREADS
    assert len(built) == 1
    assert len({id(o) for o in got}) == 1
