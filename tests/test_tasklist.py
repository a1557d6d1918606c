"""The instructors' task list: every task, its names and the statement from its exercise."""

from __future__ import annotations

from helpers.__main__ import main
from helpers.grading import TASKS
from helpers.tasklist import task_list_markdown, task_statements


def test_every_task_has_a_statement_naming_what_the_learner_defines(root):
    statements = task_statements(root)
    assert set(statements) == set(TASKS)
    lessons = [task_id[:2] for task_id in statements]
    assert lessons == sorted(lessons)  # lesson by lesson, each in its exercise's order
    for task_id, statement in statements.items():
        assert statement.statement.startswith("## ") and f"(`{task_id}`)" in statement.statement
        for name in TASKS[task_id].names:
            assert f"`{name}" in statement.statement, (task_id, name)
        assert (root / statement.exercise).is_file()


def test_cli_prints_the_task_list(root, capsys):
    assert main(["tasks", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert out == task_list_markdown(root)
    for task_id in TASKS:
        assert f"## `{task_id}` · {TASKS[task_id].title}" in out
