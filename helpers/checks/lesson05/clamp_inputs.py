"""The check of ``05.clamp_inputs``: ``clamp_inputs(module, low, high)`` registers a forward
pre-hook that clamps the module's first positional input and returns the hook's handle.

The module the check hooks records what its forward receives (``_Recorder``), so a
message can say exactly what the module saw: the clamped tensor, the other positional
arguments (a tensor, a string) and the keyword arguments, or what a hook lost on the way
(torch wraps a pre-hook's non-tuple return value into a 1-tuple, which drops every input
after the first).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from torch.nn.modules import module as _module_api

from helpers.checks.core import (
    Checker,
    count_global_hooks,
    count_hooks,
    describe,
    equal,
    mismatch_facts,
    plain,
    preview,
    shape_str,
    task,
)
from helpers.checks.lesson05.common import NOTEBOOK
from helpers.sandbox import MODULE_HOOK_DICTS

LOW, HIGH = -0.5, 0.75  # asymmetric: clamp(-high, high) or swapped bounds show
MODE = "sum"  # a positional argument that is not a tensor
SCALE = 3.0  # a keyword argument outside [LOW, HIGH]


class _Recorder(nn.Module):
    """A module whose forward records what it receives and returns a copy of its first
    input (so a forward hook that changes the output in place changes nothing of ours)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        # plain tensors: no __torch_function__ of a learner's subclass answers the check
        self.calls.append((tuple(map(plain, args)), {k: plain(v) for k, v in kwargs.items()}))
        first = args[0] if args else None
        return first.clone() if isinstance(first, torch.Tensor) else first


@contextlib.contextmanager
def _cleared(modules: list[nn.Module]) -> Iterator[None]:
    """When the body ends, however it ends, no hook is left on the check's own modules."""
    try:
        yield
    finally:
        for module in modules:
            for name in MODULE_HOOK_DICTS:
                hooks = vars(module).get(name)
                if isinstance(hooks, dict):
                    hooks.clear()


def _sizes(module: nn.Module) -> dict[str, int]:
    """How many hooks of each kind ``module`` has, and how many global ones there are."""
    sizes = {name: len(vars(module).get(name) or ()) for name in MODULE_HOOK_DICTS}
    for name in ("_global_forward_pre_hooks", "_global_forward_hooks"):
        sizes[name] = len(getattr(_module_api, name, None) or ())
    return sizes


def _grew(before: dict[str, int], after: dict[str, int], *names: str) -> bool:
    return any(after.get(n, 0) > before.get(n, 0) for n in names)


def _close(a: Any, b: torch.Tensor) -> bool:
    return (
        isinstance(a, torch.Tensor)
        and a.shape == b.shape
        and a.dtype == b.dtype
        and not mismatch_facts(a, b, rtol=1e-5, atol=1e-6)
    )


ONLY_FIRST = (
    "Only the first positional input is clamped; every other argument, positional or "
    "keyword, is passed on as it is: return (args[0].clamp(low, high), *args[1:])."
)

# Hints for what torch and Python raise when a pre-hook is written wrongly.
_CALL_HINTS = (
    (
        "Boolean value of Tensor with more than one value is ambiguous",
        "Python's min() and max() compare whole tensors, which has no single answer: clamp "
        "every element with torch's own args[0].clamp(low, high) (or torch.clamp).",
    ),
    (
        "does not support item assignment",
        "args is a tuple, which cannot be changed: build a new one with the clamped tensor "
        "first, (clamped, *args[1:]), and return it from the hook.",
    ),
    (
        "must return None or a tuple of (new_args, new_kwargs)",
        "A pre-hook registered with with_kwargs=True returns None or a pair (args, kwargs): "
        "return ((clamped, *args[1:]), kwargs).",
    ),
    (
        "argument after ** must be a mapping",
        "A pre-hook registered with with_kwargs=True returns None or a pair (args, kwargs): "
        "return ((clamped, *args[1:]), kwargs).",
    ),
    ("object has no attribute 'clamp'", ONLY_FIRST),
    ("must be Tensor, not str", ONLY_FIRST),
    (
        "positional argument",
        "torch calls a forward pre-hook as hook(module, args), args being the tuple of "
        "positional inputs (with with_kwargs=True: hook(module, args, kwargs)); a forward "
        "hook's (module, args, output) does not fit a pre-hook.",
    ),
)

