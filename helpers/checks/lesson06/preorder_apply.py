"""The check of ``06.preorder_apply``: ``Module.apply`` with fn called on a module before its
children (depth first, children in registration order), returning the module.

fn is the check's recorder: it appends the module it is given, so the check compares the
modules visited, by identity, with the pre-order computed from the ``_modules`` dicts of
``common.Tree``, and names the near misses (apply's post-order, reversed siblings, level by
level, a recursion over ``modules()`` that visits subtrees again and again).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from helpers.checks.core import Checker, describe, task
from helpers.checks.lesson06.common import (
    NOTEBOOK,
    ClassGuard,
    Tree,
    breadth_first,
    built,
    module_classes,
    post_order,
    pre_order,
)

CALL = "preorder_apply(model, fn)"


class _Recorder:
    """fn for the learner's preorder_apply: records every call's arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append((args, kwargs))


def _modules_recursion(model: nn.Module) -> list[nn.Module]:
    """What `fn(module)` then `preorder_apply(m, fn) for m in module.modules()` visits, up to a
    bound (it visits each subtree again at every level; a module is among its own modules(),
    so written so it would never end, and a learner's version stops on the root)."""
    order: list[nn.Module] = []

    def walk(module: nn.Module) -> None:
        order.append(module)
        for sub in list(module.modules())[1:]:
            walk(sub)

    walk(model)
    return order


def _run(
    t: Checker, preorder_apply: Callable[..., Any], model: nn.Module, what: str
) -> tuple[Any, _Recorder]:
    fn = _Recorder()
    with ClassGuard(t, module_classes(model), what=what):
        result = t.call(
            preorder_apply,
            model,
            fn,
            what=what,
            hints=[
                (
                    "maximum recursion depth",
                    "preorder_apply calls itself without end: module.modules() starts with "
                    "the module itself, so recursing over it never stops. Recurse over "
                    "module.children(), the direct children only.",
                )
            ],
        )
    for args, kwargs in fn.calls:
        if len(args) != 1 or kwargs or not isinstance(args[0], nn.Module):
            t.fail(
                "fn was called with other arguments than one module",
                expected="fn(module), as Module.apply calls it",
                got=f"fn({', '.join([*map(describe, args), *kwargs])})",
                hint="Call fn with the module alone, fn(module), as model.apply does (no "
                "name, no extra arguments).",
            )
    return result, fn


def _name_of(model: nn.Module) -> Callable[[Any], str]:
    names = {id(m): name for name, m in pre_order(model)}
    return lambda m: repr(names[id(m)]) if id(m) in names else describe(m)


@task(
    "06.preorder_apply",
    title="A pre-order apply",
    names=["preorder_apply"],
    notebook=NOTEBOOK,
)
def check_preorder_apply(t: Checker) -> None:
    preorder_apply = t.function("preorder_apply")

    with t.probe(
        f"{CALL} calls fn(module) on every module once, the module before its children, "
        "depth first, the children in registration order"
    ):
        model = built(Tree)
        result, fn = _run(t, preorder_apply, model, CALL)
        _expect_pre_order(t, [args[0] for args, _ in fn.calls], model)

    with t.probe(f"{CALL} returns model, as Module.apply does"):
        _expect_returns(t, result, model, CALL)

    with t.probe("a module without children: fn is called once, on it, and it is returned"):
        layer = built(nn.Linear, 2, 2)
        what = "preorder_apply(nn.Linear(2, 2), fn)"
        result, fn = _run(t, preorder_apply, layer, what)
        visited = [args[0] for args, _ in fn.calls]
        if len(visited) != 1 or visited[0] is not layer:
            t.fail(
                f"{what} did not call fn exactly once, on the layer",
                expected="1 call, fn(layer)",
                got=f"{len(visited)} calls",
                hint="fn(module) comes first, whether or not the module has children; then "
                "the loop over its (here: no) children.",
            )
        _expect_returns(t, result, layer, what)


def _expect_returns(t: Checker, result: Any, module: nn.Module, what: str) -> None:
    if result is module:
        return
    t.fail(
        f"{what} did not return the module",
        expected="the module it was given (the same object)",
        got=describe(result),
        hint="End with `return module`, as Module.apply does (so calls chain: "
        "model = preorder_apply(Model(), init)); the recursive calls' results are not it.",
    )


def _expect_pre_order(t: Checker, visited: list[nn.Module], model: nn.Module) -> None:
    expected = [m for _, m in pre_order(model)]
    if len(visited) == len(expected) and all(
        a is b for a, b in zip(visited, expected, strict=True)
    ):
        return

    def same(order: list[nn.Module]) -> bool:
        return len(order) == len(visited) and all(
            a is b for a, b in zip(visited, order, strict=True)
        )

    ids = [id(m) for m in visited]
    expected_ids = [id(m) for m in expected]
    leaves = [m for m in expected if not (vars(m).get("_modules") or {})]
    if not visited:
        hint = "fn was never called: call fn(module) first, then recurse into each child."
    elif same([m for _, m in post_order(model)]):
        hint = (
            "That is Module.apply's order (post-order: children first). Call fn(module) "
            "before the loop over the children, not after it."
        )
    elif same(_modules_recursion(model)) or (
        len(visited) > len(expected) and set(ids) == set(expected_ids)
    ):
        hint = (
            "Some modules were visited again and again: module.modules() yields the module "
            "and ALL its descendants, so recursing over it repeats each subtree. Recurse "
            "over module.children() (the direct children only)."
        )
    elif same([model, *(m for child in model.children() for _, m in post_order(child))]):
        hint = (
            "child.apply(fn) is Module.apply: below the model it visits each subtree "
            "children first (post-order). Recurse with preorder_apply(child, fn), so that "
            "every level calls fn on a module before its children."
        )
    elif same([m for _, m in pre_order(model, reverse=True)]):
        hint = (
            "The children come in reverse: take them in registration order, "
            "`for child in module.children():` (with an explicit stack, push them reversed "
            "so that the first child is popped first)."
        )
    elif same([m for _, m in breadth_first(model)]):
        hint = (
            "That is level by level (breadth first, a queue): go depth first, each child's "
            "whole subtree before the next child (recursion, or a stack)."
        )
    elif same(expected[1:]):
        hint = (
            "The module itself was never given to fn, only its descendants: start with "
            "fn(module), then recurse into each child (which does the same for itself)."
        )
    elif same(leaves):
        hint = (
            "Only modules without children were given to fn: every module gets fn, "
            "containers (and the model itself) too."
        )
    elif same([m for m in expected if m is model or any(m is c for c in model.children())]):
        hint = (
            "Only the model and its direct children were visited: call preorder_apply(child, "
            "fn) for each child, so that the children's children are visited too."
        )
    elif len(set(ids)) != len(ids):
        hint = "Each module is visited exactly once (the model has no shared submodules)."
    else:
        hint = (
            "Visit as Module.apply does, but with fn(module) first: fn(module), then "
            "preorder_apply(child, fn) for child in module.children(); return module."
        )
    name = _name_of(model)
    t.fail(
        "fn was not called on the modules in pre-order",
        expected=f"{len(expected)} calls: " + ", ".join(name(m) for m in expected[:7]) + ", ...",
        got=f"{len(visited)} calls: "
        + ", ".join(name(m) for m in visited[:7])
        + (", ..." if len(visited) > 7 else ""),
        hint=hint,
    )
