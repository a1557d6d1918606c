"""The check of ``05.clip_gradient``: ``clip_gradient(tensor, max_norm)`` registers a tensor
hook that rescales each incoming gradient to an L2 norm of at most ``max_norm`` (a new
tensor, never in place) and returns the hook's handle.

Every gradient is fed in as ``(x * g).sum().backward()``, so the gradient flowing into x
is exactly g. Before the learner's hook, the check registers an observer hook of its own
on the same tensor: torch runs a tensor's hooks in the order they were registered and
hands the observer's (unchanged) argument to the next hook, so the observer keeps the very
tensor the learner's hook receives, and a copy of it; a hook that changes its argument in
place is seen there. (The gradient a hook receives may be another tensor's gradient too:
for ``x + y`` autograd hands the same tensor to x and y.)

Decisions the contract leaves to the check, verified with torch 2.13:
- "each incoming gradient": a tensor used twice in one graph gets ONE hook call, with the
  sum of both contributions (leaf or not), so "incoming" means per backward pass: the
  check runs two backward passes into one leaf and wants the clipped gradients added up
  in ``.grad``, not the sum clipped (which a post-accumulate-grad hook gives);
- "equals max_norm": values are compared with rtol 1e-5; the norms fed in above max_norm
  (4) are at least twice as large, so torch's own formula, ``max_norm / (norm + 1e-6)``,
  is off by under 1.3e-7 relative and passes on every seed and dtype (a clip_grad_norm_
  copy is right, not a near miss);
- no gradient has a norm of exactly max_norm (``>`` and ``>=`` are both right);
- a zero gradient is one smaller than max_norm, so it passes unchanged (no NaN from 0/0).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any

import torch

from helpers.checks.core import Checker, describe, equal, mismatch_facts, plain, preview, task
from helpers.checks.lesson05.common import NOTEBOOK

MAX_NORM = 4.0  # not 1 (a gradient divided by its norm alone has norm 1), and above
# sqrt(12), the largest ratio of L1 to L2 norm of a (3, 4) gradient: no L1 mistake looks like it


class _Observer:
    """A tensor hook that keeps each gradient it receives, and a copy of it."""

    def __init__(self) -> None:
        self.seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def __call__(self, grad: torch.Tensor) -> None:
        self.seen.append((grad, grad.detach().clone()))

    def changed(self) -> bool:
        """Whether a gradient it kept changed after it was kept (in place)."""
        return any(not equal(grad, copy) for grad, copy in self.seen)


def _hook_count(tensor: torch.Tensor) -> int:
    """The tensor's hooks: tensor hooks and post-accumulate-grad hooks."""
    return len(tensor._backward_hooks or ()) + len(tensor._post_accumulate_grad_hooks or ())


def _leaf(*shape: int) -> torch.Tensor:
    return torch.randn(*shape).requires_grad_()


def _direction(*shape: int) -> torch.Tensor:
    """A random tensor of L2 norm 1."""
    v = torch.randn(*shape)
    return v / v.norm()


def _rows(*norms: float) -> torch.Tensor:
    """A (len(norms), 4) gradient whose rows have these L2 norms."""
    return torch.stack([_direction(4) * n for n in norms])


def _clipped(g: torch.Tensor, max_norm: float = MAX_NORM) -> torch.Tensor:
    norm = float(g.double().norm())
    return g * (max_norm / norm) if norm > max_norm else g.clone()


def _close(a: Any, b: torch.Tensor, *, rtol: float = 1e-5, atol: float = 1e-6) -> bool:
    return (
        isinstance(a, torch.Tensor)
        and a.shape == b.shape
        and a.dtype == b.dtype
        and not mismatch_facts(a, b, rtol=rtol, atol=atol)
    )


def _quietly(fn: Callable[..., Any], *args: Any) -> Any:
    """Learner code run only to find a hint: an exception it raises means no answer."""
    try:
        return fn(*args)
    except Exception:
        return None


# -- hints -------------------------------------------------------------------------------------

