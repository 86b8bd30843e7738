"""The docs set-up, run by pytest on a small generated project: what `pytest -n 8 docs/ src/` relies on.

The project gets copies of docs/conftest.py and docs/_executable_docs.py, and pages whose
examples depend on each other, so that a document split across workers, shuffled or
leaking into the next one fails loudly.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.docs.conftest import ROOT, clean_env


def dependent_page(name: str, blocks: int) -> str:
    """A page whose every example uses the previous one's variable and registers into the default locator."""
    parts = [
        f"# {name}\n",
        (
            "```python\nfrom worker_locator import get_locator\n\n"
            "assert get_locator().registered() == frozenset(), sorted(get_locator().registered())\n"
            f"get_locator().register({name!r}, lambda: {name!r})\nv0 = 0\n```\n"
        ),
    ]
    parts.extend(f'```python title="step {i}"\nv{i} = v{i - 1} + 1\n```\n' for i in range(1, blocks))
    parts.append(f"```python\nassert v{blocks - 1} == {blocks - 1}\n```\n")
    return "\n".join(parts)


FAILING_PAGE = textwrap.dedent(
    """\
    # Failing

    ```python
    x = 1
    assert x == 2, "x should be 2"
    ```

    <!-- skip: next "shown, not run" -->
    ```python
    raise SystemExit("never runs")
    ```
    """
)


@pytest.fixture(name="project", scope="module")
def _project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("docs-project")
    docs = project / "docs"
    docs.mkdir()
    for name in ("conftest.py", "_executable_docs.py"):
        shutil.copy(ROOT / "docs" / name, docs / name)
    (project / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\nfilterwarnings = error\n")
    for name in ("alpha", "beta", "gamma"):
        (docs / f"{name}.md").write_text(dependent_page(name, 12))
    (docs / "failing.md").write_text(FAILING_PAGE)
    return project


def run(project: Path, *args: str) -> tuple[int, str]:
    result = subprocess.run(  # noqa: S603 - a fixed command line
        [sys.executable, "-m", "pytest", "-rfEs", *args, "docs"],
        cwd=project,
        env=clean_env(COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def failures(output: str) -> list[str]:
    return re.findall(r"^FAILED (\S+)", output, re.MULTILINE)


@pytest.mark.parametrize(
    "args",
    [
        ("-n", "2", "--dist", "load", "-p", "randomly"),
        ("-n", "3", "--dist", "worksteal"),
        ("-p", "no:xdist", "-p", "randomly"),
        ("-n", "0"),
        ("-p", "no:worker_locator", "-p", "no:xdist", "-p", "randomly"),
    ],
    ids=["explicit-load", "worksteal", "no-xdist", "n0", "without-the-plugin"],
)
def test_documents_run_whole_isolated_and_only_the_broken_example_fails(
    project: Path, args: tuple[str, ...]
) -> None:
    code, output = run(project, *args)
    assert code == 1, output
    assert failures(output) == ["docs/failing.md::sybil:md,line:3,column:1"], output
    assert re.search(r"\b40 passed\b", output), output  # 3 pages of 13 examples, and the skip directive
    assert "1 skipped" in output, output


def test_a_failure_names_the_page_and_the_line(project: Path) -> None:
    _, output = run(project, "-p", "no:xdist")
    assert "failing.md:5: AssertionError" in output, output
    assert "x should be 2" in output


def test_a_skip_is_reported_with_its_reason_at_the_page_and_line(project: Path) -> None:
    _, output = run(project, "-p", "no:xdist")
    assert re.search(r"SKIPPED \[1\] docs/failing\.md:9: shown, not run", output), output


def test_pages_are_kept_on_one_worker_per_page(project: Path) -> None:
    _, output = run(project, "-n", "3", "--dist", "load", "-v")
    workers: dict[str, set[str]] = {}
    for worker, page in re.findall(
        r"^\[(gw\d+)\] .*?(?:PASSED|FAILED|SKIPPED) docs/(\w+)\.md", output, re.MULTILINE
    ):
        workers.setdefault(page, set()).add(worker)
    assert set(workers) == {"alpha", "beta", "gamma", "failing"}, output
    assert all(len(used) == 1 for used in workers.values()), workers
