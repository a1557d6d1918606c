"""The course's website: ``python -m helpers site --out DIR`` (``helpers/site.py``).

The site is built once for this module, in a subprocess that may not use the network
(so the build is proven offline); the tests read its files, and the browser test (marker
``browser``) opens it in Chromium from a local HTTP server. Without the site's tools
(``pip install -r requirements-site.txt``) the module is skipped, except under
``CI=true``, where it fails.
"""

from __future__ import annotations

import contextlib
import http.server
import importlib.util
import itertools
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urldefrag

import nbformat
import pytest

from helpers.site import FOLDERS, SiteError, _links_line, build_site, site_pages, task_anchor

ROOT = Path(__file__).resolve().parent.parent
CI = os.environ.get("CI") == "true"
MISSING = [m for m in ("sphinx", "myst_nb", "sphinx_book_theme") if not importlib.util.find_spec(m)]
if MISSING and not CI:
    pytest.skip(
        "site tests skipped: the site's tools are not installed "
        "(pip install -r requirements-site.txt)",
        allow_module_level=True,
    )

PAGES = site_pages(ROOT)  # {"notebooks": ["notebooks/01_module", ...], ...}
LESSONS = PAGES["notebooks"]
NOTEBOOK_PAGES = [doc for folder in FOLDERS for doc in PAGES[folder]]
OTHER_PAGES = ["index", "instructors", "search", "genindex"]
WIDGET = re.compile(r"\bwidgets\.|\binteract(ive)?\(")


# Run first in the build's process: every attempt to reach the network (a theme or a
# template fetched at build time, intersphinx) raises, and the build fails with this.
NO_NETWORK = """
import socket

def _refuse(*args, **kwargs):
    raise OSError(f"the site's build tried to use the network: {args[1:3]!r}")

socket.socket.connect = socket.socket.connect_ex = _refuse
socket.getaddrinfo = socket.create_connection = _refuse
"""


def _offline(code: str, *argv: str) -> subprocess.CompletedProcess:
    """Run ``code`` with ``argv`` in a fresh Python with the network refused."""
    command = [sys.executable, "-c", NO_NETWORK + code, *argv]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def _run_site(root: Path, out: Path) -> subprocess.CompletedProcess:
    """``python -m helpers site --root ROOT --out OUT``, offline."""
    run_helpers = "import runpy; runpy.run_module('helpers', run_name='__main__', alter_sys=True)"
    return _offline(run_helpers, "site", "--root", str(root), "--out", str(out))


def test_the_build_runs_without_the_network():
    """The guard the site is built under bites: a request for a page fails with it."""
    run = _offline("import urllib.request; urllib.request.urlopen('http://127.0.0.1:9/')")
    assert run.returncode != 0
    assert "the site's build tried to use the network" in run.stderr, run.stderr


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> SimpleNamespace:
    assert not MISSING, (
        f"CI=true, but the site's tools are missing ({', '.join(MISSING)}): "
        "pip install -r requirements-site.txt"
    )
    out = tmp_path_factory.mktemp("site") / "html"
    run = _run_site(ROOT, out)
    assert run.returncode == 0, f"the site's build failed:\n{run.stdout}\n{run.stderr}"
    assert list(out.parent.iterdir()) == [out], "the build wrote beside its --out folder"
    return SimpleNamespace(out=out, stdout=run.stdout)


def _html(site, page: str) -> str:
    return (site.out / f"{page}.html").read_text(encoding="utf-8")


def _notebook(doc: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / f"{doc}.ipynb", as_version=4)


def _figures(doc: str) -> int:
    """The images a committed notebook shows (saved outputs)."""
    return sum(
        1
        for cell in _notebook(doc).cells
        for output in cell.get("outputs", [])
        if any(mime.startswith("image/") for mime in output.get("data", {}))
    )


def _widget_cells(doc: str) -> int:
    return sum(
        1
        for cell in _notebook(doc).cells
        if cell.cell_type == "code" and not cell.outputs and WIDGET.search(cell.source)
    )


def _article(html: str) -> str:
    """The page's own content (without the navigation around it)."""
    match = re.search(r'<article class="bd-article"[^>]*>(.*?)</article>', html, re.DOTALL)
    assert match, "no <article> in the page"
    return match[1]


