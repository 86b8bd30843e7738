"""Every decision record shows its status, date and deciders on its page, as its front matter gives them."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from mkdocs.utils.yaml import yaml_load

from tests.docs.conftest import ROOT

RECORDS = sorted((ROOT / "adr").glob("[0-9][0-9][0-9][0-9]-*.md"))
STATUSES = {"proposed", "rejected", "accepted", "deprecated", "superseded"}  # MADR 4


def front_matter(record: Path) -> dict[str, Any]:
    """Return the record's YAML front matter."""
    text = record.read_text(encoding="utf-8")
    assert text.startswith("---\n"), f"{record.name} has no front matter"
    meta: dict[str, Any] = yaml_load(text.split("---\n", 2)[1])
    return meta


def status_line(meta: dict[str, Any]) -> str:
    """Return the line a record shows under its title."""
    return f"Status: {meta['status']} · Date: {meta['date']} · Deciders: {meta['decision-makers']}"


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", fragment)).split())


def test_there_are_records() -> None:
    assert len(RECORDS) >= 4


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: record.stem)
def test_the_front_matter_is_madr(record: Path) -> None:
    meta = front_matter(record)
    assert meta["status"] in STATUSES
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(meta["date"]))
    assert str(meta["decision-makers"]).strip()


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: record.stem)
def test_the_page_shows_status_date_and_deciders_under_its_title(record: Path, site: Path) -> None:
    page = (site / "adr" / record.stem / "index.html").read_text(encoding="utf-8")
    after_title = re.search(r"</h1>\s*<p>(.*?)</p>", page, re.DOTALL)
    assert after_title, f"{record.name}: no paragraph after the title"
    assert _text(after_title[1]) == status_line(front_matter(record))
