"""Measure the course's speed goals (the suite within 1.5x its floor, checks well under a
second, grading throughput) and print the figures.

    python tests/benchmark.py            # everything
    python tests/benchmark.py --skip-suite   # only the kernel floor and check latency
    python tests/benchmark.py --only-browser # only the browser suite, timed alone

- floor: (notebooks the suite executes) x (time to start a kernel and import torch) / cores;
- suite: wall time of the README's test command (``python -m pytest``), its ratio to the
  floor (goal: at most 1.5), and where the workers' time went;
- check latency: each task's check on its reference solution, first call (cold, as in a
  learner's fresh kernel) and then the median and worst of repeated calls (goal: well
  under a second);
- grading throughput (``python -m helpers grade``): a class whose students each submit
  every solution notebook, in notebooks per minute, against its floor, (kernel start +
  import torch + the notebook's own run) x notebooks / cores, where each notebook's own
  run is measured by executing it in a Jupyter kernel (goal: at most 1.3 x the floor);
- browser suite (``python -m pytest -m browser``: tests/test_browser.py and any other test
  marked ``browser``): every lesson and exercise in JupyterLab in Chromium, timed alone
  (goal: under about 3 minutes on two cores); skipped when Chromium is missing.
  ``--only-browser`` runs just this, ``--skip-browser`` leaves it out;
- website build (``python -m helpers site``): wall time and page count (goal: under 2
  minutes on two cores); skipped when the site's tools are not installed.

Not a test: timings depend on the machine and its load, so they are reported, not asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import ROOT, solution_namespace

from helpers.notebooks import ThisEnvironmentKernel


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def notebooks_executed() -> int:
    """Lessons and solutions (nbval) plus exercises (run with their stubs)."""
    return sum(
        len(list((ROOT / folder).glob("*.ipynb")))
        for folder in ("notebooks", "solutions", "exercises")
    )


def kernel_start_and_import_torch(repeats: int) -> list[float]:
    """Seconds from asking for a kernel of this environment until ``import torch`` has
    run in it (its shutdown is not counted)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        kernel = ThisEnvironmentKernel()
        kernel.start_kernel()
        client = kernel.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            client.execute_interactive("import torch", timeout=60)
            times.append(time.perf_counter() - start)
        finally:
            client.stop_channels()
            kernel.shutdown_kernel(now=True)
    return times


def suite_time() -> tuple[float, str, dict[str, float]]:
    """Wall seconds of the README's test command, its closing line, and the seconds spent
    per notebook, exercise run and test module (summed over their tests)."""
    elapsed, summary, lines = _run_pytest()
    return elapsed, summary, _time_per_unit(lines)


def _run_pytest(*options: str) -> tuple[float, str, list[str]]:
    """Run ``python -m pytest -q --durations=0 OPTIONS``: its wall seconds, its closing line
    (with the exit status when it failed) and its non-empty output lines."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--durations=0", *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    summary = lines[-1] if lines else "(no output)"
    if done.returncode != 0:
        summary += f"  [exit status {done.returncode}]"
    return elapsed, summary, lines


def _time_per_unit(lines: list[str]) -> dict[str, float]:
    """Sum pytest's --durations lines ("1.29s call  path::test") per file or test class."""
    per_unit: dict[str, float] = {}
    for line in lines:
        match = re.match(r"^([\d.]+)s (?:setup|call|teardown)\s+(\S+?)::(\S+)", line)
        if match:
            seconds, path, rest = float(match[1]), match[2], match[3]
            unit = f"{path}::{rest.split('::')[0]}" if rest.startswith("Test") else path
            per_unit[unit] = per_unit.get(unit, 0.0) + seconds
    return per_unit


def check_latencies(repeats: int) -> dict[str, tuple[float, float, float]]:
    """Per task: (first call, median, worst) seconds of run_check on the reference solution."""
    from helpers.grading import TASKS, run_check

    results = {}
    namespaces: dict[str, dict] = {}
    for task_id, task in sorted(TASKS.items()):
        namespace = namespaces.setdefault(task.notebook, solution_namespace(task.notebook))
        times = []
        for _ in range(repeats + 1):
            start = time.perf_counter()
            result = run_check(task_id, namespace)
            times.append(time.perf_counter() - start)
            if not result.passed:
                raise SystemExit(
                    f"reference solution of {task_id} does not pass:\n{result.message}"
                )
        results[task_id] = (times[0], statistics.median(times[1:]), max(times[1:]))
    return results


def notebook_runs() -> dict[str, float]:
    """Per solution notebook: seconds from asking for a kernel until every cell (its check
    cells included) has run, as a learner's Run All does (and an immediate shutdown)."""
    import nbformat
    from nbclient import NotebookClient

    times = {}
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(
            nb,
            kernel_manager_class=ThisEnvironmentKernel,
            timeout=600,
            shutdown_kernel="immediate",  # a few milliseconds, counted
            resources={"metadata": {"path": str(path.parent)}},
        )
        start = time.perf_counter()
        client.execute()
        times[path.name] = time.perf_counter() - start
    return times


