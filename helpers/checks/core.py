"""The toolkit a check is written with.

A check is a function ``check(t: Checker) -> None`` registered with ``@task(...)``. It
runs probes in order, each inside ``with t.probe("what is probed"):``, calls learner code
only through ``t.call(...)`` and stops at the first failure by calling ``t.fail(...)``
(or one of the ``t.expect_*`` helpers, which call it). ``helpers.grading.run_check``
turns what happened into a result; a check never has to catch anything itself.
"""

from __future__ import annotations

import contextlib
import os
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import torch
from torch import nn

__all__ = [
    "REGISTRY",
    "CallCounter",
    "Checker",
    "Fail",
    "NotImplementedYet",
    "Task",
    "describe",
    "equal",
    "explain_exception",
    "mismatch_facts",
    "plain_tensor_attributes",
    "preview",
    "same_tensor_set",
    "shape_str",
    "task",
]

# Bound at import, so learner code that patches torch cannot change a verdict.
_equal = torch.equal
_isclose = torch.isclose


@dataclass(frozen=True)
class Task:
    """A graded task: its contract (id, title, names, notebook) and its check."""

    id: str
    title: str
    names: tuple[str, ...]
    notebook: str
    check: Callable[[Checker], None] = field(repr=False, compare=False)
    timeout: float = 10.0


REGISTRY: dict[str, Task] = {}


def task(
    id: str, *, title: str, names: Sequence[str], notebook: str, timeout: float = 10.0
) -> Callable[[Callable[[Checker], None]], Callable[[Checker], None]]:
    """Register ``check`` as the check of task ``id`` (ids are unique)."""

    def register(check: Callable[[Checker], None]) -> Callable[[Checker], None]:
        if id in REGISTRY:
            raise ValueError(f"task {id!r} is registered twice")
        REGISTRY[id] = Task(id, title, tuple(names), notebook, check, timeout)
        return check

    return register


class Fail(Exception):
    """A probe found wrong behaviour. Raised by ``Checker.fail``."""

    def __init__(
        self,
        headline: str,
        *,
        probe: str | None = None,
        expected: str | None = None,
        got: str | None = None,
        facts: Sequence[str] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(headline)
        self.headline = headline
        self.probe = probe
        self.expected = expected
        self.got = got
        self.facts = tuple(facts)
        self.hint = hint


class NotImplementedYet(Exception):
    """Learner code raised NotImplementedError: the stub is still there."""

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"{where} raised NotImplementedError{': ' + detail if detail else ''}")
        self.where = where
        self.detail = detail


