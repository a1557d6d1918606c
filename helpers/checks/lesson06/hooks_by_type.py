"""The check of ``06.hooks_by_type``: ``register_hooks_by_type(model, cls, hook)`` registers
``hook`` as a forward hook on every instance of ``cls`` (the root too) and returns a list
with one handle per hook.

The check reads each module's hook dicts directly (which kind of hook, how many, where),
then runs the model to see the hook called as a forward hook, ``hook(module, args,
output)``, once per call of each instance, then removes the returned handles and expects
no hook left. Its models hold a subclass of the class searched for, instances at several
depths, and (for ``nn.Sequential``) a root that is an instance itself. Every hook left on
the check's modules is cleared when the check ends, however it ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from helpers.checks.core import Checker, count_global_hooks, describe, task
from helpers.checks.lesson06.common import (
    NOTEBOOK,
    Block,
    ClassGuard,
    built,
    module_classes,
    pre_order,
)
from helpers.sandbox import MODULE_HOOK_DICTS

_FORWARD = "_forward_hooks"
_TORCH = (nn.Linear, nn.Sequential)  # the classes searched for; subclasses are the check's
_PRE = "_forward_pre_hooks"


class _Linear(nn.Linear):
    """A subclass of nn.Linear."""


class _Model(nn.Module):
    """Linears at depths 1 and 3 (inside Blocks), and a subclass of nn.Linear as the head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Linear(2, 2)
        self.blocks = nn.Sequential(Block(), nn.ReLU(), Block())
        self.head = _Linear(2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


def _sequential_model() -> nn.Module:
    """A root that is an nn.Sequential, with an nn.Sequential inside it and one inside a Block."""
    return nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Linear(2, 2)), Block())


class _Hook:
    """The hook the check passes: records every call's arguments; returns None."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(args + tuple(kwargs.values()))


@contextlib.contextmanager
def _cleared(*models: nn.Module) -> Iterator[None]:
    """When the body ends, however it ends, no hook is left on the check's modules."""
    try:
        yield
    finally:
        for model in models:
            for module in model.modules():
                for name in MODULE_HOOK_DICTS:
                    hooks = vars(module).get(name)
                    if isinstance(hooks, dict):
                        hooks.clear()


def _hook_counts(model: nn.Module) -> dict[str, dict[str, int]]:
    """Per qualified name, the number of hooks of each kind (dicts read directly)."""
    return {
        name: {d: len(vars(m).get(d) or ()) for d in MODULE_HOOK_DICTS}
        for name, m in pre_order(model)
    }


@task(
    "06.hooks_by_type",
    title="Hooks on every module of a type",
    names=["register_hooks_by_type"],
    notebook=NOTEBOOK,
)
def check_hooks_by_type(t: Checker) -> None:
    register = t.function("register_hooks_by_type")
    model, sequential, empty = built(_Model), built(_sequential_model), built(_Model)
    with _cleared(model, sequential, empty):
        _check(t, register, model, sequential, empty)


def _check(
    t: Checker,
    register: Callable[..., Any],
    model: nn.Module,
    sequential: nn.Module,
    empty: nn.Module,
) -> None:
    call = "register_hooks_by_type(model, nn.Linear, hook)"
    instances = [(n, m) for n, m in pre_order(model) if isinstance(m, nn.Linear)]

    with t.probe(f"{call} returns a list"):
        hook = _Hook()
        global_before = count_global_hooks()
        handles = _call(t, register, model, nn.Linear, hook, call)

    with t.probe(
        "one forward hook on every instance of nn.Linear at any depth, subclasses included, "
        "and no hook on any other module"
    ):
        _expect_hooked(t, model, instances, global_before, "nn.Linear")

    with t.probe("the hook runs as a forward hook: hook(module, args, output), once per call"):
        x = torch.randn(3, 2)
        t.call(model, x, what="model(x) with the hooks registered")
        _expect_called(t, hook, instances, model)

    with t.probe("the list holds one handle per registered hook; removing them removes them all"):
        _expect_handles(t, handles, model, len(instances), global_before, call)

    call = "register_hooks_by_type(model, nn.Sequential, hook)"
    with t.probe(f"the root is hooked too when it is an instance of cls: {call}"):
        hook = _Hook()
        roots = [(n, m) for n, m in pre_order(sequential) if isinstance(m, nn.Sequential)]
        handles = _call(t, register, sequential, nn.Sequential, hook, call)
        _expect_hooked(t, sequential, roots, global_before, "nn.Sequential")
        _expect_handles(t, handles, sequential, len(roots), global_before, call)

    call = "register_hooks_by_type(model, nn.Conv2d, hook)"
    with t.probe(f"no instance of cls: {call} returns [] and registers nothing"):
        handles = _call(t, register, empty, nn.Conv2d, _Hook(), call)
        _expect_hooked(t, empty, [], global_before, "nn.Conv2d")
        _expect_handles(t, handles, empty, 0, global_before, call)


