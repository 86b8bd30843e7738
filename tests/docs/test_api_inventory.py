"""The public API and the rendered reference agree, in the manner of griffe's test_api."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import pytest

import worker_locator
import worker_locator.diagnosis

_ENTRY = re.compile(
    r"(?P<name>\S+)\s+(?P<role>\S+:\S+)\s+(?P<priority>-?\d+)\s+(?P<uri>\S+)\s+(?P<display>.*)"
)


def read_inventory(path: Path) -> dict[str, str]:
    """Return `{name: role}` from a Sphinx-format `objects.inv`, as mkdocstrings writes it."""
    data = path.read_bytes()
    header_end = 0
    for _ in range(4):
        header_end = data.index(b"\n", header_end) + 1
    assert data.startswith(b"# Sphinx inventory version 2")
    entries = {}
    for line in zlib.decompress(data[header_end:]).decode().splitlines():
        match = _ENTRY.fullmatch(line)
        assert match, line
        entries[match["name"]] = match["role"]
    return entries


@pytest.fixture(name="inventory")
def _inventory(site: Path) -> dict[str, str]:
    return read_inventory(site / "objects.inv")


def _top_level(inventory: dict[str, str]) -> set[str]:
    """Names directly under `worker_locator`, except its public submodules."""
    names = set()
    for name, role in inventory.items():
        parts = name.split(".")
        if len(parts) == 2 and parts[0] == "worker_locator" and role != "py:module":
            names.add(parts[1])
    return names


def test_all_is_sorted_and_unique() -> None:
    assert worker_locator.__all__ == sorted(set(worker_locator.__all__))


@pytest.mark.parametrize("name", worker_locator.__all__)
def test_every_public_object_reports_the_public_module(name: str) -> None:
    assert getattr(worker_locator, name).__module__ == "worker_locator"


def test_every_public_name_is_in_the_reference(inventory: dict[str, str]) -> None:
    assert set(worker_locator.__all__) - _top_level(inventory) == set()


def test_the_reference_documents_nothing_but_the_public_names(inventory: dict[str, str]) -> None:
    assert _top_level(inventory) - set(worker_locator.__all__) == set()


def test_the_public_submodules_have_reference_pages(inventory: dict[str, str]) -> None:
    for module in ("worker_locator.pytest_plugin", "worker_locator.diagnosis"):
        assert inventory.get(module) == "py:module"


def test_the_diagnosis_reference_documents_its_public_names_and_no_others(inventory: dict[str, str]) -> None:
    prefix = "worker_locator.diagnosis."
    documented = {name.removeprefix(prefix) for name in inventory if name.startswith(prefix)}
    assert {name for name in documented if "." not in name} == set(worker_locator.diagnosis.__all__)
