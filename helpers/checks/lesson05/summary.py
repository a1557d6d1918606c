"""The check of ``05.summary``: one row per call of a leaf module, the model left as it was.

The model the check summarises calls its leaves out of registration order, calls one
that has a parameter (a PReLU) twice, never calls another, holds a frozen parameter, a
BatchNorm in training mode and submodules in mixed train/eval modes, and carries a
parameter-free leaf (``Tap``) that records, at each call, whether it ran in training mode
and whether autograd recorded the pass (its input requires grad). Its record survives
``copy.deepcopy``: a summary that runs a copy of the model is seen too.
"""

from __future__ import annotations

import numbers
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from helpers.checks.core import (
    Checker,
    CopyOnMove,
    accelerator_as_meta,
    count_global_hooks,
    count_hooks,
    describe,
    hidden_notebook_device,
    storage_places,
    task,
)
from helpers.checks.lesson05.common import NOTEBOOK

KEYS = ("name", "type", "output_shape", "num_params")
_BATCH = 4


class _Log(list):
    """A list that a deep copy shares: ``copy.deepcopy(model)`` keeps writing to it."""

    def __deepcopy__(self, memo: dict[int, Any]) -> _Log:
        return self


class Tap(nn.Module):
    """A leaf without parameters that records, at each call, its mode and whether autograd
    records the pass (its input requires grad: parameters before it do, unless gradients
    are off)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: _Log = _Log()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((self.training, bool(x.requires_grad)))
        return x


class _Block(nn.Module):
    """Registered norm, proj, act; called proj, act, norm, act (act, with its one
    parameter, twice)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(width)
        self.proj = nn.Linear(width, width)
        self.act = nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.act(self.proj(x))))


