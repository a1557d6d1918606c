"""The instructor's grader, ``python -m helpers grade``, on a synthetic class
(``tests/make_class.py``): every gradebook cell, every outcome, the results and feedback
files, the exit status, no process left behind, and ``--shard`` + ``--merge`` equal to
one run. The class is graded once per test session (a few dozen kernels)."""

from __future__ import annotations

import base64
import csv
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import ROOT
from make_class import COLUMNS, EXPECTED, make_class

from helpers.batch.discover import shard_of
from helpers.batch.supervisor import TAMPERED

pytestmark = pytest.mark.kernel  # starts kernels: scheduled early (tests/conftest.py)

TIMEOUT = 15  # seconds per notebook: the endless loop costs this much
STATUSES = {"pass", "fail", "not_implemented", "error"}
OUTCOMES = {"graded", "timeout", "memory", "crashed", "unreadable"}
SHARDED = ["check_cells_deleted", "invalid_json", "no_notebooks", "renamed"]


# Every process of this session's grading runs inherits this variable (other sessions may
# grade on the same machine at the same time).
RUN = f"INSIDE_NN_MODULE_TEST_RUN={uuid.uuid4().hex}"


def grade(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "helpers", "grade", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, RUN.split("=")[0]: RUN.split("=")[1]},
    )


def grader_processes() -> list[str]:
    """Live processes started by this session's grading runs (a grading kernel, its
    supervisor, a child the notebook forked), as "pid: command line"."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if RUN.encode() in environ:
            found.append(f"{entry}: {cmdline}")
    return found


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The class, graded once: (completed process, out folder, results, leftovers)."""
    root = tmp_path_factory.mktemp("grading")
    make_class(root / "class")
    done = grade(str(root / "class"), "--out", str(root / "out"), "--timeout", str(TIMEOUT))
    leftovers = grader_processes()
    results = json.loads((root / "out" / "results.json").read_text(encoding="utf-8"))
    return done, root / "out", results, leftovers


@pytest.fixture(scope="module")
def students(graded):
    return graded[2]["students"]


def test_exit_status_zero_and_one_line_summary(graded):
    done = graded[0]
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"graded {len(EXPECTED)} students, 21 notebooks (")
    assert "3 crashed, 15 graded, 1 memory, 1 timeout, 1 unreadable" in lines[0]


def test_no_kernel_or_forked_child_outlives_the_command(graded):
    assert graded[3] == []


