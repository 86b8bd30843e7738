"""Mechanism 3, a connection inherited across fork: crossed replies, a child ending the parent's session.

The suite (`suites/fork_inheritance`) talks to a real line-echo server in a
process of its own. Pipes fix the order in which parent and child speak, so
the naive outcome is certain: the parent reads the child's reply, and a child
that closes its services on the way out ends the parent's session.
"""

from __future__ import annotations

import pytest

from tests.integration.conftest import SuiteFactory

CROSSED = "test_fork.py::test_forked_child_and_parent_each_get_their_own_reply"
CLOSED = "test_fork.py::test_child_closing_its_services_leaves_the_parents_connection_alive"
CLOSED_MP = "test_fork.py::test_multiprocessing_fork_child_closing_its_services_leaves_the_parent_alive"


@pytest.mark.parametrize("workers", [0, 4])
def test_naive_cache_hands_the_child_the_parents_connection(make_suite: SuiteFactory, workers: int) -> None:
    result = make_suite("fork_inheritance", WL_IT_CACHE="naive").run(workers=workers)
    assert result.outcomes() == dict.fromkeys([CROSSED, CLOSED, CLOSED_MP], "failed"), result.explain()
    # The replies crossed: each process read the answer to the other's request.
    (crossed,) = result.records_of("crossed")
    assert (crossed["parent"], crossed["child"]) == ("reply-to:child-req", "reply-to:parent-req")
    # The child's polite close ended the session the parent was still using: end of file, or a reset.
    after = {r["how"]: r["reply"] for r in result.records_of("after-child")}
    assert after.keys() == {"os.fork", "multiprocessing"}
    assert set(after.values()) <= {"", "ConnectionResetError", "BrokenPipeError"}, after


@pytest.mark.parametrize("workers", [0, 4])
def test_locator_drops_inherited_services_in_the_child(make_suite: SuiteFactory, workers: int) -> None:
    result = make_suite("fork_inheritance", WL_IT_CACHE="locator").run(workers=workers)
    assert result.outcomes() == dict.fromkeys([CROSSED, CLOSED, CLOSED_MP], "passed"), result.explain()
    (crossed,) = result.records_of("crossed")
    assert (crossed["parent"], crossed["child"]) == ("reply-to:parent-req", "reply-to:child-req")
    after = {r["how"]: r["reply"] for r in result.records_of("after-child")}
    assert after == dict.fromkeys(["os.fork", "multiprocessing"], "reply-to:after-the-child")
