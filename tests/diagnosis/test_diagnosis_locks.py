"""The snapshots' `locks` (what exclusive() recorded): checked as untrusted input, shown in table and JSON.

Real runs are in `tests/integration/test_exclusive_lock.py`; here the lock
figures come from this process's own `exclusive()` calls, or are written by
hand to be malformed.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from worker_locator import ResourceBusyError, exclusive
from worker_locator._exclusive import lock_statistics
from worker_locator.diagnosis import main, write_snapshot


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.err.splitlines(), captured.out


def _figures_of(name: str) -> list[dict[str, Any]]:
    return [entry for entry in lock_statistics() if entry["name"] == name]


@pytest.fixture(name="contended")
def _contended(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Use one in-process lock from two threads (a hold, a wait behind it, a timeout); return the figures."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "t.py::test_payment (call)")
    name = f"diag-{uuid.uuid4().hex[:8]}"
    entered, release = threading.Event(), threading.Event()

    def holder() -> None:
        with exclusive(name):
            entered.set()
            release.wait(30)

    thread = threading.Thread(target=holder)
    thread.start()
    assert entered.wait(30)
    with pytest.raises(ResourceBusyError), exclusive(name, timeout=0.05):
        pass
    release.set()
    with exclusive(name):
        pass
    thread.join(30)
    return _figures_of(name)


def test_a_snapshot_without_locks_reads_as_before(
    tmp_path: Path, valid_snapshot: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert "locks" not in valid_snapshot
    write_snapshot(tmp_path, valid_snapshot)
    code, errors, out = _run([str(tmp_path)], capsys)
    assert (code, errors) == (0, [])
    assert out == "1 snapshot from 1 process (1 run, 1 host): no conflicts\n"
    code, _, out = _run([str(tmp_path), "--json"], capsys)
    assert json.loads(out)["locks"] == []


def test_the_table_shows_holds_waits_and_timeouts(
    tmp_path: Path,
    valid_snapshot: dict[str, Any],
    contended: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    (entry,) = contended
    name, test = entry["name"], entry["test"]
    assert test == "t.py::test_payment"
    write_snapshot(tmp_path, {**valid_snapshot, "worker_id": "gw5", "locks": contended})
    code, errors, out = _run([str(tmp_path)], capsys)
    assert (code, errors) == (0, [])
    lines = out.splitlines()
    start = lines.index("Locks taken with exclusive():")
    head, row, waited_for = lines[start + 1 :]
    assert head.startswith(f"  {name} (run): 2 holds, longest ")
    assert head.endswith("; 1 timed out")
    assert "; 1 waited, longest " in head
    assert row.startswith(f"    {test} on gw5: held ")
    assert row.endswith(", gave up 1 time")
    assert waited_for == f"      for {test} on pid-{os.getpid()}"
    assert max(len(line) for line in lines) <= 88


def test_json_keeps_every_figure_and_names_the_process(
    tmp_path: Path,
    valid_snapshot: dict[str, Any],
    contended: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_snapshot(tmp_path, {**valid_snapshot, "worker_id": "gw5", "locks": contended})
    code, _, out = _run([str(tmp_path), "--json"], capsys)
    assert code == 0
    (entry,) = contended
    assert json.loads(out)["locks"] == [{**entry, "worker": "gw5", "pid": valid_snapshot["pid"]}]


def test_many_tests_and_long_names_stay_within_the_width(
    tmp_path: Path, valid_snapshot: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    holder = {"worker": "gw1", "pid": 7, "test": "t.py::" + "x" * 500}
    entries = [
        {
            "name": "n" * 100,
            "scope": "machine",
            "test": f"t.py::test_{n}_" + "y" * 300,
            "acquisitions": 1,
            "timeouts": 0,
            "wait_seconds": float(n),
            "max_wait_seconds": float(n),
            "hold_seconds": 0.5,
            "max_hold_seconds": 0.5,
            "waited_for": [{**holder, "pid": pid} for pid in range(1, 11)],
        }
        for n in range(40)
    ]
    write_snapshot(tmp_path, {**valid_snapshot, "locks": entries})
    code, _, out = _run([str(tmp_path)], capsys)
    assert code == 0
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 88
    assert lines[-1] == "    … and 28 more tests that waited less"
    assert sum(line.startswith("    t.py::test_") for line in lines) == 12
    assert sum(line == "      … and 8 more" for line in lines) == 12


_GOOD = {
    "name": "port-8765",
    "scope": "run",
    "test": "t.py::test_a",
    "acquisitions": 1,
    "timeouts": 0,
    "wait_seconds": 0.0,
    "max_wait_seconds": 0.0,
    "hold_seconds": 0.1,
    "max_hold_seconds": 0.1,
    "waited_for": [],
}


@pytest.mark.parametrize(
    ("locks", "problem"),
    [
        ({"port": 1}, "'locks' is an object, not an array"),
        ([7], "locks[0] is an integer, not an object"),
        ([{**_GOOD, "name": None}], "'locks[0].name' is null, not a string"),
        ([{k: v for k, v in _GOOD.items() if k != "scope"}], "'locks[0].scope' is missing, not a string"),
        ([{**_GOOD, "test": 3}], "'locks[0].test' is an integer, not a string"),
        ([{**_GOOD, "acquisitions": -1}], "'locks[0].acquisitions' is -1, outside 0 to"),
        ([{**_GOOD, "timeouts": True}], "'locks[0].timeouts' is a boolean, not an integer"),
        ([{**_GOOD, "hold_seconds": "long"}], "'locks[0].hold_seconds' is a string, not a number of seconds"),
        ([{**_GOOD, "wait_seconds": -1.0}], "'locks[0].wait_seconds' is a number, not a number of seconds"),
        ([{**_GOOD, "waited_for": {}}], "'locks[0].waited_for' is an object, not an array"),
        ([{**_GOOD, "waited_for": ["gw1"]}], "locks[0].waited_for[0] is a string, not an object"),
        ([{**_GOOD, "waited_for": [{"pid": 0}]}], "'locks[0].waited_for[0].worker' is missing, not a string"),
        (
            [{**_GOOD, "waited_for": [{"worker": "gw1", "test": None, "pid": 0}]}],
            "'locks[0].waited_for[0].pid' is 0, outside 1 to",
        ),
    ],
)
def test_malformed_locks_are_unusable_input_in_one_line(
    locks: object,
    problem: str,
    tmp_path: Path,
    valid_snapshot: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "locator-x.json").write_text(json.dumps({**valid_snapshot, "locks": locks}), encoding="utf-8")
    code, errors, out = _run([str(tmp_path)], capsys)
    assert (code, out) == (2, "")
    (line,) = errors
    assert f": not a worker-locator snapshot: {problem}" in line
    assert len(line) < 300
