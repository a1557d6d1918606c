"""Lesson 05: mistakes learners make writing clamp_inputs (a forward pre-hook) and
clip_gradient (a tensor hook), and correct solutions written in other ways. Function names
say what is wrong or different."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch.nn.modules import module as module_api

from catalogue import correct, mistake
from helpers.hooks import Hooks

# -- 05.clamp_inputs: mistakes ----------------------------------------------------------------


@mistake("05.clamp_inputs", hint="the module lost its other inputs")
def clamp_returning_a_tensor(module, low, high):
    # the tensor alone: torch wraps it into a 1-tuple, dropping every later input
    return module.register_forward_pre_hook(lambda m, args: args[0].clamp(low, high))


@mistake("05.clamp_inputs", hint="so a list arrives as one argument")
def clamp_returning_a_list(module, low, high):
    def hook(m, args):
        new = list(args)
        new[0] = new[0].clamp(low, high)
        return new  # a list is not a tuple: wrapped into a 1-tuple

    return module.register_forward_pre_hook(hook)


@mistake("05.clamp_inputs", hint="The input arrives twice")
def clamp_repeating_the_input(module, low, high):
    return module.register_forward_pre_hook(lambda m, args: (args[0].clamp(low, high), *args))


@mistake("05.clamp_inputs", hint="args[1:] arrived as one more argument")
def clamp_without_unpacking(module, low, high):
    return module.register_forward_pre_hook(lambda m, args: (args[0].clamp(low, high), args[1:]))


@mistake("05.clamp_inputs", hint="clamped the caller's tensor in place")
def clamp_in_place(module, low, high):
    def hook(m, args):
        args[0].clamp_(low, high)  # the module sees it clamped, and so does the caller

    return module.register_forward_pre_hook(hook)


@mistake("05.clamp_inputs", hint="A forward hook runs after forward")
def clamp_in_a_forward_hook(module, low, high):
    def hook(m, args, output):
        args = (args[0].clamp(low, high), *args[1:])  # too late: forward has run

    return module.register_forward_hook(hook)


@mistake("05.clamp_inputs", hint="The output was clamped, not the input")
def clamp_the_output(module, low, high):
    return module.register_forward_hook(lambda m, args, output: output.clamp(low, high))


@mistake("05.clamp_inputs", hint="Only the first positional input is clamped")
def clamp_every_input(module, low, high):
    return module.register_forward_pre_hook(lambda m, args: tuple(a.clamp(low, high) for a in args))


@mistake("05.clamp_inputs", hint="Keyword arguments reach forward untouched unless")
def clamp_dropping_kwargs(module, low, high):
    def hook(m, args, kwargs):
        return (args[0].clamp(low, high), *args[1:]), {}

    return module.register_forward_pre_hook(hook, with_kwargs=True)


@mistake("05.clamp_inputs", hint="clamp_inputs returns None")
def clamp_without_returning_the_handle(module, low, high):
    module.register_forward_pre_hook(lambda m, args: (args[0].clamp(low, high), *args[1:]))


@mistake("05.clamp_inputs", hint="returned the hook function, not its handle")
def clamp_returning_the_hook(module, low, high):
    def hook(m, args):
        return (args[0].clamp(low, high), *args[1:])

    module.register_forward_pre_hook(hook)
    return hook


@mistake("05.clamp_inputs", hint="clamp_inputs returned the module")
def clamp_returning_the_module(module, low, high):
    module.register_forward_pre_hook(lambda m, args: (args[0].clamp(low, high), *args[1:]))
    return module  # "for chaining"


@mistake("05.clamp_inputs", hint="the bounds are swapped")
def clamp_with_swapped_bounds(module, low, high):
    return module.register_forward_pre_hook(
        lambda m, args: (torch.clamp(args[0], min=high, max=low), *args[1:])
    )


@mistake("05.clamp_inputs", hint="Only values below low were raised")
def clamp_from_below_only(module, low, high):
    return module.register_forward_pre_hook(
        lambda m, args: (args[0].clamp(min=low), *args[1:])  # high forgotten
    )


@mistake("05.clamp_inputs", hint="Python's min() and max() compare whole tensors")
def clamp_with_builtin_min_max(module, low, high):
    return module.register_forward_pre_hook(
        lambda m, args: (max(low, min(args[0], high)), *args[1:])
    )


@mistake("05.clamp_inputs", hint="The pre-hook runs but changes nothing")
def clamp_returning_nothing(module, low, high):
    def hook(m, args):
        x = args[0]
        x = x.clamp(low, high)  # rebinds a local name; the hook returns None

    return module.register_forward_pre_hook(hook)


@mistake("05.clamp_inputs", hint="args is a tuple, which cannot be changed")
def clamp_assigning_into_args(module, low, high):
    def hook(m, args):
        args[0] = args[0].clamp(low, high)
        return args

    return module.register_forward_pre_hook(hook)


@mistake("05.clamp_inputs", hint="torch calls a forward pre-hook as hook(module, args)")
def clamp_with_a_forward_hook_signature(module, low, high):
    def hook(m, args, output):
        return (args[0].clamp(low, high), *args[1:])

    return module.register_forward_pre_hook(hook)


@mistake("05.clamp_inputs", hint="A pre-hook registered with with_kwargs=True returns None")
def clamp_with_kwargs_returning_args_only(module, low, high):
    def hook(m, args, kwargs):
        return (args[0].clamp(low, high), *args[1:])  # kwargs not returned

    return module.register_forward_pre_hook(hook, with_kwargs=True)


@mistake("05.clamp_inputs", hint="handle.remove() removes only the hook it belongs to")
def clamp_registered_twice(module, low, high):
    def hook(m, args):
        return (args[0].clamp(low, high), *args[1:])

    module.register_forward_pre_hook(hook)  # a first try, left in the cell
    return module.register_forward_pre_hook(hook)


class _SaysItIsClose(torch.Tensor):
    """Hostile: a tensor subclass whose torch.isclose / torch.equal answer yes to anything."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.isclose, torch.Tensor.isclose):
            return torch.ones(args[0].shape, dtype=torch.bool)
        if func in (torch.equal, torch.allclose):
            return True
        return super().__torch_function__(func, types, args, kwargs)


