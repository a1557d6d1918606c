"""Learner code can do anything: the checks answer all of it with a clear message, never
raise, never hang and are not fooled. Each hostile behaviour is grafted onto lesson 01's
reference solution of every task, so the check reaches the learner's forward."""

from __future__ import annotations

import time

import pytest
import torch

import helpers.checks.core
import helpers.grading
from helpers.grading import run_check

TASKS_01 = {"01.affine": "Affine", "01.residual": "Residual", "01.gaussian_noise": "GaussianNoise"}


def hostile(solution01, task_id, forward):
    """The task's reference class with ``forward`` replaced."""
    name = TASKS_01[task_id]
    return {name: type(name, (solution01[name],), {"forward": forward})}


@pytest.fixture(params=sorted(TASKS_01))
def task_id(request):
    return request.param


def test_exception_in_forward_fails_showing_the_learner_line(solution01, task_id):
    def forward(self, x):
        raise ValueError("bad shapes somewhere")

    result = run_check(task_id, hostile(solution01, task_id, forward))
    assert result.status == "fail"
    assert "raised ValueError" in result.message
    assert "ValueError: bad shapes somewhere" in result.message
    assert 'raise ValueError("bad shapes somewhere")' in result.message  # the learner's line


@pytest.mark.parametrize("value", [None, [1.0, 2.0], "tensor", 3.0, object()])
def test_wrong_return_type_fails_saying_so(solution01, task_id, value):
    def forward(self, x):
        return value

    result = run_check(task_id, hostile(solution01, task_id, forward))
    assert result.status == "fail"
    assert "is not a tensor" in result.message


def test_nan_output_fails(solution01, task_id):
    def forward(self, x):
        return torch.full_like(x, float("nan"))

    result = run_check(task_id, hostile(solution01, task_id, forward))
    assert result.status == "fail"


def test_endless_loop_is_stopped_with_a_clear_message(solution01, task_id):
    def forward(self, x):
        while True:
            try:
                x = x + 0
            except Exception:  # a learner's broad except must not keep the check alive
                continue

    start = time.perf_counter()
    result = run_check(task_id, hostile(solution01, task_id, forward), timeout=0.1)
    assert time.perf_counter() - start < 2
    assert result.status == "error"
    assert "ran longer than 0.1 s" in result.message
    assert result.probe is not None


def test_sleeping_code_is_stopped(solution01):
    def forward(self, x):
        time.sleep(30)

    start = time.perf_counter()
    result = run_check("01.affine", hostile(solution01, "01.affine", forward), timeout=0.1)
    assert time.perf_counter() - start < 2
    assert result.status == "error"


def test_infinite_recursion_is_explained(solution01, task_id):
    def forward(self, x):
        return self(x)

    result = run_check(task_id, hostile(solution01, task_id, forward))
    assert result.status == "fail"
    assert "forward calls itself" in result.message


def test_printed_pass_line_neither_shows_nor_fools(solution01, task_id, capsys):
    def forward(self, x):
        print(f"✓ {task_id}: passed")
        return x * 0

    result = run_check(task_id, hostile(solution01, task_id, forward))
    assert result.status == "fail"
    assert capsys.readouterr().out == ""  # nothing leaked next to the verdict
    assert "Your code printed during the check:" in result.message
    assert f"| ✓ {task_id}: passed" in result.message


@pytest.mark.parametrize("exc", [SystemExit(0), KeyboardInterrupt()])
def test_exit_and_interrupt_are_errors_not_crashes(solution01, task_id, exc):
    def forward(self, x):
        raise exc

    result = run_check(task_id, hostile(solution01, task_id, forward))
    assert result.status == "error"


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
