"""The process one submitted notebook runs in: ``python -m helpers.batch.kernel CMD REPLY``.

Its supervisor (``helpers.batch.supervisor``) starts it under the limits, and talks to it
over two pipes (file descriptors ``CMD`` and ``REPLY``). Before any learner code, it
imports torch and the course package, makes IPython's shell (the interpreter at the core
of a Jupyter kernel: the same cell syntax, magics, ``display`` and tracebacks, without the
messaging), fingerprints what a verdict depends on and sends that fingerprint. Then, per
command: run one cell and reply with its error and a bounded copy of what it printed; or
grade: run ``run_check`` for each task of the lesson on the cells' namespace, from the
installed package, send each verdict as soon as its check returns, say "checked", and
then send them all again with the fingerprint, authenticated with the secret the
supervisor sends only in reply to "checked".
"""

from __future__ import annotations

import io
import os
import sys
import time
import traceback
from typing import Any

_OUTPUT_LIMIT = 4000  # characters of a cell's output kept for the feedback
# How torch and Python say that an allocation failed (under the address-space limit).
_MEMORY_WORDS = ("can't allocate memory", "DefaultCPUAllocator", "std::bad_alloc")


class _Bounded(io.TextIOBase):
    """A text stream that keeps the first characters written to it and counts the rest."""

    def __init__(self, limit: int = _OUTPUT_LIMIT) -> None:
        self._parts: list[str] = []
        self._kept = 0
        self._limit = limit
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text: Any) -> int:
        text = str(text)
        room = self._limit - self._kept
        if room > 0:
            self._parts.append(text[:room])
            self._kept += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def getvalue(self) -> str:
        value = "".join(self._parts)
        if self.dropped:
            value += f"\n... ({self.dropped} more characters)"
        return value


def _shell():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    class GradingShell(InteractiveShell):
        """IPython's shell; ``exit()`` records the wish and, as in a Jupyter kernel,
        stops nothing."""

        exit_requested = False

        def ask_exit(self) -> None:
            self.exit_requested = True

    config = Config()
    config.HistoryManager.enabled = False  # no sqlite file, nothing shared between kernels
    return GradingShell.instance(config=config, colors="nocolor")


def _error(result: Any) -> dict[str, Any] | None:
    exc = result.error_before_exec or result.error_in_exec
    if exc is None:
        return None
    try:
        text = str(exc)
    except BaseException:
        text = ""
    name = type(exc).__name__
    memory = isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError) and any(w in text for w in _MEMORY_WORDS)
    )
    line = None
    tb = exc.__traceback__
    frames = traceback.extract_tb(tb) if tb is not None else []
    cell_frames = [f for f in frames if f.filename.startswith("<ipython-input")]
    if cell_frames:
        line = cell_frames[-1].lineno
    elif isinstance(exc, SyntaxError):
        line = exc.lineno
    return {"name": name, "text": text[:500], "line": line, "memory": memory}


def main(cmd_fd: int, reply_fd: int) -> None:
    started = time.perf_counter()
    import threading

    import torch  # noqa: F401  (before any learner code: the checks bind torch at import)

    from helpers import grading
    from helpers.batch import channel

    # As installed, before any learner code (a cell may rebind or patch them later).
    run_check = grading.run_check
    settrace, setprofile = sys.settrace, sys.setprofile
    thread_settrace, thread_setprofile = threading.settrace, threading.setprofile
    arm = channel.trace_alarm(reply_fd)
    shell = _shell()
    held: list[Any] = []
    before = channel.fingerprint(held)
    channel.write_message(
        reply_fd,
        {"op": "ready", "fingerprint": before, "seconds": time.perf_counter() - started},
    )
    real_stdout, real_stderr = sys.stdout, sys.stderr
    while True:
        command = channel.read_message(cmd_fd)
        if command.get("op") == "cell":
            out = _Bounded()
            sys.stdout = sys.stderr = out
            start = time.perf_counter()
            try:
                result = shell.run_cell(command["source"], store_history=True)
            finally:
                sys.stdout, sys.stderr = real_stdout, real_stderr
            channel.write_message(
                reply_fd,
                {
                    "op": "cell",
                    "seq": command["seq"],
                    "error": _error(result),
                    "output": out.getvalue(),
                    "seconds": time.perf_counter() - start,
                    "exit_requested": shell.exit_requested,
                },
            )
        elif command.get("op") == "grade":
            # No trace or profile function of the notebook may watch the grader's frames;
            # one set from now on is reported by the alarm.
            settrace(None)
            setprofile(None)
            thread_settrace(None)
            thread_setprofile(None)
            arm()
            payload = _grade(
                shell.user_ns, command["tasks"], grading.TASKS, run_check, channel, reply_fd
            )
            # Only now, with every check done, does the secret exist in this process.
            channel.write_message(reply_fd, {"op": "checked"})
            seal = channel.read_message(cmd_fd)
            channel.write_message(
                reply_fd, {"payload": payload, "mac": channel.mac(seal["secret"], payload)}
            )
            return


def _grade(
    namespace: dict, tasks: list[str], known: Any, run_check: Any, channel: Any, reply_fd: int
) -> dict[str, Any]:
    """Every task's verdict on ``namespace``, each sent to the supervisor as soon as its
    check returns (before any more learner code can run and change it), and the
    fingerprint taken now."""
    results = {}
    before_checks = channel.fingerprint([])
    sink = _Bounded()
    real_stdout, real_stderr = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = sink  # the checks capture learner output; this is a backstop
    try:
        for task_id in tasks:
            task = known[task_id]
            missing = [name for name in task.names if name not in namespace]
            result = run_check(task_id, namespace)
            verdict = {
                "status": result.status,
                "headline": result.headline,
                "message": result.message,
                "missing": missing,
            }
            channel.write_message(reply_fd, {"op": "verdict", "task": task_id, **verdict})
            results[task_id] = verdict
    finally:
        sys.stdout, sys.stderr = real_stdout, real_stderr
    after = channel.fingerprint([])
    return {"results": results, "fingerprints": [before_checks, after]}


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
    os._exit(0)  # skip interpreter teardown (torch's is slow); the supervisor reaps us
