"""What the grader writes: ``gradebook.csv``, ``results.json``, ``feedback/<student>.md``,
and GitHub Classroom's autograding result.

Everything is derived from one structure, the ``results.json`` document, so that merging
the parts of a sharded run (``--merge``) writes exactly what one run would have.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from helpers.batch.runner import symbol

__all__ = [
    "build_results",
    "classroom_result",
    "columns",
    "feedback_markdown",
    "merge_results",
    "write_outputs",
]

_NOT_SUBMITTED = "not submitted: no notebook of lesson {lesson} was found"


def versions() -> dict[str, str]:
    import torch

    try:
        course = metadata.version("inside-nn-module-helpers")
    except metadata.PackageNotFoundError:
        course = "unknown"
    return {"course": course, "torch": torch.__version__, "python": platform.python_version()}


def columns(lessons_submitted: set[str]) -> list[str]:
    """Every task of the submitted lessons, in TASKS order."""
    from helpers.grading import TASKS

    return [t for t, task in TASKS.items() if task.notebook[:2] in lessons_submitted]


def _fill(student: dict[str, Any], task_ids: list[str]) -> None:
    """Give the student every column: a task of a lesson they did not submit is an error
    (scored 0) that says so; the score follows."""
    from helpers.grading import TASKS

    submitted = {nb["lesson"] for nb in student["notebooks"]}
    tasks = {}
    for task_id in task_ids:
        lesson = TASKS[task_id].notebook[:2]
        entry = student["tasks"].get(task_id) if lesson in submitted else None
        if entry is None:
            headline = _NOT_SUBMITTED.format(lesson=lesson)
            entry = {"status": "error", "headline": headline, "message": f"! {task_id}: {headline}"}
        tasks[task_id] = {**entry, "lesson": lesson}
    student["tasks"] = tasks
    score = sum(1 for entry in tasks.values() if entry["status"] == "pass")
    student["score"], student["max_score"] = score, len(task_ids)
    student["percent"] = round(100 * score / len(task_ids), 1) if task_ids else 0.0


def build_results(
    students: dict[str, dict[str, Any]], limits: dict[str, Any], shard: str
) -> dict[str, Any]:
    """The results document from per-student ``{"notebooks", "not_graded", "tasks"}``."""
    submitted = {nb["lesson"] for s in students.values() for nb in s["notebooks"]}
    task_ids = columns(submitted)
    for student in students.values():
        _fill(student, task_ids)
    return {
        "grader": versions(),
        "limits": limits,
        "shard": shard,
        "tasks": task_ids,
        "students": {sid: students[sid] for sid in sorted(students)},
    }


def merge_results(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One results document from the parts of a sharded run."""
    students: dict[str, dict[str, Any]] = {}
    for part in parts:
        for sid, student in part["students"].items():
            if sid in students:
                raise ValueError(f"student {sid!r} is in two parts")
            lessons = {nb["lesson"] for nb in student["notebooks"]}
            kept = {t: e for t, e in student["tasks"].items() if e.get("lesson") in lessons}
            students[sid] = {**student, "tasks": kept}
    merged = build_results(students, parts[0]["limits"] if parts else {}, "merged")
    merged["parts"] = [part.get("shard") for part in parts]
    return merged


