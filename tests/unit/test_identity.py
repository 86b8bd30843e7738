"""worker_id and resource_namespace: untrusted environment, names unique per worker, run, host and process."""

from __future__ import annotations

import os
import re
import socket

import pytest

import worker_locator._identity as identity
from worker_locator import resource_namespace, worker_id

NAMESPACE = re.compile(r"[a-z0-9_]{1,63}")


@pytest.fixture(autouse=True)
def _no_xdist_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)


def test_outside_xdist_the_worker_id_is_the_pid() -> None:
    assert worker_id() == f"pid-{os.getpid()}"


@pytest.mark.parametrize("value", ["gw0", "gw15", "master", "shard_2-of-4", "a" * 64])
def test_a_safe_xdist_worker_id_is_used_as_is(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", value)
    assert worker_id() == value


@pytest.mark.parametrize(
    "value", ["../../etc", "gw0/../x", "gw 0", "a" * 65, "gw0\n", "gw\t", "ĝw0", "$(rm -rf)"]
)
def test_an_unsafe_value_never_reaches_a_name_and_says_why(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", value)
    with pytest.warns(
        RuntimeWarning, match=r"is not a safe token \(\[A-Za-z0-9_-\], at most 64 characters\)"
    ):
        assert worker_id() == f"pid-{os.getpid()}"
    namespace = resource_namespace()
    assert NAMESPACE.fullmatch(namespace)
    assert namespace.startswith(f"pid_{os.getpid()}_")


def test_an_empty_value_means_no_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "")
    assert worker_id() == f"pid-{os.getpid()}"


def test_the_namespace_is_a_safe_identifier_and_stable_within_a_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    monkeypatch.setenv("PYTEST_XDIST_TESTRUNUID", "abc123")
    first = resource_namespace()
    assert NAMESPACE.fullmatch(first)
    assert first.startswith("gw0_")
    assert resource_namespace() == first


def test_the_namespace_differs_across_workers_of_one_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_TESTRUNUID", "run-1")
    names = set()
    for worker in ("gw0", "gw1", "gw2"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        names.add(resource_namespace())
    assert len(names) == 3


def test_the_same_worker_of_two_concurrent_runs_gets_different_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    monkeypatch.setenv("PYTEST_XDIST_TESTRUNUID", "run-A")
    run_a = resource_namespace()
    monkeypatch.setenv("PYTEST_XDIST_TESTRUNUID", "run-B")
    assert resource_namespace() != run_a


def test_the_same_worker_and_run_on_two_hosts_gets_different_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    monkeypatch.setenv("PYTEST_XDIST_TESTRUNUID", "shared-run-id")
    monkeypatch.setattr(socket, "gethostname", lambda: "ci-shard-1")
    shard_1 = resource_namespace()
    monkeypatch.setattr(socket, "gethostname", lambda: "ci-shard-2")
    assert resource_namespace() != shard_1


def test_outside_xdist_two_processes_of_the_same_pid_still_differ_by_a_process_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The token is what keeps plain `pytest` runs apart when pids are reused.
    first = resource_namespace()
    monkeypatch.setattr(identity, "_process_token", (identity._process_token[0], "another-process"))
    assert resource_namespace() != first


def test_a_very_long_worker_id_still_fits_63_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "W" * 64)
    assert NAMESPACE.fullmatch(resource_namespace())


def test_a_worker_id_starting_with_a_digit_still_gives_an_identifier(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "0-shard")
    assert resource_namespace()[0].isalpha()