def test_gradebook_every_cell(graded):
    with open(graded[1] / "gradebook.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["student", *COLUMNS, "score", "max_score", "percent"]
    assert [row[0] for row in rows[1:]] == sorted(EXPECTED)
    for row in rows[1:]:
        passing = EXPECTED[row[0]]["pass"]
        expected_cells = ["1" if task in passing else "0" for task in COLUMNS]
        score = len(passing)
        percent = f"{100 * score / len(COLUMNS):.1f}"
        assert row[1:] == [*expected_cells, str(score), str(len(COLUMNS)), percent], row[0]


def test_every_notebook_outcome(students):
    for sid, expected in EXPECTED.items():
        got = {
            nb["path"].removeprefix(f"{sid}/"): (nb["lesson"], nb["outcome"])
            for nb in students[sid]["notebooks"]
        }
        assert got == expected["notebooks"], sid


def test_results_json_fields(graded, students):
    results = graded[2]
    assert set(results["grader"]) == {"course", "torch", "python"}
    workers = len(os.sched_getaffinity(0))  # the default: the CPU cores
    assert results["limits"] == {"timeout_s": TIMEOUT, "memory_mb": 4096, "workers": workers}
    assert results["tasks"] == COLUMNS
    for sid, student in students.items():
        assert list(student["tasks"]) == COLUMNS, sid
        for task_id, entry in student["tasks"].items():
            assert entry["status"] in STATUSES
            assert entry["message"].startswith(f"{SYMBOLS[entry['status']]} {task_id}: ")
            assert entry["headline"] and entry["headline"] in entry["message"]
            assert (entry["status"] == "pass") == (task_id in EXPECTED[sid]["pass"]), (sid, task_id)
        for nb in student["notebooks"]:
            assert nb["outcome"] in OUTCOMES
            assert isinstance(nb["seconds"], float) and nb["seconds"] >= 0


SYMBOLS = {"pass": "✓", "fail": "✗", "not_implemented": "…", "error": "!"}


def _statuses(students, sid):
    return {
        t: e["status"]
        for t, e in students[sid]["tasks"].items()
        if e["lesson"] in {nb["lesson"] for nb in students[sid]["notebooks"]}
    }


def test_untouched_stubs_and_fake_passed_lines_are_not_implemented(students):
    assert set(_statuses(students, "untouched_stubs").values()) == {"not_implemented"}
    assert _statuses(students, "fake_passed") == dict.fromkeys(
        ["01.affine", "01.residual", "01.gaussian_noise"], "not_implemented"
    )


def test_one_wrong_task_per_lesson_fails_with_its_check_message(students):
    tasks = students["one_wrong_per_lesson"]["tasks"]
    assert tasks["01.residual"]["status"] == "fail"
    assert tasks["02.polynomial"]["status"] == "fail"
    assert "Hint:" in tasks["01.residual"]["message"]


def test_patching_the_grader_is_reported_as_tampering(students):
    for sid in ("patched_run_check", "patched_code"):
        for entry in students[sid]["tasks"].values():
            if entry["lesson"] in {nb["lesson"] for nb in students[sid]["notebooks"]}:
                assert entry["status"] == "error"
                assert entry["headline"] == TAMPERED
    run_check = students["patched_run_check"]["tasks"]["01.affine"]["message"]
    assert "helpers.grading.run_check" in run_check and "torch.allclose" in run_check
    code = students["patched_code"]["tasks"]["02.mlp"]["message"]
    assert "helpers.checks.core.Checker.fail.__code__" in code


def test_a_trace_function_rewriting_verdicts_is_tampering(students):
    for entry in students["traced_grader"]["tasks"].values():
        if entry["lesson"] == "01":
            assert (entry["status"], entry["headline"]) == ("error", TAMPERED)
            assert "sys.settrace" in entry["message"]
            assert "the verdicts, after their checks returned" in entry["message"]


def test_killing_the_supervisor_or_the_process_group_costs_only_that_notebook(students):
    # The rest of the class was graded (the fixture's run), no process outlived it
    # (test_no_kernel_or_forked_child_outlives_the_command), and:
    first, second = students["kills_the_grader"]["notebooks"]
    assert (
        first["reason"]
        == "the grader's supervisor was killed by SIGKILL (probably by the notebook)"
    )
    assert second["reason"].startswith("the kernel was killed (SIGKILL)")
    assert second["reason"].endswith("in code cell 1 (`import os, signal`)")


def test_stopped_notebooks_keep_the_verdicts_they_reached(students):
    loop = students["endless_loop"]["notebooks"][0]
    assert loop["reason"].startswith(
        f"stopped after {TIMEOUT} s: the notebook did not finish; a cell probably loops"
    )
    assert loop["reran"] is True
    residual = students["endless_loop"]["tasks"]["01.residual"]
    assert residual["headline"] == "not reached: the notebook stopped before `Residual` was defined"
    crashed = students["os_exit"]["notebooks"][0]
    assert crashed["reason"].startswith("the kernel exited with status 0")
    noise = students["os_exit"]["tasks"]["01.gaussian_noise"]
    assert noise["status"] == "error" and noise["headline"].startswith("not reached")
    memory = students["memory_bomb"]["notebooks"][0]
    assert "memory limit of 4096 MB" in memory["reason"]
    assert students["memory_bomb"]["tasks"]["01.residual"]["status"] == "error"


def test_cell_errors_do_not_stop_the_notebook(students):
    sys_exit = students["sys_exit"]["notebooks"][0]
    assert [e["name"] for e in sys_exit["cell_errors"]] == ["SystemExit"]
    assert sys_exit["cells_run"] == sys_exit["cells"]
    syntax = students["syntax_error_first"]["notebooks"][0]
    assert [e["name"] for e in syntax["cell_errors"]] == ["SyntaxError"]


def test_unreadable_missing_and_not_graded_files(students):
    unreadable = students["invalid_json"]["tasks"]["01.affine"]
    assert (unreadable["status"], unreadable["headline"]) == (
        "error",
        "the notebook could not be read",
    )
    missing = students["no_notebooks"]["tasks"]["02.mlp"]
    assert missing["headline"] == "not submitted: no notebook of lesson 02 was found"
    assert students["no_notebooks"]["not_graded"] == [
        {"path": "no_notebooks/README.txt", "reason": "not a notebook"}
    ]
    renamed = students["renamed"]
    assert renamed["notebooks"][0]["older"] == ["renamed/old/homework.ipynb"]
    assert [f["path"] for f in renamed["not_graded"]] == [
        "renamed/notes.txt",
        "renamed/old/homework.ipynb",
    ]


def test_feedback_files(graded):
    feedback = graded[1] / "feedback"
    assert sorted(p.stem for p in feedback.glob("*.md")) == sorted(EXPECTED)
    loop = (feedback / "endless_loop.md").read_text(encoding="utf-8")
    assert loop.startswith("# Feedback for endless_loop\n\nScore: **1 / 15** (6.7 %)")
    assert f"stopped after {TIMEOUT} s: the notebook did not finish; a cell probably loops" in loop
    assert "### ✓ 01.affine: passed" in loop
    renamed = (feedback / "renamed.md").read_text(encoding="utf-8")
    assert (
        "the newest of your notebooks of this lesson; not graded: `renamed/old/homework.ipynb`"
        in renamed
    )
    wrong = (feedback / "one_wrong_per_lesson.md").read_text(encoding="utf-8")
    assert "### ✗ 01.residual: failed" in wrong
    syntax = (feedback / "syntax_error_first.md").read_text(encoding="utf-8")
    assert "Cells that raised an error (the following cells still ran):" in syntax
    assert "SyntaxError" in syntax
    none = (feedback / "no_notebooks.md").read_text(encoding="utf-8")
    assert "No notebook of lesson 01 was found in your submission: its 3 tasks score 0." in none


def test_shards_merged_equal_one_run(tmp_path):
    make_class(tmp_path / "full")
    for sid in SHARDED:
        shutil.copytree(tmp_path / "full" / sid, tmp_path / "class" / sid)
    assert {shard_of(sid, 2) for sid in SHARDED} == {1, 2}  # both parts hold students
    command = [sys.executable, "-m", "helpers", "grade", str(tmp_path / "class")]
    runs = [  # the two parts and one whole run, at the same time
        subprocess.Popen(
            [*command, "--out", str(tmp_path / out), *extra, "--workers", "1"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for out, extra in [
            ("part1", ["--shard", "1/2"]),
            ("part2", ["--shard", "2/2"]),
            ("one", []),
        ]
    ]
    codes = [run.wait(timeout=600) for run in runs]
    merged = grade(
        "--merge",
        str(tmp_path / "part1"),
        str(tmp_path / "part2"),
        "--out",
        str(tmp_path / "merged"),
    )
    assert [*codes, merged.returncode] == [0, 0, 0, 0]
    part_ids = [
        set(json.loads((tmp_path / f"part{k}" / "results.json").read_text())["students"])
        for k in (1, 2)
    ]
    assert not part_ids[0] & part_ids[1] and part_ids[0] | part_ids[1] == set(SHARDED)
    assert (tmp_path / "merged" / "gradebook.csv").read_text() == (
        tmp_path / "one" / "gradebook.csv"
    ).read_text()
    one_results = json.loads((tmp_path / "one" / "results.json").read_text())
    merged_results = json.loads((tmp_path / "merged" / "results.json").read_text())
    for sid in SHARDED:
        assert merged_results["students"][sid]["tasks"] == one_results["students"][sid]["tasks"]
        texts = [
            [
                line
                for line in (tmp_path / run / "feedback" / f"{sid}.md").read_text().splitlines()
                if "ran to the end in" not in line
            ]  # the seconds differ between runs
            for run in ("one", "merged")
        ]
        assert texts[0] == texts[1]


def test_one_student_prints_feedback_and_writes_classroom_result(tmp_path):
    make_class(tmp_path / "class")
    github_output = tmp_path / "github_output"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "helpers",
            "grade",
            "--student",
            str(tmp_path / "class" / "renamed"),
            "--classroom",
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "GITHUB_OUTPUT": str(github_output)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Feedback for renamed\n\nScore: **4 / 4** (100.0 %)")
    result = json.loads((tmp_path / "out" / "classroom.json").read_text())
    assert (result["version"], result["status"], result["max_score"]) == (1, "pass", 4)
    assert [(t["name"], t["status"], t["score"], t["max_score"]) for t in result["tests"]] == [
        (task, "pass", 1, 1)
        for task in ("04.count_parameters", "04.find_modules", "04.replace_modules", "04.describe")
    ]
    key, _, encoded = github_output.read_text().strip().partition("=")
    assert key == "result"
    assert json.loads(base64.b64decode(encoded)) == result


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/class", "--out", "OUT"], "error: /nonexistent/class is not a folder"),
        (["CLASS"], "error: --out OUT_DIR is required"),
        (["CLASS", "--out", "OUT", "--shard", "3/2"], "error: --shard K/N needs 1 <= K <= N"),
        (["CLASS", "--out", "OUT", "--shard", "two"], "error: --shard must be K/N"),
        (["CLASS", "--out", "OUT", "--workers", "0"], "error: --workers must be at least 1"),
        (["CLASS", "--out", "OUT", "--timeout", "0"], "error: --timeout must be a positive"),
        (["CLASS", "--out", "OUT", "--bogus"], "error: unrecognized arguments: --bogus"),
        (["CLASS", "--out", "OUT", "--workers", "x"], "error: argument --workers: invalid int"),
        (["CLASS", "--classroom", "--out", "OUT"], "error: --classroom goes with --student DIR"),
        (["--merge", "CLASS", "--out", "OUT"], "error: cannot read "),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, args, message):
    from helpers.batch.cli import main

    (tmp_path / "class").mkdir()
    args = [
        a.replace("CLASS", str(tmp_path / "class")).replace("OUT", str(tmp_path / "out"))
        for a in args
    ]
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1 and err.startswith(message), err


def test_command_line_error_has_no_traceback(tmp_path):
    done = grade(str(tmp_path / "missing"), "--out", str(tmp_path / "out"))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"error: {tmp_path / 'missing'} is not a folder\n"


# -- the pieces, without kernels ---------------------------------------------------------------


def test_symbolic_links_are_listed_never_graded(tmp_path):
    from helpers.batch.discover import discover

    make_class_root = tmp_path / "class"
    alice = make_class_root / "alice"
    alice.mkdir(parents=True)
    (alice / "01_module.ipynb").write_text("{}", encoding="utf-8")
    mallory = make_class_root / "mallory"
    mallory.mkdir()
    (mallory / "01_module.ipynb").symlink_to("../alice/01_module.ipynb")  # a copied notebook
    (mallory / "passwd.ipynb").symlink_to("/etc/passwd")
    (mallory / "loop").symlink_to(mallory)  # a loop is not followed
    found = {s.id: s for s in discover(make_class_root)}
    assert list(found["alice"].graded) == ["01"]
    assert found["mallory"].graded == {}
    assert found["mallory"].not_graded == [
        {"path": f"mallory/{name}", "reason": "a symbolic link (not followed)"}
        for name in ("01_module.ipynb", "loop", "passwd.ipynb")
    ]


def test_out_folder_inside_the_submissions_is_not_a_student(tmp_path):
    from helpers.batch.discover import discover

    (tmp_path / "bob").mkdir()
    (tmp_path / "grades" / "feedback").mkdir(parents=True)
    assert [s.id for s in discover(tmp_path, tmp_path / "grades")] == ["bob"]
    assert [s.id for s in discover(tmp_path)] == ["bob", "grades"]


def test_equally_new_notebooks_choose_the_last_path(tmp_path):
    from helpers.batch.discover import discover

    for name in ("b/01_module.ipynb", "a/01_module (1).ipynb"):
        path = tmp_path / "carol" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}", encoding="utf-8")
        os.utime(path, (1_000_000_000, 1_000_000_000))
    (carol,) = discover(tmp_path)
    assert carol.graded["01"].relpath == "carol/b/01_module.ipynb"


def test_gradebook_neutralises_ids_a_spreadsheet_would_run():
    from helpers.batch.report import build_results, gradebook_csv

    ids = ['=HYPERLINK("http://x")', "+1", "-x", "@SUM(A1)", 'ana, "the" best\nline', "ünï"]
    results = build_results(
        {sid: {"notebooks": [], "not_graded": [], "tasks": {}} for sid in ids}, {}, "1/1"
    )
    rows = list(csv.reader(gradebook_csv(results).splitlines(keepends=True)))
    assert rows[0] == ["student", "score", "max_score", "percent"]
    assert [row[0] for row in rows[1:]] == [
        "'+1",
        "'-x",
        '\'=HYPERLINK("http://x")',
        "'@SUM(A1)",
        'ana, "the" best\nline',
        "ünï",
    ]
    assert list(results["students"]) == sorted(ids)  # results.json keeps the ids as they are


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--memory-mb", "10"], "error: --memory-mb must be at least 1024"),
        (["--timeout", "inf"], "error: --timeout must be a positive number"),
        (["--timeout", "nan"], "error: --timeout must be a positive number"),
        (["--timeout", "-1"], "error: --timeout must be a positive number"),
    ],
)
def test_limits_no_kernel_could_work_under_exit_2(tmp_path, capsys, args, message):
    from helpers.batch.cli import main

    (tmp_path / "class").mkdir()
    assert main([str(tmp_path / "class"), "--out", str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith(message), err


def test_merge_of_a_part_that_is_not_a_results_file_exits_2(tmp_path, capsys):
    from helpers.batch.cli import main

    (tmp_path / "part").mkdir()
    (tmp_path / "part" / "results.json").write_text('{"students": []}', encoding="utf-8")
    assert main(["--merge", str(tmp_path / "part"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("error: cannot merge: "), err
