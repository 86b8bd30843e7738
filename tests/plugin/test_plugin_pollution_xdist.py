"""Proof on a generated suite under real xdist: a polluter among 200 tests on 4 workers is named."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from worker_locator._plugin.pollution import SECTION

pytestmark = pytest.mark.slow

POLLUTER = "test_mod_07.py::test_case_3"
VICTIMS = {f"test_mod_{m:02d}.py::test_case_{m % 10}" for m in range(20) if m != 7}

CONFTEST = """
    from worker_locator import get_locator

    class Settings(dict):
        pass

    class Cart(list):
        pass

    get_locator().register(Settings, Settings, keep_between_tests=True)
    get_locator().register(Cart, Cart)
"""


def _module(number: int) -> str:
    """Ten tests: most use the locator harmlessly; one is a victim; module 7 has the polluter."""
    tests = []
    for case in range(10):
        node = f"test_mod_{number:02d}.py::test_case_{case}"
        if node == POLLUTER:
            body = 'service_locator.get(Settings)["mode"] = "debug"'
        elif node in VICTIMS:
            body = 'assert service_locator.get(Settings).get("mode") is None'
        elif case % 3 == 0:
            body = "service_locator.get(Cart).append(1)"
        elif case % 3 == 1:
            body = 'service_locator.register("local", object)\n    service_locator.get("local")'
        else:
            body = "assert True"
        tests.append(f"def test_case_{case}(service_locator):\n    {body}\n")
    return "from conftest import Cart, Settings\n\n\n" + "\n\n".join(tests)


def _project(root: Path) -> Path:
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (root / "conftest.py").write_text(textwrap.dedent(CONFTEST), encoding="utf-8")
    for number in range(20):
        (root / f"test_mod_{number:02d}.py").write_text(_module(number), encoding="utf-8")
    return root


def _pytest(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run(root, sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args)


def _run(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    env["COLUMNS"] = "120"
    return subprocess.run(  # noqa: S603 - this interpreter's pytest, on the generated project
        argv,
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(name="project", scope="module")
def _generated_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _project(tmp_path_factory.mktemp("polluted"))


# Whether a victim runs after the polluter on its worker depends on how xdist deals the tests,
# which depends on the workers' speed: under heavy load, 2 of the first 5 seeds had one once.
SEEDS = (1, 2, 3, 4, 5, 6, 7, 8)


def test_the_polluter_is_named_in_every_failure_of_every_seed(project: Path) -> None:
    polluted = 0
    for seed in SEEDS:
        polluted += _check_one_seed(project, seed)
    # 19 victims: in most seeds some victim runs after the polluter on the same worker (6 of these
    # 8 in a run beside a CI run, 2026-12-07).
    assert polluted >= 3, f"only {polluted} of {len(SEEDS)} seeds had a victim run after the polluter"


def _check_one_seed(project: Path, seed: int) -> bool:
    """Run one seed; check every failure's report, replay the first; return whether any test failed."""
    result = _pytest(project, "-n", "4", "-p", "randomly", f"--randomly-seed={seed}")
    output = result.stdout + result.stderr
    assert re.search(r"\d+ passed", output), output
    failed = set(re.findall(r"^FAILED (\S+)", result.stdout, re.MULTILINE))
    assert failed <= VICTIMS, output
    if not failed:  # no victim ran after the polluter on its worker in this seed
        assert result.returncode == 0, output
        return False
    sections = re.split(rf"-+ {re.escape(SECTION)} -+\n", output)[1:]
    assert len(sections) == len(failed), output
    for section in sections:
        named = re.findall(r"^  #\d+ (\S+)$", section, re.MULTILINE)
        assert POLLUTER in named, section
        assert re.search(
            rf"  #\d+ {re.escape(POLLUTER)}\n"
            r"      (got the same|built the) Settings this test got \(kept between tests\)",
            section,
        ), section
    # The first failure's replay command, run as printed, fails that test in one process.
    section = sections[0]
    command = section.split("in one process:\n", 1)[1].split("\n=")[0].split("\n_")[0].strip()
    argv = shlex.split(command.replace("\\\n", " "))
    if argv[0] == "python":  # pytest older than 8.2, which reads no argument file
        assert argv[1] == "-c", command
        replayed = _run(project, sys.executable, *argv[1:])
        node_ids = Path(argv[-1]).read_text(encoding="utf-8").splitlines()
    else:
        assert argv[:5] == ["pytest", "-p", "no:xdist", "-p", "no:randomly"], command
        replayed = _pytest(project, *argv[1:])
        node_ids = _node_ids(argv[5:])
    assert POLLUTER in node_ids
    assert node_ids[-1] in failed
    assert replayed.returncode == 1, replayed.stdout
    assert f"FAILED {node_ids[-1]}" in replayed.stdout, replayed.stdout[-3000:]
    assert "workers" not in replayed.stdout  # one process: no "created: 4/4 workers" line
    return True


def _node_ids(arguments: list[str]) -> list[str]:
    if len(arguments) == 1 and arguments[0].startswith("@"):
        return Path(arguments[0][1:]).read_text(encoding="utf-8").splitlines()
    return arguments