ONE_TUPLE = (
    "torch wraps a pre-hook's return value that is not a tuple into a 1-tuple, so the "
    "module lost its other inputs: return a tuple of all of them, "
    "(args[0].clamp(low, high), *args[1:])."
)


def _expect_handle(t: Checker, handle: Any, what: str) -> Callable[[], Any]:
    """``handle`` must be what registering a hook returns: an object with ``remove()``."""
    remove = None
    with contextlib.suppress(Exception):
        remove = getattr(handle, "remove", None)
    if callable(remove) and not isinstance(handle, (nn.Module, torch.Tensor)):
        return remove
    if handle is None:
        hint = (
            "clamp_inputs returns None: end it with `return "
            "module.register_forward_pre_hook(hook)`; the handle that call returns is what "
            "removes the hook later."
        )
    elif isinstance(handle, nn.Module):
        hint = (
            "clamp_inputs returned the module: return the handle that "
            "module.register_forward_pre_hook(hook) returns, which removes the hook."
        )
    elif callable(handle):
        hint = (
            "clamp_inputs returned the hook function, not its handle: return what "
            "module.register_forward_pre_hook(hook) returns (a RemovableHandle)."
        )
    else:
        hint = (
            "Return the handle that module.register_forward_pre_hook(hook) returns: an "
            "object whose remove() takes the hook off the module."
        )
    t.fail(
        f"{what} did not return the hook's handle",
        expected="a handle with a remove() method (torch.utils.hooks.RemovableHandle)",
        got=describe(handle),
        hint=hint,
    )


@task(
    "05.clamp_inputs",
    title="Clamp a module's input with a pre-hook",
    names=["clamp_inputs"],
    notebook=NOTEBOOK,
)
def check_clamp_inputs(t: Checker) -> None:
    clamp_inputs = t.function("clamp_inputs")
    module = _Recorder()
    with _cleared([module]):
        _check(t, clamp_inputs, module)


def _check(t: Checker, clamp_inputs: Callable[..., Any], module: _Recorder) -> None:
    call = f"clamp_inputs(module, {LOW}, {HIGH})"

    with t.probe(f"{call} returns the hook's handle"):
        before = _sizes(module)
        hooks_before = sum(count_hooks(module).values()) + count_global_hooks()
        handle = t.call(clamp_inputs, module, LOW, HIGH, what=call)
        remove = _expect_handle(t, handle, call)
        after = _sizes(module)

    with t.probe(f"the module sees its first positional input clamped to [{LOW}, {HIGH}]"):
        x1 = torch.randn(6, 4) * 2
        x1[0, 0], x1[0, 1], x1[1, 0] = HIGH + 1, LOW - 1, (LOW + HIGH) / 2  # above, below, in
        x1_saved = x1.clone()
        out = plain(t.call(module, x1, what="module(x)", hints=_CALL_HINTS))
        args, _ = module.calls[-1]
        _expect_first_clamped(t, args, out, x1_saved, before, after)

    with t.probe("every other argument, positional or keyword, reaches forward unchanged"):
        x, y, bias = torch.randn(3, 4) * 2, torch.randn(3, 4) * 2, torch.randn(4) * 2
        y[0, 0], bias[0] = HIGH + 1, LOW - 1
        saved = [v.clone() for v in (x, y, bias)]
        what = f"module(x, y, {MODE!r}, scale={SCALE}, bias=b)"
        t.call(module, x, y, MODE, scale=SCALE, bias=bias, what=what, hints=_CALL_HINTS)
        args, kwargs = module.calls[-1]
        _expect_others_unchanged(t, args, kwargs, saved, what)

    with t.probe("the caller's tensors are not modified"):
        for name, tensor, copy in (
            ("x of module(x)", x1, x1_saved),
            ("x of module(x, y, ...)", x, saved[0]),
            ("y", y, saved[1]),
            ("b", bias, saved[2]),
        ):
            _expect_untouched(t, name, tensor, copy)

    with t.probe("handle.remove() restores the original behaviour"):
        t.call(remove, what="handle.remove()")
        x = torch.randn(3, 4) * 2
        x[0, 0] = HIGH + 1
        y = torch.randn(2)
        saved = [x.clone(), y.clone()]
        t.call(module, x, y, what="module(x, y) after handle.remove()", hints=_CALL_HINTS)
        args, _ = module.calls[-1]
        left = sum(count_hooks(module).values()) + count_global_hooks() - hooks_before
        seen_right = (
            len(args) == 2
            and isinstance(args[0], torch.Tensor)
            and isinstance(args[1], torch.Tensor)
            and equal(args[0], saved[0])
            and equal(args[1], saved[1])
        )
        if not seen_right or left > 0:
            t.fail(
                "a hook still acts after handle.remove()",
                expected="the module sees x and y as they were given, and it has no hook left",
                got=f"first input seen {_seen(args)}; {max(left, 0)} hook(s) still registered",
                hint="Register exactly one forward pre-hook in clamp_inputs and return its "
                "handle: handle.remove() removes only the hook it belongs to (a hook "
                "registered twice, or a second hook, stays).",
            )


