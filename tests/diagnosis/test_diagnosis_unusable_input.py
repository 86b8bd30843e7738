"""Unusable input: exit 2 and one line per problem naming the file, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from worker_locator.diagnosis import MAX_SNAPSHOT_BYTES, SnapshotError, load_snapshot, main, read_snapshots

Writer = Callable[[Path, dict[str, Any]], None]


def _text(content: str) -> Writer:
    def write(path: Path, _snapshot: dict[str, Any]) -> None:
        path.write_text(content, encoding="utf-8")

    return write


def _bytes(content: bytes) -> Writer:
    def write(path: Path, _snapshot: dict[str, Any]) -> None:
        path.write_bytes(content)

    return write


def _changed(**fields: object) -> Writer:
    def write(path: Path, snapshot: dict[str, Any]) -> None:
        path.write_text(json.dumps({**snapshot, **fields}), encoding="utf-8")

    return write


def _truncated(at: str) -> Writer:
    def write(path: Path, snapshot: dict[str, Any]) -> None:
        text = json.dumps(snapshot, indent=1)
        path.write_text(text[: text.index(at) + len(at)], encoding="utf-8")

    return write


def _too_large(path: Path, _snapshot: dict[str, Any]) -> None:
    with path.open("wb") as stream:
        stream.truncate(MAX_SNAPSHOT_BYTES + 1)  # sparse: costs no disk


def _service_changed(**fields: object) -> Writer:
    def write(path: Path, snapshot: dict[str, Any]) -> None:
        service = {**snapshot["services"][0], **fields}
        path.write_text(json.dumps({**snapshot, "services": [service]}), encoding="utf-8")

    return write


CASES: dict[str, tuple[Writer, str]] = {
    "truncated after a value": (
        _truncated('"pid": '),
        "truncated JSON: it stops before the document is complete",
    ),
    "truncated in a string": (
        _truncated('"host": "'),
        "truncated JSON: it stops before the document is complete",
    ),
    "truncated in a list": (
        _truncated('"services": [\n  {'),
        "truncated JSON: it stops before the document is complete",
    ),
    "not json": (_text("format: 1\nworker_id: gw0\n"), "not valid JSON: Expecting value at line 1 column 1"),
    "empty file": (_text(""), "empty file"),
    "trailing garbage": (_text('{"format": 1} }'), "not valid JSON: Extra data at line 1 column 15"),
    "nan": (_text('{"format": NaN}'), "not valid JSON: NaN is not a JSON number"),
    "a list": (_text("[1, 2]"), "not a worker-locator snapshot: the top level is an array, not an object"),
    "other json object": (
        _text('{"name": "package.json"}'),
        "not a worker-locator snapshot: no integer 'format'",
    ),
    "missing field": (_changed(pid=None), "not a worker-locator snapshot: 'pid' is null, not an integer"),
    "wrong type": (
        _changed(services={}),
        "not a worker-locator snapshot: 'services' is an object, not an array",
    ),
    "bool as int": (_changed(pid=True), "not a worker-locator snapshot: 'pid' is a boolean, not an integer"),
    "bad service": (
        _service_changed(resources=[1]),
        "not a worker-locator snapshot: services[0].resources[0] is an integer, not a string",
    ),
    "newer format": (
        _changed(format=2),
        (
            "snapshot format 2 comes from a newer worker-locator (this one reads format 1);"
            " upgrade worker-locator to diagnose it"
        ),
    ),
    "format zero": (_changed(format=0), "not a worker-locator snapshot: 'format' is 0"),
    "deep nesting": (_text("[" * 100_000 + "]" * 100_000), "JSON nested too deeply to be a snapshot"),
    "deep nesting, truncated": (_text('{"a":' * 50_000), "JSON nested too deeply to be a snapshot"),
    "binary with NUL": (_bytes(bytes(range(256)) * 4), "binary data (NUL bytes), not a JSON snapshot"),
    "binary without NUL": (_bytes(b"\xff\xfe\x80garbage" * 10), "not UTF-8 text (byte 0)"),
    "huge number": (_text('{"format": ' + "9" * 5000 + "}"), "not valid JSON: Exceeds the limit"),
    "too large": (_too_large, f"larger than {MAX_SNAPSHOT_BYTES} bytes, too large to be a snapshot"),
}


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.err.splitlines(), captured.out


@pytest.mark.parametrize("case", list(CASES))
def test_each_unusable_file_is_one_line_and_exit_2(
    case: str, tmp_path: Path, valid_snapshot: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    write, problem = CASES[case]
    bad = tmp_path / "locator-bad.json"
    write(bad, valid_snapshot)
    (tmp_path / "locator-good.json").write_text(json.dumps(valid_snapshot), encoding="utf-8")
    code, errors, out = _run([str(tmp_path)], capsys)
    assert code == 2
    assert len(errors) == 1
    assert errors[0].startswith(f"worker-locator-diagnose: {bad}: {problem}")
    assert out == ""
    with pytest.raises(SnapshotError) as raised:
        load_snapshot(bad)
    assert raised.value.path == bad
    assert "\n" not in str(raised.value)


def test_a_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, errors, _ = _run([str(tmp_path / "nowhere")], capsys)
    assert (code, errors) == (
        2,
        [f"worker-locator-diagnose: {tmp_path / 'nowhere'}: no such file or directory"],
    )


def test_an_empty_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".locator-half-written.tmp").write_text("{", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a snapshot", encoding="utf-8")
    code, errors, _ = _run([str(tmp_path)], capsys)
    assert code == 2
    assert errors == [
        (
            f"worker-locator-diagnose: {tmp_path}: no snapshot files (*.json) in this directory;"
            " run pytest with --locator-snapshot DIR first"
        )
    ]


def test_every_unusable_input_gets_its_own_line(
    tmp_path: Path, valid_snapshot: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.json").write_text("[]", encoding="utf-8")
    (tmp_path / "b.json").write_bytes(b"\0\0")
    (tmp_path / "c.json").write_text(json.dumps(valid_snapshot), encoding="utf-8")
    code, errors, _ = _run([str(tmp_path), str(tmp_path / "gone")], capsys)
    assert code == 2
    assert len(errors) == 3
    assert [line.split(": ")[1] for line in errors] == [
        str(tmp_path / "gone"),
        str(tmp_path / "a.json"),
        str(tmp_path / "b.json"),
    ]


def test_a_file_name_with_a_newline_stays_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "evil\nname.json").write_text("{", encoding="utf-8")
    code, errors, _ = _run([str(tmp_path)], capsys)
    assert code == 2
    assert len(errors) == 1
    assert "evil\\nname.json" in errors[0]


def test_a_directory_named_like_a_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "folder.json").mkdir()
    code, errors, _ = _run([str(tmp_path)], capsys)
    assert (code, errors) == (2, [f"worker-locator-diagnose: {tmp_path / 'folder.json'}: not a regular file"])


def test_json_mode_reports_errors_as_json_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.json").write_text("[]", encoding="utf-8")
    code, errors, out = _run([str(tmp_path), "--json"], capsys)
    assert code == 2
    assert len(errors) == 1
    assert json.loads(out) == {
        "errors": [
            {
                "path": str(tmp_path / "a.json"),
                "problem": "not a worker-locator snapshot: the top level is an array, not an object",
            }
        ]
    }


def test_read_snapshots_raises_one_error_per_input(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("[]", encoding="utf-8")
    (tmp_path / "b.json").write_text("{", encoding="utf-8")
    with pytest.raises(ExceptionGroup) as raised:
        read_snapshots(tmp_path)
    errors = [e for e in raised.value.exceptions if isinstance(e, SnapshotError)]
    assert len(errors) == len(raised.value.exceptions) == 2
    assert [e.path.name for e in errors] == ["a.json", "b.json"]


@pytest.mark.parametrize(
    ("command", "content"),
    [
        ([sys.executable, "-m", "worker_locator.diagnosis"], b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
        ([str(Path(sys.executable).parent / "worker-locator-diagnose")], b"[" * 100_000),
    ],
)
def test_the_command_line_never_shows_a_traceback(tmp_path: Path, command: list[str], content: bytes) -> None:
    (tmp_path / "locator-x.json").write_bytes(content)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run([*command, str(tmp_path)], capture_output=True, text=True, env=env, check=False)  # noqa: S603 - our own interpreter and script
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1
    assert str(tmp_path / "locator-x.json") in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_symbolic_link_loops_in_a_directory(
    tmp_path: Path, valid_snapshot: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "locator-good.json").write_text(json.dumps(valid_snapshot), encoding="utf-8")
    (tmp_path / "locator-a.json").symlink_to("locator-b.json")
    (tmp_path / "locator-b.json").symlink_to("locator-a.json")
    (tmp_path / "locator-self.json").symlink_to("locator-self.json")
    code, errors, out = _run([str(tmp_path)], capsys)
    assert (code, out) == (2, "")
    assert errors == [
        f"worker-locator-diagnose: {tmp_path / name}: a symbolic link loop (following its links leads back"
        " to one of them, or goes on for too many links); fix or remove the link"
        for name in ("locator-a.json", "locator-b.json", "locator-self.json")
    ]


@pytest.mark.parametrize("given", ["loop", "loop/locator-x.json", "loop/"])
def test_a_symbolic_link_loop_as_an_argument(
    given: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "loop").symlink_to("loop")
    code, errors, out = _run([str(tmp_path / given)], capsys)
    assert (code, out) == (2, "")
    (line,) = errors
    assert line.startswith(f"worker-locator-diagnose: {tmp_path / given.rstrip('/')}: a symbolic link loop")


def test_a_broken_symbolic_link(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "locator-gone.json").symlink_to(tmp_path / "deleted.json")
    (tmp_path / "dangling").symlink_to(tmp_path / "deleted")
    code, errors, _ = _run([str(tmp_path), str(tmp_path / "dangling")], capsys)
    assert code == 2
    problem = "a broken symbolic link: what it points to does not exist"
    assert errors == [
        f"worker-locator-diagnose: {tmp_path / name}: {problem}" for name in ("locator-gone.json", "dangling")
    ]


def test_a_snapshot_reached_through_a_link_is_read_once(
    tmp_path: Path, valid_snapshot: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "locator-real.json").write_text(json.dumps(valid_snapshot), encoding="utf-8")
    (tmp_path / "locator-link.json").symlink_to("locator-real.json")
    assert main([str(tmp_path), str(tmp_path / "locator-link.json")]) == 0
    assert capsys.readouterr().out.startswith("1 snapshot from 1 process")


def test_a_fifo_named_like_a_snapshot_is_refused_without_waiting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(tmp_path / "locator-fifo.json")
    code, errors, _ = _run([str(tmp_path / "locator-fifo.json")], capsys)
    assert (code, errors) == (
        2,
        [f"worker-locator-diagnose: {tmp_path / 'locator-fifo.json'}: not a regular file"],
    )
