"""Grade notebooks in parallel: one supervisor process per notebook, ``workers`` at a time.

Each notebook becomes a job for ``helpers.batch.supervisor`` (its code cells without the
one-line check cells, the lesson's task ids, the limits). Its answer becomes the
notebook's record: path, lesson, outcome, seconds, the errors of its cells, and a
verdict per task of the lesson.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from helpers.batch.discover import Notebook, Student, lessons
from helpers.batch.supervisor import TAMPERED, become_subreaper, descendants

__all__ = ["Limits", "grade_notebook", "grade_students"]

_CHECK_CELL = re.compile(r"^\s*run_check\(.*\)\s*$")
_IN_KERNEL_TAMPERED = "the grader or torch was modified"  # run_check's own guard
_SYMBOLS = {"pass": "✓", "fail": "✗", "not_implemented": "…", "error": "!"}


@dataclass(frozen=True)
class Limits:
    timeout: float = 120.0
    memory_mb: int = 4096
    workers: int = 1


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def lesson_tasks(lesson: str) -> list[str]:
    from helpers.grading import TASKS

    notebook = lessons()[lesson]
    return [task_id for task_id, task in TASKS.items() if task.notebook == notebook]


def read_cells(notebook: Notebook) -> list[dict[str, Any]]:
    """The code cells to run, numbered as code cells of the notebook; the one-line check
    cells are left out (the grader runs the checks itself). Raises ValueError when the
    file is not a notebook."""
    import nbformat

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nb = nbformat.reads(notebook.path.read_text(encoding="utf-8"), as_version=4)
    cells, number = [], 0
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        number += 1
        source = cell.get("source", "")
        if not isinstance(source, str):
            raise ValueError("a cell's source is not text")
        if _CHECK_CELL.match(source) and "\n" not in source.strip():
            continue
        cells.append({"number": number, "source": source})
    return cells


def _error_entry(task_id: str, headline: str, detail: str | None = None) -> dict[str, str]:
    message = f"! {task_id}: {headline}"
    if detail:
        message += "\n" + "\n".join(f"  {line}" for line in detail.splitlines())
    return {"status": "error", "headline": headline, "message": message}


def grade_notebook(notebook: Notebook, limits: Limits, threads: int = 1) -> dict[str, Any]:
    """The record of one notebook (see the module docstring)."""
    from helpers.grading import TASKS

    tasks = lesson_tasks(notebook.lesson)
    record: dict[str, Any] = {"path": notebook.relpath, "lesson": notebook.lesson}
    start = time.monotonic()
    try:
        cells = read_cells(notebook)
    except Exception as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        record.update(outcome="unreadable", seconds=0.0, reason=f"not a valid notebook: {why}")
        record["tasks"] = {
            t: _error_entry(t, "the notebook could not be read", record["reason"]) for t in tasks
        }
        return record
    job = {
        "cells": cells,
        "tasks": tasks,
        "timeout": limits.timeout,
        "memory_mb": limits.memory_mb,
        "threads": threads,
        "grade_seconds": sum(TASKS[t].timeout for t in tasks) + 30.0,
    }
    result = _supervise(job)
    record.update(
        outcome=result["outcome"],
        seconds=round(time.monotonic() - start, 2),
        reason=result.get("reason"),
        cell_errors=result.get("cell_errors", []),
        cells_run=result.get("cells_run", 0),
        cells=len(cells),
        reran=result.get("reran", False),
    )
    if result.get("exit_requested"):
        record["note"] = "the notebook called exit(); as in Jupyter, the kernel went on"
    record["tasks"] = _verdicts(tasks, result)
    return record


def _verdicts(tasks: list[str], result: dict[str, Any]) -> dict[str, dict[str, str]]:
    tampered = result.get("tampered")
    verdicts = result.get("verdicts") or {}
    if not tampered and any(
        isinstance(v, dict) and str(v.get("headline", "")).startswith(_IN_KERNEL_TAMPERED)
        for v in verdicts.values()
    ):
        tampered = ["(found by run_check's own guard)"]
    out = {}
    for task_id in tasks:
        verdict = verdicts.get(task_id)
        if tampered:
            shown = ", ".join(tampered[:5]) + (
                f" and {len(tampered) - 5} more" if len(tampered) > 5 else ""
            )
            out[task_id] = _error_entry(
                task_id,
                TAMPERED,
                f"Changed: {shown}\nNo verdict of this notebook can be trusted. Hint: remove "
                "the code that reassigns the course's or torch's functions, then submit again.",
            )
        elif not isinstance(verdict, dict):
            out[task_id] = _error_entry(
                task_id, "no verdict: the notebook could not be graded", result.get("reason")
            )
        elif verdict.get("missing") and result["outcome"] != "graded":
            names = ", ".join(f"`{n}`" for n in verdict["missing"])
            out[task_id] = _error_entry(
                task_id,
                f"not reached: the notebook stopped before {names} was defined",
                result.get("reason"),
            )
        else:
            out[task_id] = {
                "status": verdict["status"],
                "headline": verdict["headline"],
                "message": verdict["message"],
            }
    return out


# The supervisors running now (this process is a subreaper while it grades: a process
# whose supervisor the notebook killed becomes this process's child, and is swept).
_LIVE: set[int] = set()
_LIVE_LOCK = threading.Lock()


def _supervise(job: dict[str, Any]) -> dict[str, Any]:
    """Run one supervisor; if it hangs (a grader bug) or dies (killed by the notebook),
    kill everything it left."""
    outer = 2 * (120.0 + job["timeout"] + job["grade_seconds"]) + 60.0
    with _LIVE_LOCK:
        process = subprocess.Popen(
            [sys.executable, "-m", "helpers.batch.supervisor"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a notebook's os.killpg() cannot reach the grader
        )
        _LIVE.add(process.pid)
    try:
        out, err = process.communicate(json.dumps(job).encode(), timeout=outer)
    except subprocess.TimeoutExpired:
        for pid in descendants(process.pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        process.kill()
        out, err = process.communicate()
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(process.pid)
    try:
        result = json.loads(out)
    except ValueError:
        _sweep()
        code = process.returncode
        if code is not None and code < 0:
            why = f"was killed by {signal.Signals(-code).name} (probably by the notebook)"
        else:
            tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            why = f"failed: {tail[0]}"
        return {"outcome": "crashed", "reason": f"the grader's supervisor {why}"}
    return result


def _sweep() -> None:
    """Kill and reap every process below this one that no live supervisor owns: what a
    notebook left when it killed its supervisor (reparented here, the subreaper)."""
    me = os.getpid()
    for _ in range(100):
        with _LIVE_LOCK:
            table = descendants(me)
            stray = [
                pid for pid, (parent, _, _) in table.items() if parent == me and pid not in _LIVE
            ]
            below = {pid: parent for pid, (parent, _, _) in table.items()}
            doomed = set(stray)
            for pid in below:
                ancestor = pid
                while ancestor in below and ancestor not in doomed:
                    ancestor = below[ancestor]
                if ancestor in doomed:
                    doomed.add(pid)
            for pid in doomed:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            for pid in stray:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
        if not stray:
            return
        time.sleep(0.01)


def grade_students(
    students: list[Student],
    limits: Limits,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Every student's notebook records (by student id). ``progress(students_done,
    notebooks_done)`` is called after each notebook."""
    jobs = [(s, nb) for s in students for _, nb in sorted(s.graded.items())]
    records: dict[str, list[dict[str, Any]]] = {s.id: [] for s in students}
    left = {s.id: len(s.graded) for s in students}
    lock = threading.Lock()
    done = {"students": sum(1 for s in students if not s.graded), "notebooks": 0}
    threads = max(1, cores() // max(1, limits.workers))
    if progress:
        progress(done["students"], 0)

    def one(student: Student, notebook: Notebook) -> None:
        record = grade_notebook(notebook, limits, threads)
        with lock:
            records[student.id].append(record)
            left[student.id] -= 1
            done["notebooks"] += 1
            if left[student.id] == 0:
                done["students"] += 1
            if progress:
                progress(done["students"], done["notebooks"])

    subreaper = become_subreaper()
    pool = ThreadPoolExecutor(max_workers=max(1, limits.workers))
    try:
        for future in [pool.submit(one, s, nb) for s, nb in jobs]:
            future.result()
    except BaseException:  # Ctrl-C: stop the queue, and every supervisor with its kernel
        pool.shutdown(wait=False, cancel_futures=True)
        with _LIVE_LOCK:
            for pid in list(_LIVE):
                for below in [pid, *descendants(pid)]:
                    with contextlib.suppress(OSError):
                        os.kill(below, signal.SIGKILL)
        raise
    finally:
        pool.shutdown(wait=True)
        if subreaper:
            _sweep()
            become_subreaper(False)
    for student_records in records.values():
        student_records.sort(key=lambda r: r["lesson"])
    return records


def symbol(status: str) -> str:
    return _SYMBOLS.get(status, "?")
