"""Checks for lesson 03 · Parameters and buffers: ``03.running_mean``, ``03.causal_mask``,
``03.freeze``, ``03.checkpoint``."""

from __future__ import annotations

import contextlib
import copy
import os
import re
import tempfile
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from helpers.checks.core import (
    Checker,
    CopyOnMove,
    Fail,
    NotImplementedYet,
    describe,
    equal,
    mismatch_facts,
    plain_tensor_attributes,
    preview,
    same_tensor_set,
    shape_str,
    storage_places,
    task,
)
from helpers.device import get_device

NOTEBOOK = "03_parameters_and_buffers"


def _buffers(t: Checker, module: nn.Module, call: str) -> dict[str, torch.Tensor]:
    return dict(t.call(module.named_buffers, what=f"{call}.named_buffers()"))


# A plain attribute first, then register_buffer with the same name: torch's KeyError
# "attribute 'mask' already exists".
_CONSTRUCT_HINTS = [
    (
        "already exists",
        "`self.name = tensor` made a plain attribute first, so register_buffer refuses that "
        "name: register the tensor directly, self.register_buffer('name', tensor), without "
        "assigning it to self.name before.",
    )
]


# -- the same verdict on a laptop and on a GPU machine ----------------------------------------
#
# A forward that makes a tensor on the CPU (torch.tensor(...), torch.zeros(...) without
# device=, .cpu()) works on a laptop, where the module is on the CPU too, and breaks on a GPU
# machine, where the module and x are on the GPU: the course's device probe would pass on one
# and fail on the other. ``_expect_stays_on_device`` makes the laptop behave like the GPU machine:
# while forward runs on the CPU, every tensor made that way is marked as "on the CPU, not where
# the module is"; an op that combines a marked tensor with an unmarked one (other than a
# 0-dim one, which torch lets a CPU scalar do with GPU tensors) fails as it would on a GPU,
# and a marked tensor that ends up as the output or as a buffer is reported afterwards.
# .cpu() / .to("cpu") give a marked copy, as on a GPU machine, and leave the tensor they were
# called on as it was (the module's buffer stays unmarked). A marked tensor moved with
# .to(x.device) (or .to(x), a torch.device, a GPU index; not the string "cpu") is where the
# module is, as on a GPU machine: its copy is not marked.
# Nothing is moved, so .item() and the values work as usual.

_FACTORIES = {
    torch.tensor, torch.as_tensor, torch.zeros, torch.ones, torch.full, torch.empty,
    torch.arange, torch.eye, torch.linspace, torch.rand, torch.randn, torch.randint,
    torch.from_numpy,
}  # fmt: skip
# Ops that may take a CPU tensor while the result stays on the GPU (a copy into it, a move).
_CROSS_DEVICE = {
    torch.Tensor.copy_, torch.Tensor.__setitem__, torch.Tensor.to, torch.Tensor.cuda,
    torch.Tensor.type, torch.Tensor.index_put_, torch.Tensor.fill_,
}  # fmt: skip


class _CpuMade(BaseException):
    """An op combined a tensor made on the CPU in forward with the module's tensors.

    A BaseException, so that a learner's ``except Exception`` does not swallow it."""


