"""32 threads ask for one service at once; the factory holds its builder until no racing thread is on its way.

The factory lets its builder return only once every racing thread is either
inside the factory too or waiting in a `threading` primitive (a lock or
condition inside `cache.get`), which it reads from each thread's current
frame. A cache that checks and then builds without a lock lets every thread
in, so 32 services are built; a locked cache lets one thread in while the
others wait for it, so one is built. Both are certain, whatever the load: no
outcome depends on how long anything takes.
"""

from __future__ import annotations

import sys
import threading
import time

from tests.integration.suite_support import Cache, record

THREADS = 32
GIVE_UP_AFTER = 300.0
"""Seconds a builder waits for the others before it fails the test: a guard against a hang, never reached."""


def _waiting_in_threading(thread: threading.Thread) -> bool:
    """Return whether the thread's innermost Python frame is in `threading`: blocked on a lock."""
    frame = sys._current_frames().get(thread.ident or -1)
    return frame is not None and frame.f_code.co_filename == threading.__file__


def test_threads_racing_for_the_first_get_build_the_service_once(cache: Cache) -> None:
    threads: list[threading.Thread] = []
    calling: set[int] = set()  # threads past the start line, in or on their way into `cache.get`
    built: list[int] = []

    def nobody_on_the_way() -> bool:
        others = [t for t in threads if t.ident not in built]
        return all(t.ident in calling and _waiting_in_threading(t) for t in others)

    def build() -> object:
        built.append(threading.get_ident())
        deadline = time.monotonic() + GIVE_UP_AFTER
        while not nobody_on_the_way():
            if time.monotonic() > deadline:
                msg = f"{len(built)} builders waited {GIVE_UP_AFTER:.0f}s for the other racing threads"
                raise TimeoutError(msg)
            time.sleep(0.001)
        return object()

    cache.register("expensive", build)
    start = threading.Barrier(THREADS)
    got: list[object] = []

    def run() -> None:
        start.wait()
        calling.add(threading.get_ident())
        got.append(cache.get("expensive"))

    threads.extend(threading.Thread(target=run) for _ in range(THREADS))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(GIVE_UP_AFTER + 60)
    record({"kind": "race", "constructions": len(built), "distinct": len({id(o) for o in got})})
    assert len(got) == THREADS
    assert len(built) == 1
    assert len({id(o) for o in got}) == 1
