"""The check of ``05.grad_norms``: a context manager that records, after each backward pass
through a named submodule, the L2 norm of the gradient with respect to its output.

The check builds its own model (``_Net``): named modules at depth 1 to 4, a residual block
(its output's gradient comes from two places), a module called twice per forward, one never
called, and a variant whose first layer is frozen. No in-place operation follows a named
module (a full backward hook refuses one). The reference gradients come from
``torch.autograd.grad`` with respect to the outputs the check's own forward hooks saw (hooks
removed before the learner's recorder exists). The syllabus says which hooks to use, so a
probe looks for a full backward hook or full backward pre-hook on each named module (or a
global one) while the block runs.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from helpers.checks.core import Checker, describe, task
from helpers.checks.lesson05.common import NOTEBOOK
from helpers.checks.lesson05.recorders import (
    HookCount,
    Observed,
    build_recorder,
    clear_hooks,
    expect_exception_propagates,
    expect_hooks_removed,
    expect_list_per_name,
    expect_opening,
    global_backward_hooks,
    misfiled_hint,
    module_backward_hooks,
    observe,
    reraise_body_error,
    run_block,
)
from helpers.device import get_device

ATTRIBUTE = "norms"
CALL = "GradNormRecorder(model, names)"
RTOL, ATOL = 1e-4, 1e-6


class _Residual(nn.Module):
    """x + tanh(proj(x)): the gradient of x comes from two places."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.tanh(self.proj(x))


class _Head(nn.Module):
    def __init__(self, width: int, out: int) -> None:
        super().__init__()
        self.proj = nn.Linear(width, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class _Net(nn.Module):
    """`shared` runs twice per forward, heads.aux never; with ``frozen`` the first layer
    (encoder.0) has no trainable parameter, so no backward pass goes through it."""

    def __init__(self, frozen: bool = False) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 6))
        self.blocks = nn.ModuleList([_Residual(6), _Residual(6)])
        self.mix = nn.Linear(6, 6)
        self.shared = nn.Linear(6, 6)
        self.heads = nn.ModuleDict(
            {"main": nn.Sequential(nn.Tanh(), _Head(6, 3)), "aux": nn.Linear(6, 2)}
        )
        if frozen:
            self.encoder[0].requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(x)
        for block in self.blocks:
            h = block(h)
        h = torch.tanh(self.mix(h))
        h = self.shared(torch.tanh(self.shared(h)))
        return self.heads["main"](h)


# Inputs of these modules need a gradient; `mix` is what named_children() alone finds.
NAMES = ("mix", "encoder.2", "blocks.0", "blocks.1.proj", "heads.aux", "heads.main.1.proj")


@dataclass
class _Call:
    """One forward call of a named module and the gradients of one backward pass."""

    output_grad: torch.Tensor
    input_grad: torch.Tensor | None  # None when the input needs no gradient
    param_grads: list[torch.Tensor] = field(default_factory=list)  # the module's, whole pass

    @property
    def norm(self) -> float:
        return float(self.output_grad.norm())


