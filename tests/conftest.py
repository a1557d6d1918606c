"""Shared fixtures: the course folders, a solution notebook's namespace, and a kernel of
this very environment (as nbval's --nbval-current-env uses for the notebooks)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import nbformat
import pytest

from helpers.build import solution_file

ROOT = Path(__file__).resolve().parent.parent


def is_check_cell(source: str) -> bool:
    """A notebook's one-line check cell: ``run_check("<task id>", globals())``."""
    return source.strip().startswith("run_check(")


def solution_namespace(notebook: str) -> dict:
    """Run a solution notebook's code cells, except its check cells, in a fresh dict
    (what they print is discarded)."""
    nb = nbformat.read(ROOT / "solutions" / solution_file(notebook), as_version=4)
    namespace: dict = {"__name__": f"solution_{notebook}"}
    with contextlib.redirect_stdout(io.StringIO()):
        for cell in nb.cells:
            if cell.cell_type == "code" and not is_check_cell(cell.source):
                code = compile(cell.source, f"solutions/{solution_file(notebook)}", "exec")
                exec(code, namespace)
    return namespace


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def solution01_session() -> dict:
    return solution_namespace("01_module")


@pytest.fixture
def solution01(solution01_session) -> dict:
    """Lesson 01's reference namespace (a copy per test: tests may add names)."""
    return dict(solution01_session)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run kernel-bound work first, longest first: the browser tests (one long module,
    which then runs beside everything else), lessons, exercise runs (marked ``kernel``),
    solutions, then everything else. pytest-xdist hands out work in this order
    (``--dist loadscope --no-loadscope-reorder``): a notebook's cells, a test module's
    functions and a test class's methods each go to one worker."""

    def rank(item: pytest.Item) -> int:
        folder = Path(str(item.path)).parent.name
        if item.get_closest_marker("browser"):
            return -1
        if folder == "notebooks":
            return 0
        if item.get_closest_marker("kernel"):
            return 1
        return 2 if folder == "solutions" else 3

    items.sort(key=rank)  # stable: a notebook's cells keep their order
