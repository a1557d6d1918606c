"""``python -m helpers grade``: grade a class, one learner, or merge the parts of a class.

    python -m helpers grade SUBMISSIONS_DIR --out OUT_DIR [--workers N] [--timeout SECONDS]
                            [--memory-mb MB] [--shard K/N]
    python -m helpers grade --merge PART_DIR... --out OUT_DIR
    python -m helpers grade --student DIR [--classroom] [--out OUT_DIR]

Exit status 0 when every submission was graded, whatever the scores; 2 with a one-line
error when the command itself cannot run (bad arguments, a folder it cannot read).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

__all__ = ["main"]


MIN_MEMORY_MB = 1024  # below this, no kernel can even start (torch's libraries)


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, no usage block
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    from helpers.batch.runner import cores

    parser = _Parser(prog="python -m helpers grade", description=__doc__.splitlines()[0])
    parser.add_argument("submissions", nargs="?", type=Path, help="one subfolder per student")
    parser.add_argument(
        "--out", type=Path, help="where gradebook.csv, results.json and feedback/ are written"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=cores(),
        help="notebooks graded at once (default: the number of CPU cores)",
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="wall-clock seconds per notebook (default 120)"
    )
    parser.add_argument(
        "--memory-mb", type=int, default=4096, help="memory per notebook in MB (default 4096)"
    )
    parser.add_argument(
        "--shard",
        default="1/1",
        help="grade only the K-th of N disjoint slices of the students (default 1/1)",
    )
    parser.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        metavar="PART_DIR",
        help="merge the OUT_DIRs of sharded runs into --out",
    )
    parser.add_argument(
        "--student",
        type=Path,
        metavar="DIR",
        help="grade one learner's folder and print the feedback",
    )
    parser.add_argument(
        "--classroom",
        action="store_true",
        help="with --student: write GitHub Classroom's autograding result",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise UsageError(f"--shard must be K/N, e.g. 2/5 (got {text!r})") from None
    if not 1 <= k <= n:
        raise UsageError(f"--shard K/N needs 1 <= K <= N (got {text!r})")
    return k, n


def _check(args: argparse.Namespace) -> None:
    modes = sum(x is not None for x in (args.submissions, args.merge, args.student))
    if modes != 1:
        raise UsageError(
            "give exactly one of SUBMISSIONS_DIR, --merge PART_DIR... or --student DIR"
        )
    if args.classroom and args.student is None:
        raise UsageError("--classroom goes with --student DIR")
    if args.out is None and args.student is None:
        raise UsageError("--out OUT_DIR is required")
    if args.workers < 1:
        raise UsageError(f"--workers must be at least 1 (got {args.workers})")
    if not (args.timeout > 0 and math.isfinite(args.timeout)):
        raise UsageError(f"--timeout must be a positive number of seconds (got {args.timeout:g})")
    if args.memory_mb < MIN_MEMORY_MB:
        raise UsageError(
            f"--memory-mb must be at least {MIN_MEMORY_MB}: a kernel needs about 800 MB of "
            f"address space to import torch (got {args.memory_mb})"
        )
    folder = args.submissions or args.student
    if folder is not None:
        if not folder.is_dir():
            raise UsageError(f"{folder} is not a folder")
        try:
            list(folder.iterdir())
        except OSError as exc:
            raise UsageError(f"cannot read {folder}: {exc.strerror}") from None
    if args.out is not None:
        if args.out.exists() and not args.out.is_dir():
            raise UsageError(f"--out {args.out} exists and is not a folder")
        try:
            args.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create --out {args.out}: {exc.strerror}") from None


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        _check(args)
        shard = _shard(args.shard)
        if sys.platform == "win32":
            raise UsageError("grading needs Linux or macOS (process limits); use WSL on Windows")
        if args.merge:
            return _merge(args)
        if args.student:
            return _one_student(args)
        return _class(args, shard)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def _limits(args: argparse.Namespace) -> dict[str, Any]:
    return {"timeout_s": args.timeout, "memory_mb": args.memory_mb, "workers": args.workers}


def _student_entries(students, records) -> dict[str, dict[str, Any]]:
    entries = {}
    for student in students:
        notebooks, tasks = [], {}
        older = {}
        for old, newest in student.older:
            older.setdefault(newest.relpath, []).append(old.relpath)
        for record in records[student.id]:
            nb = {k: v for k, v in record.items() if k != "tasks"}
            if record["path"] in older:
                nb["older"] = older[record["path"]]
            notebooks.append(nb)
            tasks.update(record["tasks"])
        entries[student.id] = {
            "notebooks": notebooks,
            "not_graded": student.not_graded,
            "tasks": tasks,
        }
    return entries


def _grade(students, args) -> tuple[dict[str, Any], float, int]:
    from tqdm import tqdm

    from helpers.batch.runner import Limits, grade_students

    limits = Limits(args.timeout, args.memory_mb, args.workers)
    start = time.monotonic()
    bar = tqdm(
        total=len(students),
        unit="student",
        file=sys.stderr,
        disable=args.no_progress,
        dynamic_ncols=True,
    )
    state = {"students": 0}

    def progress(students_done: int, notebooks_done: int) -> None:
        bar.update(students_done - state["students"])
        state["students"] = students_done
        elapsed = max(time.monotonic() - start, 1e-9)
        bar.set_postfix_str(f"{notebooks_done} notebooks, {notebooks_done / elapsed:.2f}/s")

    with bar:
        records = grade_students(students, limits, progress)
    notebooks = sum(len(r) for r in records.values())
    return _student_entries(students, records), time.monotonic() - start, notebooks


def _summary(results: dict[str, Any], seconds: float, notebooks: int) -> str:
    outcomes: dict[str, int] = {}
    for student in results["students"].values():
        for nb in student["notebooks"]:
            outcomes[nb["outcome"]] = outcomes.get(nb["outcome"], 0) + 1
    counts = ", ".join(f"{n} {name}" for name, n in sorted(outcomes.items())) or "none"
    students = results["students"].values()
    mean = sum(s["percent"] for s in students) / len(students) if students else 0.0
    rate = notebooks / seconds * 60 if seconds else 0.0
    return (
        f"graded {len(results['students'])} students, {notebooks} notebooks ({counts}) in "
        f"{seconds:.1f} s ({rate:.1f} notebooks/minute); mean score {mean:.1f} %"
    )


def _class(args: argparse.Namespace, shard: tuple[int, int]) -> int:
    from helpers.batch.discover import discover, shard_of
    from helpers.batch.report import build_results, write_outputs

    k, n = shard
    students = [s for s in discover(args.submissions, args.out) if shard_of(s.id, n) == k]
    entries, seconds, notebooks = _grade(students, args)
    results = build_results(entries, _limits(args), args.shard)
    write_outputs(results, args.out)
    print(f"{_summary(results, seconds, notebooks)}; wrote {args.out}")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from helpers.batch.report import merge_results, write_outputs

    parts = []
    for folder in args.merge:
        try:
            parts.append(json.loads((folder / "results.json").read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read {folder / 'results.json'}: {exc}") from None
    try:
        results = merge_results(parts)
    except Exception as exc:  # a part that is not a results.json of this grader
        raise UsageError(f"cannot merge: {type(exc).__name__}: {exc}") from None
    write_outputs(results, args.out)
    print(f"merged {len(parts)} parts: {len(results['students'])} students; wrote {args.out}")
    return 0


def _one_student(args: argparse.Namespace) -> int:
    from helpers.batch.discover import student
    from helpers.batch.report import (
        build_results,
        feedback_markdown,
        write_classroom,
        write_outputs,
    )

    folder = args.student.resolve()
    learner = student(folder, folder.parent)
    entries, seconds, notebooks = _grade([learner], args)
    results = build_results(entries, _limits(args), "1/1")
    if args.out is not None:
        write_outputs(results, args.out)
    entry = results["students"][learner.id]
    print(feedback_markdown(learner.id, entry))
    if args.classroom:
        path = write_classroom(entry, args.out)
        print(f"wrote GitHub Classroom's result: {path}", file=sys.stderr)
    print(_summary(results, seconds, notebooks), file=sys.stderr)
    return 0