class Checker:
    """What a check receives: the learner's namespace and the probing helpers."""

    def __init__(self, namespace: Mapping[str, Any]) -> None:
        self.namespace = namespace
        self.passed: list[str] = []
        self.current: str | None = None
        self.interrupted_at: str | None = None  # the probe an exception left, if any

    # -- structure -----------------------------------------------------------------

    @contextlib.contextmanager
    def probe(self, description: str) -> Iterator[None]:
        """Name the probe the body performs; a failure inside it reports this name."""
        outer, self.current = self.current, description
        try:
            yield
        except BaseException:
            self.interrupted_at = self.interrupted_at or description
            raise
        finally:
            self.current = outer
        self.passed.append(description)

    def fail(
        self,
        headline: str,
        *,
        expected: str | None = None,
        got: str | None = None,
        facts: Sequence[str] = (),
        hint: str | None = None,
    ) -> NoReturn:
        """Stop the check: the current probe failed."""
        raise Fail(headline, probe=self.current, expected=expected, got=got, facts=facts, hint=hint)

    # -- learner names and calls -----------------------------------------------------

    def get(self, name: str) -> Any:
        """The learner's top-level ``name``, or a failure saying it is not defined."""
        try:
            return self.namespace[name]
        except KeyError:
            self.fail(
                f"`{name}` is not defined",
                hint=f"Run the cell that defines `{name}` (and keep that exact name), "
                "then run this check again.",
            )

    def module_class(self, name: str) -> type[nn.Module]:
        """The learner's ``name``, which must be a subclass of ``nn.Module``."""
        with self.probe(f"`{name}` is a subclass of nn.Module"):
            value = self.get(name)
            if isinstance(value, nn.Module):
                self.fail(
                    f"`{name}` is a module instance, not a class",
                    hint=f"Define `class {name}(nn.Module): ...` and do not rebind "
                    f"`{name}` to an instance (name instances e.g. `model`).",
                )
            if not isinstance(value, type):
                self.fail(
                    f"`{name}` is not a class",
                    got=describe(value),
                    hint=f"Define it with `class {name}(nn.Module):`.",
                )
            if not issubclass(value, nn.Module):
                self.fail(
                    f"`{name}` does not subclass nn.Module",
                    got=f"bases {tuple(b.__name__ for b in value.__mro__[1:-1])}",
                    hint=f"Write `class {name}(nn.Module):` so parameters, submodules, "
                    ".to() and state_dict() work.",
                )
        return value

    def function(self, name: str) -> Callable[..., Any]:
        """The learner's ``name``, which must be callable (a function)."""
        with self.probe(f"`{name}` is a function"):
            value = self.get(name)
            if not callable(value):
                self.fail(
                    f"`{name}` is not a function",
                    got=describe(value),
                    hint=f"Define it with `def {name}(...):` and do not rebind the name.",
                )
        return value

    def call(
        self,
        fn: Callable[..., Any],
        *args: Any,
        what: str,
        hints: Sequence[tuple[str, str]] = (),
        **kwargs: Any,
    ) -> Any:
        """Call learner code; an exception it raises becomes a failure (or the stub state).

        Args:
            fn: the learner's callable (a class to construct, a module, a method).
            what: how the call reads in a message, e.g. ``"Affine(3, 2)"``.
            hints: ``(needle, hint)`` pairs for this call: when the exception's text
                contains a needle, its hint is given (before the general ones).
        """
        try:
            return fn(*args, **kwargs)
        except NotImplementedError as exc:
            detail = str(exc)
            if 'missing the required "forward" function' in detail:
                self.fail(
                    f"{what} has no forward method",
                    got=f"NotImplementedError: {detail}",
                    hint="Define `def forward(self, x):` in the class (check its spelling "
                    "and indentation).",
                )
            raise NotImplementedYet(what, detail) from None
        except (Fail, NotImplementedYet):
            raise
        except Exception as exc:
            self.fail(
                f"{what} raised {type(exc).__name__}",
                got=_exception_line(exc),
                facts=_learner_frame(exc),
                hint=explain_exception(exc, hints),
            )

    # -- expectations ------------------------------------------------------------------

    def expect_no_parameters(self, module: nn.Module, *, what: str, hint: str) -> None:
        """``module`` (built by the check from the learner's class) has no parameters."""
        named = self.call(module.named_parameters, what=f"{what}.named_parameters()")
        names = [name for name, _ in named]
        if names:
            self.fail(
                f"{what} has parameters", expected="no parameters", got=", ".join(names), hint=hint
            )

    def expect_tensor(self, value: Any, *, what: str, hint: str | None = None) -> torch.Tensor:
        """``value`` must be a tensor."""
        if not isinstance(value, torch.Tensor):
            self.fail(
                f"{what} is not a tensor",
                expected="a torch.Tensor",
                got=describe(value),
                hint=hint or "Return the tensor you computed (check for a missing `return`).",
            )
        return value

    def expect_close(
        self,
        got: torch.Tensor,
        expected: torch.Tensor,
        *,
        what: str,
        hint: str,
        diagnoses: Sequence[tuple[torch.Tensor, str]] = (),
        rtol: float = 1e-5,
        atol: float = 1e-6,
    ) -> None:
        """``got`` must match ``expected`` in shape, dtype, device and values.

        Failures come in layers, like ``torch.testing.assert_close``: shape first, then
        dtype, then device, then values with the mismatch facts. ``diagnoses`` pairs a
        wrong answer a known mistake gives with the hint for that mistake; when ``got``
        matches one of them, that hint replaces ``hint``.
        """
        got = self.expect_tensor(got, what=what)
        diagnosis = next(
            (h for wrong, h in diagnoses if _matches(got, wrong, rtol=rtol, atol=atol)), None
        )
        if got.shape != expected.shape:
            self.fail(
                f"{what} has the wrong shape",
                expected=shape_str(expected.shape),
                got=shape_str(got.shape),
                hint=diagnosis or hint,
            )
        if got.dtype != expected.dtype:
            self.fail(
                f"{what} has the wrong dtype",
                expected=str(expected.dtype),
                got=str(got.dtype),
                hint=diagnosis or hint,
            )
        if got.device != expected.device:
            self.fail(
                f"{what} is on the wrong device",
                expected=str(expected.device),
                got=str(got.device),
                hint=diagnosis or hint,
            )
        facts = mismatch_facts(got, expected, rtol=rtol, atol=atol)
        if facts:
            self.fail(
                f"{what} has wrong values",
                expected=preview(expected),
                got=preview(got),
                facts=facts,
                hint=diagnosis or hint,
            )


