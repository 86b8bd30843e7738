"""Output in proportion to input: long names shortened in the table, whole in JSON; error lines bounded."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.diagnosis.helpers import in_child
from worker_locator import ServiceLocator
from worker_locator.diagnosis import main, write_snapshot

HUGE_NAME = "sqlite:/srv/" + "x" * 200_000 + ".db"


class ManyFiles:
    """A service holding 100 files (as many as a snapshot records per service)."""

    def __init__(self, batch: int) -> None:
        self.batch = batch

    def held_resources(self) -> list[str]:
        names = [f"file:/srv/data/{self.batch}-{n}.bin" for n in range(100)]
        return [HUGE_NAME, *names[1:]] if self.batch == 0 else names


def _holding_many() -> dict[str, Any]:
    """Take a snapshot of 20 services holding 2,000 files, one of them with a 200 kB name."""
    locator = ServiceLocator()
    for batch in range(20):
        locator.register(f"files-{batch}", functools.partial(ManyFiles, batch))
        locator.get(f"files-{batch}")
    return locator.snapshot()


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two processes' snapshots that share 2,000 resources: 2,000 conflicts, one with a 200 kB name."""
    folder = tmp_path_factory.mktemp("crowded")
    for _ in range(2):
        write_snapshot(folder, in_child(_holding_many))
    return folder


def _size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.iterdir())


def test_the_table_stays_in_proportion_to_the_input(
    crowded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(crowded)]) == 1
    table = capsys.readouterr().out
    lines = table.splitlines()
    assert lines[0].endswith(": 2000 conflicts")
    assert max(len(line) for line in lines) <= 80
    assert len(table.encode()) < _size(crowded)  # the 200 kB name no longer pads 2,000 rows
    (huge_row,) = [line for line in lines if line.startswith("shared-resource    sqlite:/srv/xxx")]
    assert "…" in huge_row
    assert huge_row.split()[1].endswith("xxx.db")


def test_json_keeps_every_name_whole(crowded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(crowded), "--json"]) == 1
    output = capsys.readouterr().out
    subjects = [conflict["subject"] for conflict in json.loads(output)["conflicts"]]
    assert HUGE_NAME in subjects
    assert len(subjects) == 2000
    assert len(output.encode()) < 4 * _size(crowded)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.err.splitlines(), captured.out


def test_a_near_miss_of_a_huge_key_gives_a_short_line(
    tmp_path: Path, valid_snapshot: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    name = "Database" * 1_250_000  # a 10 MB key
    bad = tmp_path / "locator-bad.json"
    bad.write_text(json.dumps({**valid_snapshot, "evicted": {name: "twice"}}), encoding="utf-8")
    code, errors, out = _run([str(tmp_path)], capsys)
    assert (code, out) == (2, "")
    (line,) = errors
    assert line.startswith(
        f"worker-locator-diagnose: {bad}: not a worker-locator snapshot: evicted['Database"
    )
    assert line.endswith("'] is a string, not a count")
    assert len(line) <= 1000


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"pid": int("7" * 4000)}, "'pid' is a 4000-digit number, too large to be a process id"),
        ({"pid": 2**31}, f"'pid' is {2**31}, too large to be a process id (at most {2**31 - 1})"),
        ({"inherited_dropped": 10**30}, "'inherited_dropped' is a 31-digit number, too large to be a count"),
        ({"max_cached": 2**63}, f"'max_cached' is {2**63}, too large to be a count"),
        ({"evicted": {"Database": 10**100}}, "evicted['Database'] is a 101-digit number, not a count"),
    ],
)
def test_implausible_values_are_unusable_input(
    fields: dict[str, Any],
    problem: str,
    tmp_path: Path,
    valid_snapshot: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "locator-x.json").write_text(json.dumps({**valid_snapshot, **fields}), encoding="utf-8")
    code, errors, out = _run([str(tmp_path)], capsys)
    assert (code, out) == (2, "")
    (line,) = errors
    assert f": not a worker-locator snapshot: {problem}" in line
    assert len(line) < 300


@pytest.mark.parametrize("where", ["stats", "service"])
def test_implausible_counts_inside_are_unusable_input(
    where: str, tmp_path: Path, valid_snapshot: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = json.loads(json.dumps(valid_snapshot))
    if where == "stats":
        snapshot["stats"]["evictions"] = 2**64
        problem = f"'stats.evictions' is {2**64}, too large to be a count"
    else:
        snapshot["services"][0]["owner_pid"] = 10**40
        problem = "'services[0].owner_pid' is a 41-digit number, too large to be a process id"
    (tmp_path / "locator-x.json").write_text(json.dumps(snapshot), encoding="utf-8")
    code, errors, _ = _run([str(tmp_path)], capsys)
    assert code == 2
    assert [problem in line for line in errors] == [True]


def test_a_huge_worker_id_is_shortened_in_the_table(
    tmp_path: Path, valid_snapshot: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    for pid in (os.getpid(), os.getpid() + 1):
        other = {**valid_snapshot, "pid": pid, "worker_id": "gw" + "9" * 100_000, "host": "h\n" * 50_000}
        other["services"] = [{**s, "owner_pid": pid} for s in valid_snapshot["services"]]
        write_snapshot(tmp_path, other)
    assert main([str(tmp_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert len(lines) == 11
