"""Every test the pages cite exists: a `tests/<path>.py::<name>` in docs/ or adr/ names a real test.

The how-to guides, the architecture page and the decision records say which test proves a
claim, as inline code such as
`tests/integration/test_state_leak.py::test_plugin_resets_the_default_locator_after_each_test`.
mkdocs cannot link to files outside docs/, so nothing else checks these names: a
renamed or deleted test would leave a page citing nothing. This guard reads each
cited file with `ast` and fails, naming the page and the reference, when the file or
the test is missing. `[...]` parameter ids are not checked, only the function they
belong to. References inside fenced code blocks are examples, possibly of a
reader's own project, and are not checked.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.docs.conftest import ROOT

REFERENCE = re.compile(
    r"(?<![\w./-])(?P<path>tests/[\w./-]+?\.py)(?P<names>(?:::\w+)+)(?P<params>\[[^\]\s`]*\])?"
)
FENCE = re.compile(r"^[ \t]*(?:>[ \t]*)*(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
GUIDE = Path("docs/how-to/xdist-best-practices.md")
FORK_PAGE = Path("docs/how-to/fork-and-thread-safety.md")
# The how-to pages that end with a table of every test they cite.
PAGES_WITH_A_TABLE = (GUIDE, FORK_PAGE)
GUIDE_TABLE = "## Which test proves which claim"
# Above its table, such a page cites a test only as an item of a `??? proof "Proven by"`
# box, one node id per item, so that no id is broken across lines or mid-identifier.
PROOF_BOX = '??? proof "Proven by"'


@dataclass(frozen=True)
class Reference:
    """One `tests/<path>.py::<name>` cited on line `line` of `page`."""

    page: Path
    line: int
    text: str
    path: str
    names: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: `{self.text}`"


def prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield `(number, line)` for the lines of a Markdown text outside fenced code blocks."""
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        match = FENCE.match(line)
        if fence is None:
            if match and not (match["fence"][0] == "`" and "`" in match["info"]):
                fence = match["fence"]
                continue
            yield number, line
        elif (
            match
            and match["fence"][0] == fence[0]
            and len(match["fence"]) >= len(fence)
            and not match["info"].strip()
        ):
            fence = None


def find_references(page: Path, text: str) -> list[Reference]:
    """Return the test references in the prose of one Markdown page."""
    return [
        Reference(page, number, match[0], match["path"], tuple(match["names"].split("::")[1:]))
        for number, line in prose_lines(text)
        for match in REFERENCE.finditer(line)
    ]


def _test_named(body: list[ast.stmt], name: str) -> ast.stmt | None:
    """Return the test function or test class called `name` in `body`, as pytest would collect it."""
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return node if name.startswith("test") else None
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node if name.startswith("Test") else None
    return None


def _missing_in(body: list[ast.stmt], reference: Reference) -> str | None:
    """Return what of `reference`'s `::` names the module `body` lacks, or None."""
    where = reference.path
    *classes, test = reference.names
    for name in classes:
        found = _test_named(body, name)
        if found is None:
            return f"{where} defines no test class named {name!r}"
        if not isinstance(found, ast.ClassDef):
            return f"{where}::{name} is a function, not a class holding {test!r}"
        body = found.body
        where = f"{where}::{name}"
    if _test_named(body, test) is None:
        return f"{where} defines no test function or class named {test!r}"
    return None


def problem_with(reference: Reference, root: Path) -> str | None:
    """Return why `reference` names no test under `root`, or None when it names one."""
    file = (root / reference.path).resolve()
    if not file.is_relative_to((root / "tests").resolve()):
        return f"{reference}: the path leaves tests/"
    if not file.is_file():
        return f"{reference}: no such file"
    try:
        body = ast.parse(file.read_text(encoding="utf-8"), filename=str(file)).body
    except SyntaxError as exc:
        return f"{reference}: {reference.path} does not parse: {exc}"
    missing = _missing_in(body, reference)
    return None if missing is None else f"{reference}: {missing}"