def _reference(
    model: nn.Module, names: tuple[str, ...], x: torch.Tensor, w: torch.Tensor
) -> dict[str, list[_Call]]:
    """Per name, one ``_Call`` per forward call, from a pass with the check's own hooks."""
    seen: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {name: [] for name in names}

    def grab(name: str):
        def hook(module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> None:
            seen[name].append((output, args[0]))

        return hook

    handles = [model.get_submodule(name).register_forward_hook(grab(name)) for name in names]
    try:
        y = model(x)
    finally:
        for handle in handles:
            handle.remove()
    outputs = [output for name in names for output, _ in seen[name] if output.requires_grad]
    params = {name: list(model.get_submodule(name).parameters()) for name in names}
    trainable = [p for name in names for p in params[name] if p.requires_grad]
    grads = torch.autograd.grad(
        (y * w).sum(), [*outputs, *trainable], retain_graph=True, allow_unused=True
    )
    grad_of = {id(t): g for t, g in zip([*outputs, *trainable], grads, strict=True)}
    calls: dict[str, list[_Call]] = {name: [] for name in names}
    for name in names:
        param_grads = [grad_of[id(p)] for p in params[name] if grad_of.get(id(p)) is not None]
        for output, inp in seen[name]:
            out_grad = grad_of.get(id(output))
            in_grad = None
            if out_grad is not None and isinstance(inp, torch.Tensor) and inp.requires_grad:
                # what a full backward hook's grad_input[0] holds: the part of the input's
                # gradient that flows through this module (not through a residual path)
                (in_grad,) = torch.autograd.grad(output, inp, out_grad, retain_graph=True)
            if out_grad is None:
                out_grad = torch.zeros_like(output)
            calls[name].append(_Call(out_grad, in_grad, param_grads))
    return calls


def _pass(model: nn.Module, x: torch.Tensor, w: torch.Tensor) -> None:
    """One forward and backward pass, as a training step makes it."""
    (model(x) * w).sum().backward()


@dataclass
class _Seen:
    """What the body of a block observed."""

    hooks: dict[str, Any] = field(default_factory=dict)
    global_hooks: Any = None
    first: Observed | None = None
    second: Observed | None = None


def _own_hook(module: nn.Module, grad_input: Any, grad_output: Any) -> None:
    """A full backward hook of the model's own, there before the recorder (it changes
    nothing): a recorder that clears module._backward_hooks removes it too."""


@task(
    "05.grad_norms",
    title="Record gradient norms with backward hooks",
    names=["GradNormRecorder"],
    notebook=NOTEBOOK,
)
def check_grad_norms(t: Checker) -> None:
    Recorder = t.get("GradNormRecorder")
    models: list[nn.Module] = []
    try:
        _check(t, Recorder, models)
    finally:
        clear_hooks(*models)  # whatever a wrong recorder left on the check's models


def _check(t: Checker, Recorder: Any, models: list[nn.Module]) -> None:
    names = NAMES
    hints = _BACKWARD_HINTS
    no_globals = HookCount.of(nn.Module()).globals  # before any recorder of this check

    def new_model(frozen: bool = False) -> nn.Module:
        model = _Net(frozen)
        models.append(model)
        return model

    expect_opening(
        t,
        Recorder,
        new_model(),
        names,
        attribute=ATTRIBUTE,
        call=CALL,
        hints=hints,
        before_what="any backward pass",
    )

    # -- two training steps inside `with recorder:` --------------------------------------------
    x1, x2 = torch.randn(5, 4), torch.randn(5, 4)
    w1, w2 = 3 * torch.randn(5, 3), 3 * torch.randn(5, 3)
    model = new_model()
    expected = [_reference(model, names, x1, w1), _reference(model, names, x2, w2)]
    # a hook the model already has, which must stay: the recorder removes only its own
    model.get_submodule("encoder.2").register_full_backward_hook(_own_hook)
    before = HookCount(HookCount.of(model).modules, no_globals)
    recorder = build_recorder(t, Recorder, model, names, what=CALL)

    seen = _Seen()  # filled by the body, kept when a pass raises

    def body(r: Any) -> None:
        seen.hooks = {name: module_backward_hooks(model.get_submodule(name)) for name in names}
        seen.global_hooks = global_backward_hooks()
        _pass(model, x1, w1)
        seen.first = observe(r, ATTRIBUTE, names)
        _pass(model, x2, w2)
        seen.second = observe(r, ATTRIBUTE, names)

    with t.probe(
        "while the block runs, each named module has a full backward hook (or a full "
        "backward pre-hook)"
    ):
        block = run_block(
            t,
            recorder,
            body,
            what=f"recorder = {CALL}; with recorder: ...",
            use_as=False,
            names=names,
            hints=_MIXED_KINDS_HINTS,
        )
        _expect_backward_hooks(t, seen, names)

    with t.probe(
        "a forward and backward pass appends one Python float per named module that it "
        "goes through (`heads.aux` is not used)"
    ):
        reraise_body_error(
            t,
            block,
            what="a forward and backward pass inside the with block",
            hints=hints,
            names=names,
        )
        expect_list_per_name(t, seen.first, names, ATTRIBUTE, when="after one pass", empty=False)
        _expect_counts(t, seen.first.lists, [expected[0]])
        _expect_floats(t, seen.first.lists)

    with t.probe("each entry is the L2 norm of the gradient with respect to the module's output"):
        _expect_norms(t, seen.first.lists, [expected[0]])

    with t.probe("a second backward pass appends one more entry per name"):
        expect_list_per_name(t, seen.second, names, ATTRIBUTE, when="after two passes", empty=False)
        _expect_counts(t, seen.second.lists, expected)
        _expect_floats(t, seen.second.lists)
        _expect_norms(t, seen.second.lists, expected)

    with t.probe("on exit every hook the recorder added is removed"):
        expect_hooks_removed(t, model, before, after_error=False)

    # -- a module called twice, the first layer ---------------------------------------------------
    names = ("shared", "encoder.0")
    model = new_model()
    expected = [_reference(model, names, x1, w1)]
    recorder = build_recorder(t, Recorder, model, names, what=CALL)

    def twice_body(r: Any) -> _Seen:
        seen = _Seen()
        _pass(model, x1, w1)
        seen.first = observe(r, ATTRIBUTE, names)
        return seen

    with t.probe("a module called twice in one forward (`shared`) gets two entries"):
        block = run_block(t, recorder, twice_body, what=f"with {CALL} as r: ...", names=names)
        reraise_body_error(
            t,
            block,
            what="a forward and backward pass inside the with block",
            hints=_BACKWARD_HINTS,
            names=names,
        )
        seen = block.seen
        expect_list_per_name(t, seen.first, names, ATTRIBUTE, when="after one pass", empty=False)
        _expect_counts(t, {"shared": seen.first.lists["shared"]}, [expected[0]])
        _expect_floats(t, seen.first.lists)
        _expect_norms(t, {"shared": seen.first.lists["shared"]}, [expected[0]])

    with t.probe("the first layer (`encoder.0`, its input x needs no gradient) gets its entry"):
        first = {"encoder.0": seen.first.lists["encoder.0"]}
        _expect_counts(t, first, [expected[0]])
        _expect_norms(t, first, [expected[0]])

    # -- no backward pass through a module ---------------------------------------------------------
    names = ("encoder.0", "encoder.2")
    model = new_model(frozen=True)
    expected = [_reference(model, names, x1, w1)]
    recorder = build_recorder(t, Recorder, model, names, what=CALL)

    def frozen_body(r: Any) -> _Seen:
        seen = _Seen()
        with torch.no_grad():
            model(x2)
        _pass(model, x1, w1)
        seen.first = observe(r, ATTRIBUTE, names)
        return seen

    with t.probe(
        "no backward pass, no entry: a frozen first layer (`encoder.0`), a forward under "
        "torch.no_grad()"
    ):
        block = run_block(t, recorder, frozen_body, what=f"with {CALL} as r: ...", names=names)
        reraise_body_error(
            t,
            block,
            what="torch.no_grad() forward, then a forward and backward pass, in the block",
            hints=[*_BACKWARD_HINTS, *_NO_BACKWARD_HINTS],
            names=names,
        )
        expect_list_per_name(
            t, block.seen.first, names, ATTRIBUTE, when="after one pass", empty=False
        )
        expected[0]["encoder.0"] = []  # no backward pass goes through it
        _expect_counts(t, block.seen.first.lists, expected)
        _expect_floats(t, block.seen.first.lists)
        _expect_norms(t, block.seen.first.lists, expected)

    # -- an exception inside the block --------------------------------------------------------
    names = NAMES
    model = new_model()
    before = HookCount(HookCount.of(model).modules, no_globals)
    recorder = build_recorder(t, Recorder, model, names, what=CALL)
    with t.probe("an exception raised inside the with block propagates"):
        block = run_block(
            t,
            recorder,
            lambda r: _pass(model, x1, w1),
            what=f"with {CALL} as r: loss.backward(); raise ...",
            raise_inside=True,
            names=names,
        )
        reraise_body_error(
            t, block, what="a forward and backward pass inside the with block", names=names
        )
        expect_exception_propagates(t, block)

    with t.probe("every hook is removed also when the block raised"):
        expect_hooks_removed(t, model, before, after_error=True)

    with t.probe("works on the course's device, get_device()"):
        _expect_on_device(t, Recorder, new_model(), get_device())


# -- what a failure says ---------------------------------------------------------------------------

_BACKWARD_HINTS = (
    (
        "'tuple' object has no attribute",
        "grad_output is a tuple, one gradient per output of the module: take "
        "grad_output[0], the gradient with respect to the module's output.",
    ),
    (
        "object of type 'float' has no len()",
        "A full backward hook's return value replaces grad_input (a pre-hook's replaces "
        "grad_output): append the norm and return nothing (None) from the hook.",
    ),
    (
        "len() of a 0-d tensor",
        "A full backward hook's return value replaces grad_input (a pre-hook's replaces "
        "grad_output): append the norm and return nothing (None) from the hook.",
    ),
    (
        "'NoneType' object has no attribute",
        "Something the hook read is None: grad_input[0] is None when the module's input "
        "needs no gradient (the first layer), and a parameter's .grad may not be there yet "
        "when the hook runs. The task wants the gradient with respect to the output: "
        "grad_output[0].",
    ),
    (
        "is a view and is being modified inplace",
        "A full backward hook's gradients must not be changed in place: read "
        "grad_output[0] and compute its norm, without in-place operations on it.",
    ),
)

DEPRECATED = (
    "register_backward_hook is deprecated: it gives a FutureWarning and its grad_output can "
    "be wrong (for a module whose output is the second piece of a split, grad_output[0] is "
    "the first piece's gradient, None). Use module.register_full_backward_hook(hook), with "
    "hook(module, grad_input, grad_output)."
)

# `encoder.2` of the model the recorder is used on already has a full backward hook.
_MIXED_KINDS_HINTS = (
    (
        "Cannot use both regular backward hooks and full backward hooks",
        DEPRECATED + " A module refuses one kind once it has the other, and this model's "
        "`encoder.2` already had a full backward hook.",
    ),
)

_NO_BACKWARD_HINTS = (
    (
        "'tuple' object has no attribute",
        "grad_output is a tuple, one gradient per output of the module: take "
        "grad_output[0], the gradient with respect to the module's output.",
    ),
    (
        "cannot register a hook on a tensor that doesn't require gradient",
        "A tensor hook on the output fails when the output needs no gradient (a frozen "
        "first layer, a forward under torch.no_grad()); a full backward hook, as the task "
        "says, simply does not run when no backward pass goes through the module.",
    ),
)


def _expect_backward_hooks(t: Checker, seen: _Seen, names: tuple[str, ...]) -> None:
    glob = seen.global_hooks
    if glob.ok:
        return
    missing = [name for name in names if not seen.hooks[name].ok]
    if not missing:
        return
    first_level = [name for name in names if "." not in name]
    if glob.old or any(seen.hooks[name].old for name in names):
        hint = DEPRECATED
    elif first_level and all(seen.hooks[name].ok for name in first_level):
        hint = (
            "Only first-level names got a hook: named_children() (or model._modules) has only "
            "those; find each qualified name with model.get_submodule(name) or "
            "dict(model.named_modules())."
        )
    elif glob.forward or any(seen.hooks[name].forward for name in names):
        hint = (
            "The task asks for full backward hooks: module.register_full_backward_hook(hook), "
            "hook(module, grad_input, grad_output), or register_full_backward_pre_hook. A "
            "forward hook that puts a tensor hook on the output (output.register_hook) sees "
            "the same gradient but breaks when the output needs no gradient (a frozen first "
            "layer, a forward under torch.no_grad())."
        )
    else:
        hint = (
            "Register a full backward hook on each named module in __enter__ (or __init__): "
            "model.get_submodule(name).register_full_backward_hook(hook)."
        )
    t.fail(
        "named modules have no full backward hook while the block runs",
        expected="a full backward hook (or full backward pre-hook) on each of "
        + ", ".join(repr(n) for n in names),
        got="none on " + ", ".join(repr(n) for n in missing),
        hint=hint,
    )


def _expect_counts(
    t: Checker, lists: dict[str, list[Any]], passes: list[dict[str, list[_Call]]]
) -> None:
    expected = {name: sum(len(p[name]) for p in passes) for name in lists}
    got = {name: len(items) for name, items in lists.items()}
    if got == expected:
        return
    per_pass = {name: len(passes[-1][name]) for name in lists}
    if len(passes) > 1 and got == per_pass:
        hint = (
            "Each list holds only the last pass: the hook overwrites instead of appending. "
            "Append the norm of every backward pass, self.norms[name].append(...)."
        )
    elif got == {name: min(n, 1) for name, n in expected.items()}:
        hint = (
            "A module called twice in one forward has two backward passes through it, so "
            "its hook runs twice: append an entry each time (do not overwrite, do not keep "
            "one per pass)."
        )
    elif got == {name: 2 * n for name, n in expected.items()}:
        hint = (
            "Every backward pass was recorded twice: the hooks were registered twice (e.g. "
            "in __init__ and again in __enter__). Register each hook once."
        )
    elif not any(got.values()):
        hint = (
            "Nothing was recorded: register a full backward hook on each named module "
            "(model.get_submodule(name)) and append grad_output[0].norm().item() to the "
            "name's list in it."
        )
    else:
        hint = misfiled_hint(expected, got, "entry") or (
            "Append one entry to the name's list each time a backward pass goes through "
            "that module (and none for a module the pass does not go through)."
        )
    t.fail(
        "the number of entries per name is wrong",
        expected=", ".join(f"{name!r}: {n}" for name, n in expected.items()),
        got=", ".join(f"{name!r}: {n}" for name, n in got.items()),
        hint=hint,
    )


def _expect_floats(t: Checker, lists: dict[str, list[Any]]) -> None:
    for name, items in lists.items():
        for i, item in enumerate(items):
            if isinstance(item, float):
                continue
            if isinstance(item, torch.Tensor) and item.numel() == 1:
                hint = (
                    "Append a Python float: `.item()` of the norm (a tensor keeps its memory, "
                    "and its device)."
                )
            elif isinstance(item, (torch.Tensor, list, tuple)):
                hint = (
                    "One number per backward pass, the norm over the whole gradient tensor: "
                    "grad_output[0].norm().item(), not one norm per row (dim=...)."
                )
            elif isinstance(item, numbers.Real) and not isinstance(item, bool):
                hint = "Append a float: grad_output[0].norm().item() gives one."
            else:
                hint = "Append the norm as a Python float: grad_output[0].norm().item()."
            t.fail(
                f"norms[{name!r}][{i}] is not a Python float",
                expected="a float",
                got=describe(item),
                hint=hint,
            )


def _close(got: float, expected: float) -> bool:
    return math.isfinite(got) and abs(got - expected) <= ATOL + RTOL * abs(expected)


def _candidates(call: _Call) -> list[tuple[float | None, str]]:
    """Numbers a known mistake gives instead of the norm, with that mistake's hint."""
    g = call.output_grad.double()
    param_norm = (
        math.sqrt(sum(float(p.double().pow(2).sum()) for p in call.param_grads))
        if call.param_grads
        else None
    )
    return [
        (
            None if call.input_grad is None else float(call.input_grad.double().norm()),
            "This is the norm of the gradient with respect to the module's input "
            "(grad_input): a full backward hook is called as hook(module, grad_input, "
            "grad_output); take grad_output[0], the gradient with respect to the output.",
        ),
        (
            param_norm,
            "This is the norm of the module's parameter gradients (.grad), not of the "
            "gradient with respect to its output: take grad_output[0] in a full backward hook.",
        ),
        (
            float(g.pow(2).sum()),
            "This is the squared norm (the sum of squares): take its square root, "
            "grad_output[0].norm().item().",
        ),
        (
            float(g.abs().sum()),
            "This is the L1 norm (the sum of absolute values): the task asks for the L2 norm, "
            "grad_output[0].norm() (p=2, the default).",
        ),
        (
            float(torch.linalg.matrix_norm(g, ord=2)) if g.dim() == 2 else None,
            "torch.linalg.norm(g, 2) of a matrix is its largest singular value, not the L2 "
            "norm of all its elements: take grad_output[0].norm() (or "
            "torch.linalg.vector_norm).",
        ),
        (
            float(g.norm(dim=-1).mean()) if g.dim() > 1 else None,
            "This averages one norm per row: take the norm over the whole tensor, "
            "grad_output[0].norm().item() (no dim=...).",
        ),
        *[
            (
                value,
                "This is a mean (or another average), not the L2 norm: "
                "grad_output[0].norm().item(), the square root of the sum of squares.",
            )
            for value in (
                float(g.mean()),
                float(g.abs().mean()),
                float(g.pow(2).mean().sqrt()),
                float(g.pow(2).mean()),
            )
        ],
    ]


def _pass_values(
    lists: dict[str, list[Any]], passes: list[dict[str, list[_Call]]]
) -> list[tuple[str, int, list[float], list[_Call]]]:
    """(name, pass number, the entries of that pass, its calls), pass by pass per name."""
    out = []
    for name, items in lists.items():
        start = 0
        for number, calls in enumerate(passes, start=1):
            got = [float.__float__(v) for v in items[start : start + len(calls[name])]]
            start += len(calls[name])
            out.append((name, number, got, calls[name]))
    return out


def _same(got: list[float], want: list[float]) -> bool:
    return all(_close(g, e) for g, e in zip(sorted(got), sorted(want), strict=True))


def _diagnosis(entries: list[tuple[str, int, list[float], list[_Call]]]) -> str | None:
    """The hint of the known mistake whose numbers match every entry that it can explain
    (one mistake gives wrong numbers for every name alike)."""
    table = [(got, [_candidates(call) for call in calls]) for _, _, got, calls in entries if got]
    if not table:
        return None
    for k, (_, hint) in enumerate(table[0][1][0]):
        checked = [
            (got, [c[k][0] for c in candidates])
            for got, candidates in table
            if all(c[k][0] is not None for c in candidates)
        ]
        if checked and all(_same(got, values) for got, values in checked):
            return hint
    return None


def _expect_norms(
    t: Checker, lists: dict[str, list[Any]], passes: list[dict[str, list[_Call]]]
) -> None:
    """Each pass's entries (in any order within the pass) match its reference norms."""
    entries = _pass_values(lists, passes)
    for name, number, got, calls in entries:
        want = [call.norm for call in calls]
        if _same(got, want):
            continue
        hint = _diagnosis(entries) or (
            "Append grad_output[0].norm().item(): the L2 norm of the gradient with respect "
            "to the module's output."
        )
        which = f" (pass {number})" if len(passes) > 1 else ""
        t.fail(
            f"norms[{name!r}] has wrong values{which}",
            expected=", ".join(f"{v:.6g}" for v in want),
            got=", ".join(f"{v:.6g}" for v in got),
            hint=hint,
        )


def _expect_on_device(t: Checker, Recorder: Any, model: nn.Module, device: torch.device) -> None:
    model.to(device)
    names = ("encoder.2", "shared")
    x = torch.randn(5, 4, device=device)
    w = 3 * torch.randn(5, 3, device=device)
    expected = [_reference(model, names, x, w)]
    recorder = build_recorder(t, Recorder, model, names, what=f"{CALL} on {device.type}")

    def body(r: Any) -> _Seen:
        seen = _Seen()
        _pass(model, x, w)
        seen.first = observe(r, ATTRIBUTE, names)
        return seen

    block = run_block(
        t, recorder, body, what=f"with {CALL} as r: ... on {device.type}", names=names
    )
    reraise_body_error(
        t,
        block,
        what=f"a forward and backward pass on {device.type}",
        hints=_BACKWARD_HINTS,
        names=names,
    )
    seen = block.seen
    expect_list_per_name(t, seen.first, names, ATTRIBUTE, when="after one pass", empty=False)
    _expect_counts(t, seen.first.lists, expected)
    _expect_floats(t, seen.first.lists)
    _expect_norms(t, seen.first.lists, expected)
