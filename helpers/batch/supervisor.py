"""One notebook's supervisor: ``python -m helpers.batch.supervisor`` (a job on stdin, the
outcome on stdout, both JSON).

It makes itself a child subreaper (Linux), so that every process the notebook starts,
however it detaches (a double fork, ``setsid``, ignoring SIGTERM), stays its descendant;
it starts the kernel (``helpers.batch.kernel``) with the address-space, file-size and
core-dump limits set by the operating system before the kernel's first instruction; it
enforces the wall clock and polls the whole tree's resident memory; before the checks it
SIGKILLs every process the notebook left running but the kernel (one could read the
grader's commands), and at the end it SIGKILLs and reaps every descendant. The kernel is
in a session of its own (``os.killpg(0, ...)`` in a cell reaches only the notebook's
processes). Its own code never runs any of the notebook's.

When the kernel dies or is stopped in the middle of the notebook, a second fresh kernel
runs the cells that had finished, so that the tasks they define still get verdicts;
the tasks whose names never came to exist are ``error`` with the reason.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

from helpers.batch import channel

__all__ = ["MARKER", "TAMPERED", "become_subreaper", "main"]

MARKER = "INSIDE_NN_MODULE_GRADER_KERNEL"  # in every grading kernel's environment
TAMPERED = "the grader was modified by the notebook"
_PR_SET_CHILD_SUBREAPER = 36
_STARTUP_LIMIT = 120.0  # seconds for a kernel to import torch and the course package
_GRADE_EXTRA = 30.0  # seconds for the grading step beyond the checks' own time limits
_POLL = 0.1
_MEMORY_POLL = 0.5
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class Stopped(Exception):
    """The kernel ended before it replied."""

    def __init__(self, outcome: str, reason: str) -> None:
        super().__init__(reason)
        self.outcome, self.reason = outcome, reason


class Tampered(Exception):
    """The channel carried something the grader did not send for."""


def become_subreaper(on: bool = True) -> bool:
    """Make this process (Linux) the reaper of its orphaned descendants, or stop."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


# -- the process tree -----------------------------------------------------------------------


