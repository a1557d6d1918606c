"""Lesson 03: mistakes learners make writing RunningMean, CausalMask, freeze and the
checkpoint functions, and correct solutions written in other ways. Names say what is
wrong or different."""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
import pickle
import re
import shutil
import tempfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from catalogue import correct, mistake

# The notebook's global `device`, as the exercise's setup cell defines it: the mistakes
# below that build on it read this name (the checks see it through their functions' globals).
device = torch.device("cpu")

# -- 03.running_mean: mistakes -----------------------------------------------------------------


@mistake("03.running_mean", hint="is a plain tensor attribute")
class RunningMeanPlainTensors(nn.Module):
    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.running_mean = torch.zeros(num_features)
        self.num_batches_tracked = torch.tensor(0)

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0)
        self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * mean.detach()
        self.num_batches_tracked += 1
        return x - mean


@mistake("03.running_mean", hint="not nn.Parameter")
class RunningMeanFrozenParameters(nn.Module):
    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.running_mean = nn.Parameter(torch.zeros(num_features), requires_grad=False)
        self.num_batches_tracked = nn.Parameter(torch.tensor(0), requires_grad=False)

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0)
        with torch.no_grad():
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
            self.num_batches_tracked += 1
        return x - mean


@mistake("03.running_mean", hint="a buffer with a grad_fn keeps every batch's graph alive")
class RunningMeanKeepsHistory(nn.Module):
    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0)
        self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * mean
        self.num_batches_tracked += 1
        return x - mean


@mistake("03.running_mean", hint="momentum and 1 - momentum are swapped")
class RunningMeanSwappedMomentum(nn.Module):
    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0)
        with torch.no_grad():
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mean
            self.num_batches_tracked += 1
        return x - mean


@mistake("03.running_mean", hint="Update the buffers only when self.training is True")
class RunningMeanUpdatesInEval(nn.Module):
    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        mean = x.mean(0)
        with torch.no_grad():
            self.running_mean.lerp_(mean, self.momentum)
            self.num_batches_tracked += 1
        if self.training:
            return x - mean
        return x - self.running_mean


@mistake("03.running_mean", hint="A count is an integer scalar")
class RunningMeanFloatCount(nn.Module):
    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0.0))

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0)
        with torch.no_grad():
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
            self.num_batches_tracked += 1
        return x - mean


@mistake("03.running_mean", hint="must be a tensor buffer, not a Python number")
class RunningMeanPythonIntCount(nn.Module):
    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.num_batches_tracked = 0

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0)
        with torch.no_grad():
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
        self.num_batches_tracked += 1
        return x - mean


@mistake("03.running_mean", hint="Do not modify x (x -= ..., x.sub_(...))")
class RunningMeanCentresInPlace(nn.Module):
    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0)
        with torch.no_grad():
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
            self.num_batches_tracked += 1
        x -= mean
        return x


@mistake("03.running_mean", hint="running_mean is for eval mode")
class RunningMeanAlwaysSubtractsRunning(nn.Module):
    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        if self.training:
            with torch.no_grad():
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * x.mean(0))
                self.num_batches_tracked += 1
        return x - self.running_mean


@mistake("03.running_mean", hint="drop persistent=False")
class RunningMeanNotPersistent(nn.Module):
    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features), persistent=False)
        self.register_buffer("num_batches_tracked", torch.tensor(0), persistent=False)

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0)
        with torch.no_grad():
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
            self.num_batches_tracked += 1
        return x - mean


@mistake("03.running_mean", hint="Add 1 to num_batches_tracked on every training call")
class RunningMeanNeverCounts(nn.Module):
    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0)
        with torch.no_grad():
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
        return x - mean


@mistake("03.running_mean", hint="The output's mean is detached")
class RunningMeanDetachedOutputMean(nn.Module):
    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0).detach()  # detached once, used twice
        self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * mean
        self.num_batches_tracked += 1
        return x - mean


@mistake("03.running_mean", hint="not self.train (a method, so always true)")
class RunningMeanTestsSelfTrain(nn.Module):
    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        if self.train:  # the method, not the flag
            mean = x.mean(0)
            with torch.no_grad():
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                self.num_batches_tracked += 1
            return x - mean
        return x - self.running_mean


@mistake("03.running_mean", hint="the centred output's mean is 0")
class RunningMeanTracksTheOutput(nn.Module):
    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        y = x - x.mean(0)
        with torch.no_grad():  # the mean of y, not of x
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * y.mean(0))
            self.num_batches_tracked += 1
        return y


@mistake("03.running_mean", hint="without keepdim=True")
class RunningMeanKeepdimUpdate(nn.Module):
    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0, keepdim=True)  # (1, num_features): fine for x - mean, not for the buffer
        self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * mean.detach()
        self.num_batches_tracked += 1
        return x - mean


@mistake("03.running_mean", hint="keep the constructor's argument (self.momentum = momentum)")
class RunningMeanIgnoresMomentum(nn.Module):
    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = 0.1
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0)
        with torch.no_grad():
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
            self.num_batches_tracked += 1
        return x - mean


@mistake("03.running_mean", hint="x.mean(0) (over dim 0, the batch)")
class RunningMeanAveragesFeatures(nn.Module):
    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(1)  # one mean per sample, not per feature
        with torch.no_grad():
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
            self.num_batches_tracked += 1
        return x - mean


@mistake("03.running_mean", hint="without requires_grad=True")
class RunningMeanBufferRequiresGrad(nn.Module):
    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features, requires_grad=True))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0)
        with torch.no_grad():
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
            self.num_batches_tracked += 1
        return x - mean


@mistake("03.running_mean", hint="Create running_mean in the default float dtype")
class RunningMeanFloat64(nn.Module):
    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        # "more precise statistics": but the module no longer follows .to(dtype) alone
        self.register_buffer("running_mean", torch.zeros(num_features, dtype=torch.float64))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0)
        with torch.no_grad():
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
            self.num_batches_tracked += 1
        return x - mean


@mistake("03.running_mean", hint="the notebook's `device`")
class RunningMeanOnNotebookDevice(nn.Module):
    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features, device=device))
        self.register_buffer("num_batches_tracked", torch.tensor(0, device=device))

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0)
        with torch.no_grad():
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
            self.num_batches_tracked += 1
        return x - mean


@mistake("03.running_mean", hint="made a plain attribute first, so register_buffer refuses")
class RunningMeanAssignsThenRegisters(nn.Module):
    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.running_mean = torch.zeros(num_features)
        self.num_batches_tracked = torch.tensor(0)
        self.register_buffer("running_mean", self.running_mean)  # KeyError: already exists
        self.register_buffer("num_batches_tracked", self.num_batches_tracked)

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0)
        with torch.no_grad():
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
            self.num_batches_tracked += 1
        return x - mean


@correct("03.running_mean")
class RunningMeanExplicitDefaultDtype(nn.Module):
    """The default dtype asked for explicitly; the count as zeros((), dtype=torch.long)."""

    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        dtype = torch.get_default_dtype()
        self.register_buffer("running_mean", torch.zeros(num_features, dtype=dtype))
        self.register_buffer("num_batches_tracked", torch.zeros((), dtype=torch.long))

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0)
        with torch.no_grad():
            self.running_mean.copy_((1 - self.momentum) * self.running_mean + self.momentum * mean)
        self.num_batches_tracked += 1
        return x - mean


# -- 03.running_mean: correct alternatives ------------------------------------------------------


@correct("03.running_mean")
class RunningMeanReassigns(nn.Module):
    """New tensors assigned to the buffer names (nn.Module keeps them registered)."""

    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.zeros((), dtype=torch.int64))

    def forward(self, x):
        batch_mean = x.mean(dim=0)
        if self.training:
            m = self.momentum
            self.running_mean = (1 - m) * self.running_mean + m * batch_mean.detach()
            self.num_batches_tracked = self.num_batches_tracked + 1
            return x - batch_mean
        return x - self.running_mean


@correct("03.running_mean")
class RunningMeanBufferAttributesLerp(nn.Module):
    """nn.Buffer attributes, lerp_ under no_grad, add_ for the count."""

    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = float(momentum)
        self.running_mean = nn.Buffer(torch.zeros(num_features))
        self.num_batches_tracked = nn.Buffer(torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        if self.training:
            mean = torch.mean(x, 0)
            with torch.no_grad():
                self.running_mean.lerp_(mean, self.momentum)
                self.num_batches_tracked.add_(1)
            centred = x - mean
        else:
            centred = x - self.running_mean
        return centred


@correct("03.running_mean")
class RunningMeanCopyInto(nn.Module):
    """copy_ of a detached update; the mean computed as sum / N."""

    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.num_features = num_features
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features, dtype=torch.float32))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.sum(dim=0) / x.shape[0]
        update = self.running_mean + self.momentum * (mean.detach() - self.running_mean)
        self.running_mean.copy_(update)
        self.num_batches_tracked += 1
        return x - mean


@correct("03.running_mean")
class RunningMeanDataAssignment(nn.Module):
    """.data assignment (no history), a keepdim mean for the output, torch.sub in eval."""

    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features), persistent=True)
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.int64))

    def forward(self, x):
        if self.training:
            mean = x.mean(dim=0, keepdim=True)
            update = self.momentum * mean.squeeze(0).detach()
            self.running_mean.data = (1 - self.momentum) * self.running_mean + update
            self.num_batches_tracked.data += 1
            return x - mean
        return torch.sub(x, self.running_mean)


