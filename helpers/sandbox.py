"""Run learner code so that it cannot hang a check or leave traces behind.

``isolated(seconds)`` is the one context manager the grader runs a check in. Inside it:

- a time limit: learner code still running after ``seconds`` is interrupted by
  ``TimeLimitExceeded`` (a ``BaseException``, so ``except Exception:`` in learner code
  does not swallow it; it is raised again every 50 ms until the check gives up);
- the random state of Python, NumPy and torch (CPU and initialised GPUs) is saved and
  restored, so a check can seed and draw its own inputs without moving the learner's
  random streams;
- autograd is on while the check runs (even when called under ``torch.no_grad()``),
  and torch's grad mode and default dtype are restored afterwards;
- tensors are created on the CPU by default while the check runs, even when the notebook
  called ``torch.set_default_device(device)`` (which would otherwise make a verdict depend
  on whether the machine has a GPU); the notebook's default device is restored afterwards;
- whatever learner code prints is captured instead of shown (a fake "passed" line cannot
  sit next to the verdict), and handed back so a failure message can quote it; warnings
  raised while the check runs are silenced.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import random
import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

__all__ = ["Captured", "TimeLimitExceeded", "isolated"]


class TimeLimitExceeded(BaseException):
    """Learner code ran longer than the check's time limit."""


@dataclass
class Captured:
    """What learner code printed while a check ran."""

    stdout: io.StringIO = field(default_factory=io.StringIO)

    def printed(self, max_lines: int = 8) -> str:
        """The first ``max_lines`` printed lines, marked when cut."""
        lines = self.stdout.getvalue().splitlines()
        if len(lines) > max_lines:
            lines = [*lines[:max_lines], f"... ({len(lines) - max_lines} more lines)"]
        return "\n".join(lines)


@contextlib.contextmanager
def isolated(seconds: float) -> Iterator[Captured]:
    """Run the body with a time limit, restored random/grad state and captured output."""
    captured = Captured()
    with contextlib.ExitStack() as stack:
        stack.enter_context(_restored_random_state())
        stack.enter_context(_restored_torch_modes())
        stack.enter_context(contextlib.redirect_stdout(captured.stdout))
        stack.enter_context(contextlib.redirect_stderr(captured.stdout))
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")
        stack.enter_context(_time_limit(seconds))
        yield captured


@contextlib.contextmanager
def _restored_random_state() -> Iterator[None]:
    py_state = random.getstate()
    np_random = getattr(sys.modules.get("numpy"), "random", None)
    np_state = np_random.get_state() if np_random is not None else None
    # Checks may use the GPU (get_device()), so its generators are saved too when there is one.
    cuda_devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    try:
        with torch.random.fork_rng(devices=cuda_devices):
            yield
    finally:
        random.setstate(py_state)
        if np_state is not None:
            np_random.set_state(np_state)


@contextlib.contextmanager
def _restored_torch_modes() -> Iterator[None]:
    grad_enabled = torch.is_grad_enabled()
    default_dtype = torch.get_default_dtype()
    default_device = torch.get_default_device()
    try:
        torch.set_default_device(None)  # factory functions without device= make CPU tensors
        # Checks run with autograd on, whatever the caller's context (no_grad, inference_mode).
        with torch.inference_mode(False), torch.enable_grad():
            yield
    finally:
        torch.set_grad_enabled(grad_enabled)
        torch.set_default_dtype(default_dtype)
        # None is torch's own "nothing set" (the CPU), which adds no cost to every torch call.
        torch.set_default_device(None if default_device.type == "cpu" else default_device)


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the current thread after ``seconds`` with TimeLimitExceeded.

    In the main thread of a POSIX process (a Jupyter kernel, pytest) a SIGALRM timer
    does it, which also interrupts ``time.sleep``; elsewhere a watchdog thread raises
    the exception asynchronously in the checked thread.
    """
    if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
        with _alarm(seconds):
            yield
    else:
        with _watchdog(seconds):
            yield


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    armed = threading.Event()
    armed.set()

    def on_alarm(signum, frame):
        if armed.is_set():
            raise TimeLimitExceeded

    previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    previous_timer = signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
    try:
        yield
    finally:
        armed.clear()  # first: from here on a late alarm is ignored
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_timer[0] > 0:  # someone else's alarm was pending: give it back
            signal.setitimer(signal.ITIMER_REAL, *previous_timer)


@contextlib.contextmanager
def _watchdog(seconds: float) -> Iterator[None]:
    target = threading.get_ident()
    done = threading.Event()

    def interrupt() -> None:
        if done.wait(seconds):
            return
        exc = ctypes.py_object(TimeLimitExceeded)
        while not done.wait(0.05):  # keep raising until the check gives up
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), exc)

    watcher = threading.Thread(target=interrupt, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        # An exception set just before ``done`` may still be pending: cancel it.
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), None)
