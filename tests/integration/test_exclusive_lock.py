"""exclusive(name) on real `pytest -n 4` runs: one fixed port for four workers, a holder killed, a timeout.

The suite (`suites/exclusive`) has four tests that each listen on one fixed
port on 127.0.0.1. They first meet at a barrier, so all four workers are
inside a test at once; a test that bound the port keeps it until every test
has tried to bind it (or, under a working lock, for a second). Without the
lock three of them fail with "Address already in use" in every run; with
`exclusive("fixed-port")` they take turns.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import SuiteFactory
from tests.integration.harness import RunResult, Suite, reserved_ports
from tests.integration.test_shared_resources import diagnose

PORT_FUNCTION = "test_lock.py::test_needs_the_fixed_port"
PORT_TESTS = [f"{PORT_FUNCTION}[{n}]" for n in range(4)]
WORKERS = 4


@pytest.fixture
def fixed_port() -> Iterator[int]:
    """A port outside the kernel's ephemeral range that no other test or run holds meanwhile."""
    with reserved_ports() as port:
        yield port


def _port_suite(
    make_suite: SuiteFactory, port: int, lock: str, *, kill: bool = False, parties: int = WORKERS
) -> Suite:
    return make_suite(
        "exclusive",
        WL_IT_LOCK=lock,
        WL_IT_KILL="1" if kill else "0",
        WL_IT_PORT=str(port),
        WL_IT_PARTIES=str(parties),
    )


def _holds(result: RunResult) -> dict[int, dict[str, Any]]:
    """Return, per test number, when it entered and left the locked block and which process ran it."""
    holds: dict[int, dict[str, Any]] = {}
    for event in result.records_of("enter"):
        holds[int(event["test"])] = {"enter": event["at"], "pid": event["pid"], "worker": event["worker"]}
    for event in result.records_of("exit"):
        holds[int(event["test"])]["exit"] = event["at"]
    return holds


def _assert_one_at_a_time(holds: dict[int, dict[str, Any]]) -> None:
    spans = sorted((h["enter"], h.get("exit", float("inf")), n) for n, h in holds.items())
    for (_, end, first), (start, _, second) in itertools.pairwise(spans):
        assert end <= start, f"test {first} still held the port when test {second} entered: {holds}"


def test_without_the_lock_the_fixed_port_collides(make_suite: SuiteFactory, fixed_port: int) -> None:
    result = _port_suite(make_suite, fixed_port, "none").run(PORT_FUNCTION, workers=WORKERS)
    assert result.collected == PORT_TESTS, result.explain()
    assert sorted(result.outcomes().values()) == ["failed", "failed", "failed", "passed"], result.explain()
    for nodeid, outcome in result.outcomes().items():
        if outcome == "failed":
            assert "Address already in use" in result.message_of(nodeid), result.explain()
    assert len({result.worker_of(nodeid) for nodeid in PORT_TESTS}) == WORKERS


