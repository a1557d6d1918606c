"""Command line.

- ``python -m helpers build [--check] [--root DIR]``: write ``exercises/`` from
  ``solutions/`` (with ``--check``, only report what differs);
- ``python -m helpers tasks [--root DIR]``: print every graded task with its statement
  (markdown), for instructors;
- ``python -m helpers execute PATH...``: re-execute committed notebooks in a kernel of
  this environment and keep them tidy (``helpers.notebooks``);
- ``python -m helpers grade SUBMISSIONS_DIR --out OUT_DIR``: grade a class of submitted
  exercise notebooks (``helpers.batch``; ``python -m helpers grade --help``);
- ``python -m helpers site --out DIR [--root DIR] [--repository URL]``: build the course's
  static website from the committed notebooks (``helpers.site``; needs
  ``requirements-site.txt``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from helpers.build import BuildError, build


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["grade"]:  # its own parser: one-line errors (helpers.batch.cli)
        from helpers.batch.cli import main as grade

        return grade(arguments[1:])
    parser = argparse.ArgumentParser(prog="python -m helpers")
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="write exercises/ from solutions/")
    build_cmd.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if exercises/ is stale"
    )
    build_cmd.add_argument(
        "--root", type=Path, default=Path.cwd(), help="the course folder (default: here)"
    )
    tasks_cmd = commands.add_parser("tasks", help="print every graded task and its statement")
    tasks_cmd.add_argument(
        "--root", type=Path, default=Path.cwd(), help="the course folder (default: here)"
    )
    execute_cmd = commands.add_parser(
        "execute", help="re-execute notebooks in place, without timings or widget views"
    )
    execute_cmd.add_argument("paths", nargs="+", type=Path, help="notebooks to execute")
    commands.add_parser("grade", help="grade a class's notebooks (see: grade --help)")
    site_cmd = commands.add_parser("site", help="build the course's website into --out")
    site_cmd.add_argument("--out", type=Path, required=True, help="the folder to write")
    site_cmd.add_argument(
        "--root", type=Path, default=Path.cwd(), help="the course folder (default: here)"
    )
    site_cmd.add_argument(
        "--repository", help="https://github.com/OWNER/REPO for 'Open in Colab' links"
    )
    args = parser.parse_args(argv)

    if args.command == "execute":
        from helpers.notebooks import execute

        for path in args.paths:
            execute(path)
            print(f"executed: {path}")
        return 0
    if not (args.root / "solutions").is_dir():
        print(f"error: {args.root / 'solutions'} is not a folder", file=sys.stderr)
        return 2
    if args.command == "site":
        from helpers.site import REPOSITORY_URL
        from helpers.site import main as site

        return site(args.root, args.out, args.repository or REPOSITORY_URL)
    if args.command == "tasks":
        from helpers.tasklist import task_list_markdown

        print(task_list_markdown(args.root), end="")
        return 0
    try:
        differing = build(args.root, check=args.check)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        for path in differing:
            print(f"stale: {path}")
        return 1 if differing else 0
    for path in differing:
        print(f"wrote: {path}")
    if not differing:
        print("exercises/ is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