@correct("03.running_mean")
class RunningMeanNoGradMethod(nn.Module):
    """The update in a @torch.no_grad() method; torch.lerp assigned to the buffer name."""

    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0))

    @torch.no_grad()
    def _track(self, mean):
        self.running_mean = torch.lerp(self.running_mean, mean, self.momentum)
        self.num_batches_tracked.add_(1)

    def forward(self, x):
        if self.training:
            mean = x.mean(0)
            self._track(mean)
            return x - mean
        return x - self.running_mean


@correct("03.running_mean")
class RunningMeanInferenceMode(nn.Module):
    """The output first, then an in-place update under torch.inference_mode()."""

    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0))

    def forward(self, x):
        out = x - x.mean(0) if self.training else x - self.running_mean
        if self.training:
            with torch.inference_mode():
                self.running_mean.mul_(1 - self.momentum).add_(x.mean(0), alpha=self.momentum)
                self.num_batches_tracked.add_(1)
        return out


@mistake("03.running_mean", hint="never assign torch.tensor(...) or a .cpu() copy to a buffer")
class RunningMeanCountFromItem(nn.Module):
    """The count rebuilt from a Python number: a new CPU tensor, wherever the module is."""

    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0))

    def forward(self, x):
        if self.training:
            mean = x.mean(0)
            with torch.no_grad():
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
            self.num_batches_tracked = torch.tensor(self.num_batches_tracked.item() + 1)
            return x - mean
        return x - self.running_mean


@mistake("03.running_mean", hint="the default must be 0.1")
class RunningMeanKerasDefaultMomentum(nn.Module):
    """The right update, but Keras' default (0.9, the weight of the old value) kept."""

    def __init__(self, num_features, momentum=0.9):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0))

    def forward(self, x):
        if self.training:
            mean = x.mean(0)
            with torch.no_grad():
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
            self.num_batches_tracked += 1
            return x - mean
        return x - self.running_mean


@mistake("03.running_mean", hint="x.mean() is one number")
class RunningMeanOneMeanForAll(nn.Module):
    """x.mean() without a dim: one mean over every value, broadcast to every feature."""

    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0))

    def forward(self, x):
        if self.training:
            mean = x.mean()
            with torch.no_grad():
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
            self.num_batches_tracked += 1
            return x - mean
        return x - self.running_mean


@correct("03.running_mean")
class RunningMeanCountFilledFromInt(nn.Module):
    """A list-built zero vector; the count set with fill_(int(...) + 1), in place."""

    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.tensor([0.0] * num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0))

    def forward(self, x):
        if self.training:
            mean = x.detach().mean(dim=0)
            self.running_mean.mul_(1 - self.momentum).add_(mean * self.momentum)
            self.num_batches_tracked.fill_(int(self.num_batches_tracked) + 1)
            return x - x.mean(0)
        return x - self.running_mean


@correct("03.running_mean")
class RunningMeanMomentumBuffer(nn.Module):
    """torch.full zeros; the momentum kept as a third, non-persistent buffer; torch.lerp."""

    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.register_buffer("running_mean", torch.full((num_features,), 0.0))
        self.register_buffer("num_batches_tracked", torch.zeros((), dtype=torch.long))
        self.register_buffer("momentum", torch.tensor(float(momentum)), persistent=False)

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0)
        self.running_mean = torch.lerp(self.running_mean, mean.detach(), self.momentum)
        self.num_batches_tracked += 1
        return x - mean


# -- 03.running_mean: more correct alternatives (second review) ---------------------------------


@correct("03.running_mean")
class RunningMeanRegisteredAsNoneFirst(nn.Module):
    """register_buffer(name, None) first, tensors assigned to the names later (they stay
    buffers); sub_ of momentum * (running_mean - mean); the count set with copy_."""

    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", None)
        self.register_buffer("num_batches_tracked", None)
        self.running_mean = torch.zeros(num_features)
        self.num_batches_tracked = torch.tensor(0)

    def forward(self, x):
        if self.training:
            mean = x.mean(0)
            with torch.no_grad():
                self.running_mean.sub_(self.momentum * (self.running_mean - mean))
                self.num_batches_tracked.copy_(self.num_batches_tracked + 1)
            return x - mean
        return x - self.running_mean


@correct("03.running_mean")
class RunningMeanSliceAssign(nn.Module):
    """running_mean[:] = ... under no_grad; empty().zero_(); the mean over dim=-2; the count
    += ones_like(count); `self.training is False`; x.sub in eval."""

    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.empty(num_features).zero_())
        self.register_buffer("num_batches_tracked", torch.zeros_like(torch.tensor(7)))

    def forward(self, x):
        if self.training is False:
            return x.sub(self.running_mean)
        mean = x.mean(dim=-2)
        with torch.no_grad():
            self.running_mean[:] = self.running_mean * (1 - self.momentum) + mean * self.momentum
            self.num_batches_tracked += torch.ones_like(self.num_batches_tracked)
        return x - mean


@correct("03.running_mean")
class RunningMeanOutArgument(nn.Module):
    """torch.add(..., out=running_mean) from a detached mean; momentum a read-only property;
    dtype=torch.get_default_dtype() written out."""

    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self._momentum = momentum
        dtype = torch.get_default_dtype()
        self.register_buffer("running_mean", torch.zeros((num_features,), dtype=dtype))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.int64))

    @property
    def momentum(self):
        return self._momentum

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0)
        decayed = self.running_mean * (1 - self.momentum)
        torch.add(decayed, mean.detach(), alpha=self.momentum, out=self.running_mean)
        self.num_batches_tracked.add_(1)
        return x - mean


@correct("03.running_mean")
class RunningMeanFloat64Accumulation(nn.Module):
    """setattr with nn.Buffer; the batch mean taken in float64 and cast back to the
    buffer's dtype before an in-place update."""

    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        setattr(self, "running_mean", nn.Buffer(torch.zeros(num_features)))  # noqa: B010
        setattr(self, "num_batches_tracked", nn.Buffer(torch.tensor(0, dtype=torch.long)))  # noqa: B010

    def forward(self, x):
        if self.training:
            with torch.no_grad():
                batch_mean = x.double().mean(0).to(self.running_mean.dtype)
                self.running_mean.mul_(1.0 - self.momentum)
                self.running_mean.add_(batch_mean, alpha=self.momentum)
                self.num_batches_tracked += 1
            return x - x.mean(0)
        return x - self.running_mean


@correct("03.running_mean")
class RunningMeanRegisteredInALoop(nn.Module):
    """Both buffers registered in a loop over a dict; the update through .data (no
    history): .data.lerp_ and .data.add_."""

    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        initial = {
            "running_mean": torch.zeros(num_features),
            "num_batches_tracked": torch.tensor(0, dtype=torch.long),
        }
        for name, tensor in initial.items():
            self.register_buffer(name, tensor)

    def forward(self, x):
        mean = x.mean(0)
        if self.training:
            self.running_mean.data.lerp_(mean.data, self.momentum)
            self.num_batches_tracked.data.add_(1)
            return x - mean
        return x - self.running_mean


@correct("03.running_mean")
class RunningMeanWeightedStack(nn.Module):
    """The two terms stacked and weighted by a tensor made on x's device; the detached
    result assigned to the name; the count += 1 outside no_grad; .long() for the count."""

    def __init__(self, num_features: int, momentum: float = 0.1) -> None:
        super().__init__()
        self.num_features = num_features
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features), persistent=True)
        self.register_buffer("num_batches_tracked", torch.tensor(0).long())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            batch_mean = torch.mean(x, dim=0)
            weights = torch.tensor(
                [1 - self.momentum, self.momentum], dtype=x.dtype, device=x.device
            )
            terms = torch.stack([self.running_mean, batch_mean])
            self.running_mean = (terms * weights[:, None]).sum(0).detach()
            self.num_batches_tracked += 1
            return x - batch_mean
        else:
            return x - self.running_mean


@correct("03.running_mean")
class RunningMeanResetMethodAndChecks(nn.Module):
    """BatchNorm's layout: empty buffers zeroed by reset_running_stats(); forward raises
    for a shape other than (N, num_features); the count incremented outside no_grad."""

    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.num_features, self.momentum = num_features, momentum
        self.register_buffer("running_mean", torch.empty(num_features))
        self.register_buffer("num_batches_tracked", torch.empty((), dtype=torch.long))
        self.reset_running_stats()

    def reset_running_stats(self):
        self.running_mean.zero_()
        self.num_batches_tracked.zero_()

    def forward(self, x):
        if x.dim() != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"expected (N, {self.num_features}), got {tuple(x.shape)}")
        if self.training:
            mean = x.mean(0)
            with torch.no_grad():
                self.running_mean.lerp_(mean, self.momentum)
            self.num_batches_tracked.add_(1)
            return x - mean
        return x - self.running_mean


@correct("03.running_mean")
class RunningMeanPersistentMomentumBuffer(nn.Module):
    """A third buffer, persistent, holding momentum (the contract asks for the two buffers
    in state_dict(), not for them alone)."""

    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0))
        self.register_buffer("momentum", torch.tensor(momentum))

    def forward(self, x):
        if self.training:
            mean = x.mean(0)
            with torch.no_grad():
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                self.num_batches_tracked += 1
            return x - mean
        return x - self.running_mean


