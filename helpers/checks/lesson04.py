"""Checks for lesson 04 · Introspection: ``04.count_parameters``, ``04.find_modules``,
``04.replace_modules``, ``04.describe``.

Every check builds its own small models (nested Sequential / ModuleList / ModuleDict, a
subclass of the class searched for, shared modules, tied and frozen parameters, buffers)
and compares the learner's answer with what ``named_modules()``, ``named_parameters()``
and ``named_buffers()`` say about them.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from helpers.checks.core import Checker, CopyOnMove, describe, storage_places, task
from helpers.device import get_device

NOTEBOOK = "04_introspection"


def _is_int(value: Any) -> bool:
    """A Python int (or a NumPy integer), but not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


# Hints for the ways a walk over a module tree goes wrong.
_WALK_HINTS = (
    (
        "unexpected keyword argument 'remove_duplicate'",
        "Only named_parameters(), named_buffers(), named_modules() and modules() take "
        "remove_duplicate; parameters(), buffers() and children() do not. parameters() "
        "already gives each shared Parameter once: call it without arguments.",
    ),
    (
        "maximum recursion depth",
        "The function keeps calling itself: recurse into each child module "
        "(module.named_children()), never into the same module again.",
    ),
    (
        "changed size during iteration",
        "A dict of submodules changed while a loop walked it: collect the matches "
        "first (list(model.named_modules(remove_duplicate=False))), then replace them.",
    ),
    (
        "cannot unpack non-iterable",
        "modules() and children() yield the modules alone; named_modules() and "
        "named_children() yield the (name, module) pairs to unpack.",
    ),
    (
        "values to unpack",
        "Unpack (name, x) pairs only from the named_* methods (named_modules(), "
        "named_parameters(), named_buffers()); modules(), parameters() and buffers() "
        "yield the objects alone.",
    ),
)


def _model_state(model: nn.Module) -> list[tuple[Any, ...]]:
    """What a function that only looks at a model must leave as it was: which module and
    tensor sits at each name, each module's mode, each tensor's device, dtype and
    requires_grad."""
    state: list[tuple[Any, ...]] = [
        ("module", name, id(m), m.training)
        for name, m in model.named_modules(remove_duplicate=False)
    ]
    state += [
        ("parameter", name, id(p), p.device, p.dtype, p.requires_grad)
        for name, p in model.named_parameters(remove_duplicate=False)
    ]
    state += [
        ("buffer", name, id(b), b.device, b.dtype)
        for name, b in model.named_buffers(remove_duplicate=False)
    ]
    return state


def _change_text(before: list[tuple[Any, ...]], after: list[tuple[Any, ...]]) -> str:
    """The first difference between two ``_model_state`` lists, in words."""
    if [entry[:3] for entry in before] != [entry[:3] for entry in after]:
        return "modules, parameters or buffers were added, removed or replaced"
    old, new = next((b, a) for b, a in zip(before, after, strict=True) if b != a)
    kind, name = old[0], old[1] or "(the root)"
    if kind == "module":
        modes = ("eval", "training")
        return f"module {name} went from {modes[old[3]]} to {modes[new[3]]} mode"
    if old[3] != new[3]:
        return f"{kind} {name} moved from {old[3]} to {new[3]}"
    if old[4] != new[4]:
        return f"{kind} {name} changed dtype from {old[4]} to {new[4]}"
    return f"{kind} {name} changed requires_grad from {old[5]} to {new[5]}"


def _expect_unchanged(
    t: Checker, model: nn.Module, before: list[tuple[Any, ...]], what: str
) -> None:
    """Fail when the learner's function changed the model it was only meant to read."""
    after = _model_state(model)
    if after != before:
        t.fail(
            f"{what} changed the model it was given",
            got=_change_text(before, after),
            hint="Only read the model: model.eval() / .train(), .to() / .cpu(), "
            "requires_grad_() and assignments change the caller's model in place.",
        )


# -- moves to the CPU: the same verdict on a laptop and on a GPU machine ----------------------
#
# model.cpu() (or model.to("cpu")) inside a function that only reads the model changes
# nothing on a laptop, where the model is on the CPU already, and moves the caller's model
# off the GPU on a GPU machine. While the function runs, .cpu() / .to("cpu") of one of the
# model's own tensors returns a copy, as it does on a GPU: a copy the function reads
# (p.detach().cpu()) is harmless, a model that takes the copies (model.cpu()) is seen on
# every machine, because its tensors' storage changes.


def _call_reading(
    t: Checker, fn: Callable[..., Any], model: nn.Module, *args: Any, what: str, **kwargs: Any
) -> Any:
    """``t.call(fn, model, ...)`` for a function that must only read ``model``: afterwards
    the model must be as it was (``_expect_unchanged``), its tensors in the same storage."""
    state, storage = _model_state(model), storage_places(model)
    with CopyOnMove(model):
        got = t.call(fn, model, *args, what=what, **kwargs)
    _expect_unchanged(t, model, state, what)
    if storage_places(model) != storage:
        t.fail(
            f"{what} moved or replaced the model's tensors",
            got="the model's parameters or buffers now hold other storage "
            "(model.cpu(), model.to('cpu') or an assignment to .data)",
            hint="Only read the model: model.cpu() / .to('cpu') moves the caller's model in "
            "place; on a laptop it changes nothing, on a GPU machine it takes the model off "
            "the GPU. Shapes, numel() and requires_grad are there wherever the model is.",
        )
    return got


# -- models the checks are made of ------------------------------------------------------------


class _ScaledLinear(nn.Linear):
    """A subclass of nn.Linear: isinstance(m, nn.Linear) is True, type(m) is not nn.Linear."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * super().forward(x)


class _Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.proj = nn.Linear(width, width)
        self.act = nn.ReLU()


class _Tree(nn.Module):
    """Linear layers at depths 1 to 4, inside ModuleList, Sequential and ModuleDict."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Linear(3, 4)
        self.blocks = nn.ModuleList([_Block(4), nn.Sequential(_Block(4), nn.ReLU())])
        self.heads = nn.ModuleDict(
            {"cls": nn.Sequential(nn.Linear(4, 2)), "reg": _ScaledLinear(4, 1)}
        )
        self.norm = nn.LayerNorm(4)


