"""Grade a learner's notebook namespace against a task of the syllabus.

Example:
    >>> from helpers.grading import run_check, TASKS
    >>> result = run_check("01.affine", {})
    >>> result.status, result.passed
    ('fail', False)
    >>> "01.affine" in TASKS
    True

In a notebook the check cell is one line, ``run_check("01.affine", globals())``; the
result displays itself (a pass/fail headline, the failing probe, expected vs got, one
hint). ``run_check`` never raises, whatever the learner's code does.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import sys
import types
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from helpers import sandbox
from helpers.checks import REGISTRY, core  # importing helpers.checks registers every task

__all__ = ["TASKS", "CheckResult", "Status", "run_check"]

Status = Literal["pass", "fail", "not_implemented", "error"]

TASKS: Mapping[str, core.Task] = types.MappingProxyType(REGISTRY)
"""Every task id, with its title, the names it needs and its notebook (read-only)."""

_SYMBOLS = {"pass": "✓", "fail": "✗", "not_implemented": "…", "error": "!"}
_COLOURS = {"pass": "#1a7f37", "fail": "#cf222e", "not_implemented": "#9a6700", "error": "#8250df"}


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check.

    Attributes:
        task_id: the task's id, e.g. ``"01.affine"``.
        status: ``"pass"``, ``"fail"``, ``"not_implemented"`` or ``"error"``.
        headline: one line saying what happened.
        probe: the probe that failed (None when passed).
        expected, got: what the probe wanted and what it saw, when that applies.
        facts: further lines (mismatch counts, the line of learner code that raised).
        hint: one hint for the fix.
        printed: what the learner's code printed during the check.
        probes_passed: the probes that passed, in order.
    """

    task_id: str
    status: Status
    headline: str
    probe: str | None = None
    expected: str | None = None
    got: str | None = None
    facts: tuple[str, ...] = ()
    hint: str | None = None
    printed: str = ""
    probes_passed: tuple[str, ...] = field(default=(), repr=False)

    @property
    def passed(self) -> bool:
        """True only for status ``"pass"``."""
        return self.status == "pass"

    @property
    def message(self) -> str:
        """The full readable report: headline, probe, expected vs got, facts, hint."""
        lines = [f"{_SYMBOLS[self.status]} {self.task_id}: {self.headline}"]
        if self.status == "pass":
            lines += [f"  ✓ {p}" for p in self.probes_passed]
        if self.probe:
            lines.append(f"  Probe:    {self.probe}")
        if self.expected is not None:
            lines.append(f"  Expected: {self.expected}")
        if self.got is not None:
            lines.append(f"  Got:      {self.got}")
        lines += [f"  {fact}" for fact in self.facts]
        if self.hint:
            lines.append(f"  Hint: {self.hint}")
        if self.printed and not self.passed:
            lines.append("  Your code printed during the check:")
            lines += [f"  | {line}" for line in self.printed.splitlines()]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.message

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.message)

    def html_rows(self) -> list[tuple[str, str]]:
        """The (label, text) rows of the HTML report's grid, in order: probe, expected,
        got, the facts (no label), hint, and what the code printed (when not passed)."""
        rows: list[tuple[str, str]] = []
        if self.probe:
            rows.append(("Probe", self.probe))
        if self.expected is not None:
            rows.append(("Expected", self.expected))
        if self.got is not None:
            rows.append(("Got", self.got))
        rows += [("", fact) for fact in self.facts]
        if self.hint:
            rows.append(("Hint", self.hint))
        if self.printed and not self.passed:
            rows.append(("Printed", self.printed))
        return rows

    def _repr_html_(self) -> str:
        """The report as HTML that reads well in JupyterLab, Notebook 7 and VS Code.

        A coloured bold headline; the facts in a two-column grid, so that a wrapped line
        keeps its indent; passed probes folded into a ``<details>``; words never broken in
        the middle (front ends style output areas with ``word-break: break-all``).
        """
        esc = html.escape
        colour = _COLOURS[self.status]
        grid = "".join(
            f'<div style="{_LABEL_CSS}">{esc(label)}</div>'
            f'<div style="{_VALUE_CSS}">{_code_spans(value)}</div>'
            for label, value in self.html_rows()
        )
        body = f'<div style="{_GRID_CSS}">{grid}</div>' if grid else ""
        if self.passed and self.probes_passed:
            items = "".join(f"<li>{_code_spans(p)}</li>" for p in self.probes_passed)
            body += (
                f'<details style="margin-top: 2px"><summary style="cursor: pointer">'
                f"{len(self.probes_passed)} probes passed</summary>"
                f'<ul style="margin: 2px 0 0 0; padding-left: 1.6em">{items}</ul></details>'
            )
        headline = (
            f'<div style="color: {colour}; font-weight: bold">'
            f"{_SYMBOLS[self.status]} {esc(self.task_id)}: {_code_spans(self.headline)}</div>"
        )
        return (
            f'<div class="inside-nn-module-check" data-status="{self.status}" '
            f'style="{_BOX_CSS} border-left: 4px solid {colour}">{headline}{body}</div>'
        )