@correct("03.running_mean")
class RunningMeanCpuScalarTensors(nn.Module):
    """0-dim torch.tensor(...) scalars (CPU) in in-place updates: torch lets a 0-dim CPU
    tensor mix with tensors on any device, so this runs on a GPU too."""

    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0)
        with torch.no_grad():
            self.running_mean.mul_(torch.tensor(1 - self.momentum))
            self.running_mean.add_(mean * torch.tensor(self.momentum))
            self.num_batches_tracked.add_(torch.tensor(1))
        return x - mean


@correct("03.running_mean")
class RunningMeanWeightsMovedWithTo(nn.Module):
    """Weights made with torch.tensor([...]) on the CPU, then moved .to(x.device): on a
    GPU machine a copy on the GPU (the check once kept them marked as CPU tensors)."""

    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0)
        w = torch.tensor([1 - self.momentum, self.momentum], dtype=x.dtype).to(x.device)
        with torch.no_grad():
            self.running_mean.copy_((torch.stack([self.running_mean, mean]) * w[:, None]).sum(0))
        self.num_batches_tracked += 1
        return x - mean


@correct("03.running_mean")
class RunningMeanOnesMovedToTheBuffer(nn.Module):
    """A ones vector made on the CPU, moved with .to(self.running_mean) (its device and
    dtype)."""

    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0)
        keep = torch.ones(x.shape[1]).to(self.running_mean) * (1 - self.momentum)
        with torch.no_grad():
            self.running_mean.copy_(keep * self.running_mean + self.momentum * mean)
        self.num_batches_tracked += 1
        return x - mean


@correct("03.running_mean")
class RunningMeanLogsACpuCopy(nn.Module):
    """A Python list copy of running_mean kept for logging, read through .cpu() (a copy on
    a GPU machine; the buffer itself stays where it is)."""

    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        self.history = []

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0)
        with torch.no_grad():
            self.running_mean.lerp_(mean, self.momentum)
        self.num_batches_tracked += 1
        self.history.append(self.running_mean.cpu().tolist())
        return x - mean


@mistake("03.running_mean", hint="is a tensor made on the CPU in forward")
class RunningMeanKeepsStatsOnTheCpu(nn.Module):
    """The statistics moved to the CPU with .to("cpu") "to spare GPU memory": on a GPU
    machine the eval-mode x - running_mean mixes devices (on a laptop nothing shows)."""

    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0)
        with torch.no_grad():
            self.running_mean = self.running_mean.to("cpu")
            self.running_mean.lerp_(mean.to("cpu"), self.momentum)
        self.num_batches_tracked += 1
        return x - mean


@mistake("03.running_mean", hint="mixes a tensor made on the CPU with the module's tensors")
class RunningMeanFactorsConvertedNotMoved(nn.Module):
    """Decay factors made in float64 "for precision" and converted .to(x.dtype): a dtype
    conversion stays on the CPU, so on a GPU machine they meet GPU tensors."""

    def __init__(self, num_features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0)
        keep = torch.full((x.shape[1],), 1 - self.momentum, dtype=torch.float64).to(x.dtype)
        with torch.no_grad():
            self.running_mean.copy_(keep * self.running_mean + self.momentum * mean)
        self.num_batches_tracked += 1
        return x - mean


# -- 03.causal_mask: mistakes -------------------------------------------------------------------


@mistake("03.causal_mask", hint="register_buffer(name, mask, persistent=False)")
class CausalMaskPersistent(nn.Module):
    def __init__(self, max_len):
        super().__init__()
        self.register_buffer("mask", torch.ones(max_len, max_len, dtype=torch.bool).triu(1))

    def forward(self, scores):
        T = scores.shape[-1]
        return scores.masked_fill(self.mask[:T, :T], float("-inf"))


@mistake("03.causal_mask", hint="Strictly above the diagonal: triu(diagonal=1)")
class CausalMaskIncludesDiagonal(nn.Module):
    def __init__(self, max_len):
        super().__init__()
        mask = torch.triu(torch.ones(max_len, max_len, dtype=torch.bool))
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, scores):
        T = scores.shape[-1]
        return scores.masked_fill(self.mask[:T, :T], float("-inf"))


@mistake("03.causal_mask", hint="Keep a bool mask")
class CausalMaskFloat(nn.Module):
    def __init__(self, max_len):
        super().__init__()
        mask = torch.triu(torch.ones(max_len, max_len), diagonal=1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, scores):
        T = scores.shape[-1]
        return scores.masked_fill(self.mask[:T, :T] == 1, float("-inf"))


@mistake("03.causal_mask", hint="masked_fill_ overwrites the caller's scores")
class CausalMaskInPlace(nn.Module):
    def __init__(self, max_len):
        super().__init__()
        mask = torch.ones(max_len, max_len, dtype=torch.bool).triu(1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, scores):
        T = scores.shape[-1]
        return scores.masked_fill_(self.mask[:T, :T], float("-inf"))


@mistake("03.causal_mask", hint="Slice the mask to the scores' size")
class CausalMaskNotSliced(nn.Module):
    def __init__(self, max_len):
        super().__init__()
        mask = torch.ones(max_len, max_len, dtype=torch.bool).triu(1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, scores):
        return scores.masked_fill(self.mask, float("-inf"))


@mistake("03.causal_mask", hint="(scores may be shorter than max_len)")
class CausalMaskSlicedFromTheEnd(nn.Module):
    def __init__(self, max_len):
        super().__init__()
        mask = torch.ones(max_len, max_len, dtype=torch.bool).triu(1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, scores):
        T = scores.shape[-1]
        return scores.masked_fill(self.mask[:T, -T:], float("-inf"))


@mistake("03.causal_mask", hint="a large negative number such as -1e9")
class CausalMaskLargeNegative(nn.Module):
    def __init__(self, max_len):
        super().__init__()
        mask = torch.ones(max_len, max_len, dtype=torch.bool).triu(1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, scores):
        T = scores.shape[-1]
        return scores.masked_fill(self.mask[:T, :T], -1e9)


@mistake("03.causal_mask", hint="instead of building a mask on every call")
class CausalMaskBuiltInForward(nn.Module):
    def __init__(self, max_len):
        super().__init__()
        mask = torch.ones(max_len, max_len, dtype=torch.bool).triu(1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, scores):
        T = scores.shape[-1]
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        return scores.masked_fill(mask, float("-inf"))


@mistake("03.causal_mask", hint="a plain tensor does not follow .to(device)")
class CausalMaskPlainTensor(nn.Module):
    def __init__(self, max_len):
        super().__init__()
        self.mask = torch.ones(max_len, max_len, dtype=torch.bool).triu(1)

    def forward(self, scores):
        T = scores.shape[-1]
        return scores.masked_fill(self.mask[:T, :T], float("-inf"))


@mistake("03.causal_mask", hint="The mask is inverted")
class CausalMaskStoresAllowed(nn.Module):
    def __init__(self, max_len):
        super().__init__()
        allowed = torch.tril(torch.ones(max_len, max_len, dtype=torch.bool))
        self.register_buffer("allowed", allowed, persistent=False)

    def forward(self, scores):
        T = scores.shape[-1]
        return scores.masked_fill(~self.allowed[:T, :T], float("-inf"))


def _init_causal(self, max_len):
    nn.Module.__init__(self)
    mask = torch.ones(max_len, max_len, dtype=torch.bool).triu(1)
    self.register_buffer("mask", mask, persistent=False)


@mistake("03.causal_mask", hint="when out = scores (the same tensor)")
class CausalMaskAliasedOutput(nn.Module):
    __init__ = _init_causal

    def forward(self, scores):
        T = scores.shape[-1]
        out = scores  # a second name, not a copy
        out[..., self.mask[:T, :T]] = float("-inf")
        return out


@mistake("03.causal_mask", hint="0 * -inf is NaN")
class CausalMaskAddsMaskTimesInf(nn.Module):
    __init__ = _init_causal

    def forward(self, scores):
        T = scores.shape[-1]
        return scores + self.mask[:T, :T] * float("-inf")


@mistake("03.causal_mask", hint="-inf and the scores are swapped")
class CausalMaskWhereArgumentsSwapped(nn.Module):
    __init__ = _init_causal

    def forward(self, scores):
        T = scores.shape[-1]
        return torch.where(self.mask[:T, :T], scores, float("-inf"))


@mistake("03.causal_mask", hint="forward must only read the mask")
class CausalMaskSlicesTheBuffer(nn.Module):
    __init__ = _init_causal

    def forward(self, scores):
        T = scores.shape[-1]
        self.mask = self.mask[:T, :T]  # shrinks the buffer for every later call
        return scores.masked_fill(self.mask, float("-inf"))


@mistake("03.causal_mask", hint="The masked positions hold 0, not -inf")
class CausalMaskMultipliesByAllowed(nn.Module):
    __init__ = _init_causal

    def forward(self, scores):
        T = scores.shape[-1]
        return scores * ~self.mask[:T, :T]


@mistake("03.causal_mask", hint="the softmax comes after this module")
class CausalMaskAppliesSoftmax(nn.Module):
    __init__ = _init_causal

    def forward(self, scores):
        T = scores.shape[-1]
        return scores.masked_fill(self.mask[:T, :T], float("-inf")).softmax(dim=-1)


@mistake("03.causal_mask", hint="made a plain attribute first, so register_buffer refuses")
class CausalMaskAssignsThenRegisters(nn.Module):
    def __init__(self, max_len):
        super().__init__()
        self.mask = torch.ones(max_len, max_len, dtype=torch.bool).triu(1)
        self.register_buffer("mask", self.mask, persistent=False)  # KeyError: already exists

    def forward(self, scores):
        T = scores.shape[-1]
        return scores.masked_fill(self.mask[:T, :T], float("-inf"))