# -- formatting ----------------------------------------------------------------------------


def describe(value: Any) -> str:
    """A short, safe description of any learner value (never raises)."""
    try:
        if isinstance(value, torch.Tensor):
            return f"tensor of shape {shape_str(value.shape)}, dtype {value.dtype}"
        if isinstance(value, nn.Module):
            return f"{type(value).__name__} module"
        if value is None:
            return "None"
        if isinstance(value, (list, tuple)):
            return f"{type(value).__name__} of length {len(value)}"
        text = repr(value)
        return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"
    except Exception:
        return f"an object of type {type(value).__name__}"


def shape_str(shape: Sequence[int]) -> str:
    """``(2, 3)`` for a size, ``()`` for a scalar."""
    dims = tuple(int(d) for d in shape)
    return "(" + ", ".join(map(str, dims)) + ("," if len(dims) == 1 else "") + ")"


def preview(tensor: torch.Tensor, max_items: int = 6) -> str:
    """The first few values of a tensor, rounded, with its shape."""
    flat = tensor.detach().reshape(-1)[:max_items].tolist()
    items = ", ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in flat)
    more = ", ..." if tensor.numel() > max_items else ""
    return f"[{items}{more}] (shape {shape_str(tensor.shape)})"


def _matches(got: torch.Tensor, wrong: torch.Tensor, *, rtol: float, atol: float) -> bool:
    same_kind = got.shape == wrong.shape and got.dtype == wrong.dtype
    return (
        same_kind
        and got.device == wrong.device
        and not mismatch_facts(got, wrong, rtol=rtol, atol=atol)
    )


def mismatch_facts(
    got: torch.Tensor, expected: torch.Tensor, *, rtol: float, atol: float
) -> list[str]:
    """How two same-shaped tensors differ, as torch.testing reports it; [] if close.

    Close means ``|got - expected| <= atol + rtol * |expected|`` everywhere; a NaN is
    never close to anything.
    """
    got, expected = got.detach(), expected.detach()
    close = _isclose(got, expected, rtol=rtol, atol=atol, equal_nan=False)
    if bool(close.all()):
        return []
    bad = int((~close).sum())
    total = close.numel()
    diff = (got.double() - expected.double()).abs()
    diff = torch.where(torch.isnan(diff), torch.full_like(diff, float("inf")), diff)
    flat = int(diff.reshape(-1).argmax())
    index = _unravel(flat, tuple(close.shape))
    worst = float(diff.reshape(-1)[flat])
    return [
        f"Mismatched elements: {bad} / {total} ({100 * bad / total:.1f}%)",
        f"Greatest absolute difference: {worst:.4g} at index {index} "
        f"(up to {atol:g} + {rtol:g} × |expected| allowed)",
    ]


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The index of element ``flat`` of a row-major tensor of ``shape``."""
    index = []
    for size in reversed(shape):
        flat, i = divmod(flat, size)
        index.append(i)
    return tuple(reversed(index))


def _exception_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


# Frames from these folders (torch, the standard library, helpers) are not the learner's.
_LIBRARY_DIRS = tuple(
    os.path.dirname(os.path.abspath(path)) + os.sep
    for path in (torch.__file__, contextlib.__file__, os.path.dirname(__file__))
)


def _learner_frame(exc: BaseException) -> list[str]:
    """The innermost traceback line in the learner's own code, if any."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not os.path.abspath(f.filename).startswith(_LIBRARY_DIRS)
    ]
    if not frames:
        return []
    frame = frames[-1]
    code = f": {frame.line.strip()}" if frame.line else ""
    return [f"In your code, {frame.name}, line {frame.lineno}{code}"]