def test_with_the_lock_the_workers_take_turns(
    make_suite: SuiteFactory, fixed_port: int, tmp_path: Path
) -> None:
    snapshots = tmp_path / "snapshots"
    suite = _port_suite(make_suite, fixed_port, "exclusive")
    result = suite.run(
        "test_lock.py::test_needs_the_fixed_port", "--locator-snapshot", str(snapshots), workers=WORKERS
    )
    assert result.outcomes() == dict.fromkeys(PORT_TESTS, "passed"), result.explain()
    holds = _holds(result)
    assert len({h["pid"] for h in holds.values()}) == WORKERS  # four processes, really concurrent
    _assert_one_at_a_time(holds)
    # Each worker's snapshot says which test held the lock, for how long, and whom the others waited for.
    locks = [
        (json.loads(path.read_text())["worker_id"], entry)
        for path in sorted(snapshots.glob("*.json"))
        for entry in json.loads(path.read_text())["locks"]
    ]
    assert sorted(entry["test"] for _, entry in locks) == PORT_TESTS
    for worker, entry in locks:
        assert (entry["name"], entry["scope"], entry["acquisitions"], entry["timeouts"]) == (
            "fixed-port",
            "run",
            1,
            0,
        )
        assert entry["hold_seconds"] > 0
        assert result.worker_of(entry["test"]) == worker
        for holder in entry["waited_for"]:
            assert holder["test"] in PORT_TESTS
            assert holder["test"] != entry["test"]
            assert holder["worker"] == result.worker_of(holder["test"])
    waiters = [entry for _, entry in locks if entry["waited_for"]]
    assert waiters, locks  # the tests met at a barrier first: someone found the port's lock taken
    assert all(entry["wait_seconds"] > 0 for entry in waiters)
    # The diagnosis shows the same: every test's hold, and whom the waiting tests waited for.
    diagnosis = diagnose(snapshots)
    assert diagnosis.returncode == 0, diagnosis.stdout + diagnosis.stderr
    section = diagnosis.stdout.split("Locks taken with exclusive():\n", 1)[1].splitlines()
    assert re.fullmatch(
        rf"  fixed-port \(run\): 4 holds, longest \d+\.\d\ds;"
        rf" {len(waiters)} waited, longest \d+\.\d\ds",
        section[0],
    ), diagnosis.stdout
    rows = [row for row in section[1:] if not row.startswith("      for ")]
    for row, nodeid in zip(rows, PORT_TESTS, strict=True):
        assert row.startswith(f"    {nodeid} on {result.worker_of(nodeid)}: held "), diagnosis.stdout
    for entry in waiters:
        start = section.index(next(r for r in rows if r.startswith(f"    {entry['test']} on")))
        shown = [f"      for {h['test']} on {h['worker']}" for h in entry["waited_for"]]
        assert section[start + 1 : start + 1 + len(shown)] == shown, diagnosis.stdout


def test_without_xdist_the_same_suite_passes_with_no_lock_file(
    make_suite: SuiteFactory, fixed_port: int
) -> None:
    suite = _port_suite(make_suite, fixed_port, "exclusive", parties=1)
    suite.env["TMPDIR"] = str(suite.workdir / "tmp")
    (suite.workdir / "tmp").mkdir()
    result = suite.run(PORT_FUNCTION, workers=0)
    assert result.outcomes() == dict.fromkeys(PORT_TESTS, "passed"), result.explain()
    assert {h["worker"] for h in _holds(result).values()} == {"master"}
    assert list((suite.workdir / "tmp").iterdir()) == []  # one process is the whole run: no file


def test_a_holder_killed_mid_test_leaves_the_lock_to_the_others(
    make_suite: SuiteFactory, fixed_port: int
) -> None:
    result = _port_suite(make_suite, fixed_port, "exclusive", kill=True).run(
        "test_lock.py::test_needs_the_fixed_port", workers=WORKERS
    )
    (victim,) = result.records_of("victim")
    killed = PORT_TESTS[int(victim["test"])]
    assert len(result.nodes_down) == 1, result.explain()
    assert result.nodes_down[0]["worker"] == victim["worker"]
    expected = {nodeid: "failed" if nodeid == killed else "passed" for nodeid in PORT_TESTS}
    assert result.outcomes() == expected, result.explain()
    holds = _holds(result)
    dead = holds.pop(int(victim["test"]))
    assert "exit" not in dead  # killed inside the block, holding the lock
    assert all(dead["enter"] < h["enter"] for h in holds.values())  # the others got it after it died
    assert all("exit" in h for h in holds.values())
    _assert_one_at_a_time(holds)


def test_the_timeout_names_the_holder(make_suite: SuiteFactory) -> None:
    suite = make_suite("exclusive", WL_IT_LOCK="exclusive", WL_IT_KILL="0", WL_IT_PARTIES="2")
    result = suite.run("test_lock.py::test_holder", "test_lock.py::test_waiter", workers=2)
    holder, waiter = "test_lock.py::test_holder", "test_lock.py::test_waiter"
    assert result.outcomes() == {holder: "passed", waiter: "failed"}, result.explain()
    assert result.worker_of(holder) != result.worker_of(waiter)
    message = result.message_of(waiter)
    (holding,) = result.records_of("holding")
    assert holding["worker"] == result.worker_of(holder)
    pid = holding["pid"]
    assert re.fullmatch(
        rf"worker_locator\.ResourceBusyError: exclusive\('sandbox-account'\) gave up after 0\.5s:"
        rf" held by worker {result.worker_of(holder)} \(pid {pid}\) in test {holder} for \d+\.\ds;"
        r" wait longer \(timeout=\) or hold it for less time",
        message,
    ), result.explain()