class _Net(nn.Module):
    """Registered in the order encoder, heads, decoder (not alphabetical)."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), _ScaledLinear(8, 8))
        self.heads = nn.ModuleDict(
            {"b": nn.Linear(8, 2), "a": nn.Sequential(nn.ReLU(), nn.Linear(8, 3))}
        )
        self.decoder = nn.ModuleList([nn.Linear(8, 4), nn.Tanh()])
        self.out = nn.Linear(4, 1)


class _Shared(nn.Module):
    """A block (Linear, BatchNorm1d, ReLU) shared by two parents (`enc.0` and `dec.1`), a
    Linear registered twice on the root (`mid` and `again`), and a tied Linear weight.

    Sharing under two different parents matters: ``named_children()`` skips a repeated
    child of one parent, so only a walk that remembers what it has seen lists `dec.1` once.
    """

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        block = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.ReLU())
        self.enc = nn.Sequential(block, nn.Linear(4, 4))
        self.mid = nn.Linear(4, 4)
        self.dec = nn.Sequential(nn.Tanh(), block)  # the same block at a second place
        self.again = self.mid  # the same Linear under a second name of the root
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight  # a tied parameter


class _Frozen(nn.Module):
    """A frozen Linear, a trainable Linear, a LayerNorm with a frozen weight only."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(5, 4).requires_grad_(False)
        self.fc2 = nn.Linear(4, 3)
        self.norm = nn.LayerNorm(3)
        self.norm.weight.requires_grad_(False)


class _Odd(nn.Module):
    """A 0-dim parameter, a ParameterList, a non-persistent buffer, a BatchNorm."""

    def __init__(self) -> None:
        super().__init__()
        self.temperature = nn.Parameter(torch.tensor(1.0))
        self.scales = nn.ParameterList(
            [nn.Parameter(torch.ones(3)), nn.Parameter(torch.ones(2, 2))]
        )
        self.bn = nn.BatchNorm1d(3)
        self.register_buffer("mask", torch.ones(4, dtype=torch.bool), persistent=False)
        self.register_buffer("step", torch.zeros((), dtype=torch.long))


# -- 04.count_parameters ------------------------------------------------------------------------

# Ways of adding up that fail on a model with nothing to add (no parameters, or none
# trainable): sum(...) gives 0 there.
_COUNT_HINTS = (
    (
        "expected a non-empty list of Tensors",
        "parameters_to_vector (torch.cat) fails on a model with no parameters (or with "
        "trainable_only=True, none trainable): add up p.numel() with sum(...), which "
        "gives 0 when there is nothing to count.",
    ),
    (
        "non-empty TensorList",
        "torch.stack fails on an empty list, which a model with no parameters gives: add "
        "up p.numel() with sum(...), which gives 0 when there is nothing to count.",
    ),
    (
        "empty iterable",
        "reduce() without a start value fails on a model with no parameters: add up "
        "p.numel() with sum(...) (or give reduce the start value 0).",
    ),
    (
        "StopIteration",
        "next(model.parameters()) raises StopIteration on a model without parameters "
        "(nn.ReLU has none): do not ask the first parameter for a device or dtype; add up "
        "p.numel(), Python ints, starting from 0.",
    ),
    *_WALK_HINTS,
)


def _numel(tensors) -> int:
    return sum(p.numel() for p in tensors)


@task(
    "04.count_parameters",
    title="Count parameters",
    names=["count_parameters"],
    notebook=NOTEBOOK,
)
def check_count_parameters(t: Checker) -> None:
    count_parameters = t.function("count_parameters")

    with t.probe("nn.Linear(3, 2) has 8 (weight 2×3 + bias 2), a Python int"):
        _expect_count(t, count_parameters, nn.Linear(3, 2), "nn.Linear(3, 2)", None)

    with t.probe("buffers do not count (Linear + BatchNorm1d)"):
        model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
        _expect_count(t, count_parameters, model, "Sequential(Linear(4, 3), BatchNorm1d(3))", None)

    with t.probe("a 0-dim parameter, a ParameterList and a non-persistent buffer"):
        _expect_count(t, count_parameters, _Odd(), "a model with odd parameters", None)

    with t.probe("a shared module and a tied weight count once"):
        _expect_count(t, count_parameters, _Shared(), "a model with shared parameters", None)

    with t.probe("frozen parameters count by default"):
        _expect_count(t, count_parameters, _Frozen(), "a partly frozen model", None)

    with t.probe("trainable_only=True counts only parameters with requires_grad"):
        _expect_count(t, count_parameters, _Frozen(), "a partly frozen model", True)

    with t.probe("trainable_only=False counts every parameter"):
        _expect_count(t, count_parameters, _Frozen(), "a partly frozen model", False)

    with t.probe("a model without parameters has 0"):
        _expect_count(
            t,
            count_parameters,
            nn.BatchNorm1d(3, affine=False),
            "BatchNorm1d(3, affine=False)",
            None,
        )
        _expect_count(t, count_parameters, nn.ReLU(), "nn.ReLU()", True)

    with t.probe("works on the course's device, get_device()"):
        model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)).to(get_device())
        _expect_count(t, count_parameters, model, "a model on the device", None)
        _expect_count(t, count_parameters, model, "a model on the device", True)


