"""Build a synthetic class of submissions for the instructor's grader, from the course's
own solutions and exercises (lessons 01-04), and say what grading it must give.

    python tests/make_class.py DIR     # writes DIR/<student>/..., prints the students

Each student proves one thing; ``EXPECTED`` says, per student, the outcome of each of
their notebooks and the tasks that pass (every other task of a submitted lesson is 0).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = {
    "01": "01_module_solution.ipynb",
    "02": "02_containers_solution.ipynb",
    "03": "03_parameters_and_buffers_solution.ipynb",
    "04": "04_introspection_solution.ipynb",
}
EXERCISE = {lesson: name.replace("_solution", "_exercise") for lesson, name in SOLUTION.items()}
TASKS_OF = {
    "01": ["01.affine", "01.residual", "01.gaussian_noise"],
    "02": ["02.mlp", "02.multi_head", "02.named_sequential", "02.polynomial"],
    "03": ["03.running_mean", "03.causal_mask", "03.freeze", "03.checkpoint"],
    "04": ["04.count_parameters", "04.find_modules", "04.replace_modules", "04.describe"],
}
ALL = [task for tasks in TASKS_OF.values() for task in tasks]

# Learner code the synthetic students add (each a code cell).
ENDLESS = """\
import time
while True:  # an endless loop that swallows every interruption
    try:
        time.sleep(0.01)
    except BaseException:
        pass
"""
DETACHED_CHILD = """\
import os, signal, time
if os.fork() == 0:  # a double fork: the grandchild leaves the session and ignores SIGTERM
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(600)
    os._exit(0)
"""
OS_EXIT = "import os\nos._exit(0)\n"
SYS_EXIT = "import sys\nsys.exit()\n"
MEMORY_BOMB = "bomb = torch.ones(50_000, 50_000)  # 10 GB\n"
FAKE_PASS = """\
print("✓ 01.affine: passed — Affine layer (18 probes)")
print("✓ 01.residual: passed — Residual wrapper (13 probes)")
print("✓ 01.gaussian_noise: passed — Gaussian noise layer (16 probes)")
"""
PATCH_RUN_CHECK = """\
import helpers.grading
from helpers.grading import CheckResult

def run_check(task_id, namespace, **kwargs):
    return CheckResult(task_id, "pass", "passed")

helpers.grading.run_check = run_check
torch.allclose = lambda *args, **kwargs: True
"""
PATCH_CODE = """\
from helpers.checks import core

def _never_fails(self, *args, **kwargs):
    return None

core.Checker.fail.__code__ = _never_fails.__code__  # in place: the same function object
"""
SYNTAX_ERROR = "def broken(:\n    pass\n"
# A trace function that rewrites the grader's verdicts in its own frames, and a class whose
# construction (during a later check) sets it again and rewrites the verdicts already given.
TRACE_VERDICTS = """\
import sys

def _rewrite(frame, event, arg):
    for entry in list(frame.f_locals.get("results", {}).values()):
        entry["status"], entry["headline"] = "pass", "passed"
    return _rewrite

sys.settrace(lambda frame, event, arg: _rewrite if frame.f_code.co_name == "_grade" else None)

class Residual(nn.Module):
    def __init__(self, *args, **kwargs):
        super().__init__()
        sys.settrace(lambda frame, event, arg: _rewrite)  # again, inside the check
        frame = sys._getframe()
        while frame is not None:
            for entry in list(frame.f_locals.get("results", {}).values()):
                entry["status"], entry["headline"] = "pass", "passed"
            frame = frame.f_back
        raise NotImplementedError
"""
# SIGKILL to the notebook's supervisor, after forking a child that ignores SIGTERM.
KILL_SUPERVISOR = """\
import os, signal, time
if os.fork() == 0:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(600)
    os._exit(0)
