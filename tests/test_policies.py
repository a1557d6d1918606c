"""Project-wide rules that a single grep can prove."""

from __future__ import annotations

import re

import nbformat
from conftest import ROOT

SAFE = re.compile(r"\bweights_only\s*=\s*True\b")
# A catalogued learner mistake may load unsafely; its line says so.
ON_PURPOSE = "# unsafe on purpose"


def unsafe_loads(text: str, *, allow_marked: bool = False) -> list[str]:
    """Every ``torch.load(...)`` call in ``text`` whose arguments lack weights_only=True
    (with ``allow_marked``, except calls whose line ends with ``# unsafe on purpose``)."""
    found = []
    for match in re.finditer(r"\btorch\.load\(", text):
        depth, end = 1, match.end()
        while depth and end < len(text):
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            end += 1
        call = text[match.start() : end]
        rest_of_line = text[end:].split("\n", 1)[0]
        if allow_marked and rest_of_line.strip() == ON_PURPOSE:
            continue
        if not SAFE.search(call):
            found.append(call)
    return found


def sources():
    for path in sorted(ROOT.glob("**/*.py")):
        if ".venv" not in path.parts:
            yield path, path.read_text(encoding="utf-8")
    for folder in ("notebooks", "solutions", "exercises"):
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            yield path, "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def test_torch_load_always_uses_weights_only():
    offenders = [
        f"{path.relative_to(ROOT)}: {call}"
        for path, text in sources()
        if path.name != "test_policies.py"
        for call in unsafe_loads(text, allow_marked=path.parent.name == "catalogue")
    ]
    assert offenders == []


def test_the_scan_tells_safe_from_unsafe_calls():
    assert unsafe_loads('torch.load("model.pt")')
    assert unsafe_loads("torch.load(path, weights_only=False)")
    assert unsafe_loads("torch.load(Path(folder) / name)")
    assert not unsafe_loads("torch.load(path, weights_only=True)")
    assert not unsafe_loads('torch.load(Path(p), map_location="cpu",\n   weights_only=True)')
    marked = "torch.load(path, weights_only=False)  # unsafe on purpose"
    assert unsafe_loads(marked) and not unsafe_loads(marked, allow_marked=True)
    assert unsafe_loads("torch.load(path)  # unsafe on purpose, but not alone", allow_marked=True)


def test_committed_notebooks_carry_no_execution_timestamps():
    """nbconvert --execute records when each cell ran; diffs must show changes, not times."""
    stamped = [
        str(path.relative_to(ROOT))
        for folder in ("notebooks", "solutions", "exercises")
        for path in sorted((ROOT / folder).glob("*.ipynb"))
        if any("execution" in c.metadata for c in nbformat.read(path, as_version=4).cells)
    ]
    assert stamped == [], "re-execute with `python -m helpers execute` (README, For maintainers)"


def test_committed_notebooks_save_no_widget_views():
    """A saved widget view shows as VBox(...) text until a kernel runs the cell: widget
    cells are committed without output (and say to run them)."""
    from helpers.notebooks import WIDGET_VIEW

    saved = [
        f"{path.relative_to(ROOT)} cell {index}"
        for folder in ("notebooks", "solutions")
        for path in sorted((ROOT / folder).glob("*.ipynb"))
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells)
        if any(WIDGET_VIEW in o.get("data", {}) for o in cell.get("outputs", []))
    ]
    assert saved == [], "re-execute with `python -m helpers execute` (README, For maintainers)"


def test_the_repository_is_self_contained():
    """Nothing committed points outside the repository: no path to the folder beside it
    and no mention of documents that live only there."""
    import subprocess

    outside = re.compile(r"\.\./" + "shared" + r"|\b(?:" + "DESIGN|SYLLABUS|STYLE" + r")\.md\b")
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    found = []
    for name in files:
        path = ROOT / name
        if path.suffix in {".png", ".jpg"} or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="ignore")
        found += [f"{name}: {m.group(0)}" for m in outside.finditer(text)]
    assert found == []


def test_every_workflow_runs_what_the_repository_has():
    """The GitHub workflows parse, and every course command they run exists here: a
    script they call, a requirements file they install, a ``python -m helpers``
    subcommand (a renamed one would break them where no test runs them)."""
    import subprocess
    import sys

    import yaml

    problems, subcommands = [], set()
    for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert {"name", "on", "jobs"} <= set(workflow), path.name
        runs = [
            step["run"]
            for job in workflow["jobs"].values()
            for step in job.get("steps", [])
            if "run" in step
        ]
        for command in runs:
            for script in re.findall(r"(?<![\w/])\./(\S+)", command):
                if not (ROOT / script).is_file():
                    problems.append(f"{path.name}: ./{script} is missing")
            for requirements in re.findall(r"-r\s+(\S+)", command):
                if not (ROOT / requirements).is_file():
                    problems.append(f"{path.name}: {requirements} is missing")
            subcommands |= {(path.name, sub) for sub in re.findall(r"-m helpers (\w+)", command)}
    for name, sub in sorted(subcommands):
        command = [sys.executable, "-m", "helpers", sub, "--help"]
        if subprocess.run(command, cwd=ROOT, capture_output=True).returncode != 0:
            problems.append(f"{name}: python -m helpers {sub} does not exist")
    assert subcommands, "no workflow runs python -m helpers"
    assert problems == []
