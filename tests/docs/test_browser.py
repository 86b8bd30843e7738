"""The built site in a real headless Chromium, page by page, driven by Playwright.

The site is built once (`built_site`), served on 127.0.0.1 on a port the OS picks, and read
with Debian's `chromium` (Playwright's `executable_path`: no browser is downloaded). Every
page of the nav is visited at 1400 px in the light and the dark theme and at 390 px (a
phone): no console error, no failed request, no request to another host, every internal
link and anchor resolves, every image (the diagrams and charts) renders and fits the
column, every code block carries its copy button. At 1400 px no code block scrolls
sideways. Searching `worker_id` finds the API reference and the xdist guide. Screenshots
of the home page and the guide go to `.screenshots/` (git-ignored).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from tests.docs.conftest import ROOT, BuiltSite
from tests.docs.test_site_build import NAV

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev group: .ci/dev setup")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = ROOT / ".screenshots"
DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
GUIDE = "how-to/xdist-best-practices.md"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH: apt-get install -y chromium (.ci/dev installs it)"
)


def _url_path(page: str) -> str:
    stem = page.removesuffix(".md")
    if stem == "index" or stem.endswith("/index"):
        return stem.removesuffix("index")
    return stem + "/"


PAGES = [(page, _url_path(page)) for page in NAV]
IDS = [path or "home" for _, path in PAGES]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class names it so
        del format, args


class _Ids(HTMLParser):
    """Collect the ids (and `a` names) of a built page, to check links into it."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and (name == "id" or (tag == "a" and name == "name")):
                self.ids.add(value)


@functools.cache
def _ids_of(html: Path) -> frozenset[str]:
    parser = _Ids()
    parser.feed(html.read_text(encoding="utf-8"))
    return frozenset(parser.ids)


@pytest.fixture(name="site_dir", scope="module")
def _site_dir(built_site: BuiltSite) -> Path:
    if built_site.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{built_site.output}")
    return built_site.site


@pytest.fixture(name="base_url", scope="module")
def _base_url(site_dir: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(site_dir))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host!s}:{port}/"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(name="browser", scope="module")
def _browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        yield browser
        browser.close()


class Visit:
    """One page opened in a fresh browser context, with everything that went wrong while it loaded."""

    def __init__(self, browser: Any, base_url: str, path: str, viewport: dict[str, int], scheme: str) -> None:
        self.problems: list[str] = []
        self.base_url = base_url
        self.context = browser.new_context(viewport=viewport, color_scheme=scheme, service_workers="block")
        self.context.set_default_timeout(120_000)  # a hang guard: the machine is shared and loaded
        origin = base_url.rstrip("/")
        self.context.route("**/*", functools.partial(self._only_our_host, origin))
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on(
            "requestfailed", lambda r: self.problems.append(f"failed request: {r.url} ({r.failure})")
        )
        self.page.on(
            "response",
            lambda r: self.problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
        )
        self.page.goto(base_url + path, wait_until="load")
        self.page.wait_for_load_state("networkidle")

    def _only_our_host(self, origin: str, route: Any) -> None:
        url = route.request.url
        if url == origin or url.startswith(("data:", "blob:", origin + "/")):
            route.continue_()
        else:
            self.problems.append(f"request to another host: {url}")
            route.abort()

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def close(self) -> None:
        self.context.close()


@pytest.fixture(name="visit")
def _visit(browser: Any, base_url: str) -> Iterator[Any]:
    opened: list[Visit] = []

    def visit(path: str, viewport: dict[str, int] = DESKTOP, scheme: str = "light") -> Visit:
        opened.append(Visit(browser, base_url, path, viewport, scheme))
        return opened[-1]

    yield visit
    for one in opened:
        one.close()


_IDS = """() => [...Array.from(document.querySelectorAll('[id]'), e => e.id),
  ...Array.from(document.querySelectorAll('a[name]'), a => a.name)]"""

_LINKS = """() => Array.from(document.querySelectorAll('a[href]'), a => a.href)"""

_IMAGES = """() => {
  const column = document.querySelector('article').getBoundingClientRect();
  return Array.from(document.querySelectorAll('article img'), img => ({
    src: img.getAttribute('src'), alt: img.getAttribute('alt') || '',
    ok: img.complete && img.naturalWidth > 0,
    fits: img.getBoundingClientRect().right <= column.right + 1,
  }));
}"""

_CODE_BLOCKS = """() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  return Array.from(document.querySelectorAll('article pre > code'), code => ({
    first: code.innerText.split('\\n')[0].slice(0, 80),
    overflow: code.scrollWidth - code.clientWidth,
    copy: !!code.parentElement.querySelector('button[data-md-type="copy"], .md-clipboard'),
  }));
}"""


def _link_problems(visit: Visit, site: Path) -> list[str]:
    """Return the internal links of the page whose page or anchor does not exist."""
    problems = []
    here = urlsplit(visit.page.url).path
    ids_here = set(visit.page.evaluate(_IDS))
    for href in dict.fromkeys(visit.page.evaluate(_LINKS)):
        if not href.startswith(visit.base_url):
            continue  # a link out of the site is not fetched, only the site's own pages are checked
        parts = urlsplit(href)
        target = site / unquote(parts.path).lstrip("/")
        if target.is_dir():
            target /= "index.html"
        if not target.is_file():
            problems.append(f"broken link: {href}")
            continue
        anchor = unquote(parts.fragment)
        if not anchor:
            continue
        ids = ids_here if parts.path == here else _ids_of(target)
        if anchor not in ids:
            problems.append(f"missing anchor: {href}")
    return problems


