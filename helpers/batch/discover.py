"""Who the students are and which of their files is which lesson.

Every direct subfolder of the submissions folder is one student, named by the folder.
Every ``.ipynb`` below it, at any depth, is a course exercise when its metadata names a
lesson of ``TASKS`` (``python -m helpers build`` writes ``{"lesson": "01", ...}`` there)
or, failing that, when its file name does (``01_module (1).ipynb``, ``Copy of
01_module_exercise.ipynb``). Of two notebooks of one lesson, the newest file (latest
modification time; of two equally new, the last by path) is graded. Hidden files and
folders (``.ipynb_checkpoints``, ``.git``) and ``__MACOSX`` are skipped; every other file is
listed as not graded, symbolic links included (a link to another student's notebook or to a
file outside the submissions is never graded, and a link is never followed).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from helpers.build import METADATA_KEY

__all__ = ["Notebook", "Student", "discover", "lessons", "shard_of", "student"]

_LEADING_LESSON = re.compile(r"^(\d\d)(?!\d)")
_SKIPPED = ("__MACOSX", "__pycache__")


def lessons() -> dict[str, str]:
    """Every lesson with tasks: ``{"01": "01_module", ...}``, in TASKS order."""
    from helpers.grading import TASKS

    found: dict[str, str] = {}
    for task in TASKS.values():
        found.setdefault(task.notebook[:2], task.notebook)
    return found


@dataclass
class Notebook:
    """A submitted notebook that is a course exercise."""

    path: Path  # absolute
    relpath: str  # relative to the submissions folder, with forward slashes
    lesson: str  # "01"
    mtime: float


@dataclass
class Student:
    id: str
    folder: Path
    graded: dict[str, Notebook] = field(default_factory=dict)  # lesson -> notebook
    older: list[tuple[Notebook, Notebook]] = field(default_factory=list)  # (older, graded)
    not_graded: list[dict[str, str]] = field(default_factory=list)  # path, reason


def lesson_of(path: Path, known: dict[str, str]) -> str | None:
    """The lesson of a notebook file: from its metadata first, from its name second."""
    try:
        data = json.loads(path.read_bytes())
        lesson = data["metadata"][METADATA_KEY]["lesson"]
        if lesson in known:
            return lesson
    except Exception:  # not JSON, no metadata: the name decides
        pass
    stem = path.stem
    for lesson, notebook in known.items():
        if notebook in stem:
            return lesson
    match = _LEADING_LESSON.match(stem)
    if match and match[1] in known:
        return match[1]
    return None


def student(folder: Path, root: Path, known: dict[str, str] | None = None) -> Student:
    """One student's files: the graded notebook of each lesson, the rest listed."""
    known = lessons() if known is None else known
    found = Student(folder.name, folder)
    by_lesson: dict[str, list[Notebook]] = {}
    for path in sorted(_files(folder)):
        relpath = path.relative_to(root).as_posix()
        if path.is_symlink():
            found.not_graded.append({"path": relpath, "reason": "a symbolic link (not followed)"})
            continue
        if path.suffix.lower() != ".ipynb":
            found.not_graded.append({"path": relpath, "reason": "not a notebook"})
            continue
        lesson = lesson_of(path, known)
        if lesson is None:
            found.not_graded.append(
                {
                    "path": relpath,
                    "reason": "not a course exercise (no lesson in its metadata or its name)",
                }
            )
            continue
        mtime = path.stat().st_mtime
        by_lesson.setdefault(lesson, []).append(Notebook(path, relpath, lesson, mtime))
    for lesson in sorted(by_lesson):
        candidates = sorted(by_lesson[lesson], key=lambda nb: (nb.mtime, nb.relpath))
        newest = candidates[-1]
        found.graded[lesson] = newest
        for older in candidates[:-1]:
            found.older.append((older, newest))
            found.not_graded.append(
                {
                    "path": older.relpath,
                    "reason": f"an older notebook of lesson {lesson}; "
                    f"the newest, {newest.relpath}, was graded",
                }
            )
    return found


def _files(folder: Path) -> list[Path]:
    files = []
    for path in folder.rglob("*"):
        parts = path.relative_to(folder).parts
        if any(part.startswith(".") or part in _SKIPPED for part in parts):
            continue
        if path.is_symlink() or path.is_file():  # rglob does not descend into links
            files.append(path)
    return files


def discover(root: Path, exclude: Path | None = None) -> list[Student]:
    """Every student of the submissions folder ``root``, sorted by id; ``exclude`` (the
    grader's own output folder, when it is inside ``root``) is not a student."""
    known = lessons()
    skip = exclude.resolve() if exclude is not None else None
    folders = sorted(
        (
            p
            for p in root.iterdir()
            if p.is_dir() and not p.name.startswith(".") and p.resolve() != skip
        ),
        key=lambda p: p.name,
    )
    return [student(folder, root, known) for folder in folders if folder.name not in _SKIPPED]


def shard_of(student_id: str, shards: int) -> int:
    """The shard (1..shards) a student belongs to: a stable hash of the id, the same on
    every machine and in every run, so that parts never overlap whatever else changes."""
    digest = hashlib.sha256(student_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % shards + 1
