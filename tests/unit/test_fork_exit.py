"""A forked child that exits normally never finalises what it inherited, and still cleans up its own."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("fork_exit_script.py")
EXITS = ["sys.exit", "SystemExit", "end"]


def _run(exit_by: str, workdir: Path, scenario: str) -> tuple[int, int, set[tuple[int, str, int]]]:
    """Run the script; return the parent's pid, the child's, and (who ran, what, who built) per clean-up."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    result = subprocess.run(  # noqa: S603 - our own script, run by this interpreter
        [sys.executable, str(SCRIPT), exit_by, str(workdir), scenario],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", "a clean-up failed or printed in one of the processes"
    lines = [line.split() for line in (workdir / "log.txt").read_text().splitlines()]
    (parent, child) = next((int(c), int(b)) for c, event, _, b in lines if event == "child-exit:0")
    return parent, child, {(int(closer), event, int(builder)) for closer, event, _, builder in lines}


@pytest.mark.parametrize("exit_by", EXITS)
def test_a_child_that_exits_normally_runs_no_clean_up_of_what_its_locators_inherited(
    exit_by: str, tmp_path: Path
) -> None:
    parent, child, ran = _run(exit_by, tmp_path, "locators")
    assert {(e, b) for c, e, b in ran if c == child and b == parent} == set(), (
        "the child finalised, closed or cleaned up what the parent built"
    )
    assert {e for c, e, b in ran if c == child == b} == {
        "finally:session",  # the child's own sqlite session, closed by LOCATOR.close() in the child
        "del:global-locator",  # the object it built, dropped by that close()
        "finalize:global-locator",  # with its weakref.finalize callbacks, and its part's
        "finalize-part:global-locator",
        "close:default-locator",  # the default locator's own service, closed at the child's exit
    }
    assert {e for c, e, b in ran if c == parent == b} == {
        "parent-conn-ok:1",  # the parent's connection still works after the child's exit
        "finally:session",  # and the parent's own clean-ups run, later, in the parent
        "del:global-locator",
        "finalize:global-locator",
        "finalize-part:global-locator",
        "close:default-locator",
        "finally:journal",
        "del:journal",
        "finalize:journal",
        "finalize-part:journal",
    }
    with sqlite3.connect(tmp_path / "app.db") as db:
        rows = set(db.execute("select closer, builder from cleanups"))
    db.close()
    assert rows == {(child, child), (parent, parent)}, "each clean-up row was written by its builder"


@pytest.mark.parametrize("exit_by", EXITS)
def test_a_child_that_exits_normally_never_finalises_a_proxy_target_it_inherited(
    exit_by: str, tmp_path: Path
) -> None:
    parent, child, ran = _run(exit_by, tmp_path, "proxy")
    # Whether the child's own target is freed at its exit is Python's business: the
    # quarantined target keeps the module's globals, and so the proxy, alive.
    assert {(c, e, b) for c, e, b in ran if not c == b == child} == {
        (parent, "child-exit:0", child),
        (parent, "del:proxy", parent),  # the parent's target is finalised in the parent only
        (parent, "finalize:proxy", parent),  # and so are its weakref.finalize callbacks, and its part's
        (parent, "finalize-part:proxy", parent),
    }
