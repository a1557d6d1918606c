"""Lesson 01: mistakes learners make writing Affine, Residual and GaussianNoise, and
correct solutions written in other ways. Class names say what is wrong or different."""

from __future__ import annotations

import copy
import functools
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from catalogue import correct, mistake
from helpers import get_device

# What the notebook's setup cell defines: learner code may (wrongly) build on it.
device = get_device()

# -- 01.affine: mistakes ----------------------------------------------------------------------


@mistake("01.affine", hint="super().__init__()")
class AffineForgotSuper(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        return x @ self.weight.T + self.bias


@mistake("01.affine", hint="(out_features, in_features), the nn.Linear convention")
class AffineWeightInByOut(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        y = x @ self.weight
        return y + self.bias if self.bias is not None else y


@mistake("01.affine", hint="Wrap the tensors in nn.Parameter")
class AffinePlainTensors(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.weight = torch.randn(out_features, in_features, requires_grad=True)
        self.bias = torch.zeros(out_features, requires_grad=True) if bias else None

    def forward(self, x):
        y = x @ self.weight.T
        return y + self.bias if self.bias is not None else y


@mistake("01.affine", hint="The bias is missing")
class AffineForgetsBiasInForward(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        return x @ self.weight.T


@mistake("01.affine", hint="With bias=False register no bias")
class AffineAlwaysHasBias(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, x):
        return x @ self.weight.T + self.bias


@mistake("01.affine", hint="skip the addition when there is no bias")
class AffineAddsNoneBias(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        return x @ self.weight.T + self.bias


@mistake("01.affine", hint="torch.mm only takes 2-D tensors")
class AffineTorchMm(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        y = torch.mm(x, self.weight.t())
        return y + self.bias if self.bias is not None else y


@mistake("01.affine", hint="Keep the leading dimensions")
class AffineFlattensInput(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        y = x.reshape(-1, self.weight.shape[1]) @ self.weight.T
        return y + self.bias if self.bias is not None else y


@mistake("01.affine", hint="`.data`, `.detach()` or `torch.no_grad()` in forward cut the graph")
class AffineUsesData(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        y = x @ self.weight.data.T
        return y + self.bias.data if self.bias is not None else y


@mistake("01.affine", hint="Name the parameters exactly `weight` and `bias`")
class AffineOtherNames(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.W = nn.Parameter(torch.randn(out_features, in_features))
        self.b = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        y = x @ self.W.T
        return y + self.b if self.b is not None else y


@mistake("01.affine", hint="Define `def extra_repr(self)")
class AffineNoExtraRepr(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)


@mistake("01.affine", hint="The repr shows the same settings for every layer")
class AffineHardCodedRepr(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return "in_features=3, out_features=2, bias=True"


@mistake("01.affine", hint="`super(OtherClass, self)` names the wrong class")
class AffineSuperOfOtherClass(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super(nn.Linear, self).__init__()  # copied from another class
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)


@mistake("01.affine", hint="does not subclass nn.Module")
class AffineNotAModule:
    def __init__(self, in_features, out_features, bias=True):
        self.weight = torch.randn(out_features, in_features)
        self.bias = torch.zeros(out_features) if bias else None

    def __call__(self, x):
        return x @ self.weight.T + self.bias


@mistake("01.affine", hint="has no forward method")
class AffineForwardMisspelled(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def foward(self, x):
        return F.linear(x, self.weight, self.bias)


@mistake("01.affine", hint="NumPy arrays are float64")
class AffineNumpyInit(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.from_numpy(np.random.randn(out_features, in_features)))
        self.bias = nn.Parameter(torch.from_numpy(np.zeros(out_features))) if bias else None

    def forward(self, x):
        y = x @ self.weight.T
        return y if self.bias is None else y + self.bias

    def extra_repr(self):
        has_bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={has_bias}"


@mistake("01.affine", hint="torch.addmm only takes 2-D tensors")
class AffineAddmm(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        if self.bias is None:
            return x @ self.weight.T
        return torch.addmm(self.bias, x, self.weight.T)  # as nn.Linear once did


@mistake("01.affine", hint="An nn.Parameter requires gradients by default")
class AffineFrozenParameters(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.randn(out_features, in_features), requires_grad=False)
        self.bias = nn.Parameter(torch.zeros(out_features), requires_grad=False) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        has_bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={has_bias}"


@mistake("01.affine", hint="forward uses a tensor that .to() did not convert")
class AffineTransposeInInit(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.weight_t = self.weight.T  # "saves a transpose per call"
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        y = x @ self.weight_t
        return y if self.bias is None else y + self.bias

    def extra_repr(self):
        has_bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={has_bias}"


@mistake("01.affine", hint="test `self.bias is not None`")
class AffineIfBias(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        y = x @ self.weight.T
        if self.bias:
            y = y + self.bias
        return y


@mistake("01.affine", hint="the result of an operation on a Parameter")
class AffineScaledAfterWrapping(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features)) / in_features**0.5
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)


# Written on nn.Linear instead of nn.Module: the task is to write what nn.Linear does.
mistake("01.affine", hint="renames torch's layer instead of writing one")(nn.Linear)


@mistake("01.affine", hint="Inheriting from nn.Linear reuses its parameters and forward")
class AffineSubclassesLinear(nn.Linear):
    pass


class _LinearWithRepr(nn.Linear):  # a learner's own base class, itself on nn.Linear
    def extra_repr(self):
        return super().extra_repr()


@mistake("01.affine", hint="class chain AffineDeepSubclass -> _LinearWithRepr -> Linear")
class AffineDeepSubclass(_LinearWithRepr):
    """Two levels below nn.Linear: the check names the whole chain."""


@mistake("01.affine", hint="An nn.Linear submodule does the work for you")
class AffineWrapsLinear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=bias)

    def forward(self, x):
        return self.linear(x)

    def extra_repr(self):
        return self.linear.extra_repr()


@mistake("01.affine", hint="forward builds or calls an nn.Linear")
class AffineLinearInForward(nn.Module):
    """Own Parameters, but forward hands them to a throwaway nn.Linear."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        linear = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None)
        linear.weight = self.weight
        if self.bias is not None:
            linear.bias = self.bias
        return linear(x)

    def extra_repr(self):
        has_bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={has_bias}"


@mistake("01.affine", hint="__init__ put tensors on the notebook's `device`")
class AffineOnNotebookDevice(nn.Module):
    """Passes on a CPU-only machine as written, fails on a GPU: the check makes it fail on both."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.randn(out_features, in_features, device=device))
        self.bias = nn.Parameter(torch.zeros(out_features, device=device)) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        has_bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={has_bias}"


@correct("01.affine")
class AffineNamesItsGpu(nn.Module):
    """Asks torch about CUDA only to print the GPU's name: built on the CPU everywhere
    (the check's stand-in "yes" must not make it fail on a laptop)."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        if torch.cuda.is_available():
            print("GPU:", torch.cuda.get_device_name())
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / in_features**0.5)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        has_bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={has_bias}"


@mistake("01.affine", hint="Building asked `torch.cuda.is_available()`")
class AffineCudaIfAvailable(nn.Module):
    """The tutorials' device line inside __init__: CPU on a laptop, GPU on a GPU machine."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        where = "cuda" if torch.cuda.is_available() else "cpu"
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.randn(out_features, in_features, device=where))
        self.bias = nn.Parameter(torch.zeros(out_features, device=where)) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        has_bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={has_bias}"


@mistake("01.affine", hint="is the notebook's `device`, frozen into the signature")
class AffineDeviceDefault(nn.Module):
    """`device=device` as a default: the notebook's device, fixed when the cell ran."""

    def __init__(self, in_features, out_features, bias=True, device=device):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features, device=device))
        self.bias = nn.Parameter(torch.zeros(out_features, device=device)) if bias else None
        nn.init.normal_(self.weight, std=in_features**-0.5)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        has_bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={has_bias}"


@mistake("01.affine", hint="forward makes a tensor on the CPU")
class AffineZeroBiasOnCpu(nn.Module):
    """A zero bias made in forward on the CPU: passes on a CPU-only machine as written."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        bias = self.bias if self.bias is not None else torch.zeros(self.out_features)
        return x @ self.weight.T + bias

    def extra_repr(self):
        has_bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={has_bias}"


@mistake("01.affine", hint="forward only reads the parameters")
class AffineClampsWeightInForward(nn.Module):
    """A "max-norm constraint" applied to the weight, in place, on every forward."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        with torch.no_grad():
            self.weight.clamp_(-0.5, 0.5)
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        has_bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={has_bias}"


@mistake("01.affine", hint="Rename `__call__` to `forward`")
class AffineCallInsteadOfForward(nn.Module):
    """The computation in __call__: model(x) works, but there is no forward (and no hooks)."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def __call__(self, x):
        y = x @ self.weight.T
        return y if self.bias is None else y + self.bias

    def extra_repr(self):
        has_bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={has_bias}"


# -- 01.affine: correct alternatives ----------------------------------------------------------


@correct("01.affine")
class AffineFunctional(nn.Module):
    """F.linear, register_parameter for the missing bias, kaiming init."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if bias:
            self.bias = nn.Parameter(torch.zeros(out_features))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        has_bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={has_bias}"


@correct("01.affine")
class AffineEinsum(nn.Module):
    """einsum over the last dimension, flag stored separately, custom __repr__."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.sizes = (in_features, out_features)
        self.use_bias = bias
        self.weight = nn.Parameter(torch.randn(out_features, in_features) * 0.1)
        self.bias = nn.Parameter(torch.randn(out_features) * 0.1) if bias else None

    def forward(self, x):
        y = torch.einsum("...i,oi->...o", x, self.weight)
        if self.use_bias:
            y = y + self.bias
        return y

    def __repr__(self):
        i, o = self.sizes
        return f"Affine(in_features={i}, out_features={o}, bias={self.use_bias})"


@correct("01.affine")
class AffineMatmulAddmm(nn.Module):
    """torch.matmul with the transpose written as .t(), a bias of zeros added when absent."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = nn.Parameter(torch.rand(out_features, in_features) - 0.5)
        self.bias = nn.Parameter(torch.rand(out_features) - 0.5) if bias else None

    def forward(self, x):
        out = torch.matmul(x, self.weight.t())
        return out if self.bias is None else out + self.bias

    def extra_repr(self):
        return "in_features={}, out_features={}, bias={}".format(  # noqa: UP032 (on purpose)
            self.in_features, self.out_features, self.bias is not None
        )


@correct("01.affine")
class AffineTensordot(nn.Module):
    """tensordot over the last dimension, factory kwargs, reset_parameters, %-formatting."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features, **factory))
        self.bias = nn.Parameter(torch.empty(out_features, **factory)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.normal_(self.weight, std=self.in_features**-0.5)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, input):
        out = torch.tensordot(input, self.weight, dims=([-1], [1]))
        if self.bias is not None:
            out += self.bias  # in place on a new tensor of our own: fine
        return out

    def extra_repr(self):
        return "in_features=%d, out_features=%d, bias=%s" % (  # noqa: UP031 (on purpose)
            self.in_features,
            self.out_features,
            self.bias is not None,
        )


@correct("01.affine")
class AffineBroadcastSum(nn.Module):
    """Broadcast-multiply and sum, register_parameter for both, sizes read off the weight."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        weight = nn.Parameter(torch.randn(out_features, in_features) / in_features)
        self.register_parameter("weight", weight)
        self.register_parameter("bias", nn.Parameter(torch.zeros(out_features)) if bias else None)

    def forward(self, x):
        y = (x.unsqueeze(-2) * self.weight).sum(-1)  # (*, 1, in) * (out, in) -> (*, out)
        return y if self.bias is None else y + self.bias

    def extra_repr(self):
        out_features, in_features = self.weight.shape
        return (
            f"in_features={in_features}, out_features={out_features}, bias={self.bias is not None}"
        )


@correct("01.affine")
class AffineInitFromLinear(nn.Module):
    """nn.Linear used once in __init__ for its initial values only, then F.linear."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        template = nn.Linear(in_features, out_features)  # not kept: values copied out
        self.weight = nn.Parameter(template.weight.detach().clone())
        self.bias = nn.Parameter(template.bias.detach().clone()) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        has_bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={has_bias}"


@correct("01.affine")
class AffineUsesDeviceOnlyInForward(nn.Module):
    """Reads the notebook's `device` only to report it in forward: built on the CPU."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.built_for = str(device)  # a string, not where the tensors go

    def forward(self, x):
        y = x @ self.weight.T
        return y + self.bias if self.bias is not None else y

    def extra_repr(self):
        has_bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={has_bias}"


@correct("01.affine")
class AffineZeroBiasOnXDevice(nn.Module):
    """A zero bias made in forward, on x's device and in x's dtype."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        bias = self.bias
        if bias is None:
            bias = torch.zeros(self.out_features, device=x.device, dtype=x.dtype)
        return x @ self.weight.T + bias

    def extra_repr(self):
        has_bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={has_bias}"


@correct("01.affine")
class AffineTypedCall(nn.Module):
    """__call__ overridden only to annotate it, handing over to nn.Module's (hooks run)."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return super().__call__(x)

    def extra_repr(self):
        has_bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={has_bias}"


@correct("01.affine")
class AffineBufferNoneAndAddmm(nn.Module):
    """register_buffer("bias", None) for no bias; torch.addmm on x flattened to 2-D, then
    the leading dimensions restored."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        if bias:
            self.bias = nn.Parameter(torch.zeros(out_features))
        else:
            self.register_buffer("bias", None)

    def forward(self, x):
        flat = x.reshape(-1, self.in_features)
        if self.bias is None:
            out = flat @ self.weight.T
        else:
            out = torch.addmm(self.bias, flat, self.weight.T)
        return out.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self):
        has_bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={has_bias}"


@correct("01.affine")
class AffineSetattrLoop(nn.Module):
    """Settings set with setattr, parameters registered in a loop, .mT and a batched matmul."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        for key, value in {"in_features": in_features, "out_features": out_features}.items():
            setattr(self, key, value)
        shapes = {"weight": (out_features, in_features), "bias": (out_features,) if bias else None}
        for name, shape in shapes.items():
            param = None if shape is None else nn.Parameter(torch.randn(shape) * 0.1)
            self.register_parameter(name, param)

    def forward(self, x):
        out = (x[..., None, :] @ self.weight.mT).squeeze(-2)  # (*, 1, in) @ (in, out)
        return out if self.bias is None else out.add(self.bias)

    def extra_repr(self):
        has_bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={has_bias}"


def _passthrough(fn):
    """A decorator of the learner's own that only forwards the call (functools.wraps)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper


def _affine_repr(self):
    has_bias = self.bias is not None
    return f"in_features={self.in_features}, out_features={self.out_features}, bias={has_bias}"


@correct("01.affine")
class AffineInnerKeywordOnly(nn.Module):
    """torch.inner over the last dimension, a keyword-only extra with a default, type hints."""

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, *, scale: float = 0.1
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(scale * torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.inner(x, self.weight)  # (*, in) with (out, in) -> (*, out)
        return y if self.bias is None else y + self.bias

    extra_repr = _affine_repr


@correct("01.affine")
class AffineTransposeProperty(nn.Module):
    """weight.T exposed as a property, forward wrapped by a decorator, *args and **kwargs."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(nn.init.xavier_uniform_(torch.empty(out_features, in_features)))
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-0.1, 0.1)) if bias else None

    @property
    def weight_t(self):
        return self.weight.T

    @_passthrough
    def forward(self, x, *args, **kwargs):
        out = x.matmul(self.weight_t)
        return out if self.bias is None else out.add(self.bias)

    def extra_repr(self):
        settings = {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": self.bias is not None,
        }
        return ", ".join(f"{key}={value}" for key, value in settings.items())


class _Described(nn.Module):
    """A base class of the learner's own, between nn.Module and the layer."""

    def describe(self):
        return repr(self)


@correct("01.affine")
class AffineOwnBaseAddmm(_Described):
    """On a base class of its own; weight made in float64 and cast; addmm and mm on x
    flattened to 2-D, then viewed back."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features, self.has_bias = in_features, out_features, bias
        weight = torch.randn(out_features, in_features, dtype=torch.float64).float()
        self.register_parameter("weight", nn.Parameter(weight))
        self.register_parameter("bias", nn.Parameter(torch.zeros(out_features)) if bias else None)

    def forward(self, x):
        flat = x.reshape(-1, x.shape[-1])
        if self.bias is None:
            out = torch.mm(flat, self.weight.t())
        else:
            out = torch.addmm(self.bias, flat, self.weight.t())
        return out.view(*x.shape[:-1], self.out_features)

    def extra_repr(self):
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.has_bias}"
        )


@correct("01.affine")
class AffineEinsumCastsInput(nn.Module):
    """x cast to the weight's dtype first; einsum with other index letters; bias=False
    through register_parameter(..., None)."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        b = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound)) if bias else None
        self.register_parameter("bias", b)

    def forward(self, x):
        out = torch.einsum("...i,ji->...j", x.to(self.weight.dtype), self.weight)
        return out if self.bias is None else out + self.bias

    extra_repr = _affine_repr


@correct("01.affine")
class AffineWeightTimesColumn(nn.Module):
    """weight @ x as a column, (W @ x[..., None])[..., 0]; bias added on the left;
    parameters scaled in place under no_grad; __constants__."""

    __constants__ = ("in_features", "out_features")

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        with torch.no_grad():
            self.weight = nn.Parameter(torch.randn(out_features, in_features).mul_(0.2))
            self.bias = nn.Parameter(torch.randn(out_features).mul_(0.2)) if bias else None

    def forward(self, x):
        y = (self.weight @ x.unsqueeze(-1)).squeeze(-1)
        return y if self.bias is None else self.bias + y

    extra_repr = _affine_repr


@correct("01.affine")
class AffineBuiltInEvalMode(nn.Module):
    """Starts in eval mode (nothing in the task depends on the mode); kaiming_normal_ on an
    uninitialised torch.Tensor(out, in); F.linear with bias= as a keyword."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.Tensor(out_features, in_features))
        nn.init.kaiming_normal_(self.weight)
        self.bias = nn.Parameter(nn.init.zeros_(torch.empty(out_features))) if bias else None
        self.eval()

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.linear(input, self.weight, bias=self.bias)

    extra_repr = _affine_repr


@correct("01.affine")
class AffineTransposedStorage(nn.Module):
    """weight of shape (out, in) kept in (in, out) memory order, a non-contiguous
    Parameter; a float 0.0 added when there is no bias."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.randn(in_features, out_features).T)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        return x @ self.weight.T + (self.bias if self.bias is not None else 0.0)

    extra_repr = _affine_repr


# -- 01.residual: mistakes ---------------------------------------------------------------------


@mistake("01.residual", hint="plain Python container")
class ResidualPlainList(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fns = [fn]

    def forward(self, x):
        return x + self.fns[0](x)


@mistake("01.residual", hint="The skip connection is missing")
class ResidualForgetsSkip(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


@mistake("01.residual", hint="modify the caller's tensor")
class ResidualInPlace(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        x += self.fn(x)
        return x


@mistake("01.residual", hint="super().__init__()")
class ResidualForgotSuper(nn.Module):
    def __init__(self, fn):
        self.fn = fn

    def forward(self, x):
        return x + self.fn(x)


@mistake("01.residual", hint="Keep the module you were given")
class ResidualDeepCopies(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = copy.deepcopy(fn)

    def forward(self, x):
        return x + self.fn(x)


_notebook_fn = nn.Linear(4, 4)  # a global the learner tried things with


@mistake("01.residual", hint="Return x + self.fn(x)", extra={"fn": _notebook_fn})
class ResidualUsesGlobalFn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return x + _notebook_fn(x)


@mistake("01.residual", hint="Call self.fn(x) once and reuse the result")
class ResidualCallsFnTwice(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        print("fn(x) has shape", self.fn(x).shape)  # debugging left in
        return x + self.fn(x)


@mistake("01.residual", hint="The skip path must be the input itself")
class ResidualDetachesSkip(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return x.detach() + self.fn(x)


@mistake("01.residual", hint="not self.fn.forward(x)")
class ResidualCallsForward(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return x + self.fn.forward(x)


@mistake("01.residual", hint="No activation after the sum")
class ResidualReluAfterSum(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return torch.relu(x + self.fn(x))  # as in a ResNet block


@mistake("01.residual", hint="Do not detach or wrap forward in torch.no_grad()")
class ResidualNoGrad(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        with torch.no_grad():
            return x + self.fn(x)


@mistake("01.residual", hint="with the registered fn; no .detach()")
class ResidualDetachesBranch(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return x + self.fn(x).detach()


@mistake("01.residual", hint="no gate or scale Parameter, even one starting at 1")
class ResidualLearnableGate(nn.Module):
    """A ReZero-style gate starting at 1: the output is x + fn(x) until it trains."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.gate = nn.Parameter(torch.ones(1))

    def forward(self, x):
        return x + self.gate * self.fn(x)


@mistake("01.residual", hint="Residual keeps no buffers of its own")
class ResidualScaleBuffer(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.register_buffer("scale", torch.ones(()))

    def forward(self, x):
        return x + self.scale * self.fn(x)


@mistake("01.residual", hint="__init__ put tensors on the notebook's `device`")
class ResidualMovesFnToDevice(nn.Module):
    """Moves fn to the course's device while building: passes on a CPU-only machine only."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn.to(get_device())

    def forward(self, x):
        return x + self.fn(x)


@mistake("01.residual", hint="no re-initialising, zeroing or scaling of fn's parameters")
class ResidualZeroInitsFn(nn.Module):
    """The "zero-init the residual branch" trick, applied to the caller's module."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        for param in fn.parameters():
            nn.init.zeros_(param)

    def forward(self, x):
        return x + self.fn(x)


@mistake("01.residual", hint="no fn.eval() (or fn.train(False)) in __init__")
class ResidualSwitchesFnToEval(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn.eval()  # "the branch is deterministic"

    def forward(self, x):
        return x + self.fn(x)


@mistake("01.residual", hint="Rename `__call__` to `forward`")
class ResidualCallInsteadOfForward(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def __call__(self, x):
        return x + self.fn(x)


# -- 01.residual: correct alternatives -----------------------------------------------------------


@correct("01.residual")
class ResidualAddModule(nn.Module):
    """add_module under another name, torch.add."""

    def __init__(self, fn):
        super().__init__()
        self.add_module("body", fn)

    def forward(self, x):
        return torch.add(self.body(x), x)


@correct("01.residual")
class ResidualInSequential(nn.Module):
    """fn kept inside an nn.Sequential (still registered), result added out of place."""

    def __init__(self, fn):
        super().__init__()
        self.inner = nn.Sequential(fn)

    def forward(self, x):
        out = self.inner(x)
        return out + x


@correct("01.residual")
class ResidualSequentialSubclass(nn.Sequential):
    """A subclass of nn.Sequential holding fn, its forward plus the input."""

    def __init__(self, fn):
        super().__init__(fn)

    def forward(self, x):
        return x + super().forward(x)


@correct("01.residual")
class ResidualModuleDict(nn.Module):
    """fn inside an nn.ModuleDict, Tensor.add."""

    def __init__(self, fn):
        super().__init__()
        self.branches = nn.ModuleDict({"main": fn})

    def forward(self, x):
        return self.branches["main"](x).add(x)


@correct("01.residual")
class ResidualModulesDictAndAdd(nn.Module):
    """fn put into self._modules directly, Tensor.add with the branch first."""

    def __init__(self, fn):
        super().__init__()
        self._modules["branch"] = fn

    def forward(self, x):
        out = self.branch(x)
        return out.add(x)


@correct("01.residual")
class ResidualIdentitySkip(nn.Module):
    """An nn.Identity for the skip path (a module without parameters), forward(*args)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.skip = nn.Identity()

    def forward(self, *args):
        (x,) = args
        return self.skip(x) + self.fn(x)


@correct("01.residual")
class ResidualRegisteredTwice(nn.Module):
    """fn registered twice (an attribute and a ModuleList): parameters() lists it once."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.branches = nn.ModuleList([fn])

    def forward(self, x):
        return x + self.branches[0](x)


@correct("01.residual")
class ResidualBodyTorchAdd(nn.Module):
    """fn kept as `self.body`, torch.add, type hints."""

    def __init__(self, fn: nn.Module) -> None:
        super().__init__()
        self.body = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.add(x, self.body(x))


@correct("01.residual")
class ResidualModuleListFirst(nn.Module):
    """fn as self.layers[0] of an nn.ModuleList, fn(x) + x in that order."""

    def __init__(self, fn):
        super().__init__()
        self.layers = nn.ModuleList([fn])

    def forward(self, x):
        out = self.layers[0](x)
        return out + x


@correct("01.residual")
class ResidualRegisterModuleNamed(nn.Module):
    """register_module under a name given as a keyword-only argument; forward decorated,
    extra arguments passed on to fn."""

    def __init__(self, fn, *, name="inner"):
        super().__init__()
        self.register_module(name, fn)
        self.inner_name = name

    @_passthrough
    def forward(self, x, *args, **kwargs):
        return x + getattr(self, self.inner_name)(x, *args, **kwargs)


@correct("01.residual")
class ResidualModuleDictSubclass(nn.ModuleDict):
    """Residual is an nn.ModuleDict holding fn under "fn"; x.add(...)."""

    def __init__(self, fn):
        super().__init__({"fn": fn})

    def forward(self, x):
        return x.add(self["fn"](x))


@correct("01.residual")
class ResidualNamedAfterFn(nn.Module):
    """fn registered with setattr under its class name, looked up in self._modules."""

    def __init__(self, fn):
        super().__init__()
        self.key = type(fn).__name__.lower()
        setattr(self, self.key, fn)

    def forward(self, x):
        y = self._modules[self.key](x)
        y = y + x
        return y


@correct("01.residual")
class ResidualAddWithAlpha(nn.Module):
    """add_module("branch", fn); Tensor.add(fn(x), x, alpha=1)."""

    def __init__(self, fn):
        super().__init__()
        self.add_module("branch", fn)

    def forward(self, x):
        return torch.Tensor.add(self.branch(x), x, alpha=1)


@correct("01.residual")
class ResidualFnFromChildren(nn.Module):
    """fn found again in forward through self.children()."""

    def __init__(self, fn):
        super().__init__()
        self.wrapped = fn

    def forward(self, x):
        (fn,) = self.children()
        return x + fn(x)


# -- 01.gaussian_noise: mistakes ---------------------------------------------------------------


@mistake("01.gaussian_noise", hint="torch.rand is uniform")
class NoiseUniform(nn.Module):
    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        return x + self.sigma * torch.rand_like(x) if self.training else x


@mistake("01.gaussian_noise", hint="not sigma ** 2")
class NoiseVarianceScale(nn.Module):
    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        return x + self.sigma**2 * torch.randn_like(x) if self.training else x


@mistake("01.gaussian_noise", hint="Return x unchanged when `not self.training`")
class NoiseAlsoInEval(nn.Module):
    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        return x + self.sigma * torch.randn_like(x)


@mistake("01.gaussian_noise", hint="`self.eval` is a method")
class NoiseChecksEvalMethod(nn.Module):
    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if self.eval:
            return x
        return x + self.sigma * torch.randn_like(x)


@mistake("01.gaussian_noise", hint="torch.randn(x.shape) makes float32 noise")
class NoiseFixedDtype(nn.Module):
    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if not self.training:
            return x
        return x + self.sigma * torch.randn(x.shape)


@mistake("01.gaussian_noise", hint="store it as a plain float")
class NoiseSigmaParameter(nn.Module):
    def __init__(self, sigma):
        super().__init__()
        self.sigma = nn.Parameter(torch.tensor(float(sigma)))

    def forward(self, x):
        return x + self.sigma * torch.randn_like(x) if self.training else x


@mistake("01.gaussian_noise", hint="not once in __init__")
class NoiseDrawnOnce(nn.Module):
    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma
        self.noise = None

    def forward(self, x):
        if not self.training:
            return x
        if self.noise is None or self.noise.shape != x.shape:
            self.noise = torch.randn_like(x)
        return x + self.sigma * self.noise


@mistake("01.gaussian_noise", hint="forward changed its input x in place")
class NoiseInPlace(nn.Module):
    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if self.training:
            x.add_(self.sigma * torch.randn_like(x))
        return x


@mistake("01.gaussian_noise", hint="draw one per element")
class NoiseOneValue(nn.Module):
    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        return x + self.sigma * torch.randn(1, dtype=x.dtype) if self.training else x


@mistake("01.gaussian_noise", hint="not on torch.is_grad_enabled()")
class NoiseGatedOnGradMode(nn.Module):
    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if torch.is_grad_enabled():
            return x + self.sigma * torch.randn_like(x)
        return x


@mistake("01.gaussian_noise", hint="The noise is not scaled")
class NoiseUnscaled(nn.Module):
    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        return x + torch.randn_like(x) if self.training else x


@mistake("01.gaussian_noise", hint="no .data / .detach()")
class NoiseDetached(nn.Module):
    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        return (x + self.sigma * torch.randn_like(x)).detach() if self.training else x


@mistake("01.gaussian_noise", hint="not a smaller tensor that broadcasts")
class NoisePerFeature(nn.Module):
    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if not self.training:
            return x
        noise = torch.randn(x.shape[-1], dtype=x.dtype, device=x.device)  # one per feature
        return x + self.sigma * noise


@mistake("01.gaussian_noise", hint="do not multiply x by it")
class NoiseMultiplicative(nn.Module):
    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        return x * (1 + self.sigma * torch.randn_like(x)) if self.training else x


@mistake("01.gaussian_noise", hint="eval() does not turn off gradients")
class NoiseDetachedInEval(nn.Module):
    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if not self.training:
            return x.detach()  # "no gradients at evaluation time"
        return x + self.sigma * torch.randn_like(x)


@mistake("01.gaussian_noise", hint="passes no gradient to x")
class NoiseTorchNormalMean(nn.Module):
    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        return torch.normal(mean=x, std=self.sigma) if self.training else x


@mistake("01.gaussian_noise", hint="`self.train` and `self.eval` are methods")
class NoiseChecksTrainMethod(nn.Module):
    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if self.train:
            return x + self.sigma * torch.randn_like(x)
        return x


@mistake("01.gaussian_noise", hint="no abs(), no offset")
class NoiseAbs(nn.Module):
    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        return x + self.sigma * torch.randn_like(x).abs() if self.training else x


@mistake("01.gaussian_noise", hint="The noise must have x's dtype")
class NoiseRandnOnXDevice(nn.Module):
    """Device right, dtype not: float32 noise turns bfloat16 x into a float32 output."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if not self.training:
            return x
        return x + self.sigma * torch.randn(x.shape, device=x.device)


@mistake("01.gaussian_noise", hint="The noise must be on x's device")
class NoiseOnCpu(nn.Module):
    """dtype right, device not: passes on a CPU-only machine as written."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if not self.training:
            return x
        return x + self.sigma * torch.randn(x.shape, dtype=x.dtype)


@mistake("01.gaussian_noise", hint="Values beyond 2.5 sigma are missing")
class NoiseClipped(nn.Module):
    """Clipped at 2 sigma "to avoid outliers": std 0.96, 95% of values untouched."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if not self.training:
            return x
        return x + self.sigma * torch.randn_like(x).clamp(-2, 2)


@mistake("01.gaussian_noise", hint="Values beyond 3 sigma are missing")
class NoiseClippedAtThree(nn.Module):
    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if not self.training:
            return x
        return x + self.sigma * torch.randn_like(x).clamp(-3, 3)


@mistake("01.gaussian_noise", hint="Do not re-centre or re-standardise the noise on each call")
class NoiseRestandardised(nn.Module):
    """Forces every call's noise to sample mean 0 and std 1 exactly."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if not self.training:
            return x
        n = torch.randn_like(x)
        return x + self.sigma * (n - n.mean()) / n.std()


@mistake("01.gaussian_noise", hint="Do not rescale the noise to std 1 on each call")
class NoiseRescaledToUnitStd(nn.Module):
    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if not self.training:
            return x
        n = torch.randn_like(x)
        return x + self.sigma * n / n.std()


@mistake("01.gaussian_noise", hint="Keep the noise level as `self.sigma = sigma`")
class NoiseSigmaOtherName(nn.Module):
    def __init__(self, sigma):
        super().__init__()
        self.std = sigma

    def forward(self, x):
        return x + self.std * torch.randn_like(x) if self.training else x


@mistake("01.gaussian_noise", hint="the standard deviation itself (not its square")
class NoiseStoresVariance(nn.Module):
    """Right noise, but the attribute the task names holds sigma squared."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma**2  # "the variance"

    def forward(self, x):
        return x + self.sigma**0.5 * torch.randn_like(x) if self.training else x


@mistake("01.gaussian_noise", hint="a torch.Generator of the layer's own")
class NoiseSeededGenerator(nn.Module):
    """A generator seeded in __init__ "for reproducibility": every layer draws the same
    noise (and a CPU generator fails for x on a GPU)."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma
        self.generator = torch.Generator().manual_seed(0)

    def forward(self, x):
        if not self.training:
            return x
        noise = torch.randn(x.shape, generator=self.generator, dtype=x.dtype, device=x.device)
        return x + self.sigma * noise


@mistake("01.gaussian_noise", hint="do not override eval() or train()")
class NoiseOwnEvalMethod(nn.Module):
    """An eval() of its own that sets a flag: model.eval() never calls it."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma
        self.noisy = True

    def eval(self):
        self.noisy = False
        return self

    def forward(self, x):
        return x + self.sigma * torch.randn_like(x) if self.noisy else x


@mistake("01.gaussian_noise", hint="not its square root")
class NoiseSqrtSigma(nn.Module):
    """sigma taken for a variance: torch.normal given sigma ** 0.5 as its std."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if not self.training:
            return x
        return x + torch.normal(torch.zeros_like(x), self.sigma**0.5)


@mistake("01.gaussian_noise", hint="Rename `__call__` to `forward`")
class NoiseCallInsteadOfForward(nn.Module):
    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def __call__(self, x):
        return x + self.sigma * torch.randn_like(x) if self.training else x


@mistake("01.gaussian_noise", hint="torch refuses it for x on a GPU")
class NoiseCpuGeneratorSeededRandomly(nn.Module):
    """A generator of its own, seeded at random (so two layers differ): it lives on the CPU,
    passes on a laptop and fails for x on a GPU."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma
        self.generator = torch.Generator()
        self.generator.seed()

    def forward(self, x):
        if not self.training:
            return x
        noise = torch.randn(x.shape, generator=self.generator, dtype=x.dtype, device=x.device)
        return x + self.sigma * noise


# -- 01.gaussian_noise: correct alternatives ----------------------------------------------------


@correct("01.gaussian_noise")
class NoiseNormalInPlaceOnNew(nn.Module):
    """A fresh tensor filled in place with normal_(std=sigma)."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if self.training:
            return x + torch.empty_like(x).normal_(mean=0.0, std=self.sigma)
        return x


@correct("01.gaussian_noise")
class NoiseTorchNormal(nn.Module):
    """torch.normal with dtype and device, sigma kept as a non-persistent buffer."""

    def __init__(self, sigma):
        super().__init__()
        self.register_buffer("sigma", torch.tensor(float(sigma)), persistent=False)

    def forward(self, x):
        if not self.training:
            return x
        noise = torch.normal(0.0, 1.0, size=x.shape, dtype=x.dtype, device=x.device)
        return x + noise * self.sigma.to(x.dtype)


@correct("01.gaussian_noise")
class NoiseRandnWithKwargs(nn.Module):
    """torch.randn(x.shape, dtype=..., device=...) and an explicit else branch."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = float(sigma)

    def forward(self, x):
        if self.training:
            noise = torch.randn(x.shape, dtype=x.dtype, device=x.device)
            out = x + noise * self.sigma
        else:
            out = x
        return out


@correct("01.gaussian_noise")
class NoiseNewEmptyCloneInEval(nn.Module):
    """x.new_empty(...).normal_(0, sigma), and a copy of x in eval mode."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if self.training:
            return x + x.new_empty(x.shape).normal_(0.0, self.sigma)
        return x.clone()


@correct("01.gaussian_noise")
class NoiseDrawnWithoutGrad(nn.Module):
    """Noise drawn in float32 under no_grad, cast to x's dtype, skipped for sigma 0."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if self.training and self.sigma > 0:
            with torch.no_grad():
                noise = (torch.randn(x.shape, device=x.device) * self.sigma).to(x.dtype)
            x = x + noise
        return x


@correct("01.gaussian_noise")
class NoiseNormalWithTensorMean(nn.Module):
    """torch.normal(mean=zeros_like(x), std=sigma): a mean tensor carries x's dtype and device."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if not self.training:
            return x
        return x + torch.normal(torch.zeros_like(x), self.sigma)


@correct("01.gaussian_noise")
class NoiseDistributionsNormal(nn.Module):
    """torch.distributions.Normal with loc and scale of x's dtype and device, .sample(shape)."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if not self.training:
            return x
        zero = torch.zeros((), dtype=x.dtype, device=x.device)
        normal = torch.distributions.Normal(zero, torch.ones_like(zero))
        return x + self.sigma * normal.sample(x.shape)


@correct("01.gaussian_noise")
class NoiseComputedInFloat32(nn.Module):
    """x and the noise added in float32, the sum cast back to x's dtype."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if self.training:
            noisy = x.float() + self.sigma * torch.randn(x.shape, device=x.device)
            return noisy.to(x.dtype)
        return x


@correct("01.gaussian_noise")
class NoiseBoxMuller(nn.Module):
    """Standard normal noise made from two uniforms (Box-Muller) in float64."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if not self.training:
            return x
        u1 = torch.rand_like(x, dtype=torch.float64).clamp_min(1e-300)
        u2 = torch.rand_like(x, dtype=torch.float64)
        z = torch.sqrt(-2 * torch.log(u1)) * torch.cos(2 * math.pi * u2)
        return x + (self.sigma * z).to(x.dtype)


@correct("01.gaussian_noise")
class NoiseAddAlpha(nn.Module):
    """torch.add(x, noise, alpha=sigma); `self.training is False`; forward decorated and
    taking extra arguments."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    @_passthrough
    def forward(self, x, *args, **kwargs):
        if self.training is False:
            return x
        return torch.add(x, torch.randn_like(x), alpha=self.sigma)


@correct("01.gaussian_noise")
class NoiseRsample(nn.Module):
    """torch.distributions.Normal(x, sigma).rsample(): x + sigma * eps, differentiable in x."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if not self.training:
            return x
        return torch.distributions.Normal(x, self.sigma).rsample()


@correct("01.gaussian_noise")
class NoiseAddcmul(nn.Module):
    """torch.addcmul(x, noise, sigma everywhere)."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if not self.training:
            return x
        return torch.addcmul(x, torch.randn_like(x), torch.full_like(x, self.sigma))


@correct("01.gaussian_noise")
class NoiseFloat64SigmaBuffer(nn.Module):
    """sigma a persistent 0-d float64 buffer: a 0-d tensor does not change x's dtype."""

    def __init__(self, sigma):
        super().__init__()
        self.register_buffer("sigma", torch.tensor(sigma, dtype=torch.float64))

    def forward(self, x):
        if not self.training:
            return x
        return x + self.sigma * torch.randn_like(x)


@correct("01.gaussian_noise")
class NoiseIdentitySubclass(nn.Identity):
    """A subclass of nn.Identity; the noise is drawn in eval mode too, then unused."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        noise = torch.randn_like(x) * self.sigma
        return x + noise if self.training else x


@correct("01.gaussian_noise")
class NoiseGeneratorOnXDevice(nn.Module):
    """A torch.Generator made on x's device on every call, seeded from torch's global
    generator: works on the CPU and on a GPU (torch has no generator on the meta device)."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if not self.training:
            return x
        seed = int(torch.randint(0, 2**62, ()))
        generator = torch.Generator(device=x.device).manual_seed(seed)
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        return x + self.sigma * noise


@correct("01.gaussian_noise")
class NoiseSigmaProperty(nn.Module):
    """The variance stored; `sigma` a read-only property computed from it."""

    def __init__(self, sigma):
        super().__init__()
        self.variance = sigma**2

    @property
    def sigma(self):
        return math.sqrt(self.variance)

    def forward(self, x):
        return x + self.sigma * torch.randn_like(x) if self.training else x


@correct("01.gaussian_noise")
class NoiseNumpySigmaAndNoise(nn.Module):
    """sigma kept as np.float32; the noise drawn by NumPy (seeded from torch's generator)
    and moved to x's device and dtype."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = np.float32(sigma)

    def forward(self, x):
        if not self.training:
            return x
        rng = np.random.default_rng(int(torch.randint(0, 2**31, ())))
        noise = torch.from_numpy(rng.standard_normal(tuple(x.shape)))
        return x + float(self.sigma) * noise.to(x.device, x.dtype)


@correct("01.gaussian_noise")
class NoiseCpuGeneratorThenMoved(nn.Module):
    """A CPU generator of its own, seeded from torch's, drawing on the CPU; the noise then
    moved to x's device and dtype (torch only refuses a generator on another device than
    the tensor it fills)."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma
        seed = int(torch.randint(0, 2**62, ()))  # from torch's generator: layers differ
        self.generator = torch.Generator().manual_seed(seed)

    def forward(self, x):
        if not self.training:
            return x
        noise = torch.randn(x.shape, generator=self.generator)
        return x + self.sigma * noise.to(x.device, x.dtype)