@mistake("03.causal_mask", hint="the notebook's `device`")
class CausalMaskOnNotebookDevice(nn.Module):
    def __init__(self, max_len):
        super().__init__()
        mask = torch.ones(max_len, max_len, dtype=torch.bool, device=device).triu(1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, scores):
        T = scores.shape[-1]
        return scores.masked_fill(self.mask[:T, :T], float("-inf"))


# -- 03.causal_mask: correct alternatives ----------------------------------------------------


@correct("03.causal_mask")
class CausalMaskWhereWithBuffer(nn.Module):
    """nn.Buffer(persistent=False), mask from comparing positions, torch.where."""

    def __init__(self, max_len):
        super().__init__()
        position = torch.arange(max_len)
        self.future = nn.Buffer(position[None, :] > position[:, None], persistent=False)

    def forward(self, scores):
        size = scores.size(-1)
        return torch.where(self.future[:size, :size], float("-inf"), scores)


@correct("03.causal_mask")
class CausalMaskIndexAssign(nn.Module):
    """A clone filled by boolean indexing, the mask sliced from the bottom-right corner."""

    def __init__(self, max_len):
        super().__init__()
        self.max_len = max_len
        self.register_buffer(
            "causal", torch.ones(max_len, max_len).triu(diagonal=1).bool(), persistent=False
        )

    def forward(self, scores):
        T = scores.shape[-1]
        out = scores.clone()
        out[..., self.causal[-T:, -T:]] = float("-inf")
        return out


@correct("03.causal_mask")
class CausalMaskInAChildModule(nn.Module):
    """The buffer lives in a child module; narrow() to slice; math.inf."""

    def __init__(self, max_len):
        super().__init__()
        self.holder = nn.Module()
        future = torch.triu(torch.full((max_len, max_len), True), diagonal=1)
        self.holder.register_buffer("future", future, persistent=False)

    def forward(self, scores):
        n = scores.size(-2)
        mask = self.holder.future.narrow(0, 0, n).narrow(1, 0, n)
        return scores.masked_fill(mask.expand_as(scores), -math.inf)


@correct("03.causal_mask")
class CausalMaskAdditiveFromBuffer(nn.Module):
    """An additive float mask made from the bool buffer on each call, and a second buffer."""

    def __init__(self, max_len):
        super().__init__()
        position = torch.arange(max_len)
        self.register_buffer("blocked", position.unsqueeze(0) > position.unsqueeze(1), False)
        self.register_buffer("neg_inf", torch.tensor(float("-inf")), persistent=False)

    def forward(self, scores):
        T = scores.shape[-1]
        additive = torch.zeros_like(scores[..., :T, :T]).masked_fill(
            self.blocked[:T, :T], self.neg_inf
        )
        return scores + additive


@mistake("03.causal_mask", hint="(self.mask[:T, :T], no .cpu())")
class CausalMaskMovesMaskToCpu(nn.Module):
    """.cpu() on the mask "to be safe": a no-op on a laptop, a device clash on a GPU."""

    def __init__(self, max_len):
        super().__init__()
        mask = torch.ones(max_len, max_len, dtype=torch.bool).triu(1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, scores):
        T = scores.shape[-1]
        return scores.masked_fill(self.mask[:T, :T].cpu(), float("-inf"))


@mistake("03.causal_mask", hint="do not detach the scores")
class CausalMaskDetachesScores(nn.Module):
    """The right values, but the output is cut off from the graph."""

    def __init__(self, max_len):
        super().__init__()
        mask = torch.ones(max_len, max_len, dtype=torch.bool).triu(1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, scores):
        T = scores.shape[-1]
        return scores.detach().masked_fill(self.mask[:T, :T], float("-inf"))


@correct("03.causal_mask")
class CausalMaskBuiltByLoops(nn.Module):
    """The mask filled by two loops; -float("inf")."""

    def __init__(self, max_len):
        super().__init__()
        mask = torch.zeros(max_len, max_len, dtype=torch.bool)
        for i in range(max_len):
            for j in range(i + 1, max_len):
                mask[i, j] = True
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, scores):
        T = scores.size(-1)
        return scores.masked_fill(self.mask[:T, :T], -float("inf"))


@correct("03.causal_mask")
class CausalMaskWhereWithScalarTensor(nn.Module):
    """The complement of tril, and torch.where with a 0-dim torch.tensor(-inf) (a CPU
    scalar, which torch lets mix with tensors on any device)."""

    def __init__(self, max_len):
        super().__init__()
        future = ~torch.tril(torch.ones(max_len, max_len)).bool()
        self.register_buffer("future", future, persistent=False)

    def forward(self, scores):
        T = scores.shape[-1]
        return torch.where(self.future[:T, :T], torch.tensor(float("-inf")), scores)


# -- 03.causal_mask: more correct alternatives (second review) ----------------------------------


@correct("03.causal_mask")
class CausalMaskBoolTriuMathInf(nn.Module):
    """A bool ones(...).triu(1); T from scores.size(-1); -math.inf."""

    def __init__(self, max_len):
        super().__init__()
        mask = torch.ones(max_len, max_len, dtype=torch.bool).triu(1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, scores):
        T = scores.size(-1)
        return scores.masked_fill(self.mask[:T, :T], -math.inf)


@correct("03.causal_mask")
class CausalMaskWhereFullLike(nn.Module):
    """Positions compared with arange; T from shape[-2]; torch.where with full_like."""

    def __init__(self, max_len):
        super().__init__()
        i = torch.arange(max_len)
        self.register_buffer("future", i[None, :] > i[:, None], persistent=False)

    def forward(self, scores):
        T = scores.shape[-2]
        blocked = torch.full_like(scores, float("-inf"))
        return torch.where(self.future[:T, :T], blocked, scores)


@correct("03.causal_mask")
class CausalMaskValidatesAndNarrows(nn.Module):
    """~tril of a bool ones; forward raises for a non-square or too long input; narrow();
    -torch.inf."""

    def __init__(self, max_len):
        super().__init__()
        self.max_len = int(max_len)
        causal = ~torch.tril(torch.ones(max_len, max_len, dtype=torch.bool))
        self.register_buffer("causal", causal, persistent=False)

    def forward(self, scores):
        if scores.dim() < 2 or scores.shape[-1] != scores.shape[-2]:
            raise ValueError("scores must have shape (..., T, T)")
        size = scores.shape[-1]
        if size > self.max_len:
            raise ValueError(f"T={size} is longer than max_len={self.max_len}")
        mask = self.causal.narrow(0, 0, size).narrow(1, 0, size)
        return scores.masked_fill(mask, -torch.inf)


@correct("03.causal_mask")
class CausalMaskCloneThenFillInPlace(nn.Module):
    """nn.Buffer attribute from a float triu compared > 0; masked_fill_ on a clone."""

    def __init__(self, max_len):
        super().__init__()
        future = torch.triu(torch.ones(max_len, max_len), diagonal=1) > 0
        self.mask = nn.Buffer(future, persistent=False)

    def forward(self, scores):
        T = scores.shape[-1]
        out = scores.clone()
        out.masked_fill_(self.mask[:T, :T], float("-inf"))
        return out


@correct("03.causal_mask")
class CausalMaskLogicalNotWithNoOpTo(nn.Module):
    """tril().logical_not() of a float ones; the slice sent .to(scores.device) (a no-op
    where the module already is); masked_fill with a 0-dim -inf tensor."""

    def __init__(self, max_len):
        super().__init__()
        mask = torch.ones(max_len, max_len).tril().logical_not()
        self.register_buffer("m", mask, persistent=False)

    def forward(self, scores):
        T = scores.size(-1)
        mask = self.m[:T, :T].to(scores.device)
        return scores.masked_fill(mask, torch.tensor(float("-inf")))


@correct("03.causal_mask")
class CausalMaskWhereAllowedFirst(nn.Module):
    """torch.full(..., True).triu(1); torch.where(~mask, scores, -inf); T unpacked from
    the shape; -float("inf") as a Python float."""

    def __init__(self, max_len):
        super().__init__()
        blocked = torch.triu(torch.full((max_len, max_len), True), 1)
        self.register_buffer("blocked", blocked, persistent=False)

    def forward(self, scores):
        *_, rows, cols = scores.shape
        return torch.where(~self.blocked[:rows, :cols], scores, -float("inf"))


@correct("03.causal_mask")
class CausalMaskFromTriuIndices(nn.Module):
    """The mask filled at triu_indices(offset=1); -np.inf; a persistent max_len buffer
    next to it (only the mask must stay out of state_dict())."""

    def __init__(self, max_len):
        super().__init__()
        mask = torch.zeros(max_len, max_len, dtype=torch.bool)
        rows, cols = torch.triu_indices(max_len, max_len, offset=1)
        mask[rows, cols] = True
        self.register_buffer("mask", mask, persistent=False)
        self.register_buffer("max_len", torch.tensor(max_len))

    def forward(self, scores):
        T = scores.shape[-1]
        return scores.masked_fill(self.mask[:T, :T], -np.inf)