class _CpuMadeTensors(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.marked: dict[int, torch.Tensor] = {}  # id -> tensor (kept alive: ids stay unique)

    def is_marked(self, value: Any) -> bool:
        return isinstance(value, torch.Tensor) and self.marked.get(id(value)) is value

    def moves_to_module(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        """Whether ``.to(...)`` names a device that is the module's on a GPU machine: one
        read from a tensor (x.device, .to(x)) or a GPU index, not the literal "cpu"."""
        for a in (*args, kwargs.get("device")):
            if isinstance(a, torch.Tensor):
                return not self.is_marked(a)
            if isinstance(a, torch.device) or (isinstance(a, int) and not isinstance(a, bool)):
                return True
            if isinstance(a, str):
                return a.split(":")[0] != "cpu"
        return False

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if (
            func is torch.Tensor.to
            and self.is_marked(args[0])
            and self.moves_to_module(args[1:], kwargs)
        ):
            # t.to(x.device) on a GPU machine: a copy where the module is, no longer marked
            # (on the CPU, .to() returns t itself, which stays marked as what it was).
            return out.clone() if out is args[0] else out
        to_cpu = func is torch.Tensor.cpu or (
            func is torch.Tensor.to
            and any(
                isinstance(a, str) and a.split(":")[0] == "cpu"
                for a in (*args[1:], kwargs.get("device"))
            )
        )
        if to_cpu and isinstance(out, torch.Tensor):
            # On a GPU machine t.cpu() is a copy on the CPU and t stays where it was; on the
            # CPU it is t itself, which must not become marked: mark a copy instead.
            out = out.clone() if out is args[0] else out
            self.marked[id(out)] = out
            return out
        if func in (torch.Tensor.to, torch.Tensor.type) and self.is_marked(args[0]):
            # A dtype conversion (t.to(torch.float64), t.to(x.dtype)) stays on the CPU.
            if isinstance(out, torch.Tensor) and out.device.type == "cpu":
                self.marked[id(out)] = out
            return out
        made = func in _FACTORIES and kwargs.get("device") is None
        tensors = [
            a
            for a in (*args, *kwargs.values(), *_flat(args))
            if isinstance(a, torch.Tensor) and a.device.type == "cpu"
        ]
        marked = [a for a in tensors if self.is_marked(a)]
        unmarked = [a for a in tensors if not self.is_marked(a)]
        if marked and func not in _CROSS_DEVICE and func is not torch.Tensor.cpu:
            if unmarked and any(a.dim() for a in marked) and any(a.dim() for a in unmarked):
                name = getattr(func, "__name__", str(func))
                raise _CpuMade(f"{name} combined a tensor made on the CPU with the module's")
            made = made or not unmarked
        if made and isinstance(out, torch.Tensor) and out.device.type == "cpu":
            self.marked[id(out)] = out
        return out


def _flat(args: tuple[Any, ...]) -> list[Any]:
    """Tensors one level down in list / tuple arguments (torch.stack([...]), where(...))."""
    return [v for a in args if isinstance(a, (list, tuple)) for v in a]


_CPU_MADE_HINT = (
    "forward makes a tensor on the CPU ({what}): on a GPU machine the module and its input "
    "are on the GPU, and this breaks there. {fix}"
)
_RUNNING_CPU_FIX = (
    "Update the buffers in place (self.num_batches_tracked += 1, "
    "self.running_mean.mul_(...).add_(...)) or compute them from tensors already there; "
    "never assign torch.tensor(...) or a .cpu() copy to a buffer."
)
_MASK_CPU_FIX = (
    "Use the registered buffer as it is (self.mask[:T, :T], no .cpu()), and make any new "
    "tensor on the scores' device (device=scores.device, torch.full_like(scores, ...))."
)


def _expect_stays_on_device(
    t: Checker, layer: nn.Module, x: torch.Tensor, call: str, what: str, fix: str
) -> Any:
    """Run ``layer(x)`` on the CPU as if the CPU were another machine's GPU (see above)."""
    before = {n: id(b) for n, b in layer.named_buffers()}
    mode = _CpuMadeTensors()
    try:
        with mode:
            y = t.call(layer, x, what=call)
    except _CpuMade as mixed:
        t.fail(
            f"{call} mixes a tensor made on the CPU with the module's tensors",
            got=str(mixed),
            hint=_CPU_MADE_HINT.format(what=what, fix=fix),
        )
    buffers = dict(layer.named_buffers())
    moved = [n for n, b in buffers.items() if mode.is_marked(b) and before.get(n) != id(b)]
    if moved:
        t.fail(
            f"after {call} the buffer `{moved[0]}` is a tensor made on the CPU in forward",
            expected=f"`{moved[0]}` on the module's device, wherever .to(device) put it",
            got="a new tensor from torch.tensor(...) / torch.zeros(...) without device=, or .cpu()",
            hint=_CPU_MADE_HINT.format(what=what, fix=fix),
        )
    if mode.is_marked(y):
        t.fail(
            f"{call} returns a tensor made on the CPU",
            hint=_CPU_MADE_HINT.format(what=what, fix=fix),
        )
    return y


# -- 03.running_mean --------------------------------------------------------------------------

_RUNNING = ("running_mean", "num_batches_tracked")


@task(
    "03.running_mean",
    title="Running mean kept in buffers",
    names=["RunningMean"],
    notebook=NOTEBOOK,
)
def check_running_mean(t: Checker) -> None:
    RunningMean = t.module_class("RunningMean")

    with t.probe("RunningMean(3) constructs on the CPU and has no parameters"):
        layer = t.build(RunningMean, 3, what="RunningMean(3)", hints=_CONSTRUCT_HINTS)
        t.expect_no_parameters(
            layer,
            what="RunningMean(3)",
            hint="Running statistics are not trained: keep them with "
            "self.register_buffer(name, tensor), not nn.Parameter.",
        )

    with t.probe(
        "buffers `running_mean` (3,) zeros of the default float dtype and "
        "`num_batches_tracked` () int64 0"
    ):
        _expect_running_buffers(t, layer, 3)

    with t.probe("both buffers are in state_dict()"):
        keys = list(t.call(layer.state_dict, what="RunningMean(3).state_dict()"))
        missing = [name for name in _RUNNING if name not in keys]
        if missing:
            t.fail(
                "a buffer is missing from state_dict()",
                expected=", ".join(_RUNNING),
                got=", ".join(keys) or "an empty state_dict",
                hint="Register both buffers as persistent (the default): drop "
                "persistent=False, or the running statistics are not saved.",
            )

    # A momentum given first: a swapped update shows there, so a default call that then
    # moves by another amount has a default other than 0.1.
    cases = [(4, 0.3, (6, 2, 9)), (3, None, (5, 7, 4)), (1, 0.05, (3,))]
    for num_features, momentum, batch_sizes in cases:
        call = f"RunningMean({num_features}" + (
            f", momentum={momentum})" if momentum is not None else ")"
        )
        n = len(batch_sizes)
        with t.probe(f"training mode: {n} batch{'es' if n > 1 else ''} through {call}"):
            args = (num_features,) if momentum is None else (num_features, momentum)
            layer = t.call(RunningMean, *args, what=call)
            _expect_training(
                t,
                layer,
                call,
                num_features,
                momentum or 0.1,
                batch_sizes,
                by_default=momentum is None,
            )

    with t.probe("running_mean is updated without autograd history"):
        layer = t.call(RunningMean, 3, what="RunningMean(3)")
        x = torch.randn(5, 3, requires_grad=True)
        y = t.expect_tensor(t.call(layer, x, what="RunningMean(3)(x)"), what="the output")
        running_mean = _buffers(t, layer, "RunningMean(3)").get("running_mean")
        if running_mean is not None and (
            running_mean.requires_grad or running_mean.grad_fn is not None
        ):
            t.fail(
                "running_mean carries autograd history after a training step",
                expected="running_mean.requires_grad == False",
                got=f"requires_grad={running_mean.requires_grad}, grad_fn="
                f"{type(running_mean.grad_fn).__name__ if running_mean.grad_fn else None}",
                hint="Update running_mean under torch.no_grad() (or from x.mean(0).detach()): "
                "a buffer with a grad_fn keeps every batch's graph alive.",
            )

    with t.probe("gradients flow through x - x.mean(0) in training mode"):
        if not y.requires_grad:
            t.fail(
                "the output does not track gradients to x",
                hint="Compute the output outside torch.no_grad(): only the buffer update "
                "goes under no_grad.",
            )
        if tuple(y.shape) != (5, 3):
            t.fail(
                "the output has the wrong shape",
                expected="(5, 3)",
                got=shape_str(y.shape),
                hint="Return x - x.mean(0), of x's shape.",
            )
        weights = torch.randn(5, 3)
        t.call((y * weights).sum().backward, what="(output * w).sum().backward()")
        if x.grad is None:
            t.fail(
                "no gradient reached x",
                hint="Compute the output from x itself: return x - x.mean(0).",
            )
        t.expect_close(
            x.grad,
            weights - weights.mean(0),
            what="x.grad after (output * w).sum().backward()",
            hint="Return x - x.mean(0) with the mean still attached to the graph: use the "
            "detached mean only for the buffer update.",
            diagnoses=[
                (
                    weights,
                    "The output's mean is detached: return x - x.mean(0) and detach only "
                    "what goes into running_mean.",
                )
            ],
        )

    with t.probe("eval mode returns x - running_mean and changes no buffer"):
        layer = t.call(RunningMean, 4, what="RunningMean(4)")
        _expect_training(t, layer, "RunningMean(4)", 4, 0.1, (6, 3))
        t.call(layer.eval, what="RunningMean(4).eval()")
        before = {k: v.detach().clone() for k, v in _buffers(t, layer, "RunningMean(4)").items()}
        if any(name not in before for name in _RUNNING):
            t.fail(
                "after training steps a buffer is missing",
                got=f"buffers {sorted(before) or 'none'}",
                hint="Update the buffers in place or assign a tensor to the same name; do not "
                "delete them.",
            )
        x = torch.randn(5, 4) * 2 + 1
        x_before = x.clone()
        y = t.call(layer, x, what="RunningMean(4).eval()(x)")
        after = _buffers(t, layer, "RunningMean(4)")
        changed = [k for k in _RUNNING if k in before and not _same(after.get(k), before[k])]
        if changed:
            as_training = (
                isinstance(y, torch.Tensor)
                and y.shape == x_before.shape
                and y.dtype == x_before.dtype
                and not mismatch_facts(y, x_before - x_before.mean(0), rtol=1e-5, atol=1e-5)
            )
            t.fail(
                "eval mode changed a buffer",
                got=f"{', '.join(changed)} changed"
                + (", and the output subtracts the batch mean" if as_training else ""),
                hint="In eval mode forward still runs its training branch: test "
                "self.training (a bool), not self.train (a method, so always true); in eval "
                "mode update no buffer and return x - running_mean."
                if as_training
                else "Update the buffers only when self.training is True; in eval mode only "
                "read running_mean.",
            )
        if not equal(x, x_before):
            t.fail("forward changed its input x in place", hint=_IN_PLACE_HINT)
        t.expect_close(
            y,
            x_before - before["running_mean"],
            what="RunningMean(4).eval()(x)",
            hint="In eval mode return x - self.running_mean.",
            diagnoses=[
                (
                    x_before - x_before.mean(0),
                    "In eval mode subtract running_mean, not the batch mean: branch on "
                    "self.training.",
                )
            ],
            rtol=1e-5,
            atol=1e-5,
        )

    with t.probe("`.to(torch.float64)` converts running_mean; num_batches_tracked stays int64"):
        layer = t.call(RunningMean, 3, what="RunningMean(3)")
        t.call(layer.to, torch.float64, what="RunningMean(3).to(torch.float64)")
        buffers = _buffers(t, layer, "RunningMean(3)")
        got = {k: str(buffers[k].dtype) for k in _RUNNING if k in buffers}
        if got != {"running_mean": "torch.float64", "num_batches_tracked": "torch.int64"}:
            t.fail(
                "after .to(torch.float64) the buffers have the wrong dtypes",
                expected="running_mean torch.float64, num_batches_tracked torch.int64",
                got=", ".join(f"{k} {v}" for k, v in got.items()),
                hint="Keep both as registered buffers: .to() converts floating-point "
                "buffers and leaves integer ones alone.",
            )
        _expect_training(t, layer, "RunningMean(3) in float64", 3, 0.1, (4,), torch.float64)

    with t.probe(
        "forward makes no tensor on the CPU alone (so the verdict is the same on a laptop "
        "and on a GPU machine)"
    ):
        layer = t.call(RunningMean, 3, what="RunningMean(3)")
        what = "torch.tensor(...), torch.zeros(...) without device=, or .cpu()"
        for _ in range(2):
            x = torch.randn(4, 3)
            _expect_stays_on_device(t, layer, x, "RunningMean(3)(x)", what, _RUNNING_CPU_FIX)
        t.call(layer.eval, what="RunningMean(3).eval()")
        call = "RunningMean(3).eval()(x)"
        _expect_stays_on_device(t, layer, torch.randn(4, 3), call, what, _RUNNING_CPU_FIX)

    with t.probe("works on the course's device, get_device()"):
        device = get_device()
        layer = t.call(RunningMean, 3, what="RunningMean(3)")
        t.call(layer.to, device, what="RunningMean(3).to(device)")
        _expect_training(t, layer, "RunningMean(3) on the device", 3, 0.1, (5, 4), device=device)
        t.call(layer.eval, what="RunningMean(3).eval()")
        x = torch.randn(4, 3).to(device)
        running_mean = _buffers(t, layer, "RunningMean(3)")["running_mean"].detach().clone()
        y = t.call(layer, x, what="RunningMean(3).eval()(x) on the device")
        t.expect_close(
            y,
            x - running_mean,
            what="the eval-mode output on the device",
            hint="In eval mode return x - self.running_mean.",
            rtol=1e-5,
            atol=1e-5,
        )


_IN_PLACE_HINT = (
    "Do not modify x (x -= ..., x.sub_(...)): return a new tensor, x - mean, so the "
    "caller's batch stays as it was."
)
_SHAPE_HINTS = [
    (
        needle,
        "Check the shapes in forward: x is (N, num_features), and the batch mean x.mean(0) "
        "(over dim 0, the batch) has shape (num_features,), like running_mean.",
    )
    for needle in ("size of tensor", "doesn't match the broadcast shape")
]


def _same(a: Any, b: torch.Tensor) -> bool:
    return (
        isinstance(a, torch.Tensor)
        and a.shape == b.shape
        and a.dtype == b.dtype
        and equal(a.detach(), b)
    )


def _expect_running_buffers(t: Checker, layer: nn.Module, num_features: int) -> None:
    call = f"RunningMean({num_features})"
    buffers = _buffers(t, layer, call)
    for name in _RUNNING:
        if name in buffers:
            continue
        value = vars(layer).get(name)
        if isinstance(value, torch.Tensor):
            hint = (
                f"`{name}` is a plain tensor attribute: register it with "
                f"self.register_buffer({name!r}, tensor) so that it is saved and moved."
            )
        elif isinstance(value, (int, float)):
            hint = (
                f"`{name}` must be a tensor buffer, not a Python number: "
                f"self.register_buffer({name!r}, torch.tensor(0, dtype=torch.long))."
            )
        else:
            hint = (
                "Register buffers named exactly `running_mean` and `num_batches_tracked` "
                "with self.register_buffer(name, tensor)."
            )
        t.fail(
            f"{call} has no buffer `{name}`",
            expected="buffers running_mean, num_batches_tracked",
            got=f"buffers {sorted(buffers) or 'none'}",
            hint=hint,
        )
    running_mean, count = buffers["running_mean"], buffers["num_batches_tracked"]
    if tuple(running_mean.shape) != (num_features,) or not running_mean.dtype.is_floating_point:
        t.fail(
            "`running_mean` has the wrong shape or dtype",
            expected=f"shape {shape_str((num_features,))}, a floating-point dtype",
            got=f"shape {shape_str(running_mean.shape)}, {running_mean.dtype}",
            hint="Start it as torch.zeros(num_features): one float per feature.",
        )
    default = torch.get_default_dtype()
    if running_mean.dtype != default:
        t.fail(
            f"`running_mean` is {str(running_mean.dtype).removeprefix('torch.')}, not the "
            "default float dtype",
            expected=str(default),
            got=str(running_mean.dtype),
            hint="Create running_mean in the default float dtype, torch.zeros(num_features), "
            "without dtype=: whoever wants float64 converts the whole module with "
            ".to(torch.float64), and the buffer follows.",
        )
    if bool((running_mean != 0).any()):
        t.fail(
            "`running_mean` does not start at zero",
            hint="Start it as torch.zeros(num_features).",
        )
    if running_mean.requires_grad:
        t.fail(
            "`running_mean` requires gradients",
            expected="requires_grad=False",
            got="requires_grad=True",
            hint="A buffer is not trained: make it with torch.zeros(num_features), without "
            "requires_grad=True, or every output computed from it records a graph.",
        )
    if count.dtype != torch.int64 or tuple(count.shape) != ():
        t.fail(
            "`num_batches_tracked` is not an int64 scalar",
            expected="shape (), torch.int64",
            got=f"shape {shape_str(count.shape)}, {count.dtype}",
            hint="A count is an integer scalar: torch.tensor(0, dtype=torch.long), shape () "
            "(keep it int64, like BatchNorm's).",
        )
    if int(count) != 0:
        t.fail("`num_batches_tracked` does not start at 0", hint="Start it at 0.")


def _expect_training(
    t: Checker,
    layer: nn.Module,
    call: str,
    num_features: int,
    momentum: float,
    batch_sizes: tuple[int, ...],
    dtype: torch.dtype | None = None,
    device: torch.device | None = None,
    by_default: bool = False,
) -> None:
    """Feed batches in training mode; after each: output, running_mean, count, x intact.

    ``dtype``: x's dtype; by default torch's default dtype, the one running_mean is made
    in (float32, unless the notebook changed it with torch.set_default_dtype).
    ``by_default``: the module was built without a momentum (after a call with one passed).
    """
    dtype = dtype or torch.get_default_dtype()
    expected_mean = torch.zeros(num_features, dtype=torch.float64)
    for k, n in enumerate(batch_sizes, start=1):
        x = (torch.randn(n, num_features) * 2 + 3).to(dtype)
        if device is not None:
            x = x.to(device)
        x_before = x.clone()
        previous = _buffers(t, layer, call).get("running_mean")
        previous = previous.detach().clone() if isinstance(previous, torch.Tensor) else None
        y = t.call(layer, x, what=f"{call}(x)", hints=_SHAPE_HINTS)
        if not equal(x, x_before):
            t.fail("forward changed its input x in place", hint=_IN_PLACE_HINT)
        y = t.expect_tensor(y, what="the output")
        batch_mean = x_before.mean(0)
        buffers = _buffers(t, layer, call)
        missing = [name for name in _RUNNING if name not in buffers]
        if missing:
            t.fail(
                f"after a training step `{missing[0]}` is no longer a buffer",
                got=f"buffers {sorted(buffers) or 'none'}",
                hint="Update the buffer in place or assign a tensor to the same name "
                "(self.running_mean = ...); do not delete it or assign something else.",
            )
        moved = [name for name in _RUNNING if buffers[name].device != x.device]
        if moved:
            t.fail(
                f"after a training step `{moved[0]}` is no longer on the input's device",
                expected=str(x.device),
                got=str(buffers[moved[0]].device),
                hint="Update the buffers in place (self.num_batches_tracked += 1) or compute "
                "the new value from the old one: torch.tensor(...) makes a new tensor on the "
                "CPU, wherever .to(device) put the module.",
            )
        running_mean = buffers["running_mean"].detach()
        updated = (1 - momentum) * expected_mean + momentum * batch_mean.double().cpu()
        wrong_mean = (
            "In training mode subtract the batch's own mean, x.mean(0); running_mean is for "
            "eval mode."
        )
        diagnoses = [
            (x_before - updated.to(dtype=x.dtype, device=x.device), wrong_mean),
            (
                x_before - x_before.mean(),
                "x.mean() is one number, the mean of every value in the batch: centre each "
                "feature by its own mean over the batch, x.mean(0) (shape (num_features,)).",
            ),
        ]
        if previous is not None and tuple(previous.shape) == (num_features,):
            diagnoses.append((x_before - previous.to(x.dtype), wrong_mean))
        t.expect_close(
            y,
            x_before - batch_mean,
            what=f"the output of {call}(x) in training mode (batch {k})",
            hint="In training mode return x - x.mean(0).",
            diagnoses=diagnoses,
            rtol=1e-5,
            atol=1e-5,
        )
        if tuple(running_mean.shape) != (num_features,):
            t.fail(
                f"running_mean changed shape in training mode (batch {k} of {call})",
                expected=shape_str((num_features,)),
                got=shape_str(running_mean.shape),
                hint="Keep running_mean of shape (num_features,): update it with x.mean(0), "
                "without keepdim=True (that mean has shape (1, num_features)).",
            )
        like = {"dtype": running_mean.dtype, "device": running_mean.device}
        expected = updated.to(**like)
        swapped = momentum * expected_mean + (1 - momentum) * batch_mean.double().cpu()
        not_moved = (
            "running_mean did not move towards the batch mean: in training mode update it in "
            "forward with momentum * x.mean(0), the mean of the input x (the centred "
            "output's mean is 0), in place under torch.no_grad() or by assigning a new "
            "tensor to self.running_mean."
        )
        diagnoses = [
            (expected_mean.to(**like), not_moved),
            ((1 - momentum) * expected_mean.to(**like), not_moved),  # the output's mean, 0
        ]
        implied = _implied_momentum(running_mean, expected_mean, batch_mean)
        if by_default and implied is not None and abs(implied - momentum) > 1e-4:
            # The update is right with a momentum given (an earlier probe): the default differs.
            moved = (1 - implied) * expected_mean + implied * batch_mean.double().cpu()
            diagnoses.append(
                (
                    moved.to(**like),
                    f"RunningMean({num_features}) updated with momentum {implied:.4g}: the "
                    "default must be 0.1, def __init__(self, num_features, momentum=0.1) "
                    "(BatchNorm's convention: momentum weighs the new batch).",
                )
            )
        diagnoses.append(
            (
                swapped.to(**like),
                "momentum and 1 - momentum are swapped: momentum weighs the new batch, "
                "(1 - momentum) * running_mean + momentum * x.mean(0).",
            )
        )
        if momentum != 0.1:
            default = 0.9 * expected_mean + 0.1 * batch_mean.double().cpu()
            diagnoses.append(
                (
                    default.to(**like),
                    f"The update used momentum 0.1, not the {momentum} given: keep the "
                    "constructor's argument (self.momentum = momentum) and use it in forward.",
                )
            )
        t.expect_close(
            running_mean,
            expected,
            what=f"running_mean after batch {k} of {call}",
            hint="running_mean <- (1 - momentum) * running_mean + momentum * x.mean(0), "
            "updated in forward when self.training is True.",
            diagnoses=diagnoses,
            rtol=1e-5,
            atol=1e-6,
        )
        count = buffers["num_batches_tracked"]
        if count.dtype != torch.int64 or tuple(count.shape) != () or int(count) != k:
            t.fail(
                f"num_batches_tracked is wrong after {k} training batch{'es' if k > 1 else ''}",
                expected=f"tensor({k}), int64, shape ()",
                got=f"tensor({_count_text(count)}), {count.dtype}, shape {shape_str(count.shape)}",
                hint="Add 1 to num_batches_tracked on every training call "
                "(self.num_batches_tracked += 1 keeps it an int64 tensor)."
                if count.dtype == torch.int64
                else "Keep num_batches_tracked int64: add the integer 1, not 1.0.",
            )
        expected_mean = updated


def _implied_momentum(
    got: torch.Tensor, previous: torch.Tensor, batch_mean: torch.Tensor
) -> float | None:
    """The m with got = (1 - m) * previous + m * batch_mean (first feature), if finite."""
    step = float(batch_mean.double().cpu()[0] - previous[0])
    if got.numel() == 0 or got.shape != previous.shape or abs(step) < 1e-3:
        return None
    implied = float(got.double().cpu()[0] - previous[0]) / step
    return round(implied, 4) if 0 < implied < 1 else None


def _count_text(count: torch.Tensor) -> str:
    values = count.detach().reshape(-1)[:3].tolist()
    return str(values[0]) if count.dim() == 0 else str(values)


# -- 03.causal_mask ---------------------------------------------------------------------------

_MASK_HINT = (
    "Build it once in __init__: torch.ones(max_len, max_len, dtype=torch.bool).triu(1), "
    "True strictly above the diagonal."
)
_SLICE_HINT = (
    "Slice the mask to the scores' size: self.mask[:T, :T] with T = scores.shape[-1] "
    "(scores may be shorter than max_len)."
)


def _causal(size: int) -> torch.Tensor:
    return torch.ones(size, size, dtype=torch.bool).triu(1)


@task(
    "03.causal_mask",
    title="Causal mask in a non-persistent buffer",
    names=["CausalMask"],
    notebook=NOTEBOOK,
)
def check_causal_mask(t: Checker) -> None:
    CausalMask = t.module_class("CausalMask")

    with t.probe("CausalMask(5) constructs on the CPU and has no parameters"):
        layer = t.build(CausalMask, 5, what="CausalMask(5)", hints=_CONSTRUCT_HINTS)
        t.expect_no_parameters(
            layer,
            what="CausalMask(5)",
            hint="A mask is not learned: keep it with self.register_buffer(..., "
            "persistent=False), not nn.Parameter.",
        )

    with t.probe("a bool (5, 5) buffer, True strictly above the diagonal"):
        name, _ = _find_mask(t, layer, 5)

    with t.probe("the mask is not in state_dict() (persistent=False)"):
        keys = list(t.call(layer.state_dict, what="CausalMask(5).state_dict()"))
        if name in keys:
            t.fail(
                f"the mask buffer `{name}` is in state_dict()",
                expected="an empty state_dict",
                got=", ".join(keys),
                hint="Register it with self.register_buffer(name, mask, persistent=False): "
                "it is rebuilt from max_len, so it need not be saved.",
            )

    cases = [
        (5, (5, 5), torch.float32),
        (5, (3, 3), torch.float32),
        (6, (2, 4, 4), torch.float32),
        (4, (2, 3, 4, 4), torch.float64),
        (8, (2, 2, 5, 5), torch.float32),
        (3, (1, 1), torch.float32),
    ]
    for max_len, shape, dtype in cases:
        dtype_text = "" if dtype == torch.float32 else f", {str(dtype).replace('torch.', '')}"
        with t.probe(f"CausalMask({max_len}) on scores of shape {shape_str(shape)}{dtype_text}"):
            layer = t.call(CausalMask, max_len, what=f"CausalMask({max_len})")
            _expect_masked(t, layer, max_len, torch.randn(shape, dtype=dtype))

    with t.probe("the output carries gradients back to the unmasked scores"):
        layer = t.call(CausalMask, 5, what="CausalMask(5)")
        scores = torch.randn(2, 4, 4, requires_grad=True)
        out = t.expect_tensor(
            t.call(layer, scores, what="CausalMask(5)(scores)"), what="the output"
        )
        keep = ~_causal(4)
        if out.shape != scores.shape:
            t.fail(
                "the output has the wrong shape",
                expected=shape_str(scores.shape),
                got=shape_str(out.shape),
                hint="Return a tensor of the scores' shape.",
            )
        if not out.requires_grad:
            t.fail(
                "the output does not carry gradients to scores",
                expected="out.requires_grad == True for scores with requires_grad=True",
                got="out.requires_grad == False",
                hint="The mask sits inside a model that is trained: do not detach the scores "
                "(scores.detach(), scores.data, torch.no_grad() in forward); "
                "scores.masked_fill(mask, float('-inf')) keeps the graph.",
            )
        weights = torch.randn(2, int(keep.sum()))
        t.call(
            lambda: (out[..., keep] * weights).sum().backward(),
            what="(output[unmasked] * w).sum().backward()",
        )
        expected_grad = torch.zeros(2, 4, 4)
        expected_grad[..., keep] = weights
        grad = scores.grad if scores.grad is not None else torch.zeros_like(scores)
        t.expect_close(
            grad,
            expected_grad,
            what="scores.grad after (output[unmasked] * w).sum().backward()",
            hint="Each unmasked output is the score itself (gradient 1), each masked one a "
            "constant -inf (gradient 0): return scores.masked_fill(mask, float('-inf')).",
        )

    with t.probe("forward uses the registered mask buffer (the one .to(device) moves)"):
        layer = t.call(CausalMask, 6, what="CausalMask(6)")
        name, mask = _find_mask(t, layer, 6)
        owner_name, _, attribute = name.rpartition(".")
        owner = layer.get_submodule(owner_name) if owner_name else layer
        setattr(owner, attribute, torch.zeros_like(mask))  # this instance now masks nothing
        scores = torch.randn(2, 4, 4)
        out = t.expect_tensor(
            t.call(layer, scores, what="CausalMask(6)(scores), its buffer set to all False"),
            what="the output",
        )
        if out.shape != scores.shape or not equal(out.detach(), scores):
            t.fail(
                "forward does not read the mask buffer",
                expected="with the buffer set to all False, the scores unchanged",
                got="masked positions anyway",
                hint="Use the registered buffer in forward (self.mask[:T, :T]) instead of "
                "building a mask on every call: the buffer is built once, and .to(device) "
                "moves it.",
            )

    with t.probe(
        "forward makes no tensor on the CPU alone (so the verdict is the same on a laptop "
        "and on a GPU machine)"
    ):
        layer = t.call(CausalMask, 6, what="CausalMask(6)")
        _expect_stays_on_device(
            t,
            layer,
            torch.randn(2, 4, 4),
            "CausalMask(6)(scores)",
            "torch.ones(...) / torch.tensor(...) without device=, or .cpu()",
            _MASK_CPU_FIX,
        )

    with t.probe("works on the course's device, get_device()"):
        device = get_device()
        layer = t.call(CausalMask, 6, what="CausalMask(6)")
        t.call(layer.to, device, what="CausalMask(6).to(device)")
        name, mask = _find_mask(t, layer, 6)
        if mask.device.type != device.type:
            t.fail(
                "the mask did not follow .to(device)",
                hint="Register the mask with self.register_buffer(...).",
            )
        _expect_masked(t, layer, 6, torch.randn(3, 5, 5).to(device))


def _find_mask(t: Checker, layer: nn.Module, max_len: int) -> tuple[str, torch.Tensor]:
    call = f"CausalMask({max_len})"
    buffers = _buffers(t, layer, call)
    if not buffers:
        plain = plain_tensor_attributes(layer)
        if plain:
            t.fail(
                f"`{plain[0]}` is a plain tensor attribute, not a buffer",
                got="no buffers",
                hint=f"Register it with self.register_buffer({plain[0]!r}, mask, "
                "persistent=False): a plain tensor does not follow .to(device).",
            )
        t.fail(f"{call} has no buffer", got="no buffers", hint=_MASK_HINT)
    square = {n: b for n, b in buffers.items() if tuple(b.shape) == (max_len, max_len)}
    if not square:
        t.fail(
            f"{call} has no buffer of shape {shape_str((max_len, max_len))}",
            got=", ".join(f"{n} {shape_str(b.shape)}" for n, b in buffers.items()),
            hint="The mask covers every (query, key) pair: shape (max_len, max_len). " + _MASK_HINT,
        )
    # The contract asks for a mask buffer, not for it alone: among several square bool
    # buffers (an `allowed` one next to it, say), the one with the causal pattern is the
    # mask; without one, the first bool buffer is the learner's attempt at it.
    expected = _causal(max_len)
    bools = [(n, b) for n, b in square.items() if b.dtype == torch.bool]
    causal = [(n, b) for n, b in bools if b.device.type != "meta" and equal(b.cpu(), expected)]
    name, mask = next(iter(causal + bools), None) or next(iter(square.items()))
    if mask.dtype != torch.bool:
        t.fail(
            f"the mask buffer `{name}` is not bool",
            expected="torch.bool",
            got=str(mask.dtype),
            hint="Keep a bool mask, True where a score is masked: "
            "torch.ones(max_len, max_len, dtype=torch.bool).triu(1).",
        )
    got = mask.detach()
    if got.device.type != "meta" and not equal(got.cpu(), expected):
        wrong = [
            (
                torch.ones(max_len, max_len, dtype=torch.bool).triu(0),
                "Strictly above the diagonal: triu(diagonal=1). Position i may attend to "
                "itself, so the diagonal stays unmasked.",
            ),
            (
                ~expected,
                "The mask is inverted: True must mark the masked positions, the future "
                "keys j > i (upper triangle).",
            ),
            (
                expected.T,
                "True marks the future, key j > query i: the upper triangle (triu), not the "
                "lower one (tril).",
            ),
        ]
        hint = next((h for w, h in wrong if equal(got.cpu(), w)), _MASK_HINT)
        t.fail(
            f"the mask buffer `{name}` has the wrong pattern",
            expected=_rows(expected),
            got=_rows(got.cpu()),
            hint=hint,
        )
    return name, mask


def _rows(mask: torch.Tensor) -> str:
    rows = ["".join("1" if v else "0" for v in row) for row in mask[:4].tolist()]
    return " ".join(rows) + (" ..." if mask.shape[0] > 4 else "") + " (rows, 1 = True)"


def _expect_masked(t: Checker, layer: nn.Module, max_len: int, scores: torch.Tensor) -> None:
    size = scores.shape[-1]
    call = f"CausalMask({max_len})(scores)"
    before = scores.clone()
    masks = {
        n: b.detach().clone()
        for n, b in _buffers(t, layer, f"CausalMask({max_len})").items()
        if b.dtype == torch.bool
    }
    hints = [("size of tensor", _SLICE_HINT)] if size < max_len else []
    out = t.call(layer, scores, what=call, hints=hints)
    if not equal(scores, before):
        t.fail(
            "forward changed its input scores in place",
            hint="Return a new tensor: scores.masked_fill(mask, float('-inf')), without the "
            "underscore, or fill a copy, out = scores.clone(). masked_fill_ overwrites the "
            "caller's scores, and so does out[...] = ... when out = scores (the same tensor).",
        )
    buffers = _buffers(t, layer, f"CausalMask({max_len})")
    changed = [n for n, b in masks.items() if not _same(buffers.get(n), b)]
    if changed:
        t.fail(
            f"forward changed the mask buffer `{changed[0]}`",
            expected=f"{shape_str(masks[changed[0]].shape)}, as built in __init__",
            got=describe(buffers.get(changed[0])),
            hint="forward must only read the mask: slice it into a local variable, "
            "mask = self.mask[:T, :T]. Assigning self.mask = ... (or changing it in place) "
            "alters it for every later call, such as one with a longer sequence.",
        )
    out = t.expect_tensor(out, what="the output")
    mask = _causal(size).to(scores.device)
    expected = before.masked_fill(mask, float("-inf"))
    if (
        out.shape == expected.shape
        and out.dtype.is_floating_point
        and bool(torch.isnan(out.detach()).any())
        and not bool(torch.isnan(expected).any())
    ):
        t.fail(
            "the output holds NaN",
            expected="the scores below and on the diagonal, -inf above it",
            got=preview(out),
            hint="0 * -inf is NaN: adding mask * float('-inf') (or multiplying by it) "
            "spoils the unmasked scores too. Fill instead: "
            "scores.masked_fill(mask, float('-inf')).",
        )
    if out.shape == expected.shape and out.dtype == expected.dtype and bool(mask.any()):
        masked = out.detach()[..., mask]
        same_elsewhere = equal(out.detach()[..., ~mask], before[..., ~mask])
        if same_elsewhere and bool(torch.isfinite(masked).all()) and bool((masked < -1e3).all()):
            t.fail(
                "masked positions hold a large negative number, not -inf",
                expected="-inf above the diagonal",
                got=f"{masked.reshape(-1)[0].item():.4g}",
                hint="Fill with float('-inf'): softmax then gives exactly 0 there; a large "
                "negative number such as -1e9 is only nearly 0 (and overflows in float16).",
            )
    diagnoses = [
        (
            before.masked_fill(torch.ones_like(mask).triu(0), float("-inf")),
            "The diagonal is masked too: use triu(diagonal=1); position i may attend to itself.",
        ),
        (
            before.masked_fill(~mask, float("-inf")),
            "-inf and the scores are swapped: -inf must go where the mask is True. "
            "torch.where(cond, a, b) takes a where cond is True: "
            "torch.where(mask, float('-inf'), scores).",
        ),
        (
            before.masked_fill(mask, 0.0),
            "The masked positions hold 0, not -inf: fill them with float('-inf'). Softmax "
            "gives a score of 0 a weight like any other; only -inf gets weight 0.",
        ),
        (
            expected.softmax(-1),
            "Return the masked scores themselves, -inf included: the softmax comes after "
            "this module.",
        ),
    ]
    if size < max_len:
        offset = max_len - size
        for wrong in (
            _causal(max_len)[:size, offset:],  # mask[:T, -T:]
            _causal(max_len)[offset:, :size],  # mask[-T:, :T]
        ):
            diagnoses.append(
                (before.masked_fill(wrong.to(scores.device), float("-inf")), _SLICE_HINT)
            )
    t.expect_close(
        out,
        expected,
        what=f"{call} for scores of shape {shape_str(scores.shape)}",
        hint="Return scores.masked_fill(self.mask[:T, :T], float('-inf')): -inf strictly "
        "above the diagonal, the scores elsewhere.",
        diagnoses=diagnoses,
        rtol=0,
        atol=0,
    )


# -- 03.freeze ---------------------------------------------------------------------------------


class _FreezeNet(nn.Module):
    """Names chosen to trap prefix mistakes: fc1 / fc10, fc1 / block.fc1, a root parameter."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.fc10 = nn.Linear(4, 4)
        self.block = nn.Sequential(
            OrderedDict(fc1=nn.Linear(4, 4), act=nn.ReLU(), fc2=nn.Linear(4, 2))
        )
        self.scale = nn.Parameter(torch.ones(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(self.fc10(self.bn(self.fc1(x)))) * self.scale


def _matches(name: str, prefixes: list[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@task("03.freeze", title="Freeze parameters by name prefix", names=["freeze"], notebook=NOTEBOOK)
def check_freeze(t: Checker) -> None:
    freeze = t.function("freeze")
    cases = [
        (["fc1"], (), ""),
        (["scale", "fc10"], (), ""),
        (["block.fc1", "block"], (), ""),
        (["block.fc2.bias", "bn"], (), ""),
        (["fc10", "head"], (), ": 'head' matches nothing and is ignored"),
        (["head", "fc"], (), ": no prefix matches, nothing is frozen"),
        (["fc1"], ("bn", "block.fc2"), ": they stay frozen"),
        (["bn", "block"], ("bn", "block.fc2"), ": their names are returned too"),
    ]
    for prefixes, already, rule in cases:
        title = f"freeze(model, {prefixes!r})"
        if already:
            title += f" with {', '.join(already)} frozen before"
        with t.probe(title + rule):
            _expect_freeze(t, freeze, prefixes, already)

    with t.probe("works on the course's device, get_device()"):
        _expect_freeze(t, freeze, ["block", "fc1"], (), device=get_device())


def _expect_freeze(
    t: Checker,
    freeze: Any,
    prefixes: list[str],
    already: tuple[str, ...],
    device: torch.device | None = None,
) -> None:
    model = _FreezeNet()
    if device is not None:
        model.to(device)
    for name in already:
        model.get_submodule(name).requires_grad_(False)
    params = dict(model.named_parameters())
    order = list(params)
    flags = {n: p.requires_grad for n, p in params.items()}
    values = {n: p.detach().clone() for n, p in params.items()}
    pointers = {n: p.data_ptr() for n, p in params.items()}
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    expected = [n for n in order if _matches(n, prefixes)]
    naive = [n for n in order if any(n.startswith(p) for p in prefixes)]

    unmatched = [p for p in prefixes if not any(_matches(n, [p]) for n in order)]
    modes = {n: m.training for n, m in model.named_modules()}
    given = list(prefixes)  # the caller's list, which freeze must leave as it is
    try:
        result = t.call(
            freeze,
            model,
            given,
            what=f"freeze(model, {prefixes!r})",
            hints=[*_LOOKUP_HINTS, *_ONE_STRING_HINTS],
        )
    except Fail as failure:
        known = {h for _, h in (*_LOOKUP_HINTS, *_ONE_STRING_HINTS)}
        if not unmatched or failure.hint in known:
            raise
        raise Fail(
            failure.headline,
            probe=failure.probe,
            got=failure.got,
            facts=failure.facts,
            hint=f"A prefix that matches nothing ({unmatched[0]!r} here) is ignored: do not "
            "raise for it, freeze what the other prefixes match (possibly nothing) and "
            "return those names.",
        ) from None

    now = dict(model.named_parameters())
    replaced = [n for n in order if now.get(n) is not params[n]]
    if replaced:
        t.fail(
            f"freeze replaced the parameter `{replaced[0]}`",
            hint="Freeze in place with param.requires_grad_(False): keep the same Parameter "
            "objects (an optimizer holds them).",
        )
    touched = [
        n
        for n in order
        if params[n].data_ptr() != pointers[n] or not equal(params[n].detach(), values[n])
    ]
    if touched:
        t.fail(
            f"freeze changed the data of `{touched[0]}`",
            hint="Do not touch param.data: freezing only sets requires_grad, "
            "param.requires_grad_(False).",
        )
    if any(not equal(b, buffers[n]) for n, b in model.named_buffers()):
        t.fail("freeze changed a buffer", hint="Touch only the parameters' requires_grad.")
    switched = [n for n, m in model.named_modules() if m.training != modes.get(n, m.training)]
    if switched:
        t.fail(
            f"freeze switched `{switched[0] or 'the model'}` to "
            f"{'training' if model.get_submodule(switched[0]).training else 'eval'} mode",
            expected="every module in the mode it was in (training)",
            hint="Freezing is not eval mode: requires_grad_(False) stops the optimizer from "
            "changing the parameters, while .eval() changes what BatchNorm and Dropout "
            "compute. Leave the modules' mode alone.",
        )
    if given != list(prefixes):
        t.fail(
            "freeze changed the list of prefixes it was given",
            expected=repr(list(prefixes)),
            got=repr(given),
            hint="Do not change the caller's list (remove, append, sort, prefixes[i] = ...): "
            "read it, or work on a copy, list(prefixes).",
        )

    want_flags = {n: flags[n] and n not in expected for n in order}
    got_flags = {n: params[n].requires_grad for n in order}
    if got_flags != want_flags:
        frozen = [n for n in order if not got_flags[n]]
        not_frozen = [n for n in expected if got_flags[n]]
        thawed = [n for n in order if got_flags[n] and not flags[n]]
        extra = [n for n in order if not got_flags[n] and want_flags[n]]
        if thawed:
            hint = (
                "Touch only the matching parameters: do not set requires_grad=True on the "
                "others (a parameter frozen before must stay frozen)."
            )
        elif not_frozen and got_flags == flags:
            hint = (
                "No parameter was frozen: loop over model.named_parameters() (it goes into "
                "submodules) and set the flag on the Parameter itself, "
                "param.requires_grad_(False): param.data and param.detach() are other "
                "tensors, their flag is not the parameter's."
            )
        elif not_frozen and any(n in prefixes for n in not_frozen):
            named = next(n for n in not_frozen if n in prefixes)
            hint = (
                f"A prefix can name a single parameter ({named!r}): freeze a name that "
                "equals a prefix, as well as the names that start with prefix + '.'."
            )
        elif not_frozen:
            hint = (
                "Some matching parameters were not frozen: compare each whole qualified name "
                "from model.named_parameters() ('block.fc1.weight') with the prefixes, "
                "name == prefix or name.startswith(prefix + '.')."
            )
        elif set(extra) <= set(naive) and naive != expected:
            hint = _NAIVE_HINT
        elif set(extra) <= {n for n in order if any(p in n for p in prefixes)}:
            hint = (
                "`prefix in name` also matches in the middle of a name ('fc1' is in "
                "'block.fc1.weight' and 'fc10.weight'): match from the start, name == "
                "prefix or name.startswith(prefix + '.')."
            )
        elif all(not v for v in got_flags.values()):
            hint = (
                "Freeze only the parameters that match a prefix (model.requires_grad_(False) "
                "freezes everything)."
            )
        else:
            hint = (
                "Freeze exactly the parameters whose name equals a prefix or starts with "
                "prefix + '.'."
            )
        t.fail(
            "the wrong parameters have requires_grad=False",
            expected=_names([n for n in order if not want_flags[n]]),
            got=_names(frozen),
            hint=hint,
        )

    if result is None:
        t.fail(
            "freeze returned None",
            expected=_names(expected),
            hint="Return the list of the names you froze.",
        )
    if isinstance(result, (list, tuple)) and any(isinstance(r, torch.Tensor) for r in result):
        t.fail(
            "freeze returned tensors, not names",
            expected=_names(expected),
            got=describe(result),
            hint="Return the names (strings such as 'fc1.weight'), not the parameters.",
        )
    if not isinstance(result, list) or not all(isinstance(r, str) for r in result):
        t.fail(
            "freeze did not return a list of names",
            expected=f"a list: {_names(expected)}",
            got=describe(result),
            hint="Collect the names in a list (names.append(name)) and return it.",
        )
    if result != expected:
        if sorted(result) == sorted(expected):
            hint = (
                "Return the names in named_parameters() order: loop over "
                "model.named_parameters() and test each name against all prefixes."
            )
        elif sorted(set(result)) == sorted(expected):
            hint = "Return each name once, in named_parameters() order."
        elif result == naive:
            hint = _NAIVE_HINT
        elif set(result) - set(order) and set(result) - set(order) <= set(buffers):
            hint = (
                "Return parameter names only: state_dict() also holds buffers "
                "(bn.running_mean), which have no requires_grad to set; loop over "
                "model.named_parameters()."
            )
        elif result == [n for n in expected if flags[n]]:
            hint = (
                "Return every matching name, including those of parameters frozen before "
                "this call (requires_grad already False): the list names what matches the "
                "prefixes, not only what this call changed."
            )
        elif result == [n for n in order if not params[n].requires_grad] and already:
            hint = (
                "Return the names that match a prefix, not every parameter with "
                "requires_grad=False: some were frozen before this call."
            )
        else:
            hint = "Return the qualified names you froze, e.g. 'fc1.weight'."
        t.fail(
            "freeze returned the wrong names",
            expected=_names(expected),
            got=_names(result),
            hint=hint,
        )


_LOOKUP_HINTS = [
    (
        needle,
        "A prefix can name a module ('fc1'), a single parameter ('scale') or nothing in "
        "the model ('head'): loop over model.named_parameters() and compare each name "
        "with the prefixes instead of looking them up with get_submodule / get_parameter.",
    )
    for needle in ("is not an nn.Module", "is not an nn.Parameter", "has no attribute `")
]

# `prefixes` used as if it were one string: str.startswith(list), list + ".", `list in
# str`, re.match(list, ...) all raise TypeError.
_ONE_STRING_HINTS = [
    (
        "startswith first arg must be str or a tuple of str",
        "`prefixes` is a list of prefixes, not one string, and str.startswith does not take "
        "a list: test each prefix, any(name == p or name.startswith(p + '.') for p in "
        "prefixes).",
    ),
    (
        'can only concatenate list (not "str") to list',
        "`prefixes` is a list of prefixes, not one string: prefixes + '.' adds to the list. "
        "Loop over it and build prefix + '.' for each prefix.",
    ),
    (
        "requires string as left operand, not list",
        "`prefixes` is a list of prefixes, not one string: `prefixes in name` asks whether "
        "the list is a substring. Loop over the prefixes and compare each with the name.",
    ),
    (
        "string index out of range",
        "A name can equal a prefix (such as 'scale'): then name[len(prefix)] is past the end "
        "of the name. Test name == prefix first, or use name.startswith(prefix + '.').",
    ),
    (
        "first argument must be string or compiled pattern",
        "`prefixes` is a list of prefixes, not one string: re.match needs one pattern. Loop "
        "over the prefixes and compare each with the name.",
    ),
]

_NAIVE_HINT = (
    "A prefix names a whole module or parameter: 'fc1' must freeze 'fc1.weight' but not "
    "'fc10.weight'. Match name == prefix or name.startswith(prefix + '.')."
)


def _names(names: list[str]) -> str:
    return "[" + ", ".join(repr(n) for n in names) + "]"


# -- 03.checkpoint -----------------------------------------------------------------------------


class _CheckpointNet(nn.Module):
    """A model with parameters and buffers (BatchNorm's running statistics)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.bn = nn.BatchNorm1d(8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.bn(self.fc1(x))))


def _train_step(model: nn.Module, optimizer: torch.optim.Optimizer, x, y) -> torch.Tensor:
    model.train()
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.detach()


# label -> (the optimizer that trains and saves, the fresh one the checkpoint is loaded
# into). The fresh one has other hyperparameters, learning rate included: only a restored
# param_groups makes the two equal.
_OPTIMIZERS = {
    "Adam": (
        lambda params: torch.optim.Adam(params, lr=0.01),
        lambda params: torch.optim.Adam(params, lr=0.5, betas=(0.5, 0.6), weight_decay=0.1),
    ),
    "SGD with momentum": (
        lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9),
        lambda params: torch.optim.SGD(params, lr=0.7, momentum=0.2, weight_decay=0.05),
    ),
}


@task(
    "03.checkpoint",
    title="Save and load a training checkpoint",
    names=["save_checkpoint", "load_checkpoint"],
    notebook=NOTEBOOK,
)
def check_checkpoint(t: Checker) -> None:
    save = t.function("save_checkpoint")
    load = t.function("load_checkpoint")
    for (label, makers), epoch in zip(_OPTIMIZERS.items(), (7, 12), strict=True):
        _expect_round_trip(t, save, load, label, makers, epoch, None)
    with t.probe("load_checkpoint refuses a file whose unpickling would run code"):
        _expect_refusal(t, load)
    with t.probe("works on the course's device, get_device()"):
        _expect_round_trip(t, save, load, "Adam", _OPTIMIZERS["Adam"], 3, get_device())


def _expect_round_trip(
    t: Checker, save: Any, load: Any, label: str, makers: Any, epoch: int, device
) -> None:
    where = device or torch.device("cpu")
    suffix = f" ({label}, on the course's device)" if device is not None else f" ({label})"
    make, make_fresh = makers

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "checkpoint.pt")
        with t.probe(f"save_checkpoint writes one file, at path, and nothing else{suffix}"):
            # A model with buffers and an optimizer with state, two steps into training.
            x, y = torch.randn(16, 4).to(where), torch.randn(16, 3).to(where)
            model = _CheckpointNet().to(where)
            optimizer = make(model.parameters())
            for _ in range(2):
                _train_step(model, optimizer, x, y)
            model_state = copy.deepcopy(model.state_dict())
            optimizer_state = copy.deepcopy(optimizer.state_dict())
            # Run from an empty working folder, so a file written next to the notebook
            # (a relative path such as "last.pt") shows up as well.
            with tempfile.TemporaryDirectory() as elsewhere, _working_folder(elsewhere):
                storage = storage_places(model)
                with CopyOnMove(model):
                    t.call(save, path, model, optimizer, epoch, what="save_checkpoint(path, ...)")
                moved = storage_places(model) != storage
                stray = sorted(os.listdir(elsewhere))
            if stray:
                t.fail(
                    "save_checkpoint wrote a file in the working folder too",
                    expected="one file, at path",
                    got=f"also wrote: {', '.join(stray)}",
                    hint="Write only to the path you are given: no second copy such as "
                    "torch.save(checkpoint, 'last.pt') next to the notebook.",
                )
            written = sorted(os.listdir(folder))
            if not os.path.isfile(path):
                t.fail(
                    "save_checkpoint wrote no file at `path`",
                    got=f"files in the folder: {', '.join(written) or 'none'}",
                    hint="Write to the path you are given: torch.save(checkpoint, path).",
                )
            if written != ["checkpoint.pt"]:
                t.fail(
                    "save_checkpoint wrote more than the file at `path`",
                    expected="checkpoint.pt alone in the folder",
                    got=f"files in the folder: {', '.join(written)}",
                    hint="save_checkpoint writes one file, at path, and nothing else: put the "
                    "model's state_dict, the optimizer's state_dict and the epoch in one dict "
                    "and torch.save it to path once.",
                )
            _expect_unchanged_by_save(t, model, optimizer, model_state, optimizer_state)
            if moved:
                t.fail(
                    "save_checkpoint moved or replaced the model's tensors",
                    got="the model's parameters or buffers now hold other storage "
                    "(model.cpu(), model.to('cpu'), an assignment to .data)",
                    hint="Saving must leave the model where it is: model.cpu().state_dict() "
                    "moves the model itself (nothing to see on a laptop, the model leaves "
                    "the GPU on a GPU machine). For CPU copies save "
                    "{k: v.cpu() for k, v in model.state_dict().items()}.",
                )

        with t.probe(f"the file loads with torch.load(path, weights_only=True){suffix}"):
            contents = _load_weights_only(t, path)

        fresh = _CheckpointNet().to(where)  # other initial values than model
        fresh_optimizer = make_fresh(fresh.parameters())  # other hyperparameters too
        fresh_params = dict(fresh.named_parameters())
        fresh_state = copy.deepcopy(fresh.state_dict())
        with t.probe(
            "load_checkpoint restores the model (the same Parameter objects), the optimizer "
            f"(state and param_groups) and the epoch{suffix}"
        ):
            mixed_up = (
                "Give each object its own saved state: "
                "model.load_state_dict(<the model's state_dict>) and "
                "optimizer.load_state_dict(<the optimizer's state_dict>)."
            )
            returned = t.call(
                load,
                path,
                fresh,
                fresh_optimizer,
                what="load_checkpoint(path, model, optimizer)",
                hints=[
                    ("Error(s) in loading state_dict", mixed_up),
                    ("'param_groups'", mixed_up),
                    (
                        "KeyError",
                        "load_checkpoint reads a key that save_checkpoint did not write: "
                        "use the same key names in both functions.",
                    ),
                ],
            )
            _expect_same_parameters(t, fresh, fresh_params)
            _expect_model_state(t, fresh, model_state, fresh_state)
            _expect_optimizer_state(t, fresh, fresh_optimizer, optimizer_state, contents)
            if isinstance(returned, bool) or not isinstance(returned, int) or returned != epoch:
                t.fail(
                    "load_checkpoint did not return the saved epoch",
                    expected=str(epoch),
                    got=describe(returned),
                    hint="Return the saved epoch itself, not the next one: the caller adds 1 "
                    "to resume."
                    if isinstance(returned, int)
                    and not isinstance(returned, bool)
                    and returned == epoch + 1
                    else "Save the epoch in the checkpoint and return it (a Python int) "
                    "from load_checkpoint.",
                )

    with t.probe(f"one more training step gives the same result on both{suffix}"):
        loss = _train_step(model, optimizer, x, y)
        fresh_loss = t.call(
            _train_step, fresh, fresh_optimizer, x, y, what="a training step after loading"
        )
        hint = (
            "Restore everything a step depends on: model.state_dict() (parameters and "
            "buffers) and optimizer.state_dict()."
        )
        t.expect_close(fresh_loss, loss, what="the loss of the next step", hint=hint)
        got = dict(fresh.state_dict())
        for name, value in model.state_dict().items():
            t.expect_close(got[name], value, what=f"`{name}` after the next step", hint=hint)


@contextlib.contextmanager
def _working_folder(folder: str) -> Iterator[None]:
    """Run the body with ``folder`` as the working folder."""
    previous = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


# -- a file whose unpickling would run code ----------------------------------------------------
#
# The trap file pickles an object whose __reduce__ names _record_unpickling, a function of this
# module that only appends to a list. torch.load(..., weights_only=True) refuses the file
# before calling anything (the function is not on its allow-list); pickle.load, or a
# torch.load with weights_only set to False, would call it, and the check sees that it ran. So the
# check detects an unsafe load without ever running code it does not own, and what it owns
# is harmless by construction.

_TRAP_RUNS: list[str] = []


def _record_unpickling(token: str) -> dict[str, Any]:
    """Called only by an unsafe unpickling of the trap file: record that it ran."""
    _TRAP_RUNS.append(token)
    return {}


class _Trap:
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (_record_unpickling, ("the checkpoint's pickle ran code",))


def _expect_refusal(t: Checker, load: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "untrusted.pt")
        torch.save({"model": {}, "optimizer": {}, "epoch": 1, "extra": _Trap()}, path)
        model = _CheckpointNet()
        optimizer = _OPTIMIZERS["Adam"][0](model.parameters())
        _TRAP_RUNS.clear()
        raised = None
        # torch's allow-list of globals is the process's: what learner code adds to it
        # during the check (even this trap's function) is taken out again afterwards, and
        # the trap's function is never on it when the probe starts.
        allowed = list(torch.serialization.get_safe_globals())
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals([g for g in allowed if g is not _record_unpickling])
        try:
            load(path, model, optimizer)
        except NotImplementedError as exc:
            raise NotImplementedYet("load_checkpoint(path, model, optimizer)", str(exc)) from None
        except Exception as exc:  # a refusal is what we want; which exception is torch's choice
            raised = exc
        finally:
            torch.serialization.clear_safe_globals()
            torch.serialization.add_safe_globals(allowed)
        ran, _TRAP_RUNS[:] = bool(_TRAP_RUNS), []
    if ran:
        t.fail(
            "load_checkpoint ran code from the file",
            expected="torch.load refuses the file before calling anything",
            got="the file's pickle called a function while it loaded",
            hint="Load with torch.load(path, weights_only=True) (never weights_only=False, "
            "nor pickle.load): a pickle can call any function while it loads, and only "
            "weights_only=True refuses to.",
        )
    if raised is None:
        t.fail(
            "load_checkpoint returned for a file that weights_only=True refuses",
            expected="an exception (torch's UnpicklingError)",
            got="a normal return",
            hint="Let torch.load's error reach the caller: do not catch the UnpicklingError "
            "(a file that weights_only=True refuses is not to be used at all).",
        )


def _load_weights_only(t: Checker, path: str) -> Any:
    with open(path, "rb") as f:
        header = f.read(2)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
        found = re.search(r"Unsupported (?:global: GLOBAL \S+|operand \d+)", text)
        first = found.group(0) if found else (text.strip().splitlines() or [""])[0][:160]
        if header != b"PK":
            first = "the file is not in torch.save's format"
            hint = (
                "Save with torch.save, not pickle.dump: torch.load(..., weights_only=True) "
                "reads torch.save's format."
            )
        elif "Unsupported operand" in text:
            hint = (
                "Keep torch.save's default pickle protocol: with pickle_protocol=4 or more "
                "the file holds instructions that torch.load(..., weights_only=True) does "
                "not read (it expects the default, 2)."
            )
        elif "torch.torch_version.TorchVersion" in first:
            hint = (
                "torch.__version__ is not a plain str but a TorchVersion, a class that "
                "weights_only=True refuses to load: save str(torch.__version__), or leave "
                "it out."
            )
        else:
            hint = (
                "Save only state_dicts and plain values (dict, list, int, float, str, "
                "tensors): torch.save(model) or torch.save(optimizer) pickles the objects' "
                "classes, which weights_only=True refuses to load."
            )
        t.fail(
            "torch.load(path, weights_only=True) refuses the file",
            got=f"{type(exc).__name__}: {first}",
            hint=hint,
        )


def _has_optimizer_state(obj: Any, depth: int = 0) -> bool:
    """Whether ``obj`` (a loaded checkpoint) contains an optimizer's state_dict."""
    if depth > 4:
        return False
    if isinstance(obj, dict):
        if "state" in obj and "param_groups" in obj:
            return True
        return any(_has_optimizer_state(v, depth + 1) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(_has_optimizer_state(v, depth + 1) for v in obj)
    return False


def _expect_unchanged_by_save(
    t: Checker,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    model_state: dict[str, torch.Tensor],
    optimizer_state: dict[str, Any],
) -> None:
    """save_checkpoint must leave the model and the optimizer as they were."""
    now = dict(t.call(model.state_dict, what="model.state_dict() after saving"))
    for name, value in model_state.items():
        got = now.get(name)
        if (
            isinstance(got, torch.Tensor)
            and got.dtype == value.dtype
            and got.device == value.device
            and equal(got, value)
        ):
            continue
        t.fail(
            f"save_checkpoint changed the model's `{name}`",
            expected=f"{value.dtype} on {value.device}, the values before the call",
            got="missing"
            if not isinstance(got, torch.Tensor)
            else f"{got.dtype} on {got.device}"
            + (", other values" if (got.dtype, got.device) == (value.dtype, value.device) else ""),
            hint="Saving must leave the model as it is: model.half(), model.cpu() and "
            "model.to(...) convert or move the model itself, in place, and optimizer.step() "
            "trains it. Save model.state_dict() as it is (for CPU copies: "
            "{k: v.cpu() for k, v in model.state_dict().items()}).",
        )
    state = t.call(optimizer.state_dict, what="optimizer.state_dict() after saving")
    problem = _state_difference(state, optimizer_state)
    if problem is not None:
        t.fail(
            "save_checkpoint changed the optimizer",
            got=problem[1],
            hint="Saving must leave the optimizer as it is: save optimizer.state_dict() "
            "without stepping or changing the optimizer.",
        )


def _expect_model_state(
    t: Checker,
    fresh: nn.Module,
    saved: dict[str, torch.Tensor],
    initial: dict[str, torch.Tensor],
) -> None:
    buffers = {name for name, _ in fresh.named_buffers()}
    got = dict(fresh.state_dict())
    for name, value in saved.items():
        if equal(got[name], value):
            continue
        if name in buffers:
            hint = (
                "The buffers (BatchNorm's running statistics) were not restored: save and "
                "load model.state_dict(), which holds buffers as well as parameters."
            )
        else:
            hint = (
                "The parameters were not restored: load_checkpoint must call "
                "model.load_state_dict(...) on the model it is given."
            )
        own = name not in buffers and equal(got[name], initial[name])
        t.fail(
            f"after load_checkpoint the model's `{name}` differs from the saved one",
            got="the fresh model's own value" if own else None,
            hint=hint,
        )


def _expect_same_parameters(t: Checker, fresh: nn.Module, before: dict[str, torch.Tensor]) -> None:
    """The model's Parameter objects are the ones it had before the load."""
    now = dict(fresh.named_parameters())
    replaced = [name for name, param in before.items() if now.get(name) is not param]
    if replaced:
        t.fail(
            "load_checkpoint replaced the model's Parameter objects",
            expected="the same Parameter objects, holding the saved values",
            got=f"`{replaced[0]}` is a new object; an optimizer built earlier trains the old one",
            hint="Copy the values into the model's own parameters: "
            "model.load_state_dict(state) without assign=True (assign=True makes the "
            "model take new tensors, and the optimizer, built on the old ones, no longer "
            "trains the model).",
        )


def _expect_optimizer_state(
    t: Checker,
    fresh: nn.Module,
    optimizer: torch.optim.Optimizer,
    saved: dict[str, Any],
    contents: Any,
) -> None:
    params = [p for group in optimizer.param_groups for p in group["params"]]
    if not same_tensor_set(params, list(fresh.parameters())):
        t.fail(
            "the optimizer no longer holds the model's parameters",
            hint="Restore the optimizer with optimizer.load_state_dict(...): it keeps the "
            "parameters it was built with.",
        )
    got = t.call(optimizer.state_dict, what="optimizer.state_dict() after loading")
    problem = _state_difference(got, saved)
    if problem is None:
        return
    part, text = problem
    if part == "param_groups":
        hint = (
            "The optimizer's state was restored but not its param_groups (the learning "
            "rate and the other settings): save the whole optimizer.state_dict(), state "
            "AND param_groups, and restore it with optimizer.load_state_dict(...)."
        )
    elif not got["state"]:
        hint = (
            "Restore the optimizer you were given: optimizer.load_state_dict(...) (a new "
            "optimizer made inside load_checkpoint is thrown away)."
            if _has_optimizer_state(contents)
            else "Save optimizer.state_dict() in the checkpoint too: it holds the state a "
            "step depends on (momentum buffers, Adam's moment estimates and step count)."
        )
    else:
        hint = "Save optimizer.state_dict() and restore it with optimizer.load_state_dict(...)."
    t.fail(
        "the optimizer's state was not restored"
        if part == "state"
        else "the optimizer's param_groups were not restored",
        got=text,
        hint=hint,
    )


def _state_difference(got: dict[str, Any], saved: dict[str, Any]) -> tuple[str, str] | None:
    """Where an optimizer's state_dict differs from the saved one: ("state" or
    "param_groups", what differs), or None."""
    state, want = got.get("state", {}), saved["state"]
    if set(state) != set(want):
        return "state", f"state for {len(state)} parameters, expected {len(want)}"
    for index, entries in want.items():
        have = state[index]
        for key, value in entries.items():
            other = have.get(key)
            if isinstance(value, torch.Tensor):
                same = (
                    isinstance(other, torch.Tensor)
                    and other.shape == value.shape
                    and equal(other.detach().cpu().to(value.dtype), value.detach().cpu())
                )
            else:
                same = other == value
            if not same:
                return "state", f"state[{index}][{key!r}] differs from the saved one"
    groups = got.get("param_groups", [])
    if len(groups) != len(saved["param_groups"]):
        return "param_groups", "a different number of param_groups"
    for group, want_group in zip(groups, saved["param_groups"], strict=True):
        for key, value in want_group.items():
            if key != "params" and group.get(key) != value:
                return (
                    "param_groups",
                    f"param_groups setting {key!r} is {group.get(key)!r}, saved {value!r}",
                )
    return None


__all__ = ["check_causal_mask", "check_checkpoint", "check_freeze", "check_running_mean"]
