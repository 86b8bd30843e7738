"""The plugin refuses a pytest or pluggy older than it supports, in one line and without a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from worker_locator._plugin.support import _release

# pytest reads the version when the plugin configures, so patching it first stands in for an old pytest.
RUN_AS = """
import sys, {module}
{module}.__version__ = {version!r}
import pytest
sys.exit(pytest.main(["-p", "no:cacheprovider", "-p", "no:randomly", "-q"]))
"""


@pytest.mark.parametrize(
    ("module", "version", "wanted"),
    [("pytest", "7.3.2", "pytest 7.4"), ("pytest", "6.2.5", "pytest 7.4"), ("pluggy", "1.0.0", "pluggy 1.1")],
)
def test_too_old_is_refused_in_one_line(tmp_path: Path, module: str, version: str, wanted: str) -> None:
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n", encoding="utf-8")
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", RUN_AS.format(module=module, version=version)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert done.stdout == ""
    expected = (
        f"ERROR: worker-locator's pytest plugin needs {wanted} or newer, and this is {module} {version}:"
        " upgrade it (pip install 'worker-locator[pytest]'), or turn the plugin off with -p no:worker_locator"
    )
    assert [line for line in done.stderr.splitlines() if line.strip()] == [expected]


def test_turned_off_it_does_not_refuse(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n", encoding="utf-8")
    script = RUN_AS.format(module="pytest", version="7.3.2").replace(
        '"-q"]', '"-q", "-p", "no:worker_locator"]'
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("version", "release"),
    [
        ("7.4.4", (7, 4)),
        ("9.2.0", (9, 2)),
        ("8.0.0rc1", (8, 0)),
        ("10.0.dev3+g1", (10, 0)),
        ("unknown", (0, 0)),
    ],
)
def test_release_numbers(version: str, release: tuple[int, int]) -> None:
    assert _release(version) == release