def _seen(args: tuple[Any, ...]) -> str:
    if not args:
        return "nothing"
    return preview(args[0]) if isinstance(args[0], torch.Tensor) else describe(args[0])


def _expect_first_clamped(
    t: Checker,
    args: tuple[Any, ...],
    out: Any,
    x: torch.Tensor,
    before: dict[str, int],
    after: dict[str, int],
) -> None:
    """What forward received for ``module(x)``: ``(x.clamp(LOW, HIGH),)``."""
    expected = x.clamp(LOW, HIGH)
    if args and isinstance(args[0], list):
        t.fail(
            "the module received a list as its input",
            expected=f"a tensor, {preview(expected)}",
            got=f"a list of length {len(args[0])}",
            hint="torch wraps a pre-hook's return value that is not a tuple into a 1-tuple, "
            "so a list arrives as one argument: return a tuple, "
            "(args[0].clamp(low, high), *args[1:]).",
        )
    if len(args) != 1:
        extra = args[1] if len(args) > 1 else None
        if isinstance(extra, tuple):
            hint = (
                "args[1:] arrived as one more argument (a tuple): unpack it, "
                "(args[0].clamp(low, high), *args[1:])."
            )
        elif isinstance(extra, torch.Tensor) and extra.shape == x.shape and equal(extra, x):
            hint = (
                "The input arrives twice, clamped and as it was: (clamped, *args) repeats "
                "args[0]; return (clamped, *args[1:])."
            )
        else:
            hint = (
                "Return (args[0].clamp(low, high), *args[1:]): the module's inputs, the first "
                "clamped."
            )
        t.fail(
            "the module received the wrong number of positional inputs",
            expected="1 (module(x) was called with x alone)",
            got=f"{len(args)}: {', '.join(describe(a) for a in args)}",
            hint=hint,
        )
    seen = args[0]
    if not isinstance(seen, torch.Tensor):
        t.fail(
            "the module's first input is not a tensor",
            expected=f"a tensor, {preview(expected)}",
            got=describe(seen),
            hint="Return a tuple whose first item is the clamped tensor, "
            "(args[0].clamp(low, high), *args[1:]).",
        )
    if _close(seen, expected):
        return
    hint = "Return (args[0].clamp(low, high), *args[1:]) from the pre-hook."
    if _close(seen, x):
        if _close(out, expected):
            hint = (
                "The output was clamped, not the input: a forward hook's return value "
                "replaces the output. Clamp the input in a forward pre-hook "
                "(module.register_forward_pre_hook), which runs before forward."
            )
        elif _grew(before, after, "_forward_hooks", "_global_forward_hooks") and not _grew(
            before, after, "_forward_pre_hooks", "_global_forward_pre_hooks"
        ):
            hint = (
                "A forward hook runs after forward, when the module has already used its "
                "input: register a forward pre-hook (module.register_forward_pre_hook) and "
                "return the new inputs from it."
            )
        elif _grew(before, after, "_forward_pre_hooks", "_global_forward_pre_hooks"):
            hint = (
                "The pre-hook runs but changes nothing: its return value replaces the inputs. "
                "Return (args[0].clamp(low, high), *args[1:]) (returning None, or the "
                "original args, leaves the inputs as they were; rebinding a local name "
                "changes nothing)."
            )
        else:
            hint = (
                "No hook was added to the module: register one with "
                "module.register_forward_pre_hook(hook) and return its handle."
            )
    else:
        for wrong, text in (
            (
                x.clamp(min=LOW),
                "Only values below low were raised: clamp from both sides, "
                "args[0].clamp(low, high).",
            ),
            (
                x.clamp(max=HIGH),
                "Only values above high were lowered: clamp from both sides, "
                "args[0].clamp(low, high).",
            ),
            (
                torch.full_like(x, LOW),
                "Every value became low: the bounds are swapped (when min > max, clamp "
                "gives max everywhere); write args[0].clamp(low, high), min first.",
            ),
        ):
            if _close(seen, wrong):
                hint = text
                break
    t.fail(
        "the module does not see its input clamped",
        expected=f"forward receives {preview(expected)}",
        got=f"forward received {preview(seen)}",
        facts=mismatch_facts(seen, expected, rtol=1e-5, atol=1e-6)
        if (seen.shape, seen.dtype, seen.device) == (x.shape, x.dtype, x.device)
        else [
            f"expected shape {shape_str(x.shape)}, dtype {x.dtype}, device {x.device}; got "
            f"shape {shape_str(seen.shape)}, dtype {seen.dtype}, device {seen.device}"
        ],
        hint=hint,
    )


