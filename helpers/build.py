"""Write ``exercises/`` from ``solutions/``, the single source of every exercise.

In a solution notebook, each solution region sits inside a function or method body::

    def forward(self, x):
        ### BEGIN SOLUTION: return x @ self.weight.T + self.bias
        ...
        ### END SOLUTION

In the exercise the region becomes one line at the marker's indentation,
``raise NotImplementedError("TODO: <text after the colon>")``; every output and execution
count is cleared; a cell tagged ``solution-only`` (the banner that says "this is the
reference solution") is left out; everything else is copied unchanged.

``solutions/NN_topic_solution.ipynb`` becomes ``exercises/NN_topic_exercise.ipynb`` (the
suffixes tell the tabs apart in an editor). The build writes the lesson into the exercise
notebook's metadata, ``metadata["inside_nn_module"] = {"lesson": "NN", "notebook":
"NN_topic"}``, so a grader knows the lesson of a submission whatever its file is called.

Run ``python -m helpers build`` to write the exercises, ``python -m helpers build --check``
to only report (exit status 1) which exercise differs from what the build would write.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

__all__ = [
    "METADATA_KEY",
    "SOLUTION_ONLY",
    "BuildError",
    "build",
    "exercise_file",
    "exercise_from_solution",
    "lesson_metadata",
    "solution_file",
    "stub_source",
]

BEGIN = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION(?::\s*(?P<todo>.*?))?\s*$")
END = re.compile(r"^[ \t]*### END SOLUTION\s*$")
DEFAULT_TODO = "write your code here"
METADATA_KEY = "inside_nn_module"
SOLUTION_SUFFIX, EXERCISE_SUFFIX = "_solution", "_exercise"
SOLUTION_ONLY = "solution-only"  # a cell tag: this cell is not copied into the exercise
_NOTEBOOK = re.compile(r"^(?P<lesson>\d\d)_[a-z0-9_]+$")


def solution_file(notebook: str) -> str:
    """``"01_module"`` -> ``"01_module_solution.ipynb"``, the file in ``solutions/``."""
    return f"{notebook}{SOLUTION_SUFFIX}.ipynb"


def exercise_file(notebook: str) -> str:
    """``"01_module"`` -> ``"01_module_exercise.ipynb"``, the file in ``exercises/``."""
    return f"{notebook}{EXERCISE_SUFFIX}.ipynb"


def lesson_metadata(notebook: str) -> dict[str, str]:
    """What the build writes under ``metadata[METADATA_KEY]`` of an exercise."""
    match = _NOTEBOOK.match(notebook)
    if match is None:
        raise BuildError(f"{notebook!r} is not named NN_topic (two digits, then the topic)")
    return {"lesson": match["lesson"], "notebook": notebook}


class BuildError(ValueError):
    """A solution notebook's markers are malformed."""


def stub_source(source: str, *, where: str = "cell") -> str:
    """Replace every solution region of one code cell's source with its stub."""
    out: list[str] = []
    region = None  # (indent, todo, line number) while inside a region
    for number, line in enumerate(source.splitlines(), start=1):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if region is not None:
                raise BuildError(f"{where}, line {number}: BEGIN SOLUTION inside a region")
            indent = begin["indent"]
            if not indent:
                raise BuildError(
                    f"{where}, line {number}: a solution region at the top level would "
                    "make the exercise cell raise when run; put it inside a function body"
                )
            region = (indent, begin["todo"] or DEFAULT_TODO, number)
        elif end:
            if region is None:
                raise BuildError(f"{where}, line {number}: END SOLUTION without BEGIN")
            indent, todo, _ = region
            out.append(f"{indent}raise NotImplementedError({('TODO: ' + todo)!r})")
            region = None
        elif region is None:
            out.append(line)
    if region is not None:
        raise BuildError(f"{where}, line {region[2]}: BEGIN SOLUTION is never closed")
    return "\n".join(out)


def exercise_from_solution(
    solution: nbformat.NotebookNode, *, name: str = ""
) -> nbformat.NotebookNode:
    """The exercise notebook for a solution notebook (the solution is not modified).

    Args:
        solution: the solution notebook.
        name: the lesson's notebook name (``"01_module"``); when given, it is written
            into the exercise's metadata and used in error messages.
    """
    exercise = nbformat.from_dict(solution)  # a deep copy
    exercise.metadata.pop("widgets", None)
    if name:
        exercise.metadata[METADATA_KEY] = lesson_metadata(name)
    exercise.cells = [c for c in exercise.cells if SOLUTION_ONLY not in c.metadata.get("tags", [])]
    for index, cell in enumerate(exercise.cells):
        if cell.cell_type != "code":
            continue
        cell.source = stub_source(cell.source, where=f"{name or 'notebook'} cell {index}")
        cell.outputs = []
        cell.execution_count = None
        cell.metadata.pop("execution", None)
    return exercise


def build(root: Path, *, check: bool = False) -> list[str]:
    """Write (or with ``check`` only compare) ``root/exercises`` from ``root/solutions``.

    Returns:
        The exercise files that differed from what the build writes (created, changed or
        stale), relative to ``root``.
    """
    solutions, exercises = root / "solutions", root / "exercises"
    expected: dict[Path, str] = {}
    for path in sorted(solutions.glob("*.ipynb")):
        if not path.stem.endswith(SOLUTION_SUFFIX):
            raise BuildError(f"{path.name}: a solution notebook is named NN_topic_solution.ipynb")
        notebook = path.stem.removesuffix(SOLUTION_SUFFIX)
        solution = nbformat.read(path, as_version=4)
        text = nbformat.writes(exercise_from_solution(solution, name=notebook)) + "\n"
        expected[exercises / exercise_file(notebook)] = text
    differing = []
    for path, text in expected.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            differing.append(str(path.relative_to(root)))
            if not check:
                path.parent.mkdir(exist_ok=True)
                path.write_text(text, encoding="utf-8")
    for path in sorted(exercises.glob("*.ipynb")):
        if path not in expected:  # its solution was removed or renamed
            differing.append(str(path.relative_to(root)))
            if not check:
                path.unlink()
    return differing
