"""The tutorial's install step works as written on a fresh machine, whose new venv has an old pip.

The commands of the tutorial's "Install" block run, one after the other in one
shell, in a copy of this checkout, with `python3` from PATH outside any virtual
environment. Python 3.11's `venv` bundles pip 23.2, which has no `--group`; where
the bundled pip is new enough to have it, the test puts pip 23.2.1 into the new
environment first, so that the step is always tried from where a fresh
machine starts. Only the package registry is used; the pins of
`.ci/constraints.txt` apply (`PIP_CONSTRAINT`), as they do for `.ci/dev`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.conftest import ROOT, clean_env

TUTORIAL = ROOT / "docs" / "tutorial" / "index.md"
OLD_PIP = "23.2.1"  # what `python3.11 -m venv` installs: ensurepip's bundled pip
MARK = "### "  # prefixes the lines the test's own shell steps print


def install_commands() -> list[str]:
    """Return the commands of the tutorial's install block, without their `$ ` prompts."""
    section = TUTORIAL.read_text(encoding="utf-8").split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```console\n(.*?)```", section, re.DOTALL)
    assert block, f"{TUTORIAL.name}: no console block under '## Install'"
    commands = [line.removeprefix("$ ") for line in block[1].splitlines() if line.startswith("$ ")]
    assert commands
    return commands


def _copy_checkout(target: Path) -> None:
    """Copy the files git tracks or would track (as they are now, links as links) to `target`."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607 - git by name
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name, follow_symlinks=False)


def _fresh_machine_path() -> str:
    """Return PATH without this test run's virtual environment."""
    ours = Path(sys.prefix).resolve()
    kept = [
        entry for entry in os.environ["PATH"].split(os.pathsep) if ours not in Path(entry).resolve().parents
    ]
    return os.pathsep.join(kept)


def _script(commands: list[str]) -> str:
    """Return a shell script running `commands`, with a pip that lacks `--group` once the venv exists."""
    lines = ["set -eu"]
    for command in commands:
        lines.append(command)
        if re.fullmatch(r"python3? -m venv (\S+)", command):
            venv = command.split()[-1]
            lines += [
                f'echo "{MARK}bundled $("{venv}/bin/python" -m pip --version)"',
                f'if "{venv}/bin/python" -m pip install --help | grep -q -- --group; then',
                f'  PIP_CONSTRAINT= "{venv}/bin/python" -m pip install --quiet "pip=={OLD_PIP}"',
                "fi",
                f'echo "{MARK}before the tutorial\'s pip commands: $("{venv}/bin/python" -m pip --version)"',
            ]
    return "\n".join(lines) + "\n"


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the tutorial's commands, and checks of what they installed
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800, check=False
    )


@pytest.mark.slow
def test_the_install_step_works_as_written_with_pip_23_2(tmp_path: Path) -> None:
    checkout = tmp_path / "worker-locator"
    _copy_checkout(checkout)
    commands = install_commands()
    assert any(re.fullmatch(r"python3? -m venv \S+", c) for c in commands), "the step makes no venv"
    env = clean_env(PATH=_fresh_machine_path(), PIP_CONSTRAINT=str(checkout / ".ci" / "constraints.txt"))
    env.pop("VIRTUAL_ENV", None)
    # A fresh machine runs no coverage: under `.ci/dev test` the COVERAGE_* variables would make the
    # copy's processes write data files of their own, measuring the copy instead of src/.
    for name in [name for name in env if name.startswith("COVERAGE_")]:
        del env[name]
    done = _run(["bash", "-c", _script(commands)], checkout, env)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert f"{MARK}before the tutorial's pip commands: pip {OLD_PIP} " in output, output

    # What the tutorial says the step installed: the package, its plugin and the tools.
    python = str(checkout / ".venv" / "bin" / "python")
    helped = _run([python, "-m", "pytest", "--help"], checkout, env)
    assert helped.returncode == 0, helped.stdout + helped.stderr
    assert "locator_isolation" in helped.stdout  # the plugin is active
    assert "--numprocesses" in helped.stdout  # pytest-xdist
    code = "import worker_locator, sybil, mkdocs, pytest_randomly; print(worker_locator.__file__)"
    imported = _run([python, "-c", code], checkout, env)
    assert imported.returncode == 0, imported.stderr
    assert Path(imported.stdout.strip()).is_relative_to(checkout / "src")  # an editable install


def test_the_readme_gives_the_tutorials_install_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = "```console\n" + "".join(f"$ {command}\n" for command in install_commands()) + "```"
    assert block in readme