def _expect_count(
    t: Checker,
    count_parameters: Callable[..., Any],
    model: nn.Module,
    name: str,
    trainable_only: bool | None,
) -> None:
    """``count_parameters(model[, trainable_only=...])`` must equal the reference count."""
    if trainable_only is None:
        what = f"count_parameters({name})"
        got = _call_reading(t, count_parameters, model, hints=_COUNT_HINTS, what=what)
        only = False
    else:
        what = f"count_parameters({name}, trainable_only={trainable_only})"
        got = _call_reading(
            t, count_parameters, model, trainable_only=trainable_only, hints=_COUNT_HINTS, what=what
        )
        only = trainable_only

    def keep(p: torch.Tensor) -> bool:
        return p.requires_grad or not only

    params = [p for p in model.parameters() if keep(p)]
    expected = _numel(params)
    if isinstance(got, torch.Tensor):
        t.fail(
            f"{what} returned a tensor, not an int",
            expected=f"the int {expected}",
            got=describe(got),
            hint="Return a Python int: sum(p.numel() for p in ...) is already one; "
            "for a tensor total, use .item().",
        )
    if not _is_int(got):
        if isinstance(got, float):
            hint = (
                "Return an int, not a float: add up p.numel() (an int) rather than "
                "sizes computed with floats or np.prod (np.prod(()) is 1.0 for a 0-dim tensor)."
            )
        elif got is None:
            hint = "The function returns None: `return` the count."
        else:
            hint = "Return the count as an int (the number of values in the parameters)."
        t.fail(
            f"{what} did not return an int",
            expected=f"the int {expected}",
            got=describe(got),
            hint=hint,
        )
    got = int(got)
    if got == expected:
        return
    all_params = list(model.parameters())
    duplicated = [p for _, p in model.named_parameters(remove_duplicate=False) if keep(p)]
    per_module_own = [p for m in model.modules() for p in m.parameters(recurse=False) if keep(p)]
    nested_again = [p for m in model.modules() for p in m.parameters() if keep(p)]
    if got == 0 and not only:
        t.fail(
            f"{what} is wrong",
            expected=str(expected),
            got="0",
            facts=[f"parameters: {_shapes(model, only)}"],
            hint="0 for a model that has parameters: count the parameters of the whole "
            "model, the root's own ones too (model.parameters(); not children(), not "
            "recurse=False), frozen ones too when trainable_only is False (a test such as "
            "p.requires_grad == trainable_only keeps only the frozen ones), each as "
            "p.numel() (a product of sizes starts at 1).",
        )
    diagnoses = [
        (
            len(params),
            "This counts parameter tensors, not the numbers in them: add up p.numel() "
            "for each parameter.",
        ),
        (
            expected + _numel(model.buffers()),
            "Buffers are not parameters (BatchNorm's running_mean, running_var, "
            "num_batches_tracked): count model.parameters() only, not state_dict().",
        ),
        (
            _numel(duplicated),
            "A shared (tied) parameter was counted twice: model.parameters() yields each "
            "Parameter once, even when it is registered under two names.",
        ),
        (
            _numel(per_module_own),
            "A shared (tied) parameter was counted twice: model.parameters() yields each "
            "Parameter once, even when it is registered under two names.",
        ),
        (
            _numel(duplicated) + _numel(model.buffers()),
            "Buffers are not parameters, and state_dict() lists a tied parameter under "
            "each of its names: count model.parameters() only.",
        ),
        (
            _numel(nested_again),
            "m.parameters() already includes the parameters of m's submodules, so looping "
            "over model.modules() counts nested ones again: use model.parameters() once.",
        ),
    ]
    if params and all(p.dim() and p.shape[0] == 2 for p in params):
        diagnoses.append(
            (
                sum(p.numel() // 2 for p in params),
                "parameters() yields the tensors alone: `for name, p in model.parameters()` "
                "unpacks each tensor's two rows; write `for p in model.parameters()` (or "
                "use named_parameters() for (name, p) pairs).",
            )
        )
    if only:
        diagnoses += [
            (
                _numel(all_params),
                "With trainable_only=True count only the parameters whose requires_grad is True.",
            ),
            (
                _numel(p for p in all_params if not p.requires_grad),
                "The test is inverted: trainable parameters have requires_grad=True; keep "
                "those, not the frozen ones.",
            ),
        ]
    else:
        diagnoses.append(
            (
                _numel(p for p in all_params if p.requires_grad),
                "Without trainable_only (it defaults to False) count every parameter, "
                "frozen ones too.",
            )
        )
    hint = next(
        (h for value, h in diagnoses if value == got),
        "Add up p.numel() over model.parameters(), keeping only p.requires_grad ones when "
        "trainable_only is True.",
    )
    t.fail(
        f"{what} is wrong",
        expected=str(expected),
        got=str(got),
        facts=[f"parameters: {_shapes(model, only)}"],
        hint=hint,
    )


def _shapes(model: nn.Module, trainable_only: bool) -> str:
    items = [
        f"{name} {tuple(p.shape)}{'' if p.requires_grad else ' frozen'}"
        for name, p in model.named_parameters()
        if p.requires_grad or not trainable_only
    ]
    text = ", ".join(items) or "none"
    return text if len(text) < 200 else text[:200] + "..."


# -- 04.find_modules ----------------------------------------------------------------------------


@task("04.find_modules", title="Find modules by class", names=["find_modules"], notebook=NOTEBOOK)
def check_find_modules(t: Checker) -> None:
    find_modules = t.function("find_modules")

    with t.probe("returns the names of the nn.Linear layers (a list of str), at every depth"):
        _expect_names(t, find_modules, _Net(), nn.Linear, "a nested model", "nn.Linear")

    with t.probe("subclasses count: nn.Module matches every module, the root '' first"):
        _expect_names(t, find_modules, _Net(), nn.Module, "a nested model", "nn.Module")

    with t.probe("the root is included when it is an instance of cls"):
        model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()), nn.ReLU())
        _expect_names(t, find_modules, model, nn.Sequential, "nn.Sequential(...)", "nn.Sequential")

    with t.probe("a module registered twice is listed once, under its first name"):
        _expect_names(
            t, find_modules, _Shared(), nn.Linear, "a model with a shared module", "nn.Linear"
        )
        _expect_names(
            t, find_modules, _Shared(), nn.ReLU, "a model with a shared module", "nn.ReLU"
        )

    with t.probe("no match gives an empty list"):
        _expect_names(t, find_modules, _Net(), nn.Conv2d, "a nested model", "nn.Conv2d")

    with t.probe("works on the course's device, get_device()"):
        model = _Tree().to(get_device())
        _expect_names(t, find_modules, model, nn.Linear, "a model on the device", "nn.Linear")