# -- the build ----------------------------------------------------------------------------------


def test_every_page_and_only_those(site):
    pages = {
        p.relative_to(site.out).with_suffix("").as_posix()
        for p in site.out.rglob("*.html")
        if "_static" not in p.parts
    }
    expected = set(NOTEBOOK_PAGES) | set(OTHER_PAGES)
    assert pages == expected
    assert len(pages) == 3 * 7 + 4 == 25
    assert f"site: {len(pages)} pages in " in site.stdout


def test_lessons_in_order(site):
    """The navigation lists the lessons, then the exercises, then the solutions, then the
    instructors' page; each lesson's "next" is the next lesson."""
    index = _html(site, "index")
    nav = re.search(r'<nav class="[^"]*\bbd-docs-nav\b[^"]*"(.*?)</nav>', index, re.DOTALL)
    assert nav, "no navigation on the start page"
    hrefs = re.findall(r'href="([^"#]+)\.html"', nav[1])
    assert hrefs == [*NOTEBOOK_PAGES, "instructors"]
    for lesson, following in itertools.pairwise(LESSONS):
        name = following.split("/")[1]
        assert re.search(rf'<link rel="next" [^>]*href="{name}\.html"', _html(site, lesson))


def test_start_page(site):
    article = _article(_html(site, "index"))
    text = re.sub(r"<[^>]+>", "", article)
    for words in ("Who it is for", "Two commands", "pip install -r requirements.txt", "pytest"):
        assert words in text
    for doc in LESSONS + PAGES["exercises"]:
        assert f'href="{doc}.html"' in article  # the README's lesson table, as links


@pytest.mark.parametrize("doc", LESSONS)
def test_lesson_figures(site, doc):
    article = _article(_html(site, doc))
    sources = re.findall(r'<img [^>]*src="([^"]+)"', article)
    assert len(sources) == _figures(doc) > 0
    for source in sources:
        image = (site.out / doc).parent / source
        assert image.is_file() and image.stat().st_size > 1000, source


@pytest.mark.parametrize("doc", NOTEBOOK_PAGES)
def test_download_link_is_the_committed_notebook(site, doc):
    links = re.findall(
        r'<a class="reference download internal"[^>]*href="([^"]+)"', _html(site, doc)
    )
    assert len(links) == 1
    target = (site.out / doc).parent / links[0]
    assert target.name == f"{Path(doc).name}.ipynb"
    assert target.read_bytes() == (ROOT / f"{doc}.ipynb").read_bytes()


@pytest.mark.parametrize("doc", NOTEBOOK_PAGES)
def test_widget_notes(site, doc):
    """A one-line note after every widget cell (lessons 01, 05, 06 and 07 have some)."""
    assert _html(site, doc).count("widget-note") == _widget_cells(doc)


@pytest.mark.parametrize("doc", LESSONS)
def test_every_widget_has_a_static_figure_just_before_it(doc):
    """A static page cannot run a widget: what it shows instead is a figure drawn by one of
    the three cells before the widget's cell."""
    cells = _notebook(doc).cells
    for index, cell in enumerate(cells):
        if cell.cell_type == "code" and not cell.outputs and WIDGET.search(cell.source):
            before = cells[max(index - 3, 0) : index]
            assert any(
                any(mime.startswith("image/") for mime in output.get("data", {}))
                for c in before
                for output in c.get("outputs", [])
            ), f"{doc}: no figure just before the widget in cell {index}"


def test_widget_cells_are_found():
    """Lessons 01, 05, 06 and 07 end a section with a widget (the notes' test is not empty)."""
    assert all(_widget_cells(f"notebooks/{name}") for name in ("01_module", "05_hooks"))
    assert sum(_widget_cells(doc) for doc in LESSONS) >= 4


def test_exercises_state_their_tasks(site):
    from helpers.grading import TASKS

    for task_id, task in TASKS.items():
        exercise = _article(_html(site, f"exercises/{task.notebook}_exercise"))
        assert f'<span class="pre">{task_id}</span>' in exercise, task_id


