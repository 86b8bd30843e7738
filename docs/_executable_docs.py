"""Run every Python example in the docs, the ADRs and the docstrings, under pytest-xdist too.

`docs/conftest.py` and `src/conftest.py` build their Sybil collectors from here, and
`tests/docs/` parses files with the very same parsers to check that nothing is left
unexecuted. The rules this module enforces:

- A Python fence runs whatever its info string carries after the language
  (```` ```python title="app.py" ````, ```` ```{.python .annotate} ````, `py`, `pycon`):
  Sybil's own Markdown parser silently ignores such fences.
- `<!-- skip: next -->` and `<!-- skip: start -->` need a reason, or collection fails:
  Sybil reports a reasonless skip as PASSED.
- Each document starts from a fresh default locator and leaves none behind: the
  worker-locator plugin sees to it when it isolates per test or module, this
  module's document set-up and tear-down when the plugin is off.
- Each document runs top to bottom on one worker, in source order, whatever the
  `--dist` mode or the random order plugin does with other tests: the worker-locator
  plugin's own scheduling does it, as for any project that installs the package.
"""

# ruff: noqa: INP001 - imported by the conftests from docs/, not from a package

from __future__ import annotations

import gc
import re
import sys
from collections.abc import Generator, Iterable, Iterator
from doctest import ELLIPSIS, NORMALIZE_WHITESPACE
from pathlib import Path
from typing import Any

import pytest
from sybil import Document, Region, Sybil
from sybil.integration.pytest import SybilItem
from sybil.parsers.abstract import AbstractCodeBlockParser, AbstractSkipParser
from sybil.parsers.abstract.codeblock import PythonDocTestOrCodeBlockParser
from sybil.parsers.markdown import ClearNamespaceParser
from sybil.parsers.markdown.lexers import DirectiveInHTMLCommentLexer, RawFencedCodeBlockLexer
from sybil.parsers.rest import DocTestParser
from sybil.typing import Evaluator, Parser

import worker_locator
from worker_locator.pytest_plugin import keep_sybil_documents_together

__all__ = [
    "PYTHON_LANGUAGES",
    "FirstWins",
    "PythonFenceParser",
    "ReasonedSkipParser",
    "docstring_sybil",
    "markdown_sybil",
    "register",
]

DOCTEST_FLAGS = ELLIPSIS | NORMALIZE_WHITESPACE

#: Info-string languages that mean "Python": every fence carrying one of them runs.
PYTHON_LANGUAGES = frozenset({"python", "python3", "py", "py3", "pycon"})

# What follows the backticks: optional `{.` (attribute-list form), the language,
# then anything (title="...", linenums="1", hl_lines="2 3", .annotate, }).
_INFO = re.compile(r"[ \t]*(?:\{[ \t]*\.)?(?P<language>[A-Za-z0-9_+-]+)(?:[ \t}][^\n]*)?$\n", re.MULTILINE)
_SKIP_ACTION = re.compile(r"[ \t]*(?P<action>\w+)(?:[ \t]+(?P<reason>.+?))?[ \t]*$", re.DOTALL)


class _PythonFences(AbstractCodeBlockParser):
    """Fenced and invisible code blocks whose language is one of `PYTHON_LANGUAGES`."""

    def __init__(self, language: str, evaluator: Evaluator) -> None:
        super().__init__(
            [
                RawFencedCodeBlockLexer(
                    info_pattern=_INFO, mapping={"language": "arguments", "source": "source"}
                ),
                DirectiveInHTMLCommentLexer(directive=r"(invisible-)?code(-block)?", arguments=".+"),
            ],
            language,
            evaluator,
        )

    def __call__(self, document: Document) -> Iterable[Region]:
        for region in self.lexers(document):
            language = str(region.lexemes["arguments"]).strip().lower()
            if language in PYTHON_LANGUAGES:
                region.parsed = region.lexemes["source"]
                region.evaluator = self._evaluator
                yield region


class PythonFenceParser(PythonDocTestOrCodeBlockParser):
    """Python fences with or without attributes; a fence that starts with `>>>` runs as a doctest."""

    codeblock_parser_class = _PythonFences

    def __init__(self) -> None:
        super().__init__(doctest_optionflags=DOCTEST_FLAGS)

    def __call__(self, document: Document) -> Iterable[Region]:
        for region in self.codeblock_parser(document):
            source = region.parsed
            if not source.startswith(">>>"):
                yield region
                continue
            for doctest_region in self.doctest_parser(source, document.path):
                doctest_region.adjust(region, source)
                # Sybil 10.1's Region.adjust shifts the start by the fence's offset but
                # not the end, leaving empty or inverted regions that `FirstWins` and
                # the overlap check cannot compare.
                doctest_region.end += source.offset
                yield doctest_region


