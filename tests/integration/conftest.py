"""Fixtures of the integration tests: a suite from `suites/`, copied into the test's own folder."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.integration.harness import Suite, prepare, reserved_ports

# The suites are run by the tests here, in subprocesses with their own configuration; never collect them.
collect_ignore = ["suites"]

SuiteFactory = Callable[..., Suite]
PortReserver = Callable[[int], int]


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


@pytest.fixture(name="reserve_ports")
def _reserve_ports() -> Iterator[PortReserver]:
    """Return `reserve_ports(size)`: the first of `size` fixed ports that this test holds until it ends.

    See `harness.reserved_ports`: no other test of this run or of a concurrent run takes them meanwhile.
    """
    with contextlib.ExitStack() as held:
        yield lambda size: held.enter_context(reserved_ports(size))
