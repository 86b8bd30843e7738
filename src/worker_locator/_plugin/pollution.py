"""Who polluted a failing test: what each test on this worker touched through the locator, and when.

At every test boundary the plugin notes, on the locator's slow path only, what
the test changed or left: the registrations and `override` blocks it left in
force (in the registry's change journal), the services it built that stayed
cached (kept between tests, or under a wider isolation unit), the external
resources those services declare (`held_resources()`), and the
`worker_locator.exclusive` locks it held. When a test fails, its report gets
a section naming the worker, how many tests ran before it there, which of
those touched what the failing test used, and a command that replays the
worker's order up to the failure in one process.

**What "used" means, and its limit.** A cached `get` is one dictionary
lookup, and it stays one: nothing is recorded on it. What a test used is read
from what the cache already keeps. The services it built are the entries
that appeared during it, and their dependency edges say what their factories
looked up. For services built before it, the plugin uses the CLOCK eviction's
"used since the last sweep" bit: at the start of each test it clears that bit
on the entries still cached, so the test's first `get` of each of them takes
the slow path once and sets the bit again (later ones are free); the set bits
then say which of them the test got. The approximation: a lookup whose
factory raised, or of a key nothing is registered under, leaves no entry, so
the report cannot tie an earlier registration to it (the key of a
`ServiceNotRegisteredError` is read from the failure itself); an entry that
an eviction sweep or a drop removed during the test is not seen; and the
plugin sees which tests got a kept service, not which of them changed it, so
it names every earlier test that got the same instance.

**Memory.** The order of tests is a list of the items pytest already holds
(one reference a test); each service, registration key and resource keeps
the last `HISTORY` tests that touched it, and at most `MAX_KEYS` keys are
followed, oldest forgotten first. A 100,000-test run stays within a few
megabytes (the plugin's tests measure it).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, cast

import pytest

from worker_locator._entries import Entry, Key
from worker_locator._errors import ServiceNotRegisteredError, key_name, shown_name
from worker_locator._exclusive import locks_asked_for
from worker_locator._locator import ServiceLocator
from worker_locator._observation import Marks, built_since, carried_over, changed_since, marks, used_of

from .replay import ReplayWriter

__all__ = ["HISTORY", "MAX_KEYS", "SECTION", "PollutionRecorder"]

HISTORY: Final = 8
"""How many of the latest tests are remembered per service, registration key and resource."""

MAX_KEYS: Final = 10_000
"""How many registration keys and resource names are followed at most."""

SECTION: Final = "worker-locator: the tests before this one"
"""The title of the section a failing test's report gets."""

_MAX_NAMED: Final = 20  # earlier tests named in one report
_MAX_RESOURCES: Final = 16  # resources read per service
_MAX_LEFTOVERS: Final = 1_000  # tests listed per process in the leftovers report