@correct("03.causal_mask")
class CausalMaskNewFullScalar(nn.Module):
    """A uint8 triu turned bool; torch.where with scores.new_full((), -inf)."""

    def __init__(self, max_len):
        super().__init__()
        mask = torch.triu(torch.ones(max_len, max_len, dtype=torch.uint8), 1).bool()
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, scores):
        T = scores.shape[-1]
        return torch.where(self.mask[:T, :T], scores.new_full((), float("-inf")), scores)


@correct("03.causal_mask")
class CausalMaskNextToAnAllowedBuffer(nn.Module):
    """Two square bool buffers, `allowed` (tril) registered before `mask`: the contract
    asks for a mask buffer, not for it alone (the check once took the first one)."""

    def __init__(self, max_len):
        super().__init__()
        allowed = torch.ones(max_len, max_len, dtype=torch.bool).tril()
        self.register_buffer("allowed", allowed, persistent=False)
        self.register_buffer("mask", ~allowed, persistent=False)

    def forward(self, scores):
        T = scores.shape[-1]
        return scores.masked_fill(self.mask[:T, :T], float("-inf"))


@correct("03.causal_mask")
class CausalMaskAfterAnEyeBuffer(nn.Module):
    """A square bool eye buffer registered before the mask."""

    def __init__(self, max_len):
        super().__init__()
        self.register_buffer("eye", torch.eye(max_len, dtype=torch.bool), persistent=False)
        mask = torch.ones(max_len, max_len, dtype=torch.bool).triu(1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, scores):
        T = scores.shape[-1]
        return scores.masked_fill(self.mask[:T, :T], float("-inf"))


@correct("03.causal_mask")
class CausalMaskFillMovedToScores(nn.Module):
    """The buffer mask; the -inf fill made on the CPU and moved with .to(scores.device,
    scores.dtype) before torch.where."""

    def __init__(self, max_len):
        super().__init__()
        mask = torch.ones(max_len, max_len, dtype=torch.bool).triu(1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, scores):
        T = scores.shape[-1]
        fill = torch.full((T, T), float("-inf")).to(scores.device, scores.dtype)
        return torch.where(self.mask[:T, :T], fill, scores)


@correct("03.causal_mask")
class CausalMaskCountsOnTheCpu(nn.Module):
    """Counts the masked positions through .cpu() for a log, then masks with the buffer
    (the check once took the .cpu() as moving the buffer itself)."""

    def __init__(self, max_len):
        super().__init__()
        mask = torch.ones(max_len, max_len, dtype=torch.bool).triu(1)
        self.register_buffer("mask", mask, persistent=False)
        self.masked_last = 0

    def forward(self, scores):
        T = scores.shape[-1]
        mask = self.mask[:T, :T]
        self.masked_last = int(mask.cpu().sum())
        return scores.masked_fill(mask, float("-inf"))


@correct("03.causal_mask")
class CausalMaskAssertsOnACpuCopy(nn.Module):
    """An assertion that reads the whole buffer through .cpu() before masking."""

    def __init__(self, max_len):
        super().__init__()
        mask = torch.ones(max_len, max_len, dtype=torch.bool).triu(1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, scores):
        assert self.mask.cpu().dtype == torch.bool
        T = scores.shape[-1]
        return scores.masked_fill(self.mask[:T, :T], float("-inf"))


# -- 03.freeze: mistakes ---------------------------------------------------------------------------


@mistake("03.freeze", hint="'fc1' must freeze 'fc1.weight' but not 'fc10.weight'")
def freeze_plain_startswith(model, prefixes):
    frozen = []
    for name, param in model.named_parameters():
        if any(name.startswith(prefix) for prefix in prefixes):
            param.requires_grad = False
            frozen.append(name)
    return frozen


@mistake("03.freeze", hint="model.requires_grad_(False) freezes everything")
def freeze_everything(model, prefixes):
    model.requires_grad_(False)
    return [name for name, _ in model.named_parameters() if name.split(".")[0] in prefixes]


@mistake("03.freeze", hint="Return the names in named_parameters() order")
def freeze_in_prefix_order(model, prefixes):
    frozen = []
    for prefix in prefixes:
        for name, param in model.named_parameters():
            if (name == prefix or name.startswith(prefix + ".")) and param.requires_grad:
                param.requires_grad_(False)
                frozen.append(name)
    return frozen


@mistake("03.freeze", hint="Return the names (strings such as 'fc1.weight')")
def freeze_returns_parameters(model, prefixes):
    frozen = []
    for name, param in model.named_parameters():
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            param.requires_grad_(False)
            frozen.append(param)
    return frozen


@mistake("03.freeze", hint="do not set requires_grad=True on the others")
def freeze_resets_the_others(model, prefixes):
    frozen = []
    for name, param in model.named_parameters():
        match = any(name == p or name.startswith(p + ".") for p in prefixes)
        param.requires_grad_(not match)
        if match:
            frozen.append(name)
    return frozen


@mistake("03.freeze", hint="param.data and param.detach() are other tensors")
def freeze_through_data(model, prefixes):
    frozen = []
    for name, param in model.named_parameters():
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            param.data.requires_grad_(False)
            frozen.append(name)
    return frozen


@mistake("03.freeze", hint="keep the same Parameter objects")
def freeze_replaces_parameters(model, prefixes):
    frozen = []
    for name, param in list(model.named_parameters()):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            owner_name, _, attribute = name.rpartition(".")
            owner = model.get_submodule(owner_name)
            setattr(owner, attribute, nn.Parameter(param.detach(), requires_grad=False))
            frozen.append(name)
    return frozen


@mistake("03.freeze", hint="Return the list of the names you froze")
def freeze_forgets_to_return(model, prefixes):
    for name, param in model.named_parameters():
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            param.requires_grad_(False)


@mistake("03.freeze", hint="Do not touch param.data")
def freeze_detaches_data(model, prefixes):
    frozen = []
    for name, param in model.named_parameters():
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            param.data = param.data.clone()  # "cut it loose from the graph"
            param.requires_grad = False
            frozen.append(name)
    return frozen


@mistake("03.freeze", hint="A prefix can name a single parameter")
def freeze_dotted_only(model, prefixes):
    frozen = []
    for name, param in model.named_parameters():
        if any(name.startswith(prefix + ".") for prefix in prefixes):  # misses name == prefix
            param.requires_grad_(False)
            frozen.append(name)
    return frozen


@mistake("03.freeze", hint="compare each whole qualified name")
def freeze_by_owner_module(model, prefixes):
    frozen = []
    for name, param in model.named_parameters():
        owner = name.rpartition(".")[0]  # 'block.fc1' for 'block.fc1.weight'
        if owner in prefixes or name in prefixes:
            param.requires_grad_(False)
            frozen.append(name)
    return frozen


@mistake("03.freeze", hint="`prefix in name` also matches in the middle of a name")
def freeze_substring(model, prefixes):
    frozen = []
    for name, param in model.named_parameters():
        if any(prefix in name for prefix in prefixes):
            param.requires_grad = False
            frozen.append(name)
    return frozen


@mistake("03.freeze", hint="instead of looking them up with get_submodule")
def freeze_get_submodule(model, prefixes):
    for prefix in prefixes:
        model.get_submodule(prefix).requires_grad_(False)
    return [name for name, param in model.named_parameters() if not param.requires_grad]


@mistake("03.freeze", hint="state_dict() also holds buffers")
def freeze_over_state_dict_keys(model, prefixes):
    params = dict(model.named_parameters())
    frozen = []
    for name in model.state_dict():
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            if name in params:
                params[name].requires_grad_(False)
            frozen.append(name)
    return frozen


@mistake("03.freeze", hint="some were frozen before this call")
def freeze_returns_all_frozen(model, prefixes):
    for name, param in model.named_parameters():
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            param.requires_grad_(False)
    return [name for name, param in model.named_parameters() if not param.requires_grad]


@mistake("03.freeze", hint="A prefix that matches nothing ('head' here) is ignored")
def freeze_raises_on_unmatched_prefix(model, prefixes):
    names = [name for name, _ in model.named_parameters()]
    frozen = []
    for prefix in prefixes:
        matched = [n for n in names if n == prefix or n.startswith(prefix + ".")]
        if not matched:
            raise ValueError(f"no parameter matches {prefix!r}")  # "a typo, surely"
        frozen += matched
    for name, param in model.named_parameters():
        if name in frozen:
            param.requires_grad_(False)
    return [n for n in names if n in frozen]


@mistake("03.freeze", hint="including those of parameters frozen before this call")
def freeze_returns_only_newly_frozen(model, prefixes):
    frozen = []
    for name, param in model.named_parameters():
        match = any(name == p or name.startswith(p + ".") for p in prefixes)
        if match and param.requires_grad:  # "what this call froze"
            param.requires_grad_(False)
            frozen.append(name)
    return frozen


@mistake("03.freeze", hint="str.startswith does not take a list")
def freeze_startswith_the_list(model, prefixes):
    frozen = []
    for name, param in model.named_parameters():
        if name.startswith(prefixes):  # as if prefixes were one string
            param.requires_grad_(False)
            frozen.append(name)
    return frozen


@mistake("03.freeze", hint="prefixes + '.' adds to the list")
def freeze_wraps_prefixes_as_one(model, prefixes):
    frozen = []
    for name, param in model.named_parameters():
        if name == prefixes or name.startswith(prefixes + "."):  # one string in mind
            param.requires_grad_(False)
            frozen.append(name)
    return frozen


