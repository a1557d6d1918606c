"""Every lesson and exercise as a learner uses it: JupyterLab in Chromium.

nbval proves that the code prints what the notebook shows; these tests look at what the
page shows. For each notebook: Run All, then no cell may show an error or stderr (except
cells tagged ``raises-on-purpose``), no dialog may be open and every figure must load;
every widget is drawn as controls with no label cut short, and moving each control
changes its output without an error; in exercises, a wrong answer typed into a stub gets
the check's failure box (every row as the check reports it, no word broken across lines,
no text wider than the box) and the reference answer gets a pass; each lesson's link
opens its exercise and the exercise's link leads back. Every figure, widget and check
box is saved as a screenshot (tests/browser_output/screenshots/, or
$BROWSER_SCREENSHOTS). Lesson 01 is also opened in Notebook 7. Three tests of the tests
break each of these on purpose and prove the detectors see it.

Notebooks run a few at a time while the tests look at those already done
(``browser_support.Pool``); one server and one browser serve the whole module, and the
server and every kernel it started are stopped at the end, whatever happened (the
module's last teardown fails if anything is still running or listening).

Run alone with ``python -m pytest -m browser``. Without Chromium these tests are skipped
(under CI=true they fail).
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import json
import os
import pkgutil
import re
import shutil
import textwrap
from pathlib import Path

import nbformat
import pytest
from browser_support import (
    CHROMIUM_ARGS,
    INSTALL_HINT,
    SCRATCH,
    SCREENSHOTS,
    WIDGET_VIEW,
    JupyterServer,
    Pool,
    find_chromium,
    note,
)
from conftest import ROOT

from helpers.build import BEGIN, END, solution_file

pytestmark = [pytest.mark.browser, pytest.mark.kernel]


def _missing() -> str | None:
    """Why these tests cannot run here, or None."""
    if find_chromium() is None:
        return INSTALL_HINT
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright not installed: pip install -r requirements.txt"
    return None


# Checked once, at collection: one line in the summary, not one per test.
if (MISSING := _missing()) is not None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true, and the browser tests cannot run: {MISSING}", pytrace=False)
    pytest.skip(MISSING, allow_module_level=True)
CHROMIUM = find_chromium()

LESSONS = sorted(path.stem for path in (ROOT / "notebooks").glob("*.ipynb"))
EXERCISES = sorted(path.stem for path in (ROOT / "exercises").glob("*.ipynb"))

# Started before the others, whatever the tests' order: lesson 07 trains models, and its
# Run All is the longest; it then runs while the first tests look at other notebooks.
SLOW_FIRST = {"notebooks/07_training_loop.ipynb"}

# Notebooks running at once. Two cores: one kernel each, and the browser draws between.
WIDTH = int(os.environ.get("BROWSER_TESTS_AT_ONCE", "2"))
VIEWPORT = {"width": 1200, "height": 900}
NARROW = {"width": 900, "height": 900}

# One realistic mistake per exercise, from the catalogue (tests/catalogue): typed into the
# stub, it must get exactly the failure the check gives it here.
TYPED_MISTAKES = {
    "01_module": ("01.residual", "ResidualForgetsSkip"),
    "02_containers": ("02.named_sequential", "build_positional"),
    "03_parameters_and_buffers": ("03.freeze", "freeze_plain_startswith"),
    "04_introspection": ("04.count_parameters", "count_with_duplicates"),
    "05_hooks": ("05.clamp_inputs", "clamp_returning_a_tensor"),
    "06_apply": ("06.apply_order", "apply_order_named_modules"),
    "07_training_loop": ("07.evaluate", "evaluate_no_eval_mode"),
}


def job_for(item: pytest.Item) -> tuple[str, str, frozenset[str]] | None:
    """The notebook a test of this module runs: its path, front end and the paths its
    test also opens."""
    if getattr(item, "module", None) is None or item.module.__name__ != __name__:
        return None
    if item.originalname in SCRATCH_TESTS:
        return scratch_path(SCRATCH_TESTS[item.originalname]), "lab", frozenset()
    name = item.callspec.params.get("name") if hasattr(item, "callspec") else None
    if item.originalname == "test_lesson":
        return f"notebooks/{name}.ipynb", "lab", frozenset({f"exercises/{name}_exercise.ipynb"})
    if item.originalname == "test_exercise":
        return f"exercises/{name}.ipynb", "lab", frozenset()
    if item.originalname == "test_lesson_in_notebook7":
        return f"notebooks/{name}.ipynb", "notebook", frozenset()
    return None


@pytest.fixture(scope="module")
def lab(request):
    """A JupyterLab server on the repository root, Chromium, and the pool that runs the
    notebooks of the selected tests in their order. Everything is stopped at the end."""
    from playwright.sync_api import sync_playwright

    order = [job for item in request.session.items if (job := job_for(item))]
    order.sort(key=lambda job: job[0] not in SLOW_FIRST)  # stable: the rest keep their order
    write_scratch_notebooks()
    for path, _, _ in order:  # this run's screenshots replace the last run's (others stay)
        shutil.rmtree(SCREENSHOTS / Path(path).stem, ignore_errors=True)
    server = JupyterServer(ROOT)
    try:
        server.start()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                # A browser context per page: pages that share one are drawn one at a
                # time, and a screenshot in a page not drawn yet waits seconds for it.
                yield Pool(
                    server, lambda: browser.new_context(viewport=VIEWPORT).new_page(), order, WIDTH
                )
            finally:
                browser.close()
    finally:
        left = server.stop()
        shutil.rmtree(SCRATCH, ignore_errors=True)
        assert left == [], f"still running or listening after the browser tests: {left}"


# -- the tests of the tests: what each detector must report -------------------------------

# Two screens of text: the cells before it are off the screen once Run All has scrolled to
# the end, where JupyterLab does not draw them (the detectors must still read them).
FILLER = nbformat.v4.new_markdown_cell("\n\n".join(f"Filler line {k}." for k in range(60)))


def scratch_path(name: str) -> str:
    return (SCRATCH / f"{name}.ipynb").relative_to(ROOT).as_posix()


def scratch_notebooks() -> dict[str, list]:
    """The cells of the notebooks that the tests of the tests serve (a string is a code
    cell)."""
    wrong, _ = mistake_source("01.residual", "ResidualForgetsSkip")
    return {
        "broken_widgets": [
            "import ipywidgets as widgets\nfrom IPython.display import display",
            # 1: a control whose output never changes
            "n = widgets.IntSlider(value=1, min=0, max=5, description='n')\n"
            "out = widgets.interactive_output(lambda n: print('always the same'), {'n': n})\n"
            "display(widgets.VBox([n, out]))",
            # 2: a view of a model the page does not have
            f"display({{{WIDGET_VIEW!r}: {{'model_id': 'f' * 32, 'version_major': 2, "
            "'version_minor': 0}, 'text/plain': 'VBox(children=(IntSlider(value=1),))'}, "
            "raw=True)",
            # 3: what a saved view shows until its cell runs again (and what a front end
            # without the widget manager shows)
            "display({'text/plain': \"VBox(children=(IntSlider(value=1, description='n'),))\"}, "
            "raw=True)",
            FILLER,  # 4
            # 5: a working widget, for contrast
            "m = widgets.IntSlider(value=1, min=0, max=5, description='m')\n"
            "out = widgets.interactive_output(lambda m: print('m is', m), {'m': m})\n"
            "display(widgets.VBox([m, out]))",
            # 6: buttons too narrow for their labels (shown as "SGD + mo...")
            "b = widgets.ToggleButtons(options=['SGD', 'SGD + momentum'], "
            "style={'button_width': '60px'})\n"
            "out = widgets.interactive_output(lambda b: print('b is', b), {'b': b})\n"
            "display(widgets.VBox([b, out]))",
            # 7: a control that nothing listens to
            "q = widgets.ToggleButtons(options=['on', 'off'])\n"
            "display(widgets.VBox([q, widgets.Output()]))",
            # 8: a function that raises for one value of its control
            "def show(mode):\n"
            "    if mode == 'eval':\n"
            "        raise ValueError('broken on purpose')\n"
            "    print('mode is', mode)\n\n\n"
            "r = widgets.ToggleButtons(options=['train', 'eval'])\n"
            "out = widgets.interactive_output(show, {'mode': r})\n"
            "display(widgets.VBox([r, out]))",
        ],
        "unstyled_box": [
            "import torch\nfrom torch import nn\n\nimport helpers.grading as grading\n"
            "from helpers.grading import run_check\n\n"
            "style, value = grading._BOX_CSS, grading._VALUE_CSS",
            wrong,
            # 2: the box's inline style emptied
            'grading._BOX_CSS = ""\nrun_check("01.residual", globals())',
            # 3: words allowed to break anywhere, as some front ends style output areas
            'grading._BOX_CSS = style.replace("word-break: normal", "word-break: break-all")\n'
            'run_check("01.residual", globals())',
            # 4: values that never wrap: long lines run past the box
            'grading._BOX_CSS = style\ngrading._VALUE_CSS = "white-space: pre; min-width: 0;"\n'
            'run_check("01.residual", globals())',
            # 5: restored
            'grading._VALUE_CSS = value\nrun_check("01.residual", globals())',
        ],
        "broken_outputs": [
            "print('the kernel runs')",
            # 1: a figure whose image data is not an image
            "from IPython.display import display\n"
            "display({'image/png': 'bm90IGFuIGltYWdl', 'text/plain': '<Figure>'}, raw=True)",
            FILLER,  # 2
            # 3: the kernel dies
            "import os\n\nos._exit(1)",
            # 4: never runs
            "print('after the kernel died')",
        ],
    }


def write_scratch_notebooks() -> None:
    """Write them into the served scratch folder (removed after the tests)."""
    SCRATCH.mkdir(parents=True, exist_ok=True)
    for name, cells in scratch_notebooks().items():
        nb = nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell(c) if isinstance(c, str) else c for c in cells]
        )
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        nbformat.write(nb, SCRATCH / f"{name}.ipynb")


SCRATCH_TESTS = {
    "test_detectors_see_a_broken_widget": "broken_widgets",
    "test_detectors_see_an_unstyled_check_box": "unstyled_box",
    "test_detectors_see_a_broken_figure_and_a_dead_kernel": "broken_outputs",
}


def test_detectors_see_a_broken_widget(lab):
    """A widget whose model is missing and a widget shown as text (both off the screen),
    a widget whose output ignores its control, buttons too narrow for their labels, a
    control nothing listens to and a widget whose function raises are each reported; a
    working widget is not."""
    nb = lab.wait(scratch_path("broken_widgets"))
    try:
        problems = nb.output_problems(settle=5)
        assert {int(p.split()[1]) for p in problems} == {2, 3}, problems
        assert any(p.startswith("cell 2") and "not as a control" in p for p in problems), problems
        assert any(p.startswith("cell 3") and "shows as text" in p for p in problems), problems
        constant, working, narrow, silent, raising = nb.widget_views()
        (problem,) = nb.exercise_widget(constant, "broken-constant")
        assert re.fullmatch(
            r"broken-constant: slider n from 1 to \d did not change its output", problem
        )
        assert nb.exercise_widget(working, "working") == []
        assert nb.exercise_widget(narrow, "broken-narrow") == [
            "broken-narrow: text cut short: ['SGD + momentum']"
        ]
        # moved again twice after 2 s without an answer, then given up
        (problem,) = nb.exercise_widget(silent, "broken-silent", timeout=8, silence=2)
        assert problem.startswith(
            "broken-silent: button off did not change its output in 8 s, moved 3 times (0 changes"
        ), problem
        (problem,) = nb.exercise_widget(raising, "broken-raises")
        assert problem.startswith("broken-raises: after button eval, it shows an error"), problem
        assert "broken on purpose" in problem, problem
    finally:
        lab.release(nb)


def test_detectors_see_an_unstyled_check_box(lab):
    """The same failing check shown with the box's inline style emptied in the kernel
    (``helpers.grading._BOX_CSS = ""``), with ``word-break: break-all``, with values that
    never wrap, and restored: the first three are reported, the last is not."""
    nb = lab.wait(scratch_path("unstyled_box"))
    try:
        nb.page.set_viewport_size({"width": 760, "height": 900})  # long lines wrap
        assert nb.output_problems() == []
        boxes = {label: nb.check_box(index) for index, label in SCRATCH_BOXES.items()}
        for index, label in SCRATCH_BOXES.items():
            nb.screenshot(nb.cell(index).locator(".inside-nn-module-check"), label)
        unstyled, breaking, unwrapped, restored = boxes.values()
        assert min(unstyled.lines, breaking.lines, restored.lines) > 2, "they must wrap"
        assert {box.status for box in boxes.values()} == {"fail"}
        assert any(p.startswith("overflow-wrap: normal") for p in unstyled.problems), unstyled
        assert "the box has no padding" in unstyled.problems, unstyled
        assert any(p.startswith("words broken across lines") for p in breaking.problems), breaking
        assert any(p.startswith("word-break: break-all") for p in breaking.problems), breaking
        assert any(p.startswith("text wider than the box") for p in unwrapped.problems), unwrapped
        assert restored.problems == []
    finally:
        lab.release(nb)


SCRATCH_BOXES = {2: "unstyled", 3: "break-all", 4: "no-wrap", 5: "restored"}


def test_detectors_see_a_broken_figure_and_a_dead_kernel(lab):
    """An image that does not load is reported by the figures' screenshots; a kernel that
    dies by the dialog JupyterLab shows, and the cells it never ran."""
    nb = lab.wait(scratch_path("broken_outputs"))
    try:
        problems = nb.output_problems(settle=5)
        assert any(p.startswith("a dialog is open") and "died" in p for p in problems), problems
        assert any(p.startswith("cell 4") and p.endswith("did not run") for p in problems)
        assert nb.screenshot_figures() == ["cell 1: figure 1 did not load"]
    finally:
        lab.release(nb)


# -- lessons --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LESSONS)
def test_lesson(lab, name):
    nb = lab.wait(f"notebooks/{name}.ipynb")
    try:
        assert nb.output_problems() == []
        note(f"{name}: outputs checked")
        assert nb.screenshot_figures() == []
        note(f"{name}: figures saved")
        problems = []
        for k, view in enumerate(nb.widget_views(), start=1):
            problems += nb.exercise_widget(view, f"widget{k}")
        assert problems == []
        note(f"{name}: widgets moved")

        exercise = f"exercises/{name}_exercise.ipynb"
        nb.follow_link(nb.path, exercise)
        assert nb.active_path() == exercise
        nb.screenshot(nb.page.locator("#main"), "link-to-the-exercise")
        nb.follow_link(exercise, nb.path)
        assert nb.active_path() == nb.path
    finally:
        lab.release(nb)


@pytest.mark.parametrize("name", ["01_module"])
def test_lesson_in_notebook7(lab, name):
    nb = lab.wait(f"notebooks/{name}.ipynb", ui="notebook")
    try:
        assert nb.output_problems() == []
        views = nb.widget_views()
        assert views, "no widget rendered in Notebook 7"
        for k, view in enumerate(views, start=1):
            nb.screenshot(view, f"notebook7-widget{k}")
    finally:
        lab.release(nb)


# -- exercises ------------------------------------------------------------------------------


def strip_code(text: str) -> str:
    """What a check box shows of a message: backquoted parts become code spans."""
    return " ".join(text.replace("`", "").split())


def mistake_source(task_id: str, entry: str):
    """The catalogue entry's code as a learner would type it, under the task's name, and
    the catalogue case."""
    import catalogue

    from helpers.grading import TASKS

    for module in pkgutil.iter_modules(catalogue.__path__):  # each registers its entries
        importlib.import_module(f"catalogue.{module.name}")
    case = next(c for c in catalogue.MISTAKES if (c.task_id, c.name) == (task_id, entry))
    obj = case.namespace[TASKS[task_id].names[0]]
    lines = inspect.getsource(obj).splitlines()
    code = textwrap.dedent("\n".join(ln for ln in lines if not ln.startswith("@")))
    return re.sub(rf"\b{entry}\b", TASKS[task_id].names[0], code), case


def reference_source(notebook: str, task_id: str) -> str:
    """The solution notebook's cell for ``task_id``, without the solution markers."""
    nb = nbformat.read(ROOT / "solutions" / solution_file(notebook), as_version=4)
    for cell, after in itertools.pairwise(nb.cells):
        if after.source.strip() == f'run_check("{task_id}", globals())':
            return "\n".join(
                ln for ln in cell.source.splitlines() if not (BEGIN.match(ln) or END.match(ln))
            )
    raise LookupError(task_id)


