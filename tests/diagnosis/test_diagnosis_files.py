"""Writing and reading snapshot files."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from worker_locator import ServiceLocator, get_locator, resource_namespace
from worker_locator.diagnosis import (
    SnapshotError,
    collect_snapshot,
    load_snapshot,
    read_snapshots,
    write_snapshot,
)


def test_collect_snapshot_defaults_to_the_default_locator() -> None:
    get_locator().register("collected", lambda: "yes")
    get_locator().get("collected")
    assert "collected" in [s["key"] for s in collect_snapshot()["services"]]


def test_write_snapshot_names_the_file_after_the_process_and_round_trips(
    tmp_path: Path, valid_snapshot: dict[str, Any]
) -> None:
    path = write_snapshot(tmp_path, valid_snapshot)
    assert path.parent == tmp_path
    assert re.fullmatch(rf"locator-{resource_namespace()}-[0-9a-f]{{12}}\.json", path.name)
    assert load_snapshot(path) == valid_snapshot
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_write_snapshot_without_arguments_writes_the_default_locator(tmp_path: Path) -> None:
    assert load_snapshot(write_snapshot(tmp_path))["pid"] == os.getpid()


def test_concurrent_writers_never_share_a_name(tmp_path: Path, valid_snapshot: dict[str, Any]) -> None:
    written: list[Path] = []
    barrier = threading.Barrier(8)

    def write() -> None:
        barrier.wait()
        written.extend(write_snapshot(tmp_path, valid_snapshot) for _ in range(5))

    threads = [threading.Thread(target=write) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(written)) == 40
    assert sorted(tmp_path.iterdir()) == sorted(written)  # no temporary file left behind
    assert read_snapshots(tmp_path) == [valid_snapshot] * 40


def test_a_failed_write_leaves_no_file(
    tmp_path: Path, valid_snapshot: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_snapshot(tmp_path, valid_snapshot)
    assert list(tmp_path.iterdir()) == []


def test_an_invalid_snapshot_is_not_written(tmp_path: Path, valid_snapshot: dict[str, Any]) -> None:
    with pytest.raises(SnapshotError, match="refusing to write an invalid snapshot: no 'pid' field"):
        write_snapshot(tmp_path, {k: v for k, v in valid_snapshot.items() if k != "pid"})
    assert list(tmp_path.iterdir()) == []


def test_a_hostile_namespace_cannot_escape_the_directory(
    tmp_path: Path, valid_snapshot: dict[str, Any]
) -> None:
    target = tmp_path / "snapshots"
    target.mkdir()
    path = write_snapshot(target, {**valid_snapshot, "resource_namespace": "../../etc/passwd"})
    assert path.parent == target
    assert re.fullmatch(r"locator-_etc_passwd-[0-9a-f]{12}\.json", path.name)


def test_read_snapshots_reads_directories_and_files_once_each(tmp_path: Path) -> None:
    locator = ServiceLocator()
    first = write_snapshot(tmp_path, locator.snapshot())
    second = write_snapshot(tmp_path, locator.snapshot())
    snapshots = read_snapshots(tmp_path, first, str(second))
    assert len(snapshots) == 2


def test_extra_fields_of_the_same_format_are_accepted(tmp_path: Path, valid_snapshot: dict[str, Any]) -> None:
    path = tmp_path / "locator-x.json"
    path.write_text(json.dumps({**valid_snapshot, "added_later": [1, 2]}), encoding="utf-8")
    assert load_snapshot(path)["added_later"] == [1, 2]