@correct("03.freeze")
def freeze_accepts_one_string_too(model, prefixes):
    """A lone string wrapped in a list; flags set only where needed, every match listed."""
    if isinstance(prefixes, str):
        prefixes = [prefixes]
    frozen = []
    for name, param in model.named_parameters():
        for prefix in prefixes:
            if name == prefix or name.startswith(prefix + "."):
                if param.requires_grad:
                    param.requires_grad = False
                frozen.append(name)
                break
    return frozen


# -- 03.freeze: correct alternatives ------------------------------------------------------------


@correct("03.freeze")
def freeze_with_dotted_tuple(model, prefixes):
    """str.startswith with a tuple, on names with a trailing dot; a list comprehension."""
    dotted = tuple(prefix + "." for prefix in prefixes)
    names = [name for name, _ in model.named_parameters() if (name + ".").startswith(dotted)]
    for name in names:
        model.get_parameter(name).requires_grad = False
    return names


@correct("03.freeze")
def freeze_by_name_parts(model, prefixes):
    """Compare the dot-separated parts of the names; a regex would do as well."""
    patterns = [re.compile(re.escape(prefix) + r"(\.|$)") for prefix in prefixes]
    frozen = []
    for name, param in model.named_parameters():
        if any(pattern.match(name) for pattern in patterns):
            param.requires_grad_(False)
            frozen.append(name)
    return frozen


@correct("03.freeze")
def freeze_by_ancestors(model, prefixes):
    """Every dotted ancestor of a name ('block', 'block.fc1', 'block.fc1.weight') in a set."""
    wanted = set(prefixes)
    frozen = []
    for name, param in model.named_parameters():
        parts = name.split(".")
        if any(".".join(parts[:k]) in wanted for k in range(1, len(parts) + 1)):
            param.requires_grad = False
            frozen.append(name)
    return frozen


@correct("03.freeze")
def freeze_prefix_loop_then_order(model, prefixes):
    """Prefixes in the outer loop into a set; names re-ordered by named_parameters()."""
    chosen = set()
    for prefix in prefixes:
        for name, _ in model.named_parameters():
            if name == prefix or name.startswith(f"{prefix}."):
                chosen.add(name)
    names = []
    for name, param in model.named_parameters():
        if name in chosen:
            param.requires_grad_(False)
            names.append(name)
    return names


@mistake("03.freeze", hint="Freezing is not eval mode")
def freeze_sets_eval_mode(model, prefixes):
    frozen = []
    for name, module in model.named_modules():
        if name in prefixes:
            module.eval()  # "frozen layers should not update BatchNorm either"
    for name, param in model.named_parameters():
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            param.requires_grad_(False)
            frozen.append(name)
    return frozen


@mistake("03.freeze", hint="Do not change the caller's list")
def freeze_consumes_prefixes(model, prefixes):
    frozen = []
    for name, param in model.named_parameters():
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            param.requires_grad_(False)
            frozen.append(name)
    prefixes.clear()  # "done with them"
    return frozen


@mistake("03.freeze", hint="is past the end of the name")
def freeze_indexes_after_prefix(model, prefixes):
    frozen = []
    for name, param in model.named_parameters():
        for p in prefixes:
            if name.startswith(p) and name[len(p)] == ".":  # IndexError when name == p
                param.requires_grad_(False)
                frozen.append(name)
                break
    return frozen


@correct("03.freeze")
def freeze_one_regex(model, prefixes):
    """One regex alternation of the escaped prefixes, anchored at a dot or the end."""
    if not prefixes:
        return []
    pattern = re.compile("(?:" + "|".join(map(re.escape, prefixes)) + r")(?:\.|$)")
    frozen = []
    for name, param in model.named_parameters():
        if pattern.match(name):
            param.requires_grad_(False)
            frozen.append(name)
    return frozen


@correct("03.freeze")
def freeze_from_named_modules(model, prefixes):
    """Modules named by a prefix give their parameters (prefix=...); single parameters are
    added by name; then everything in named_parameters() order."""
    chosen = set()
    for module_name, module in model.named_modules():
        if module_name in prefixes:
            chosen.update(n for n, _ in module.named_parameters(prefix=module_name))
    chosen.update(n for n, _ in model.named_parameters() if n in prefixes)
    names = [n for n, _ in model.named_parameters() if n in chosen]
    for name in names:
        model.get_parameter(name).requires_grad = False
    return names


# -- 03.freeze: more correct alternatives (second review) ---------------------------------------


@correct("03.freeze")
def freeze_by_slicing_names(model, prefixes):
    """name[:len(p)] == p and the next character is '' or '.'; requires_grad = False."""
    names = []
    for name, param in model.named_parameters():
        for prefix in prefixes:
            rest = name[len(prefix) : len(prefix) + 1]
            if name[: len(prefix)] == prefix and rest in ("", "."):
                param.requires_grad = False
                names.append(name)
                break
    return names


@correct("03.freeze")
def freeze_names_first_then_dict(model, prefixes):
    """A frozenset of prefixes; the names chosen first, then frozen through a dict."""
    wanted = frozenset(prefixes)
    names = [
        n
        for n, _ in model.named_parameters()
        if any(n == p or n.startswith(p + ".") for p in wanted)
    ]
    params = dict(model.named_parameters())
    for n in names:
        params[n].requires_grad_(False)
    return names


@correct("03.freeze")
def freeze_with_filter(model, prefixes):
    """filter() over the (name, param) pairs with a nested helper."""

    def matches(pair):
        name = pair[0]
        return any(name == p or name.startswith(f"{p}.") for p in prefixes)

    pairs = list(filter(matches, model.named_parameters()))
    for _, param in pairs:
        param.requires_grad = False
    return [name for name, _ in pairs]


@correct("03.freeze")
def freeze_one_alternation_fullmatch(model, prefixes):
    """One regex alternation of the escaped prefixes, fullmatch with an optional '.tail';
    an empty list of prefixes freezes nothing."""
    if not prefixes:
        return []
    pattern = re.compile("(?:" + "|".join(map(re.escape, prefixes)) + r")(?:\..*)?")
    names = []
    for name, param in model.named_parameters():
        if pattern.fullmatch(name):
            param.requires_grad_(False)
            names.append(name)
    return names


@correct("03.freeze")
def freeze_set_then_sorted_by_position(model, prefixes):
    """Matches gathered into a set over a copy of the prefixes, frozen, then sorted by
    their position in named_parameters()."""
    position = {n: i for i, (n, _) in enumerate(model.named_parameters())}
    params = dict(model.named_parameters())
    hits = set()
    for prefix in list(prefixes):
        for name in params:
            if (name + ".").startswith(prefix + "."):
                hits.add(name)
    for name in hits:
        params[name].requires_grad = False
    return sorted(hits, key=position.__getitem__)


@correct("03.freeze")
def freeze_by_stripping_the_tail(model, prefixes):
    """Strip '.part' from the end of each name until it is a prefix or has no dot left."""
    names = []
    for name, param in model.named_parameters():
        head = name
        while True:
            if head in prefixes:
                param.requires_grad_(False)
                names.append(name)
                break
            if "." not in head:
                break
            head = head.rsplit(".", 1)[0]
    return names


@correct("03.freeze")
def freeze_lookups_that_tolerate_misses(model, prefixes):
    """get_submodule for a module prefix, get_parameter for a parameter name, a prefix that
    is neither skipped; the found Parameters matched back by identity, in order."""
    chosen = set()
    for prefix in prefixes:
        try:
            chosen.update(id(p) for p in model.get_submodule(prefix).parameters())
            continue
        except AttributeError:
            pass
        with contextlib.suppress(AttributeError):
            chosen.add(id(model.get_parameter(prefix)))
    names = []
    for name, param in model.named_parameters():
        if id(param) in chosen:
            param.requires_grad_(False)
            names.append(name)
    return names


# -- 03.checkpoint: mistakes ---------------------------------------------------------------------


def _load_all(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]


def _save_model_and_epoch(path, model, optimizer, epoch):
    torch.save({"model": model.state_dict(), "epoch": epoch}, path)


def _load_model_and_epoch(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint["model"])
    return checkpoint["epoch"]


@mistake(
    "03.checkpoint",
    hint="Save optimizer.state_dict() in the checkpoint too",
    extra={"load_checkpoint": _load_model_and_epoch},
)
def save_model_only(path, model, optimizer, epoch):
    _save_model_and_epoch(path, model, optimizer, epoch)


@mistake(
    "03.checkpoint",
    hint="torch.save(model) or torch.save(optimizer) pickles the objects' classes",
    extra={"load_checkpoint": _load_all},
)
def save_whole_objects(path, model, optimizer, epoch):
    torch.save({"model": model, "optimizer": optimizer, "epoch": epoch}, path)


def _load_forgets_epoch(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])


@mistake(
    "03.checkpoint",
    hint="Save the epoch in the checkpoint and return it",
    extra={"load_checkpoint": _load_forgets_epoch},
)
def save_then_forget_epoch(path, model, optimizer, epoch):
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)


def _load_into_new_optimizer(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint["model"])
    optimizer = type(optimizer)(model.parameters())  # a new one, thrown away on return
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]


@mistake(
    "03.checkpoint",
    hint="a new optimizer made inside load_checkpoint is thrown away",
    extra={"load_checkpoint": _load_into_new_optimizer},
)
def save_all_load_into_new_optimizer(path, model, optimizer, epoch):
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}
    torch.save(checkpoint, path)


def _load_pickle(path, model, optimizer):
    with open(path, "rb") as f:
        checkpoint = pickle.load(f)  # our own file in this catalogue; never an untrusted one
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]


