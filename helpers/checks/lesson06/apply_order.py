"""The check of ``06.apply_order``: the qualified names in the order ``model.apply`` visits
the modules (each module's children first, in registration order, then the module).

The check's model (``common.Tree``) tells that order apart from every near miss: a shallow
leaf registered before a deep subtree (so "deepest first" differs), siblings whose names do
not sort in registration order (so sorting or reversing siblings shows), and containers of
three kinds at depths 1 to 4. The expected order is computed from the modules' ``_modules``
dicts, never through the learner's code.
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
    changes,
    module_classes,
    post_order,
    pre_order,
    snapshot,
)

CALL = "apply_order(model)"


def _children(module: nn.Module) -> dict[str, nn.Module]:
    return vars(module).get("_modules") or {}


def _names(order: list[tuple[str, nn.Module]]) -> list[str]:
    return [name for name, _ in order]


def _call(t: Checker, apply_order: Callable[..., Any], model: nn.Module, what: str) -> list[str]:
    """``apply_order(model)``, which must return a list of str (returned as a plain list)."""
    with ClassGuard(t, module_classes(model), what=what):
        result = t.call(apply_order, model, what=what)
    if not isinstance(result, list):
        if isinstance(result, (tuple, range)) or hasattr(result, "__next__"):
            hint = (
                "Return a list (the task asks for list[str]): collect the names with "
                "`order.append(name)` in a list, or wrap what you have in list(...)."
            )
        elif result is None:
            hint = (
                "apply_order returns None: collect the names in a list while model.apply "
                "runs, and `return` that list."
            )
        else:
            hint = "Return a list of the qualified names (str), one per module."
        t.fail(
            f"{what} did not return a list",
            expected="a list of str",
            got=describe(result),
            hint=hint,
        )
    names = list(result)  # a plain list: a subclass's __eq__ is not consulted
    for item in names:
        if type(item) is not str:
            t.fail(
                f"{what} returned a list with a {type(item).__name__} in it",
                expected="a list of str (qualified names)",
                got=describe(item),
                hint="Give names, not the modules: build {module: name for name, module in "
                "model.named_modules()} first, then look each visited module up in it."
                if isinstance(item, nn.Module)
                else "Each entry is a module's qualified name, a str such as 'body.1.proj'.",
            )
    return names


@task(
    "06.apply_order",
    title="The order apply visits",
    names=["apply_order"],
    notebook=NOTEBOOK,
)
def check_apply_order(t: Checker) -> None:
    apply_order = t.function("apply_order")

    with t.probe(f"{CALL} returns a list of str for a nested model"):
        model = built(Tree)
        before = snapshot(model)
        got = _call(t, apply_order, model, CALL)

    expected = _names(post_order(model))
    with t.probe("the names are the qualified names of every module, the root as ''"):
        _expect_names(t, got, expected, model)

    with t.probe(
        "in the order model.apply visits the modules: each module's children first, in "
        "registration order, then the module itself"
    ):
        _expect_order(t, got, expected, model)

    with t.probe(f"{CALL} changes nothing in the model"):
        found = changes(before, snapshot(model))
        if found:
            t.fail(
                f"{CALL} changed the model",
                expected="the model as it was",
                got="; ".join(dict.fromkeys(found[:3])),
                hint="Only read the model: keep what you need in your own objects (a dict "
                "{module: name for name, module in model.named_modules()}, a list the "
                "function given to apply appends to), not as attributes or hooks on the "
                "modules.",
            )

    with t.probe("a model without children gives ['']"):
        layer = built(nn.Linear, 2, 2)
        got = _call(t, apply_order, layer, "apply_order(nn.Linear(2, 2))")
        if got != [""]:
            t.fail(
                "apply_order(nn.Linear(2, 2)) is wrong",
                expected="['']",
                got=repr(got)[:200],
                hint="A model without children is visited once, itself, and the root's "
                "qualified name is '' (as in named_modules()).",
            )


def _expect_names(t: Checker, got: list[str], expected: list[str], model: nn.Module) -> None:
    if sorted(got) == sorted(expected):
        return
    want = set(expected)
    short = {name.rpartition(".")[2] for name in expected}
    kinds = {type(m).__name__ for _, m in post_order(model)}
    missing = [n for n in expected if n not in got]
    extra = [n for n in got if n not in want]
    facts = [
        *([f"Missing: {', '.join(map(repr, missing[:5]))}"] if missing else []),
        *([f"Not module names: {', '.join(map(repr, extra[:5]))}"] if extra else []),
    ]
    if missing == [""] and not extra and len(got) == len(expected) - 1:
        hint = (
            "model.apply visits the model itself too, last: its qualified name is '' "
            "(the first name named_modules() gives)."
        )
    elif extra and all(n.startswith(".") for n in extra):
        hint = (
            "A child's qualified name is `prefix + '.' + name` only when there is a prefix: "
            "the root's children are 'out', 'body', not '.out'."
        )
    elif extra and set(got) <= kinds:
        hint = (
            "These are class names; the task asks for qualified names, the dotted paths "
            "named_modules() gives ('body.1.proj')."
        )
    elif extra and set(got) <= short | {""}:
        hint = (
            "Use qualified names, the dotted path from the model ('body.1.proj'), not the "
            "name under the parent alone: take them from named_modules(), or join the "
            "prefix when you recurse."
        )
    elif not extra and set(got) == {n for n, m in post_order(model) if not _children(m)}:
        hint = (
            "apply visits every module, containers and the model itself too, not only the "
            "leaves: record each module apply gives to fn."
        )
    elif not missing and not extra:
        hint = (
            "Each module is visited once (the model has no shared submodules): give each name once."
        )
    else:
        hint = "Give one name per module, the names model.named_modules() gives."
    t.fail(
        "the names are not the modules' qualified names",
        expected=f"{len(expected)} names: " + ", ".join(map(repr, expected[:6])) + ", ...",
        got=f"{len(got)} names: " + ", ".join(map(repr, got[:6])) + (", ..." if got else ""),
        facts=facts,
        hint=hint,
    )


def _expect_order(t: Checker, got: list[str], expected: list[str], model: nn.Module) -> None:
    if got == expected:
        return
    depth = {name: (name.count(".") + 1 if name else 0) for name in expected}
    if got == _names(pre_order(model)):
        hint = (
            "That is named_modules() order (pre-order: a module before its children). "
            "model.apply calls fn on a module's children first and on the module after "
            "them (post-order): record what apply itself visits, model.apply(fn)."
        )
    elif got == _names(pre_order(model))[::-1]:
        hint = (
            "Reversing named_modules() puts children before parents, but it reverses the "
            "siblings too (as a stack that pops the last child first does): apply visits "
            "the children in registration order. Record what model.apply(fn) visits instead."
        )
    elif got in (sorted(expected), sorted(expected, reverse=True)):
        hint = (
            "Those are the names sorted alphabetically: apply visits the children in "
            "registration order (the order of named_children(), here `out` before `body`, "
            "`b` before `a`), not by name. Record what model.apply(fn) visits instead."
        )
    elif got in (_names(breadth_first(model)), _names(breadth_first(model))[::-1]):
        hint = (
            "That is level by level (breadth first); apply goes depth first: a child's "
            "whole subtree, then the next child, then the module itself."
        )
    elif got == sorted(got, key=lambda n: -depth.get(n, 0)):
        hint = (
            "Deepest first is not apply's order: apply finishes one child's subtree (and "
            "that child) before it starts the next child, so the shallow `out` comes first."
        )
    else:
        hint = (
            "Record the order model.apply itself visits: model.apply(fn) with an fn that "
            "appends each module's name."
        )
    first = next(i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b)
    t.fail(
        "the names are not in the order model.apply visits the modules",
        expected=", ".join(map(repr, expected)),
        got=", ".join(map(repr, got)),
        facts=[
            f"First difference at position {first}: {got[first]!r} instead of {expected[first]!r}."
        ],
        hint=hint,
    )
