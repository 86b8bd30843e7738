"""A failing Sybil example is reported and the session goes on, where Sybil 10.1 alone would stop it."""

from __future__ import annotations

import textwrap

import pytest

FENCE = "```"

# The context of the failure was raised and caught in the example's own frame:
# its traceback has one entry, which Sybil's traceback filter cannot index.
CHAINED = f"""
    {FENCE}python
    try:
        raise ValueError("the first problem")
    except ValueError:
        raise RuntimeError("the second problem")
    {FENCE}

    {FENCE}python
    after = "the next example still runs"
    {FENCE}
"""

# Two objects whose __del__ fails: pytest (8.4 and later) groups the two warnings
# raised and caught in its own frame, each with a one-entry traceback.
UNRAISABLE = f"""
    {FENCE}python
    class Broken:
        def __del__(self):
            raise OSError("closing failed")

    Broken()
    Broken()
    {FENCE}
"""

AFTER = """
    def test_after_the_documents():
        pass
"""


@pytest.fixture
def documents(sybil_project: pytest.Pytester) -> pytest.Pytester:
    sybil_project.makeini("[pytest]\nfilterwarnings = error\n")
    (sybil_project.path / "chained.md").write_text(textwrap.dedent(CHAINED), encoding="utf-8")
    (sybil_project.path / "unraisable.md").write_text(textwrap.dedent(UNRAISABLE), encoding="utf-8")
    sybil_project.makepyfile(test_after=textwrap.dedent(AFTER))
    return sybil_project


def test_failures_with_one_entry_tracebacks_are_reported(documents: pytest.Pytester) -> None:
    result = documents.runpytest_inprocess("-p", "no:randomly", "-rf")
    result.stdout.no_fnmatch_line("*INTERNALERROR*")
    result.stdout.fnmatch_lines_random(
        [
            "*ValueError: the first problem",
            "*RuntimeError: the second problem",
            "FAILED chained.md::line:2,column:1 - RuntimeError: the second problem",
            "FAILED unraisable.md::line:2,column:1 - *",
        ]
    )
    result.assert_outcomes(passed=2, failed=2)


def test_under_xdist_the_worker_reports_and_goes_on(documents: pytest.Pytester) -> None:
    result = documents.runpytest_subprocess("-p", "no:randomly", "-n", "2", "-rf")
    result.stdout.no_fnmatch_line("*INTERNALERROR*")
    result.stdout.fnmatch_lines(["*2 failed, 2 passed*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