def grading_throughput(students: int) -> None:
    """Grade a class of ``students`` copies of every solution notebook and print the
    throughput against its floor."""
    import shutil
    import tempfile

    runs = notebook_runs()
    n_cores = cores()
    with tempfile.TemporaryDirectory() as folder:
        submissions = Path(folder) / "class"
        for index in range(students):
            for name in runs:
                target = submissions / f"student{index:03d}" / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / "solutions" / name, target)
        start = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "helpers",
                "grade",
                str(submissions),
                "--out",
                str(Path(folder) / "out"),
                "--no-progress",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - start
    notebooks = students * len(runs)
    floor = students * sum(runs.values()) / n_cores
    print(f"\ngrading throughput: {students} students x {len(runs)} solution notebooks")
    for name, seconds in runs.items():
        print(f"  {name:<44}{seconds:6.2f} s (kernel start + import torch + its own run)")
    print(f"  floor = {students} x {sum(runs.values()):.2f} s / {n_cores} = {floor:.2f} s")
    print(f"  grade: {elapsed:.2f} s wall — {done.stdout.strip() or done.stderr.strip()}")
    print(
        f"  throughput: {notebooks / elapsed * 60:.1f} notebooks/minute "
        f"(floor: {notebooks / floor * 60:.1f})"
    )
    print(f"  ratio grade / floor: {elapsed / floor:.2f} (goal <= 1.3)")


def browser_suite_time() -> None:
    """Run the browser suite alone (``python -m pytest -m browser``) and print its wall
    time and its slowest tests."""
    elapsed, summary, lines = _run_pytest("-m", "browser")
    print(f"\nbrowser suite alone: {elapsed:.2f} s wall (goal: under about 180 s) — {summary}")
    for line in lines:
        if line.startswith("SKIPPED"):
            print(f"  {line}")
    tests: dict[str, float] = {}
    for line in lines:
        match = re.match(r"^([\d.]+)s (?:setup|call|teardown)\s+\S+?::(\S+)", line)
        if match:
            tests[match[2]] = tests.get(match[2], 0.0) + float(match[1])
    for test, seconds in sorted(tests.items(), key=lambda item: -item[1])[:20]:
        print(f"  {seconds:6.2f}  {test}")


def site_build_time() -> None:
    """Build the website into a temporary folder and print its time and page count."""
    import tempfile

    try:
        from helpers.site import SiteError, build_site
    except ImportError as exc:  # pragma: no cover - helpers.site imports only nbformat
        print(f"\nwebsite build: skipped ({exc})")
        return
    with tempfile.TemporaryDirectory() as tmp:
        try:
            result = build_site(ROOT, Path(tmp) / "site")
        except SiteError as exc:
            print(f"\nwebsite build: failed or skipped ({exc})")
            return
    print(
        f"\nwebsite build: {result['seconds']:.1f} s for {result['pages']} pages "
        "(goal: under 120 s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernel-repeats", type=int, default=3)
    parser.add_argument("--suite-repeats", type=int, default=1)
    parser.add_argument("--check-repeats", type=int, default=20)
    parser.add_argument("--skip-suite", action="store_true")
    parser.add_argument("--grading-students", type=int, default=4)
    parser.add_argument("--skip-grading", action="store_true")
    parser.add_argument("--only-grading", action="store_true")
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--only-browser", action="store_true")
    args = parser.parse_args()

    if args.only_grading:
        grading_throughput(args.grading_students)
        return
    if args.only_browser:
        browser_suite_time()
        return
    site_build_time()

    n_cores, n_notebooks = cores(), notebooks_executed()
    kernel = statistics.median(kernel_start_and_import_torch(args.kernel_repeats))
    floor = n_notebooks * kernel / n_cores
    print(f"cores: {n_cores}")
    print(f"notebooks executed by the suite: {n_notebooks}")
    print(f"kernel start + import torch: {kernel:.2f} s (median of {args.kernel_repeats})")
    print(f"floor = {n_notebooks} x {kernel:.2f} s / {n_cores} = {floor:.2f} s")

    if not args.skip_suite:
        runs = [suite_time() for _ in range(args.suite_repeats)]
        best = min(runs, key=lambda run: run[0])
        for elapsed, summary, _ in runs:
            print(f"suite: {elapsed:.2f} s wall — {summary}")
        print(f"ratio suite / floor: {best[0] / floor:.2f} (best of {len(runs)}; goal <= 1.5)")
        print("\nwhere the best run's worker time went (seconds, largest first):")
        for unit, seconds in sorted(best[2].items(), key=lambda item: -item[1])[:15]:
            print(f"  {seconds:6.2f}  {unit}")

    latencies = check_latencies(args.check_repeats)
    print(
        f"\ncheck latency on the reference solutions ({args.check_repeats} calls after the first):"
    )
    print(f"  {'task':<22}{'first':>9}{'median':>9}{'worst':>9}")
    for task_id, (first, median, worst) in latencies.items():
        print(f"  {task_id:<22}{first * 1000:>7.1f}ms{median * 1000:>7.1f}ms{worst * 1000:>7.1f}ms")
    medians = [m for _, m, _ in latencies.values()]
    worst = max(w for _, _, w in latencies.values())
    first = max(f for f, _, _ in latencies.values())
    print(
        f"  all tasks: median {statistics.median(medians) * 1000:.1f} ms, "
        f"worst {worst * 1000:.1f} ms, slowest first call {first * 1000:.1f} ms"
    )
    if not args.skip_grading:
        grading_throughput(args.grading_students)
    if not args.skip_browser:
        browser_suite_time()


if __name__ == "__main__":
    main()