def _call(
    t: Checker, register: Callable[..., Any], model: nn.Module, cls: type, hook: _Hook, what: str
) -> list[Any]:
    with ClassGuard(t, module_classes(model), what=what):
        result = t.call(
            register,
            model,
            cls,
            hook,
            what=what,
            hints=[
                (
                    "positional argument",
                    "torch calls a forward hook as hook(module, args, output): pass `hook` "
                    "itself to module.register_forward_hook(hook).",
                )
            ],
        )
    if isinstance(result, list):
        return list(result)  # a plain list: a subclass's methods are not consulted
    if isinstance(result, RemovableHandle):
        hint = (
            "That is one handle, the last one: collect every handle that "
            "module.register_forward_hook(hook) returns in a list, and return the list."
        )
    elif isinstance(result, tuple):
        hint = (
            "Return a list, as the task asks: collect the handles with a list "
            "comprehension, [... for module in model.modules() if ...], or list(...)."
        )
    elif hasattr(result, "__next__") or isinstance(result, (map, filter)):
        hint = (
            "Return a list, not a generator or map: a generator registers its hooks "
            "only when someone iterates over it, and only once. Use a list comprehension, "
            "[... for module in model.modules() if ...]."
        )
    elif isinstance(result, dict):
        hint = "Return a list of the handles (the task asks for a list), not a dict."
    elif result is None:
        hint = (
            "register_hooks_by_type returns None: keep each handle "
            "module.register_forward_hook(hook) returns in a list and return the list."
        )
    else:
        hint = "Return a list with the handle of every hook registered."
    t.fail(
        f"{what} did not return a list",
        expected="a list of handles",
        got=describe(result),
        hint=hint,
    )