def _expect_names(
    t: Checker,
    find_modules: Callable[..., Any],
    model: nn.Module,
    cls: type,
    model_text: str,
    cls_text: str,
) -> None:
    what = f"find_modules({model_text}, {cls_text})"
    got = _call_reading(t, find_modules, model, cls, hints=_WALK_HINTS, what=what)
    pairs = list(model.named_modules())
    expected = [name for name, m in pairs if isinstance(m, cls)]
    if not isinstance(got, list):
        t.fail(
            f"{what} did not return a list",
            expected=f"a list of names, {expected}",
            got=describe(got),
            hint="Collect the names in a list and return it (a generator or a tuple is not "
            "a list: wrap it in list(...)).",
        )
    if got and all(isinstance(item, nn.Module) for item in got):
        t.fail(
            f"{what} returned modules, not their names",
            expected=f"{expected}",
            got=f"a list of {len(got)} modules",
            hint="Return the qualified names (str), such as 'encoder.0', that "
            "named_modules() pairs with each module.",
        )
    if not all(isinstance(item, str) for item in got):
        t.fail(
            f"{what} returned items that are not str",
            expected=f"{expected}",
            got=_short(got),
            hint="Each item is a module's qualified name, a str such as 'encoder.0'.",
        )
    got = [str.__str__(item) for item in got]  # plain str in a plain list, compared as such
    if got == expected:
        return
    all_pairs = list(model.named_modules(remove_duplicate=False))
    module_at = dict(all_pairs)  # every name a module has, even a second or third one
    last_name: dict[int, str] = {}
    for name, m in all_pairs:
        last_name[id(m)] = name
    last_names = [last_name[id(m)] for _, m in pairs if isinstance(m, cls)]
    got_ids = [id(module_at[name]) for name in got if name in module_at]
    first = got[0].split(".")[0] if got else ""
    unprefixed = [
        "" if name == first else name[len(first) + 1 :]
        for name in got
        if name == first or name.startswith(first + ".")
    ]
    diagnoses = [
        (
            any(name.startswith(".") for name in got),
            "The names have a leading dot: join with '.' only when the prefix is not empty "
            "(named_modules() builds the names for you).",
        ),
        (
            got == [name for name, m in model.named_children() if isinstance(m, cls)],
            "Search all levels: named_modules() walks the whole tree, named_children() "
            "only the first level.",
        ),
        (
            got == [name for name, m in pairs if type(m) is cls],
            "Subclasses count too: test isinstance(m, cls), not type(m) == cls.",
        ),
        (
            got == [name for name, m in pairs if isinstance(m, cls) and name],
            "The root counts too when it is an instance of cls: its name is '' (the "
            "first pair named_modules() gives).",
        ),
        (
            len(got_ids) == len(got) and len(set(got_ids)) < len(got),
            "List each module once: a module registered at two places appears once in "
            "named_modules() (its default remove_duplicate=True); do not pass "
            "remove_duplicate=False, and a walk of your own must skip the modules it has "
            "already met (keep a set of them).",
        ),
        (
            sorted(got) == sorted(last_names) != sorted(expected),
            "A module registered at two places is listed under its first name, the one "
            "named_modules() gives.",
        ),
        (
            got == [name.rpartition(".")[2] for name in expected],
            "Give each module's full dotted name from the root, such as 'encoder.0' (not "
            "'0'): a walk of your own must join the parent's name, a dot and the child's "
            "name.",
        ),
        (
            got == [type(m).__name__ for _, m in pairs if isinstance(m, cls)],
            "Return where each module sits, its qualified name such as 'encoder.0', not "
            "the name of its class.",
        ),
        (
            bool(first) and unprefixed == expected,
            f"The names start with {first!r}: the root's name is '' and the others start "
            "at its children (named_modules() with its default prefix='').",
        ),
        (
            got == sorted(expected),
            "Keep the order of named_modules() (the root, then each subtree in "
            "registration order); do not sort the names.",
        ),
        (
            sorted(got) == sorted(expected),
            "Keep the order of named_modules(): the root first, then each child followed "
            "at once by its whole subtree, children in registration order (pre-order; "
            "not level by level, not children before their parent, not through a set).",
        ),
    ]
    hint = next(
        (h for matches, h in diagnoses if matches),
        "Go through model.named_modules() and keep the name of each module m with "
        "isinstance(m, cls).",
    )
    t.fail(f"{what} is wrong", expected=str(expected), got=_short(got), hint=hint)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


# -- 04.replace_modules -------------------------------------------------------------------------


class _FactoryMisuse(BaseException):
    """Raised by the check's own factory when it is called in a way the task rules out.

    A BaseException, so that it passes through ``t.call`` and a learner's
    ``except Exception`` to the check, which turns it into a failure.
    """

    def __init__(self, headline: str, hint: str) -> None:
        super().__init__(headline)
        self.headline = headline
        self.hint = hint


