"""The public facade: the fixed names, a sorted __all__, and public names that report the public module."""

from __future__ import annotations

import traceback

import pytest

import worker_locator

CONTRACT = {
    "ServiceLocator",
    "LazyProxy",
    "ServiceNotRegisteredError",
    "CircularDependencyError",
    "get_locator",
    "reset_locator",
    "worker_id",
    "resource_namespace",
}


def test_the_contract_names_are_exported() -> None:
    assert set(worker_locator.__all__) >= CONTRACT


def test_all_is_sorted_and_unique() -> None:
    assert worker_locator.__all__ == sorted(set(worker_locator.__all__))


@pytest.mark.parametrize("name", worker_locator.__all__)
def test_every_public_name_reports_the_public_module(name: str) -> None:
    obj = getattr(worker_locator, name)
    assert obj.__module__ == "worker_locator"
    assert obj.__doc__
    assert obj.__doc__.strip().splitlines()[0].endswith(".")


def test_a_traceback_shows_the_public_exception_path() -> None:
    locator = worker_locator.ServiceLocator()
    try:
        locator.get("missing")
    except worker_locator.ServiceNotRegisteredError as exc:
        last_line = traceback.format_exception(exc)[-1]
    assert last_line.startswith(
        "worker_locator.ServiceNotRegisteredError: no service registered for 'missing'"
    )


def test_nothing_private_leaks_into_the_namespace() -> None:
    # "@py_..." names come from pytest rewriting the plugin's package; they are not ours.
    public = {name for name in vars(worker_locator) if not name.startswith(("_", "@"))}
    submodules = {"pytest_plugin", "diagnosis"}
    assert public - submodules == set(worker_locator.__all__)