# No word is broken in the middle, but a long unbroken token may still wrap.
_BOX_CSS = (
    "padding: 4px 10px; margin: 2px 0; line-height: 1.45; font-size: 13px; "
    "word-break: normal; overflow-wrap: break-word; white-space: normal; "
    "font-family: var(--jp-content-font-family, system-ui, sans-serif);"
)
_GRID_CSS = "display: grid; grid-template-columns: max-content 1fr; column-gap: 0.8em;"
_LABEL_CSS = "color: #6e7781; white-space: nowrap;"
_VALUE_CSS = "white-space: pre-wrap; min-width: 0;"
_CODE_CSS = (
    "font-family: var(--jp-code-font-family, monospace); font-size: 0.95em; "
    "background: rgba(127, 127, 127, 0.15); padding: 0 3px; border-radius: 3px"
)


def _code_spans(text: str) -> str:
    """Escape ``text`` for HTML; `backquoted` parts become code spans."""
    parts = html.escape(text).split("`")
    if len(parts) % 2 == 0:  # an unmatched backquote: show it as it is
        return html.escape(text)
    return "".join(
        f'<code style="{_CODE_CSS}">{part}</code>' if i % 2 else part
        for i, part in enumerate(parts)
    )


def run_check(
    task_id: str, namespace: Mapping[str, Any], *, timeout: float | None = None
) -> CheckResult:
    """Check the learner's definitions in ``namespace`` against task ``task_id``.

    Args:
        task_id: an id of ``TASKS``, e.g. ``"01.affine"``.
        namespace: where the learner's names live; in a notebook, ``globals()``.
        timeout: seconds the learner's code may run in total (default: the task's).

    Returns:
        A ``CheckResult``; this function never raises.
    """
    try:
        return _run_check(task_id, namespace, timeout)
    except BaseException as exc:  # the promise: never raise, whatever happened
        try:
            tampered = _tampered()
        except BaseException:
            tampered = ["(the tamper guard itself)"]
        if tampered:  # a patched grader or torch is the likelier cause
            return _tampered_result(_id_text(task_id), tampered)
        return CheckResult(
            _id_text(task_id),
            "error",
            "the check itself failed (a bug in the course: please report it)",
            got=_exception_text(exc),
        )


def _exception_text(exc: BaseException) -> str:
    try:
        return f"{type(exc).__name__}: {exc}"
    except BaseException:  # an exception whose str() raises
        return type(exc).__name__


def _id_text(task_id: object) -> str:
    """The task id for a message, without calling anything on a non-string."""
    return task_id if isinstance(task_id, str) else f"<{type(task_id).__name__}>"


def _run_check(task_id: str, namespace: Mapping[str, Any], timeout: float | None) -> CheckResult:
    task = REGISTRY.get(task_id) if isinstance(task_id, str) else None
    if task is None:
        known = ", ".join(sorted(REGISTRY))
        return CheckResult(
            _id_text(task_id), "error", "unknown task id", hint=f"Known task ids: {known}."
        )
    if not isinstance(namespace, Mapping):
        return CheckResult(
            task_id,
            "error",
            "the namespace is not a mapping",
            got=f"a {type(namespace).__name__}",
            hint=f'Pass the notebook\'s globals: run_check("{task_id}", globals()).',
        )
    tampered = _tampered()
    if tampered:
        return _tampered_result(task_id, tampered)

    _warm_up()
    limit = timeout or task.timeout
    checker = core.Checker(namespace)
    outcome: CheckResult | None = None
    captured = None
    try:
        with sandbox.isolated(limit, namespace) as captured:
            torch.random.manual_seed(zlib.crc32(task_id.encode()))
            task.check(checker)
    except core.Fail as failure:
        outcome = CheckResult(
            task_id,
            "fail",
            failure.headline,
            probe=failure.probe,
            expected=failure.expected,
            got=failure.got,
            facts=failure.facts,
            hint=failure.hint,
        )
    except core.NotImplementedYet as stub:
        outcome = CheckResult(
            task_id,
            "not_implemented",
            "not implemented yet",
            facts=(str(stub),),
            hint="Replace the `raise NotImplementedError(...)` lines with your code, run "
            "that cell, then run this check again.",
        )
    except sandbox.TimeLimitExceeded:
        outcome = CheckResult(
            task_id,
            "error",
            f"your code ran longer than {limit:g} s and was stopped",
            probe=checker.interrupted_at,
            hint="Look for a loop that never ends (a `while` whose condition never "
            "changes, or a forward that calls itself).",
        )
    except KeyboardInterrupt:
        outcome = CheckResult(
            task_id, "error", "the check was interrupted", probe=checker.interrupted_at
        )
    except SystemExit as exc:
        outcome = CheckResult(
            task_id,
            "error",
            "your code called exit()",
            probe=checker.interrupted_at,
            got=f"SystemExit({exc.code!r})",
            hint="Remove the exit()/sys.exit() call from your code.",
        )
    printed = captured.printed() if captured is not None else ""

    tampered = _tampered()
    if tampered:
        return _tampered_result(task_id, tampered)
    if outcome is None:
        outcome = CheckResult(
            task_id,
            "pass",
            f"passed — {task.title} ({len(checker.passed)} probes)",
            probes_passed=tuple(checker.passed),
        )
    return dataclasses.replace(outcome, printed=printed)