def _process_table() -> dict[int, tuple[int, str, int]]:
    """pid -> (parent pid, state, resident bytes), read from /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as file:
                stat = file.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        table[int(entry)] = (int(fields[1]), fields[0].decode(), int(fields[21]) * _PAGE)
    return table


def descendants(root: int) -> dict[int, tuple[int, str, int]]:
    """Every live descendant of ``root`` with its (parent, state, resident bytes)."""
    if not os.path.isdir("/proc"):
        return {}
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, stack = {}, list(children.get(root, []))
    while stack:
        pid = stack.pop()
        if pid not in found:
            found[pid] = table[pid]
            stack.extend(children.get(pid, []))
    return found


def kill_tree(spare: int | None = None) -> None:
    """SIGKILL every descendant of this process (but ``spare``) and reap them, until none
    is left."""
    me = os.getpid()
    for _ in range(200):
        alive = descendants(me)
        alive.pop(spare, None)
        for pid, (_, state, _) in alive.items():
            if state != "Z":
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        _reap(spare)
        if not alive:
            return
        time.sleep(0.01)


def _reap(spare: int | None = None) -> None:
    if spare is not None:  # only the others: the kernel's status is the Kernel's to read
        for pid, (parent, state, _) in descendants(os.getpid()).items():
            if parent == os.getpid() and pid != spare and state == "Z":
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
        return
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


# -- one kernel -----------------------------------------------------------------------------


class Kernel:
    """A grading kernel under limits, and the conversation with it."""

    def __init__(self, job: dict[str, Any], workdir: str) -> None:
        self.job = job
        memory = job["memory_mb"] << 20
        cmd_read, self.cmd = os.pipe()
        self.reply, reply_write = os.pipe()
        env = dict(os.environ)
        threads = str(job["threads"])
        env.update(
            {
                MARKER: "1",
                "MPLBACKEND": "Agg",
                "CUDA_VISIBLE_DEVICES": "",  # graded on the CPU: the memory limit covers it
                "OMP_NUM_THREADS": threads,
                "MKL_NUM_THREADS": threads,
                "MALLOC_ARENA_MAX": "2",
                "PYTHONFAULTHANDLER": "1",  # a segfault leaves its Python traceback
                "IPYTHONDIR": os.path.join(workdir, ".ipython"),
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        self.stderr_path = os.path.join(workdir, ".kernel-stderr")

        def limits() -> None:  # in the child, before the kernel's first instruction
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 30, 1 << 30))

        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "helpers.batch.kernel", str(cmd_read), str(reply_write)],
                pass_fds=(cmd_read, reply_write),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                cwd=workdir,
                env=env,
                preexec_fn=limits,
                start_new_session=True,  # os.killpg(0, ...) reaches the notebook's own only
            )
        os.close(cmd_read)
        os.close(reply_write)
        self.frames = channel.FrameReader()
        self.pending: list[Any] = []
        self.status: int | None = None
        self.memory_limit = memory
        self.next_memory_poll = 0.0

    def send(self, message: Any) -> None:
        with contextlib.suppress(OSError):  # the kernel is gone; receive() says how
            channel.write_message(self.cmd, message)

    def receive(self, deadline: float, what: str) -> Any:
        """The kernel's next message, or Stopped when it ended or ran out of time."""
        while True:
            if self.pending:
                return self.pending.pop(0)
            now = time.monotonic()
            if now >= deadline:
                raise Stopped("timeout", what)
            ready, _, _ = select.select([self.reply], [], [], min(_POLL, deadline - now))
            if ready:
                data = os.read(self.reply, 1 << 20)
                if data:
                    try:
                        self.pending.extend(self.frames.feed(data))
                    except channel.ChannelError as exc:
                        raise Tampered(f"the grader's channel carried {exc}") from None
                    continue
            self._check_alive()
            if now >= self.next_memory_poll:
                self.next_memory_poll = now + _MEMORY_POLL
                self._check_memory()

    def _check_alive(self) -> None:
        if self.status is None:
            pid, status = os.waitpid(self.process.pid, os.WNOHANG)
            if pid == 0:
                return
            self.status = status
            self.process.returncode = os.waitstatus_to_exitcode(status)
        raise Stopped("crashed", self._death())

    def _check_memory(self) -> None:
        tree = descendants(os.getpid())
        resident = sum(rss for _, state, rss in tree.values() if state != "Z")
        if resident > self.memory_limit:
            raise Stopped(
                "memory",
                f"its processes used {resident >> 20} MB, over the limit of "
                f"{self.memory_limit >> 20} MB",
            )

    def _death(self) -> str:
        code = self.process.returncode
        tail = self.stderr_tail()
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            how = {
                "SIGSEGV": "crashed with a segmentation fault (SIGSEGV)",
                "SIGKILL": "was killed (SIGKILL), by the system's out-of-memory killer or by "
                "the notebook itself",
                "SIGXFSZ": "wrote a file larger than 1 GB (SIGXFSZ)",
            }.get(name, f"was killed by {name}")
        else:
            how = f"exited with status {code} (os._exit() or a library that ends the process)"
        if "MemoryError" in tail:
            raise Stopped("memory", f"the kernel ran out of memory: {tail.splitlines()[-1]}")
        return f"the kernel {how}"

    def stderr_tail(self, lines: int = 6) -> str:
        try:
            with open(self.stderr_path, "rb") as file:
                file.seek(max(0, os.path.getsize(self.stderr_path) - 4000))
                text = file.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def close(self) -> None:
        for fd in (self.cmd, self.reply):
            with contextlib.suppress(OSError):
                os.close(fd)
        kill_tree()
        if self.process.returncode is None:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.process.pid, 0)
            self.process.returncode = -9


# -- one notebook ---------------------------------------------------------------------------


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()[:80]
    return ""


