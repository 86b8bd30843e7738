"""Fork safety: a child builds its own instances and drops, never closes, what it inherited."""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import threading
import weakref
from typing import Any

import pytest

from tests.forking import read_child
from tests.unit.helpers import ChildRunner, Client
from worker_locator import (
    LazyProxy,
    ServiceLocator,
    get_locator,
    reset_locator,
    resource_namespace,
    worker_id,
)

pytestmark = pytest.mark.filterwarnings(
    # Python 3.12+ warns about forking a process that has threads; these tests fork on purpose.
    "ignore:This process .* is multi-threaded, use of fork\\(\\) may lead to deadlocks:DeprecationWarning"
)


class Owned:
    """A service that remembers which process built it and whether it was closed."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.closed_in: list[int] = []

    def close(self) -> None:
        self.closed_in.append(os.getpid())


def test_a_forked_child_builds_its_own_instance(
    locator: ServiceLocator, in_forked_child: ChildRunner
) -> None:
    locator.register(Owned, Owned)
    parent = locator.get(Owned)

    def child() -> dict[str, Any]:
        mine = locator.get(Owned)
        return {
            "same_object": mine is parent,
            "built_in": mine.pid,
            "me": os.getpid(),
            "cached_twice": mine is locator.get(Owned),
        }

    seen = in_forked_child(child)
    assert seen["same_object"] is False
    assert seen["built_in"] == seen["me"] != os.getpid()
    assert seen["cached_twice"] is True
    assert locator.get(Owned) is parent
    assert parent.pid == os.getpid()


def test_closing_the_locator_in_a_child_never_closes_what_it_inherited(
    locator: ServiceLocator, in_forked_child: ChildRunner
) -> None:
    locator.register(Owned, Owned)
    parent = locator.get(Owned)

    def child() -> list[int]:
        mine = locator.get(Owned)
        locator.close()
        return [len(parent.closed_in), len(mine.closed_in)]

    assert in_forked_child(child) == [0, 1]
    assert parent.closed_in == []


def test_a_polite_close_in_the_child_would_kill_the_parents_connection_but_the_locator_never_does_it(
    locator: ServiceLocator, in_forked_child: ChildRunner, line_server: tuple[str, int]
) -> None:
    naive = Client(line_server)
    assert naive.request("parent-1") == "reply-to:parent-1"

    def naive_child() -> bool:
        naive.close()  # what a shared cache does when the child cleans up: QUIT on the parent's connection
        return True

    in_forked_child(naive_child)
    assert naive.request("parent-2") == "", "the child's QUIT ended the connection the parent still uses"
    naive.sock.close()

    locator.register(Client, lambda: Client(line_server))
    mine = locator.get(Client)

    def locator_child() -> str:
        child_client = locator.get(Client)
        reply = child_client.request("child")
        locator.close()  # closes only what the child built
        return reply

    assert in_forked_child(locator_child) == "reply-to:child"
    assert mine.request("parent-3") == "reply-to:parent-3"
    locator.close()


def test_replies_never_cross_between_parent_and_child(
    locator: ServiceLocator, in_forked_child: ChildRunner, line_server: tuple[str, int]
) -> None:
    locator.register(Client, lambda: Client(line_server))
    parent = locator.get(Client)

    def child() -> list[Any]:
        client = locator.get(Client)
        return [client.owner_pid == os.getpid(), client.request(f"child-{os.getpid()}")]

    owned_by_child, reply = in_forked_child(child)
    assert owned_by_child
    assert reply.startswith("reply-to:child-")
    assert parent.request("parent") == "reply-to:parent"
    locator.close()


def _multiprocessing_child(queue: Any) -> None:
    locator = get_locator()
    service = locator.get(Owned)
    queue.put(
        {"pid": os.getpid(), "built_in": service.pid, "worker": worker_id(), "ns": resource_namespace()}
    )


def test_a_multiprocessing_fork_child_builds_its_own_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw7")
    locator = reset_locator()
    locator.register(Owned, Owned)
    parent = locator.get(Owned)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=_multiprocessing_child, args=(queue,))
    process.start()
    seen = queue.get(timeout=60)
    process.join(60)
    assert process.exitcode == 0
    assert seen["built_in"] == seen["pid"] != os.getpid()
    assert seen["worker"] == "gw7", "the child inherits PYTEST_XDIST_WORKER..."
    assert seen["ns"] != resource_namespace(), "...yet names its resources apart from the parent"
    assert parent.closed_in == []
    reset_locator()


def test_under_xdist_the_child_inherits_the_worker_id_and_still_builds_its_own(
    monkeypatch: pytest.MonkeyPatch, locator: ServiceLocator, in_forked_child: ChildRunner
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    monkeypatch.setenv("PYTEST_XDIST_TESTRUNUID", "run-abc")
    locator.register(Owned, Owned)
    parent = locator.get(Owned)
    keyed_by_worker: dict[str, Owned] = {worker_id(): parent}

    def child() -> dict[str, Any]:
        return {
            "worker": worker_id(),
            "keyed_cache_hands_over_parent": keyed_by_worker[worker_id()] is parent,
            "locator_hands_over_parent": locator.get(Owned) is parent,
            "ns": resource_namespace(),
        }

    seen = in_forked_child(child)
    assert seen["worker"] == "gw3"
    assert seen["keyed_cache_hands_over_parent"] is True, "the seed's worker-keyed cache is not fork-safe"
    assert seen["locator_hands_over_parent"] is False
    assert seen["ns"] != resource_namespace()


def test_a_construction_in_progress_in_another_thread_at_fork_time_does_not_block_the_child(
    locator: ServiceLocator, in_forked_child: ChildRunner
) -> None:
    entered, release = threading.Event(), threading.Event()

    def blocking() -> str:
        entered.set()
        release.wait(60)
        return f"built in {os.getpid()}"

    locator.register("slow", blocking)
    builder = threading.Thread(target=lambda: locator.get("slow"))
    builder.start()
    assert entered.wait(60)
    try:
        # In the child the building thread does not exist; its lock must not be inherited held.
        def child() -> str:
            release.set()  # the child's own copy of the event, so that the child's own build returns
            built: str = locator.get("slow")
            return built

        result = in_forked_child(child)
    finally:
        release.set()
        builder.join(60)
    assert result.startswith("built in ")
    assert result != f"built in {os.getpid()}", (
        "the child built its own instead of waiting for the parent's thread"
    )
    assert locator.get("slow") == f"built in {os.getpid()}"


def test_what_a_child_inherited_is_kept_unclosed_until_clear_all_caches(
    locator: ServiceLocator, in_forked_child: ChildRunner
) -> None:
    locator.register(Owned, Owned)
    locator.get(Owned)

    def child() -> list[int]:
        before = locator.snapshot()["inherited_dropped"]
        locator.clear_cache()
        kept = locator.snapshot()["inherited_dropped"]
        locator.clear_all_caches()
        return [before, kept, locator.snapshot()["inherited_dropped"]]

    assert in_forked_child(child) == [1, 1, 0]


def test_a_grandchild_builds_its_own_as_well(locator: ServiceLocator, in_forked_child: ChildRunner) -> None:
    locator.register(Owned, Owned)
    locator.get(Owned)

    def child() -> list[int]:
        mine = locator.get(Owned)
        return [
            mine.pid,
            *in_forked_child(lambda: [locator.get(Owned).pid, os.getpid(), int(locator.get(Owned) is mine)]),
        ]

    child_built, grandchild_built, grandchild_pid, shared = in_forked_child(child)
    assert grandchild_built == grandchild_pid
    assert len({os.getpid(), child_built, grandchild_built}) == 3
    assert shared == 0


def test_a_lazy_proxy_created_in_the_parent_is_rebuilt_in_the_child(in_forked_child: ChildRunner) -> None:
    proxy = LazyProxy(Owned)
    assert proxy.pid == os.getpid()
    assert in_forked_child(lambda: proxy.pid) != os.getpid()
    assert proxy.pid == os.getpid()


def test_the_fork_hook_keeps_no_locator_or_proxy_alive() -> None:
    locator = ServiceLocator()
    locator.register(Owned, Owned)
    locator.get(Owned)
    proxy = LazyProxy(Owned)
    refs: list[weakref.ref[object]] = [weakref.ref(locator), weakref.ref(proxy)]
    del locator, proxy
    gc.collect()
    assert [r() for r in refs] == [None, None]


def test_many_locators_are_garbage_collected() -> None:
    refs = []
    for _ in range(1000):
        locator = ServiceLocator()
        locator.register(Owned, Owned)
        locator.get(Owned)
        refs.append(weakref.ref(locator))
    del locator
    gc.collect()
    assert sum(r() is not None for r in refs) == 0


def test_a_forked_child_never_finalises_a_proxy_target_it_inherited(in_forked_child: ChildRunner) -> None:
    finalised: list[int] = []

    class Session:
        def __del__(self) -> None:
            finalised.append(os.getpid())

    proxies = [LazyProxy(Session)]
    parent_target_id = id(proxies[0]._lazy_get())

    def child() -> list[Any]:
        rebuilt = proxies[0]._lazy_get()
        gc.collect()
        return [list(finalised), id(rebuilt) != parent_target_id]

    assert in_forked_child(child) == [[], True]
    proxies.clear()
    gc.collect()
    assert finalised == [os.getpid()]


def test_a_forked_child_renews_its_process_token_so_a_recycled_pid_still_gets_its_own_names(
    monkeypatch: pytest.MonkeyPatch, in_forked_child: ChildRunner
) -> None:
    """What the fork counter is for: outside xdist, the random per-process token is renewed in a child.

    The pid alone cannot keep two processes of one run apart once the
    operating system recycles it; the child below takes its parent's pid, as a
    later process may, and still gets a name of its own.
    """
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_TESTRUNUID", raising=False)
    parent_pid, parent_name = os.getpid(), resource_namespace()

    def child() -> list[str]:
        monkeypatch.setattr(os, "getpid", lambda: parent_pid)  # the child's own copy of os
        return [resource_namespace(), resource_namespace()]

    first, again = in_forked_child(child)
    assert first == again, "stable within the child"
    assert first != parent_name


def test_an_override_block_left_in_a_child_never_gives_the_child_what_the_parent_set_aside(
    locator: ServiceLocator, in_forked_child: ChildRunner
) -> None:
    # What a block set aside was built in the parent: leaving the block in a child must not
    # cache it there again (the fork generation tells the two processes' blocks apart).
    locator.register(Owned, Owned)
    parent = locator.get(Owned)
    block = locator.override(Owned, Owned())
    block.__enter__()
    try:

        def child() -> list[bool]:
            block.__exit__(None, None, None)
            mine = locator.get(Owned)
            return [mine is parent, mine.pid == os.getpid()]

        assert in_forked_child(child) == [False, True]
    finally:
        block.__exit__(None, None, None)
    assert locator.get(Owned) is parent


def test_a_factory_that_forks_gives_each_process_its_own_result_and_the_child_caches_none(
    locator: ServiceLocator,
) -> None:
    parent_pid = os.getpid()
    children: list[int] = []

    def forking() -> int:
        children.append(os.fork())
        return os.getpid()

    locator.register("forking", forking)
    read_end, write_end = os.pipe()
    got = locator.get("forking")
    if os.getpid() != parent_pid:  # pragma: no cover - the child, which reports and leaves
        report = json.dumps({"got": got, "me": os.getpid(), "cached": locator.stats()["cached"]})
        os.write(write_end, report.encode())
        os._exit(0)
    os.close(write_end)
    reply, exit_code = read_child(read_end, children[0])
    assert exit_code == 0
    child = json.loads(reply)
    assert child["got"] == child["me"] != parent_pid
    assert child["cached"] == 0, "built across a fork: the child's copy is not cached"
    assert got == parent_pid
    assert locator.get("forking") == parent_pid


class Held:
    """A service the test holds only weakly: the locator's reference is the only strong one."""


def test_clear_all_caches_in_a_child_lets_what_it_inherited_be_freed_there(
    locator: ServiceLocator, in_forked_child: ChildRunner
) -> None:
    locator.register(Held, Held)
    ref = weakref.ref(locator.get(Held))

    def child() -> list[bool]:
        locator.clear_cache()
        kept = ref() is not None  # quarantined: clear_cache never frees what the parent built
        locator.clear_all_caches()
        gc.collect()
        return [kept, ref() is None]

    assert in_forked_child(child) == [True, True]
    assert ref() is not None
