"""The check of ``05.activation_recorder``: a context manager that records snapshots of
named submodules' outputs.

The check builds its own model (``_Net``): named modules at depth 1 to 4, a Linear followed
by ``ReLU(inplace=True)`` (a snapshot that shares the output's storage is rewritten by it),
a module called twice per forward and one never called. Its reference is the same model run
with the check's own forward hooks, which are removed before the learner's recorder exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from helpers.checks.core import Checker, describe, equal, plain, task
from helpers.checks.lesson05.common import NOTEBOOK
from helpers.checks.lesson05.recorders import (
    HookCount,
    build_recorder,
    clear_hooks,
    expect_exception_propagates,
    expect_hooks_removed,
    expect_list_per_name,
    expect_opening,
    misfiled_hint,
    observe,
    reraise_body_error,
    run_block,
    tensor_flags,
)
from helpers.device import get_device

ATTRIBUTE = "activations"
CALL = "ActivationRecorder(model, names)"


class _Block(nn.Module):
    """proj, then ReLU(inplace=True): the ReLU rewrites proj's output in place."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.proj = nn.Linear(width, width)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.proj(x))


class _Head(nn.Module):
    def __init__(self, width: int, out: int) -> None:
        super().__init__()
        self.proj = nn.Linear(width, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class _Net(nn.Module):
    """encoder.0 and blocks.1.proj are followed by ReLU(inplace=True); `shared` runs twice
    per forward; heads.aux never runs; heads.main.1.proj gives the model's output."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(4, 6), nn.ReLU(inplace=True), nn.Linear(6, 6))
        self.blocks = nn.ModuleList([_Block(6), _Block(6)])
        self.shared = nn.Linear(6, 6)
        self.heads = nn.ModuleDict(
            {"main": nn.Sequential(nn.Tanh(), _Head(6, 3)), "aux": nn.Linear(6, 2)}
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(x)
        for block in self.blocks:
            h = block(h)
        h = self.shared(torch.tanh(self.shared(h)))
        return self.heads["main"](h)


NAMES = ("encoder.0", "blocks.1.proj", "shared", "heads.aux", "heads.main.1.proj")
INPLACE_AFTER = ("encoder.0", "blocks.1.proj")


@dataclass
class _Call:
    """One forward call of a named module, as the check's own hook saw it."""

    output: torch.Tensor  # a snapshot of the output at the call
    input: torch.Tensor  # a snapshot of the first input
    raw: torch.Tensor  # the output tensor itself (later in-place operations change it)
    after: torch.Tensor | None = None  # raw once everything ran: what a shared snapshot shows


@dataclass
class _Run:
    """Two forward passes (x1, x2) and a gradient of the first, with or without a recorder."""

    y1: Any = None
    y1_value: torch.Tensor | None = None
    grads: tuple[torch.Tensor | None, ...] | None = None
    y2: Any = None
    seen: Any = None


def _passes(model: nn.Module, x1: torch.Tensor, x2: torch.Tensor, w: torch.Tensor) -> _Run:
    """Run the model twice, with a gradient of the first output on the parameters."""
    run = _Run()
    run.y1 = model(x1)
    if isinstance(run.y1, torch.Tensor):
        run.y1_value = plain(run.y1).detach().clone()
        if run.y1.requires_grad:
            params = list(model.parameters())
            grads = torch.autograd.grad((run.y1 * w).sum(), params, allow_unused=True)
            run.grads = tuple(plain(g) for g in grads)
    run.y2 = model(x2)
    return run


def _change_outputs_in_place(run: _Run) -> None:
    """A later in-place operation on the model's outputs (the output of heads.main.1.proj)."""
    with torch.no_grad():
        for y in (run.y1, run.y2):
            if isinstance(y, torch.Tensor):
                y.mul_(-2.0).add_(1.0)


def _reference(
    model: nn.Module, names: tuple[str, ...], x1: torch.Tensor, x2: torch.Tensor, w: torch.Tensor
) -> tuple[_Run, dict[str, list[_Call]]]:
    """The passes with the check's own forward hooks, removed afterwards."""
    calls: dict[str, list[_Call]] = {name: [] for name in names}

    def grab(name: str):
        def hook(module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> None:
            calls[name].append(_Call(output.detach().clone(), args[0].detach().clone(), output))

        return hook

    handles = [model.get_submodule(name).register_forward_hook(grab(name)) for name in names]
    try:
        run = _passes(model, x1, x2, w)
    finally:
        for handle in handles:
            handle.remove()
    _change_outputs_in_place(run)
    for name in names:
        for call in calls[name]:
            call.after = call.raw.detach().clone()
    return run, calls


def _own_hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
    """A hook of the model's own, there before the recorder (it changes nothing)."""


@task(
    "05.activation_recorder",
    title="Record activations with a context manager",
    names=["ActivationRecorder"],
    notebook=NOTEBOOK,
)
def check_activation_recorder(t: Checker) -> None:
    Recorder = t.get("ActivationRecorder")
    models: list[nn.Module] = []
    try:
        _check(t, Recorder, models)
    finally:
        clear_hooks(*models)  # whatever a wrong recorder left on the check's models


def _check(t: Checker, Recorder: Any, models: list[nn.Module]) -> None:
    names = NAMES
    hints = _FORWARD_HINTS
    no_globals = HookCount.of(nn.Module()).globals  # before any recorder of this check

    def new_model() -> nn.Module:
        model = _Net()
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
        before_what="the model runs",
    )

    # -- two forward passes inside `with recorder:` ------------------------------------------
    x1, x2 = torch.randn(3, 4), torch.randn(3, 4)
    w = torch.randn(3, 3)
    model = new_model()
    expected_run, calls = _reference(model, names, x1, x2, w)
    # a hook the model already has, which must stay: the recorder removes only its own
    model.get_submodule("shared").register_forward_hook(_own_hook)
    before = HookCount(HookCount.of(model).modules, no_globals)
    recorder = build_recorder(t, Recorder, model, names, what=CALL)

    def body(r: Any) -> _Run:
        run = _passes(model, x1, x2, w)
        run.seen = observe(r, ATTRIBUTE, names)
        return run

    with t.probe(
        "`with recorder:` each forward call of a named submodule appends one snapshot "
        "(two forward passes; `shared` runs twice per pass, `heads.aux` never)"
    ):
        block = run_block(
            t,
            recorder,
            body,
            what=f"recorder = {CALL}; with recorder: ...",
            use_as=False,
            names=names,
        )
        reraise_body_error(
            t, block, what="model(x) inside the with block", hints=hints, names=names
        )
        run: _Run = block.seen
        _change_outputs_in_place(run)
        expect_list_per_name(t, run.seen, names, ATTRIBUTE, when="after two passes", empty=False)
        _expect_counts(t, run.seen.lists, calls)

    with t.probe("the model's outputs inside the with block are unchanged (values, gradients)"):
        _expect_same_outputs(t, run, expected_run, model)

    snapshots = run.seen.lists
    with t.probe("every snapshot is a tensor"):
        _expect_tensors(t, snapshots)

    with t.probe("every snapshot is detached from the graph"):
        _expect_detached(t, snapshots)

    with t.probe(
        "every snapshot holds the module's output at that call, unchanged by later in-place "
        "operations (ReLU(inplace=True) after `encoder.0` and `blocks.1.proj`, the model's "
        "outputs changed in place)"
    ):
        _expect_snapshots(t, snapshots, calls)

    with t.probe("on exit every hook the recorder added is removed"):
        expect_hooks_removed(t, model, before, after_error=False)

    with t.probe("the activations stay readable after exit"):
        after = t.call(
            observe, recorder, ATTRIBUTE, names, what=f"reading recorder.{ATTRIBUTE} after exit"
        )
        _expect_kept(t, after, snapshots, names)

    # -- an exception inside the block ---------------------------------------------------------
    model = new_model()
    before = HookCount(HookCount.of(model).modules, no_globals)
    recorder = build_recorder(t, Recorder, model, names, what=CALL)
    with t.probe("an exception raised inside the with block propagates"):
        block = run_block(
            t,
            recorder,
            lambda r: model(x1),
            what=f"with {CALL} as r: model(x); raise ...",
            raise_inside=True,
            names=names,
        )
        reraise_body_error(
            t, block, what="model(x) inside the with block", hints=hints, names=names
        )
        expect_exception_propagates(t, block)

    with t.probe("every hook is removed also when the block raised"):
        expect_hooks_removed(t, model, before, after_error=True)

    with t.probe("works on the course's device, get_device()"):
        _expect_on_device(t, Recorder, new_model(), get_device())


_FORWARD_HINTS = (
    (
        "'tuple' object has no attribute",
        "A forward hook is called as hook(module, args, output), and `args` is the tuple of "
        "positional inputs: record `output`, the module's output.",
    ),
)


def _expect_counts(t: Checker, lists: dict[str, list[Any]], calls: dict[str, list[_Call]]) -> None:
    expected = {name: len(c) for name, c in calls.items()}
    got = {name: len(lists[name]) for name in expected}
    if got == expected:
        return
    first = [name for name in expected if "." not in name]
    deep = [name for name in expected if "." in name and expected[name]]
    if not any(got.values()):
        hint = (
            "Nothing was recorded: __enter__ (or __init__) must register a forward hook on "
            "each named module, model.get_submodule(name), and the hook must append to "
            "the list of its name."
        )
    elif first and all(got[n] == 0 for n in deep) and all(got[n] for n in first):
        hint = (
            "Only first-level names were recorded: named_children() (or model._modules) "
            "has only those; find each qualified name with model.get_submodule(name) or "
            "dict(model.named_modules())."
        )
    elif got == {name: min(n, 1) for name, n in expected.items()}:
        hint = (
            "Each list holds one snapshot: the hook overwrites instead of appending. Append "
            "every call's snapshot, self.activations[name].append(...)."
        )
    elif got == {name: 2 * n for name, n in expected.items()}:
        hint = (
            "Every call was recorded twice: the hooks were registered twice (e.g. in "
            "__init__ and again in __enter__). Register each hook once."
        )
    else:
        hint = misfiled_hint(expected, got, "snapshot") or (
            "Append one snapshot to the name's list at each forward call of that module."
        )
    t.fail(
        "the number of snapshots per name is wrong",
        expected=_counts_text(expected),
        got=_counts_text(got),
        hint=hint,
    )


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{name!r}: {n}" for name, n in counts.items())


_RETURNS_HINT = (
    "A forward hook's return value replaces the module's output: append the snapshot "
    "and return nothing (None) from the hook."
)


def _expect_same_outputs(t: Checker, run: _Run, expected: _Run, model: nn.Module) -> None:
    t.expect_close(
        run.y1_value if run.y1_value is not None else run.y1,
        expected.y1_value,
        what="the model's output inside the with block",
        hint=_RETURNS_HINT,
    )
    names = [name for name, _ in model.named_parameters()]
    got = run.grads or (None,) * len(names)
    stopped = [
        n for n, g, e in zip(names, got, expected.grads, strict=True) if g is None and e is not None
    ]
    if stopped:
        t.fail(
            "gradients no longer reach some parameters through the model's output",
            expected="gradients for every parameter the output depends on",
            got=f"no gradient for {', '.join(stopped[:3])}{' ...' if len(stopped) > 3 else ''}",
            hint=_RETURNS_HINT + " A detached snapshot returned from the hook cuts the graph.",
        )
    for name, g, e in zip(names, got, expected.grads, strict=True):
        if e is not None:
            t.expect_close(g, e, what=f"the gradient of `{name}`", hint=_RETURNS_HINT)


def _items(snapshots: dict[str, list[Any]]):
    for name, items in snapshots.items():
        for i, item in enumerate(items):
            yield name, i, item


def _expect_tensors(t: Checker, snapshots: dict[str, list[Any]]) -> None:
    for name, i, item in _items(snapshots):
        if isinstance(item, torch.Tensor):
            continue
        if type(item).__module__ == "numpy":
            hint = (
                "Keep tensors: `output.detach().clone()`. A NumPy array made with "
                ".numpy() shares memory with the output on the CPU."
            )
        else:
            hint = "Append a tensor, the snapshot of the output: `output.detach().clone()`."
        t.fail(
            f"activations[{name!r}][{i}] is not a tensor",
            expected="a tensor, a snapshot of the module's output",
            got=describe(item),
            hint=hint,
        )


def _expect_detached(t: Checker, snapshots: dict[str, list[Any]]) -> None:
    for name, i, item in _items(snapshots):
        requires_grad, grad_fn = tensor_flags(item)
        if not requires_grad and grad_fn is None:
            continue
        kind = type(grad_fn).__name__
        if kind.startswith("Clone"):
            hint = (
                "`.clone()` alone keeps the snapshot in the graph (grad_fn CloneBackward): "
                "detach it too, `output.detach().clone()`."
            )
        else:
            hint = (
                "This stores the output itself, still part of the graph (it keeps the "
                "graph alive, and a later in-place operation changes it): store "
                "`output.detach().clone()`."
            )
        t.fail(
            f"activations[{name!r}][{i}] is not detached from the graph",
            expected="requires_grad=False, grad_fn None",
            got=f"requires_grad={requires_grad}, grad_fn {kind}",
            hint=hint,
        )


def _inplace_hint(item: torch.Tensor) -> str:
    try:
        version: int | None = item._version
    except RuntimeError:  # an inference tensor (made under inference_mode) has no counter
        version = None
    if version is None:
        return (
            "The snapshot shares storage with the output, so the ReLU(inplace=True) that "
            "follows (or any later in-place operation) rewrites what was stored: store a "
            "copy, `output.detach().clone()`."
        )
    if version > 0:  # .detach() shares the output's version counter
        return (
            "`.detach()` shares storage with the output, so the ReLU(inplace=True) that "
            "follows (or any later in-place operation) rewrites what was stored; `.cpu()` "
            "of a CPU tensor is that same tensor. Store a copy: `output.detach().clone()`."
        )
    return (
        "`.data` shares storage with the output (and hides in-place changes from "
        "autograd), so the ReLU(inplace=True) that follows rewrites what was stored: "
        "store a copy, `output.detach().clone()`."
    )


def _expect_snapshots(
    t: Checker, snapshots: dict[str, list[Any]], calls: dict[str, list[_Call]]
) -> None:
    for name, i, item in _items(snapshots):
        item = plain(item)
        call = calls[name][i]
        got = item if item.device == call.output.device else item.to(call.output.device)
        t.expect_close(
            got,
            call.output,
            what=f"activations[{name!r}][{i}]",
            hint="Append `output.detach().clone()`, the module's output at that call.",
            diagnoses=[
                (call.after, _inplace_hint(item)),
                (
                    call.input,
                    "This is the module's input: a forward hook is called as "
                    "hook(module, args, output); record `output`, not `args[0]` (a forward "
                    "pre-hook sees only the input).",
                ),
            ],
        )


def _expect_kept(
    t: Checker, after: Any, snapshots: dict[str, list[Any]], names: tuple[str, ...]
) -> None:
    hint = (
        "Remove only the hooks in __exit__ and keep the lists: the activations are read "
        "after the with block (do not clear them, delete them or make a new dict)."
    )
    if after.missing or not isinstance(after.mapping, dict):
        t.fail(
            "recorder.activations is gone after exit",
            expected="the dict of lists recorded in the block",
            got="no such attribute" if after.missing else describe(after.mapping),
            hint=hint,
        )
    for name in names:
        kept = after.lists.get(name)
        items = snapshots[name]
        same = isinstance(kept, list) and len(kept) == len(items)
        same = same and all(
            isinstance(k, torch.Tensor)
            and k.shape == v.shape
            and equal(plain(k).detach().cpu(), plain(v).detach().cpu())
            for k, v in zip(kept, items, strict=True)
        )
        if not same:
            t.fail(
                f"activations[{name!r}] changed on exit",
                expected=f"the {len(items)} snapshots recorded in the block",
                got=describe(kept) if name in after.lists else "no such key",
                hint=hint,
            )


def _expect_on_device(t: Checker, Recorder: Any, model: nn.Module, device: torch.device) -> None:
    model.to(device)
    names = ("encoder.0", "heads.main.1.proj")
    x1, x2 = torch.randn(3, 4, device=device), torch.randn(3, 4, device=device)
    w = torch.randn(3, 3, device=device)
    _, calls = _reference(model, names, x1, x2, w)
    recorder = build_recorder(t, Recorder, model, names, what=f"{CALL} on {device.type}")

    def body(r: Any) -> _Run:
        run = _passes(model, x1, x2, w)
        run.seen = observe(r, ATTRIBUTE, names)
        return run

    block = run_block(
        t, recorder, body, what=f"with {CALL} as r: ... on {device.type}", names=names
    )
    reraise_body_error(
        t, block, what=f"model(x) on {device.type} inside the with block", names=names
    )
    run: _Run = block.seen
    _change_outputs_in_place(run)
    expect_list_per_name(t, run.seen, names, ATTRIBUTE, when="after two passes", empty=False)
    _expect_counts(t, run.seen.lists, calls)
    _expect_tensors(t, run.seen.lists)
    _expect_detached(t, run.seen.lists)
    _expect_snapshots(t, run.seen.lists, calls)