class _Wrapped(nn.Module):
    """What the wrapping factory returns: the old module inside a new one."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner


class _TwoParents(nn.Module):
    """One Linear under two different parents (`enc.0` in a Sequential, `dec.1` in a
    ModuleList), and a Linear of its own (`out`)."""

    def __init__(self) -> None:
        super().__init__()
        shared = nn.Linear(4, 4)
        self.enc = nn.Sequential(shared, nn.ReLU())
        self.dec = nn.ModuleList([nn.Tanh(), shared])
        self.out = nn.Linear(4, 2)


_RESEARCH_HINT = (
    "Do not search inside what factory returns: collect the matches first (e.g. "
    "list(model.named_modules(remove_duplicate=False))), then replace them; replacing "
    "children while iterating modules() makes the loop walk into the new modules, and "
    "recursing into a replaced child searches factory's output."
)


_NESTED_HINT = (
    "A match inside another match: once the outer one is replaced, its name leads into "
    "what factory returned, and set_submodule / setattr by that name edits the new "
    "module. Replace the inner matches first (go through the matches deepest first, "
    "e.g. reversed(...)), or leave them inside the outer one; never change what factory "
    "returned."
)


_REVISIT_HINT = (
    "A module shared by two parents was walked twice: the second time it already held "
    "factory's output, which was then searched and changed. Collect every place first "
    "(list(model.named_modules(remove_duplicate=False))), or keep a set of the modules "
    "already walked and do not enter one again."
)


_SHARED_CALL_HINT = (
    "A module registered at several places gets ONE factory call: keep a dict from each "
    "old module to its new one, and put that same new module at every place, so the "
    "places still share one module."
)


def _own_tree(module: nn.Module, old_ids: set[int]) -> list[tuple[str, int | None]]:
    """The (name, id) of every module below ``module`` that the factory made, down to
    the modules that were in the model before (their insides are not the factory's)."""
    tree: list[tuple[str, int | None]] = []
    seen = {id(module)}

    def walk(m: nn.Module, prefix: str) -> None:
        for name, child in m._modules.items():
            tree.append((prefix + name, None if child is None else id(child)))
            if child is not None and id(child) not in old_ids and id(child) not in seen:
                seen.add(id(child))
                walk(child, f"{prefix}{name}.")

    walk(module, "")
    return tree


class _Factory:
    """The check's factory: makes the new modules and watches how it is called."""

    def __init__(
        self,
        make: Callable[[nn.Module], nn.Module],
        root: nn.Module,
        again_hint: str,
        places: dict[int, int],
    ) -> None:
        self.make = make
        self.root = root
        self.again_hint = again_hint  # for a call on what factory returned
        self.places = places  # id(module) -> how many places it has in the model
        self.calls: list[nn.Module] = []
        self.made: dict[int, nn.Module] = {}  # id(old) -> new
        self.old_ids = {id(m) for m in root.modules()}
        self.trees: dict[int, list[tuple[str, int | None]]] = {}  # id(new) -> its own tree

    def changed_outputs(self) -> list[nn.Module]:
        """The modules factory returned whose own tree was changed after they were made."""
        return [
            new for new in self.made.values() if _own_tree(new, self.old_ids) != self.trees[id(new)]
        ]

    def __call__(self, old: Any) -> nn.Module:
        if not isinstance(old, nn.Module):
            raise _FactoryMisuse(
                f"factory was called with {describe(old)}, not a module",
                "Call factory(old) with the module being replaced.",
            )
        if old is self.root:
            raise _FactoryMisuse(
                "factory was called on the root model",
                "Replace submodules only: the root (the model itself, named '' in "
                "named_modules()) is never replaced and does not count.",
            )
        if any(old is new for new in self.made.values()):
            raise _FactoryMisuse("factory was called on a module it had returned", self.again_hint)
        if any(old is c for c in self.calls):
            if self.places.get(id(old), 0) > 1:
                raise _FactoryMisuse(
                    f"factory was called twice on one {type(old).__name__} registered at "
                    f"{self.places[id(old)]} places",
                    _SHARED_CALL_HINT,
                )
            raise _FactoryMisuse(
                "factory was called again on a module it had already replaced",
                self.again_hint,
            )
        self.calls.append(old)
        new = self.make(old)
        self.made[id(old)] = new
        self.trees[id(new)] = _own_tree(new, self.old_ids)
        return new


def _call_replace(
    t: Checker,
    replace_modules: Callable[..., Any],
    model: nn.Module,
    cls: type,
    factory: _Factory,
    what: str,
) -> Any:
    # getattr does not follow dots: getattr(model, "enc.0") names the failing path.
    dotted = {name for name, _ in model.named_modules(remove_duplicate=False) if "." in name}
    hints = [
        (
            f"attribute '{name}'",
            f"getattr(model, {name!r}) looks for one attribute literally named {name!r}: "
            "getattr and setattr do not follow dots; use model.get_submodule(name) "
            "(and model.set_submodule(name, new)).",
        )
        for name in sorted(dotted)
    ]
    hints += [
        (
            "StopIteration",
            "next(old.parameters()) raises StopIteration for a module without parameters "
            "(nn.ReLU has none): put what factory(old) returned in place as it is (the "
            "factory decides how the new module is made; do not move or convert it).",
        ),
        (
            "has no attribute `",
            "A name that led to a match no longer exists when it is used: a module on its "
            "path was already replaced. " + _NESTED_HINT,
        ),
        *_WALK_HINTS,
    ]
    try:
        return t.call(replace_modules, model, cls, factory, hints=hints, what=what)
    except _FactoryMisuse as misuse:
        t.fail(misuse.headline, hint=misuse.hint)


def _dotted_children(model: nn.Module) -> list[str]:
    """Children registered under a name with a dot (what setattr(model, "a.b", m) does).

    Walks each module once (a learner's code may have made a cycle)."""
    return [name for m in model.modules() for name in m._modules if "." in name]


@task(
    "04.replace_modules",
    title="Replace modules in place",
    names=["replace_modules"],
    notebook=NOTEBOOK,
)
def check_replace_modules(t: Checker) -> None:
    replace_modules = t.function("replace_modules")

    with t.probe("replaces the ReLUs of a flat nn.Sequential, returns 2"):
        model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU())
        _expect_replaced(
            t,
            replace_modules,
            model,
            nn.ReLU,
            lambda old: nn.GELU(),
            "nn.Sequential(...)",
            "nn.ReLU",
        )

    with t.probe("at every depth, inside ModuleList, Sequential and ModuleDict, subclasses too"):
        _expect_replaced(
            t,
            replace_modules,
            _Tree(),
            nn.Linear,
            lambda old: nn.Linear(old.in_features, old.out_features),
            "a nested model",
            "nn.Linear",
        )

    with t.probe("the root is not replaced, even when it is an instance of cls"):
        model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()), nn.ReLU())
        _expect_replaced(
            t,
            replace_modules,
            model,
            nn.Sequential,
            lambda old: nn.Identity(),
            "nn.Sequential(...)",
            "nn.Sequential",
        )

    with t.probe("a factory that wraps the old module works (its output is not searched)"):
        _expect_replaced(
            t, replace_modules, _Tree(), nn.Linear, _Wrapped, "a nested model", "nn.Linear"
        )

    with t.probe("a match inside another match (a Sequential in a Sequential), wrapped"):
        model = nn.Sequential(
            nn.Linear(2, 2), nn.Sequential(nn.Sequential(nn.Linear(2, 2)), nn.ReLU()), nn.Tanh()
        )
        _expect_replaced(
            t,
            replace_modules,
            model,
            nn.Sequential,
            lambda old: nn.Sequential(old, nn.Dropout(0.1)),
            "nested nn.Sequential(...)",
            "nn.Sequential",
        )

    with t.probe(
        "one ReLU at indices 1 and 3 of a Sequential: one factory call, the same new "
        "module at both places, returns 1"
    ):
        relu = nn.ReLU()
        model = nn.Sequential(nn.Linear(3, 4), relu, nn.Linear(4, 4), relu)
        _expect_replaced(
            t,
            replace_modules,
            model,
            nn.ReLU,
            lambda old: nn.GELU(),
            "nn.Sequential(Linear, relu, Linear, relu)",
            "nn.ReLU",
        )

    with t.probe(
        "one Linear under two parents (enc.0 and dec.1), wrapped: one factory call, the "
        "same new module at both places, returns 2"
    ):
        _expect_replaced(
            t,
            replace_modules,
            _TwoParents(),
            nn.Linear,
            _Wrapped,
            "a model with a Linear under two parents",
            "nn.Linear",
        )

    with t.probe(
        "a block shared by two parents, a Linear under two names of the root, a tied "
        "weight; wrapped"
    ):
        _expect_replaced(
            t,
            replace_modules,
            _Shared(),
            nn.Linear,
            lambda old: nn.Sequential(old, nn.Dropout(0.1)),
            "a model with shared modules",
            "nn.Linear",
        )

    with t.probe("a shared Sequential inside two matching Sequentials, wrapped"):
        _expect_replaced(
            t,
            replace_modules,
            _Shared(),
            nn.Sequential,
            _Wrapped,
            "a model with shared modules",
            "nn.Sequential",
        )

    with t.probe("no match: nothing changes, returns 0"):
        _expect_replaced(
            t,
            replace_modules,
            _Tree(),
            nn.Conv2d,
            lambda old: nn.Identity(),
            "a nested model",
            "nn.Conv2d",
        )

    with t.probe("works on the course's device, get_device()"):
        device = get_device()
        model = _Tree().to(device)
        _expect_replaced(
            t,
            replace_modules,
            model,
            nn.Linear,
            lambda old: nn.Sequential(old, nn.Dropout(0.1)),
            "a model on the device",
            "nn.Linear",
        )