os.kill(os.getppid(), signal.SIGKILL)
"""
KILL_GROUP = "import os, signal\nos.killpg(0, signal.SIGKILL)  # the whole process group\n"


def _read(folder: str, name: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / folder / name, as_version=4)


def solved(lesson: str) -> nbformat.NotebookNode:
    return _read("solutions", SOLUTION[lesson])


def stubs(lesson: str) -> nbformat.NotebookNode:
    return _read("exercises", EXERCISE[lesson])


def _index(nb: nbformat.NotebookNode, text: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and text in c.source)


def insert_after(nb: nbformat.NotebookNode, text: str, source: str) -> nbformat.NotebookNode:
    """Insert a code cell after the first code cell containing ``text``."""
    nb.cells.insert(_index(nb, text) + 1, nbformat.v4.new_code_cell(source))
    return nb


def replace(nb: nbformat.NotebookNode, old: str, new: str) -> nbformat.NotebookNode:
    cell = nb.cells[_index(nb, old)]
    cell.source = cell.source.replace(old, new)
    return nb


def without_check_cells(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb.cells = [c for c in nb.cells if not c.source.strip().startswith("run_check(")]
    return nb


def _write(path: Path, nb: nbformat.NotebookNode | str, mtime: float | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(nb, str):
        path.write_text(nb, encoding="utf-8")
    else:
        nbformat.write(nb, path)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


# student -> {"notebooks": {relative path: (lesson, outcome)}, "pass": tasks that pass}
EXPECTED: dict[str, dict] = {
    "all_solved": {
        "notebooks": {f"{SOLUTION[lesson]}": (lesson, "graded") for lesson in SOLUTION},
        "pass": set(ALL),
    },
    "untouched_stubs": {
        "notebooks": {EXERCISE["01"]: ("01", "graded")},
        "pass": set(),
    },
    "one_wrong_per_lesson": {
        "notebooks": {SOLUTION["01"]: ("01", "graded"), SOLUTION["02"]: ("02", "graded")},
        "pass": {
            "01.affine",
            "01.gaussian_noise",
            "02.mlp",
            "02.multi_head",
            "02.named_sequential",
        },
    },
    "endless_loop": {"notebooks": {"01_module.ipynb": ("01", "timeout")}, "pass": {"01.affine"}},
    "os_exit": {
        "notebooks": {"01_module.ipynb": ("01", "crashed")},
        "pass": {"01.affine", "01.residual"},
    },
    "sys_exit": {"notebooks": {"01_module.ipynb": ("01", "graded")}, "pass": set(TASKS_OF["01"])},
    "memory_bomb": {"notebooks": {"01_module.ipynb": ("01", "memory")}, "pass": {"01.affine"}},
    "fake_passed": {"notebooks": {"01_module.ipynb": ("01", "graded")}, "pass": set()},
    "patched_run_check": {"notebooks": {"01_module.ipynb": ("01", "graded")}, "pass": set()},
    "patched_code": {"notebooks": {"02_containers.ipynb": ("02", "graded")}, "pass": set()},
    "check_cells_deleted": {
        "notebooks": {"work/lesson2.ipynb": ("02", "graded")},
        "pass": set(TASKS_OF["02"]),
    },
    "syntax_error_first": {
        "notebooks": {"03_parameters_and_buffers.ipynb": ("03", "graded")},
        "pass": set(TASKS_OF["03"]),
    },
    "invalid_json": {"notebooks": {"01_module.ipynb": ("01", "unreadable")}, "pass": set()},
    "renamed": {
        "notebooks": {"04_introspection (1).ipynb": ("04", "graded")},
        "pass": set(TASKS_OF["04"]),
    },
    "no_notebooks": {"notebooks": {}, "pass": set()},
    "traced_grader": {"notebooks": {"01_module.ipynb": ("01", "graded")}, "pass": set()},
    "kills_the_grader": {
        "notebooks": {
            "01_module.ipynb": ("01", "crashed"),
            "02_containers.ipynb": ("02", "crashed"),
        },
        "pass": set(),
    },
}
COLUMNS = ALL  # every lesson 01-04 is submitted by someone


def make_class(root: Path) -> dict[str, dict]:
    """Write the class under ``root`` and return ``EXPECTED``."""
    _write(root / "all_solved" / SOLUTION["01"], solved("01"))
    for lesson in ("02", "03", "04"):
        _write(root / "all_solved" / SOLUTION[lesson], solved(lesson))
    _write(root / "untouched_stubs" / EXERCISE["01"], stubs("01"))

    wrong = root / "one_wrong_per_lesson"
    _write(
        wrong / SOLUTION["01"], replace(solved("01"), "return x + self.fn(x)", "return self.fn(x)")
    )
    _write(wrong / SOLUTION["02"], replace(solved("02"), "c * x**power", "c * x"))

    _write(
        root / "endless_loop" / "01_module.ipynb",
        insert_after(solved("01"), "class Affine", ENDLESS),
    )
    nb = insert_after(solved("01"), "class Residual", DETACHED_CHILD)
    _write(root / "os_exit" / "01_module.ipynb", insert_after(nb, "os.fork()", OS_EXIT))
    _write(
        root / "sys_exit" / "01_module.ipynb", insert_after(solved("01"), "class Affine", SYS_EXIT)
    )
    _write(
        root / "memory_bomb" / "01_module.ipynb",
        insert_after(solved("01"), "class Affine", MEMORY_BOMB),
    )

    nb = stubs("01")
    for cell in nb.cells:  # check cells replaced by fake verdicts
        if cell.cell_type == "code" and cell.source.startswith("run_check("):
            cell.source = f'print("✓ {cell.source.split(chr(34))[1]}: passed")'
    _write(root / "fake_passed" / "01_module.ipynb", insert_after(nb, "class Affine", FAKE_PASS))

    nb = replace(solved("01"), "y = y + self.bias", "y = y - self.bias")
    nb = replace(nb, "return x + self.fn(x)", "return self.fn(x)")
    nb = replace(nb, "return x + self.sigma", "return x - self.sigma")
    _write(
        root / "patched_run_check" / "01_module.ipynb",
        insert_after(nb, "seed_everything(0)", PATCH_RUN_CHECK),
    )
    nb = replace(solved("02"), "return self.layers(x)", "return x")
    nb = replace(nb, "return self.heads[task](features)", "return features")
    nb = replace(nb, '("act", nn.ReLU()),', '("act", nn.Tanh()),')
    nb = replace(nb, "c * x**power", "c * x")
    _write(
        root / "patched_code" / "02_containers.ipynb",
        insert_after(nb, "seed_everything(0)", PATCH_CODE),
    )

    _write(
        root / "check_cells_deleted" / "work" / "lesson2.ipynb", without_check_cells(solved("02"))
    )
    _write(
        root / "syntax_error_first" / "03_parameters_and_buffers.ipynb",
        insert_after(solved("03"), "seed_everything(0)", SYNTAX_ERROR),
    )
    text = nbformat.writes(solved("01"))
    _write(root / "invalid_json" / "01_module.ipynb", text[: len(text) // 2])

    # Renamed: no metadata, so the file name tells the lesson; an older stub notebook of
    # the same lesson (with metadata) is not graded.
    nb = solved("04")
    nb.metadata.pop("inside_nn_module", None)
    _write(root / "renamed" / "04_introspection (1).ipynb", nb)
    _write(root / "renamed" / "old" / "homework.ipynb", stubs("04"), mtime=1_000_000_000)
    (root / "renamed" / "notes.txt").write_text("my notes\n", encoding="utf-8")

    nb = stubs("01")
    nb.cells.append(nbformat.v4.new_code_cell(TRACE_VERDICTS))
    _write(root / "traced_grader" / "01_module.ipynb", nb)
    for lesson, name, source in [
        ("01", "01_module", KILL_SUPERVISOR),
        ("02", "02_containers", KILL_GROUP),
    ]:
        nb = solved(lesson)  # first of all (nothing to rerun: the test stays short)
        nb.cells.insert(0, nbformat.v4.new_code_cell(source))
        _write(root / "kills_the_grader" / f"{name}.ipynb", nb)

    (root / "no_notebooks").mkdir(parents=True, exist_ok=True)
    (root / "no_notebooks" / "README.txt").write_text("I could not finish.\n", encoding="utf-8")
    return EXPECTED


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    expected = make_class(folder)
    print(json.dumps(sorted(expected)))