def _expect_others_unchanged(
    t: Checker,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    saved: list[torch.Tensor],
    what: str,
) -> None:
    """What forward received for ``module(x, y, MODE, scale=SCALE, bias=b)``."""
    x, y, bias = saved
    if len(args) == 1:
        t.fail(
            "the module lost its inputs after the first",
            expected=f"3 positional inputs (x clamped, y, {MODE!r})",
            got=f"1: {describe(args[0])}",
            hint=ONE_TUPLE,
        )
    if len(args) != 3:
        t.fail(
            "the module received the wrong number of positional inputs",
            expected=f"3 (x clamped, y, {MODE!r})",
            got=f"{len(args)}: {', '.join(describe(a) for a in args)}",
            hint="Return (args[0].clamp(low, high), *args[1:]): the module's inputs, the "
            "first clamped.",
        )
    if not _close(args[0], x.clamp(LOW, HIGH)):
        t.fail(
            "the first input is not clamped when the module has other inputs",
            expected=preview(x.clamp(LOW, HIGH)),
            got=_seen(args),
            hint="Clamp args[0] whatever else args holds: (args[0].clamp(low, high), *args[1:]).",
        )
    second, third = args[1], args[2]
    if not (isinstance(second, torch.Tensor) and _close(second, y)):
        clamped = isinstance(second, torch.Tensor) and _close(second, y.clamp(LOW, HIGH))
        t.fail(
            "the second positional input was changed",
            expected=f"y as it was, {preview(y)}",
            got=preview(second) if isinstance(second, torch.Tensor) else describe(second),
            hint=ONLY_FIRST if clamped else "Pass args[1:] on as they are: (clamped, *args[1:]).",
        )
    if not (isinstance(third, str) and third == MODE):
        t.fail(
            "the third positional input was changed",
            expected=repr(MODE),
            got=describe(third),
            hint="Pass args[1:] on as they are: (clamped, *args[1:]).",
        )
    if set(kwargs) != {"scale", "bias"}:
        t.fail(
            "keyword arguments were lost",
            expected=f"{what} passes scale and bias to forward",
            got=f"forward received keyword arguments {sorted(kwargs)}",
            hint="Keyword arguments reach forward untouched unless a hook registered with "
            "with_kwargs=True replaces them: return ((clamped, *args[1:]), kwargs) from it "
            "(or register the hook without with_kwargs and return only the new args).",
        )
    scale, b = kwargs["scale"], kwargs["bias"]
    if not (isinstance(b, torch.Tensor) and _close(b, bias)) or scale != SCALE:
        t.fail(
            "a keyword argument was changed",
            expected=f"scale={SCALE}, bias={preview(bias)}",
            got=f"scale={describe(scale)}, bias="
            + (preview(b) if isinstance(b, torch.Tensor) else describe(b)),
            hint=ONLY_FIRST,
        )


def _expect_untouched(t: Checker, name: str, tensor: torch.Tensor, copy: torch.Tensor) -> None:
    """The caller's tensor still holds its values (``copy``, taken before the call)."""
    if not equal(tensor, copy):
        t.fail(
            f"the caller's tensor {name} was modified",
            expected="the tensor passed to the module keeps its values",
            got=f"it now holds {preview(tensor)}",
            hint="The hook clamped the caller's tensor in place (clamp_, .data.clamp_, "
            "out=...): the caller's x then stays clamped after the call. Make a new tensor "
            "with args[0].clamp(low, high) and return it.",
        )