@mistake("05.clamp_inputs", hint="Return (args[0].clamp(low, high), *args[1:]) from the pre-hook.")
def clamp_to_zeros_that_say_they_are_close(module, low, high):
    """Hostile: zeros as a tensor subclass that agrees with every comparison."""
    return module.register_forward_pre_hook(
        lambda m, args: (torch.zeros_like(args[0]).as_subclass(_SaysItIsClose), *args[1:])
    )


# -- 05.clamp_inputs: correct alternatives ----------------------------------------------------


@correct("05.clamp_inputs")
def clamp_reference_lambda(module, low, high):
    """The lesson's one-liner."""
    return module.register_forward_pre_hook(lambda m, args: (args[0].clamp(low, high), *args[1:]))


@correct("05.clamp_inputs")
def clamp_with_kwargs(module, low, high):
    """with_kwargs=True, kwargs handed back; torch.clip; prepend=True."""

    def hook(m, args, kwargs):
        first, *rest = args
        return (torch.clip(first, low, high), *rest), kwargs

    return module.register_forward_pre_hook(hook, with_kwargs=True, prepend=True)


@correct("05.clamp_inputs")
def clamp_with_where(module, low, high):
    """torch.where on both sides; a named inner function with other parameter names."""

    def clamp_first(m, inputs):
        x = inputs[0]
        x = torch.where(x < low, torch.full_like(x, low), x)
        x = torch.where(x > high, torch.full_like(x, high), x)
        return (x, *inputs[1:])

    return module.register_forward_pre_hook(clamp_first)


class _ClampFirst:
    """A callable hook object holding its bounds."""

    def __init__(self, low, high):
        self.low, self.high = low, high

    def __call__(self, module, args):
        return (
            torch.minimum(
                torch.maximum(args[0], _scalar(self.low, args[0])), _scalar(self.high, args[0])
            ),
            *args[1:],
        )


def _scalar(value, like):
    return torch.tensor(value, dtype=like.dtype, device=like.device)


@correct("05.clamp_inputs")
def clamp_with_a_hook_object(module, low, high):
    """A callable object as the hook; torch.minimum / torch.maximum with 0-dim tensors."""
    return module.register_forward_pre_hook(_ClampFirst(low, high))


@correct("05.clamp_inputs")
def clamp_with_the_hooks_helper(module, low, high):
    """helpers.hooks.Hooks registers and returns the handle; functools.partial as the hook."""

    def clamp_first(m, args, *, low, high):
        return (args[0].clamp(min=low, max=high), *args[1:])

    return Hooks().forward_pre(module, functools.partial(clamp_first, low=low, high=high))


@correct("05.clamp_inputs")
def clamp_with_a_global_pre_hook(module, low, high):
    """A global forward pre-hook that acts on this module only."""

    def hook(m, args):
        if m is module:
            return (args[0].clamp(low, high), *args[1:])
        return None

    return module_api.register_module_forward_pre_hook(hook)


