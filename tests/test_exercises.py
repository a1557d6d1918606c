"""Every exercise notebook runs top to bottom with its stubs, and every one of its checks
reports not_implemented: no vacuous pass, no unrelated error. Every task has its check
cell in both the exercise and the solution, and the committed solution shows it passing."""

from __future__ import annotations

import json
import re

import nbformat
import pytest
from conftest import ROOT, is_check_cell
from nbclient import NotebookClient

from helpers.build import METADATA_KEY, exercise_file, lesson_metadata, solution_file
from helpers.grading import TASKS
from helpers.notebooks import ThisEnvironmentKernel

pytestmark = pytest.mark.kernel

NOTEBOOKS = sorted({task.notebook for task in TASKS.values()})
CHECK_CALL = re.compile(r'^run_check\("(?P<id>[^"]+)", globals\(\)\)$')


def check_cells(nb) -> dict[str, nbformat.NotebookNode]:
    cells = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and is_check_cell(cell.source):
            match = CHECK_CALL.match(cell.source.strip())
            assert match, f'a check cell is exactly run_check("<id>", globals()): {cell.source!r}'
            cells[match["id"]] = cell
    return cells


@pytest.mark.parametrize("notebook", NOTEBOOKS)
@pytest.mark.parametrize("folder", ["exercises", "solutions"])
def test_every_task_has_its_one_line_check_cell(folder, notebook):
    file = exercise_file(notebook) if folder == "exercises" else solution_file(notebook)
    nb = nbformat.read(ROOT / folder / file, as_version=4)
    expected = {t.id for t in TASKS.values() if t.notebook == notebook}
    assert set(check_cells(nb)) == expected


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_committed_solution_shows_every_check_passing(notebook):
    nb = nbformat.read(ROOT / "solutions" / solution_file(notebook), as_version=4)
    for task_id, cell in check_cells(nb).items():
        shown = "".join(o.get("data", {}).get("text/plain", "") for o in cell.outputs)
        assert shown.startswith(f"✓ {task_id}: passed"), shown


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_exercise_metadata_names_its_lesson(notebook):
    """The grader finds a submission's lesson in its metadata, not in its file name."""
    nb = nbformat.read(ROOT / "exercises" / exercise_file(notebook), as_version=4)
    assert nb.metadata[METADATA_KEY] == lesson_metadata(notebook)
    assert nb.metadata[METADATA_KEY]["lesson"] == notebook[:2]


def run_exercise_with_stubs(notebook: str) -> None:
    nb = nbformat.read(ROOT / "exercises" / exercise_file(notebook), as_version=4)
    task_ids = sorted(check_cells(nb))
    first = TASKS[task_ids[0]]
    # One more cell asks the kernel for each task's status after the notebook ran, and
    # proves the time limit works in a real kernel (where learners run the checks).
    probe = nbformat.v4.new_code_cell(
        "import json\n"
        "import torch.nn as _nn\n"
        "class _Endless(_nn.Module):  # a module class, also callable like a function\n"
        "    def __init__(self, *args, **kwargs):\n"
        "        while True:\n"
        "            pass\n"
        f"_statuses = {{t: run_check(t, globals()).status for t in {task_ids!r}}}\n"
        f"_looping = run_check({first.id!r}, {{{first.names[0]!r}: _Endless}}, timeout=0.2)\n"
        "print(json.dumps([_statuses, _looping.status, _looping.headline]))"
    )
    nb.cells.append(probe)
    NotebookClient(
        nb,
        kernel_manager_class=ThisEnvironmentKernel,
        shutdown_kernel="immediate",  # a graceful shutdown costs ~0.6 s for nothing here
        timeout=120,
        resources={"metadata": {"path": str(ROOT / "exercises")}},
    ).execute()  # raises CellExecutionError if any cell errors

    statuses, looping_status, looping_headline = json.loads(probe.outputs[0]["text"])
    assert statuses == dict.fromkeys(task_ids, "not_implemented")
    for task_id, cell in check_cells(nb).items():
        shown = "".join(o.get("data", {}).get("text/plain", "") for o in cell.outputs)
        assert shown.startswith(f"… {task_id}: not implemented yet"), shown
    assert (looping_status, looping_headline) == (
        "error",
        "your code ran longer than 0.2 s and was stopped",
    )


class _ExerciseRun:
    """One exercise notebook run with its stubs. Each notebook gets a subclass of its own
    (below), so that pytest-xdist (``--dist loadscope``) can run different notebooks on
    different workers."""

    notebook: str

    def test_runs_with_stubs_and_every_check_is_not_implemented(self):
        run_exercise_with_stubs(self.notebook)


for _notebook in NOTEBOOKS:
    _name = f"TestExercise_{_notebook}"
    globals()[_name] = type(_name, (_ExerciseRun,), {"notebook": _notebook})
