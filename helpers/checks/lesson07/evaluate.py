"""The check of ``07.evaluate``: accuracy over a loader, in eval mode and without graphs, the
model's mode and torch's gradient tracking left as they were.

The check's model ends in a ``Tap`` that records, at each forward pass, the mode and
whether its input (the logits) is part of an autograd graph; it holds a Dropout, so that
the mode matters. The targets are made from the model's own eval-mode predictions, so
that the accuracy is known exactly: 6 of 8, 5 of 8 and 1 of 3 right in the loader's three
batches, 12 of 19 overall (a mean of the batches' accuracies gives another number). The
function is called twice: on a model in training mode with gradients on, and on a model
in eval mode under ``torch.no_grad()``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from helpers.checks.core import Checker, describe, task
from helpers.checks.lesson07.common import (
    CPU,
    NOTEBOOK,
    Tap,
    call_on_cpu,
    close,
    fmt,
    is_real,
    real,
)

_IN, _HIDDEN, _CLASSES = 4, 16, 3
_SIZES = (8, 8, 3)
_RIGHT = (6, 5, 1)  # right predictions per batch: 12 of 19
CALL = "evaluate(model, loader, device)"
_ARGMAX_HINT = (
    "Take the predicted class with outputs.argmax(dim=1): the outputs have shape (batch, "
    "classes), and dim 1 is the class dimension."
)


class _Net(nn.Module):
    """Linear(4, 16) -> ReLU -> Dropout(0.5) -> Linear(16, 3) -> tap."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(_IN, _HIDDEN), nn.ReLU(), nn.Dropout(0.5), nn.Linear(_HIDDEN, _CLASSES)
        )
        self.tap = Tap()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tap(self.body(x))