def _expect_replaced(
    t: Checker,
    replace_modules: Callable[..., Any],
    model: nn.Module,
    cls: type,
    make: Callable[[nn.Module], nn.Module],
    model_text: str,
    cls_text: str,
) -> None:
    what = f"replace_modules({model_text}, {cls_text}, factory)"
    # Every place of every module: a shared module has several.
    before = [(n, m) for n, m in model.named_modules(remove_duplicate=False) if n]
    places: dict[int, int] = {}
    for _, m in before:
        places[id(m)] = places.get(id(m), 0) + 1
    targets = [(name, m) for name, m in before if isinstance(m, cls)]
    target_ids = {id(m) for _, m in targets}
    kept = [
        (name, m)
        for name, m in before
        if not any(name == t_name or name.startswith(t_name + ".") for t_name, _ in targets)
    ]
    nested = any(n.startswith(o + ".") for n, _ in targets for o, _ in targets)
    shared = any(count > 1 for count in places.values())
    again_hint = _NESTED_HINT if nested else _REVISIT_HINT if shared else _RESEARCH_HINT
    factory = _Factory(make, model, again_hint, places)
    got = _call_replace(t, replace_modules, model, cls, factory, what)

    strays = [m for m in factory.calls if id(m) not in target_ids]
    if strays and isinstance(strays[0], cls):
        t.fail(
            "factory was called on a module that is not in the model it was given",
            got=f"factory({type(strays[0]).__name__} module) with a module of another model",
            hint="Replace in place, in the model you were given: a copy (copy.deepcopy) has "
            "modules of its own, and the caller's model stays as it was.",
        )
    if strays:
        t.fail(
            f"factory was called on a module that is not an instance of {cls_text}",
            got=f"factory({type(strays[0]).__name__} module)",
            hint="Replace only the modules m with isinstance(m, cls).",
        )
    edited = factory.changed_outputs()
    if edited:
        t.fail(
            "a module that factory returned was changed afterwards",
            got=f"a child of the new {type(edited[0]).__name__} was added or replaced",
            hint=again_hint if again_hint != _RESEARCH_HINT else _NESTED_HINT,
        )
    dotted = _dotted_children(model)
    if dotted:
        t.fail(
            "the model gained a child whose name contains a dot",
            got=f"a child named {dotted[0]!r}",
            hint=f"setattr(model, {dotted[0]!r}, new) adds a child literally named that way "
            "and leaves the old module in place: use model.set_submodule(name, new), or "
            "setattr on the parent module with the last part of the name.",
        )
    missing: list[tuple[str, nn.Module, nn.Module | None]] = []  # (place, old, what is there)
    new_places = 0  # places that now hold factory's module for their old one
    for name, old in targets:
        # A match nested in other matches sits inside the old module of the nearest match
        # around it (which factory received): there it is either left as it was or
        # replaced by factory's module for it. Any other match must be replaced.
        around = [(o_name, o) for o_name, o in targets if name.startswith(o_name + ".")]
        parent_name, parent = max(around, key=lambda a: len(a[0]), default=("", model))
        path = name[len(parent_name) + 1 :] if parent_name else name
        try:
            now = parent.get_submodule(path)
        except AttributeError:
            now = None
        new = factory.made.get(id(old))
        if new is not None and now is new:
            new_places += 1
        elif not (around and now is old):
            missing.append((name, old, now))
    if missing:
        _fail_missing(t, what, cls, cls_text, targets, missing, factory, places)
    changed = []
    for name, m in kept:
        try:
            now = model.get_submodule(name)
        except AttributeError:
            now = None
        if now is not m:
            changed.append(name)
    if changed:
        t.fail(
            f"{what} changed modules that are not instances of {cls_text}",
            got=f"changed: {changed}",
            hint="Leave every other module where it is, as it is.",
        )
    replaced = len(factory.calls)  # one per module replaced, however many places it has
    if not _is_int(got):
        t.fail(
            f"{what} did not return an int",
            expected=f"the int {replaced}",
            got=describe(got),
            hint="Return the number of submodules you replaced."
            if got is not None
            else "The function returns None: `return` how many submodules were replaced.",
        )
    if int(got) != replaced:
        if isinstance(model, cls) and int(got) == replaced + 1:
            hint = (
                "The root is not replaced, so it does not count: count only the submodules "
                "you replaced."
            )
        elif int(got) == new_places:
            hint = (
                "A shared module counts once: return how many modules were replaced (one "
                "per factory call), not how many places they sat at."
            )
        else:
            hint = "Return how many submodules were replaced (one per factory call)."
        t.fail(
            f"{what} returned the wrong count",
            expected=str(replaced),
            got=str(int(got)),
            hint=hint,
        )