# -- 05.clip_gradient: mistakes ---------------------------------------------------------------


@mistake("05.clip_gradient", hint="Each element was clamped to [-max_norm, max_norm]")
def clip_each_element(tensor, max_norm):
    return tensor.register_hook(lambda grad: grad.clamp(-max_norm, max_norm))


@mistake("05.clip_gradient", hint="changed the gradient it was given in place")
def clip_in_place(tensor, max_norm):
    def hook(grad):
        norm = grad.norm()
        if norm > max_norm:
            grad *= max_norm / norm  # in place: the tensor autograd handed over
        return grad

    return tensor.register_hook(hook)


@mistake("05.clip_gradient", hint="A gradient smaller than max_norm was rescaled up")
def clip_always(tensor, max_norm):
    return tensor.register_hook(lambda grad: grad * (max_norm / grad.norm()))


@mistake("05.clip_gradient", hint="The norm was taken per row or per column")
def clip_per_row(tensor, max_norm):
    def hook(grad):
        norms = grad.norm(dim=-1, keepdim=True)
        return grad * (max_norm / norms).clamp(max=1)

    return tensor.register_hook(hook)


@mistake("05.clip_gradient", hint="F.normalize normalizes each row")
def clip_with_f_normalize(tensor, max_norm):
    def hook(grad):
        if grad.norm() > max_norm:
            return F.normalize(grad) * max_norm  # dim=1 by default
        return grad

    return tensor.register_hook(hook)


@mistake("05.clip_gradient", hint="largest singular value")
def clip_with_linalg_norm_ord_2(tensor, max_norm):
    def hook(grad):
        norm = torch.linalg.norm(grad, 2)  # "the 2-norm": of a matrix, the spectral norm
        return grad * (max_norm / norm) if norm > max_norm else grad

    return tensor.register_hook(hook)


@mistake("05.clip_gradient", hint="clip_grad_norm_ clips .grad once, right away")
def clip_with_clip_grad_norm(tensor, max_norm):
    return torch.nn.utils.clip_grad_norm_([tensor], max_norm)


@mistake("05.clip_gradient", hint="The hook changed tensor.grad (clip_grad_norm_ does)")
def clip_grad_norm_in_a_hook(tensor, max_norm):
    def hook(grad):
        torch.nn.utils.clip_grad_norm_([tensor], max_norm)  # acts on tensor.grad

    return tensor.register_hook(hook)


@mistake("05.clip_gradient", hint="clip_grad_norm_ returns the total norm, not a gradient")
def clip_returning_clip_grad_norm(tensor, max_norm):
    return tensor.register_hook(lambda grad: torch.nn.utils.clip_grad_norm_([tensor], max_norm))


@mistake("05.clip_gradient", hint="register_post_accumulate_grad_hook acts on the accumulated")
def clip_after_accumulation(tensor, max_norm):
    def hook(t):
        norm = t.grad.norm()
        if norm > max_norm:
            t.grad.mul_(max_norm / norm)

    return tensor.register_post_accumulate_grad_hook(hook)


@mistake("05.clip_gradient", hint="tensor.grad is None until a backward pass has run")
def clip_hooking_dot_grad(tensor, max_norm):
    def hook(grad):
        norm = grad.norm()
        return grad * (max_norm / norm) if norm > max_norm else grad

    return tensor.grad.register_hook(hook)


@mistake("05.clip_gradient", hint="a tensor hook's return value replaces the gradient, so")
def clip_without_returning_from_the_hook(tensor, max_norm):
    def hook(grad):
        norm = grad.norm()
        if norm > max_norm:
            grad = grad * (max_norm / norm)  # rebinds the local name only

    return tensor.register_hook(hook)


@mistake("05.clip_gradient", hint="returned the hook function, not its handle")
def clip_returning_the_hook(tensor, max_norm):
    def hook(grad):
        norm = grad.norm()
        return grad * (max_norm / norm) if norm > max_norm else grad

    tensor.register_hook(hook)
    return hook


@mistake("05.clip_gradient", hint="clip_gradient returns None")
def clip_without_returning_the_handle(tensor, max_norm):
    def hook(grad):
        norm = grad.norm()
        return grad * (max_norm / norm) if norm > max_norm else grad

    tensor.register_hook(hook)


@mistake("05.clip_gradient", hint="but not multiplied by max_norm")
def clip_to_unit_norm(tensor, max_norm):
    def hook(grad):
        norm = grad.norm()
        return grad / norm if norm > max_norm else grad

    return tensor.register_hook(hook)


