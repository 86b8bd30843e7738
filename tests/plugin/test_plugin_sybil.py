"""One Sybil document is one isolation unit: its examples build on each other, documents never do."""

from __future__ import annotations

import textwrap

import pytest

from worker_locator._plugin.documents import is_sybil

FENCE = "```"

# Three dependent examples: register in the first, get in the third.
DEPENDENT = f"""
    # Registering a service

    {FENCE}python
    from worker_locator import get_locator

    get_locator().register("notes", list)
    {FENCE}

    Something in between, on the same locator:

    {FENCE}python
    block = get_locator().override("title", "draft")
    block.__enter__()  # never exited
    {FENCE}

    {FENCE}python
    get_locator().get("notes").append("kept within the document")
    assert get_locator().get("notes") == ["kept within the document"]
    assert get_locator().get("title") == "draft"
    {FENCE}
"""

# A second document starts from a clean default locator.
CLEAN = f"""
    # Starting clean

    {FENCE}python
    from worker_locator import get_locator

    assert get_locator().registered() == frozenset()
    {FENCE}

    {FENCE}python
    get_locator().register("notes", tuple)
    assert get_locator().get("notes") == ()
    {FENCE}
"""

AFTER = """
    from worker_locator import get_locator

    def test_a_test_after_the_documents_starts_clean():
        assert get_locator().registered() == frozenset()
"""


@pytest.fixture
def documents(sybil_project: pytest.Pytester) -> pytest.Pytester:
    for name in ("a_dependent", "c_dependent"):
        (sybil_project.path / f"{name}.md").write_text(textwrap.dedent(DEPENDENT), encoding="utf-8")
    for name in ("b_clean", "d_clean"):
        (sybil_project.path / f"{name}.md").write_text(textwrap.dedent(CLEAN), encoding="utf-8")
    sybil_project.makepyfile(test_after=textwrap.dedent(AFTER))
    return sybil_project


def test_examples_of_one_document_share_the_locator(documents: pytest.Pytester) -> None:
    result = documents.runpytest_inprocess("-p", "no:randomly", "-v")
    result.assert_outcomes(passed=11)
    result.stdout.fnmatch_lines(
        ["a_dependent.md::line:4,column:1 PASSED*", "b_clean.md::line:4,column:1 PASSED*"]
    )


@pytest.mark.parametrize("seed", [4, 11])
def test_documents_stay_whole_and_in_order_in_random_order(documents: pytest.Pytester, seed: int) -> None:
    # pytest-randomly would shuffle the examples of all documents together; the plugin
    # puts each document's examples back together, in the order they were collected.
    result = documents.runpytest_inprocess("-p", "randomly", f"--randomly-seed={seed}", "-v")
    result.assert_outcomes(passed=11)
    lines = [line.split("::")[0] for line in result.stdout.lines if ".md::line:" in line]
    runs = [name for index, name in enumerate(lines) if index == 0 or lines[index - 1] != name]
    assert sorted(runs) == ["a_dependent.md", "b_clean.md", "c_dependent.md", "d_clean.md"]


def test_documents_under_xdist_loadfile(documents: pytest.Pytester) -> None:
    result = documents.runpytest_subprocess(
        "-n", "4", "--dist", "loadfile", "-p", "randomly", "--randomly-seed=3"
    )
    result.assert_outcomes(passed=11)


def test_without_the_plugin_a_document_leaks_into_the_next(documents: pytest.Pytester) -> None:
    result = documents.runpytest_inprocess("-p", "no:randomly", "-p", "no:worker_locator")
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] >= 2
    assert outcomes["passed"] >= 3


class _FakeItem:
    pass


@pytest.mark.parametrize(
    ("module", "expected"),
    [("sybil.integration.pytest", True), ("sybil", True), ("sybilline", False), ("_pytest.python", False)],
)
def test_sybil_items_are_known_by_their_class_module(module: str, expected: bool) -> None:
    fake = type("SomeItem", (_FakeItem,), {"__module__": module})()
    assert is_sybil(fake) is expected
