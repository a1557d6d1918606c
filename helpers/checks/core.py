"""The toolkit a check is written with.

A check is a function ``check(t: Checker) -> None`` registered with ``@task(...)``. It
runs probes in order, each inside ``with t.probe("what is probed"):``, calls learner code
only through ``t.call(...)`` and stops at the first failure by calling ``t.fail(...)``
(or one of the ``t.expect_*`` helpers, which call it). ``helpers.grading.run_check``
turns what happened into a result; a check never has to catch anything itself.

The same verdict on every machine: ``t.build`` constructs a learner's module with the
notebook's device and torch's accelerator standing for the meta device (a module built
anywhere but on the CPU then fails on a laptop as on a GPU machine);
``t.expect_runs_on_meta`` runs a forward on the meta device (a tensor made on the CPU
inside forward fails everywhere); ``CopyOnMove`` makes ``.cpu()`` of a model's tensors
copy, as it does on a GPU.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import traceback
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import torch
from torch import nn
from torch.nn.modules import module as _module_api
from torch.overrides import TorchFunctionMode

from helpers.device import get_device
from helpers.sandbox import GLOBAL_HOOK_REGISTRIES, MODULE_HOOK_DICTS

__all__ = [
    "BUILT_ON_CPU",
    "ON_X_DEVICE",
    "REGISTRY",
    "SKIPPED_ON_META",
    "CallCounter",
    "Checker",
    "CopyOnMove",
    "Fail",
    "ModuleWatch",
    "NotImplementedYet",
    "Task",
    "accelerator_as_meta",
    "call_on_meta",
    "count_global_hooks",
    "count_hooks",
    "describe",
    "equal",
    "explain_exception",
    "hidden_notebook_device",
    "mismatch_facts",
    "plain",
    "plain_tensor_attributes",
    "preview",
    "same_tensor_set",
    "shape_str",
    "storage_places",
    "task",
    "watch_modules",
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

    def build(
        self,
        cls: Callable[..., Any],
        *args: Any,
        what: str,
        hints: Sequence[tuple[str, str]] = (),
        **kwargs: Any,
    ) -> Any:
        """Construct a learner module as the course does: on the CPU, on every machine.

        While the constructor runs, the notebook's ``device`` (and ``get_device``) name
        the meta device (see ``hidden_notebook_device``), and torch reports an accelerator
        that is the meta device (see ``accelerator_as_meta``), so a module that creates its
        state on the notebook's device, or on "cuda" when CUDA is available, gets the same
        verdict on a laptop and on a GPU machine. When the constructor cannot run that
        way (it copies a meta tensor back to the CPU, or asks a laptop for its GPU's
        name after the stand-in's "yes"), it is run again as written.
        Afterwards every parameter and buffer must be on the CPU (``expect_built_on_cpu``).
        """

        notes: list[str] = []  # what stood for the meta device while it was built

        def construct() -> Any:
            with (
                hidden_notebook_device(self.namespace, cls) as swapped,
                accelerator_as_meta() as asked,
            ):
                try:
                    return cls(*args, **kwargs)
                except Exception as exc:
                    # "Cannot copy out of meta tensor", or a real CUDA call after the
                    # stand-in's "yes" (torch.cuda.get_device_name() on a laptop)
                    if not (_META_WORD.search(str(exc)) or _NO_CUDA.search(str(exc))):
                        raise
                    return _RETRY
                finally:
                    notes[:] = [*swapped, *asked]

        module = self.call(construct, what=what, hints=hints)
        if module is _RETRY:
            notes.clear()
            module = self.call(cls, *args, what=what, hints=hints, **kwargs)
        if isinstance(module, nn.Module):
            self.expect_built_on_cpu(module, what=what, swapped=notes)
        return module

    def expect_built_on_cpu(
        self, module: nn.Module, *, what: str, swapped: Sequence[str] = ()
    ) -> None:
        """Every parameter and buffer of ``module`` (just built) is on the CPU.

        ``swapped``: what stood for the meta device while it was built, if anything did
        (the notes of ``hidden_notebook_device`` and the questions of
        ``accelerator_as_meta``).
        """
        named = [
            *self.call(lambda: list(module.named_parameters()), what=f"{what}.named_parameters()"),
            *self.call(lambda: list(module.named_buffers()), what=f"{what}.named_buffers()"),
        ]
        elsewhere = [(name, tensor.device) for name, tensor in named if tensor.device.type != "cpu"]
        if not elsewhere:
            return
        frozen = [note for note in swapped if note.startswith("the default")]
        asked = [note for note in swapped if note.startswith("torch.")]
        if elsewhere[0][1].type == "meta" and asked and not frozen:
            hint = (
                f"Building asked `{asked[0]}` and put tensors there when the answer was yes, so "
                "the module would start on the GPU on a GPU machine and on the CPU on a "
                "laptop; the check answers yes with the meta device standing for the GPU, "
                f"so this shows on every machine. {BUILT_ON_CPU}"
            )
        elif elsewhere[0][1].type == "meta" and frozen:
            hint = (
                f"{frozen[0][0].upper()}{frozen[0][1:]} is the notebook's `device`, frozen "
                "into the signature when the cell ran; the check builds modules with it "
                f"standing for the meta device, so this shows on every machine. {BUILT_ON_CPU} "
                "Take `device=None` and pass it on, as torch's layers do."
            )
        elif elsewhere[0][1].type == "meta":
            hint = (
                "__init__ put tensors on the notebook's `device` (or get_device()); the "
                "check builds modules with `device` standing for the meta device, so this "
                f"shows on a laptop as on a GPU machine. {BUILT_ON_CPU}"
            )
        else:
            hint = BUILT_ON_CPU
        self.fail(
            f"{what} is not built on the CPU",
            expected="every parameter and buffer on the CPU after construction",
            got=", ".join(f"`{n}` on {d}" for n, d in elsewhere[:3])
            + (f" and {len(elsewhere) - 3} more" if len(elsewhere) > 3 else ""),
            hint=hint,
        )

    def move(self, module: nn.Module, target: object, *, what: str) -> nn.Module:
        """``module.to(target)`` through ``call``: a learner's ``to``/``_apply`` may raise."""
        return self.call(module.to, target, what=what)

    def expect_own_forward(self, cls: type[nn.Module], name: str) -> None:
        """``cls`` computes in ``forward``, which nn.Module's ``__call__`` runs (with hooks).

        A class that overrides ``__call__`` and defines no ``forward`` gives the right
        output for ``model(x)``, but it has no forward (``model.forward(x)`` raises) and
        runs no hooks.
        """
        with self.probe(f"`{name}` defines forward (nn.Module's __call__ runs it)"):
            own_forward = getattr(cls, "forward", None) is not nn.Module.forward
            own_call = cls.__call__ is not nn.Module.__call__
            if own_call and not own_forward:
                self.fail(
                    f"`{name}` overrides __call__ instead of defining forward",
                    expected="`def forward(self, ...)` in the class",
                    got="`def __call__(self, ...)` and no forward",
                    hint="Rename `__call__` to `forward`: nn.Module's own __call__ runs "
                    "forward (and the hooks registered on the module), so a module never "
                    "overrides __call__ to compute its output.",
                )

    def expect_runs_on_meta(
        self,
        layer: nn.Module,
        x_shape: tuple[int, ...],
        out_shape: tuple[int, ...],
        call: str,
        *args: object,
    ) -> None:
        """``layer`` moved to the meta device runs on a meta x: one verdict on every machine.

        On a CPU-only machine the course's device is the CPU, so a forward that makes a
        CPU tensor passes there and fails on a GPU; on the meta device it fails
        everywhere. ``args`` follow x in the call (a task name, say).
        """
        self.move(layer, "meta", what=f"{call}.to('meta')")
        x = torch.empty(x_shape, device="meta")
        y = self.call(
            call_on_meta,
            layer,
            x,
            *args,
            what=f"{call}(x) with the module and x on the meta device",
            hints=[("is not on the expected device", ON_X_DEVICE), ("same device", ON_X_DEVICE)],
        )
        if y is SKIPPED_ON_META:
            return
        y = self.expect_tensor(y, what="the output")
        if y.device.type != "meta" or tuple(y.shape) != out_shape:
            self.fail(
                "the output on the meta device is not where x is",
                expected=f"device meta, shape {shape_str(out_shape)}",
                got=f"device {y.device}, shape {shape_str(y.shape)}",
                hint=ON_X_DEVICE,
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
    got, expected = plain(got).detach(), plain(expected).detach()
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
        if _learner_frame(exc):  # raised inside the learner's code: a call it made
            return (
                "A call in your code was given arguments it does not take (the line is "
                "shown above): check that function's arguments in its documentation."
            )
        # Raised where the check called the learner's function: its signature differs.
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
    """``torch.equal`` as bound at import, on plain tensors (see ``plain``)."""
    return _equal(plain(a), plain(b))


def plain(value: Any) -> Any:
    """A tensor subclass's value as a plain ``torch.Tensor`` (sharing its storage), so that
    no ``__torch_function__`` of the learner's answers the check's comparisons (a subclass
    can say it equals anything); anything else as it is."""
    if isinstance(value, torch.Tensor) and type(value) is not torch.Tensor:
        with torch.no_grad(), torch._C.DisableTorchFunctionSubclass():
            return torch.Tensor.as_subclass(value, torch.Tensor)
    return value


# -- building learner modules on the CPU ---------------------------------------------------

BUILT_ON_CPU = (
    "Create parameters and buffers without device=...: modules are built on the CPU and "
    "moved with .to() by whoever uses them (model.to(device))."
)

_RETRY = object()  # build(): the constructor could not run with the device hidden
_META_WORD = re.compile(r"\bmeta\b", re.IGNORECASE)
# What torch says when code asks for a GPU that this machine does not have.
_NO_CUDA = re.compile(
    r"not compiled with CUDA|No CUDA GPUs are available|NVIDIA driver|CUDA driver", re.IGNORECASE
)
_DEVICE_NAMES = ("device",)  # what the course's setup cell calls the notebook's device
_STANDIN = torch.device("meta")


def _standin_get_device(prefer: str | None = None) -> torch.device:
    return _STANDIN


def _learner_functions(code: Sequence[Any]) -> list[types.FunctionType]:
    """The Python functions of learner classes (their whole MRO, torch's excluded)."""
    members: list[Any] = []
    for obj in code:
        if isinstance(obj, type):
            for klass in obj.__mro__:
                if str(klass.__module__).split(".")[0] in ("torch", "helpers"):
                    continue
                for member in vars(klass).values():  # plain lookups only: nothing runs
                    if isinstance(member, (staticmethod, classmethod)):
                        members.append(member.__func__)
                    elif isinstance(member, property):
                        members += [member.fget, member.fset]
                    else:
                        members.append(member)
        else:
            members.append(obj)
    return [fn for fn in members if isinstance(fn, types.FunctionType)]


def _learner_globals(
    namespace: Mapping[str, Any], functions: Sequence[types.FunctionType]
) -> list[dict[str, Any]]:
    """The global namespaces learner code reads: the notebook's and its functions'."""
    spaces: dict[int, dict[str, Any]] = {}
    if isinstance(namespace, dict):
        spaces[id(namespace)] = namespace
    for fn in functions:
        space = fn.__globals__
        if not str(space.get("__name__", "")).startswith(("torch", "helpers")):
            spaces[id(space)] = space
    return list(spaces.values())


@contextlib.contextmanager
def hidden_notebook_device(namespace: Mapping[str, Any], *code: Any) -> Iterator[list[str]]:
    """While the body runs, the notebook's ``device`` and ``get_device`` name the meta device.

    A learner who writes ``torch.randn(..., device=device)`` in ``__init__`` builds on the
    CPU on a laptop and on the GPU on a GPU machine, so a check would pass on one and fail
    on the other. With the notebook's ``device`` (a ``torch.device`` or a string; also
    where a default argument, ``device=device``, froze it) and the course's ``get_device``
    swapped for the meta device while the learner's constructor runs, such a module ends
    up on ``meta`` everywhere, and a check that wants the parameters on the CPU
    (``Checker.expect_built_on_cpu``) says so on every machine.

    Args:
        namespace: the learner's namespace (the notebook's ``globals()``).
        code: the learner's classes and functions that will run; the globals their
            functions read are swapped too (the same dict as ``namespace`` in a notebook).

    Yields:
        What was swapped, as phrases for messages (``"`device`"``, ``"the default
        `device=` of `Affine.__init__`"``).

    Everything swapped is put back when the body ends, however it ends.
    """
    functions = _learner_functions(code)
    notes: list[str] = []  # what was swapped, for messages
    swapped: list[tuple[dict[str, Any], str, Any]] = []
    defaults: list[tuple[types.FunctionType, Any, Any]] = []
    try:
        devices: list[torch.device] = []
        for space in _learner_globals(namespace, functions):
            for name in _DEVICE_NAMES:
                value = space.get(name)
                if isinstance(value, (torch.device, str)):
                    notes.append(f"`{name}`")
                    swapped.append((space, name, value))
                    space[name] = _STANDIN
                    if isinstance(value, torch.device):
                        devices.append(value)
            if space.get("get_device") is get_device:
                notes.append("`get_device`")
                swapped.append((space, "get_device", get_device))
                space["get_device"] = _standin_get_device
        # `def __init__(self, ..., device=device)` froze the notebook's device object
        # into the function's defaults when the cell ran: swap it there too.
        for fn in functions:
            positional, keyword = fn.__defaults__, fn.__kwdefaults__
            frozen = [*(positional or ()), *(keyword or {}).values()]
            if any(any(v is d for d in devices) for v in frozen):
                notes.append(f"the default `device=` of `{fn.__qualname__}`")
            if positional and any(any(v is d for d in devices) for v in positional):
                defaults.append((fn, positional, keyword))
                fn.__defaults__ = tuple(
                    _STANDIN if any(v is d for d in devices) else v for v in positional
                )
            if keyword and any(any(v is d for d in devices) for v in keyword.values()):
                if not defaults or defaults[-1][0] is not fn:
                    defaults.append((fn, positional, keyword))
                fn.__kwdefaults__ = {
                    k: _STANDIN if any(v is d for d in devices) else v for k, v in keyword.items()
                }
        yield notes
    finally:
        for fn, positional, keyword in reversed(defaults):
            fn.__defaults__, fn.__kwdefaults__ = positional, keyword
        for space, name, value in reversed(swapped):
            space[name] = value


def _is_accelerator(device: Any) -> bool:
    """Whether ``device`` (a string, a torch.device or an index) names an accelerator."""
    if isinstance(device, int) and not isinstance(device, bool):
        return True  # .cuda(0), .to(0): a GPU index
    if not isinstance(device, (str, torch.device)):
        return False
    try:
        return torch.device(device).type not in ("cpu", "meta")
    except (RuntimeError, ValueError):
        return False


class _AcceleratorToMeta(TorchFunctionMode):
    """Every tensor asked for on an accelerator is made (or moved) on the meta device."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if _is_accelerator(kwargs.get("device")):
            kwargs["device"] = _STANDIN
        if func in (torch.Tensor.cuda, _TENSOR_XPU) and args:
            return args[0].to(_STANDIN)
        if func is torch.Tensor.to:
            args = tuple(_STANDIN if _is_accelerator(a) else a for a in args)
        return func(*args, **kwargs)


_TENSOR_XPU = getattr(torch.Tensor, "xpu", torch.Tensor.cuda)


@contextlib.contextmanager
def accelerator_as_meta() -> Iterator[list[str]]:
    """While the body runs, torch says this machine has CUDA, and CUDA is the meta device.

    ``"cuda" if torch.cuda.is_available() else "cpu"`` in a learner's ``__init__`` builds
    on the CPU on a laptop and on the GPU on a GPU machine; with the answer "yes" and
    every accelerator tensor made on the meta device instead, such a module ends up on
    ``meta`` on every machine (and ``Checker.expect_built_on_cpu`` says so everywhere).

    Yields:
        The questions the body asked (``"torch.cuda.is_available()"``), in order.

    ``torch.cuda.is_available`` and ``torch.accelerator``'s answers are put back when the
    body ends, however it ends.
    """
    asked: list[str] = []

    def answer(question: str, value: Any, real: Callable[..., Any]) -> Callable[..., Any]:
        def ask(*args: Any, **kwargs: Any) -> Any:
            # torch's own code gets the real answer (an optimizer's step asks whether a
            # CUDA graph is being captured, which fails on a machine without CUDA)
            caller = str(sys._getframe(1).f_globals.get("__name__", ""))
            if caller == "torch" or caller.startswith("torch."):
                return real(*args, **kwargs)
            asked.append(question)
            return value

        return ask

    patches = [
        (
            torch.cuda,
            "is_available",
            answer("torch.cuda.is_available()", True, torch.cuda.is_available),
        )
    ]
    accelerator = getattr(torch, "accelerator", None)
    if accelerator is not None:
        patches += [
            (
                accelerator,
                "is_available",
                answer("torch.accelerator.is_available()", True, accelerator.is_available),
            ),
            (
                accelerator,
                "current_accelerator",
                answer(
                    "torch.accelerator.current_accelerator()",
                    torch.device("cuda"),
                    accelerator.current_accelerator,
                ),
            ),
        ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    try:
        for owner, name, patch in patches:
            setattr(owner, name, patch)
        with _AcceleratorToMeta():
            yield asked
    finally:
        for owner, name, value in reversed(saved):
            setattr(owner, name, value)


@dataclass
class ModuleWatch:
    """What ``watch_modules`` saw: modules of the watched kind built and called."""

    built: list[nn.Module] = field(default_factory=list)
    called: list[nn.Module] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.built or self.called)


@contextlib.contextmanager
def watch_modules(kind: type[nn.Module]) -> Iterator[ModuleWatch]:
    """Record every ``kind`` module that is built or called while the body runs.

    Uses torch's global hooks: a module that registers a parameter in ``__init__`` is
    seen being built, any module called as ``module(x)`` is seen being called.
    """
    watch = ModuleWatch()

    def on_parameter(module: nn.Module, name: str, param: Any) -> None:
        if isinstance(module, kind) and not any(m is module for m in watch.built):
            watch.built.append(module)

    def on_call(module: nn.Module, args: Any) -> None:
        if isinstance(module, kind):
            watch.called.append(module)

    handles = [
        _module_api.register_module_parameter_registration_hook(on_parameter),
        _module_api.register_module_forward_pre_hook(on_call),
    ]
    try:
        yield watch
    finally:
        for handle in handles:
            handle.remove()


# -- a CPU machine that moves like a GPU machine -------------------------------------------


class CopyOnMove(TorchFunctionMode):
    """While the body runs, .cpu() / .to("cpu") of one of ``model``'s own tensors returns a
    copy, as it does for a tensor on a GPU.

    On a CPU machine ``model.cpu()`` changes nothing, so a function that should only read a
    model but moves it to the CPU would pass on a laptop and fail on a GPU machine. Under
    this mode, a model moved to the CPU takes new storage on every machine
    (``storage_places`` sees it), while a copy that is only read changes nothing.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.own = {id(x): x for x in (*model.parameters(), *model.buffers())}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if args and self.own.get(id(args[0])) is args[0] and out is args[0]:
            to_cpu = func is torch.Tensor.cpu or (
                func is torch.Tensor.to
                and any(_is_cpu(a) for a in (*args[1:], kwargs.get("device")))
            )
            if to_cpu:
                out = out.clone()  # what a tensor on a GPU gives
        return out


def _is_cpu(value: Any) -> bool:
    if isinstance(value, torch.device):
        return value.type == "cpu"
    return isinstance(value, str) and value.split(":")[0] == "cpu"


def storage_places(model: nn.Module) -> list[tuple[str, int]]:
    """Where each parameter and buffer of ``model`` keeps its values (name, address)."""
    return [
        (name, tensor.data_ptr())
        for name, tensor in (*model.named_parameters(), *model.named_buffers())
        if tensor.numel()
    ]


# -- running learner modules on the meta device ----------------------------------------------

ON_X_DEVICE = (
    "forward makes a tensor on the CPU (torch.zeros(n), torch.tensor(...) without "
    "device=...), which breaks once the module and x are on a GPU: create it on x's device "
    "(torch.zeros_like, x.new_zeros, device=x.device) or do without it."
)
SKIPPED_ON_META = object()  # call_on_meta: torch cannot run the learner's op on meta

# `.item()` (and bool(), float() of a tensor) needs a value, which the meta device does not
# have; it works on every real device. torch.distributions checks its arguments with it.
# A torch.Generator cannot live on the meta device ("META device type not an
# accelerator"), while `torch.Generator(device=x.device)` works on the CPU and on a GPU.
_READS_VALUES = re.compile(
    r"cannot be called on meta tensors|meta device type not an accelerator", re.IGNORECASE
)


def call_on_meta(layer: nn.Module, x: torch.Tensor, *args: object) -> object:
    """``layer(x, *args)`` for x on the meta device; ``SKIPPED_ON_META`` when torch cannot
    run one of the learner's operations there (one that reads values, say)."""
    try:
        return layer(x, *args)
    except NotImplementedError as exc:  # "... with Meta tensors, but there was no ... kernel"
        if _META_WORD.search(str(exc)):
            return SKIPPED_ON_META
        raise
    except RuntimeError as exc:  # "Tensor.item() cannot be called on meta tensors"
        if _READS_VALUES.search(str(exc)):
            return SKIPPED_ON_META
        raise


def count_hooks(model: nn.Module) -> dict[str, int]:
    """The hooks registered on ``model`` and each submodule, by qualified name (non-zero
    counts only; forward, backward, state_dict and load_state_dict hooks alike).

    Reads the hook dicts directly, so a learner's method cannot hide a hook.
    """
    counts: dict[str, int] = {}
    for name, module in model.named_modules(remove_duplicate=True):
        n = sum(
            len(vars(module).get(d) or ())
            for d in MODULE_HOOK_DICTS
            if not d.endswith(("with_kwargs", "always_called"))
        )
        if n:
            counts[name or "(the model)"] = n
    return counts


def count_global_hooks() -> int:
    """How many global module hooks are registered (``register_module_forward_hook``...).

    ``*_with_kwargs`` and ``*_always_called`` only flag hooks counted in another registry.
    """
    return sum(
        len(getattr(_module_api, name))
        for name in GLOBAL_HOOK_REGISTRIES
        if not name.endswith(("with_kwargs", "always_called"))
    )
