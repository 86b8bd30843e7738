"""Fixtures of the documentation tests: the project's Sybil set-up, and one strict site build per run."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[2]

# Any accidental download at build time (a remote inventory, a web font) goes to a
# port nobody listens on, so it fails the build instead of passing while online.
OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}


@dataclass(frozen=True)
class BuiltSite:
    """The output of `mkdocs build --strict` and where it wrote the site."""

    site: Path
    returncode: int
    output: str


def clean_env(**extra: str) -> dict[str, str]:
    """Return this environment without what pytest-xdist and the caller's pytest set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST_", "PYTEST_ADDOPTS"))}
    env.pop("PYTEST_CURRENT_TEST", None)
    env.update(extra)
    return env


@pytest.fixture(name="support", scope="session")
def _support() -> ModuleType:
    """Return docs/_executable_docs.py, the module both conftests build their Sybils from."""
    docs = str(ROOT / "docs")
    if docs not in sys.path:
        sys.path.insert(0, docs)
    return importlib.import_module("_executable_docs")


def _build(site: Path) -> BuiltSite:
    result = subprocess.run(  # noqa: S603 - a fixed command line
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            str(ROOT / "mkdocs.yml"),
            "-d",
            str(site),
        ],
        cwd=ROOT,
        env=clean_env(NO_MKDOCS_2_WARNING="1", **OFFLINE),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return BuiltSite(site, result.returncode, result.stdout + result.stderr)


@pytest.fixture(name="built_site", scope="session")
def _built_site(tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    """Build the site once per test run, also when pytest-xdist runs these tests on several workers.

    The run-once recipe from pytest-xdist's documentation: the first worker to take
    the lock builds into the directory all workers of this run share, the others read
    its record. Nothing tears the site down; pytest's temp-dir rotation does.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return _build(tmp_path_factory.getbasetemp() / "site")
    shared = tmp_path_factory.getbasetemp().parent
    record = shared / "site-build.json"
    with FileLock(str(shared / "site-build.lock")):
        if record.is_file():
            data = json.loads(record.read_text())
            return BuiltSite(Path(data["site"]), data["returncode"], data["output"])
        built = _build(shared / "site")
        record.write_text(
            json.dumps({"site": str(built.site), "returncode": built.returncode, "output": built.output})
        )
        return built


@pytest.fixture(name="site")
def _site(built_site: BuiltSite) -> Path:
    """Return the built site's directory, failing the test with the build's output if the build failed."""
    if built_site.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{built_site.output}")
    return built_site.site
