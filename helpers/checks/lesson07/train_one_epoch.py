"""The check of ``07.train_one_epoch``: one pass over a loader, a step per batch, the mean
loss per sample returned as a Python float.

Everything the learner's function is given is the check's own and records what happens:
the model (a ``Tap`` first, which sees its mode and a copy of each batch), a loss function
that keeps each loss and notices which one is backpropagated, and an SGD optimizer that
keeps, at each step, the parameters and their gradients. Before the call the model is in
eval mode and every parameter holds a stale gradient. Afterwards the gradient at each step
is compared with that batch's own gradient, computed by the check. The loader yields
batches of sizes 6, 6, 6, 2 (``Elsewhere`` tensors: they must be moved to ``device``), the
last one labelled with the classes the model finds least likely and the others with those
it finds most likely, so that a mean over batches differs from the mean over samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset, default_collate

from helpers.checks.core import Checker, describe, task
from helpers.checks.lesson07.common import (
    CPU,
    NOT_MOVED,
    NOTEBOOK,
    Elsewhere,
    Tap,
    call_on_cpu,
    close,
    elsewhere,
    fmt,
    is_real,
    real,
)

_cross_entropy = F.cross_entropy  # bound at import: learner code cannot change a verdict
_IN, _HIDDEN, _CLASSES = 4, 8, 3
_SIZES = (6, 6, 6, 2)  # the loader's batches: batch_size=6 over 20 samples
_LR = 0.1
CALL = "train_one_epoch(model, loader, loss_fn, optimizer, device)"


class _Net(nn.Module):
    """tap -> Linear(4, 8) -> tanh -> Linear(8, 3); the tap keeps a copy of each input."""

    def __init__(self) -> None:
        super().__init__()
        self.tap = Tap(keep_inputs=True)
        self.hidden = nn.Linear(_IN, _HIDDEN)
        self.out = nn.Linear(_HIDDEN, _CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.hidden(self.tap(x))))


def _forward(params: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """What ``_Net`` computes, with the parameters given (in ``parameters()`` order)."""
    w1, b1, w2, b2 = params
    return F.linear(torch.tanh(F.linear(x, w1, b1)), w2, b2)


@dataclass
class _LossCall:
    size: int  # the batch size
    value: float
    target: torch.Tensor
    forwards: int  # how many forward passes the model had run when the loss was computed


class _Loss(nn.CrossEntropyLoss):
    """Cross-entropy that refuses targets left off the device, and records every loss it
    computes and which of them are backpropagated."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[_LossCall] = []
        self.backprops: list[int] = []  # indices into calls, in backward order
        self.tap: Tap | None = None

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if isinstance(input, Elsewhere) or isinstance(target, Elsewhere):
            raise RuntimeError(
                f"Expected all tensors to be on the same device: {NOT_MOVED} (the targets "
                "were not moved)"
            )
        loss = _cross_entropy(input, target)
        index = len(self.calls)
        forwards = len(self.tap.seen) if self.tap is not None else 0
        self.calls.append(
            _LossCall(int(target.shape[0]), float(loss.detach()), target.detach(), forwards)
        )
        if loss.requires_grad:
            loss.register_hook(lambda grad: self.backprops.append(index))
        return loss


@dataclass
class _Step:
    grads: list[torch.Tensor | None]
    params: list[torch.Tensor]
    backprops: int  # how many backward passes had run at this step
    last_backprop: int | None  # the loss call last backpropagated


