"""Sybil documents stay whole under pytest-xdist, in every `--dist` mode, with nothing configured."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from worker_locator._plugin.scheduling import document_units

FENCE = "```"
DOCUMENTS = "abcde"
EXAMPLES = 6  # per document, each needing the one before it
PLAIN_FILES = 3
PLAIN_TESTS = 8  # per file


def _document(name: str) -> str:
    first = f"# Document {name}\n\n{FENCE}python\nsteps = ['{name}0']\n{FENCE}\n"
    return first + "".join(
        f"\nStep {step}, which needs step {step - 1}:\n\n{FENCE}python\n"
        f"assert steps[-1] == '{name}{step - 1}', steps\nsteps.append('{name}{step}')\n{FENCE}\n"
        for step in range(1, EXAMPLES)
    )


@pytest.fixture
def project(sybil_project: pytest.Pytester) -> pytest.Pytester:
    for name in DOCUMENTS:
        (sybil_project.path / f"doc_{name}.md").write_text(_document(name), encoding="utf-8")
    for index in range(PLAIN_FILES):
        body = "".join(f"def test_{n}():\n    pass\n\n" for n in range(PLAIN_TESTS))
        (sybil_project.path / f"test_plain_{index}.py").write_text(body, encoding="utf-8")
    return sybil_project


TOTAL = len(DOCUMENTS) * EXAMPLES + PLAIN_FILES * PLAIN_TESTS
_XDIST_LINE = re.compile(r"\[(gw\d+)\] \[\s*\d+%\] (PASSED|FAILED|ERROR) (\S+)")


def _runs_by_worker(output: list[str]) -> dict[str, list[str]]:
    """Each worker's node ids, in the order it reported them (the order it ran them)."""
    runs: dict[str, list[str]] = defaultdict(list)
    for line in output:
        match = _XDIST_LINE.match(line)
        if match:
            runs[match.group(1)].append(match.group(3))
    return runs


def _line(nodeid: str) -> int:
    match = re.search(r"line:(\d+)", nodeid)
    assert match, nodeid
    return int(match.group(1))


def _assert_documents_whole_and_in_order(runs: dict[str, list[str]]) -> None:
    for name in DOCUMENTS:
        holders = {worker for worker, ids in runs.items() if any(i.startswith(f"doc_{name}.md") for i in ids)}
        assert len(holders) == 1, (name, holders)
        (worker,) = holders
        ids = runs[worker]
        examples = [i for i in ids if i.startswith(f"doc_{name}.md")]
        assert len(examples) == EXAMPLES
        assert [_line(i) for i in examples] == sorted(_line(i) for i in examples)
        first = ids.index(examples[0])
        assert ids[first : first + EXAMPLES] == examples, "another test ran inside the document"


DIST_MODES = ["load", "worksteal", "loadscope", "loadfile", "loadgroup"]
RUNS = [
    pytest.param(workers, dist, seed, marks=[pytest.mark.slow] if workers == 8 else [])
    for workers in (2, 4, 8)
    for seed, dist in enumerate(DIST_MODES, start=workers)
]


@pytest.mark.parametrize(("workers", "dist", "seed"), RUNS)
def test_documents_stay_whole_under_xdist(
    project: pytest.Pytester, workers: int, dist: str, seed: int
) -> None:
    result = project.runpytest_subprocess(
        "-n", str(workers), "--dist", dist, "-p", "randomly", f"--randomly-seed={seed}", "-v"
    )
    result.assert_outcomes(passed=TOTAL)
    runs = _runs_by_worker(result.outlines)
    assert sum(len(ids) for ids in runs.values()) == TOTAL
    _assert_documents_whole_and_in_order(runs)
    if dist in {"load", "worksteal"}:
        # Ordinary tests are still spread test by test: one file's tests on more than one worker.
        plain = [
            {w for w, ids in runs.items() if any(i.startswith(f"test_plain_{n}") for i in ids)}
            for n in range(3)
        ]
        assert any(len(workers_of_file) > 1 for workers_of_file in plain), runs


@pytest.mark.parametrize("seed", [1, 7])
def test_documents_stay_whole_without_xdist(project: pytest.Pytester, seed: int) -> None:
    result = project.runpytest_subprocess("-n", "0", "-p", "randomly", f"--randomly-seed={seed}")
    result.assert_outcomes(passed=TOTAL)


@pytest.mark.parametrize("dist", ["load", "worksteal"])
def test_without_the_plugin_documents_are_split_as_before(project: pytest.Pytester, dist: str) -> None:
    result = project.runpytest_subprocess(
        "-n", "4", "--dist", dist, "-p", "randomly", "--randomly-seed=3", "-p", "no:worker_locator"
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) > 0, result.outlines[-3:]


def test_xdist_names_the_scheduler_the_user_chose(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-n", "2", "-v", "-p", "no:randomly")
    result.assert_outcomes(passed=TOTAL)
    result.stdout.fnmatch_lines(["scheduling tests via LoadScheduling"])


@pytest.mark.parametrize(
    ("collection", "units"),
    [
        ([], []),
        (["t.py::test_a", "t.py::test_b"], [[0], [1]]),
        (
            ["a.md::line:1,column:1", "t.py::test_a", "a.md::line:5,column:1", "b.md::line:2,column:1"],
            [[0, 2], [1], [3]],
        ),
        (["docs/x.md::sybil:md,line:3,column:1", "docs/x.md::sybil:md,line:9,column:1"], [[0, 1]]),
        (["t.py::test_line[line:1,column:1]"], [[0]]),
    ],
)
def test_units_group_each_documents_examples(collection: list[str], units: list[list[int]]) -> None:
    assert document_units(collection) == units
