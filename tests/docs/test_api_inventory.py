"""The public API and the rendered reference agree, in the manner of griffe's test_api."""

from __future__ import annotations

import html
import importlib
import re
import zlib
from pathlib import Path
from typing import TypeVar

import griffe
import pytest

import worker_locator
import worker_locator.diagnosis
from tests.docs.conftest import ROOT

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


# -- member names in docstrings are cross-references ------------------------------------------

PUBLIC_MODULES = ("worker_locator", "worker_locator.diagnosis", "worker_locator.pytest_plugin")
# A name in backticks that is not already the text of a link: `get`, `get(key)`, `ServiceLocator.restore`.
_NAME_IN_BACKTICKS = re.compile(r"(?<!\[)`(?P<name>[A-Za-z_][\w.]*)(?:\([^`]*\))?`(?!\])")


def _documented() -> dict[str, griffe.Object | griffe.Alias]:
    """Return the objects the reference pages document, by public path: modules, their names, members."""
    package = griffe.load("worker_locator", search_paths=[str(ROOT / "src")], resolve_aliases=True)
    found: dict[str, griffe.Object | griffe.Alias] = {}
    for module_path in PUBLIC_MODULES:
        submodule = module_path.removeprefix("worker_locator").lstrip(".")
        module = package[submodule] if submodule else package
        found[module_path] = module
        for name in importlib.import_module(module_path).__all__:
            obj = module[name]
            found[f"{module_path}.{name}"] = obj
            if obj.is_class:
                for member_name, member in obj.members.items():
                    if not member_name.startswith("_"):
                        found[f"{module_path}.{name}.{member_name}"] = member
    return found


def _target(path: str, name: str, documented: dict[str, griffe.Object | griffe.Alias]) -> str | None:
    """Return the public path that `name`, written in the docstring of `path`, refers to, if any."""
    obj = documented[path]
    if name.startswith("worker_locator."):
        return name if name in documented else None
    if name.startswith("ServiceLocator."):
        return f"worker_locator.{name}"
    parameters = set()
    if isinstance(obj, griffe.Alias | griffe.Function | griffe.Class) and (obj.is_function or obj.is_class):
        parameters = {parameter.name for parameter in obj.parameters}
    if name in parameters or name == path.rsplit(".", 1)[-1]:
        return None
    owner = path if obj.is_class else path.rsplit(".", 1)[0]
    if documented.get(owner) is not None and documented[owner].is_class and f"{owner}.{name}" in documented:
        return f"{owner}.{name}"
    module = next(m for m in sorted(PUBLIC_MODULES, key=len, reverse=True) if path.startswith(m))
    for candidate in (f"{module}.{name}", f"worker_locator.{name}"):
        if candidate in documented:
            return candidate
    return None


def unlinked_member_names() -> list[str]:
    """Return `path: name -> target` for each documented name a docstring shows in backticks, unlinked."""
    documented = _documented()
    unlinked = []
    for path, obj in documented.items():
        text = obj.docstring.value if obj.docstring else ""
        for match in _NAME_IN_BACKTICKS.finditer(text):
            target = _target(path, match["name"], documented)
            if target is not None:
                unlinked.append(f"{path}: {match[0]} -> {target}")
    return unlinked


def test_member_names_in_docstrings_link_to_their_entries() -> None:
    # Write [`restore`][] for a member of the same class, [`exclusive`][worker_locator.exclusive]
    # for another documented object; `mkdocs build --strict` fails on a link that resolves nowhere.
    assert unlinked_member_names() == []


# -- the rendered reference pages --------------------------------------------------------------

REFERENCE_PAGES = ("reference/api", "reference/diagnosis", "reference/pytest-plugin")
_SIGNATURE = re.compile(r'<div class="doc-signature highlight">(.*?)</div>', re.DOTALL)
_RETURNS = re.compile(r'doc-section-title">Returns:</span></p>\s*<table>(.*?)</table>', re.DOTALL)
# A Markdown link autorefs did not resolve is left as text: `[<code>get(key)</code>][]`.
_UNRESOLVED = re.compile(r"\[(?:<code>)?[^\[\]<>]+(?:</code>)?\]\[[\w.]*\]")


def _page(site: Path, page: str) -> str:
    return (site / page / "index.html").read_text(encoding="utf-8")


def _private(path: str) -> bool:
    """Whether a dotted path names something private, other than a dunder method such as `__call__`."""
    return any(part.startswith("_") and not part.endswith("__") for part in path.split("."))


def _is_type_variable(path: str) -> bool:
    module, _, name = path.rpartition(".")
    return isinstance(getattr(importlib.import_module(module), name, None), TypeVar)


def test_the_api_reference_starts_with_the_locator(site: Path) -> None:
    headings = re.findall(r'<h[23] id="worker_locator\.(\w+)"', _page(site, "reference/api"))
    assert headings[:2] == ["ServiceLocator", "get_locator"]
    assert sorted(headings) == sorted(worker_locator.__all__)  # each public name once, and nothing else


@pytest.mark.parametrize("page", REFERENCE_PAGES)
def test_signatures_show_no_private_name(site: Path, page: str) -> None:
    private = []
    for signature in _SIGNATURE.findall(_page(site, page)):
        shown = html.unescape(re.sub(r"<[^>]+>", "", signature))
        private += [name for name in re.findall(r"[A-Za-z_][\w.]*", shown) if _private(name)]
    assert private == []


@pytest.mark.parametrize("page", REFERENCE_PAGES)
def test_tooltips_show_no_private_path(site: Path, page: str) -> None:
    # A name that links nowhere carries its full path in a tooltip, and autorefs would add the
    # private path an object is defined at to internal links' tooltips (mkdocs.yml turns those off).
    # A type variable has no public path.
    tooltips = re.findall(r'title="([^"]*)"', _page(site, page))
    paths = {path for tooltip in tooltips for path in re.findall(r"[A-Za-z_][\w.]*", tooltip)}
    assert sorted(p for p in paths if _private(p) and not _is_type_variable(p)) == []


def test_every_returns_table_has_one_row(site: Path) -> None:
    # A continuation line indented like the first line of a Returns entry starts a second entry.
    tables = [table for page in REFERENCE_PAGES for table in _RETURNS.findall(_page(site, page))]
    assert len(tables) >= 10
    assert {table.count('<tr class="doc-section-item">') for table in tables} == {1}


def test_no_cross_reference_is_left_unresolved(site: Path) -> None:
    # autorefs (and so `mkdocs build --strict`) ignores a link whose identifier it cannot parse.
    left = {}
    for page in site.rglob("*.html"):
        text = re.sub(r"<pre\b.*?</pre>", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
        if found := _UNRESOLVED.findall(text):
            left[str(page.relative_to(site))] = found
    assert left == {}
