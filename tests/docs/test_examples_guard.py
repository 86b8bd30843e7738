"""Every Python example in docs/, adr/ and the docstrings is executed, or skipped with a visible reason.

Sybil's stock Markdown parser silently ignores a fence such as ```` ```python title="x" ````,
and reports `<!-- skip: next -->` without a reason as PASSED. This guard counts Python
fences and `>>>` examples with a scanner of its own, independent of Sybil, and checks
them against what the project's Sybil set-up collects and what pytest collects.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from sybil import Document, Region
from sybil.evaluators.doctest import DocTestEvaluator
from sybil.evaluators.python import PythonEvaluator

from tests.docs.conftest import ROOT, clean_env

# Languages a reader takes for Python: wider than what runs, so that a fence the
# docs set-up would not run (```ipython, ```python-repl) is caught here.
PYTHON_LIKE = re.compile(r"(?:python|py|ipython)(?:3|con|-repl)?|pyi")
FENCE = re.compile(r"^(?P<indent>[ \t]*(?:>[ \t]*)*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
INVISIBLE = re.compile(r"^[ \t]*<!--+\s*(?:invisible-)?code(?:-block)?:?[ \t]*(?P<language>\S+)")
DOCTEST = re.compile(r"^[ \t]*>>>(?: |$)")
REASONLESS_SKIP = re.compile(r"^[ \t]*<!--+\s*skip:?\s*(?:next|start)\s*-->", re.MULTILINE)


@dataclass(frozen=True)
class Span:
    """Lines `first` to `last` (1-based, inclusive) of a file: one example a reader sees."""

    first: int
    last: int
    what: str

    def overlaps(self, first: int, last: int) -> bool:
        return self.first <= last and first <= self.last


def fence_language(info: str) -> str:
    token = info.strip().lstrip("{").strip().lstrip(".")
    return re.split(r"[\s}]", token, maxsplit=1)[0].lower() if token else ""


def _closes(match: re.Match[str] | None, fence: str) -> bool:
    return bool(
        match
        and match["fence"][0] == fence[0]
        and len(match["fence"]) >= len(fence)
        and not match["info"].strip()
    )


def _opens(match: re.Match[str]) -> bool:
    return not (match["fence"][0] == "`" and "`" in match["info"])


class _Scanner:
    """Read Markdown line by line, as CommonMark does, noting where Python is shown."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._fence: tuple[int, str, str] | None = None  # first line, fence, language
        self._hidden: tuple[int, str] | None = None  # first line, language of an invisible block

    def feed(self, number: int, line: str) -> None:
        if self._fence is not None:
            if _closes(FENCE.match(line), self._fence[1]):
                self._end_fence(number)
        elif self._hidden is not None:
            if "-->" in line:
                self._end_hidden(number)
        else:
            self._outside(number, line)

    def finish(self, last_line: int) -> list[Span]:
        if self._fence is not None:
            self._end_fence(last_line, "unclosed ")
        return self.spans

    def _outside(self, number: int, line: str) -> None:
        match = FENCE.match(line)
        invisible = INVISIBLE.match(line)
        if match and _opens(match):
            self._fence = (number, match["fence"], fence_language(match["info"]))
        elif invisible and PYTHON_LIKE.fullmatch(invisible["language"].lower()):
            self._hidden = (number, invisible["language"])
            if "-->" in line[invisible.end() :]:
                self._end_hidden(number)
        elif DOCTEST.match(line):
            self.spans.append(Span(number, number, ">>> example"))

    def _end_fence(self, number: int, prefix: str = "") -> None:
        assert self._fence is not None
        first, _, language = self._fence
        if PYTHON_LIKE.fullmatch(language):
            self.spans.append(Span(first, number, f"{prefix}```{language} fence"))
        self._fence = None

    def _end_hidden(self, number: int) -> None:
        assert self._hidden is not None
        self.spans.append(Span(self._hidden[0], number, f"invisible {self._hidden[1]} block"))
        self._hidden = None


def python_spans(text: str, first_line: int = 1) -> list[Span]:
    """Python fences, invisible Python blocks and `>>>` lines outside fences, as CommonMark reads them."""
    scanner = _Scanner()
    lines = text.splitlines()
    for number, line in enumerate(lines, start=first_line):
        scanner.feed(number, line)
    return scanner.finish(first_line + len(lines) - 1)


def docstring_spans(source: str) -> list[Span]:
    """`python_spans` of every string statement of a module: docstrings, and attribute docstrings too."""
    spans: list[Span] = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            spans.extend(python_spans(node.value.value, first_line=node.value.lineno))
    return spans


def documents() -> list[Path]:
    """Every file the docs run covers: Markdown under docs/ (ADRs through the link), modules under src/."""
    found: list[Path] = []
    for directory, _, names in os.walk(ROOT / "docs", followlinks=True):
        found.extend(Path(directory, name) for name in names if name.endswith(".md"))
    found.extend(path for path in (ROOT / "src").rglob("*.py") if path.name != "conftest.py")
    return sorted(found)


def parse(support: ModuleType, path: Path) -> Document:
    sybil = (
        support.markdown_sybil(ROOT / "docs")
        if path.suffix == ".md"
        else support.docstring_sybil(ROOT / "src")
    )
    assert sybil.should_parse(path), f"{path} is not covered by the docs set-up"
    document: Document = sybil.parse(path)
    return document


def region_lines(document: Document, region: Region) -> tuple[int, int]:
    first = document.text.count("\n", 0, region.start) + 1
    last = document.text.count("\n", 0, max(region.start, region.end - 1)) + 1
    return first, last