def markdown_pages(root: Path) -> list[Path]:
    """Return every Markdown page under docs/ and adr/ once (docs/adr is a link to adr/)."""
    pages: dict[Path, Path] = {}
    for folder in ("docs", "adr"):
        for page in sorted((root / folder).rglob("*.md")):
            pages.setdefault(page.resolve(), page.relative_to(root))
    return sorted(pages.values())


def references_in(root: Path, pages: Iterable[Path]) -> list[Reference]:
    """Return the references cited on `pages` (paths relative to `root`)."""
    return [ref for page in pages for ref in find_references(page, (root / page).read_text(encoding="utf-8"))]


def test_every_cited_test_exists() -> None:
    references = references_in(ROOT, markdown_pages(ROOT))
    problems = [p for p in (problem_with(ref, ROOT) for ref in references) if p is not None]
    assert not problems, "pages cite tests that do not exist:\n" + "\n".join(problems)


def test_the_how_to_pages_cite_every_integration_test_module() -> None:
    # Also keeps the guard above from passing vacuously should the pattern stop matching.
    cited = {ref.path for ref in references_in(ROOT, PAGES_WITH_A_TABLE)}
    modules = {str(path.relative_to(ROOT)) for path in (ROOT / "tests" / "integration").glob("test_*.py")}
    assert modules, "no integration test modules found"
    assert modules <= cited, f"{PAGES_WITH_A_TABLE} cite no test of {sorted(modules - cited)}"


@pytest.mark.parametrize("page", PAGES_WITH_A_TABLE, ids=str)
def test_the_table_lists_exactly_the_tests_the_page_cites(page: Path) -> None:
    text = (ROOT / page).read_text(encoding="utf-8")
    assert GUIDE_TABLE in text, f"{page} has no section {GUIDE_TABLE!r}"
    body, table = text.split(GUIDE_TABLE, 1)
    in_body = {ref.text for ref in find_references(page, body)}
    in_table = {ref.text for ref in find_references(page, table)}
    assert in_body, f"{page} cites no test above its table"
    assert in_body - in_table == set(), f"cited in {page}, missing from its table"
    assert in_table - in_body == set(), f"in the table of {page}, cited nowhere above it"


def badly_cited(page: Path, text: str) -> list[str]:
    """Return the references above the page's table that are not alone on an item of a proof box."""
    body = text.split(GUIDE_TABLE, 1)[0]
    lines = body.splitlines()
    problems = []
    for ref in find_references(page, body):
        line = lines[ref.line - 1]
        item = line.strip() == f"- `{ref.text}`" and line.startswith("    ")
        box = next(
            (above for above in reversed(lines[: ref.line - 1]) if above.strip() and above[0] != " "), ""
        )
        if not (item and box.strip() == PROOF_BOX):
            problems.append(f"{ref}: not an item of its own in a {PROOF_BOX} box")
    return problems


