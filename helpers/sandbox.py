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
- torch runs on one CPU thread while the check runs (its models and tensors are tiny: one
  thread is the fastest, and the only setting that stays fast on a busy machine, where a
  kernel's default of one thread per core makes every small operation wait for all of
  them); the notebook's thread count is put back afterwards;
- tensors are created on the CPU by default while the check runs, even when the notebook
  called ``torch.set_default_device(device)`` (which would otherwise make a verdict depend
  on whether the machine has a GPU); the notebook's default device is restored afterwards;
- whatever learner code prints is captured instead of shown (a fake "passed" line cannot
  sit next to the verdict), and handed back so a failure message can quote it; warnings
  raised while the check runs are silenced;
- hooks cannot leak in or out: the notebook's global module hooks
  (``register_module_forward_hook`` and the like) and global optimizer hooks
  (``register_optimizer_step_pre_hook``) are set aside while the check runs, so they
  cannot change a verdict, and come back afterwards; any global hook registered during the
  check is removed; the hooks of every module among the namespace's values
  (and their submodules) are restored to what they were before the check.
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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn.modules import module as _module_api
from torch.optim import optimizer as _optimizer_api

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
def isolated(seconds: float, namespace: Mapping[str, Any] | None = None) -> Iterator[Captured]:
    """Run the body with a time limit, restored random/grad state and captured output.

    ``namespace``: the learner's names; the hooks of the modules among its values are
    restored afterwards.
    """
    captured = Captured()
    with contextlib.ExitStack() as stack:
        stack.enter_context(_restored_module_hooks(_modules_in(namespace or {})))
        stack.enter_context(_set_aside_global_hooks())
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
    threads = torch.get_num_threads()
    try:
        if threads != 1:
            torch.set_num_threads(1)
        torch.set_default_device(None)  # factory functions without device= make CPU tensors
        # Checks run with autograd on, whatever the caller's context (no_grad, inference_mode).
        with torch.inference_mode(False), torch.enable_grad():
            yield
    finally:
        torch.set_grad_enabled(grad_enabled)
        torch.set_default_dtype(default_dtype)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
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


# -- hooks ----------------------------------------------------------------------------------

# torch.nn.modules.module keeps the global hooks in these dicts; a handle removes its hook
# from the dict it was registered in, so the dicts themselves are kept and only their
# contents are swapped.
_HOOK_DICT_ENDINGS = ("hooks", "hooks_with_kwargs", "hooks_always_called")
GLOBAL_HOOK_REGISTRIES = tuple(
    name
    for name in vars(_module_api)
    if name.startswith("_global_") and name.endswith(_HOOK_DICT_ENDINGS)
)
# A module's own hook dicts, as nn.Module.__init__ creates them.
MODULE_HOOK_DICTS = tuple(name for name in vars(nn.Module()) if name.endswith(_HOOK_DICT_ENDINGS))
_MAX_MODULES = 10_000  # a namespace holds a few models; never walk without end


# torch.optim.optimizer's global step hooks, kept the same way.
GLOBAL_OPTIMIZER_HOOK_REGISTRIES = ("_global_optimizer_pre_hooks", "_global_optimizer_post_hooks")


@contextlib.contextmanager
def _set_aside_global_hooks() -> Iterator[None]:
    registries = {
        (owner, name): getattr(owner, name)
        for owner, names in (
            (_module_api, GLOBAL_HOOK_REGISTRIES),
            (_optimizer_api, GLOBAL_OPTIMIZER_HOOK_REGISTRIES),
        )
        for name in names
    }
    saved = {key: dict(registry) for key, registry in registries.items()}
    full_backward = _module_api._global_is_full_backward_hook
    for registry in registries.values():
        registry.clear()
    try:
        yield
    finally:
        for (owner, name), registry in registries.items():
            setattr(owner, name, registry)  # also when learner code rebound the name
            registry.clear()
            registry.update(saved[owner, name])
        _module_api._global_is_full_backward_hook = full_backward


def _modules_in(namespace: Mapping[str, Any]) -> list[nn.Module]:
    """The modules among ``namespace``'s values and all their submodules, read without
    calling any learner method (``_modules`` dicts only)."""
    if type(namespace) is not dict:  # a learner's own Mapping: run none of its methods
        return []
    found: dict[int, nn.Module] = {}
    try:
        stack = [v for v in dict.values(namespace) if isinstance(v, nn.Module)]
    except Exception:  # a value whose __class__ raises: nothing to restore
        return []
    while stack and len(found) < _MAX_MODULES:
        module = stack.pop()
        if id(module) in found:
            continue
        found[id(module)] = module
        children = vars(module).get("_modules") or {}
        stack.extend(c for c in list(children.values()) if isinstance(c, nn.Module))
    return list(found.values())


@contextlib.contextmanager
def _restored_module_hooks(modules: Iterable[nn.Module]) -> Iterator[None]:
    modules = list(modules)
    saved = [
        (module, name, hooks, dict(hooks))
        for module in modules
        for name in MODULE_HOOK_DICTS
        if isinstance(hooks := vars(module).get(name), dict)
    ]
    full_backward = [(module, vars(module).get("_is_full_backward_hook")) for module in modules]
    try:
        yield
    finally:
        for module, name, hooks, contents in saved:
            vars(module)[name] = hooks
            hooks.clear()
            hooks.update(contents)
        for module, flag in full_backward:
            vars(module)["_is_full_backward_hook"] = flag