@pytest.mark.parametrize(("page", "path"), PAGES, ids=IDS)
@pytest.mark.parametrize(
    "mode",
    [(DESKTOP, "light"), (DESKTOP, "dark"), (PHONE, "light")],
    ids=["1400px-light", "1400px-dark", "390px-light"],
)
def test_the_page_loads_cleanly_with_working_links_diagrams_and_copy_buttons(
    visit: Any, site_dir: Path, page: str, path: str, mode: tuple[dict[str, int], str]
) -> None:
    viewport, scheme = mode
    opened = visit(path, viewport, scheme)
    problems = list(opened.problems)
    shown = opened.page.evaluate("() => document.body.getAttribute('data-md-color-scheme')")
    if shown != {"light": "default", "dark": "slate"}[scheme]:
        problems.append(f"the {scheme} theme was not applied: data-md-color-scheme={shown!r}")
    problems += _link_problems(opened, site_dir)
    for image in opened.page.evaluate(_IMAGES):
        if not image["ok"]:
            problems.append(f"image not rendered: {image['src']}")
        if not image["fits"]:
            problems.append(f"image wider than the column: {image['src']}")
        if not image["alt"].strip():
            problems.append(f"image without alt text: {image['src']}")
    blocks = opened.page.evaluate(_CODE_BLOCKS)
    problems += [f"no copy button: {block['first']!r}" for block in blocks if not block["copy"]]
    if viewport is DESKTOP and page in {"index.md", GUIDE}:
        SCREENSHOTS.mkdir(exist_ok=True)
        name = f"{(path or 'home').strip('/').replace('/', '-')}-{viewport['width']}px-{scheme}.png"
        opened.page.screenshot(path=str(SCREENSHOTS / name), full_page=page == "index.md")
    assert problems == [], f"{page} at {viewport['width']} px, {scheme}:\n" + "\n".join(problems)


@pytest.mark.parametrize(("page", "path"), PAGES, ids=IDS)
def test_no_code_block_scrolls_sideways_at_desktop_width(visit: Any, page: str, path: str) -> None:
    blocks = visit(path).page.evaluate(_CODE_BLOCKS)
    assert blocks or page not in {"index.md", "explanation/architecture.md"}, "no code block found"
    overflowing = [f"{b['overflow']:>4} px too wide: {b['first']}" for b in blocks if b["overflow"] > 0]
    assert overflowing == [], f"{page} at 1400 px:\n" + "\n".join(overflowing)


def test_searching_worker_id_finds_the_api_reference_and_the_guide(visit: Any) -> None:
    opened = visit("")
    page = opened.page
    page.click("input.md-search__input")
    page.keyboard.type("worker_id")  # as a reader types it: the search runs in Material's web worker
    page.wait_for_selector(".md-search-result__item a.md-search-result__link")
    found = page.eval_on_selector_all(".md-search-result__link", "links => links.map(a => a.href)")
    assert any("/reference/api/" in href and href.endswith("#worker_locator.worker_id") for href in found), (
        found
    )
    assert any("/how-to/xdist-best-practices/" in href for href in found), found
    assert opened.problems == []


ADRS = [(page, path) for page, path in PAGES if re.fullmatch(r"adr/\d{4}-.*\.md", page)]
_STATUS = re.compile(r"^status:\s*(\S+)\s*$", re.MULTILINE)


@pytest.mark.parametrize(("page", "path"), ADRS, ids=[path for _, path in ADRS])
def test_an_adr_page_shows_its_status_in_the_page_body(visit: Any, page: str, path: str) -> None:
    source = (ROOT / "docs" / page).read_text(encoding="utf-8")
    found = _STATUS.search(source)
    assert found, f"{page} has no `status:` in its front matter"
    text = visit(path).page.inner_text("article")
    assert re.search(rf"\bStatus\b\W+{re.escape(found[1])}\b", text, re.IGNORECASE), text[:500]


HEADINGS = [
    ("", "worker-locator", ["Two commands", "Where to go"]),
    (
        "tutorial/",
        "Tutorial: your first service, override and run under xdist",
        ["Your first run under xdist"],
    ),
    ("how-to/pytest-plugin/", "Use the pytest plugin", ["What is reset, and when"]),
    ("reference/api/", "API reference", ["The locator", "Exclusive resources", "Errors"]),
    ("adr/0002-worker-cache-isolation/", r"0002\. .*", ["Context and Problem Statement"]),
]


@pytest.mark.parametrize(("path", "title", "sections"), HEADINGS, ids=[h[0] or "home" for h in HEADINGS])
def test_the_page_renders_with_its_headings(visit: Any, path: str, title: str, sections: list[str]) -> None:
    page = visit(path).page
    h1 = page.eval_on_selector_all("article h1", "hs => hs.map(h => h.innerText.replace('¶', '').trim())")
    h2 = page.eval_on_selector_all("article h2", "hs => hs.map(h => h.innerText.replace('¶', '').trim())")
    assert len(h1) == 1, h1
    assert re.fullmatch(title, h1[0]), h1
    assert set(sections) <= set(h2), h2


def test_the_api_reference_renders_every_public_name(visit: Any) -> None:
    import worker_locator  # noqa: PLC0415 - the API under test

    page = visit("reference/api/").page
    ids = set(page.eval_on_selector_all("[id]", "es => es.map(e => e.id)"))
    assert [name for name in worker_locator.__all__ if f"worker_locator.{name}" not in ids] == []
