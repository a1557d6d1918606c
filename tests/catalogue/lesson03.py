"""Lesson 03: mistakes learners make writing RunningMean, CausalMask, freeze and the
checkpoint functions, and correct solutions written in other ways. Names say what is
wrong or different."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import torch
from torch import nn

from catalogue import correct, mistake

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


@mistake("03.causal_mask", hint="a mask built in forward is a new CPU tensor")
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
