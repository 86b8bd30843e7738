"""A real headless Chromium renders the built site: home, tutorial, guides, API reference, an ADR.

Uses the system `chromium` (Debian package) through `--dump-dom`, which prints the DOM
after the page's scripts ran; the site is served on 127.0.0.1, on a port the OS picks.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH: apt-get install -y chromium (CI installs it)"
)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class names it so
        del format, args


@pytest.fixture(name="base_url", scope="module")
def _base_url(built_site_dir: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(built_site_dir))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host!s}:{port}/"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(name="built_site_dir", scope="module")
def _built_site_dir(built_site: object) -> Path:
    from tests.docs.conftest import BuiltSite  # noqa: PLC0415 - the fixture's type, for mypy

    assert isinstance(built_site, BuiltSite)
    if built_site.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{built_site.output}")
    return built_site.site


class _Headings(HTMLParser):
    """Collect the text of h1 and h2 elements, and the ids of all elements."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[tuple[str, str]] = []
        self.ids: set[str] = set()
        self._open: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
        if tag in {"h1", "h2"}:
            self._open, self._text = tag, []

    def handle_data(self, data: str) -> None:
        if self._open:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            self.headings.append((tag, " ".join("".join(self._text).split()).strip("¶ ")))
            self._open = None


def render(url: str, profile: Path) -> _Headings:
    result = subprocess.run(  # noqa: S603 - the system chromium and a URL of our own server
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=600,  # a hang guard: a loaded machine starts chromium slowly
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "<body" in result.stdout, result.stderr[-2000:]
    parsed = _Headings()
    parsed.feed(result.stdout)
    return parsed


PAGES = [
    ("", "worker-locator", ["Two commands", "Where to go"]),
    (
        "tutorial/",
        "Tutorial: your first service, override and run under xdist",
        ["Your first run under xdist"],
    ),
    ("how-to/xdist-best-practices/", "pytest-xdist best practices", []),
    ("how-to/pytest-plugin/", "Use the pytest plugin", ["What is reset, and when"]),
    ("reference/api/", "API reference", ["The locator", "Exclusive resources", "Errors"]),
    ("adr/0002-worker-cache-isolation/", re.compile(r"0002\. .*"), ["Context and Problem Statement"]),
]


@pytest.mark.parametrize(("path", "title", "sections"), PAGES, ids=[p[0] or "home" for p in PAGES])
def test_the_page_renders_with_its_headings(
    base_url: str, tmp_path: Path, path: str, title: str | re.Pattern[str], sections: list[str]
) -> None:
    page = render(base_url + path, tmp_path / "profile")
    h1 = [text for tag, text in page.headings if tag == "h1"]
    assert len(h1) == 1, page.headings
    assert re.fullmatch(title, h1[0]) if isinstance(title, re.Pattern) else h1[0] == title
    h2 = {text for tag, text in page.headings if tag == "h2"}
    assert set(sections) <= h2, h2


def test_the_api_reference_renders_every_public_name(base_url: str, tmp_path: Path) -> None:
    import worker_locator  # noqa: PLC0415 - the API under test

    page = render(base_url + "reference/api/", tmp_path / "profile")
    missing = [name for name in worker_locator.__all__ if f"worker_locator.{name}" not in page.ids]
    assert missing == []
