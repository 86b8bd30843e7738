"""The command line's exit statuses: an internal error is 3, never 0 or 1, and says to report it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import worker_locator.diagnosis
from worker_locator._diagnosis import cli
from worker_locator.diagnosis import ExitStatus, main, write_snapshot


def _crash(_snapshots: object) -> None:
    msg = "a rule broke\nacross two lines"
    raise TypeError(msg)


@pytest.fixture
def snapshots(tmp_path: Path, valid_snapshot: dict[str, Any]) -> Path:
    write_snapshot(tmp_path, valid_snapshot)
    return tmp_path


def test_the_exit_statuses() -> None:
    assert [(s.name, int(s)) for s in ExitStatus] == [
        ("CLEAN", 0),
        ("CONFLICTS", 1),
        ("UNUSABLE_INPUT", 2),
        ("INTERNAL_ERROR", 3),
    ]


@pytest.mark.parametrize("as_json", [False, True])
def test_an_internal_error_exits_3_with_one_line(
    as_json: bool, snapshots: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "detect_conflicts", _crash)
    code = main([str(snapshots), *(["--json"] if as_json else [])])
    captured = capsys.readouterr()
    assert code == 3
    (line,) = captured.err.splitlines()
    assert line == (
        "worker-locator-diagnose: internal error, nothing was diagnosed: TypeError: a rule broke\\nacross two"
        " lines; this is a bug in worker-locator, please report it with this line and the snapshots"
    )
    if as_json:
        assert json.loads(captured.out) == {"internal_error": line.removeprefix("worker-locator-diagnose: ")}
    else:
        assert captured.out == ""


def test_a_huge_internal_error_is_one_short_line(
    snapshots: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def crash(_snapshots: object) -> None:
        raise MemoryError("x" * 10_000_000)

    monkeypatch.setattr(cli, "detect_conflicts", crash)
    assert main([str(snapshots)]) == 3
    (line,) = capsys.readouterr().err.splitlines()
    assert len(line) <= 1100
    assert line.endswith("please report it with this line and the snapshots")


def test_an_internal_error_in_a_real_process_exits_3_without_a_traceback(snapshots: Path) -> None:
    script = (
        "import sys\n"
        "from worker_locator._diagnosis import cli\n"
        "def crash(snapshots):\n"
        "    return sorted([object(), object()])\n"  # the kind of TypeError detect_conflicts once raised
        "cli.detect_conflicts = crash\n"
        "raise SystemExit(cli.main(sys.argv[1:]))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", script, str(snapshots)], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 3
    (line,) = done.stderr.splitlines()
    assert "internal error, nothing was diagnosed: TypeError: '<' not supported" in line
    assert done.stdout == ""


def test_a_bad_option_is_a_usage_error_with_a_bounded_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["DIR", "--" + "x" * 10_000_000])
    assert raised.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1].startswith("worker-locator-diagnose: error: unrecognized arguments: --xxx")
    assert sum(len(line) for line in lines) < 2000


def test_help_documents_the_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["--help"])
    assert raised.value.code == 0
    assert "3 on an internal error" in " ".join(capsys.readouterr().out.split())


def test_a_reader_that_leaves_early_does_not_turn_conflicts_into_an_error(
    tmp_path: Path, valid_snapshot: dict[str, Any]
) -> None:
    for pid in range(1000, 1400):  # 400 processes evicting: far more report than a pipe buffers
        snapshot = {
            **valid_snapshot,
            "pid": pid,
            "resource_namespace": f"ns{pid}",
            "evicted": {"Database": 1},
        }
        snapshot["services"] = [{**s, "owner_pid": pid} for s in valid_snapshot["services"]]
        write_snapshot(tmp_path, snapshot)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    with subprocess.Popen(  # noqa: S603 - our own interpreter
        [sys.executable, "-m", "worker_locator.diagnosis", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.close()  # like `| head -c 0`: gone before the report is written
        errors = process.stderr.read()
    assert process.returncode == 1
    assert errors == b""


@pytest.mark.parametrize("name", worker_locator.diagnosis.__all__)
def test_public_names_report_the_public_module(name: str) -> None:
    value = getattr(worker_locator.diagnosis, name)
    if isinstance(value, type) or callable(value):
        assert value.__module__ == "worker_locator.diagnosis"
