"""The channel between a grading kernel and its supervisor, and the tamper fingerprint.

Messages are length-prefixed JSON on two pipes that are neither stdin, stdout nor
stderr, so whatever a notebook prints is only output. Each verdict travels as soon as its
check returns, before any more learner code runs in the grader's thread; the supervisor
accepts exactly one per task, in order, and anything else on the channel while the checks
run is tampering. Then all verdicts travel again with the fingerprint, in a message that
carries an HMAC keyed with a secret the supervisor sends only after the kernel said that
every check is done: the secret is not in the process while the notebook's code runs in
the grader's own thread (cells, then the checks calling the learner's code), so neither a
cell nor a method the checks call can find it (in frames, ``gc`` or the commands).
Trace and profile functions are removed before the checks, and an audit hook the
notebook cannot remove reports any set while they run.

The fingerprint names every object a verdict depends on (the course package's
functions, classes and their members, the code, defaults and closures of its Python
functions, the torch functions and classes the checks use, builtins, and the channel's
own json/hmac machinery) with its identity. The kernel takes it before any learner
cell runs and sends it to the supervisor at once; after the learner's cells it takes it
again. The supervisor compares the two outside the kernel. The kernel keeps every
fingerprinted object alive, so an identity cannot be reused by a replacement.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import struct
import sys
import types
from typing import Any

__all__ = [
    "ChannelError",
    "fingerprint",
    "mac",
    "read_message",
    "trace_alarm",
    "verify",
    "write_message",
]

_HEADER = struct.Struct(">I")
MAX_MESSAGE = 64 << 20  # a result with every message of every task stays far below


class ChannelError(Exception):
    """A message was missing, cut short, too long or not JSON."""


def write_message(fd: int, message: Any) -> None:
    data = json.dumps(message).encode()
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_message(fd: int) -> Any:
    """Read one message; raises ChannelError on end of file or a malformed message."""
    (length,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size))
    if length > MAX_MESSAGE:
        raise ChannelError(f"a message of {length} bytes")
    try:
        return json.loads(_read_exactly(fd, length))
    except ValueError as exc:
        raise ChannelError(f"a message that is not JSON ({exc})") from None


def _read_exactly(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise ChannelError("the channel was closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def mac(secret: str, payload: Any) -> str:
    """The HMAC-SHA256 of ``payload`` (canonical JSON) keyed with ``secret``."""
    data = json.dumps(payload, sort_keys=True).encode()
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def verify(secret: str, message: Any) -> Any:
    """The payload of a ``{"payload": ..., "mac": ...}`` message, or None when forged."""
    if not isinstance(message, dict) or not isinstance(message.get("mac"), str):
        return None
    expected = mac(secret, message.get("payload"))
    return message["payload"] if hmac.compare_digest(expected, message["mac"]) else None


def trace_alarm(fd: int) -> Any:
    """Install an audit hook (it cannot be removed) that, once armed, reports on ``fd``
    every call of ``sys.settrace`` or ``sys.setprofile`` (or a profiler's C equivalent):
    a trace or profile function runs in the grader's own frames and could rewrite a
    verdict there. Returns the function that arms it."""
    armed: list[bool] = []
    write = write_message

    def hook(event: str, args: Any) -> None:
        if armed and event in ("sys.settrace", "sys.setprofile"):
            armed.clear()  # one report is enough
            write(fd, {"op": "traced", "event": event})

    sys.addaudithook(hook)
    return lambda: armed.append(True)


# -- fingerprint ----------------------------------------------------------------------------

# torch namespaces whose functions and classes the checks call; their members are
# compared by identity, and the code of those written in Python too.
_TORCH_SPACES = ("torch.nn.functional", "torch.nn.init", "torch.nn.utils", "torch.optim")
# Modules the channel itself relies on.
_CHANNEL_SPACES = ("json", "hmac", "hashlib", "struct", "os")


def fingerprint(held: list[Any]) -> dict[str, int]:
    """Every guarded object by name, with its identity.

    ``held`` receives the objects, so that the caller keeps them alive (an identity is
    unique only among live objects).
    """
    import builtins

    from helpers import grading

    found: dict[str, Any] = {}
    for space, members in grading._guarded_namespaces().items():
        for name, value in members.items():
            found[f"{space}.{name}"] = value
    for task_id, task in grading.TASKS.items():
        found[f"TASKS[{task_id}].check"] = task.check
    for space in _TORCH_SPACES + _CHANNEL_SPACES:
        module = sys.modules.get(space)
        if module is not None:
            for name, value in vars(module).items():
                if callable(value) and not isinstance(value, type):
                    found[f"{space}.{name}"] = value
    for name, value in vars(builtins).items():
        if not name.startswith("__") and name not in _SHELL_BUILTINS:
            found[f"builtins.{name}"] = value
    for name in ("displayhook", "excepthook"):
        found[f"sys.{name}"] = getattr(sys, name, None)
    # The code, defaults and closure contents of every Python function among them
    # (replacing __code__ in place keeps the function's identity).
    for key, value in list(found.items()):
        for part, inner in _inner_parts(value):
            found[f"{key}.{part}"] = inner
    held.extend(found.values())
    return {key: id(value) for key, value in found.items()}


# Names IPython adds to builtins while a cell runs and removes afterwards.
_SHELL_BUILTINS = frozenset({"exit", "quit", "get_ipython", "display", "In", "Out"})


def _inner_parts(value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, (staticmethod, classmethod)):
        return [("__func__", value.__func__), *_function_parts(value.__func__, "__func__.")]
    if isinstance(value, property):
        return [
            (f"{name}", fn)
            for name in ("fget", "fset", "fdel")
            if (fn := getattr(value, name)) is not None
        ] + [
            part
            for name in ("fget", "fset", "fdel")
            if isinstance(fn := getattr(value, name), types.FunctionType)
            for part in _function_parts(fn, f"{name}.")
        ]
    if isinstance(value, types.FunctionType):
        return _function_parts(value, "")
    return []


def _function_parts(fn: types.FunctionType, prefix: str) -> list[tuple[str, Any]]:
    parts = [
        (f"{prefix}__code__", fn.__code__),
        (f"{prefix}__defaults__", fn.__defaults__),
        (f"{prefix}__kwdefaults__", fn.__kwdefaults__),
    ]
    for index, cell in enumerate(fn.__closure__ or ()):
        with contextlib.suppress(ValueError):  # an empty cell has no contents
            parts.append((f"{prefix}__closure__[{index}]", cell.cell_contents))
    return parts


def changed(before: dict[str, int], after: Any) -> list[str]:
    """The names in ``before`` whose identity differs in ``after`` (or is missing)."""
    if not isinstance(after, dict):
        return ["(the fingerprint itself)"]
    return sorted(name for name, ident in before.items() if after.get(name) != ident)


class FrameReader:
    """Messages from bytes that arrive in pieces (the supervisor reads without blocking)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[Any]:
        self._buffer += data
        messages = []
        while len(self._buffer) >= _HEADER.size:
            (length,) = _HEADER.unpack(self._buffer[: _HEADER.size])
            if length > MAX_MESSAGE:
                raise ChannelError(f"a message of {length} bytes")
            end = _HEADER.size + length
            if len(self._buffer) < end:
                break
            try:
                messages.append(json.loads(self._buffer[_HEADER.size : end]))
            except ValueError as exc:
                raise ChannelError(f"a message that is not JSON ({exc})") from None
            self._buffer = self._buffer[end:]
        return messages
