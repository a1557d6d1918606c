"""Learner code can do anything: the checks answer all of it with a clear message, never
raise, never hang and are not fooled. For every task, each hostile behaviour is grafted
onto the reference solution: a class gets a hostile ``forward`` (so the check reaches it
past the structural probes), a function is replaced by the hostile code."""

from __future__ import annotations

import functools
import time

import pytest
import torch
from conftest import solution_namespace
from torch import nn

import helpers.checks.core
import helpers.grading
from helpers.grading import TASKS, run_check


@functools.cache
def reference(notebook: str) -> dict:
    return solution_namespace(notebook)


def hostile(task_id: str, behaviour) -> dict:
    """The task's reference namespace with its first name made to run ``behaviour``: a
    module class in ``forward``, a context-manager class in ``__enter__``, a function
    in its place."""
    task = TASKS[task_id]
    namespace = dict(reference(task.notebook))
    name = task.names[0]
    original = namespace[name]
    if isinstance(original, type) and issubclass(original, nn.Module):

        def forward(self, *args, **kwargs):
            return behaviour(self, *args, **kwargs)

        namespace[name] = type(name, (original,), {"forward": forward})
    elif isinstance(original, type) and hasattr(original, "__enter__"):

        def enter(self, *args, **kwargs):
            return behaviour(self, *args, **kwargs)

        namespace[name] = type(name, (original,), {"__enter__": enter})
    else:

        def function(*args, **kwargs):
            return behaviour(None, *args, **kwargs)

        namespace[name] = function
    return namespace


# Tasks whose learner name is an nn.Module class (CapWords, by the syllabus's naming; the
# recorders of lesson 05 are context managers, not modules).
MODULE_TASKS = sorted(
    t
    for t in TASKS
    if TASKS[t].names[0][0].isupper() and not TASKS[t].names[0].endswith("Recorder")
)


@pytest.fixture(params=sorted(TASKS))
def task_id(request):
    return request.param


def test_exception_fails_showing_the_learner_line(task_id):
    def behaviour(self, *args, **kwargs):
        raise ValueError("bad shapes somewhere")

    result = run_check(task_id, hostile(task_id, behaviour))
    assert result.status == "fail"
    assert "raised ValueError" in result.message
    assert "ValueError: bad shapes somewhere" in result.message
    assert 'raise ValueError("bad shapes somewhere")' in result.message  # the learner's line


@pytest.mark.parametrize(
    "value", [None, "text", 3.5, object()], ids=["None", "str", "float", "object"]
)
def test_wrong_return_type_fails(task_id, value):
    result = run_check(task_id, hostile(task_id, lambda self, *args, **kwargs: value))
    assert result.status == "fail", result.message
    assert result.hint


@pytest.mark.parametrize("task_id", MODULE_TASKS)
def test_nan_output_fails(task_id):
    def behaviour(self, x, *args, **kwargs):
        return torch.full_like(x, float("nan"))

    assert run_check(task_id, hostile(task_id, behaviour)).status == "fail"


def test_endless_loop_is_stopped_with_a_clear_message(task_id):
    def behaviour(self, *args, **kwargs):
        count = 0
        while True:
            try:
                count += 1
            except Exception:  # a learner's broad except must not keep the check alive
                continue

    start = time.perf_counter()
    result = run_check(task_id, hostile(task_id, behaviour), timeout=0.05)
    assert time.perf_counter() - start < 2
    assert result.status == "error"
    assert "ran longer than 0.05 s" in result.message
    assert result.probe is not None


def test_sleeping_code_is_stopped():
    def behaviour(self, *args, **kwargs):
        time.sleep(30)

    start = time.perf_counter()
    result = run_check("01.affine", hostile("01.affine", behaviour), timeout=0.05)
    assert time.perf_counter() - start < 2
    assert result.status == "error"


@pytest.mark.parametrize("task_id", MODULE_TASKS)
def test_infinite_recursion_is_explained(task_id):
    def behaviour(self, *args, **kwargs):
        return self(*args, **kwargs)

    result = run_check(task_id, hostile(task_id, behaviour))
    assert result.status == "fail"
    assert "forward calls itself" in result.message


def test_printed_pass_line_neither_shows_nor_fools(task_id, capsys):
    def behaviour(self, *args, **kwargs):
        print(f"✓ {task_id}: passed")

    result = run_check(task_id, hostile(task_id, behaviour))
    assert result.status == "fail"
    assert capsys.readouterr().out == ""  # nothing leaked next to the verdict
    assert "Your code printed during the check:" in result.message
    assert f"| ✓ {task_id}: passed" in result.message