@mistake(
    "03.checkpoint",
    hint="Save with torch.save, not pickle.dump",
    extra={"load_checkpoint": _load_pickle},
)
def save_with_pickle(path, model, optimizer, epoch):
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}
    with open(path, "wb") as f:
        pickle.dump(checkpoint, f)


def _load_swapped(path, model, optimizer):
    model_state, optimizer_state, epoch = torch.load(path, weights_only=True)
    model.load_state_dict(optimizer_state)
    optimizer.load_state_dict(model_state)
    return epoch


@mistake(
    "03.checkpoint",
    hint="Give each object its own saved state",
    extra={"load_checkpoint": _load_swapped},
)
def save_as_list(path, model, optimizer, epoch):
    torch.save([model.state_dict(), optimizer.state_dict(), epoch], path)


def _load_parameters_only(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint["model"], strict=False)  # "fixed" the missing-keys error
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]


@mistake(
    "03.checkpoint",
    hint="The buffers (BatchNorm's running statistics) were not restored",
    extra={"load_checkpoint": _load_parameters_only},
)
def save_parameters_only(path, model, optimizer, epoch):
    weights = {name: param.detach() for name, param in model.named_parameters()}
    torch.save({"model": weights, "optimizer": optimizer.state_dict(), "epoch": epoch}, path)


def _load_returns_dict(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint


@mistake(
    "03.checkpoint",
    hint="(a Python int)",
    extra={"load_checkpoint": _load_returns_dict},
)
def save_all_load_returns_the_dict(path, model, optimizer, epoch):
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}
    torch.save(checkpoint, path)


def _save_all(path, model, optimizer, epoch):
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}
    torch.save(checkpoint, path)


def _load_with_assign(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint["model"], assign=True)  # the model takes new tensors
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]


@mistake(
    "03.checkpoint",
    hint="without assign=True",
    extra={"load_checkpoint": _load_with_assign},
)
def save_all_load_with_assign(path, model, optimizer, epoch):
    _save_all(path, model, optimizer, epoch)


@mistake(
    "03.checkpoint",
    hint="model.half(), model.cpu() and model.to(...) convert or move the model itself",
    extra={"load_checkpoint": _load_all},
)
def save_in_half_precision(path, model, optimizer, epoch):
    state = model.half().state_dict()  # "half the file size", but it converts the model
    torch.save({"model": state, "optimizer": optimizer.state_dict(), "epoch": epoch}, path)


@mistake(
    "03.checkpoint",
    hint="use the same key names in both functions",
    extra={"load_checkpoint": _load_all},
)
def save_with_other_keys(path, model, optimizer, epoch):
    checkpoint = {
        "model_state_dict": model.state_dict(),
        "optimizer_state_dict": optimizer.state_dict(),
        "epoch": epoch,
    }
    torch.save(checkpoint, path)


def _load_next_epoch(path, model, optimizer):
    return _load_all(path, model, optimizer) + 1  # "the epoch to resume from"


@mistake(
    "03.checkpoint",
    hint="not the next one",
    extra={"load_checkpoint": _load_next_epoch},
)
def save_all_load_next_epoch(path, model, optimizer, epoch):
    _save_all(path, model, optimizer, epoch)


@mistake(
    "03.checkpoint",
    hint="Saving must leave the optimizer as it is",
    extra={"load_checkpoint": _load_all},
)
def save_then_reset_optimizer(path, model, optimizer, epoch):
    _save_all(path, model, optimizer, epoch)
    optimizer.state.clear()  # "free memory" after saving


def _load_two_files(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(torch.load(path + ".opt", weights_only=True))
    return checkpoint["epoch"]


@mistake(
    "03.checkpoint",
    hint="save_checkpoint writes one file, at path, and nothing else",
    extra={"load_checkpoint": _load_two_files},
)
def save_two_files(path, model, optimizer, epoch):
    torch.save({"model": model.state_dict(), "epoch": epoch}, path)
    torch.save(optimizer.state_dict(), path + ".opt")  # "the optimizer next to it"


def _load_state_only(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint["model"])
    own = optimizer.state_dict()
    own["state"] = checkpoint["optimizer_state"]  # the fresh optimizer's param_groups stay
    optimizer.load_state_dict(own)
    return checkpoint["epoch"]


@mistake(
    "03.checkpoint",
    hint="restored but not its param_groups",
    extra={"load_checkpoint": _load_state_only},
)
def save_optimizer_state_without_param_groups(path, model, optimizer, epoch):
    state = optimizer.state_dict()["state"]  # "the learning rate is in my config anyway"
    torch.save({"model": model.state_dict(), "optimizer_state": state, "epoch": epoch}, path)


def _load_weights_only_false(path, model, optimizer):
    # "It is my own file." The mistake this case catalogues; it only ever loads the check's
    # own files, and the check's trap file calls nothing but a flag-setter.
    checkpoint = torch.load(path, weights_only=False)  # unsafe on purpose
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]


@mistake(
    "03.checkpoint",
    hint="never weights_only=False",
    extra={"load_checkpoint": _load_weights_only_false},
)
def save_all_load_weights_only_false(path, model, optimizer, epoch):
    _save_all(path, model, optimizer, epoch)


def _load_swallows_errors(path, model, optimizer):
    try:
        checkpoint = torch.load(path, weights_only=True)
    except Exception:
        print("could not load the checkpoint, starting from scratch")
        return 0
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]


@mistake(
    "03.checkpoint",
    hint="do not catch the UnpicklingError",
    extra={"load_checkpoint": _load_swallows_errors},
)
def save_all_load_swallows_errors(path, model, optimizer, epoch):
    _save_all(path, model, optimizer, epoch)


@mistake(
    "03.checkpoint",
    hint="Keep torch.save's default pickle protocol",
    extra={"load_checkpoint": _load_all},
)
def save_with_pickle_protocol_4(path, model, optimizer, epoch):
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}
    torch.save(checkpoint, path, pickle_protocol=4)  # "a newer protocol is faster"


@mistake(
    "03.checkpoint",
    hint="no second copy such as",
    extra={"load_checkpoint": _load_all},
)
def save_also_latest_copy(path, model, optimizer, epoch):
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}
    torch.save(checkpoint, path)
    torch.save(checkpoint, "latest.pt")  # "always keep the latest one next to the notebook"


@mistake(
    "03.checkpoint",
    hint="model.cpu().state_dict() moves the model itself",
    extra={"load_checkpoint": _load_all},
)
def save_state_of_model_moved_to_cpu(path, model, optimizer, epoch):
    # "save on the CPU so it loads anywhere": the model itself leaves the GPU
    checkpoint = {"model": model.cpu().state_dict(), "optimizer": optimizer.state_dict()}
    torch.save({**checkpoint, "epoch": epoch}, path)


# -- 03.checkpoint: correct alternatives ---------------------------------------------------------


def _load_nested(path, model, optimizer):
    blob = torch.load(Path(path), map_location="cpu", weights_only=True)
    model.load_state_dict(blob["state"]["net"])
    optimizer.load_state_dict(blob["state"]["opt"])
    return int(blob["meta"]["epoch"])


@correct("03.checkpoint", extra={"load_checkpoint": _load_nested})
def save_nested_dict(path, model, optimizer, epoch):
    """Other key names, nesting, pathlib, map_location="cpu" on load."""
    blob = {
        "state": {"net": model.state_dict(), "opt": optimizer.state_dict()},
        "meta": {"epoch": epoch, "note": "resume me"},
    }
    torch.save(blob, Path(path))


def _load_file_object(path, model, optimizer):
    with open(path, "rb") as f:
        model_state, optimizer_state, epoch = torch.load(f, weights_only=True)
    optimizer.load_state_dict(optimizer_state)  # order does not matter: copies in place
    model.load_state_dict(model_state)
    return int(epoch.item())


@correct("03.checkpoint", extra={"load_checkpoint": _load_file_object})
def save_tuple_to_file_object(path, model, optimizer, epoch):
    """A tuple written to an open file; the epoch kept as a tensor."""
    with open(path, "wb") as f:
        torch.save((model.state_dict(), optimizer.state_dict(), torch.tensor(epoch)), f)


def _load_callable_map_location(path, model, optimizer):
    checkpoint = torch.load(path, map_location=lambda storage, _: storage, weights_only=True)
    model.load_state_dict(checkpoint["model"], strict=True)
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]


@correct("03.checkpoint", extra={"load_checkpoint": _load_callable_map_location})
def save_keep_vars_and_rng(path, model, optimizer, epoch):
    """Parameters saved as Parameters (keep_vars=True), plus the RNG state."""
    checkpoint = {
        "model": model.state_dict(keep_vars=True),
        "optimizer": optimizer.state_dict(),
        "epoch": epoch,
        "rng": torch.get_rng_state(),
    }
    torch.save(checkpoint, path)


def _load_copy_each_tensor(path, model, optimizer):
    with open(path, "rb") as f:
        checkpoint = torch.load(io.BytesIO(f.read()), map_location="cpu", weights_only=True)
    own = model.state_dict()
    with torch.no_grad():
        for name, value in checkpoint["m"].items():
            own[name].copy_(value)
    optimizer.load_state_dict(checkpoint["o"])
    return int(checkpoint["e"])