def test_solutions_are_marked(site):
    for doc in PAGES["solutions"]:
        html = _html(site, doc)
        assert re.search(r"<h1>[^<]*reference solution", html), doc
        assert "admonition important" in html and "Reference solution of Exercise" in html
    for doc in PAGES["exercises"]:
        assert not re.search(r"<h1>[^<]*reference solution", _html(site, doc)), doc


def test_instructors_page_lists_every_task(site):
    from helpers.grading import TASKS

    article = _article(_html(site, "instructors"))
    for task_id, task in TASKS.items():
        assert f'id="{task_anchor(task_id)}"' in article, task_id
        assert task.title in article
        for name in task.names:
            assert f'<span class="pre">{name}</span>' in article, (task_id, name)


def test_no_colab_links_by_default_and_one_per_page_when_set(site):
    assert not any("colab" in _html(site, doc).lower() for doc in NOTEBOOK_PAGES)
    line = _links_line("notebooks/01_module.ipynb", "https://github.com/owner/course")
    assert (
        "(https://colab.research.google.com/github/owner/course/blob/main/"
        "notebooks/01_module.ipynb)" in line
    )
    assert "`%pip install -q git+https://github.com/owner/course torchinfo`" in line
    with pytest.raises(SiteError, match=r"is not https://github\.com/OWNER/REPO"):
        build_site(ROOT, Path("unused"), repository="https://gitlab.com/owner/course")


def test_pages_load_nothing_from_outside(site):
    for doc in NOTEBOOK_PAGES + OTHER_PAGES:
        html = _html(site, doc)
        tags = re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", html)
        outside = [t for t in tags if re.search(r'(?:src|href)="(?:https?:)?//', t)]
        assert not outside, (doc, outside)


def test_build_fails_on_a_broken_link_or_a_missing_image(tmp_path):
    """A course of one lesson (and the solutions, which the instructors' page reads) whose
    lesson links to an exercise that does not exist and shows an image that does not."""
    assert not MISSING
    root = tmp_path / "course"
    (root / "notebooks").mkdir(parents=True)
    shutil.copy(ROOT / "README.md", root)
    shutil.copytree(ROOT / "solutions", root / "solutions")
    nb = _notebook("notebooks/02_containers")
    broken = "[the next exercise](../exercises/99_missing_exercise.ipynb)"
    nb.cells.append(nbformat.v4.new_markdown_cell(f"{broken}\n\n![a figure](missing_figure.png)"))
    nbformat.write(nb, root / "notebooks" / "02_containers.ipynb")
    run = _run_site(root, tmp_path / "out")
    assert run.returncode == 2, run.stdout + run.stderr
    assert "99_missing_exercise" in run.stderr
    assert "missing_figure.png" in run.stderr
    assert "error: the site's build failed" in run.stderr


