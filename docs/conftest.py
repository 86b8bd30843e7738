"""Run the examples of every Markdown page under docs/ (the ADRs through the docs/adr link).

The machinery lives in `_executable_docs.py`, shared with `src/conftest.py` and `tests/docs/`.
"""

# ruff: noqa: INP001 - a conftest, not a module of a package

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_DOCS = Path(__file__).parent
if str(_DOCS) not in sys.path:
    sys.path.insert(0, str(_DOCS))

import _executable_docs  # noqa: E402 - importable once docs/ is on the path

pytest_collect_file = _executable_docs.markdown_sybil(_DOCS).pytest()


def pytest_configure(config: pytest.Config) -> None:
    """Register the ordering and reporting hooks the pages need."""
    _executable_docs.register(config)