def run_typed(nb, stub: int, source: str):
    """Type ``source`` into cell ``stub``, Shift+Enter twice (the cell, then its check
    cell) and return the check box once the kernel is idle again."""
    check = stub + 1
    before = nb.cells()[check]["executionCount"]
    nb.type_into(stub, source)
    nb.run_cell_and_next()
    ran = (
        "([path, index]) => { const w = Array.from(window.jupyterapp.shell.widgets('main'))"
        ".find(w => w.context && w.context.path === path);"
        "return w.content.widgets[index].model.executionCount; }"
    )
    nb.wait_for(f"(a) => ({ran})(a) !== null", [nb.path, stub], what="the typed cell to run")
    nb.run_cell_and_next()
    nb.wait_for(
        f"(a) => {{ const n = ({ran})(a); return n !== null && n !== {json.dumps(before)}; }}",
        [nb.path, check],
        what="the check cell to run",
    )
    nb.wait_idle()
    return nb.check_box(check)


@pytest.mark.parametrize("name", EXERCISES)
def test_exercise(lab, name):
    from helpers.grading import run_check

    notebook = name.removesuffix("_exercise")
    task_id, entry = TYPED_MISTAKES[notebook]
    wrong, case = mistake_source(task_id, entry)
    expected = run_check(task_id, case.namespace)
    assert expected.status == "fail", expected.message

    nb = lab.wait(f"exercises/{name}.ipynb")
    try:
        nb.page.set_viewport_size(NARROW)  # a laptop with the file browser open: lines wrap
        assert nb.output_problems() == []
        boxes = nb.check_boxes()
        assert boxes, "no check box shown"
        for index, box in boxes:
            assert (box.status, box.problems) == ("not_implemented", []), f"cell {index}"
            nb.screenshot(
                nb.cell(index).locator(".inside-nn-module-check"), f"cell{index:02d}-stub"
            )

        stub = next(i for i, _ in boxes if task_id in nb.cells()[i]["source"]) - 1
        box = run_typed(nb, stub, wrong)
        nb.screenshot(nb.cell(stub + 1).locator(".inside-nn-module-check"), f"{task_id}-wrong")
        assert box.status == "fail"
        assert box.headline == f"✗ {task_id}: {strip_code(expected.headline)}"
        # Every row as the check reports it: probe, expected, got, facts and hint.
        shown = [(label, strip_code(value)) for label, value in box.rows]
        assert shown == [(label, strip_code(value)) for label, value in expected.html_rows()]
        assert box.row("Hint"), "the failure box has no hint"
        assert box.problems == []

        box = run_typed(nb, stub, reference_source(notebook, task_id))
        nb.screenshot(nb.cell(stub + 1).locator(".inside-nn-module-check"), f"{task_id}-right")
        assert box.status == "pass", box.rows
        assert box.headline.startswith(f"✓ {task_id}: passed")
        assert box.problems == []
    finally:
        lab.release(nb)