class _Net(nn.Module):
    """Leaves at depths 1 to 3; `spare` is never called; `head.weight` is frozen."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(5, 8)
        self.body = nn.Sequential(OrderedDict(block=_Block(8), drop=nn.Dropout(0.5)))
        self.spare = nn.Linear(8, 8)
        self.tap = Tap()
        self.head = nn.Linear(8, 3)
        self.head.weight.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.tap(self.body(self.embed(x))))


# (name, type, output_shape, num_params) of each leaf call of _Net, in call order.
_EXPECTED = [
    ("embed", "Linear", (_BATCH, 8), 48),
    ("body.block.proj", "Linear", (_BATCH, 8), 72),
    ("body.block.act", "PReLU", (_BATCH, 8), 1),
    ("body.block.norm", "BatchNorm1d", (_BATCH, 8), 16),
    ("body.block.act", "PReLU", (_BATCH, 8), 1),
    ("body.drop", "Dropout", (_BATCH, 8), 0),
    ("tap", "Tap", (_BATCH, 8), 0),
    ("head", "Linear", (_BATCH, 3), 27),
]


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _state(model: nn.Module) -> list[tuple[Any, ...]]:
    """Each module's mode, and each parameter's and buffer's identity, requires_grad and
    values (a copy), by name."""
    state: list[tuple[Any, ...]] = [
        ("module", name, m.training) for name, m in model.named_modules(remove_duplicate=False)
    ]
    state += [
        ("parameter", name, id(p), p.requires_grad, p.detach().clone())
        for name, p in model.named_parameters()
    ]
    state += [("buffer", name, id(b), None, b.clone()) for name, b in model.named_buffers()]
    return state


def _modes(model: nn.Module) -> dict[str, bool]:
    return {name or "(the model)": m.training for name, m in model.named_modules()}


def _call_summary(
    t: Checker, summary: Callable[..., Any], model: nn.Module, x: torch.Tensor
) -> Any:
    """``summary(model, x)`` with the notebook's device and torch's accelerator standing for
    the meta device, and ``.cpu()`` of the model's tensors copying as on a GPU, so that a
    summary that moves the model or the input gets the same verdict on every machine."""
    with (
        hidden_notebook_device(t.namespace, summary),
        accelerator_as_meta(),
        CopyOnMove(model),
    ):
        return t.call(
            summary,
            model,
            x,
            what="summary(model, x)",
            hints=[
                (
                    "same device",
                    "Leave the model and the input where they are: summary runs the "
                    "model on example_input as given (no .to(device), no .cpu()).",
                ),
            ],
        )


def _expect_rows(t: Checker, rows: Any) -> list[dict[str, Any]]:
    """``rows`` must be a list of dicts with exactly the four keys."""
    if not isinstance(rows, list):
        t.fail(
            "summary did not return a list",
            expected="a list of dicts, one per call of a leaf module",
            got=describe(rows),
            hint="Collect the rows in a list while the forward pass runs, and return "
            "that list (check for a missing `return`).",
        )
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            t.fail(
                f"row {i} is not a dict",
                expected='a dict such as {"name": ..., "type": ..., "output_shape": ..., '
                '"num_params": ...}',
                got=describe(row),
                hint="Append one dict per leaf-module call: "
                'rows.append({"name": name, "type": ..., "output_shape": ..., '
                '"num_params": ...}).',
            )
        if set(row) != set(KEYS):
            missing = [k for k in KEYS if k not in row]
            extra = sorted(map(str, set(row) - set(KEYS)))
            t.fail(
                f"row {i} does not have exactly the four keys",
                expected=", ".join(KEYS),
                got=", ".join(map(str, row)),
                facts=[
                    *([f"Missing: {', '.join(missing)}"] if missing else []),
                    *([f"Not asked for: {', '.join(extra)}"] if extra else []),
                ],
                hint="Each row has exactly the keys name, type, output_shape and "
                "num_params, spelled so; put nothing else in it.",
            )
    return rows


@task(
    "05.summary", title="Summarize a model with forward hooks", names=["summary"], notebook=NOTEBOOK
)
def check_summary(t: Checker) -> None:
    summary = t.function("summary")

    model = _Net()
    model.train()
    model.embed.eval()  # mixed modes: the root trains, two of its leaves do not
    model.body.drop.eval()
    before_modes = _modes(model)
    before = _state(model)
    storage = storage_places(model)
    global_hooks = count_global_hooks()
    x = torch.randn(_BATCH, 5)
    x_before = x.clone()

    with t.probe(
        "summary(model, x) returns a list of dicts with exactly the keys name, type, "
        "output_shape, num_params"
    ):
        rows = _expect_rows(t, _call_summary(t, summary, model, x))

    with t.probe("summary runs exactly one forward pass"):
        calls = len(model.tap.seen)
        if calls != 1:
            t.fail(
                f"the model ran {calls} forward passes",
                expected="1 forward pass (model(example_input) once)",
                got=f"{calls}",
                hint="Register the hooks first, then call model(example_input) once; the "
                "hooks fill in every row during that one pass."
                if calls
                else "Call model(example_input) once inside summary, with the hooks "
                "registered: the rows come from what the hooks see during that pass.",
            )

    with t.probe("the forward pass runs in eval mode"):
        training, tracked = model.tap.seen[0]
        if training:
            t.fail(
                "the forward pass ran in training mode",
                expected="every module in eval mode during the pass",
                got="a leaf module had training=True while it ran",
                hint="Call model.eval() before the forward pass (Dropout and BatchNorm "
                "behave differently in training mode; BatchNorm would even update its "
                "running statistics), then restore each module's mode afterwards.",
            )

    with t.probe("the forward pass does not track gradients"):
        if tracked:
            t.fail(
                "the forward pass tracked gradients",
                expected="no autograd graph recorded while the model runs",
                got="a leaf's input had requires_grad=True (autograd recorded the pass)",
                hint="Run the forward pass under `with torch.no_grad():` (or "
                "torch.inference_mode()): a summary needs no graph.",
            )

    _expect_leaf_rows(t, rows, model)

    with t.probe("no hook is left on the model or among the global hooks"):
        left = count_hooks(model)
        if left or count_global_hooks() != global_hooks:
            t.fail(
                "summary left hooks behind",
                expected="no hooks after summary returns",
                got=", ".join(f"{n} on {name}" for name, n in left.items())
                or f"{count_global_hooks() - global_hooks} global hooks",
                hint="Keep every handle the register_* calls return and call "
                "handle.remove() on each before returning, in a `finally:` block so they "
                "go also when the forward pass raises.",
            )

    with t.probe("every module's training flag is restored, one by one"):
        after_modes = _modes(model)
        if after_modes != before_modes:
            changed = [n for n in before_modes if after_modes.get(n) != before_modes[n]]
            modes = ("eval", "training")
            t.fail(
                "summary changed the modules' modes",
                expected=", ".join(f"{n} {modes[before_modes[n]]}" for n in changed[:3]),
                got=", ".join(f"{n} {modes[after_modes[n]]}" for n in changed[:3]),
                facts=[
                    "Before the call, the root was training while `embed` and `body.drop` "
                    "were in eval mode."
                ],
                hint="model.train() (or model.train(was_training)) sets EVERY submodule to "
                "one mode; remember each module's own flag first "
                "({m: m.training for m in model.modules()}) and give each its flag back.",
            )

    with t.probe("no parameter or buffer changed (BatchNorm's running statistics included)"):
        _expect_unchanged(t, model, before, storage)
        if not torch.equal(x, x_before):
            t.fail(
                "summary changed example_input",
                hint="Leave the input as it is: run model(example_input) and read shapes "
                "in the hooks, without in-place changes to the tensors they see.",
            )

    with t.probe("a model without children is a leaf itself: one row named ''"):
        layer = nn.Linear(3, 2)
        rows = _expect_rows(t, _call_summary(t, summary, layer, torch.randn(2, 3)))
        want = {"name": "", "type": "Linear", "output_shape": (2, 2), "num_params": 8}
        if len(rows) != 1 or _row(rows[0]) != _row(want):
            t.fail(
                "summary(nn.Linear(3, 2), x) gave the wrong rows",
                expected=str([want]),
                got=_text(rows),
                hint="A module with no children is a leaf, the model itself included (its "
                "qualified name in named_modules() is ''): hook every module whose "
                "children() is empty, the root too.",
            )


def _row(row: dict[str, Any]) -> tuple[Any, ...]:
    """A row as plain values (None for a value of the wrong kind): a learner's object that
    says it equals anything cannot pass."""
    name, kind, shape, count = (row[key] for key in KEYS)
    return (
        name if type(name) is str else None,
        kind if type(kind) is str else None,
        tuple(int(d) for d in shape)
        if isinstance(shape, tuple) and all(_is_int(d) for d in shape)
        else None,
        int(count) if _is_int(count) else None,
    )


def _text(value: Any) -> str:
    try:
        return str(value)[:300]
    except Exception:
        return describe(value)


def _expect_leaf_rows(t: Checker, rows: list[dict[str, Any]], model: nn.Module) -> None:
    # Plain values only (type(...) is str, int(...)): a learner's object that says it equals
    # anything cannot pass.
    names = [row["name"] if type(row["name"]) is str else describe(row["name"]) for row in rows]
    want_names = [name for name, *_ in _EXPECTED]

    with t.probe("one row per call of a leaf module, leaves only"):
        containers = [n for n in names if n in ("", "body", "body.block")]
        if containers:
            t.fail(
                "there are rows for modules that have children",
                expected="rows for leaf modules only (modules with no children)",
                got=", ".join(repr(n) for n in containers),
                hint="Hook only the leaves: modules whose list(module.children()) is empty. "
                "A container's output is its last leaf's output, listed already.",
            )
        if "spare" in names:
            t.fail(
                "there is a row for a module that never ran",
                expected="rows only for calls made during the forward pass",
                got="a row for `spare`, which forward never calls",
                hint="Make the rows in the forward hooks, as the modules run, not by "
                "walking named_modules() afterwards: a module forward does not call gets "
                "no row.",
            )
        hashable = all(isinstance(n, str) for n in names)
        if hashable and len(set(names)) == len(names) and set(names) == set(want_names):
            t.fail(
                "a module called twice has one row",
                expected=f"{len(_EXPECTED)} rows ({want_names.count('body.block.act')} for "
                "`body.block.act`, which forward calls twice)",
                got=f"{len(rows)} rows",
                hint="Append a row at every call (a list of rows), not one per module "
                "(a dict keyed by name or module keeps only one).",
            )

    with t.probe("each row's name is the module's qualified name"):
        short = [n.rsplit(".", 1)[-1] for n in want_names]
        if names != want_names and sorted(map(str, names)) == sorted(short):
            t.fail(
                "the names are not qualified names",
                expected=", ".join(want_names[:4]) + ", ...",
                got=", ".join(map(str, names[:4])) + ", ...",
                hint="Use the dotted names named_modules() gives (`body.block.proj`), not "
                "the attribute name alone: two leaves may share a last part.",
            )
        if names != want_names and sorted(map(str, names)) == sorted(want_names):
            t.fail(
                "the rows are not in call order",
                expected=", ".join(want_names),
                got=", ".join(map(str, names)),
                hint="Append each row in the forward hook, when the module runs: that is the "
                "call order. named_modules() gives the order in which modules were "
                "registered, which forward need not follow.",
            )
        if names != want_names:
            t.fail(
                "the rows name the wrong modules",
                expected=", ".join(want_names),
                got=", ".join(map(str, names)),
                hint="One row per call of each leaf module, named with the qualified "
                "name from model.named_modules(), in the order the calls happen.",
            )

    with t.probe("each row's type is type(module).__name__"):
        for row, (name, kind, _, _) in zip(rows, _EXPECTED, strict=True):
            if type(row["type"]) is not str or row["type"] != kind:
                t.fail(
                    f"the type of `{name}` is wrong",
                    expected=repr(kind),
                    got=describe(row["type"]),
                    hint="type(module).__name__ is the class's name as a str ('Linear'); "
                    "type(module) is the class itself and str(module) its repr.",
                )

    with t.probe("each row's output_shape is a tuple of ints"):
        for row, (name, _, shape, _) in zip(rows, _EXPECTED, strict=True):
            got = row["output_shape"]
            if not isinstance(got, tuple) or not all(_is_int(d) for d in got):
                t.fail(
                    f"the output_shape of `{name}` is not a tuple of ints",
                    expected=str(shape),
                    got=describe(got),
                    hint="tuple(output.shape) is a tuple of ints; a list, a tensor or "
                    "str(output.shape) is not.",
                )
            if tuple(int(d) for d in got) != shape:
                t.fail(
                    f"the output_shape of `{name}` is wrong",
                    expected=str(shape),
                    got=str(tuple(got)),
                    hint="Record the shape of the module's OUTPUT (the hook's third "
                    "argument), not of its input.",
                )

    with t.probe("each row's num_params counts the module's own parameters, trainable or not"):
        counted: set[str] = set()  # names whose row had the right count already
        for row, (name, _, _, count) in zip(rows, _EXPECTED, strict=True):
            got = row["num_params"]
            if not _is_int(got):
                t.fail(
                    f"the num_params of `{name}` is not an int",
                    expected=str(count),
                    got=describe(got),
                    hint="sum(p.numel() for p in module.parameters()) is a Python int; "
                    "keep it one (no tensor, no float).",
                )
            got = int(got)
            if got != count:
                buffers = sum(b.numel() for b in model.get_submodule(name).buffers())
                if name == "head" and got == 3:
                    hint = (
                        "Count every parameter, trainable or not: `head.weight` is frozen "
                        "(requires_grad=False) and still counts."
                    )
                elif buffers and got == count + buffers:
                    hint = (
                        "Buffers are not parameters: BatchNorm's running_mean, running_var "
                        "and num_batches_tracked (in its state_dict()) do not count. Count "
                        "module.parameters() only."
                    )
                elif name in counted and got == 0:
                    hint = (
                        "A leaf called twice has the same parameters at each call: give "
                        "every row the module's own count, not 0 for parameters already "
                        "counted in an earlier row."
                    )
                else:
                    hint = (
                        "num_params is the number of scalar values in the module's own "
                        "parameters: sum(p.numel() for p in module.parameters())."
                    )
                t.fail(
                    f"the num_params of `{name}` is wrong",
                    expected=str(count),
                    got=str(got),
                    hint=hint,
                )
            counted.add(name)


def _expect_unchanged(
    t: Checker, model: nn.Module, before: list[tuple[Any, ...]], storage: list[tuple[str, int]]
) -> None:
    if storage_places(model) != storage:
        t.fail(
            "summary moved or replaced the model's tensors",
            got="the model's parameters or buffers now hold other storage "
            "(model.cpu(), model.to(...) or an assignment to .data)",
            hint="Leave the model where it is: model.cpu() / .to() moves the caller's model "
            "in place (on a GPU machine it takes the model off the GPU).",
        )
    after = _state(model)
    if [e[:2] for e in after] != [e[:2] for e in before]:
        t.fail(
            "summary added or removed modules, parameters or buffers",
            hint="Only run the model: assign nothing to it (keep what the hooks record in "
            "your own list, not on the modules).",
        )
    for old, new in zip(before, after, strict=True):
        if old[0] != "module" and old[:3] != new[:3]:
            t.fail(
                "summary replaced parameters or buffers",
                got=f"{old[0]} `{old[1]}` is another object now",
                hint="Only run the model: assign no new tensors to it.",
            )
        if old[0] == "parameter" and old[3] != new[3]:
            t.fail(
                f"summary changed requires_grad of parameter `{old[1]}`",
                expected=f"requires_grad={old[3]}",
                got=f"requires_grad={new[3]}",
                hint="Do not freeze parameters to avoid gradients (requires_grad_(False) "
                "changes the caller's model): run the pass under torch.no_grad() instead.",
            )
    for old, new in zip(before, after, strict=True):
        if old[0] != "module" and not torch.equal(old[4], new[4]):
            batchnorm = old[1].startswith("body.block.norm.")
            t.fail(
                f"summary changed {old[0]} `{old[1]}`",
                expected=f"{old[0]} values as before the call",
                got="changed values",
                hint="BatchNorm updates its running statistics during a forward pass in "
                "training mode, even under no_grad(): call model.eval() before the pass."
                if batchnorm
                else "Only run the model: leave its parameters and buffers as they are.",
            )
