"""Every task's checks tell right from wrong: each catalogued mistake fails with its
intended hint, and each correct alternative (and the reference solution) passes."""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections import Counter

import catalogue
import pytest
import torch
from conftest import solution_namespace

from helpers.grading import TASKS, run_check

for _module in pkgutil.iter_modules(catalogue.__path__):
    importlib.import_module(f"catalogue.{_module.name}")

# Lessons 01–04 started with 5 and 2; from lesson 05 on, a task has at least 8 and 3.
MIN_MISTAKES, MIN_ALTERNATIVES = 5, 2
MIN_MISTAKES_FROM_05, MIN_ALTERNATIVES_FROM_05 = 8, 3


@functools.cache
def _reference(notebook: str) -> dict:
    return solution_namespace(notebook)


def reference(notebook: str) -> dict:
    """A solution notebook's namespace, run once per process (a copy per test)."""
    return dict(_reference(notebook))


GENERIC_HINT = "Run the same call in a cell of your own"  # core.explain_exception's fallback


@pytest.mark.parametrize("case", catalogue.MISTAKES, ids=lambda c: f"{c.task_id}-{c.name}")
def test_mistake_fails_with_its_hint(case):
    result = run_check(case.task_id, case.namespace)
    assert result.status == case.status, result.message
    assert case.hint in result.message, result.message
    # A mistake learners really make gets a real diagnosis, never the fallback hint.
    assert GENERIC_HINT not in result.message, result.message


@pytest.mark.parametrize("case", catalogue.ALTERNATIVES, ids=lambda c: f"{c.task_id}-{c.name}")
def test_correct_alternative_passes(case):
    result = run_check(case.task_id, case.namespace)
    assert result.passed, result.message


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_reference_solution_passes(task_id):
    namespace = reference(TASKS[task_id].notebook)
    result = run_check(task_id, namespace)
    assert result.passed, result.message


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_reference_passes_after_the_notebook_set_a_default_device(task_id):
    """torch.set_default_device(device) in a notebook: the same verdict with or without a
    GPU (meta stands in for one)."""
    namespace = reference(TASKS[task_id].notebook)
    torch.set_default_device("meta")
    try:
        result = run_check(task_id, namespace)
    finally:
        torch.set_default_device(None)
    assert result.passed, result.message


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_reference_passes_when_the_notebook_defaults_to_float64(task_id):
    """torch.set_default_dtype(torch.float64) in a notebook: the checks build their inputs
    in the default dtype, and the reference still passes."""
    namespace = reference(TASKS[task_id].notebook)
    torch.set_default_dtype(torch.float64)
    try:
        result = run_check(task_id, namespace)
    finally:
        torch.set_default_dtype(torch.float32)
    assert result.passed, result.message


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_task_has_a_full_catalogue(task_id):
    mistakes = Counter(c.task_id for c in catalogue.MISTAKES)[task_id]
    alternatives = Counter(c.task_id for c in catalogue.ALTERNATIVES)[task_id]
    later = task_id >= "05."
    min_mistakes = MIN_MISTAKES_FROM_05 if later else MIN_MISTAKES
    min_alternatives = MIN_ALTERNATIVES_FROM_05 if later else MIN_ALTERNATIVES
    assert mistakes >= min_mistakes, f"{task_id}: {mistakes} mistakes catalogued"
    assert alternatives >= min_alternatives, f"{task_id}: {alternatives} alternatives"


def test_mistake_hints_are_distinct():
    """Each mistake of a task is recognised by a hint of its own."""
    seen = Counter((c.task_id, c.hint) for c in catalogue.MISTAKES)
    assert [key for key, n in seen.items() if n > 1] == []
