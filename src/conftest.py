"""Run the docstring examples of the package under src/ (not shipped: only src/worker_locator is).

The machinery lives in `docs/_executable_docs.py`, shared with `docs/conftest.py` and `tests/docs/`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_SRC = Path(__file__).parent
_DOCS = _SRC.parent / "docs"
if str(_DOCS) not in sys.path:
    sys.path.insert(0, str(_DOCS))

import _executable_docs  # noqa: E402 - importable once docs/ is on the path

pytest_collect_file = _executable_docs.docstring_sybil(_SRC).pytest()


def pytest_configure(config: pytest.Config) -> None:
    """Register the ordering and reporting hooks, as `pytest src/` alone needs them too."""
    _executable_docs.register(config)
