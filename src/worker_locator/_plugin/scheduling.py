"""Each Sybil document on one pytest-xdist worker, in file order, whatever the `--dist` mode.

pytest-xdist's schedulers deal out test indices. `load` and `worksteal` deal
them one by one, so one document's examples land on different workers, where
an example that uses an earlier one's names fails; `loadgroup` treats each
unmarked item as its own group (and pytest 9.2 breaks its marks). The
controller wraps the scheduler the user chose: the wrapped scheduler sees each
document as one test (named by its first example), and every time it deals,
steals or re-queues that test, the wrapper does so with all of the document's
examples, in the order the workers collected them (the plugin sorts them into
source order during collection). Ordinary tests are dealt as before.

The controller never sees the items, only their node ids, so a document's
examples are recognised by the node ids Sybil gives them
(`path::line:4,column:1`, or `path::sybil:NAME,line:4,column:1`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

__all__ = ["DocumentScheduling", "document_units", "keep_documents_whole"]

_EXAMPLE_ID: Final = re.compile(r"(?P<document>.+?)::(?:sybil:.*,)?line:\d+,column:\d+$")


def document_units(collection: Sequence[str]) -> list[list[int]]:
    """Group a collection's indices into units: one per document, one per other test.

    A unit sits where its first index is; a document's unit holds all its
    examples' indices, in collection order.

    Args:
        collection: The node ids a worker collected, in its order.

    Returns:
        The units, each a list of indices into `collection`.
    """
    units: list[list[int]] = []
    documents: dict[str, list[int]] = {}
    for index, nodeid in enumerate(collection):
        match = _EXAMPLE_ID.match(nodeid)
        if match is None:
            units.append([index])
            continue
        unit = documents.get(match.group("document"))
        if unit is None:
            unit = documents[match.group("document")] = []
            units.append(unit)
        unit.append(index)
    return units


def keep_documents_whole(scheduler: Any) -> Any:
    """Wrap one of pytest-xdist's own schedulers in a `DocumentScheduling`; return others unchanged.

    `each` runs everything everywhere, and a scheduler from another plugin
    follows rules this wrapper cannot know, so both are left alone.
    """
    from xdist.scheduler import (  # type: ignore[import-untyped]  # noqa: PLC0415 - xdist is imported only when it runs the session; it ships no types
        LoadScheduling,
        LoadScopeScheduling,
        WorkStealingScheduling,
    )

    if not isinstance(scheduler, LoadScheduling | LoadScopeScheduling | WorkStealingScheduling):
        return scheduler
    # Named like the scheduler it wraps, so that xdist's `-v` line "scheduling tests via ..."
    # reads as it does without the plugin.
    name = type(scheduler).__name__
    wrapper = type(name, (DocumentScheduling,), {"__qualname__": name, "__module__": __name__})
    return wrapper(scheduler)


class DocumentScheduling:
    """A pytest-xdist scheduler that deals each Sybil document's examples as one unit.

    It implements xdist's `Scheduling` protocol by delegating to the wrapped
    scheduler, which sees one test per unit and talks to `_Worker` stand-ins
    for the real worker nodes; the stand-ins translate units back into the
    indices of the examples when they send work, and the wrapper translates
    the completions, steals and crashes the workers report.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._collection: list[str] | None = None
        self._units: list[list[int]] = []
        self._unit_of: list[int] = []
        self._unit_ids: list[str] = []
        self._unit_by_id: dict[str, int] = {}
        self._workers: dict[Any, _Worker] = {}
        # Per worker: the units sent to it and not finished, with their unfinished indices, in order.
        self._unfinished: dict[_Worker, dict[int, list[int]]] = {}

    # -- state, delegated -----------------------------------------------------

    @property
    def nodes(self) -> list[Any]:
        """The real worker nodes the wrapped scheduler knows."""
        return [worker.node for worker in self._inner.nodes]

    @property
    def collection_is_completed(self) -> bool:
        """Whether every initial worker has sent its collection."""
        return bool(self._inner.collection_is_completed)

    @property
    def tests_finished(self) -> bool:
        """Whether every test has run, as far as the wrapped scheduler knows."""
        return bool(self._inner.tests_finished)

    @property
    def has_pending(self) -> bool:
        """Whether tests are still waiting to be dealt or to finish."""
        return bool(self._inner.has_pending)

    def schedule(self) -> None:
        """Start (or resume) dealing the collection."""
        self._inner.schedule()

    # -- workers --------------------------------------------------------------

    def add_node(self, node: Any) -> None:
        """Take a new worker into the run."""
        worker = self._workers[node] = _Worker(node, self)
        self._unfinished[worker] = {}
        self._inner.add_node(worker)

    def add_node_collection(self, node: Any, collection: Sequence[str]) -> None:
        """Record a worker's collection; the wrapped scheduler gets one test per unit."""
        collection = list(collection)
        if self._collection is None:
            self._collection = collection
            self._units = document_units(collection)
            self._unit_of = [0] * len(collection)
            for unit, indices in enumerate(self._units):
                for index in indices:
                    self._unit_of[index] = unit
            self._unit_ids = [collection[indices[0]] for indices in self._units]
            self._unit_by_id = {nodeid: unit for unit, nodeid in enumerate(self._unit_ids)}
        worker = self._workers[node]
        if collection == self._collection:
            self._inner.add_node_collection(worker, self._unit_ids)
        else:
            # Different tests: the wrapped scheduler compares and reports the difference.
            self._inner.add_node_collection(worker, collection)

    def remove_node(self, node: Any) -> str | None:
        """Take a finished or crashed worker out; return the test it crashed in, if any."""
        worker = self._workers.pop(node)
        unfinished = self._unfinished.pop(worker, {})
        crashed = self._inner.remove_node(worker)
        if crashed is None or self._collection is None:
            return crashed  # type: ignore[no-any-return]  # the wrapped scheduler's answer
        indices = unfinished.get(self._unit_by_id.get(crashed, -1))
        # The document's first unfinished example is the one that was running.
        return self._collection[indices[0]] if indices else crashed

    # -- what the workers report ----------------------------------------------

    def mark_test_complete(self, node: Any, item_index: int, duration: float = 0) -> None:
        """Note a finished test; the wrapped scheduler hears of a unit once all of it finished."""
        worker = self._workers[node]
        unit = self._unit_of[item_index]
        unfinished = self._unfinished[worker]
        indices = unfinished.get(unit)
        if indices is not None:
            indices.remove(item_index)
            if indices:
                return
            del unfinished[unit]
        self._inner.mark_test_complete(worker, unit, duration)

    def mark_test_pending(self, item: str) -> None:
        """Queue a test again (pytest-rerunfailures does, for a crashed one): its whole unit."""
        assert self._collection is not None  # noqa: S101 - xdist calls this only once tests run
        unit = self._unit_of[self._collection.index(item)]
        self._inner.mark_test_pending(self._unit_ids[unit])

    def remove_pending_tests_from_node(self, node: Any, indices: Sequence[int]) -> None:
        """Take back the tests a worker gave up after a steal request, as units."""
        worker = self._workers[node]
        units = list(dict.fromkeys(self._unit_of[index] for index in indices))
        for unit in units:
            self._unfinished[worker].pop(unit, None)
        self._inner.remove_pending_tests_from_node(worker, units)

    # -- what the stand-ins send ----------------------------------------------

    def _send(self, worker: _Worker, units: Sequence[int]) -> list[int]:
        """The indices of `units`, in order, now recorded as sent to `worker`."""
        indices: list[int] = []
        for unit in units:
            examples = self._units[unit]
            self._unfinished[worker][unit] = list(examples)
            indices.extend(examples)
        return indices

    def _indices(self, units: Sequence[int]) -> list[int]:
        return [index for unit in units for index in self._units[unit]]

    def _all_units(self) -> range:
        return range(len(self._units))


class _Worker:
    """Stands in for one worker node in front of the wrapped scheduler; sends units as examples."""

    def __init__(self, node: Any, scheduling: DocumentScheduling) -> None:
        self.node = node
        self._scheduling = scheduling

    def __getattr__(self, name: str) -> Any:
        return getattr(self.node, name)

    def __repr__(self) -> str:
        return repr(self.node)

    def send_runtest_some(self, indices: Sequence[int]) -> None:
        """Send the units' examples, each document's in order, one message."""
        self.node.send_runtest_some(self._scheduling._send(self, indices))  # noqa: SLF001 - the wrapper's own helper

    def send_runtest_all(self) -> None:
        """Send every test, in collection order, as `send_runtest_some` would."""
        self.send_runtest_some(self._scheduling._all_units())  # noqa: SLF001 - as above

    def send_steal(self, indices: Sequence[int]) -> None:
        """Ask for whole units back; xdist's workers give back all requested tests or none."""
        self.node.send_steal(self._scheduling._indices(indices))  # noqa: SLF001 - as above
