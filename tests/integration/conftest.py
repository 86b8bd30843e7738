"""Fixtures of the integration tests: a suite from `suites/`, copied into the test's own folder."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from tests.integration.harness import Suite, prepare

# The suites are run by the tests here, in subprocesses with their own configuration; never collect them.
collect_ignore = ["suites"]

SuiteFactory = Callable[..., Suite]


@pytest.fixture(name="make_suite")
def _make_suite(tmp_path: Path) -> SuiteFactory:
    """Return `make_suite(name, ini="", files=None, **env)`: a fresh copy of a suite for this test."""
    made = 0

    def make(name: str, *, ini: str = "", files: Mapping[str, str] | None = None, **env: str) -> Suite:
        nonlocal made
        made += 1
        suite = prepare(name, tmp_path / f"{name}-{made}", ini=ini, files=files)
        suite.env.update(env)
        return suite

    return make
