"""The plugin reference page lists exactly what the plugin registers with pytest.

What the plugin registers is read from pytest itself, in a fresh process: the
options and markers that `pytest --help` and `pytest --markers` show with the
plugin and not without it (`-p no:worker_locator`), the fixtures `pytest
--fixtures` lists from the plugin's modules, and the hook implementations of
every plugin object from `worker_locator` that pytest's plugin manager holds
once the run is configured. A new option, fixture, marker or hook fails this
test until the page has a row for it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.conftest import ROOT, clean_env

PAGE = ROOT / "docs" / "reference" / "pytest-plugin.md"
PLUGIN = "worker_locator"

# Run inside a configured session: print each hook implementation of the plugin's objects, with its options.
_HOOKS_PROBE = """
import json, sys, types
import pytest

class Probe:
    def pytest_collection_finish(self, session):
        pm = session.config.pluginmanager
        # The per-test hooks are registered once the default locator exists, which a collection
        # never gets to: register them here, as the plugin would.
        from worker_locator._plugin.units import UnitHooks
        pm.register(UnitHooks(None), "probe-unit-hooks")
        found = {}
        for _, plugin in pm.list_name_plugin():
            module = plugin.__name__ if isinstance(plugin, types.ModuleType) else type(plugin).__module__
            if not module.startswith("worker_locator"):
                continue
            for caller in pm.get_hookcallers(plugin) or ():
                for impl in caller.get_hookimpls():
                    if impl.plugin is plugin:
                        options = ("wrapper", "hookwrapper", "tryfirst", "trylast", "optionalhook")
                        found[caller.name] = sorted(o for o in options if getattr(impl, o))
        print("HOOKS=" + json.dumps(found))

sys.exit(pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", sys.argv[1]], plugins=[Probe()]))
"""


def _pytest(directory: Path, *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, *args],
        cwd=directory,
        env=clean_env(PYTEST_DISABLE_PLUGIN_AUTOLOAD=""),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 5), done.stdout + done.stderr  # 5: no tests collected
    return done.stdout


@pytest.fixture(name="project", scope="module")
def _project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return an empty project folder, so that no conftest or ini file of ours adds anything."""
    project = tmp_path_factory.mktemp("plugin-reference")
    (project / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (project / "test_nothing.py").write_text("", encoding="utf-8")
    return project


def _added(project: Path, flag: str, pattern: str) -> set[str]:
    """Return the names `pattern` finds in `pytest FLAG` with the plugin that it does not find without."""
    with_plugin = _pytest(project, "-m", "pytest", flag)
    without = _pytest(project, "-m", "pytest", "-p", f"no:{PLUGIN}", flag)
    found = set(re.findall(pattern, with_plugin, re.MULTILINE))
    return found - set(re.findall(pattern, without, re.MULTILINE))


def _section(title: str) -> str:
    text = PAGE.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"{PAGE.name} has no '## {title}' section"
    return match[1]


def _rows(title: str) -> list[list[str]]:
    """Return the cells of each body row of the tables in the page's section `title`."""
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in _section(title).splitlines()
        if line.startswith("|") and not re.fullmatch(r"\|[-:| ]+\|", line)
    ]
    return rows[1:]  # the first row is the header


def _first_code(cell: str) -> str:
    match = re.search(r"`([^`]+)`", cell)
    assert match, f"no name in backticks in {cell!r}"
    return match[1].split()[0].split("=")[0]


def test_the_page_lists_every_command_line_option(project: Path) -> None:
    registered = _added(project, "--help", r"^\s+(--[a-z][\w-]*)")
    listed = {_first_code(row[0]) for row in _rows("Options") if "command line" in row[1]}
    assert registered
    assert listed == registered


def test_the_page_lists_every_ini_option(project: Path) -> None:
    registered = _added(project, "--help", r"^  ([a-z][\w-]*) \(\w+\):")
    listed = {_first_code(row[0]) for row in _rows("Options") if "ini file" in row[1]}
    assert registered
    assert listed == registered


def test_the_page_lists_every_marker(project: Path) -> None:
    registered = _added(project, "--markers", r"^@pytest\.mark\.(\w+)")
    listed = {_first_code(row[0]).removeprefix("@pytest.mark.").split("(")[0] for row in _rows("Markers")}
    assert listed == registered


def test_the_page_lists_every_fixture_with_its_scope(project: Path) -> None:
    output = _pytest(project, "-m", "pytest", "--fixtures")
    ours = re.findall(
        rf"^-+ fixtures defined from {PLUGIN}\S* -+\n(.*?)(?=^-+ |\Z)", output, re.MULTILINE | re.DOTALL
    )
    registered = {
        name: scope or "function"
        for block in ours
        for name, scope in re.findall(r"^(\w+)(?: \[(\w+) scope\])? -- ", block, re.MULTILINE)
    }
    listed = {_first_code(row[0]): row[1] for row in _rows("Fixtures")}
    assert registered
    assert listed == registered


def _listed_hooks() -> dict[str, list[str]]:
    """Return `{hook: options}` from the hooks table's first cells: `` `pytest_x` (wrapper, `tryfirst`) ``."""
    listed = {}
    for row in _rows("Hooks it implements"):
        for name, notes in re.findall(r"`(pytest_\w+)`(?: \(([^)]*)\))?", row[0]):
            words = notes.replace("`", "").replace("optional hook", "optionalhook")
            listed[name] = sorted(word.strip() for word in words.split(",") if word.strip())
    return listed


def test_the_page_lists_every_hook_with_its_options(project: Path) -> None:
    output = _pytest(project, "-c", _HOOKS_PROBE, str(project))
    registered = json.loads(output.split("HOOKS=", 1)[1].splitlines()[0])
    assert "pytest_configure" in registered
    assert _listed_hooks() == registered