def test_build_fails_on_a_notebook_left_out_of_the_table_of_contents(tmp_path):
    """The whole course, with lesson 02 left out of the start page's table of contents
    (built in a process of its own, as ``python -m helpers site`` runs)."""
    assert not MISSING
    leave_out = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path

        import helpers.site

        index_page = helpers.site._index_page

        def without_lesson_02(root, pages):
            kept = {{f: [d for d in docs if d != {LESSONS[1]!r}] for f, docs in pages.items()}}
            return index_page(root, kept)

        helpers.site._index_page = without_lesson_02
        sys.exit(helpers.site.main(Path(sys.argv[1]), Path(sys.argv[2]), ""))
        """
    )
    run = _offline(leave_out, str(ROOT), str(tmp_path / "out"))
    assert run.returncode == 2, run.stdout + run.stderr
    assert "02_containers.ipynb: WARNING: document isn't included in any toctree" in run.stderr
    assert "error: the site's build failed" in run.stderr
    assert not (tmp_path / "out").exists(), "a failed build left a site behind"


# -- in a browser -------------------------------------------------------------------------------


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def _serve(folder: Path) -> Iterator[str]:
    """The folder on a local HTTP server, on a free port, stopped afterwards."""
    handler = lambda *a, **k: _Quiet(*a, directory=str(folder), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _skip_or_fail(reason: str) -> None:
    if CI:
        pytest.fail(reason)
    pytest.skip(reason)


# Every image in the page's article: loaded (naturalWidth) and drawn (its box).
_IMAGES = """() => Array.from(document.querySelectorAll('article.bd-article img')).map(img => {
    const box = img.getBoundingClientRect();
    return {src: img.getAttribute('src'), complete: img.complete,
            natural: img.naturalWidth, width: box.width, height: box.height,
            visible: getComputedStyle(img).visibility === 'visible'};
})"""


def _ids(html: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', html))


@pytest.mark.browser
def test_site_in_chromium(site):
    """The start page and every lesson in Chromium: the figures are loaded and drawn,
    every link within the site resolves (anchors too), nothing is fetched from outside,
    no script error, and the search finds register_buffer on lesson 03's page."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("browser test skipped: playwright is not installed (pip install playwright)")
    from browser_support import CHROMIUM_ARGS, INSTALL_HINT, SCREENSHOTS, find_chromium

    chromium = find_chromium()
    if chromium is None:
        _skip_or_fail(f"browser test skipped: {INSTALL_HINT}")
    shots = SCREENSHOTS / "site"
    shots.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with _serve(site.out) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on(
                "request",
                lambda r: (
                    None
                    if r.url.startswith((base, "data:", "blob:"))
                    else problems.append(f"fetched from outside: {r.url}")
                ),
            )
            page.on(
                "response",
                lambda r: (
                    problems.append(f"HTTP {r.status}: {r.url}")
                    if r.status >= 400 and not r.url.endswith("/favicon.ico")
                    else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
            links: dict[str, str] = {}  # link -> the page it is on
            for doc in ["index", *LESSONS, *PAGES["exercises"], *PAGES["solutions"], "instructors"]:
                page.goto(f"{base}{doc}.html", wait_until="load")
                for href in page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)"):
                    if href.startswith(base):
                        links.setdefault(href, doc)
                if doc != "index" and doc not in LESSONS:
                    continue
                name = "start" if doc == "index" else Path(doc).name
                page.screenshot(path=str(shots / f"{name}.png"))
                images = page.evaluate(_IMAGES)
                expected = 0 if doc == "index" else _figures(doc)
                if len(images) != expected:
                    problems.append(f"{doc}: {len(images)} images shown, {expected} saved")
                for k, image in enumerate(images):
                    figure = page.locator("article.bd-article img").nth(k)
                    figure.scroll_into_view_if_needed()
                    ok = image["complete"] and image["natural"] > 0 and image["visible"]
                    if not (ok and image["width"] > 0 and image["height"] > 0):
                        problems.append(f"{doc}: figure {image['src']} not shown: {image}")
                    if k == 0:
                        page.screenshot(path=str(shots / f"{name}-figure.png"))

            pages: dict[str, str] = {}
            for link, where in sorted(links.items()):
                url, fragment = urldefrag(link)
                if url not in pages:
                    try:
                        with urllib.request.urlopen(url, timeout=30) as response:
                            pages[url] = response.read().decode("utf-8", "replace")
                    except urllib.error.URLError as exc:
                        problems.append(f"{where}: link {link} does not resolve ({exc})")
                        pages[url] = ""
                        continue
                if fragment and url.endswith(".html") and fragment not in _ids(pages[url]):
                    problems.append(f"{where}: link {link}: no #{fragment} on that page")
            assert len(pages) >= len(NOTEBOOK_PAGES) + 2, "too few links followed"

            page.goto(f"{base}search.html?q=register_buffer", wait_until="load")
            page.wait_for_function(
                "() => document.querySelectorAll('#search-results li').length > 0"
                " || /did not match|no results/i.test("
                "(document.querySelector('#search-results') || {}).innerText || '')",
                timeout=30_000,
            )
            found = page.eval_on_selector_all(
                "#search-results li a", "as => as.map(a => a.getAttribute('href'))"
            )
            page.screenshot(path=str(shots / "search-register_buffer.png"))
            if not any("notebooks/03_parameters_and_buffers.html" in h for h in found):
                problems.append(f"search register_buffer: lesson 03 not among {found}")
        finally:
            browser.close()
    assert not problems, "\n".join(problems)