# Messages torch and Python give for mistakes learners make, and what to do about each.
_EXPLANATIONS: tuple[tuple[str, str], ...] = (
    (
        "before Module.__init__() call",
        "Call `super().__init__()` as the first line of `__init__`, before assigning "
        "parameters or submodules.",
    ),
    (
        "object has no attribute '_parameters'",
        "Call `super().__init__()` as the first line of `__init__`.",
    ),
    (
        "object has no attribute '_modules'",
        "Call `super().__init__()` as the first line of `__init__`.",
    ),
    (
        "obj must be an instance or subtype of type",
        "`super(OtherClass, self)` names the wrong class: write `super().__init__()`.",
    ),
    (
        "shapes cannot be multiplied",
        "Check the transposes: a weight of shape (out_features, in_features) multiplies "
        "as `x @ weight.T`.",
    ),
    (
        "size of tensor a",
        "Two tensors that do not broadcast were combined: print the shapes in forward.",
    ),
    (
        "self must be a matrix",
        "torch.mm only takes 2-D tensors: use `@` (torch.matmul) or F.linear, which "
        "accept any number of leading dimensions.",
    ),
    (
        "unsupported operand type(s) for +: 'Tensor' and 'NoneType'",
        "With bias=False, self.bias is None: skip the addition when there is no bias.",
    ),
    (
        "a leaf Variable that requires grad is being used in an in-place operation",
        "Do not modify the input in place (`x += ...`): compute a new tensor (`x + ...`).",
    ),
    (
        "maximum recursion depth",
        "forward calls itself (e.g. `self(x)` inside forward): call the submodule instead.",
    ),
    (
        "Expected all tensors to be on the same device",
        "Create new tensors on the input's device, e.g. `torch.randn_like(x)` or "
        "`torch.zeros(..., device=x.device)`.",
    ),
)


def explain_exception(exc: BaseException, hints: Sequence[tuple[str, str]] = ()) -> str:
    """A hint for a known exception message (``hints`` first), or a generic one."""
    text = f"{type(exc).__name__}: {exc}"
    for needle, hint in (*hints, *_EXPLANATIONS):
        if needle in text:
            return hint
    if isinstance(exc, TypeError) and "argument" in text:
        return "Check the signature against the task statement (names, defaults, order)."
    return "Run the same call in a cell of your own to see the full traceback."


def plain_tensor_attributes(module: nn.Module) -> list[str]:
    """Names of tensors kept as plain attributes (not registered), sorted."""
    return sorted(k for k, v in vars(module).items() if isinstance(v, torch.Tensor))


class CallCounter(nn.Module):
    """A deterministic module for checks to pass in: tanh(Linear(x)), counting its calls."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return torch.tanh(self.proj(x))


def same_tensor_set(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> bool:
    """Whether two sequences hold the same tensor objects (by identity)."""
    return {id(x) for x in a} == {id(x) for x in b}


def equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    """``torch.equal`` as bound at import."""
    return _equal(a, b)