class ReasonedSkipParser(AbstractSkipParser):
    """Sybil's Markdown skip directive, refusing `skip: next` and `skip: start` without a reason.

    Sybil reports an example skipped without a reason as PASSED, so it would
    look executed. `<!-- skip: next "why" -->` is reported as SKIPPED (why).
    """

    def __init__(self) -> None:
        super().__init__([DirectiveInHTMLCommentLexer(self.directive)])

    def __call__(self, document: Document) -> Iterable[Region]:
        for region in super().__call__(document):
            action, reason = region.parsed
            if action in {"start", "next"} and not _has_reason(reason):
                line = document.text.count("\n", 0, region.start) + 1
                msg = (
                    f"{document.path}:{line}: '<!-- skip: {action} -->' needs a reason, or it is reported"
                    f' as passed: write <!-- skip: {action} "why it cannot run" -->'
                )
                raise ValueError(msg)
            yield region


def _has_reason(reason: str | None) -> bool:
    if reason is None or not reason.strip():
        return False
    text = reason.strip()
    if text.startswith("if"):  # if(condition, reason="...")
        return "reason" in text
    return True


class FirstWins:
    """Combine parsers; where their regions overlap, the earlier parser's region wins.

    A docstring may hold a Python fence that contains `>>>` lines: the fence
    parser and the bare-doctest parser both claim them, and Sybil refuses
    overlapping regions. Bounds are recorded as copies, because Sybil shifts
    the regions of a `.py` file in place after they are yielded.
    """

    def __init__(self, *parsers: Parser) -> None:
        self.parsers = parsers

    def __call__(self, document: Document) -> Iterator[Region]:
        taken: list[tuple[int, int]] = []
        for parser in self.parsers:
            for region in parser(document):
                if any(region.start < end and start < region.end for start, end in taken):
                    continue
                taken.append((region.start, region.end))
                yield region


# Whether the worker-locator plugin already resets the default locator around each
# document (its `test` and `module` units both are one document); set by `register`.
_plugin_isolates_documents = False


def _fresh_locator(namespace: dict[str, Any]) -> None:
    """Give a document a new default locator, unless the plugin already isolates documents."""
    del namespace
    if not _plugin_isolates_documents:
        worker_locator.reset_locator()


def _leave_nothing_behind(namespace: dict[str, Any]) -> None:
    """Close the document's services, unless the plugin does, and release what its examples created.

    Collecting here makes an unclosed resource warn while its own document is
    torn down, not in whichever example happens to run next.
    """
    try:
        if not _plugin_isolates_documents:
            worker_locator.get_locator().close()
    finally:
        namespace.clear()
        gc.collect()


class _PageSybil(Sybil):
    """A Sybil whose documents see their own path as `__file__`, as a script would."""

    def parse(self, path: Path) -> Document:
        document = super().parse(path)
        document.namespace["__file__"] = str(path)
        return document


def markdown_sybil(path: Path) -> Sybil:
    """Return the Sybil that runs the examples of the Markdown files under `path`.

    Examples see the page's path as `__file__` (through the docs/adr link for ADRs).
    """
    return _PageSybil(
        parsers=[PythonFenceParser(), ReasonedSkipParser(), ClearNamespaceParser()],
        patterns=["*.md"],
        path=str(path),
        setup=_fresh_locator,
        teardown=_leave_nothing_behind,
        name="md",
    )


def docstring_sybil(path: Path) -> Sybil:
    """Return the Sybil that runs the docstring examples of the modules under `path`."""
    return Sybil(
        parsers=[
            FirstWins(PythonFenceParser(), DocTestParser(optionflags=DOCTEST_FLAGS)),
            ReasonedSkipParser(),
        ],
        patterns=["*.py"],
        excludes=["conftest.py"],
        path=str(path),
        setup=_fresh_locator,
        teardown=_leave_nothing_behind,
        name="py",
    )


PLUGIN_NAME = "worker-locator-executable-docs"


def register(config: pytest.Config) -> None:
    """Register this module's hooks once, whichever of docs/ and src/ asks first.

    Both conftests call this, so that `pytest docs/`, `pytest src/` and
    `pytest -n 8 docs/ src/` each get the hooks exactly once. It also notes
    whether the plugin already isolates each document, so that the documents'
    own reset is not done twice.
    """
    global _plugin_isolates_documents  # noqa: PLW0603 - one answer per process, from its configuration
    _plugin_isolates_documents = config.pluginmanager.has_plugin("worker_locator") and config.getini(
        "locator_isolation"
    ) in {"test", "module"}
    if not config.pluginmanager.has_plugin(PLUGIN_NAME):
        config.pluginmanager.register(sys.modules[__name__], PLUGIN_NAME)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep each document together and in source order when the worker-locator plugin is off.

    The plugin does it otherwise, with the same `keep_sybil_documents_together`.
    """
    if not config.pluginmanager.has_plugin("worker_locator"):
        keep_sybil_documents_together(items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Make a skipped example's summary line name its document and line, not pytest's internals."""
    report = yield
    if report.skipped and isinstance(item, SybilItem) and isinstance(report.longrepr, tuple):
        reason = report.longrepr[2]
        report.longrepr = (str(item.path), item.example.line, reason)
    return report
