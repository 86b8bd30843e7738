"""Parent and forked child both use the cached "client"; pipes fix who speaks when: outcomes are certain."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, NoReturn

from tests.integration.suite_support import Cache, record


def _run_child(body: Callable[[], str], result: int) -> NoReturn:
    """Run `body` in a forked child, write what it returned to the pipe `result`, and exit without cleanup."""
    text, status = "", 1
    try:
        text, status = body(), 0
    except BaseException as exc:  # noqa: BLE001 - whatever happens must reach the parent
        text = f"child failed: {exc!r}"
    finally:
        os.write(result, text.encode())
        os._exit(status)


def _read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode()


def _check_parent_still_connected(client: Any, how: str) -> None:
    try:
        reply = str(client.request("after-the-child"))
    except OSError as exc:
        reply = type(exc).__name__
    record({"kind": "after-child", "how": how, "reply": reply})
    assert reply == "reply-to:after-the-child"


def test_forked_child_and_parent_each_get_their_own_reply(cache: Cache) -> None:
    client = cache.get("client")
    assert client.request("warm-up") == "reply-to:warm-up"
    child_sent, child_sent_w = os.pipe()
    parent_read, parent_read_w = os.pipe()
    result, result_w = os.pipe()
    pid = os.fork()
    if pid == 0:

        def body() -> str:
            own = cache.get("client")
            own.send("child-req")
            os.write(child_sent_w, b".")
            os.read(parent_read, 1)  # the parent has read its reply
            return str(own.read_line())

        _run_child(body, result_w)
    os.close(result_w)
    os.read(child_sent, 1)  # the child's request is on the wire, before the parent's
    parent_reply = client.request("parent-req")
    os.write(parent_read_w, b".")
    child_reply = _read_all(result)
    _, status = os.waitpid(pid, 0)
    record({"kind": "crossed", "parent": parent_reply, "child": child_reply})
    assert (parent_reply, child_reply) == ("reply-to:parent-req", "reply-to:child-req")
    assert os.waitstatus_to_exitcode(status) == 0


def test_child_closing_its_services_leaves_the_parents_connection_alive(cache: Cache) -> None:
    client = cache.get("client")
    assert client.request("warm-up") == "reply-to:warm-up"
    result, result_w = os.pipe()
    pid = os.fork()
    if pid == 0:

        def body() -> str:
            reply = str(cache.get("client").request("child-req"))
            cache.close()  # a child's orderly exit closes its services
            return reply

        _run_child(body, result_w)
    os.close(result_w)
    child_reply = _read_all(result)
    _, status = os.waitpid(pid, 0)
    assert child_reply == "reply-to:child-req"
    assert os.waitstatus_to_exitcode(status) == 0
    _check_parent_still_connected(client, "os.fork")


def _multiprocessing_child(cache: Cache, out: Connection) -> None:
    reply = str(cache.get("client").request("child-req"))
    cache.close()
    out.send(reply)
    out.close()


def test_multiprocessing_fork_child_closing_its_services_leaves_the_parent_alive(cache: Cache) -> None:
    client = cache.get("client")
    assert client.request("warm-up") == "reply-to:warm-up"
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_multiprocessing_child, args=(cache, send))
    child.start()
    send.close()
    child_reply = receive.recv()
    child.join(timeout=60)
    assert child_reply == "reply-to:child-req"
    assert child.exitcode == 0
    _check_parent_still_connected(client, "multiprocessing")