def _data(model: _Net) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs, and targets that the model in eval mode gets right exactly as ``_RIGHT`` says
    (the first ones of each batch), predicted batch by batch as the loader gives them."""
    x = torch.randn(sum(_SIZES), _IN)
    model.eval()
    with torch.no_grad():
        predictions = torch.cat([model.body(part) for part in x.split(_SIZES[0])]).argmax(dim=1)
    model.train()
    right = torch.cat([torch.arange(size) < r for size, r in zip(_SIZES, _RIGHT, strict=True)])
    y = torch.where(right, predictions, (predictions + 1) % _CLASSES)
    return x, y


def _modes(model: nn.Module) -> dict[str, bool]:
    return {name or "(the model)": m.training for name, m in model.named_modules()}


@task("07.evaluate", title="Evaluate accuracy", names=["evaluate"], notebook=NOTEBOOK)
def check_evaluate(t: Checker) -> None:
    evaluate = t.function("evaluate")

    model = _Net()
    x, y = _data(model)
    loader = DataLoader(TensorDataset(x, y), batch_size=_SIZES[0])
    flags = [p.requires_grad for p in model.parameters()]
    want = sum(_RIGHT) / sum(_SIZES)

    with t.probe(f"{CALL} (the model in training mode, gradients on) returns a Python float"):
        model.train()
        result = call_on_cpu(
            t,
            evaluate,
            model,
            loader,
            CPU,
            what=CALL,
            hints=[("must match the size of tensor", _ARGMAX_HINT)],
        )
        grad_after = torch.is_grad_enabled()
        torch.set_grad_enabled(True)
        _expect_float(t, result)

    with t.probe("every forward pass runs in eval mode"):
        if any(training for training, _, _ in model.tap.seen):
            t.fail(
                "the model ran in training mode",
                expected="eval mode during every forward pass",
                got="model.training was True (it came in training mode)",
                hint="Call model.eval() before the forward passes: in training mode Dropout "
                "drops activations at random (and BatchNorm updates its statistics).",
            )

    with t.probe("no autograd graph is built (forward passes under no_grad or inference_mode)"):
        if any(graph for _, _, graph in model.tap.seen):
            t.fail(
                "the forward passes built autograd graphs",
                expected="outputs that are not part of a graph (requires_grad=False)",
                got="the model's outputs required grad",
                hint="Run the forward passes under `with torch.no_grad():` (or "
                "torch.inference_mode()): evaluation needs no graph, and building one costs "
                "memory and time (.detach() afterwards is too late, and eval() does not turn "
                "gradients off).",
            )

    with t.probe("it returns the accuracy over all samples, in [0, 1] (argmax over dim 1)"):
        _expect_accuracy(t, real(result), want)

    with t.probe("afterwards the model is in training mode again, as it was"):
        if not all(_modes(model).values()):
            t.fail(
                "evaluate left the model in eval mode",
                expected="the model in training mode, as before the call",
                got="model.training is False",
                hint="Remember the mode first, `was_training = model.training`, and give it "
                "back at the end, `model.train(was_training)`: a training loop that calls "
                "evaluate would go on training in eval mode.",
            )

    with t.probe("afterwards gradient tracking is as it was (on; parameters' requires_grad kept)"):
        if not grad_after:
            t.fail(
                "evaluate turned gradient tracking off for good",
                expected="torch.is_grad_enabled() True after the call, as before",
                got="False",
                hint="torch.set_grad_enabled(False) stays in force after the function "
                "returns: use `with torch.no_grad():` (or torch.inference_mode()), which puts "
                "the previous state back when the block ends.",
            )
        if [p.requires_grad for p in model.parameters()] != flags:
            t.fail(
                "evaluate changed requires_grad of the model's parameters",
                expected="every parameter's requires_grad as before (True)",
                got="some parameters have requires_grad=False",
                hint="Do not freeze the parameters to avoid building a graph: run the forward "
                "passes under `with torch.no_grad():` and leave the parameters as they are.",
            )

    with t.probe(
        "called on a model in eval mode under torch.no_grad(): the same accuracy; the model "
        "stays in eval mode and gradient tracking stays off"
    ):
        model.eval()
        with torch.no_grad():
            result = call_on_cpu(t, evaluate, model, loader, CPU, what=f"{CALL} under no_grad")
            grad_after = torch.is_grad_enabled()
        _expect_float(t, result)
        _expect_accuracy(t, real(result), want)
        if any(_modes(model).values()):
            t.fail(
                "evaluate put a model that was in eval mode into training mode",
                expected="the model in eval mode, as before the call",
                got="model.training is True",
                hint="Give back the mode the model had, `model.train(was_training)` with "
                "`was_training = model.training` read first, not always model.train().",
            )
        if grad_after:
            t.fail(
                "evaluate turned gradient tracking on although it was off",
                expected="torch.is_grad_enabled() False after the call, as before",
                got="True",
                hint="Do not end with torch.set_grad_enabled(True): the caller may have "
                "turned gradients off. `with torch.no_grad():` (or torch.inference_mode()) "
                "restores whatever state there was.",
            )


def _expect_float(t: Checker, result: Any) -> None:
    if isinstance(result, float):
        return
    if isinstance(result, torch.Tensor):
        hint = (
            "Return a Python float, not a tensor: count with (predictions == "
            "targets).sum().item() and divide by the number of samples."
        )
    elif result is None:
        hint = "evaluate returns None: return the accuracy (check for a missing return)."
    elif is_real(result):
        hint = (
            "Return the accuracy as a Python float between 0 and 1: the number right divided "
            "by the number of samples (`/`, which gives a float)."
        )
    else:
        hint = "Return the accuracy as a Python float between 0 and 1."
    t.fail(
        f"{CALL} did not return a Python float",
        expected="a float in [0, 1], the accuracy",
        got=describe(result),
        hint=hint,
    )


def _expect_accuracy(t: Checker, got: float, want: float) -> None:
    if close(got, want, rtol=1e-6):
        return
    per_batch = [r / s for r, s in zip(_RIGHT, _SIZES, strict=True)]
    right, n, batches = sum(_RIGHT), sum(_SIZES), len(_SIZES)
    wrong = [
        (
            100 * want,
            "That is a percentage: return a fraction in [0, 1] (right / total, without * 100).",
        ),
        (
            sum(per_batch) / batches,
            "That is the mean of the batches' accuracies: the last batch has 3 samples, the "
            "others 8. Count the right predictions over all batches and divide by the "
            "number of samples.",
        ),
        (
            right / (batches * _SIZES[0]),
            "len(loader) * loader.batch_size counts a full last batch: divide by the number "
            "of samples (sum of the batch sizes, or len(loader.dataset)).",
        ),
        (
            right / batches,
            "You divided by the number of batches: divide by the number of samples.",
        ),
        (
            per_batch[-1],
            "That is the last batch's accuracy: count over every batch.",
        ),
        (float(right), "That is the count of right predictions: divide by the number of samples."),
    ]
    hint = next((h for v, h in wrong if close(got, v, rtol=1e-6)), None)
    t.fail(
        "the accuracy is wrong",
        expected=f"{fmt(want)} ({right} of {n} samples right)",
        got=fmt(got),
        facts=[
            "Right per batch: "
            + ", ".join(f"{r} of {s}" for r, s in zip(_RIGHT, _SIZES, strict=True))
        ],
        hint=hint
        or f"Count (outputs.argmax(dim=1) == targets) over every batch and divide by the "
        f"number of samples. {_ARGMAX_HINT}",
    )