@mistake("05.clip_gradient", hint="The sum of squares is the squared norm")
def clip_without_square_root(tensor, max_norm):
    def hook(grad):
        norm = (grad**2).sum()
        return grad * (max_norm / norm) if norm > max_norm else grad

    return tensor.register_hook(hook)


@mistake("05.clip_gradient", hint="The test is inverted")
def clip_with_the_test_inverted(tensor, max_norm):
    def hook(grad):
        norm = grad.norm()
        return grad * (max_norm / norm) if norm < max_norm else grad

    return tensor.register_hook(hook)


@mistake("05.clip_gradient", hint="The hook set tensor.grad")
def clip_assigning_dot_grad(tensor, max_norm):
    def hook(grad):
        norm = grad.norm()
        tensor.grad = grad * (max_norm / norm) if norm > max_norm else grad

    return tensor.register_hook(hook)


@mistake("05.clip_gradient", hint="A zero gradient became NaN")
def clip_dividing_first(tensor, max_norm):
    def hook(grad):
        norm = grad.norm()
        return grad / norm * norm.clamp(max=max_norm)  # 0 / 0 for a zero gradient

    return tensor.register_hook(hook)


@mistake("05.clip_gradient", hint="That is another norm")
def clip_with_the_l1_norm(tensor, max_norm):
    def hook(grad):
        norm = grad.abs().sum()
        return grad * (max_norm / norm) if norm > max_norm else grad

    return tensor.register_hook(hook)


@mistake("05.clip_gradient", hint="handle.remove() removes only the hook it belongs to")
def clip_registered_twice(tensor, max_norm):
    def hook(grad):
        norm = grad.norm()
        return grad * (max_norm / norm) if norm > max_norm else grad

    tensor.register_hook(lambda grad: None)  # a debugging print hook, left behind
    handle = tensor.register_hook(hook)
    tensor.register_hook(hook)  # the cell was run twice
    return handle


# -- 05.clip_gradient: correct alternatives ---------------------------------------------------


@correct("05.clip_gradient")
def clip_reference_style(tensor, max_norm):
    """The lesson's one-liner: a conditional expression with the walrus operator."""
    return tensor.register_hook(lambda g: g * (max_norm / n) if (n := g.norm()) > max_norm else g)


@correct("05.clip_gradient")
def clip_with_a_clamped_factor(tensor, max_norm):
    """One factor for every gradient, (max_norm / norm).clamp(max=1); vector_norm."""

    def hook(grad):
        factor = (max_norm / torch.linalg.vector_norm(grad)).clamp(max=1)
        return grad * factor

    return tensor.register_hook(hook)


@correct("05.clip_gradient")
def clip_with_torch_eps(tensor, max_norm):
    """torch's own clip_grad_norm_ formula, max_norm / (norm + 1e-6); torch.where."""

    def hook(grad):
        factor = max_norm / (grad.norm() + 1e-6)
        return torch.where(factor < 1, grad * factor, grad)

    return tensor.register_hook(hook)


def _clip_hook(grad, *, max_norm):
    norm = torch.sqrt((grad * grad).sum())
    if norm <= max_norm:
        return grad
    return F.normalize(grad.flatten(), dim=0).view_as(grad) * max_norm


@correct("05.clip_gradient")
def clip_with_partial_and_normalize(tensor, max_norm):
    """A module-level hook bound with functools.partial; F.normalize over the flattened
    gradient; the Hooks helper returns the handle."""
    return Hooks().tensor(tensor, functools.partial(_clip_hook, max_norm=max_norm))


@correct("05.clip_gradient")
def clip_with_clip_grad_norm_on_a_stand_in(tensor, max_norm):
    """torch's clip_grad_norm_ on a stand-in parameter holding a copy of the gradient."""

    def hook(grad):
        stand_in = torch.nn.Parameter(torch.empty_like(grad))
        stand_in.grad = grad.clone()
        torch.nn.utils.clip_grad_norm_([stand_in], max_norm)
        return stand_in.grad

    return tensor.register_hook(hook)


class _Clipper:
    """A callable hook object: None (the gradient as it was) when it is small enough."""

    def __init__(self, max_norm):
        self.max_norm = max_norm

    def __call__(self, grad):
        norm = float(grad.norm())
        if norm <= self.max_norm:
            return None
        return grad * min(1.0, self.max_norm / norm)


@correct("05.clip_gradient")
def clip_with_a_hook_object(tensor, max_norm):
    return tensor.register_hook(_Clipper(max_norm))
