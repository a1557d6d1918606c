"""Shared fixtures: the course folders and a solution notebook's namespace."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent


def is_check_cell(source: str) -> bool:
    """A notebook's one-line check cell: ``run_check("<task id>", globals())``."""
    return source.strip().startswith("run_check(")


def solution_namespace(notebook: str) -> dict:
    """Run a solution notebook's code cells, except its check cells, in a fresh dict."""
    nb = nbformat.read(ROOT / "solutions" / f"{notebook}.ipynb", as_version=4)
    namespace: dict = {"__name__": f"solution_{notebook}"}
    for cell in nb.cells:
        if cell.cell_type == "code" and not is_check_cell(cell.source):
            exec(compile(cell.source, f"solutions/{notebook}.ipynb", "exec"), namespace)
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