def _expect_hooked(
    t: Checker,
    model: nn.Module,
    instances: list[tuple[str, nn.Module]],
    global_before: int,
    cls: str,
) -> None:
    counts = _hook_counts(model)
    modules = dict(pre_order(model))
    wanted = [n for n, _ in instances]
    forward = {n: c[_FORWARD] for n, c in counts.items() if c[_FORWARD]}
    other = {
        n: sum(k for d, k in c.items() if d not in (_FORWARD,) and d.endswith("hooks"))
        for n, c in counts.items()
    }
    other = {n: k for n, k in other.items() if k}
    pre = {n for n, c in counts.items() if c[_PRE]}
    if forward == dict.fromkeys(wanted, 1) and not other:
        return
    missing = [n for n in wanted if n not in forward]
    stray = [n for n in forward if n not in wanted]
    if not forward and pre:
        hint = (
            "These are forward PRE-hooks (register_forward_pre_hook), which run before "
            "forward and never see the output: use module.register_forward_hook(hook)."
        )
    elif not forward and not other and count_global_hooks() > global_before:
        hint = (
            "A global hook (torch.nn.modules.module.register_module_forward_hook) fires for "
            "every module of every model: register the hook on each matching module, "
            "module.register_forward_hook(hook), one handle each."
        )
    elif other:
        hint = "Register forward hooks only: module.register_forward_hook(hook)."
    elif missing == [""] and not stray:
        hint = (
            f"The model itself is an instance of {cls} and gets a hook too: walk "
            "model.modules() (or model.apply) with no name filter; named_modules() gives "
            "the root as ''."
        )
    elif missing and not stray and all(type(modules[n]) not in _TORCH for n in missing):
        hint = (
            f"`{missing[0]}` is a subclass of {cls}: test isinstance(module, cls), which "
            "subclasses pass, not type(module) is cls."
        )
    elif missing and not stray and all("." in n for n in missing):
        hint = (
            "Only the direct children were searched: model.children() stops at depth 1; "
            "model.modules() (or model.apply) reaches every depth."
        )
    elif stray and not missing:
        hint = (
            f"Hooks went on modules that are not instances of {cls}: register only where "
            "isinstance(module, cls)."
        )
    elif not missing and not stray:
        hint = (
            "Some modules got the hook more than once: register it once per module (one "
            "pass over model.modules(), or one model.apply)."
        )
    else:
        hint = (
            "Register the hook on every module of model.modules() that is an instance of "
            f"{cls}, and on nothing else."
        )
    t.fail(
        f"the forward hooks are not on exactly the instances of {cls}",
        expected="one forward hook on each of "
        + (", ".join(n or "(the model)" for n, _ in instances) or "no module"),
        got=", ".join(f"{n or '(the model)'}: {k}" for n, k in forward.items())
        or "no forward hook on any module",
        facts=[f"Other hooks: {other}"] if other else [],
        hint=hint,
    )


def _expect_called(
    t: Checker, hook: _Hook, instances: list[tuple[str, nn.Module]], model: nn.Module
) -> None:
    names = {id(m): n for n, m in pre_order(model)}
    for args in hook.calls:
        if len(args) != 3 or not isinstance(args[2], torch.Tensor):
            t.fail(
                "the hook was not called as hook(module, args, output)",
                got=f"hook called with {len(args)} arguments: "
                + ", ".join(describe(a) for a in args),
                hint="Pass `hook` itself to module.register_forward_hook(hook) (no "
                "with_kwargs=True, no wrapper that changes its arguments): torch then calls "
                "hook(module, args, output).",
            )
    called = sorted(names.get(id(args[0]), "?") for args in hook.calls)
    wanted = sorted(n for n, _ in instances)
    if called != wanted:
        t.fail(
            "the hook did not run once per call of each instance",
            expected=", ".join(wanted),
            got=", ".join(called) or "no call",
            hint="Register `hook` itself on each instance, once: torch calls it after each "
            "forward of that module.",
        )


def _expect_handles(
    t: Checker,
    handles: list[Any],
    model: nn.Module,
    count: int,
    global_before: int,
    what: str,
) -> None:
    if len(handles) != count:
        t.fail(
            f"{what} returned {len(handles)} handles for {count} hooks",
            expected=f"a list of {count} handles",
            got=f"a list of {len(handles)}",
            hint="Append the handle of every hook you register, and nothing else, to the "
            "list you return (one handle per hook)."
            if count
            else "With no instance of cls there is no hook and no handle: return [].",
        )
    for handle in handles:
        if not isinstance(handle, RemovableHandle):
            t.fail(
                f"{what} returned a list with a {type(handle).__name__} in it",
                expected="handles (torch.utils.hooks.RemovableHandle)",
                got=describe(handle),
                hint="Put in the list what module.register_forward_hook(hook) returns: its "
                "handle, whose remove() takes the hook off.",
            )
    for handle in handles:
        t.call(handle.remove, what="handle.remove()")
    left = {n or "(the model)": sum(c.values()) for n, c in _hook_counts(model).items()}
    left = {n: k for n, k in left.items() if k}
    if left or count_global_hooks() != global_before:
        t.fail(
            "hooks are left after removing every handle in the list",
            expected="no hook left",
            got=", ".join(f"{k} on {n}" for n, k in left.items()) or "global hooks",
            hint="Each handle in the list removes one hook: put in the handle of every hook "
            "you register (one handle per hook, none twice).",
        )