ELEMENTWISE = (
    "Each element was clamped to [-max_norm, max_norm] (clamp, clip_grad_value_), which "
    "turns the gradient: rescale the whole of it by one factor, grad * (max_norm / norm) "
    "with norm = grad.norm()."
)
PER_ROW = (
    "The norm was taken per row or per column (a dim= argument): take one L2 norm over the "
    "whole tensor, grad.norm() without dim, and rescale every element by the same factor."
)
NORMALIZE = (
    "F.normalize normalizes each row (dim=1 by default): normalize the whole tensor, "
    "F.normalize(grad.flatten(), dim=0).view_as(grad), or write grad * (max_norm / grad.norm())."
)
SPECTRAL = (
    "torch.linalg.norm(grad, 2) of a matrix is its largest singular value, not the L2 norm "
    "of all its elements: use grad.norm() or torch.linalg.vector_norm(grad)."
)
OTHER_NORM = (
    "That is another norm (the sum of absolute values, or the largest one): the L2 norm is "
    "the square root of the sum of squares over the whole tensor, grad.norm()."
)
UNIT = (
    "The gradient was divided by its norm (norm 1) but not multiplied by max_norm: return "
    "grad * (max_norm / norm)."
)
NO_SQRT = (
    "The sum of squares is the squared norm: take its square root (grad.norm() does it) "
    "before comparing with max_norm and dividing."
)
RMS = (
    "That is the root of the mean of the squares: the L2 norm is the root of their sum, "
    "grad.norm()."
)
ASSIGNED_GRAD = (
    "The hook set tensor.grad, and autograd then added the incoming gradient to it: return "
    "the rescaled gradient from the hook instead (its return value replaces the gradient)."
)
UPSIDE_DOWN = "The factor is upside down: scale by max_norm / norm, not norm / max_norm."
INVERTED = (
    "The test is inverted: rescale when the norm is larger than max_norm, and let smaller "
    "gradients pass unchanged."
)
ACTS_ON_GRAD = (
    "The hook changed tensor.grad (clip_grad_norm_ does), the gradient accumulated so far, "
    "which is None during the first backward pass; the incoming gradient is the hook's "
    "argument: return it rescaled."
)
NO_RETURN = (
    "The hook runs but the gradient passes unchanged: a tensor hook's return value replaces "
    "the gradient, so return the rescaled tensor (a hook that returns None leaves it as it "
    "was)."
)
NO_HOOK = (
    "No hook was registered on the tensor: register one with tensor.register_hook(hook), "
    "which runs during each backward pass, and return its handle."
)
IN_PLACE = (
    "The hook changed the gradient it was given in place (*=, mul_, div_, copy_, or through "
    ".data / .detach()): that tensor may be another tensor's gradient too (x + y hands the "
    "same one to both). Compute a new tensor, grad * scale, and return it."
)
ALWAYS = (
    "A gradient smaller than max_norm was rescaled up to max_norm: rescale only when the "
    "norm is larger than max_norm, and return smaller gradients as they are."
)
NAN = (
    "A zero gradient became NaN (0 / 0): rescale only when the norm is larger than "
    "max_norm, or multiply by (max_norm / norm).clamp(max=1), which is 1 for a zero gradient."
)
POST_ACCUMULATE = (
    "register_post_accumulate_grad_hook acts on the accumulated .grad (and exists only for "
    "leaves): clip each incoming gradient with tensor.register_hook(hook), whose argument is "
    "the gradient flowing in and whose return value replaces it."
)
GRAD_IS_NONE = (
    "tensor.grad is None until a backward pass has run (and a leaf has no grad_fn), and .grad "
    "is the accumulated gradient anyway: register the hook on the tensor itself, "
    "tensor.register_hook(hook), and work on the hook's argument, the gradient flowing in."
)

_BACKWARD_HINTS = (
    (
        "has changed the size of value",
        "The hook returned a tensor of another shape (clip_grad_norm_ returns the total norm, "
        "not a gradient): return the rescaled gradient, shaped like the one it was given.",
    ),
    (
        "but hook returned",
        "A tensor hook returns a tensor (the new gradient) or None: return grad * scale, "
        "not a number.",
    ),
    (
        "has changed the type of value",
        "The hook returned a gradient of another dtype: keep the gradient's dtype (scale by "
        "a Python float, or a tensor of grad's dtype).",
    ),
    ("more than one element of the written-to tensor", IN_PLACE),
    ("'NoneType' object has no attribute", GRAD_IS_NONE),
    (
        "Boolean value of Tensor with more than one value is ambiguous",
        "`if` needs one number: compare the norm over the whole tensor, grad.norm() without "
        "dim, with max_norm.",
    ),
)
_REGISTER_HINTS = (
    ("post accumulate grad hooks cannot be registered on non-leaf", POST_ACCUMULATE),
    ("'NoneType' object has no attribute", GRAD_IS_NONE),
)