@pytest.mark.parametrize("page", PAGES_WITH_A_TABLE, ids=str)
def test_the_page_cites_each_test_alone_in_a_proof_box(page: Path) -> None:
    problems = badly_cited(page, (ROOT / page).read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_the_proof_box_check_refuses_an_inline_or_joined_citation() -> None:
    reference = "`tests/unit/test_fake.py::test_real`"
    good = f"A claim.\n\n{PROOF_BOX}\n\n    - {reference}\n\n{GUIDE_TABLE}\n"
    assert badly_cited(Path("page.md"), good) == []
    inline = f"A claim, *Proven by* {reference}.\n\n{GUIDE_TABLE}\n"
    joined = f"{PROOF_BOX}\n\n    - {reference}, {reference}\n\n{GUIDE_TABLE}\n"
    outside = f"??? note\n\n    - {reference}\n\n{GUIDE_TABLE}\n"
    assert len(badly_cited(Path("page.md"), inline)) == 1
    assert len(badly_cited(Path("page.md"), joined)) == 2
    assert len(badly_cited(Path("page.md"), outside)) == 1


FAKE_TESTS = """
import pytest

def helper():
    pass

@pytest.mark.parametrize("n", [1, 2])
def test_real(n):
    pass

async def test_async():
    pass

class TestGroup:
    def test_method(self):
        pass

    def helper(self):
        pass
"""


@pytest.fixture(name="fake_root")
def _fake_root(tmp_path: Path) -> Path:
    (tmp_path / "tests" / "unit").mkdir(parents=True)
    (tmp_path / "tests" / "unit" / "test_fake.py").write_text(FAKE_TESTS, encoding="utf-8")
    (tmp_path / "tests" / "unit" / "test_broken.py").write_text("def test_real(:\n", encoding="utf-8")
    (tmp_path / "outside.py").write_text("def test_outside():\n    pass\n", encoding="utf-8")
    return tmp_path


def _check(root: Path, markdown: str) -> list[str]:
    (root / "docs").mkdir(exist_ok=True)
    (root / "docs" / "page.md").write_text(markdown, encoding="utf-8")
    references = references_in(root, markdown_pages(root))
    assert references, "the scanner found no reference at all"
    return [p for p in (problem_with(ref, root) for ref in references) if p is not None]


@pytest.mark.parametrize(
    "reference",
    [
        "tests/unit/test_fake.py::test_real",
        "tests/unit/test_fake.py::test_real[2]",
        "tests/unit/test_fake.py::test_async",
        "tests/unit/test_fake.py::TestGroup",
        "tests/unit/test_fake.py::TestGroup::test_method",
    ],
)
def test_the_scanner_accepts_a_real_test(fake_root: Path, reference: str) -> None:
    assert _check(fake_root, f"A claim.\n*Proven by* `{reference}`\n") == []


@pytest.mark.parametrize(
    ("reference", "why"),
    [
        ("tests/unit/test_fake.py::test_missing", "defines no test function or class named 'test_missing'"),
        ("tests/unit/test_fake.py::test_missing[1]", "named 'test_missing'"),
        ("tests/unit/test_gone.py::test_real", "no such file"),
        ("tests/unit/test_fake.py::helper", "named 'helper'"),
        ("tests/unit/test_fake.py::TestGroup::test_missing", "test_fake.py::TestGroup defines no test"),
        ("tests/unit/test_fake.py::TestMissing::test_method", "defines no test class named 'TestMissing'"),
        ("tests/unit/test_broken.py::test_real", "does not parse"),
        ("tests/unit/test_fake.py::TestGroup::helper", "named 'helper'"),
        ("tests/unit/test_fake.py::test_real::test_method", "is a function, not a class"),
        ("tests/../outside.py::test_outside", "the path leaves tests/"),
    ],
)
def test_the_scanner_reports_a_missing_test_naming_page_and_reference(
    fake_root: Path, reference: str, why: str
) -> None:
    problems = _check(fake_root, f"# Page\n\nA claim.\n*Proven by* `{reference}`\n")
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"docs/page.md:4: `{reference}`: ")
    assert why in problems[0]


def test_the_scanner_reads_prose_and_tables_but_not_fenced_code(fake_root: Path) -> None:
    markdown = (
        "| Claim | Test |\n|---|---|\n| a claim | `tests/unit/test_fake.py::test_gone_from_table` |\n\n"
        "```python\n# an example of a reader's project\n'tests/unit/test_fake.py::test_in_a_fence'\n```\n\n"
        "~~~~\n```\ntests/unit/test_fake.py::test_in_a_tilde_fence\n~~~~\n\n"
        "Words, then tests/unit/test_fake.py::test_gone_from_prose.\n"
    )
    problems = _check(fake_root, markdown)
    assert [p.split("`")[1].rsplit("::", 1)[1] for p in problems] == [
        "test_gone_from_table",
        "test_gone_from_prose",
    ]
