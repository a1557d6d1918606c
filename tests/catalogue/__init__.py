"""Per task: realistic learner mistakes (each must fail with its hint) and correct
alternatives written differently (each must pass).

An entry is registered with ``@mistake(task_id, hint=...)`` or ``@correct(task_id)`` on
the class or function the learner would define; it is given to the check under the
task's first name (``Affine`` for ``01.affine``). ``extra`` adds other names the
learner's notebook defines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from helpers.grading import TASKS


@dataclass(frozen=True)
class Case:
    task_id: str
    name: str  # the entry's own name, for test ids
    namespace: dict[str, Any] = field(repr=False)
    hint: str | None = None  # for mistakes: a phrase the failure message must contain
    status: str = "pass"  # "pass" for alternatives, "fail" (or other) for mistakes


MISTAKES: list[Case] = []
ALTERNATIVES: list[Case] = []


def mistake(task_id: str, *, hint: str, status: str = "fail", extra: dict | None = None):
    """Register a wrong solution that must get ``status`` and mention ``hint``."""

    def register(obj: Callable) -> Callable:
        namespace = {TASKS[task_id].names[0]: obj, **(extra or {})}
        MISTAKES.append(Case(task_id, obj.__name__, namespace, hint, status))
        return obj

    return register


def correct(task_id: str, *, extra: dict | None = None):
    """Register a correct solution, written differently, that must pass."""

    def register(obj: Callable) -> Callable:
        namespace = {TASKS[task_id].names[0]: obj, **(extra or {})}
        ALTERNATIVES.append(Case(task_id, obj.__name__, namespace))
        return obj

    return register