def _expect_handle(t: Checker, handle: Any, what: str) -> Callable[[], Any]:
    """``handle`` must be what registering a hook returns: an object with ``remove()``."""
    remove = None
    with contextlib.suppress(Exception):
        remove = getattr(handle, "remove", None)
    if callable(remove) and not isinstance(handle, torch.Tensor):
        return remove
    if handle is None:
        hint = (
            "clip_gradient returns None: end it with `return tensor.register_hook(hook)`; "
            "the handle that call returns is what removes the hook later."
        )
    elif isinstance(handle, torch.Tensor) and handle.dim() == 0:
        hint = (
            "clip_gradient returned a number tensor: clip_grad_norm_ clips .grad once, right "
            "away (there is none yet), and returns the norm. Register a hook that clips "
            "every incoming gradient, tensor.register_hook(hook), and return its handle."
        )
    elif isinstance(handle, torch.Tensor):
        hint = (
            "clip_gradient returned a tensor: register the hook with "
            "tensor.register_hook(hook) and return the handle that call returns."
        )
    elif callable(handle):
        hint = (
            "clip_gradient returned the hook function, not its handle: return what "
            "tensor.register_hook(hook) returns (a RemovableHandle)."
        )
    else:
        hint = (
            "Return the handle that tensor.register_hook(hook) returns: an object whose "
            "remove() takes the hook off the tensor."
        )
    t.fail(
        f"{what} did not return the hook's handle",
        expected="a handle with a remove() method (torch.utils.hooks.RemovableHandle)",
        got=describe(handle),
        hint=hint,
    )


def _backward(t: Checker, x: torch.Tensor, g: torch.Tensor, what: str) -> None:
    """Run a backward pass in which the gradient flowing into ``x`` is ``g``."""
    loss = (x * g).sum()
    t.call(loss.backward, what=what, hints=_BACKWARD_HINTS)


def _grad_of(t: Checker, x: torch.Tensor, name: str) -> torch.Tensor:
    if x.grad is None:
        t.fail(
            f"no gradient reached {name}",
            expected=f"{name}.grad holds the clipped gradient",
            got=f"{name}.grad is None",
            hint="Return the rescaled gradient from the hook (a tensor shaped like its "
            "argument); the hook must not stop it or replace .grad.",
        )
    return plain(x.grad).detach().clone()


@task(
    "05.clip_gradient",
    title="Clip a tensor's incoming gradient",
    names=["clip_gradient"],
    notebook=NOTEBOOK,
)
def check_clip_gradient(t: Checker) -> None:
    clip_gradient = t.function("clip_gradient")
    handles: list[Any] = []  # the check's own observer hooks, removed at the end
    try:
        _check(t, clip_gradient, handles)
    finally:
        for handle in handles:
            handle.remove()


def _register(
    t: Checker, clip_gradient: Callable[..., Any], tensor: torch.Tensor, handles: list[Any]
) -> tuple[Callable[[], Any], _Observer, bool]:
    """The check's observer, then the learner's hook, on ``tensor``: (remove, observer,
    whether the learner added a hook)."""
    observer = _Observer()
    handles.append(tensor.register_hook(observer))
    before = _hook_count(tensor)
    call = f"clip_gradient(x, max_norm={MAX_NORM})"
    handle = t.call(clip_gradient, tensor, MAX_NORM, what=call, hints=_REGISTER_HINTS)
    remove = _expect_handle(t, handle, call)
    return remove, observer, _hook_count(tensor) > before