def is_code(region: Region) -> bool:
    """Whether a region runs code, rather than steering the run (skip, clear-namespace)."""
    return isinstance(region.evaluator, (PythonEvaluator, DocTestEvaluator))


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


DOCUMENTS = documents()


def test_the_docs_cover_the_adrs_and_the_package() -> None:
    names = {relative(path) for path in DOCUMENTS}
    assert {
        "docs/index.md",
        "docs/adr/0002-worker-cache-isolation.md",
        "src/worker_locator/_locator.py",
    } <= names


@pytest.mark.parametrize("path", DOCUMENTS, ids=relative)
def test_every_python_example_is_collected(support: ModuleType, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    spans = docstring_spans(text) if path.suffix == ".py" else python_spans(text)
    document = parse(support, path)
    code = [region_lines(document, region) for _, region in document.regions if is_code(region)]

    not_collected = [span for span in spans if not any(span.overlaps(*lines) for lines in code)]
    assert not_collected == [], (
        f"{relative(path)}: these Python examples are not run; use a ```python fence (attributes are fine),"
        f' or precede it with <!-- skip: next "reason" -->, or give it a non-Python language such as text'
    )
    unexplained = [lines for lines in code if not any(span.overlaps(*lines) for span in spans)]
    assert unexplained == [], f"{relative(path)}: Sybil collects code a reader does not see as Python"


@pytest.mark.parametrize("path", [p for p in DOCUMENTS if p.suffix == ".md"], ids=relative)
def test_no_skip_lacks_a_reason(path: Path) -> None:
    assert REASONLESS_SKIP.findall(path.read_text(encoding="utf-8")) == []


def test_pytest_collects_what_the_parsers_find(support: ModuleType) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:xdist",
            "-p",
            "no:randomly",
            "docs",
            "src",
        ],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    collected = Counter(line.split("::", 1)[0] for line in result.stdout.splitlines() if "::" in line)
    expected = {relative(path): len(parse(support, path).regions) for path in DOCUMENTS}
    assert dict(collected) == {name: count for name, count in expected.items() if count}
    assert sum(collected.values()) >= 100


def test_every_public_name_has_an_executed_example(support: ModuleType) -> None:
    import worker_locator  # noqa: PLC0415 - the API under test

    sources = "\n".join(
        text
        for path in DOCUMENTS
        for _, region in parse(support, path).regions
        if is_code(region)
        for text in _example_texts(region.parsed)
    )
    unexampled = [name for name in worker_locator.__all__ if not re.search(rf"\b{name}\b", sources)]
    assert unexampled == []


def _example_texts(parsed: object) -> list[str]:
    """The code of an example, and for a doctest also the output it must produce."""
    if hasattr(parsed, "source"):
        return [parsed.source, getattr(parsed, "want", ""), getattr(parsed, "exc_msg", None) or ""]
    return [str(parsed)]


# -- the parsers themselves, on small documents ------------------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_fences_with_attributes_are_collected(support: ModuleType, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "page.md",
        '```python title="app.py" linenums="1" hl_lines="2"\nx = 1\n```\n\n'
        "```{.python .annotate}\ny = 2\n```\n\n"
        "```pycon\n>>> 1 + 1\n2\n```\n\n"
        "    ```py\n    z = 3\n    ```\n\n"
        "```text\nnot python\n```\n",
    )
    document = support.markdown_sybil(tmp_path).parse(path)
    assert [region_lines(document, r)[0] for _, r in document.regions] == [1, 5, 10, 14]
    assert len(python_spans(path.read_text())) == 4


def test_a_skip_without_a_reason_fails_collection_naming_file_and_line(
    support: ModuleType, tmp_path: Path
) -> None:
    path = write(tmp_path, "page.md", "Intro.\n\n<!-- skip: next -->\n```python\nraise SystemExit\n```\n")
    with pytest.raises(ValueError, match=r"page\.md:3: '<!-- skip: next -->' needs a reason"):
        support.markdown_sybil(tmp_path).parse(path)


def test_a_skip_with_a_reason_is_accepted(support: ModuleType, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "page.md",
        '<!-- skip: next "needs a network" -->\n```python\nx = 1\n```\n'
        '<!-- skip: next if(True, reason="conditional") -->\n```python\ny = 1\n```\n',
    )
    assert len(support.markdown_sybil(tmp_path).parse(path).regions) == 4


def test_docstring_fences_with_doctests_and_bare_doctests_do_not_overlap(
    support: ModuleType, tmp_path: Path
) -> None:
    source = (
        '"""Module.\n\n'
        "```python\n>>> a = 1\n>>> a\n1\n```\n\n"
        ">>> b = 2\n>>> b\n2\n"
        '"""\n\n\n'
        "def f():\n"
        '    """Function.\n\n'
        "    Examples:\n"
        "        >>> c = 3\n"
        "        >>> c + a\n"
        "        4\n"
        '    """\n'
    )
    path = write(tmp_path, "mod.py", source)
    document = support.docstring_sybil(tmp_path).parse(path)
    assert [region_lines(document, r)[0] for _, r in document.regions] == [4, 5, 9, 10, 19, 20]
    assert len(docstring_spans(source)) == 5  # the fence is one span


def test_the_scanner_sees_python_a_stock_parser_would_ignore() -> None:
    text = "```ipython\nx = 1\n```\n\n````markdown\n```python\ninside = True\n```\n````\n"
    assert [span.what for span in python_spans(text)] == ["```ipython fence"]