# Bound at import, before any learner code runs, like the toolkit's torch functions.
_ADAM, _LINEAR = torch.optim.Adam, torch.nn.functional.linear
_WARM_UP_LIMIT = 60.0


@functools.cache
def _warm_up() -> None:
    """Pay torch's one-time costs before the first check's time limit starts.

    The first optimizer step in a process imports a large part of torch (about a second),
    and checks also run modules on the meta device; learner code must not be charged for
    that. Built from zeros, so that no random number is drawn; isolated like a check
    (torch as imported, so the limit is only a safety net).
    """
    with sandbox.isolated(_WARM_UP_LIMIT):
        weight = torch.zeros(2, 3, requires_grad=True)
        optimizer = _ADAM([weight])
        _LINEAR(torch.zeros(1, 3), weight).sum().backward()
        optimizer.step()
        meta = torch.zeros(1, 3, device="meta")
        _LINEAR(meta, torch.zeros(2, 3, device="meta")).pow(2).mean()


# -- tamper guard ---------------------------------------------------------------------------
# Learner code can rebind names in the grader's modules or in torch to fool a verdict.
# Everything a verdict depends on is snapshotted here at import and compared before and
# after every check. (An instructor grades in a fresh process, where nothing was patched.)


def _guarded_namespaces() -> dict[str, dict[str, Any]]:
    """The functions, classes and class members a verdict depends on, by identity."""
    spaces: dict[str, dict[str, Any]] = {}
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "helpers" or name.startswith("helpers.")):
            continue
        members = _members(module)
        spaces[name] = members
        for member in members.values():
            if isinstance(member, type) and member.__module__ == name:
                spaces[f"{name}.{member.__qualname__}"] = _members(member)
    spaces["helpers.checks.REGISTRY"] = dict(REGISTRY)
    # Not torch.manual_seed: importing torch._dynamo (the first use of any torch.optim
    # optimizer does) rebinds it to a wrapper; the function it wraps is guarded instead.
    spaces["torch"] = {n: vars(torch)[n] for n in ("equal", "allclose", "isclose")}
    spaces["torch.random"] = {"manual_seed": torch.random.manual_seed}
    spaces["torch.nn.Module"] = _members(torch.nn.Module)
    spaces["torch.Tensor"] = _members(torch.Tensor)
    # Every module's constructor draws its parameters with these (nn.Linear: kaiming_uniform_).
    spaces["torch.nn.init"] = _members(torch.nn.init)
    return spaces


# Where a name ADDED later shadows what torch provides (torch.Tensor's methods live on its C
# base class, so `torch.Tensor.std = ...` adds a name rather than rebinding one).
_WATCHED_FOR_ADDITIONS = ("torch.nn.Module", "torch.Tensor", "torch.nn.init")


_GUARDED_KINDS = (types.ModuleType, property, staticmethod, classmethod)


def _members(owner: Any) -> dict[str, Any]:
    return {
        name: value
        for name, value in vars(owner).items()
        if callable(value) or isinstance(value, _GUARDED_KINDS)
    }


def _tampered() -> list[str]:
    """Guarded names whose object changed since import (rebound, deleted or, on torch's
    classes and torch.nn.init, added)."""
    now = _guarded_namespaces()
    changed = {
        f"{space}.{name}"
        for space, members in _SNAPSHOT.items()
        for name, value in members.items()
        if now.get(space, {}).get(name, _MISSING) is not value
    }
    changed.update(
        f"{space}.{name}"
        for space in _WATCHED_FOR_ADDITIONS
        for name in now.get(space, {})
        if name not in _SNAPSHOT[space]
    )
    return sorted(changed)


def _tampered_result(task_id: str, names: list[str]) -> CheckResult:
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return CheckResult(
        task_id,
        "error",
        "the grader or torch was modified in this kernel, so no verdict can be trusted",
        got=f"changed: {shown}",
        hint="Restart the kernel (Kernel → Restart) and run the notebook again without "
        "the code that reassigns these names.",
    )


_MISSING = object()
_SNAPSHOT = _guarded_namespaces()  # last, so that it includes this module's own names
