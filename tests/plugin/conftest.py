"""Fixtures for the plugin tests: an environment free of the outer run's xdist variables, a Sybil project."""

from __future__ import annotations

import pytest

SYBIL_CONFTEST = """\
from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser

pytest_collect_file = Sybil(parsers=[PythonCodeBlockParser()], patterns=["*.md"]).pytest()
"""


@pytest.fixture(autouse=True)
def _fresh_environment(without_outer_run: None) -> None:
    """Every test here starts pytest runs of its own, which must not see the outer run's identity."""


@pytest.fixture
def sybil_project(pytester: pytest.Pytester) -> pytest.Pytester:
    """Return `pytester` with a Sybil conftest for `*.md`, as a new user's project has, and nothing else."""
    pytester.makeconftest(SYBIL_CONFTEST)
    return pytester
