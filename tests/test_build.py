"""exercises/ is generated from solutions/ and must equal what the build writes."""

from __future__ import annotations

import runpy
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from helpers.__main__ import main
from helpers.build import (
    METADATA_KEY,
    SOLUTION_ONLY,
    BuildError,
    build,
    exercise_file,
    exercise_from_solution,
    lesson_metadata,
    solution_file,
    stub_source,
)

ROOT_SOLUTIONS = Path(__file__).resolve().parent.parent / "solutions"


def test_exercises_equal_what_the_build_writes(root):
    stale = build(root, check=True)
    assert stale == [], f"run `python -m helpers build`: {stale} differ"


def test_every_solution_has_its_exercise_and_lesson(root):
    lessons = {p.stem for p in (root / "notebooks").glob("*.ipynb")}
    solved = {p.stem.removesuffix("_solution") for p in (root / "solutions").glob("*.ipynb")}
    assert solved and solved <= lessons
    assert {solution_file(n) for n in solved} == {p.name for p in (root / "solutions").iterdir()}
    assert {exercise_file(n) for n in solved} == {p.name for p in (root / "exercises").iterdir()}


def test_region_becomes_a_stub_at_its_indentation():
    source = (
        "def f(x):\n"
        "    ### BEGIN SOLUTION: double x\n"
        "    y = 2 * x\n"
        "    return y\n"
        "    ### END SOLUTION\n"
        "\n"
        "class A:\n"
        "    def g(self):\n"
        "        ### BEGIN SOLUTION\n"
        "        return 1\n"
        "        ### END SOLUTION"
    )
    assert stub_source(source) == (
        "def f(x):\n"
        "    raise NotImplementedError('TODO: double x')\n"
        "\n"
        "class A:\n"
        "    def g(self):\n"
        "        raise NotImplementedError('TODO: write your code here')"
    )


def test_source_without_regions_is_unchanged():
    assert stub_source("x = 1\nprint(x)") == "x = 1\nprint(x)"


@pytest.mark.parametrize(
    "source, problem",
    [
        ("def f():\n    ### BEGIN SOLUTION\n    pass", "never closed"),
        ("def f():\n    ### END SOLUTION", "without BEGIN"),
        ("def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION", "inside a region"),
        ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "top level"),
    ],
)
def test_malformed_markers_are_reported(source, problem):
    with pytest.raises(BuildError, match=problem):
        stub_source(source)


def test_outputs_and_counts_are_cleared_and_markdown_kept(root):
    solution = nbformat.read(root / "solutions" / "01_module_solution.ipynb", as_version=4)
    exercise = exercise_from_solution(solution)
    assert any(c.get("outputs") for c in solution.cells)  # the solution keeps its outputs
    shared = [c for c in solution.cells if SOLUTION_ONLY not in c.metadata.get("tags", [])]
    for before, after in zip(shared, exercise.cells, strict=True):
        assert before.cell_type == after.cell_type
        if after.cell_type == "code":
            assert after.outputs == [] and after.execution_count is None
            assert "### BEGIN SOLUTION" not in after.source
        else:
            assert after.source == before.source


def test_cli_writes_then_reports_up_to_date(root, tmp_path, capsys):
    shutil.copytree(root / "solutions", tmp_path / "solutions")
    assert main(["build", "--check", "--root", str(tmp_path)]) == 1
    assert main(["build", "--root", str(tmp_path)]) == 0
    assert main(["build", "--check", "--root", str(tmp_path)]) == 0
    (tmp_path / "exercises" / "99_gone.ipynb").write_text("{}")
    assert main(["build", "--root", str(tmp_path)]) == 0
    assert not (tmp_path / "exercises" / "99_gone.ipynb").exists()
    assert "99_gone" in capsys.readouterr().out


def test_cli_runs_as_python_m_helpers(root, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["helpers", "build", "--check", "--root", str(root)])
    monkeypatch.delitem(sys.modules, "helpers.__main__")  # imported above; run it afresh
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("helpers", run_name="__main__")
    assert exited.value.code == 0, capsys.readouterr()


def test_cli_refuses_a_folder_without_solutions(tmp_path, capsys):
    assert main(["build", "--root", str(tmp_path)]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_exercise_file_and_metadata_come_from_the_solution_name(tmp_path):
    shutil.copytree(ROOT_SOLUTIONS, tmp_path / "solutions")
    build(tmp_path)
    written = nbformat.read(tmp_path / "exercises" / "01_module_exercise.ipynb", as_version=4)
    assert written.metadata[METADATA_KEY] == {"lesson": "01", "notebook": "01_module"}
    assert not (tmp_path / "exercises" / "01_module_solution.ipynb").exists()


def test_a_solution_without_the_suffix_is_refused(tmp_path):
    (tmp_path / "solutions").mkdir()
    shutil.copy(ROOT_SOLUTIONS / "01_module_solution.ipynb", tmp_path / "solutions" / "01_x.ipynb")
    with pytest.raises(BuildError, match="NN_topic_solution"):
        build(tmp_path)


def test_solution_only_cells_stay_out_of_the_exercise():
    solution = nbformat.v4.new_notebook()
    banner = nbformat.v4.new_markdown_cell("**Reference solution.**")
    banner.metadata["tags"] = [SOLUTION_ONLY]
    solution.cells = [banner, nbformat.v4.new_markdown_cell("# Exercise 01")]
    exercise = exercise_from_solution(solution)
    assert [c.source for c in exercise.cells] == ["# Exercise 01"]
    assert len(solution.cells) == 2  # the solution itself is not modified


def test_every_solution_says_it_is_the_reference_solution(root):
    """Opened from the exercise's link, a solution must not read like the exercise; like
    the exercise, it carries its lesson in its metadata."""
    for path in sorted((root / "solutions").glob("*.ipynb")):
        solution = nbformat.read(path, as_version=4)
        first = solution.cells[0]
        assert SOLUTION_ONLY in first.metadata.get("tags", []), path.name
        assert "reference solution" in first.source.lower(), path.name
        notebook = path.stem.removesuffix("_solution")
        assert f"](../exercises/{exercise_file(notebook)})" in first.source
        assert solution.metadata[METADATA_KEY] == lesson_metadata(notebook)
