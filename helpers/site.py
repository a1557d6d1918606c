"""The course as a static website: ``python -m helpers site --out DIR``.

The site is built with Sphinx, MyST-NB and the book theme (``requirements-site.txt``)
from the committed notebooks, which are never executed: their outputs are already
validated by nbval. Nothing is fetched at build time, and the pages load nothing from
outside the site.

The build works on copies in a temporary folder laid out like the repository
(``notebooks/``, ``exercises/``, ``solutions/``, so that the links between notebooks
become links between pages), to which it adds:

- a start page (``index.md``): the README's introduction, who the course is for, the
  two commands and the lesson table, and the table of contents;
- a page for instructors (``instructors.md``): every task of ``TASKS`` with its id,
  title, names and statement (``helpers.tasklist``);
- at the top of every notebook page, a link to download the committed notebook and,
  when :data:`REPOSITORY_URL` is set, one to open it in Colab;
- after every widget cell (a control that runs only in a live kernel, saved without
  output), a one-line note to run the notebook for the control;
- on every reference solution, a title and a banner that say so.

Sphinx runs with warnings as errors: a broken link between pages, a missing image or a
notebook left out of the table of contents fails the build.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from helpers.build import SOLUTION_ONLY

__all__ = ["REPOSITORY_URL", "SiteError", "build_site", "site_pages", "task_anchor"]

# The repository the site links to for "Open in Colab", e.g. "https://github.com/OWNER/REPO"
# (a GitHub repository; its notebooks are opened from the branch below). Empty: no Colab
# links. `python -m helpers site --repository URL` overrides it for one build.
REPOSITORY_URL = ""
BRANCH = "main"

FOLDERS = ("notebooks", "exercises", "solutions")
CAPTIONS = {"notebooks": "Lessons", "exercises": "Exercises", "solutions": "Reference solutions"}
ORIGINALS = "_originals"  # the committed notebooks, offered for download as they are
WIDGET_NOTE = (
    "The control appears only when the notebook runs in Jupyter: download the notebook "
    "(link at the top of this page) and run this cell."
)
WHO = (
    "It is for people who have trained a model or two with PyTorch and want to know what "
    "`nn.Module` does underneath: Python and a first PyTorch tutorial are enough. Read the "
    "lessons here; to run them and to do the exercises, install the course and open the "
    "notebooks in Jupyter."
)
_GITHUB = re.compile(r"^https://github\.com/[\w.-]+/[\w.-]+$")
_WIDGET = re.compile(r"\bwidgets\.|\binteract(ive)?\(")
_H1 = re.compile(r"^# (?P<title>.+)$", re.MULTILINE)


class SiteError(RuntimeError):
    """The site could not be built (the message says why)."""


def site_pages(root: Path) -> dict[str, list[str]]:
    """The notebook pages of the site, folder by folder, in order: ``{"notebooks":
    ["notebooks/01_module", ...], "exercises": [...], "solutions": [...]}``."""
    return {
        folder: [f"{folder}/{p.stem}" for p in sorted((root / folder).glob("*.ipynb"))]
        for folder in FOLDERS
    }


def _links_line(relpath: str, repository: str) -> str:
    """The markdown line at the top of a notebook page: download, and Colab if set."""
    name = Path(relpath).name
    depth = "../" * relpath.count("/")
    parts = [f"[Download {name}](path:{depth}{ORIGINALS}/{relpath})"]  # path: a download
    if repository:
        colab = repository.replace(
            "https://github.com/", "https://colab.research.google.com/github/"
        )
        parts.append(
            f"[Open in Colab]({colab}/blob/{BRANCH}/{relpath}) (there, run "
            f"`%pip install -q git+{repository} torchinfo` first: the notebook imports the "
            "course's `helpers`)"
        )
    return " · ".join(parts)


def _page_notebook(nb: nbformat.NotebookNode, relpath: str, repository: str):
    """The copy of a committed notebook that the site renders (``nb`` is not changed)."""
    nb = nbformat.from_dict(nb)  # a deep copy
    banners = [c for c in nb.cells if SOLUTION_ONLY in c.metadata.get("tags", [])]
    cells = [c for c in nb.cells if c not in banners]
    title_at = next(
        (i for i, c in enumerate(cells) if c.cell_type == "markdown" and _H1.search(c.source)),
        None,
    )
    if title_at is None:
        raise SiteError(f"{relpath}: no '# title' heading in a markdown cell")
    title = cells[title_at]
    heading = _H1.search(title.source)
    title_text = heading["title"]
    if relpath.startswith("solutions/"):
        title_text += ": reference solution"
    before, after = title.source[: heading.start()], title.source[heading.end() :]
    head = [nbformat.v4.new_markdown_cell(f"{before}# {title_text}".strip())]
    for banner in banners:  # "> **Reference solution of ...** ..." as a banner
        text = re.sub(r"^> ?", "", banner.source, flags=re.MULTILINE)
        head.append(nbformat.v4.new_markdown_cell(f":::{{important}}\n{text}\n:::"))
    head.append(nbformat.v4.new_markdown_cell(_links_line(relpath, repository)))
    if after.strip():
        head.append(nbformat.v4.new_markdown_cell(after.strip()))
    out = []
    for cell in cells[:title_at] + head + cells[title_at + 1 :]:
        out.append(cell)
        if cell.cell_type == "code" and not cell.outputs and _WIDGET.search(cell.source):
            note = f":::{{note}}\n:class: widget-note\n{WIDGET_NOTE}\n:::"
            out.append(nbformat.v4.new_markdown_cell(note))
    for cell in out:
        cell.pop("id", None)  # new cells have none to match; ids are not shown
    nb.cells = out
    nb.metadata.pop("widgets", None)
    nb.nbformat, nb.nbformat_minor = 4, 4
    return nb


def _readme_sections(readme: str) -> dict[str, str]:
    """The README split at its ``## `` headings: ``{"": intro, "Two commands": ..., ...}``."""
    first, *rest = re.split(r"^## ", readme, flags=re.MULTILINE)
    sections = {"": re.sub(r"\A# [^\n]*\n", "", first).strip()}
    for part in rest:
        heading, _, body = part.partition("\n")
        sections[heading.strip()] = body.strip()
    return sections


