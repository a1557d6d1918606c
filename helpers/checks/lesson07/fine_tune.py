"""The check of ``07.fine_tune``: ``prepare_fine_tuning(model, num_frozen, lr)`` freezes the
parameters of the first ``num_frozen`` children, makes every other parameter trainable, and
returns an optimizer over exactly the trainable parameters, each once, at ``lr``.

The check's model has five children: a Sequential first (so that ``modules()`` and
``children()`` differ), a ReLU without parameters, another Sequential, and two Linears whose
weights are tied (one Parameter: ``model.parameters()`` yields it once, the children's
``parameters()`` twice), and a parameter of its own (``scale``). Before the first call some
later parameters are frozen, as a previous call with a larger ``num_frozen`` would leave
them; the second call, with ``num_frozen=0``, must make every parameter trainable again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from helpers.checks.core import Checker, describe, plain, task
from helpers.checks.lesson07.common import NOTEBOOK, fmt, is_real, real

_LR = 0.0375  # no optimizer's default
_FROZEN = 3
_CHILDREN = ("stem", "act", "block", "head", "aux")


class _Net(nn.Module):
    """Children stem, act, block, head, aux (aux.weight is head.weight); own parameter scale."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8))
        self.act = nn.ReLU()
        self.block = nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8))
        self.head = nn.Linear(8, 3)
        self.aux = nn.Linear(8, 3)
        self.aux.weight = self.head.weight  # tied: one Parameter in two children
        self.scale = nn.Parameter(torch.ones(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.block(self.act(self.stem(x)))
        return self.scale * (self.head(h) + self.aux(h))


def _names(model: nn.Module) -> dict[int, str]:
    """Each parameter's qualified name, by id (a tied parameter under its first name)."""
    return {id(p): name for name, p in model.named_parameters()}


def _frozen(model: nn.Module) -> set[str]:
    return {name for name, p in model.named_parameters() if not p.requires_grad}


def _of(modules: list[nn.Module], names: dict[int, str]) -> set[str]:
    return {names[id(p)] for m in modules for p in m.parameters()}


def _show(names: set[str] | list[str]) -> str:
    shown = sorted(names)
    return ", ".join(shown[:6]) + (f" and {len(shown) - 6} more" if len(shown) > 6 else "")


@task("07.fine_tune", title="Prepare fine-tuning", names=["prepare_fine_tuning"], notebook=NOTEBOOK)
def check_fine_tune(t: Checker) -> None:
    prepare = t.function("prepare_fine_tuning")

    model = _Net()
    names = _names(model)
    children = list(model.children())
    for p in (model.head.bias, model.aux.bias, model.scale):
        p.requires_grad_(False)  # frozen before the call, as a larger num_frozen left them
    before = _frozen(model)
    call = f"prepare_fine_tuning(model, {_FROZEN}, lr={_LR})"

    with t.probe(f"{call} returns a torch.optim optimizer"):
        optimizer = _call(t, prepare, model, _FROZEN, call)

    frozen_wanted = _of(children[:_FROZEN], names)
    everything = set(names.values())
    with t.probe(
        f"requires_grad=False on every parameter of the first {_FROZEN} children "
        f"({', '.join(_CHILDREN[:_FROZEN])}), nested ones included"
    ):
        frozen = _frozen(model)
        missed = frozen_wanted - frozen
        if missed:
            _fail_freezing(t, model, names, frozen, missed)

    with t.probe(
        "requires_grad=True on every other parameter (those frozen before the call and the "
        "model's own `scale` included)"
    ):
        stray = frozen - frozen_wanted
        if stray:
            if stray == everything - frozen_wanted:
                hint = (
                    "Every parameter is frozen: freeze only those of "
                    "list(model.children())[:num_frozen] (model.modules() starts with the "
                    "model itself, whose parameters are all of them)."
                )
            elif stray <= before and "scale" in stray and len(stray) < len(before):
                hint = (
                    "`scale` is a parameter of the model itself, in no child: set "
                    "requires_grad=True on every parameter of model.parameters() first, then "
                    "freeze the first children (or loop over named_parameters)."
                )
            elif stray <= before:
                hint = (
                    "These were frozen before the call (by an earlier call with a larger "
                    "num_frozen): set requires_grad=True on every parameter that is not in "
                    "the first num_frozen children, not only leave it as it is."
                )
            else:
                hint = "Freeze the parameters of the first num_frozen children and no others."
            t.fail(
                "parameters outside the first children are frozen",
                expected="requires_grad=True",
                got=f"requires_grad=False on {_show(stray)}",
                facts=[f"Frozen before the call: {_show(before)}"],
                hint=hint,
            )

    with t.probe("the optimizer's param groups hold exactly the trainable parameters, each once"):
        _expect_groups(t, optimizer, model, names)

    with t.probe("every param group has learning rate lr"):
        _expect_lr(t, optimizer)

    call = f"prepare_fine_tuning(model, 0, lr={_LR})"
    with t.probe(f"then {call}: every parameter trainable, all in the optimizer, each once, at lr"):
        optimizer = _call(t, prepare, model, 0, call)
        frozen = _frozen(model)
        if frozen:
            t.fail(
                "after num_frozen=0, some parameters are still frozen",
                expected="requires_grad=True on every parameter",
                got=f"requires_grad=False on {_show(frozen)}",
                hint="With num_frozen=0 no child is frozen: set requires_grad=True on every "
                "parameter that is not in the first num_frozen children, even if it was "
                "frozen before.",
            )
        _expect_groups(t, optimizer, model, names)
        _expect_lr(t, optimizer)


def _call(t: Checker, prepare: Callable[..., Any], model: nn.Module, n: int, what: str) -> Any:
    optimizer = t.call(
        prepare,
        model,
        n,
        _LR,
        what=what,
        hints=[
            (
                "optimizer got an empty parameter list",
                "The list of trainable parameters is empty: every parameter is frozen. "
                "Freeze only those of list(model.children())[:num_frozen] (model.modules() "
                "starts with the model itself, whose parameters are all of them).",
            )
        ],
    )
    if isinstance(optimizer, torch.optim.Optimizer):
        return optimizer
    if isinstance(optimizer, (list, tuple)) or hasattr(optimizer, "__next__"):
        hint = (
            "Return the optimizer itself, e.g. torch.optim.SGD(trainable, lr=lr), not the "
            "list of parameters."
        )
    elif optimizer is None:
        hint = "prepare_fine_tuning returns None: return the optimizer you built."
    else:
        hint = (
            "Return an optimizer from torch.optim (SGD, Adam, ...) built over the trainable "
            "parameters."
        )
    t.fail(
        f"{what} did not return a torch.optim optimizer",
        expected="a torch.optim.Optimizer",
        got=describe(optimizer),
        hint=hint,
    )


def _fail_freezing(
    t: Checker, model: nn.Module, names: dict[int, str], frozen: set[str], missed: set[str]
) -> None:
    modules = list(model.modules())
    first_tensors = set(list(names.values())[:_FROZEN])
    if not frozen:
        hint = (
            "Nothing is frozen: for each of list(model.children())[:num_frozen], set "
            "p.requires_grad = False (or p.requires_grad_(False)) on every p in "
            "child.parameters()."
        )
    elif frozen == _of(modules[1 : _FROZEN + 1], names):
        hint = (
            "model.modules() walks every module at every depth, so its first entries are "
            "not the first children: use list(model.children())[:num_frozen]."
        )
    elif frozen == first_tensors:
        hint = (
            "named_parameters()[:num_frozen] counts parameter tensors, not children: freeze "
            "every parameter of each of list(model.children())[:num_frozen]."
        )
    else:
        hint = (
            "Freeze every parameter of the first num_frozen children: for child in "
            "list(model.children())[:num_frozen]: for p in child.parameters(): "
            "p.requires_grad = False."
        )
    t.fail(
        "parameters of the first children are still trainable",
        expected=f"requires_grad=False on {_show(_of(list(model.children())[:_FROZEN], names))}",
        got=f"requires_grad=True on {_show(missed)}",
        hint=hint,
    )


def _expect_groups(
    t: Checker, optimizer: torch.optim.Optimizer, model: nn.Module, names: dict[int, str]
) -> None:
    held = [p for group in optimizer.param_groups for p in group.get("params", [])]
    ids = [id(p) for p in held]
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    frozen = {id(p) for p in model.parameters() if not p.requires_grad}
    foreign = [p for p in held if id(p) not in trainable and id(p) not in frozen]
    if foreign:
        t.fail(
            "the optimizer holds tensors that are not the model's parameters",
            got=f"{len(foreign)} other tensors, e.g. {describe(foreign[0])}",
            hint="Give the optimizer the model's Parameter objects themselves "
            "(from model.parameters()), not copies or .data.",
        )
    extra = {names[i] for i in ids if i in frozen}
    if extra:
        t.fail(
            "the optimizer holds frozen parameters",
            expected="only parameters with requires_grad=True",
            got=f"frozen ones too: {_show(extra)}",
            hint="Build the optimizer over the trainable parameters only, [p for p in "
            "model.parameters() if p.requires_grad]: with momentum or weight decay an "
            "optimizer still moves a frozen parameter that holds a gradient.",
        )
    twice = sorted({names[i] for i in ids if ids.count(i) > 1})
    if twice:
        t.fail(
            "a parameter is in the optimizer more than once",
            expected="each trainable parameter once",
            got=f"{_show(twice)} more than once",
            facts=["`head.weight` and `aux.weight` are one Parameter (tied weights)."],
            hint="Collect the parameters from model.parameters(), which yields a shared "
            "(tied) parameter once, rather than child by child (each child yields it), and "
            "which includes the model's own parameters.",
        )
    missing = {names[i] for i in trainable if i not in ids}
    if missing:
        hint = (
            "`scale` is a parameter of the model itself, in no child: take the trainable "
            "parameters from model.parameters(), not from the children."
            if missing == {"scale"}
            else "Give the optimizer every parameter with requires_grad=True: [p for p in "
            "model.parameters() if p.requires_grad]."
        )
        t.fail(
            "the optimizer misses trainable parameters",
            expected="every parameter with requires_grad=True",
            got=f"missing: {_show(missing)}",
            hint=hint,
        )


def _expect_lr(t: Checker, optimizer: torch.optim.Optimizer) -> None:
    for i, group in enumerate(optimizer.param_groups):
        lr = group.get("lr")
        value = real(lr) if is_real(lr) else None
        tolerance = 1e-12
        if value is None and isinstance(lr, torch.Tensor) and lr.numel() == 1:
            value = float(plain(lr).detach())
            tolerance = 1e-6 * _LR  # a float32 tensor holds lr rounded to float32
        if value is None or abs(value - _LR) > tolerance:
            t.fail(
                f"param group {i} has learning rate {lr if value is None else fmt(value)}",
                expected=f"lr={_LR}, the lr argument",
                got=f"lr={lr if value is None else fmt(value)}",
                hint="Pass the argument on: torch.optim.SGD(trainable, lr=lr) (an optimizer's "
                "default learning rate, such as Adam's 0.001, is not lr).",
            )
