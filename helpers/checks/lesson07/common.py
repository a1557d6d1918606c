"""What the checks of lesson 07 share: the notebook, a recording layer, batches that sit on
another device than ``device``, and the call that gives one verdict on every machine.

A training function receives a ``device`` argument. The checks pass the CPU; the same code
on a GPU machine is handed ``torch.device("cuda")`` while the loader still yields CPU
tensors. ``Elsewhere`` makes the CPU behave like that: a batch of the check's loader is an
``Elsewhere`` tensor, which a model's parameters refuse, as CUDA parameters refuse a CPU
tensor, until ``.to(device)`` (or ``.cpu()``, ``.cuda()``) turns it into a plain tensor.
Reshaping it, reading its shape or ``len`` works, as it does on a real CPU batch.

``call_on_cpu`` runs the learner's function with the notebook's ``device`` (and
``get_device``, and torch's accelerator) standing for the meta device: code that uses the
notebook's global ``device`` instead of its argument fails on a laptop as on a GPU machine.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_flatten

from helpers.checks.core import Checker, accelerator_as_meta, hidden_notebook_device

NOTEBOOK = "07_training_loop"

CPU = torch.device("cpu")

# What the model raises for a batch that was not moved (the needle of the device hint).
NOT_MOVED = "the batch is not on the model's device"
DEVICE_HINTS = [
    (
        NOT_MOVED,
        "Move each batch to the device before using it: `inputs, targets = "
        "inputs.to(device), targets.to(device)` (the loader yields CPU tensors; the model "
        "lives on `device`).",
    ),
    (
        "meta",
        "Use the function's `device` argument, not the notebook's global `device` (or "
        "'cuda' when torch.cuda.is_available()): the check passes the CPU, and stands the "
        "meta device in for the notebook's device, so that this shows on every machine.",
    ),
]

_MOVES = (torch.Tensor.to, torch.Tensor.cpu, torch.Tensor.cuda)
_parse_to = torch._C._nn._parse_to


class Elsewhere(torch.Tensor):
    """A CPU tensor that acts as if it sat on another device than the model.

    An operation that combines it with an ``nn.Parameter`` raises, as a CUDA layer does
    for a CPU input; ``.to(<a device>)``, ``.cpu()`` and ``.cuda()`` return a plain tensor
    (sharing its values); anything else (``view``, ``float``, ``shape``, ``len``) gives an
    ``Elsewhere`` tensor again, or a plain Python value.
    """

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _MOVES and args and isinstance(args[0], Elsewhere):
            moves = func is not torch.Tensor.to or _parse_to(*args[1:], **kwargs)[0] is not None
            if moves:
                with torch._C.DisableTorchFunctionSubclass():
                    out = func(*args, **kwargs)
                return out.as_subclass(torch.Tensor)
        leaves, _ = tree_flatten((args, kwargs))
        if any(isinstance(x, Elsewhere) for x in leaves) and any(
            isinstance(x, nn.Parameter) for x in leaves
        ):
            raise RuntimeError(
                f"Expected all tensors to be on the same device: {NOT_MOVED} (it is where "
                "the loader put it)"
            )
        return super().__torch_function__(func, types, args, kwargs)


def elsewhere(batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """A loader's ``collate_fn`` result, each tensor made an ``Elsewhere`` tensor."""
    return tuple(x.as_subclass(Elsewhere) for x in batch)


def plain(x: torch.Tensor) -> torch.Tensor:
    """``x`` as a plain tensor (an ``Elsewhere`` tensor's values, not moved)."""
    return x.as_subclass(torch.Tensor) if isinstance(x, Elsewhere) else x


class Tap(nn.Module):
    """A layer without parameters that records, at each call, its mode, torch's grad mode,
    whether its input is part of an autograd graph, and (if asked) a copy of its input."""

    def __init__(self, keep_inputs: bool = False) -> None:
        super().__init__()
        self.keep_inputs = keep_inputs
        self.seen: list[tuple[bool, bool, bool]] = []
        self.inputs: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        graph = isinstance(x, torch.Tensor) and x.requires_grad
        self.seen.append((self.training, torch.is_grad_enabled(), graph))
        if self.keep_inputs:
            self.inputs.append(plain(x).detach().clone())
        return x


def call_on_cpu(
    t: Checker,
    fn: Callable[..., Any],
    *args: Any,
    what: str,
    hints: Sequence[tuple[str, str]] = (),
) -> Any:
    """``fn(*args)`` through ``t.call``, with the notebook's ``device`` / ``get_device`` and
    torch's accelerator standing for the meta device (see ``core.hidden_notebook_device``
    and ``core.accelerator_as_meta``): one verdict on a laptop and on a GPU machine."""
    with hidden_notebook_device(t.namespace, fn), accelerator_as_meta():
        return t.call(fn, *args, what=what, hints=[*hints, *DEVICE_HINTS])


def is_real(value: Any) -> bool:
    """A real number (a float, an int, a NumPy scalar), not a bool and not a tensor."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, torch.Tensor))


def real(value: Any) -> float:
    """The value of a real number as a plain float (a subclass's methods are not used)."""
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, int):
        return float(int.__index__(value))
    return float(value)


def close(a: float, b: float, *, rtol: float = 1e-4, atol: float = 1e-6) -> bool:
    """``|a - b| <= atol + rtol * |b|``, never for a NaN."""
    return math.isfinite(a) and abs(a - b) <= atol + rtol * abs(b)


def fmt(value: float) -> str:
    """A float for a message (6 significant digits)."""
    return f"{value:.6g}"