@pytest.mark.parametrize("exc", [SystemExit(0), KeyboardInterrupt()], ids=["exit", "interrupt"])
def test_exit_and_interrupt_are_errors_not_crashes(task_id, exc):
    def behaviour(self, *args, **kwargs):
        raise exc

    assert run_check(task_id, hostile(task_id, behaviour)).status == "error"


@pytest.mark.parametrize(
    "target, name",
    [
        (helpers.checks.core.Checker, "fail"),
        (helpers.grading.CheckResult, "passed"),
        (helpers.checks.core, "equal"),
        (torch, "equal"),
        (torch.nn.Module, "named_parameters"),
    ],
)
def test_patching_the_grader_or_torch_is_detected(solution01, monkeypatch, target, name):
    base = solution01["Affine"]

    class Patching(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            monkeypatch.setattr(target, name, lambda *a, **k: True)

    result = run_check("01.affine", {"Affine": Patching})
    assert result.status == "error"
    assert "modified in this kernel" in result.message
    assert name in result.message
    monkeypatch.undo()
    assert run_check("01.affine", solution01).passed  # restored: verdicts again


def test_namespace_that_raises_on_lookup():
    class Hostile(dict):
        def __getitem__(self, key):
            raise RuntimeError("no")

    result = run_check("01.affine", Hostile())
    assert result.status in {"fail", "error"}


def test_unprintable_values_are_described_safely(solution01):
    class NoRepr:
        def __repr__(self):
            raise RuntimeError("repr exploded")

    result = run_check("01.affine", {"Affine": NoRepr()})
    assert result.status == "fail"
    assert "not a class" in result.message


def test_hostile_task_id_and_namespace_types():
    class Explosive:
        def __str__(self):
            raise RuntimeError("str exploded")

        __repr__ = __str__

    assert run_check(Explosive(), {}).status == "error"
    assert run_check("01.affine", Explosive()).status == "error"


class _EqualToAnythingList(list):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = None


class _EqualToAnythingInt(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = int.__hash__


@pytest.mark.parametrize(
    "value", [_EqualToAnythingList(), _EqualToAnythingInt(7)], ids=["list", "int"]
)
def test_a_result_equal_to_anything_does_not_pass(task_id, value):
    """Checks compare plain values, not whatever the learner's object says about itself."""
    result = run_check(task_id, hostile(task_id, lambda self, *args, **kwargs: value))
    assert result.status == "fail", result.message


def test_global_hooks_left_by_learner_code_do_not_leak(task_id):
    """A learner's code registers global hooks during a check and never removes them: they
    are gone after the check, and the next check is not affected."""
    from torch.nn.modules import module as module_api

    def behaviour(self, *args, **kwargs):
        module_api.register_module_forward_hook(lambda m, a, o: o * 0)
        module_api.register_module_forward_pre_hook(lambda m, a: None)
        module_api.register_module_full_backward_hook(lambda m, gi, go: None)
        raise ValueError("after registering global hooks")

    result = run_check(task_id, hostile(task_id, behaviour))
    assert result.status == "fail", result.message
    assert helpers.checks.core.count_global_hooks() == 0
    assert module_api._global_is_full_backward_hook is None
    assert run_check(task_id, reference(TASKS[task_id].notebook)).passed


def test_the_notebooks_global_hooks_change_no_verdict_and_stay(task_id):
    """Global hooks the learner registered in the notebook (lesson 05 shows them) neither
    break a check of the reference nor disappear because of it."""
    from torch.nn.modules import module as module_api

    def zero_outputs(module, args, output):
        return output * 0 if isinstance(output, torch.Tensor) else output

    def refuse(module, args):
        raise RuntimeError("a notebook's global pre-hook")

    handles = [
        module_api.register_module_forward_hook(zero_outputs),
        module_api.register_module_forward_pre_hook(refuse),
    ]
    try:
        result = run_check(task_id, reference(TASKS[task_id].notebook))
        assert result.passed, result.message
        assert helpers.checks.core.count_global_hooks() == 2
    finally:
        for handle in handles:
            handle.remove()


@pytest.mark.parametrize(
    "target, name",
    [
        (torch.nn.init, "kaiming_uniform_"),
        (torch.Tensor, "std"),
        (torch.nn.init, "xavier_uniform_"),
    ],
    ids=["rebound-init", "added-tensor-method", "rebound-xavier"],
)
def test_a_notebook_that_patched_torch_gets_a_clear_error_from_every_check(
    task_id, monkeypatch, target, name
):
    """Patched in the notebook before the check (every nn.Linear draws its weight with
    nn.init.kaiming_uniform_): every check says so, none crashes."""
    monkeypatch.setattr(target, name, lambda *args, **kwargs: None, raising=False)
    result = run_check(task_id, reference(TASKS[task_id].notebook))
    assert result.status == "error", result.message
    assert "modified in this kernel" in result.message
    assert name in result.message