# A cell that starts with one of these is a formula to a spreadsheet (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: str) -> str:
    """A student id as the gradebook writes it: a leading ``'`` before an id that a
    spreadsheet would run as a formula (``=HYPERLINK(...)``, ``+1``, ``-x``, ``@x``), so that
    opening the file runs nothing; results.json and feedback keep the id as it is."""
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def gradebook_csv(results: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", *results["tasks"], "score", "max_score", "percent"])
    for sid, student in results["students"].items():
        cells = [1 if student["tasks"][t]["status"] == "pass" else 0 for t in results["tasks"]]
        percent = f"{student['percent']:.1f}"
        writer.writerow([csv_text(sid), *cells, student["score"], student["max_score"], percent])
    return out.getvalue()


_STATUS_WORDS = {
    "pass": "passed",
    "fail": "failed",
    "not_implemented": "not implemented yet",
    "error": "no verdict",
}


def feedback_markdown(sid: str, student: dict[str, Any]) -> str:
    """What the learner reads: per lesson and task the verdict and the check's message,
    and why a notebook could not be graded."""
    from helpers.grading import TASKS

    lines = [
        f"# Feedback for {sid}",
        "",
        f"Score: **{student['score']} / {student['max_score']}** ({student['percent']:.1f} %)",
        "",
    ]
    notebooks = {nb["lesson"]: nb for nb in student["notebooks"]}
    by_lesson: dict[str, list[str]] = {}
    for task_id, entry in student["tasks"].items():
        by_lesson.setdefault(entry["lesson"], []).append(task_id)
    for lesson, task_ids in by_lesson.items():
        title = TASKS[task_ids[0]].notebook
        lines += [f"## Lesson {lesson} · {title}", ""]
        nb = notebooks.get(lesson)
        if nb is None:
            lines += [
                f"No notebook of lesson {lesson} was found in your submission: its "
                f"{len(task_ids)} tasks score 0.",
                "",
            ]
            continue
        lines += _notebook_lines(nb)
        for task_id in task_ids:
            entry = student["tasks"][task_id]
            status = entry["status"]
            lines += [
                f"### {symbol(status)} {task_id}: {_STATUS_WORDS[status]}",
                "",
                "```text",
                entry["message"],
                "```",
                "",
            ]
    if student.get("not_graded"):
        lines += ["## Files not graded", ""]
        lines += [f"- `{f['path']}`: {f['reason']}" for f in student["not_graded"]]
        lines.append("")
    return "\n".join(lines)


def _notebook_lines(nb: dict[str, Any]) -> list[str]:
    lines = [f"Graded: `{nb['path']}`"]
    if nb.get("older"):
        others = ", ".join(f"`{p}`" for p in nb["older"])
        lines[0] += f" (the newest of your notebooks of this lesson; not graded: {others})"
    lines.append("")
    outcome = nb["outcome"]
    if outcome == "graded":
        lines += [f"The notebook ran to the end in {nb['seconds']:.1f} s.", ""]
    elif outcome == "unreadable":
        lines += [f"**The notebook could not be read**: {nb.get('reason')}.", ""]
    else:
        lines += [
            f"**The notebook could not be graded to the end** ({outcome}): {nb.get('reason')}.",
            "",
        ]
        lines += (
            [
                "The cells before that point were run again in a fresh kernel, so the tasks "
                "they define still have verdicts.",
                "",
            ]
            if nb.get("reran")
            else []
        )
    if nb.get("note"):
        lines += [f"Note: {nb['note']}.", ""]
    errors = nb.get("cell_errors") or []
    if errors:
        lines += ["Cells that raised an error (the following cells still ran):", ""]
        for error in errors:
            where = f", line {error['line']}" if error.get("line") else ""
            lines.append(
                f"- code cell {error['cell']} (`{error['first_line']}`){where}: "
                f"`{error['name']}: {error['text'].splitlines()[0] if error['text'] else ''}`"
            )
        lines.append("")
    return lines


def classroom_result(student: dict[str, Any]) -> dict[str, Any]:
    """GitHub Classroom's autograding result (what its reporter action reads from a
    runner step's ``result`` output, base64-encoded JSON): one test per task, max 1."""
    tests = []
    for task_id, entry in student["tasks"].items():
        passed = entry["status"] == "pass"
        tests.append(
            {
                "name": task_id,
                "status": "pass" if passed else ("error" if entry["status"] == "error" else "fail"),
                "message": entry["message"],
                "test_code": f'run_check("{task_id}", globals())',
                "filename": "",
                "line_no": 0,
                "execution_time": "",
                "score": 1 if passed else 0,
                "max_score": 1,
            }
        )
    overall = "pass" if all(t["status"] == "pass" for t in tests) else "fail"
    return {"version": 1, "status": overall, "max_score": len(tests), "tests": tests}


def write_classroom(student: dict[str, Any], out: Path | None) -> Path:
    """Write the Classroom result as ``classroom.json`` (in ``out`` or here) and, on
    GitHub Actions, as the step output ``result`` (base64) for the reporter."""
    result = classroom_result(student)
    path = (out or Path.cwd()) / "classroom.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    github_output = os.environ.get("GITHUB_OUTPUT")
    if github_output:
        encoded = base64.b64encode(json.dumps(result).encode()).decode()
        with open(github_output, "a", encoding="utf-8") as file:
            file.write(f"result={encoded}\n")
    return path


def write_outputs(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "gradebook.csv").write_text(gradebook_csv(results), encoding="utf-8")
    (out / "results.json").write_text(
        json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    feedback = out / "feedback"
    feedback.mkdir(exist_ok=True)
    for sid, student in results["students"].items():
        (feedback / f"{sid}.md").write_text(feedback_markdown(sid, student), encoding="utf-8")