def _run(job: dict[str, Any], cells: list[dict[str, Any]], recovery: bool) -> dict[str, Any]:
    """Run ``cells`` in a fresh kernel, then grade. Returns what happened."""
    run: dict[str, Any] = {"cells": [], "stopped": None, "verdicts": None, "tampered": None}
    workdir = tempfile.mkdtemp(prefix="grade-")
    kernel = None
    try:
        kernel = Kernel(job, workdir)
        try:
            ready = kernel.receive(time.monotonic() + _STARTUP_LIMIT, "the kernel's start")
        except Stopped as stop:
            run["stopped"] = {
                "outcome": stop.outcome,
                "reason": f"{stop.reason} while it started: {kernel.stderr_tail(3)}",
                "cell": None,
            }
            return run
        if not isinstance(ready, dict) or ready.get("op") != "ready":
            raise Tampered("an unexpected first message")
        before = ready["fingerprint"]
        deadline = time.monotonic() + job["timeout"]
        for seq, cell in enumerate(cells):
            kernel.send({"op": "cell", "seq": seq, "source": cell["source"]})
            try:
                reply = kernel.receive(deadline, "cell")
            except Stopped as stop:
                run["stopped"] = {"outcome": stop.outcome, "reason": stop.reason, "cell": seq}
                break
            if not isinstance(reply, dict) or reply.get("seq") != seq:
                raise Tampered("a reply to a cell the grader did not send")
            run["cells"].append(reply)
            error = reply.get("error")
            if error and error.get("memory"):
                run["stopped"] = {
                    "outcome": "memory",
                    "reason": "an allocation failed: "
                    + ": ".join(filter(None, [error["name"], error["text"][:200]])),
                    "cell": seq,
                    "alive": True,
                }
                break
        if run["stopped"] and not run["stopped"].get("alive"):
            return run
        # A process the notebook left running could read the grader's commands or write
        # on its channel while the checks run: only the kernel itself is left.
        kill_tree(spare=kernel.process.pid)
        kernel.send({"op": "grade", "tasks": job["tasks"]})
        grade_deadline = time.monotonic() + job["grade_seconds"]
        within = (
            f"within {job['grade_seconds']:g} s (a thread or a __del__ of the notebook may block)"
        )
        streamed: dict[str, Any] = {}
        traced = None
        try:
            while True:  # one verdict per task, in order, then "checked"
                message = kernel.receive(grade_deadline, within)
                op = message.get("op") if isinstance(message, dict) else None
                if op == "traced":
                    traced = f"sys.settrace / sys.setprofile (a trace function, {message})"
                    continue
                if op == "checked" and len(streamed) == len(job["tasks"]):
                    break
                tasks = job["tasks"]
                expected = tasks[len(streamed)] if len(streamed) < len(tasks) else None
                if op != "verdict" or message.get("task") != expected:
                    raise Tampered("a message the grader did not send while it checked")
                streamed[expected] = {k: v for k, v in message.items() if k not in ("op", "task")}
            # Only now, with every check done, does the secret exist.
            secret = secrets.token_hex(32)
            kernel.send({"op": "seal", "secret": secret})
            message = kernel.receive(grade_deadline, within)
        except Stopped as stop:
            run["grade_failed"] = {"outcome": stop.outcome, "reason": stop.reason}
            return run
        payload = channel.verify(secret, message)
        if payload is None:
            raise Tampered("a verdict without the grader's secret")
        changed: list[str] = [traced] if traced else []
        if payload.get("results") != streamed:
            changed.append("the verdicts, after their checks returned")
        for after in payload.get("fingerprints", [None]):
            changed += [c for c in channel.changed(before, after) if c not in changed]
        run["verdicts"] = streamed
        if changed:
            run["tampered"] = changed
    except Tampered as exc:
        run["tampered"] = [str(exc)]
    finally:
        if kernel is not None:
            kernel.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return run


def grade(job: dict[str, Any]) -> dict[str, Any]:
    """The outcome of one notebook: see ``helpers.batch.runner`` for its fields."""
    start = time.monotonic()
    cells = job["cells"]
    first = _run(job, cells, recovery=False)
    outcome, reason, stopped_cell = "graded", None, None
    runs = [first]
    verdicts, tampered = first["verdicts"], first["tampered"]
    if first["stopped"] and not tampered:
        stop = first["stopped"]
        outcome, stopped_cell = stop["outcome"], stop["cell"]
        where = ""
        if stopped_cell is not None:
            cell = cells[stopped_cell]
            where = f" in code cell {cell['number']} (`{_first_line(cell['source'])}`)"
        if outcome == "timeout":
            reason = (
                f"stopped after {job['timeout']:g} s: the notebook did not finish; a cell "
                f"probably loops{where}"
            )
        elif outcome == "memory":
            reason = (
                f"stopped at the memory limit of {job['memory_mb']} MB{where}: {stop['reason']}"
            )
        else:
            reason = f"{stop['reason']}{where}"
        if stopped_cell and not stop.get("alive"):  # finished cells: rerun, then grade
            second = _run(job, cells[:stopped_cell], recovery=True)
            runs.append(second)
            verdicts, tampered = second["verdicts"], second["tampered"]
            if second["stopped"] and not tampered:
                verdicts = None
    elif first.get("grade_failed") and not tampered:
        failed = first["grade_failed"]
        outcome = failed["outcome"]
        sep = " " if outcome == "timeout" else ": "
        reason = f"the grader's checks did not finish{sep}{failed['reason']}"
    errors = [
        {"cell": cells[i]["number"], "first_line": _first_line(cells[i]["source"]), **c["error"]}
        for i, c in enumerate(first["cells"])
        if c.get("error")
    ]
    exit_requested = any(c.get("exit_requested") for c in first["cells"])
    return {
        "outcome": outcome,
        "reason": reason,
        "seconds": round(time.monotonic() - start, 2),
        "cells_run": len(first["cells"]),
        "cells": len(cells),
        "cell_errors": errors,
        "exit_requested": exit_requested,
        "verdicts": verdicts,
        "tampered": tampered,
        "reran": len(runs) > 1,
    }


def main() -> int:
    become_subreaper()
    signal.signal(signal.SIGTERM, lambda *_: (kill_tree(), os._exit(1)))
    job = json.loads(sys.stdin.read())
    try:
        result = grade(job)
    finally:
        kill_tree()
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