class _Steps:
    """A step pre-hook for the check's SGD: records, at each step, the parameters and their
    gradients (a hook on the instance: torch.optim patches an optimizer class's step)."""

    def __init__(self, loss: _Loss) -> None:
        self.loss = loss
        self.steps: list[_Step] = []

    def __call__(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        backprops = self.loss.backprops
        self.steps.append(
            _Step(
                [None if p.grad is None else p.grad.detach().clone() for p in params],
                [p.detach().clone() for p in params],
                len(backprops),
                backprops[-1] if backprops else None,
            )
        )


def _data(model: _Net) -> tuple[torch.Tensor, torch.Tensor]:
    """20 samples: each of the first 18 labelled with the class the model finds most likely,
    the last 2 (scaled up) with the class it finds least likely, so that the last batch's
    loss is above log(3) and the others' below it."""
    n, last = sum(_SIZES), _SIZES[-1]
    x = torch.randn(n, _IN)
    x[-last:] *= 4.0
    with torch.no_grad():
        model.out.weight.mul_(3.0)  # wider logits: losses further from log(3)
        logits = _forward(list(model.parameters()), x)
    y = logits.argmax(dim=1)
    y[-last:] = logits[-last:].argmin(dim=1)
    return x, y


@task(
    "07.train_one_epoch",
    title="Train for one epoch",
    names=["train_one_epoch"],
    notebook=NOTEBOOK,
    timeout=20.0,
)
def check_train_one_epoch(t: Checker) -> None:
    train_one_epoch = t.function("train_one_epoch")

    model = _Net()
    x, y = _data(model)
    loader = DataLoader(
        TensorDataset(x, y),
        batch_size=_SIZES[0],
        collate_fn=lambda batch: elsewhere(default_collate(batch)),
    )
    loss_fn = _Loss()
    loss_fn.tap = model.tap
    optimizer = torch.optim.SGD(model.parameters(), lr=_LR)
    recorder = _Steps(loss_fn)
    optimizer.register_step_pre_hook(recorder)
    model.eval()
    stale = []
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 5.0  # gradients left over from before the call
        stale.append(p.grad.clone())

    with t.probe(f"{CALL} runs, moving each batch's inputs and targets to device"):
        result = call_on_cpu(t, train_one_epoch, model, loader, loss_fn, optimizer, CPU, what=CALL)

    with t.probe("it returns a Python float"):
        _expect_float(t, result)

    with t.probe("every forward pass runs in training mode"):
        if any(not training for training, _, _ in model.tap.seen):
            t.fail(
                "the model ran in eval mode",
                expected="training mode during every forward pass",
                got="model.training was False (it came in eval mode)",
                hint="Call model.train() at the start of train_one_epoch: the model may come "
                "from an evaluation, in eval mode, where Dropout and BatchNorm do not train.",
            )

    with t.probe("one loss, one backward pass and one optimizer step per batch, for every batch"):
        _expect_one_step_per_batch(t, model, loss_fn, recorder)

    with t.probe(
        "gradients are cleared before each backward: at every step the gradient is that "
        "batch's own (none left over from before the call or from the batch before)"
    ):
        _expect_fresh_gradients(t, model, loss_fn, recorder, stale)

    with t.probe(
        "it returns the mean loss per sample over the samples it saw (each batch's loss "
        "weighted by its size)"
    ):
        _expect_mean(t, real(result), loss_fn)


def _expect_float(t: Checker, result: Any) -> None:
    if isinstance(result, float):
        return
    if isinstance(result, torch.Tensor):
        hint = (
            "Return a Python float, not a tensor: accumulate `loss.item() * batch_size` "
            "(a float; a tensor sum also keeps every batch's graph alive) and return the "
            "float total divided by the number of samples."
        )
    elif result is None:
        hint = "train_one_epoch returns None: return the mean loss (check for a missing return)."
    elif is_real(result):
        hint = "Return a Python float: float(...) of your mean, or a float division."
    else:
        hint = "Return the mean loss per sample as a Python float."
    t.fail(
        f"{CALL} did not return a Python float",
        expected="a float, the mean loss per sample",
        got=describe(result),
        hint=hint,
    )


def _expect_one_step_per_batch(t: Checker, model: _Net, loss_fn: _Loss, recorder: _Steps) -> None:
    batches = len(_SIZES)
    forwards, losses = len(model.tap.seen), len(loss_fn.calls)
    backprops, steps = len(loss_fn.backprops), len(recorder.steps)
    counts = (
        f"{forwards} forward passes, {losses} losses, {backprops} backward passes, "
        f"{steps} optimizer steps"
    )
    expected = f"{batches} of each (the loader has {batches} batches)"
    if forwards and not losses:
        t.fail(
            "loss_fn was never called",
            expected=expected,
            got=counts,
            hint="Compute the loss with the `loss_fn` argument, loss_fn(outputs, targets), "
            "not a loss function of your own.",
        )
    if losses < batches or forwards < batches:
        t.fail(
            "not every batch was used",
            expected=expected,
            got=counts,
            hint="Loop over the whole loader, `for inputs, targets in loader:`, and train on "
            "every batch (no break, no single batch).",
        )
    if backprops != batches:
        t.fail(
            "not one backward pass per batch",
            expected=expected,
            got=counts,
            hint="Call loss.backward() once per batch, on that batch's loss, before "
            "optimizer.step()."
            if backprops < batches
            else "Call loss.backward() once per batch.",
        )
    if steps != batches:
        t.fail(
            "not one optimizer step per batch",
            expected=expected,
            got=counts,
            hint="Call optimizer.step() once per batch, after loss.backward(): the step "
            "applies the gradients to the parameters.",
        )
    for k, step in enumerate(recorder.steps):
        if step.backprops != k + 1:
            t.fail(
                f"step {k + 1} ran before that batch's backward pass",
                expected=f"{k + 1} backward passes before step {k + 1}",
                got=f"{step.backprops}",
                hint="The order per batch is: optimizer.zero_grad(), loss = "
                "loss_fn(model(inputs), targets), loss.backward(), optimizer.step().",
            )


def _expected_grads(model: _Net, loss_fn: _Loss, step: _Step) -> list[torch.Tensor]:
    """The gradient of the backpropagated batch's loss alone, at the step's parameters."""
    call = loss_fn.calls[step.last_backprop]
    x = model.tap.inputs[call.forwards - 1]
    params = [p.clone().requires_grad_() for p in step.params]
    with torch.enable_grad():
        loss = _cross_entropy(_forward(params, x.to(params[0].dtype)), call.target)
        return list(torch.autograd.grad(loss, params))


def _all_close(
    a: list[torch.Tensor | None], b: list[torch.Tensor], rtol: float = 1e-4, atol: float = 1e-6
) -> bool:
    return all(
        x is not None
        and x.shape == y.shape
        and bool(torch.isclose(x, y.to(x.dtype), rtol=rtol, atol=atol).all())
        for x, y in zip(a, b, strict=True)
    )


def _clamped(got: list[torch.Tensor | None], want: list[torch.Tensor]) -> bool:
    """Whether ``got`` is ``want`` clamped to [-m, m], m the largest |entry| of ``got``
    (clip_grad_value_)."""
    if any(g is None or g.shape != w.shape for g, w in zip(got, want, strict=True)):
        return False
    m = max(float(g.abs().max()) for g in got if g is not None and g.numel())
    return m > 0 and _all_close(got, [w.clamp(-m, m) for w in want])


def _near(got: list[torch.Tensor | None], want: list[torch.Tensor]) -> bool:
    """Whether each gradient is within 5 % (in norm) of the expected one."""
    return all(
        g is not None
        and g.shape == w.shape
        and float((g.double() - w.double()).norm()) <= 0.05 * float(w.double().norm()) + 1e-6
        for g, w in zip(got, want, strict=True)
    )


def _scale(got: list[torch.Tensor | None], want: list[torch.Tensor]) -> float | None:
    """``c`` when every gradient is ``c`` times the expected one (one c for all), else None."""
    if any(g is None or g.shape != w.shape for g, w in zip(got, want, strict=True)):
        return None
    g = torch.cat([x.detach().flatten().double() for x in got if x is not None])
    w = torch.cat([x.detach().flatten().double() for x in want])
    norm = float(w.dot(w))
    if not norm > 0:
        return None
    c = float(g.dot(w)) / norm
    if not (math.isfinite(c) and c > 0) or abs(c - 1) <= 1e-3:
        return None
    return c if bool(torch.allclose(g, c * w, rtol=1e-3, atol=1e-7)) else None


def _plus(a: list[torch.Tensor], b: list[torch.Tensor | None]) -> list[torch.Tensor]:
    """``a + b`` elementwise (a missing gradient counts as zeros)."""
    return [x if y is None else x + y for x, y in zip(a, b, strict=True)]


def _expect_fresh_gradients(
    t: Checker, model: _Net, loss_fn: _Loss, recorder: _Steps, stale: list[torch.Tensor]
) -> None:
    steps = recorder.steps
    expected = [_expected_grads(model, loss_fn, s) for s in steps]
    ok = [_all_close(s.grads, e) for s, e in zip(steps, expected, strict=True)]
    if all(ok):
        return
    first = ok.index(False)
    if any(g is None for g in steps[first].grads):
        t.fail(
            f"a parameter had no gradient at step {first + 1}",
            hint="Call loss.backward() before optimizer.step(), and clear the gradients "
            "before backward, not between backward and step.",
        )
    leaked = _all_close(steps[0].grads, _plus(expected[0], stale))
    piled = [
        _all_close(steps[k].grads, _plus(expected[k], steps[k - 1].grads))
        for k in range(1, len(steps))
    ]
    facts = [f"Steps whose gradient was that batch's own: {sum(ok)} of {len(steps)}"]
    if leaked and all(ok[1:]):
        t.fail(
            "gradients left over from before the call leaked into the first step",
            facts=facts,
            hint="Call optimizer.zero_grad() at the top of each iteration, before "
            "loss.backward(), not after optimizer.step(): the model may come with gradients "
            "from an earlier backward, and the first step would add them in.",
        )
    if leaked and any(piled):
        t.fail(
            "the gradients are never cleared: each step used the sum of all gradients so far",
            facts=facts,
            hint="backward() adds to .grad; call optimizer.zero_grad() before each "
            "loss.backward(), inside the loop.",
        )
    if ok[0] and any(piled):
        t.fail(
            "the gradients were cleared once, before the loop: they pile up from batch to batch",
            facts=facts,
            hint="backward() adds to .grad; call optimizer.zero_grad() inside the loop, "
            "before each loss.backward(), not once before it.",
        )
    scales = [
        1.0 if good else _scale(s.grads, e) for good, s, e in zip(ok, steps, expected, strict=True)
    ]
    factors = [c for c in scales if c is not None]
    if len(factors) == len(steps):
        sizes = [loss_fn.calls[s.last_backprop].size for s in steps]
        shown = ", ".join(fmt(c) for c in factors)
        if all(abs(c - n) <= 1e-3 * n for c, n in zip(factors, sizes, strict=True)):
            t.fail(
                "each step's gradient is the batch's gradient times the batch size",
                facts=[f"Gradient / the batch's own gradient, per step: {shown}"],
                hint="Backpropagate the loss as loss_fn gives it, loss.backward(), and "
                "multiply by the batch size only the float you add to the total "
                "(loss.item() * inputs.size(0)): a loss scaled before backward scales the "
                "step too.",
            )
    clipped = [
        good or (c is not None and c < 1) or _clamped(s.grads, e)
        for good, c, s, e in zip(ok, scales, steps, expected, strict=True)
    ]
    if all(clipped):
        t.fail(
            "some steps used a shrunk gradient (gradient clipping)",
            facts=facts,
            hint="Step with the gradients backward() computed, unclipped: no "
            "clip_grad_norm_ / clip_grad_value_ between loss.backward() and "
            "optimizer.step() (the task's loop has none).",
        )
    if all(_near(s.grads, e) for s, e in zip(steps, expected, strict=True)):
        t.fail(
            "the gradients are close to each batch's own, but not equal",
            facts=facts,
            hint="The forward pass or the loss ran in lower precision (torch.autocast, .half() "
            "or bfloat16): train in float32, without autocast; the check compares the "
            "gradients at float32 precision.",
        )
    t.fail(
        f"the gradient at step {first + 1} is not that batch's gradient",
        facts=facts,
        hint="Per batch: optimizer.zero_grad(), loss = loss_fn(model(inputs), targets), "
        "loss.backward() (on that loss, as it is), optimizer.step().",
    )


def _expect_mean(t: Checker, got: float, loss_fn: _Loss) -> None:
    calls = [loss_fn.calls[i] for i in loss_fn.backprops]
    sizes = [c.size for c in calls]
    values = [c.value for c in calls]
    n, k = sum(sizes), len(calls)
    weighted = sum(s * v for s, v in zip(sizes, values, strict=True))
    want = weighted / n
    if close(got, want):
        return
    wrong = [
        (
            sum(values) / k,
            "That is the mean of the batch means: the last batch has 2 samples, the others "
            "6, so weight each batch's loss by its size: total += loss.item() * "
            "inputs.size(0), and divide by the number of samples.",
        ),
        (
            weighted / k,
            "You divided by the number of batches: divide the weighted sum by the number of "
            "samples (sum of the batch sizes, or len(loader.dataset)).",
        ),
        (
            sum(values) / n,
            "loss_fn already averages over its batch: multiply each batch's loss by its size "
            "before summing (loss.item() * inputs.size(0)), then divide by the samples.",
        ),
        (
            sum(values) * _SIZES[0] / n,
            "loader.batch_size is not the size of every batch (the last one has 2 samples): "
            "weight by each batch's own size, inputs.size(0).",
        ),
        (
            weighted,
            "That is the sum over samples: divide it by the number of samples seen.",
        ),
        (
            sum(values),
            "That is the sum of the batch means: weight each by its batch size and divide by "
            "the number of samples.",
        ),
        (
            values[-1],
            "That is the last batch's loss: accumulate over every batch and return the mean "
            "over all samples.",
        ),
    ]
    hint = next((h for v, h in wrong if close(got, v)), None)
    t.fail(
        "the returned loss is not the mean loss per sample",
        expected=fmt(want),
        got=fmt(got),
        facts=[
            "Batch sizes "
            + ", ".join(map(str, sizes))
            + "; batch losses (loss_fn's means) "
            + ", ".join(fmt(v) for v in values)
        ],
        hint=hint
        or "Sum loss.item() * inputs.size(0) over the batches and divide by the number of "
        "samples; use the loss of each batch as it was computed for backward.",
    )