class PollutionRecorder:
    """What each test of this process touched through the default locator, for its failure report."""

    def __init__(  # noqa: PLR0913 - the locator, then keyword-only settings
        self,
        locator: ServiceLocator,
        *,
        worker: str,
        replay: ReplayWriter,
        leftovers: bool,
        journal_from: Callable[[], int],
        anchor: bool,
    ) -> None:
        self._locator = locator
        self._worker = worker
        self._replay = replay
        self._journal_from = journal_from  # where the registrations the next reset keeps end
        self._anchor_needed = anchor  # no isolation: hold a checkpoint so that changes are journalled
        self._anchor: object = None
        self._order: list[pytest.Item] = []
        self._carried: list[tuple[Key, Entry]] = []
        self._marks = Marks(0, 0, 0)
        self._fixtures_until = 0  # the journal's end after the last wider fixture set up in this test
        # By each cached entry's seq: the test that built it (-1: before the first), and those that got it.
        self._builders: dict[int, int] = {}
        self._got: dict[int, list[int]] = {}
        self._registered: dict[Key, list[tuple[int, str]]] = {}
        self._resources: dict[str, list[int]] = {}
        self._used = False
        self._reported: set[int] = set()
        self._leftovers: list[dict[str, Any]] | None = [] if leftovers else None
        self._more_leftovers = 0

    @property
    def used(self) -> bool:
        """Whether a test of this process touched the locator in a way this recorder noted."""
        return self._used

    # -- test boundaries ------------------------------------------------------

    def ran_before(self, items: list[pytest.Item]) -> None:
        """Note the tests this process ran before the recorder started, in their order."""
        self._order[:0] = items

    def test_starts(self, item: pytest.Item) -> None:
        """Note the test's place in the order, and what is cached and registered as it starts."""
        position = len(self._order)
        self._order.append(item)
        loc = self._locator
        if self._anchor_needed:
            self._anchor = None  # dropped first, so that the journal restarts empty
            self._anchor = loc.checkpoint()
        carried = carried_over(loc)
        builders: dict[int, int] = {}
        got: dict[int, list[int]] = {}
        for _, entry in carried:
            seq = entry.seq
            builders[seq] = self._builders.get(seq, position - 1)
            seen = self._got.get(seq)
            if seen is not None:
                got[seq] = seen
        self._builders, self._got, self._carried = builders, got, carried
        self._marks = marks(loc)
        self._fixtures_until = 0

    def fixture_registered(self) -> None:
        """Note that a fixture wider than the unit was set up: what it registered is no leftover."""
        self._fixtures_until = marks(self._locator).journal

    def test_ending(self, item: pytest.Item, *, replaced: bool) -> None:
        """Note what the test got, built and left, before the plugin resets the locator."""
        if not self._order or self._order[-1] is not item:
            return
        position = len(self._order) - 1
        loc = self._locator
        for _, entry in used_of(loc, self._carried):
            self._used = True
            _remember(self._got.setdefault(entry.seq, []), position)
        now = marks(loc)
        if now.constructions != self._marks.constructions:
            self._used = True
            for _, entry in built_since(loc, self._carried):
                for name in _held_resources(entry.instance):
                    self._note_resource(name, position)
        for name in self._locks_of(item.nodeid):
            self._note_resource(f"exclusive:{name}", position)
        if self._leftovers is not None:
            left = changed_since(loc, max(self._marks.journal, self._fixtures_until, self._journal_from()))
            opened = now.overrides - self._marks.overrides
            if left or opened > 0 or replaced:
                self._leftover(item, left, opened, replaced=replaced)

    def test_ended(self, item: pytest.Item) -> None:
        """Note the registrations the test left that outlived it (the reset kept them, or none ran)."""
        if not self._order or self._order[-1] is not item:
            return
        position = len(self._order) - 1
        for key, is_override in changed_since(self._locator, self._marks.journal):
            self._used = True
            kind = "left an override of" if is_override else "registered"
            self._note(self._registered, key, (position, kind))

    # -- the failure report ---------------------------------------------------

    def section(self, item: pytest.Item, call: pytest.CallInfo[None]) -> str | None:
        """Return the text of the failing test's section, or `None` when there is nothing to say."""
        if not self._order or self._order[-1] is not item or id(item) in self._reported:
            return None
        self._reported.add(id(item))
        position = len(self._order) - 1
        reasons = self._reasons(item, call, position)
        if not (self._used or reasons or self._touched_now()):
            return None
        return "\n".join(self._lines(position, reasons))

    def _touched_now(self) -> bool:
        loc = self._locator
        return bool(used_of(loc, self._carried)) or marks(loc).constructions != self._marks.constructions

    def _reasons(self, item: pytest.Item, call: pytest.CallInfo[None], position: int) -> dict[int, list[str]]:
        loc = self._locator
        reasons: dict[int, list[str]] = {}
        used = used_of(loc, self._carried)
        built = built_since(loc, self._carried)
        self._instances(reasons, used, position)
        self._registrations(reasons, call, [*used, *built], position)
        mine = {name for _, entry in itertools.chain(used, built) for name in _held_resources(entry.instance)}
        mine.update(f"exclusive:{name}" for name in self._locks_of(item.nodeid))
        for name in sorted(mine):
            for earlier in self._resources.get(name, ()):
                if earlier < position:
                    _add(reasons, earlier, f"held {name}, as this test does")
        return reasons

    def _instances(self, reasons: dict[int, list[str]], used: list[tuple[Key, Entry]], position: int) -> None:
        """Name the tests that built, or got, the instances built before this test that it got."""
        for key, entry in used:
            if entry.is_override:
                continue  # an override value is nobody's build: the registration's history names its test
            name = shown_name(key)
            builder = self._builders.get(entry.seq, -1)
            why = "kept between tests" if entry.registration.keep_between_tests else "still cached"
            if 0 <= builder < position:
                _add(reasons, builder, f"built the {name} this test got ({why})")
            for earlier in self._got.get(entry.seq, ()):
                if earlier < position and earlier != builder:
                    _add(reasons, earlier, f"got the same {name} this test got ({why})")

    def _registrations(
        self,
        reasons: dict[int, list[str]],
        call: pytest.CallInfo[None],
        entries: list[tuple[Key, Entry]],
        position: int,
    ) -> None:
        """Name the tests whose registrations of what this test looked up outlived them."""
        looked_up = set(_keys_with_dependencies(entries))
        excinfo = call.excinfo
        if excinfo is not None and isinstance(excinfo.value, ServiceNotRegisteredError):
            missing = excinfo.value.key
            if isinstance(missing, (type, str)):
                looked_up.add(missing)
        for key in looked_up:
            for earlier, kind in self._registered.get(key, ()):
                if earlier < position:
                    _add(reasons, earlier, f"{kind} {shown_name(key)!r}, which this test looked up")

    def _lines(self, position: int, reasons: dict[int, list[str]]) -> Iterator[str]:
        ran = "1 test" if position == 1 else f"{position} tests"
        if not reasons:
            yield f"{self._worker} ran {ran} before this one; none of them touched"
            yield "what this test used through the locator."
        else:
            yield f"{self._worker} ran {ran} before this one; these touched what"
            yield "this test used through the locator:"
            named = sorted(reasons)
            if len(named) > _MAX_NAMED:
                yield f"  ({len(named) - _MAX_NAMED} earlier ones not shown)"
                named = named[-_MAX_NAMED:]
            for earlier in named:
                yield f"  #{earlier + 1} {self._order[earlier].nodeid}"
                yield from (f"      {reason}" for reason in reasons[earlier])
        yield f"Replay {self._worker}'s order up to this test (#{position + 1}) in one process:"
        command = self._replay.command([test.nodeid for test in self._order[: position + 1]])
        yield from (f"  {line}" for line in command.splitlines())

    # -- the leftovers report -------------------------------------------------

    def leftovers(self) -> dict[str, Any] | None:
        """Return the tests that left state behind, for the terminal summary; `None` if not asked for."""
        if self._leftovers is None:
            return None
        return {"tests": list(self._leftovers), "more": self._more_leftovers}

    def _leftover(
        self, item: pytest.Item, left: list[tuple[Key, bool]], opened: int, *, replaced: bool
    ) -> None:
        assert self._leftovers is not None  # noqa: S101 - only called when the report is on
        if len(self._leftovers) >= _MAX_LEFTOVERS:
            self._more_leftovers += 1
            return
        self._leftovers.append(
            {
                "test": item.nodeid,
                "registrations": sorted(key_name(key) for key, is_override in left if not is_override),
                "overrides": sorted(key_name(key) for key, is_override in left if is_override),
                "open_blocks": max(opened, 0),
                "replaced_locator": replaced,
            }
        )

    # -- bounded histories ----------------------------------------------------

    def _note(self, history: dict[Any, list[Any]], key: object, value: object) -> None:
        found = history.get(key)
        if found is None:
            if len(history) >= MAX_KEYS:
                del history[next(iter(history))]
            history[key] = [value]
        else:
            _remember(found, value)

    def _note_resource(self, name: str, position: int) -> None:
        self._used = True
        found = self._resources.get(name)
        if found is None or found[-1] != position:
            self._note(self._resources, name, position)

    @staticmethod
    def _locks_of(node_id: str) -> frozenset[str]:
        return locks_asked_for(node_id)


def _remember(history: list[Any], value: object) -> None:
    history.append(value)
    if len(history) > HISTORY:
        del history[0]


def _add(reasons: dict[int, list[str]], position: int, reason: str) -> None:
    found = reasons.setdefault(position, [])
    if reason not in found:
        found.append(reason)


def _keys_with_dependencies(entries: Iterable[tuple[Key, Entry]]) -> Iterator[Key]:
    """Yield the entries' keys and the keys their factories looked up, directly or not."""
    seen: set[int] = set()
    pending = list(entries)
    while pending:
        key, entry = pending.pop()
        if id(entry) in seen:
            continue
        seen.add(id(entry))
        yield key
        for dep_key, dep in entry.deps.items():
            if dep is None:
                yield dep_key
            else:
                pending.append((dep_key, dep))


def _held_resources(instance: object) -> list[str]:
    """Return what a service declares through `held_resources()`, or nothing if it declares none or fails."""
    held = getattr(instance, "held_resources", None)
    if not callable(held):
        return []
    try:
        declared = cast("Iterable[object]", held())
        return [str(name)[:200] for name in itertools.islice(declared, _MAX_RESOURCES)]
    except Exception:  # noqa: BLE001 - a broken service must not break the report
        return []