@correct("03.checkpoint", extra={"load_checkpoint": _load_copy_each_tensor})
def save_cpu_copies_through_bytes(path, model, optimizer, epoch):
    """CPU copies of the state, a deep-copied optimizer state, bytes written by hand."""
    state = {name: value.detach().cpu().clone() for name, value in model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save({"m": state, "o": copy.deepcopy(optimizer.state_dict()), "e": float(epoch)}, buffer)
    with open(os.fspath(path), "wb") as f:
        f.write(buffer.getvalue())


def _load_param_groups_by_hand(path, model, optimizer):
    checkpoint = torch.load(os.fspath(path), mmap=True, weights_only=True)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]


@correct("03.checkpoint", extra={"load_checkpoint": _load_param_groups_by_hand})
def save_param_groups_by_hand(path, model, optimizer, epoch):
    """The optimizer's state and param_groups saved as two entries; loaded with mmap=True."""
    state = optimizer.state_dict()
    checkpoint = {
        "model": model.state_dict(),
        "optimizer": {"state": state["state"], "param_groups": state["param_groups"]},
        "epoch": epoch,
    }
    torch.save(checkpoint, path)


@correct("03.checkpoint", extra={"load_checkpoint": _load_all})
def save_atomically(path, model, optimizer, epoch):
    """Written to a temporary file next to path, then renamed: one file in the end."""
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}
    partial = f"{path}.partial"
    torch.save(checkpoint, partial)
    os.replace(partial, path)


def _load_deeply_nested(path, model, optimizer):
    blob = torch.load(path, weights_only=True)
    model.load_state_dict(dict(zip(blob["model"]["names"], blob["model"]["tensors"], strict=True)))
    optimizer.load_state_dict(blob["training"]["extras"]["optimizer"])
    return int(blob["training"]["epoch"])


@correct("03.checkpoint", extra={"load_checkpoint": _load_deeply_nested})
def save_names_and_tensors_legacy_format(path, model, optimizer, epoch):
    """The state_dict as two lists zipped back on load, the optimizer two levels down, the
    legacy (non-zip) format."""
    state = model.state_dict()
    blob = {
        "model": {"names": list(state), "tensors": list(state.values())},
        "training": {"epoch": epoch, "extras": {"optimizer": optimizer.state_dict()}},
    }
    torch.save(blob, path, _use_new_zipfile_serialization=False)


def _load_through_data(path, model, optimizer):
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    with torch.no_grad():
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
            tensor.data = checkpoint["model"][name].to(tensor.device)  # the same objects
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]


@correct("03.checkpoint", extra={"load_checkpoint": _load_through_data})
def save_protocol_2_load_through_data(path, model, optimizer, epoch):
    """pickle_protocol=2 said out loud; load assigns .data to each parameter and buffer."""
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}
    torch.save(checkpoint, path, pickle_protocol=2)


@correct("03.checkpoint", extra={"load_checkpoint": _load_all})
def save_cpu_copies_with_to(path, model, optimizer, epoch):
    """CPU copies made with .to("cpu", copy=True) from the model's own tensors
    (keep_vars=True): copies, so the model stays where it is."""
    state = {
        k: v.detach().to("cpu", copy=True) for k, v in model.state_dict(keep_vars=True).items()
    }
    torch.save({"model": state, "optimizer": optimizer.state_dict(), "epoch": epoch}, path)


# -- 03.checkpoint: more correct alternatives (second review) -----------------------------------


def _load_optimizer_first(path, model, optimizer):
    checkpoint = torch.load(Path(path), weights_only=True, map_location="cpu")
    optimizer.load_state_dict(checkpoint["optimizer"])
    model.load_state_dict(checkpoint["model"], strict=True)
    return int(checkpoint["epoch"])


@correct("03.checkpoint", extra={"load_checkpoint": _load_optimizer_first})
def save_ordered_dict_epoch_tensor(path, model, optimizer, epoch):
    """An OrderedDict at a pathlib.Path, the epoch as a tensor; load restores the optimizer
    first, then the model (strict=True said out loud), and returns int(epoch)."""
    checkpoint = OrderedDict(
        model=model.state_dict(), optimizer=optimizer.state_dict(), epoch=torch.tensor(epoch)
    )
    torch.save(checkpoint, Path(path))


def _load_list_from_file_object(path, model, optimizer):
    with open(path, "rb") as f:
        model_state, optimizer_state, epoch = torch.load(f, weights_only=True)
    model.load_state_dict(model_state)
    optimizer.load_state_dict(optimizer_state)
    return epoch


@correct("03.checkpoint", extra={"load_checkpoint": _load_list_from_file_object})
def save_list_through_bytes_io(path, model, optimizer, epoch):
    """A list saved into io.BytesIO, whose bytes Path.write_bytes puts at path; load unpacks
    it from an open file."""
    buffer = io.BytesIO()
    torch.save([model.state_dict(), optimizer.state_dict(), epoch], buffer)
    Path(path).write_bytes(buffer.getvalue())


def _load_with_metadata(path, model, optimizer):
    checkpoint = torch.load(os.fspath(path), weights_only=True, map_location=lambda s, loc: s)
    model.load_state_dict(checkpoint["state"]["model"])
    optimizer.load_state_dict(checkpoint["state"]["optimizer"])
    return checkpoint["meta"]["epoch"]


@correct("03.checkpoint", extra={"load_checkpoint": _load_with_metadata})
def save_with_metadata(path, model, optimizer, epoch):
    """Extra plain values that weights_only=True reads: the torch version as a str (torch.
    __version__ itself is a TorchVersion, which it refuses), the RNG state, a float, a
    tuple, names, a bool, None."""
    meta = {
        "epoch": epoch,
        "torch": str(torch.__version__),
        "rng": torch.get_rng_state(),
        "loss": 0.25,
        "shape": (1, 2),
        "names": [name for name, _ in model.named_parameters()],
        "complete": True,
        "note": None,
    }
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
    torch.save({"state": state, "meta": meta}, path)


def _load_mmap(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=True, mmap=True)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]


@correct("03.checkpoint", extra={"load_checkpoint": _load_mmap})
def save_deep_copies_load_mmap(path, model, optimizer, epoch):
    """Deep copies of both state_dicts saved; load memory-maps the file (mmap=True)."""
    checkpoint = {
        "model": copy.deepcopy(model.state_dict()),
        "optimizer": copy.deepcopy(optimizer.state_dict()),
        "epoch": epoch,
    }
    torch.save(checkpoint, path)


def _load_onto_model_device(path, model, optimizer):
    device = next(model.parameters()).device
    checkpoint = torch.load(path, map_location=device, weights_only=True)
    missing, unexpected = model.load_state_dict(checkpoint["model"], strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]


@correct("03.checkpoint", extra={"load_checkpoint": _load_onto_model_device})
def save_to_open_file_load_onto_model_device(path, model, optimizer, epoch):
    """torch.save into a file opened "wb"; load maps the tensors onto the model's device
    and checks strict=False's missing / unexpected keys itself."""
    with open(path, "wb") as f:
        checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
        torch.save(dict(checkpoint, epoch=int(epoch)), f)


def _load_five_levels_down(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=True)
    inner = checkpoint["a"]["b"]["c"]["d"]["e"]
    model.load_state_dict(inner["model"])
    optimizer.load_state_dict(inner["optimizer"])
    return inner["epoch"]


@correct("03.checkpoint", extra={"load_checkpoint": _load_five_levels_down})
def save_five_levels_down(path, model, optimizer, epoch):
    """Everything five dicts deep (the check looks for the optimizer state at any depth)."""
    inner = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}
    torch.save({"a": {"b": {"c": {"d": {"e": inner}}}}}, path)


@correct("03.checkpoint", extra={"load_checkpoint": _load_all})
def save_through_system_temp_then_move(path, model, optimizer, epoch):
    """Written in the system's temporary folder, then moved to path (nothing is left
    behind)."""
    fd, temporary = tempfile.mkstemp(suffix=".pt")
    os.close(fd)
    try:
        checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
        torch.save({**checkpoint, "epoch": epoch}, temporary)
        shutil.move(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _load_copy_into_state(path, model, optimizer):
    with torch.serialization.safe_globals([]):
        checkpoint = torch.load(path, weights_only=True, map_location=torch.device("cpu"))
    with torch.no_grad():
        for name, tensor in model.state_dict(keep_vars=True).items():
            tensor.copy_(checkpoint["model"][name])
    optimizer.load_state_dict(
        {
            "state": checkpoint["optimizer"]["state"],
            "param_groups": checkpoint["optimizer"]["param_groups"],
        }
    )
    return checkpoint["epoch"]


@correct("03.checkpoint", extra={"load_checkpoint": _load_copy_into_state})
def save_state_and_param_groups_apart(path, model, optimizer, epoch):
    """The optimizer's state and param_groups saved as two entries; load copies each saved
    tensor into the model's own (the same objects), inside safe_globals([])."""
    state = optimizer.state_dict()
    checkpoint = {
        "model": dict(model.state_dict()),
        "optimizer": {"state": state["state"], "param_groups": state["param_groups"]},
        "epoch": epoch,
    }
    torch.save(checkpoint, path)


@mistake(
    "03.checkpoint",
    hint="save str(torch.__version__)",
    extra={"load_checkpoint": _load_all},
)
def save_with_torch_version(path, model, optimizer, epoch):
    """The torch version recorded as torch.__version__ itself: a TorchVersion (a str
    subclass), which torch.load(..., weights_only=True) refuses."""
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
    torch.save({**checkpoint, "epoch": epoch, "torch_version": torch.__version__}, path)