def _fail_missing(
    t: Checker,
    what: str,
    cls: type,
    cls_text: str,
    targets: list[tuple[str, nn.Module]],
    missing: list[tuple[str, nn.Module, nn.Module | None]],
    factory: _Factory,
    places: dict[int, int],
) -> None:
    """Fail for the places of matches that do not hold factory's module; say why."""
    missing_names = {name for name, _, _ in missing}
    got = f"not replaced: {[name for name, _, _ in missing]}"
    replaced_names = [name for name, _ in targets if name not in missing_names]
    if all(places[id(old)] > 1 and id(old) in factory.made for _, old, _ in missing):
        if all(now is old for _, old, now in missing):
            hint = (
                "A module registered at several places was not replaced at every place: "
                "named_modules() and named_children() give a shared module once, at its "
                "first place; find every place with named_modules(remove_duplicate=False) "
                "and put the one new module at each."
            )
        else:
            got = f"another module than factory's at: {[name for name, _, _ in missing]}"
            hint = (
                "Every place of a shared module must hold the same new module object, the "
                "one factory returned (one call, sharing kept): a copy or a second new "
                "module at another place breaks the sharing."
            )
    elif all(type(old) is not cls for _, old, _ in missing):
        hint = (
            "Subclasses count too: replace every m with isinstance(m, cls), not only "
            "type(m) == cls."
        )
    elif all("." in n for n in missing_names) and all("." not in n for n in replaced_names):
        hint = (
            "Only the direct children were replaced: replace at any depth (walk "
            "named_modules(remove_duplicate=False), or recurse into every child that was "
            "not replaced)."
        )
    else:
        hint = (
            "Replace each match at its place: model.set_submodule(name, new) for each "
            "(name, old) found with named_modules(remove_duplicate=False), the root "
            "excluded, where new = factory(old)."
        )
    t.fail(
        f"{what} did not replace every instance of {cls_text}",
        expected=f"replaced: {[name for name, _ in targets]}",
        got=got,
        hint=hint,
    )


# -- 04.describe --------------------------------------------------------------------------------

_KEYS = ("name", "kind", "shape", "numel", "trainable")


def _reference_rows(model: nn.Module) -> list[dict[str, Any]]:
    rows = [
        {
            "name": name,
            "kind": "parameter",
            "shape": tuple(p.shape),
            "numel": p.numel(),
            "trainable": p.requires_grad,
        }
        for name, p in model.named_parameters()
    ]
    rows += [
        {
            "name": name,
            "kind": "buffer",
            "shape": tuple(b.shape),
            "numel": b.numel(),
            "trainable": False,
        }
        for name, b in model.named_buffers()
    ]
    return rows


def _row_text(row: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k!r}: {row.get(k, '<missing>')!r}" for k in _KEYS) + "}"


@task("04.describe", title="Describe parameters and buffers", names=["describe"], notebook=NOTEBOOK)
def check_describe(t: Checker) -> None:
    describe_fn = t.function("describe")

    with t.probe("nn.Linear(3, 2): two rows with name, kind, shape, numel, trainable"):
        _expect_rows(t, describe_fn, nn.Linear(3, 2), "nn.Linear(3, 2)")

    with t.probe("parameters first, then the buffers (Linear + BatchNorm1d)"):
        model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
        _expect_rows(t, describe_fn, model, "Sequential(Linear(4, 3), BatchNorm1d(3))")

    with t.probe("non-persistent buffers, a 0-dim parameter, a ParameterList"):
        _expect_rows(t, describe_fn, _Odd(), "a model with a non-persistent buffer")

    with t.probe("frozen parameters have trainable False"):
        _expect_rows(t, describe_fn, _Frozen(), "a partly frozen model")

    with t.probe("a tied parameter and a shared module give one row each"):
        _expect_rows(t, describe_fn, _Shared(), "a model with shared parameters")

    with t.probe("a model without parameters or buffers gives []"):
        _expect_rows(t, describe_fn, nn.ReLU(), "nn.ReLU()")

    with t.probe("works on the course's device, get_device()"):
        model = _Odd().to(get_device())
        _expect_rows(t, describe_fn, model, "a model on the device")


def _expect_rows(
    t: Checker, describe_fn: Callable[..., Any], model: nn.Module, model_text: str
) -> None:
    what = f"describe({model_text})"
    got = _call_reading(t, describe_fn, model, hints=_WALK_HINTS, what=what)
    expected = _reference_rows(model)
    if not isinstance(got, list):
        t.fail(
            f"{what} did not return a list",
            expected=f"a list of {len(expected)} dicts",
            got=describe(got),
            hint="Build a list with one dict per parameter, then one per buffer, and return it.",
        )
    for index, row in enumerate(got):
        if not isinstance(row, dict):
            t.fail(
                f"row {index} of {what} is not a dict",
                expected="a dict with the keys " + ", ".join(_KEYS),
                got=describe(row),
                hint='Make each row a dict: {"name": ..., "kind": ..., "shape": ..., '
                '"numel": ..., "trainable": ...}.',
            )
        missing = [k for k in _KEYS if k not in row]
        if missing:
            t.fail(
                f"row {index} of {what} lacks the key {missing[0]!r}",
                expected="the keys " + ", ".join(_KEYS),
                got="the keys " + ", ".join(map(repr, row)),
                hint=f"Each row needs all five keys; add {missing[0]!r}.",
            )
        _expect_row_types(t, row, index, what)
    got_rows = [{k: row[k] for k in _KEYS} for row in got]
    # Plain values, compared as such (a str subclass could compare equal to anything).
    got_rows = [
        {
            **row,
            "name": str.__str__(row["name"]),
            "kind": str.__str__(row["kind"]),
            "shape": tuple(int(d) for d in row["shape"]),
            "numel": int(row["numel"]),
        }
        for row in got_rows
    ]
    if got_rows == expected:
        return
    _fail_rows(t, model, got_rows, expected, what)


