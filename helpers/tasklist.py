"""Every graded task with its statement, for instructors: ``python -m helpers tasks``.

The statement of a task lives in one place, its exercise (the markdown under the task's
heading in ``solutions/NN_topic_solution.ipynb``, copied unchanged into the exercise);
this module reads it from there and joins it to ``TASKS`` (id, title, names, notebook).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from helpers.build import exercise_file, solution_file

__all__ = ["TaskStatement", "task_list_markdown", "task_statements"]

_HEADING_ID = re.compile(r"^##\s.*\(`(?P<id>\d\d\.[a-z0-9_]+)`\)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class TaskStatement:
    """A task's contract as the learner reads it."""

    id: str
    title: str
    names: tuple[str, ...]
    exercise: str  # path of the exercise notebook, relative to the course folder
    statement: str  # markdown: the task's heading and the text up to its first code cell


def task_statements(root: Path) -> dict[str, TaskStatement]:
    """Every task of ``TASKS`` with its statement, read from ``root/solutions``, in the
    order the exercises present them.

    Raises:
        LookupError: a task has no heading ``## ... (`<id>`)`` in its notebook.
    """
    from helpers.grading import TASKS  # imports torch: only when asked

    found: dict[str, TaskStatement] = {}
    for notebook in sorted({t.notebook for t in TASKS.values()}):
        nb = nbformat.read(root / "solutions" / solution_file(notebook), as_version=4)
        current: str | None = None
        text: dict[str, list[str]] = {}
        for cell in nb.cells:
            if cell.cell_type == "code":
                current = None
                continue
            match = _HEADING_ID.search(cell.source)
            if match:
                current = match["id"]
                text[current] = []
            if current is not None and cell.cell_type == "markdown":
                text[current].append(cell.source.strip())
        for task_id, parts in text.items():
            if task_id in TASKS:
                task = TASKS[task_id]
                found[task_id] = TaskStatement(
                    task_id,
                    task.title,
                    task.names,
                    f"exercises/{exercise_file(notebook)}",
                    "\n\n".join(parts),
                )
    missing = sorted(set(TASKS) - set(found))
    if missing:
        raise LookupError(f"no statement found for {', '.join(missing)}")
    return found  # lesson by lesson, in each exercise's order


def task_list_markdown(
    root: Path,
    *,
    title: str = "Graded tasks",
    intro: str = "Grade one with `run_check(task_id, namespace)` (`helpers.grading`).",
    anchor: Callable[[str], str] | None = None,
) -> str:
    """All tasks as one markdown document: a table, then each statement in full.

    ``anchor`` (task id -> MyST target name), when given, makes the document a page of the
    website: each id in the table links to the task's section, and each exercise is a link.
    """
    statements = task_statements(root)
    lines = [
        f"# {title}",
        "",
        intro,
        "",
        "| id | title | the learner defines | exercise |",
        "|----|-------|---------------------|----------|",
    ]
    for s in statements.values():
        names = ", ".join(f"`{n}`" for n in s.names)
        if anchor is None:
            lines.append(f"| `{s.id}` | {s.title} | {names} | {s.exercise} |")
        else:
            link = f"[Exercise {s.id[:2]}]({s.exercise})"
            lines.append(f"| [`{s.id}`](#{anchor(s.id)}) | {s.title} | {names} | {link} |")
    for s in statements.values():
        statement = re.sub(r"\A#+[^\n]*\n*", "", s.statement)  # our heading replaces it
        if anchor is None:
            lines += ["", f"## `{s.id}` · {s.title}", "", statement]
        else:
            names = ", ".join(f"`{n}`" for n in s.names)
            where = f"[Exercise {s.id[:2]}]({s.exercise})"
            lines += ["", f"({anchor(s.id)})=", f"## `{s.id}` · {s.title}", ""]
            lines += [f"The learner defines {names} in {where}.", "", statement]
    return "\n".join(lines) + "\n"