def _index_page(root: Path, pages: dict[str, list[str]]) -> str:
    readme = _readme_sections((root / "README.md").read_text(encoding="utf-8"))
    try:
        intro, lessons = readme[""], readme["Lessons"]
        commands = re.findall(r"```bash\n.*?\n```", readme["Two commands"], flags=re.DOTALL)
    except KeyError as exc:
        raise SiteError(f"README.md has no section {exc}") from None
    if len(commands) != 2:
        raise SiteError("README.md's 'Two commands' section has not two bash blocks")
    lines = [
        "# Inside nn.Module",
        "",
        intro,
        "",
        "## Who it is for",
        "",
        WHO,
        "",
        "## Two commands",
        "",
        "Install everything into a fresh virtual environment and open lesson 01 in "
        "JupyterLab, from a clone of the repository (the README says which torch build "
        "you get on which machine):",
        "",
        commands[0],
        "",
        "Run every test and validate every notebook:",
        "",
        commands[1],
        "",
        "## Lessons",
        "",
        "Each lesson ends with a link to its exercise; every task's check tells you at "
        "once what is right and what is wrong. The reference solutions are on pages of "
        "their own. Instructors: [every graded task](instructors.md).",
        "",
        lessons,
        "",
    ]
    for folder, docs in pages.items():
        lines += ["```{toctree}", ":hidden:", f":caption: {CAPTIONS[folder]}", ""]
        lines += [*docs, "```", ""]
    lines += ["```{toctree}", ":hidden:", ":caption: For instructors", "", "instructors", "```"]
    return "\n".join(lines) + "\n"


def task_anchor(task_id: str) -> str:
    """The id of a task's section on the instructors' page: ``01.gaussian_noise`` ->
    ``task-01-gaussian-noise`` (``instructors.html#task-01-gaussian-noise``)."""
    return "task-" + re.sub(r"[^a-z0-9]+", "-", task_id.lower())


def _instructors_page(root: Path) -> str:
    from helpers.tasklist import task_list_markdown

    intro = (
        "Each task is checked by `run_check(task_id, namespace)` (`helpers.grading`); "
        "`python -m helpers grade SUBMISSIONS --out GRADES` grades a class, and "
        "`python -m helpers tasks` prints this list as markdown. A task's contract is its "
        "statement in the exercise, repeated here."
    )
    return task_list_markdown(
        root, title="For instructors: every graded task", intro=intro, anchor=task_anchor
    )