def _expect_row_types(t: Checker, row: dict[str, Any], index: int, what: str) -> None:
    where = f"row {index} of {what}"
    if not isinstance(row["name"], str):
        t.fail(
            f"{where}: name is not a str",
            got=describe(row["name"]),
            hint="name is the qualified name that named_parameters() / named_buffers() give.",
        )
    if row["kind"] not in ("parameter", "buffer"):
        t.fail(
            f"{where}: kind is {row['kind']!r}",
            expected="'parameter' or 'buffer'",
            got=repr(row["kind"]),
            hint='kind is exactly "parameter" or "buffer" (lower case, singular).',
        )
    shape = row["shape"]
    if not isinstance(shape, tuple) or not all(_is_int(d) for d in shape):
        t.fail(
            f"{where}: shape is not a tuple of ints",
            expected="a tuple such as (2, 3)",
            got=describe(shape),
            hint="shape must be a tuple of ints: tuple(p.shape) (p.shape, a torch.Size, "
            "is a tuple too; a list is not).",
        )
    if not _is_int(row["numel"]):
        t.fail(
            f"{where}: numel is not an int",
            got=describe(row["numel"]),
            hint="numel is the int p.numel() (the number of values in the tensor).",
        )
    if not isinstance(row["trainable"], bool):
        t.fail(
            f"{where}: trainable is not a bool",
            got=describe(row["trainable"]),
            hint="trainable is True or False: p.requires_grad for a parameter, False for a buffer.",
        )


def _fail_rows(
    t: Checker,
    model: nn.Module,
    got: list[dict[str, Any]],
    expected: list[dict[str, Any]],
    what: str,
) -> None:
    param_rows = [("parameter", r["name"]) for r in expected if r["kind"] == "parameter"]
    buffer_rows = [("buffer", r["name"]) for r in expected if r["kind"] == "buffer"]
    got_names = [(r["kind"], r["name"]) for r in got]
    if got_names == param_rows + buffer_rows:
        index, wrong, right = next(
            (i, g, e) for i, (g, e) in enumerate(zip(got, expected, strict=True)) if g != e
        )
        key = next(k for k in _KEYS if wrong[k] != right[k])
        hints = {
            "shape": "shape is tuple(p.shape) for each tensor.",
            "numel": "numel is p.numel(), the number of values in the tensor.",
            "trainable": (
                "trainable is False for every buffer: buffers are never trained."
                if right["kind"] == "buffer"
                else "trainable is p.requires_grad: False for a frozen parameter."
            ),
        }
        t.fail(
            f"{what}: row {index} ({right['name']}) has the wrong {key}",
            expected=_row_text(right),
            got=_row_text(wrong),
            hint=hints.get(key, "Take each value from the tensor itself."),
        )
    else:
        hint = _rows_hint(model, got_names, param_rows, buffer_rows)
    t.fail(
        f"{what} lists the wrong rows",
        expected=_short([f"{k} {n}" for k, n in param_rows + buffer_rows]),
        got=_short([f"{k} {n}" for k, n in got_names]),
        hint=hint,
    )


def _rows_hint(
    model: nn.Module,
    got_names: list[tuple[str, str]],
    param_rows: list[tuple[str, str]],
    buffer_rows: list[tuple[str, str]],
) -> str:
    """The likely mistake behind rows whose (kind, name) pairs are not the expected ones."""
    expected = param_rows + buffer_rows
    tensor_at = {("parameter", n): id(p) for n, p in model.named_parameters(remove_duplicate=False)}
    tensor_at |= {("buffer", n): id(b) for n, b in model.named_buffers(remove_duplicate=False)}
    got_ids = [tensor_at[row] for row in got_names if row in tensor_at]
    persistent = set(model.state_dict(keep_vars=True))
    saved_buffers = [(k, n) for k, n in buffer_rows if n in persistent]
    got_kinds = [kind for kind, _ in got_names]
    if len(got_ids) == len(got_names) and len(set(got_ids)) < len(got_ids):
        return (
            "A shared or tied parameter (or a buffer of a shared module) got two rows: "
            "named_parameters() and named_buffers() (their default remove_duplicate=True) "
            "give each tensor once, under its first name; a walk of your own must skip the "
            "tensors it has already met."
        )
    if buffer_rows and sorted(got_names) == sorted(param_rows):
        return (
            "The buffers are missing: after the parameters add one row per buffer from "
            "named_buffers()."
        )
    if len(saved_buffers) < len(buffer_rows) and sorted(got_names) == sorted(
        param_rows + saved_buffers
    ):
        return (
            "A non-persistent buffer is missing: state_dict() leaves those out; take the "
            "buffers from named_buffers()."
        )
    if [n for _, n in got_names] == [n for _, n in expected]:
        return (
            "kind says where the tensor is registered: each tensor of named_parameters() is "
            'a "parameter" (frozen ones too), each of named_buffers() a "buffer".'
        )
    if [n for _, n in got_names] == [n.rpartition(".")[2] for _, n in expected]:
        return (
            "name is the full dotted name that named_parameters() and named_buffers() give, "
            "such as '0.weight', not 'weight'."
        )
    if sorted(got_names) == sorted(expected) and got_kinds != sorted(got_kinds, reverse=True):
        return (
            "Parameters first, in named_parameters() order, then the buffers, in "
            "named_buffers() order (not each module's parameters and buffers together)."
        )
    return (
        "One row per parameter from named_parameters(), then one per buffer from "
        "named_buffers() (non-persistent ones included), in that order."
    )