def _check(t: Checker, clip_gradient: Callable[..., Any], handles: list[Any]) -> None:
    with t.probe(f"clip_gradient(x, max_norm={MAX_NORM}) returns the hook's handle (x a leaf)"):
        x = _leaf(3, 4)
        remove, observer, added = _register(t, clip_gradient, x, handles)

    with t.probe(
        f"a leaf's incoming gradient with a norm above {MAX_NORM} is rescaled to norm "
        f"{MAX_NORM}, its direction kept"
    ):
        # rows of norms 0.5, 2.5 and 4 times max_norm: per-row mistakes show, and some
        # elements are larger than max_norm, so an elementwise clamp shows too
        g = _rows(0.5 * MAX_NORM, 2.5 * MAX_NORM, 4 * MAX_NORM)
        _backward(t, x, g, "backward into x")
        got = _grad_of(t, x, "x")
        _expect_clipped(t, got, g, clip_gradient, added)

    with t.probe("the gradient is rescaled as a new tensor, never in place"):
        if observer.changed():
            grad, copy = observer.seen[-1]
            t.fail(
                "the hook changed its argument in place",
                expected=f"the gradient the hook received keeps its values, {preview(copy)}",
                got=f"it now holds {preview(grad)}",
                hint=IN_PLACE,
            )

    with t.probe(f"gradients with a norm below {MAX_NORM} pass unchanged (a zero one too)"):
        for what, g in (
            ("a gradient of norm 0.4 × max_norm", _direction(2, 5) * (0.4 * MAX_NORM)),
            ("a zero gradient", torch.zeros(2, 5)),
        ):
            y = _leaf(2, 5)
            _register(t, clip_gradient, y, handles)
            _backward(t, y, g, f"backward into x ({what})")
            got = _grad_of(t, y, "x")
            if _close(got, g):
                continue
            if bool(torch.isnan(got).any()):
                hint = NAN
            elif g.norm() > 0 and _close(got, g * (MAX_NORM / g.norm())):
                hint = ALWAYS
            else:
                hint = "Return the gradient as it is when its norm is at most max_norm."
            t.fail(
                f"{what} was changed",
                expected=f"x.grad equal to the gradient, {preview(g)}",
                got=f"x.grad {preview(got)}",
                facts=mismatch_facts(got, g, rtol=1e-5, atol=1e-6),
                hint=hint,
            )

    with t.probe(
        "each incoming gradient is clipped, not the accumulated .grad (two backward passes)"
    ):
        y = _leaf(3, 4)
        _register(t, clip_gradient, y, handles)
        u1 = _direction(3, 4)
        g1 = u1 * (3 * MAX_NORM)
        turned = u1 + 0.5 * _direction(3, 4)  # another direction, not opposite to u1
        g2 = turned / turned.norm() * (2 * MAX_NORM)
        _backward(t, y, g1, "the first backward into x")
        _backward(t, y, g2, "the second backward into x")
        got = _grad_of(t, y, "x")
        expected = _clipped(g1) + _clipped(g2)
        if not _close(got, expected):
            post = _clipped(_clipped(g1) + g2)
            t.fail(
                "x.grad after two backward passes is not the sum of the clipped gradients",
                expected=f"clip(g1) + clip(g2), {preview(expected)}",
                got=preview(got),
                facts=mismatch_facts(got, expected, rtol=1e-5, atol=1e-6),
                hint=POST_ACCUMULATE
                if _close(got, post)
                else "Clip each gradient flowing in (the hook's argument) during each "
                "backward pass; autograd adds the clipped ones up in .grad.",
            )

    with t.probe("an intermediate result (not a leaf) gets its incoming gradient clipped too"):
        a = _leaf(2, 3, 4)
        h = a * 2  # the gradient reaching a is twice the one leaving h's hooks
        inner = _Observer()
        handles.append(h.register_hook(inner))
        call = f"clip_gradient(h, max_norm={MAX_NORM}) with h = a * 2"
        handle = t.call(clip_gradient, h, MAX_NORM, what=call, hints=_REGISTER_HINTS)
        _expect_handle(t, handle, call)
        g = _direction(2, 3, 4) * (3 * MAX_NORM)
        loss = (h * g).sum()
        t.call(loss.backward, what="backward through h", hints=_BACKWARD_HINTS)
        got = _grad_of(t, a, "a")
        expected = 2 * _clipped(g)
        if not _close(got, expected):
            t.fail(
                "the gradient flowing into the intermediate result h is not clipped",
                expected=f"a.grad = 2 × clip(g), {preview(expected)}",
                got=f"a.grad {preview(got)}",
                facts=mismatch_facts(got, expected, rtol=1e-5, atol=1e-6),
                hint="Register the hook with h.register_hook(hook): it works on any tensor "
                "that requires grad, leaf or not, and its return value replaces the "
                "gradient flowing in.",
            )
        if inner.changed():
            t.fail(
                "the hook changed its argument in place",
                expected="the gradient the hook received keeps its values",
                got=f"it now holds {preview(inner.seen[-1][0])}",
                hint=IN_PLACE,
            )

    with t.probe("handle.remove() removes the hook: gradients then pass unchanged"):
        x.grad = None
        t.call(remove, what="handle.remove()")
        g = _direction(3, 4) * (3 * MAX_NORM)
        _backward(t, x, g, "backward into x after handle.remove()")
        got = _grad_of(t, x, "x")
        left = _hook_count(x) - 1  # the check's observer stays until the end
        if not _close(got, g) or left > 0:
            t.fail(
                "the hook still acts after handle.remove()",
                expected="x.grad equal to the gradient fed in, and no hook of yours on x",
                got=f"x.grad {preview(got)}; {max(left, 0)} hook(s) still on x",
                hint="Register exactly one hook in clip_gradient and return its handle: "
                "handle.remove() removes only the hook it belongs to.",
            )


