"""The scheduler wrapper on its own: what it sends, steals and reports, with stand-in worker nodes."""

from __future__ import annotations

from typing import Any

import pytest
from xdist.scheduler import LoadScheduling, WorkStealingScheduling  # type: ignore[import-untyped]

from worker_locator._plugin.scheduling import DocumentScheduling, keep_documents_whole

COLLECTION = [
    "a.md::line:1,column:1",
    "a.md::line:5,column:1",
    "a.md::line:9,column:1",
    "t.py::test_1",
    "t.py::test_2",
    "t.py::test_3",
    "t.py::test_4",
    "t.py::test_5",
    "b.md::line:2,column:1",
    "b.md::line:6,column:1",
]


class Config:
    """What xdist's schedulers read from pytest's config: two workers, no chunk limit."""

    def getvalue(self, name: str) -> Any:
        assert name == "tx"
        return ["2*popen"]

    def getoption(self, name: str) -> Any:
        assert name == "maxschedchunk"

    hook = None


class Gateway:
    def __init__(self, name: str) -> None:
        self.id = name


class Node:
    """Records what the scheduler sends, as a worker's queue would hold it."""

    def __init__(self, name: str) -> None:
        self.gateway = Gateway(name)
        self.shutting_down = False
        self.queue: list[int] = []
        self.steals: list[list[int]] = []

    def send_runtest_some(self, indices: list[int]) -> None:
        self.queue.extend(indices)

    def send_steal(self, indices: list[int]) -> None:
        self.steals.append(list(indices))

    def shutdown(self) -> None:
        self.shutting_down = True


def _start(inner: type[Any]) -> tuple[DocumentScheduling, list[Node]]:
    scheduling = keep_documents_whole(inner(Config()))
    assert isinstance(scheduling, DocumentScheduling)
    assert type(scheduling).__name__ == inner.__name__
    nodes = [Node("gw0"), Node("gw1")]
    for node in nodes:
        scheduling.add_node(node)
    for node in nodes:
        scheduling.add_node_collection(node, COLLECTION)
    scheduling.schedule()
    return scheduling, nodes


def _documents_whole(nodes: list[Node]) -> None:
    for document in ([0, 1, 2], [8, 9]):
        holders = [node for node in nodes if document[0] in node.queue]
        assert len(holders) == 1
        queue = holders[0].queue
        start = queue.index(document[0])
        assert queue[start : start + len(document)] == document


@pytest.mark.parametrize("inner", [LoadScheduling, WorkStealingScheduling])
def test_each_document_is_sent_whole_and_in_order(inner: type[Any]) -> None:
    scheduling, nodes = _start(inner)
    while scheduling.has_pending:
        for node in nodes:
            done = [index for index in node.queue if index not in getattr(node, "done", [])]
            if done:
                node.done = [*getattr(node, "done", []), done[0]]  # type: ignore[attr-defined]
                scheduling.mark_test_complete(node, done[0], 0.0)
        if all(node.shutting_down for node in nodes):
            break
    assert sorted(index for node in nodes for index in node.queue) == list(range(len(COLLECTION)))
    _documents_whole(nodes)


def test_a_steal_asks_for_whole_documents_and_gives_them_back_as_units() -> None:
    scheduling, (idle, busy) = _start(WorkStealingScheduling)
    assert idle.queue == [0, 1, 2, 3, 4]  # document a and two tests
    assert busy.queue == [5, 6, 7, 8, 9]  # three tests and document b
    for index in idle.queue:  # gw0 runs out of work, so the scheduler steals from gw1
        scheduling.mark_test_complete(idle, index, 0.0)
    assert busy.steals == [[7, 8, 9]]  # the last two units: a test and all of document b
    scheduling.remove_pending_tests_from_node(busy, [7, 8, 9])  # gw1 gave them back
    assert idle.queue[5:] == [7, 8, 9]


def test_a_crash_inside_a_document_names_the_example_that_was_running() -> None:
    scheduling, nodes = _start(LoadScheduling)
    holder = next(node for node in nodes if 0 in node.queue)
    scheduling.mark_test_complete(holder, 0, 0.0)
    assert scheduling.remove_node(holder) == "a.md::line:5,column:1"