def _config(repository: str) -> dict[str, object]:
    return {
        "project": "Inside nn.Module",
        "extensions": ["myst_nb"],
        "exclude_patterns": [f"{ORIGINALS}/**", "_build"],
        "nb_execution_mode": "off",  # never run: the committed outputs are shown
        "nb_merge_streams": True,
        "myst_enable_extensions": ["colon_fence"],
        "myst_heading_anchors": 3,
        "html_theme": "sphinx_book_theme",
        "html_title": "Inside nn.Module",
        "html_copy_source": False,
        "html_show_sourcelink": False,
        "html_theme_options": {
            "home_page_in_toc": True,
            "show_toc_level": 2,
            "use_download_button": False,  # it would offer the copies; the page links the originals
            "use_repository_button": bool(repository),
            "repository_url": repository,
            "repository_branch": BRANCH,
            "navigation_with_keys": False,
            "footer_content_items": [],  # no author or copyright line
        },
        "html_last_updated_fmt": None,
        "language": "en",
        "smartquotes": False,  # the text as the notebooks show it in Jupyter
    }


def build_site(
    root: Path, out: Path, *, repository: str = REPOSITORY_URL, jobs: str = "1"
) -> dict[str, object]:
    """Build the site of the course at ``root`` into ``out`` (replaced if it holds a site;
    left as it was if the build fails).

    Returns:
        ``{"pages": number of HTML pages, "seconds": build time, "out": out}``.

    Raises:
        SiteError: Sphinx reported a warning or an error (printed on stderr), ``out`` is
            not empty and holds no site, or ``repository`` is not a GitHub repository URL.
    """
    repository = repository.rstrip("/")
    if repository and not _GITHUB.match(repository):
        raise SiteError(f"{repository!r} is not https://github.com/OWNER/REPO")
    try:
        from sphinx.cmd.build import build_main
    except ImportError:
        raise SiteError(
            "the site's tools are not installed: pip install -r requirements-site.txt"
        ) from None
    root, out = Path(root).resolve(), Path(out).resolve()
    if out.exists() and any(out.iterdir()) and not (out / ".buildinfo").exists():
        raise SiteError(f"{out} is not empty and holds no site; give an empty folder")
    start = time.perf_counter()
    pages = site_pages(root)
    with tempfile.TemporaryDirectory(prefix="inside-nn-module-site-") as tmp:
        src = Path(tmp) / "src"
        for folder, docs in pages.items():
            (src / folder).mkdir(parents=True)
            (src / ORIGINALS / folder).mkdir(parents=True)
            for doc in docs:
                relpath = f"{doc}.ipynb"
                shutil.copyfile(root / relpath, src / ORIGINALS / relpath)
                nb = nbformat.read(root / relpath, as_version=4)
                nbformat.write(_page_notebook(nb, relpath, repository), src / relpath)
        (src / "index.md").write_text(_index_page(root, pages), encoding="utf-8")
        (src / "instructors.md").write_text(_instructors_page(root), encoding="utf-8")
        conf = "".join(f"{k} = {v!r}\n" for k, v in _config(repository).items())
        (src / "conf.py").write_text(conf, encoding="utf-8")
        # Into the temporary folder first: MyST-NB writes a folder next to the output.
        html = Path(tmp) / "html"
        argv = ["-b", "html", "-W", "-q", "-j", jobs, "-d", str(Path(tmp) / "doctrees")]
        if build_main([*argv, str(src), str(html)]) != 0:
            raise SiteError("the site's build failed (its warnings are above)")
        if out.exists():
            shutil.rmtree(out)  # an empty folder or the previous site
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(html, out)
    return {
        "pages": len([p for p in out.rglob("*.html") if "_static" not in p.parts]),
        "seconds": time.perf_counter() - start,
        "out": out,
    }


def main(root: Path, out: Path, repository: str) -> int:
    try:
        result = build_site(root, out, repository=repository)
    except SiteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"site: {result['pages']} pages in {result['seconds']:.1f} s: {result['out']}")
    return 0