def _expect_clipped(
    t: Checker,
    got: torch.Tensor,
    g: torch.Tensor,
    clip_gradient: Callable[..., Any],
    added: bool,
) -> None:
    """``got``, the gradient that reached a fresh leaf, must be ``g`` rescaled to MAX_NORM."""
    expected = _clipped(g)
    if _close(got, expected):
        return
    if _close(got, g):
        hint = _unchanged_hint(clip_gradient, added)
    else:
        hint = next(
            (text for wrong, text in _wrong_answers(g) if _close(got, wrong)),
            "Rescale by one factor: grad * (max_norm / grad.norm()) when grad.norm() is "
            "larger than max_norm.",
        )
    facts = mismatch_facts(got, expected, rtol=1e-5, atol=1e-6) if got.shape == g.shape else []
    t.fail(
        "the gradient is not rescaled to norm max_norm",
        expected=f"x.grad of norm {MAX_NORM}: {preview(expected)}",
        got=f"x.grad of norm {float(got.double().norm()):.4g}: {preview(got)}",
        facts=[f"the gradient fed in: norm {float(g.double().norm()):.4g}", *facts],
        hint=hint,
    )


def _wrong_answers(g: torch.Tensor) -> list[tuple[torch.Tensor, str]]:
    """What known mistakes make of the gradient ``g`` (2-D), with their hints."""
    m, n = MAX_NORM, g.norm()

    def scaled(norm: torch.Tensor) -> torch.Tensor:
        return torch.where(norm > m, g * (m / norm), g)

    rows = g.norm(dim=1, keepdim=True)
    columns = g.norm(dim=0, keepdim=True)
    return [
        (g.clamp(-m, m), ELEMENTWISE),
        (g.clamp(max=m), ELEMENTWISE),
        (scaled(rows), PER_ROW),
        (scaled(columns), PER_ROW),
        (torch.nn.functional.normalize(g) * m, NORMALIZE),
        (scaled(torch.linalg.matrix_norm(g, ord=2)), SPECTRAL),
        (scaled(g.abs().sum()), OTHER_NORM),
        (scaled(g.abs().max()), OTHER_NORM),
        (g / n, UNIT),
        (scaled(n * n), NO_SQRT),
        (scaled(n / math.sqrt(g.numel())), RMS),
        (g * (m / n) + g, ASSIGNED_GRAD),
        (g * (n / m), UPSIDE_DOWN),
    ]


def _unchanged_hint(clip_gradient: Callable[..., Any], added: bool) -> str:
    """Why a gradient above max_norm passed unchanged, found by running the learner's
    function again on fresh leaves (quietly: an exception means no answer)."""
    if not added:
        return NO_HOOK
    # a small gradient rescaled up to max_norm: the test is the wrong way round
    x = _leaf(3, 4)
    small = _direction(3, 4) * (0.4 * MAX_NORM)
    if _quietly(clip_gradient, x, MAX_NORM) is not None:
        _quietly(lambda: (x * small).sum().backward())
        if x.grad is not None and _close(x.grad, small * (MAX_NORM / small.norm())):
            return INVERTED
    # a .grad already there, clipped by the hook: it works on .grad, not on its argument
    x = _leaf(3, 4)
    old = _direction(3, 4) * (3 * MAX_NORM)
    incoming = _direction(3, 4)  # norm 1: passes unchanged
    x.grad = old.clone()
    if _quietly(clip_gradient, x, MAX_NORM) is not None:
        _quietly(lambda: (x * incoming).sum().backward())
        if x.grad is not None and _close(x.grad, _clipped(old) + incoming):
            return ACTS_ON_GRAD
    return NO_RETURN
