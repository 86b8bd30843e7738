"""`mkdocs build --strict` passes offline, builds every page in the nav and fetches nothing."""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.utils.yaml import yaml_load

from tests.docs.conftest import ROOT, BuiltSite


def _nav_pages(entries: object) -> list[str]:
    if isinstance(entries, str):
        return [entries]
    if isinstance(entries, list):
        return [page for entry in entries for page in _nav_pages(entry)]
    if isinstance(entries, dict):
        return [page for value in entries.values() for page in _nav_pages(value)]
    return []


def _html_for(page: str) -> str:
    stem = page.removesuffix(".md")
    if stem == "index" or stem.endswith("/index"):
        return stem.removesuffix("index") + "index.html"
    return stem + "/index.html"


NAV = _nav_pages(yaml_load((ROOT / "mkdocs.yml").read_text())["nav"])


def test_the_strict_build_passes_without_a_warning(built_site: BuiltSite) -> None:
    assert built_site.returncode == 0, built_site.output
    warnings = [line for line in built_site.output.splitlines() if "WARNING" in line or "ERROR" in line]
    assert warnings == []


def test_every_page_in_the_nav_is_built(site: Path) -> None:
    missing = [page for page in NAV if not (site / _html_for(page)).is_file()]
    assert missing == []


def test_every_adr_is_in_the_nav_and_the_site(site: Path) -> None:
    # On a checkout without symlinks (Windows without core.symlinks), docs/adr would be
    # a text file and the ADRs would silently vanish from the site and from the run.
    adrs = sorted(f"adr/{path.name}" for path in (ROOT / "adr").glob("*.md"))
    assert len(adrs) >= 5
    assert set(adrs) <= set(NAV)
    assert (ROOT / "docs" / "adr").resolve() == (ROOT / "adr").resolve()
    assert all((site / _html_for(page)).is_file() for page in adrs)


def test_the_site_loads_nothing_from_other_hosts(site: Path) -> None:
    remote = re.compile(
        r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=["'](?:https?:)?//""", re.IGNORECASE
    )
    offenders = {
        str(page.relative_to(site)): remote.findall(page.read_text())
        for page in site.rglob("*.html")
        if remote.search(page.read_text())
    }
    assert offenders == {}


def test_the_python_sources_of_docs_are_not_published(site: Path) -> None:
    assert sorted(p.name for p in site.rglob("*.py")) == []
