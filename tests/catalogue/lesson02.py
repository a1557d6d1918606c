"""Lesson 02 · Containers: realistic mistakes and correct alternatives for every task."""

from __future__ import annotations

import copy
import functools
import itertools
import textwrap
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from catalogue import ALTERNATIVES, MISTAKES, Case, correct, mistake
from helpers.checks.core import BUILT_ON_CPU
from helpers.grading import TASKS


def in_notebook(task_id: str, case_name: str, source: str, *, hint: str | None = None) -> None:
    """Register code defined as a notebook cell defines it: in the namespace the check is
    given, so that its global `device` is the namespace's. Here `device` is the meta
    device, a stand-in for a GPU that every machine has: code that uses it where the check
    wants the CPU shows it here, as it would on a GPU machine."""
    namespace = {"torch": torch, "nn": nn, "OrderedDict": OrderedDict}
    namespace["device"] = torch.device("meta")
    exec(textwrap.dedent(source), namespace)
    assert TASKS[task_id].names[0] in namespace, case_name
    if hint is None:
        ALTERNATIVES.append(Case(task_id, case_name, namespace))
    else:
        MISTAKES.append(Case(task_id, case_name, namespace, hint, "fail"))


# -- 02.mlp: mistakes ---------------------------------------------------------------------------


@mistake("02.mlp", hint="Layers kept in a Python list are not registered")
class MLPPlainList(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        self.layers = []
        for i in range(len(sizes) - 1):
            if i > 0:
                self.layers.append(activation())
            self.layers.append(nn.Linear(sizes[i], sizes[i + 1]))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


@mistake("02.mlp", hint="One activation instance is reused between all layers")
class MLPSharedActivation(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        act = activation()
        layers = [nn.Linear(sizes[0], sizes[1])]
        for i in range(1, len(sizes) - 1):
            layers += [act, nn.Linear(sizes[i], sizes[i + 1])]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


@mistake("02.mlp", hint="The default is an instance")
class MLPDefaultInstance(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU()):  # noqa: B008 (the mistake)
        super().__init__()
        layers = []
        for i in range(len(sizes) - 1):
            if i > 0:
                layers.append(activation)
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


@mistake("02.mlp", hint="There is no activation after the last Linear layer")
class MLPActivationAfterLast(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        layers = []
        for d_in, d_out in itertools.pairwise(sizes):
            layers += [nn.Linear(d_in, d_out), activation()]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


@mistake("02.mlp", hint="make n = len(sizes) - 1 Linear layers")
class MLPOneLayerShort(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        layers = [nn.Linear(sizes[0], sizes[1])]
        for i in range(1, len(sizes) - 2):
            layers += [activation(), nn.Linear(sizes[i], sizes[i + 1])]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


@mistake("02.mlp", hint="The layer loop runs one step too far")
class MLPLoopTooFar(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        self.linears = nn.ModuleList()
        for i in range(len(sizes)):
            self.linears.append(nn.Linear(sizes[i], sizes[i + 1]))
        self.act = activation()

    def forward(self, x):
        for layer in self.linears:
            x = self.act(layer(x))
        return x


@mistake("02.mlp", hint="call activation() to create an instance for each gap")
class MLPActivationClassInSequential(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        layers = []
        for i in range(len(sizes) - 1):
            if i > 0:
                layers.append(activation)
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


@mistake("02.mlp", hint="holds the class ReLU itself")
class MLPCallsClassInForward(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        self.linears = nn.ModuleList(
            nn.Linear(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1)
        )
        self.activation = activation

    def forward(self, x):
        for i, layer in enumerate(self.linears):
            x = layer(x)
            if i < len(self.linears) - 1:
                x = self.activation(x)
        return x


@mistake("02.mlp", hint="The `activation` argument is ignored")
class MLPHardCodedReLU(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        layers = []
        for i in range(len(sizes) - 1):
            if i > 0:
                layers.append(nn.ReLU())
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


@mistake("02.mlp", hint="one made or called only inside forward is not registered")
class MLPFunctionalRelu(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        self.linears = nn.ModuleList(
            nn.Linear(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1)
        )

    def forward(self, x):
        for layer in self.linears[:-1]:
            x = F.relu(layer(x))
        return self.linears[-1](x)


@mistake("02.mlp", hint="unpack the list, nn.Sequential(*layers)")
class MLPSequentialOfList(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        layers = []
        for i in range(len(sizes) - 1):
            if i > 0:
                layers.append(activation())
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        self.net = nn.Sequential(layers)

    def forward(self, x):
        return self.net(x)


@mistake("02.mlp", hint="nn.Linear takes in_features first")
class MLPSwappedSizes(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        layers = []
        for i in range(len(sizes) - 1):
            if i > 0:
                layers.append(activation())
            layers.append(nn.Linear(sizes[i + 1], sizes[i]))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        for layer in self.net:
            x = F.linear(x, layer.weight.T) if isinstance(layer, nn.Linear) else layer(x)
        return x


@mistake("02.mlp", hint="The ReLU between the Linear layers is missing in forward")
class MLPForwardSkipsActivations(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        self.linears = nn.ModuleList(
            nn.Linear(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1)
        )
        self.acts = nn.ModuleList(activation() for _ in range(len(sizes) - 2))

    def forward(self, x):
        for layer in self.linears:  # the activations were forgotten here
            x = layer(x)
        return x


@mistake("02.mlp", hint="The input goes straight into the first Linear layer")
class MLPActivationBeforeEachLayer(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        layers = []
        for d_in, d_out in itertools.pairwise(sizes):
            layers += [activation(), nn.Linear(d_in, d_out)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


@mistake("02.mlp", hint="The last Linear layer is never applied")
class MLPZipDropsLastLayer(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        self.acts = nn.ModuleList(activation() for _ in range(len(sizes) - 2))

    def forward(self, x):
        for layer, act in zip(self.linears, self.acts):  # noqa: B905 (the mistake)
            x = act(layer(x))
        return x


@mistake("02.mlp", hint="Read `sizes` without modifying it")
class MLPPopsCallersSizes(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        out_features = sizes.pop()  # takes the output size off the caller's list
        layers = []
        for d_in, d_out in itertools.pairwise(sizes):
            layers += [nn.Linear(d_in, d_out), activation()]
        layers.append(nn.Linear(sizes[-1], out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


@mistake("02.mlp", hint="is a plain Python container, so the ReLU instances")
class MLPActivationsInPlainList(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        self.acts = [activation() for _ in range(len(sizes) - 2)]

    def forward(self, x):
        for layer, act in zip(self.linears[:-1], self.acts, strict=True):
            x = act(layer(x))
        return self.linears[-1](x)


@mistake("02.mlp", hint="Create the layers with the default dtype")
class MLPDoublePrecision(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        layers = []
        for i in range(len(sizes) - 1):
            if i > 0:
                layers.append(activation())
            layers.append(nn.Linear(sizes[i], sizes[i + 1], dtype=torch.float64))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x.double())


@mistake("02.mlp", hint="There is no ReLU after the last Linear layer")
class MLPReluOnOutput(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        self.acts = nn.ModuleList(activation() for _ in range(len(sizes) - 2))

    def forward(self, x):
        for layer, act in zip(self.linears[:-1], self.acts, strict=True):
            x = act(layer(x))
        return torch.relu(self.linears[-1](x))  # an output "activation" left in


@mistake("02.mlp", hint="A function such as F.relu or torch.tanh is not a module")
class MLPFunctionInSequential(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        layers = []
        for i in range(len(sizes) - 1):
            if i > 0:
                layers.append(F.relu)
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


@mistake("02.mlp", hint="not a generator: unpack it")
class MLPSequentialOfGenerator(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        self.net = nn.Sequential(
            nn.Sequential(nn.Linear(sizes[i], sizes[i + 1]), activation())
            for i in range(len(sizes) - 2)
        )
        self.out = nn.Linear(sizes[-2], sizes[-1])

    def forward(self, x):
        return self.out(self.net(x))


@mistake("02.mlp", hint="Every Linear layer has a bias")
class MLPNoBias(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        layers = []
        for i in range(len(sizes) - 1):
            if i > 0:
                layers.append(activation())
            layers.append(nn.Linear(sizes[i], sizes[i + 1], bias=False))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


@mistake("02.mlp", hint="Remove the LayerNorm")
class MLPUnusedLayerNorm(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        layers = []
        for i in range(len(sizes) - 1):
            if i > 0:
                layers.append(activation())
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        self.net = nn.Sequential(*layers)
        self.norm = nn.LayerNorm(sizes[-1])  # "for later", never used in forward

    def forward(self, x):
        return self.net(x)


@mistake("02.mlp", hint="Remove the Dropout")
class MLPDropout(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        layers = []
        for i in range(len(sizes) - 1):
            if i > 0:
                layers += [activation(), nn.Dropout(0.1)]
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


@mistake("02.mlp", hint="a class to call with no arguments")
class MLPInplaceActivation(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        layers = []
        for i in range(len(sizes) - 1):
            if i > 0:
                layers.append(activation(inplace=True))  # fine for nn.ReLU only
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


in_notebook(
    "02.mlp",
    "MLPOnGlobalDevice",
    """
    class MLP(nn.Module):
        # Every layer created on the notebook's `device`.
        def __init__(self, sizes, activation=nn.ReLU):
            super().__init__()
            layers = []
            for i in range(len(sizes) - 1):
                if i > 0:
                    layers.append(activation())
                layers.append(nn.Linear(sizes[i], sizes[i + 1], device=device))
            self.net = nn.Sequential(*layers)

        def forward(self, x):
            return self.net(x)
    """,
    hint=BUILT_ON_CPU,
)


def _alternating(sizes, activation):
    """Linear, activation(), Linear, ..., Linear: the layers of a correct MLP."""
    layers = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        if i:
            layers.append(activation())
        layers.append(nn.Linear(a, b))
    return layers


@mistake("02.mlp", hint="no .squeeze() / .squeeze(-1) / .flatten()")
class MLPSqueezesOutput(nn.Module):
    """A regression habit: the trailing dimension of size 1 squeezed away."""

    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        self.net = nn.Sequential(*_alternating(sizes, activation))

    def forward(self, x):
        return self.net(x).squeeze(-1)


@mistake("02.mlp", hint="forward applies ReLU between the layers, not the Tanh")
class MLPReluInForward(nn.Module):
    """activation() instances registered, but forward calls F.relu instead of them."""

    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        self.acts = nn.ModuleList(activation() for _ in range(len(sizes) - 2))

    def forward(self, x):
        for i, layer in enumerate(self.linears):
            x = layer(x)
            if i < len(self.linears) - 1:
                x = F.relu(x)
        return x


@mistake("02.mlp", hint="Rename `__call__` to `forward`")
class MLPCallInsteadOfForward(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        self.net = nn.Sequential(*_alternating(sizes, activation))

    def __call__(self, x):
        return self.net(x)


@mistake("02.mlp", hint="forward makes a tensor on the CPU")
class MLPCpuTensorInForward(nn.Module):
    """A zero tensor made without device=...: fine on a laptop, an error on a GPU."""

    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        self.net = nn.Sequential(*_alternating(sizes, activation))
        self.out_features = sizes[-1]

    def forward(self, x):
        return self.net(x) + torch.zeros(self.out_features)


@mistake("02.mlp", hint="nn.LazyLinear learns in_features only on its first input")
class MLPLazyLinear(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        layers = []
        for i, size in enumerate(sizes[1:]):
            if i:
                layers.append(activation())
            layers.append(nn.LazyLinear(size))  # "in_features is inferred"
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


@mistake("02.mlp", hint="Remove the Flatten")
class MLPFlattenFirst(nn.Module):
    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), *_alternating(sizes, activation))

    def forward(self, x):
        return self.net(x)


# -- 02.mlp: correct alternatives ---------------------------------------------------------------


@correct("02.mlp")
class MLPModuleLists(nn.Module):
    """Linear layers and activations in two ModuleLists, zipped in forward."""

    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        self.linears = nn.ModuleList()
        self.acts = nn.ModuleList()
        for d_in, d_out in itertools.pairwise(sizes):
            self.linears.append(nn.Linear(d_in, d_out))
        for _ in range(len(self.linears) - 1):
            self.acts.append(activation())

    def forward(self, x):
        for layer, act in zip(self.linears, self.acts):  # noqa: B905 (one fewer act)
            x = act(layer(x))
        return self.linears[-1](x)


@correct("02.mlp")
class MLPSubclassesSequential(nn.Sequential):
    """An nn.Sequential subclass, children added by name with add_module."""

    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        for i in range(len(sizes) - 1):
            if i:
                self.add_module(f"act{i}", activation())
            self.add_module(f"linear{i}", nn.Linear(sizes[i], sizes[i + 1]))


@correct("02.mlp")
class MLPOrderedDict(nn.Module):
    """An OrderedDict of names; the last Linear popped out of the loop."""

    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        layers = OrderedDict()
        *hidden, last = range(len(sizes) - 1)
        for i in hidden:
            layers[f"fc{i}"] = nn.Linear(sizes[i], sizes[i + 1])
            layers[f"act{i}"] = activation()
        layers["out"] = nn.Linear(sizes[last], sizes[last + 1])
        self.body = nn.Sequential(layers)

    def forward(self, x):
        return self.body(x)


@correct("02.mlp")
class MLPActivationsRegisteredFirst(nn.Module):
    """The activations registered before the Linear layers, indexed in forward."""

    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        self.acts = nn.ModuleList(activation() for _ in range(len(sizes) - 2))
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))

    def forward(self, x):
        for i, layer in enumerate(self.linears):
            x = layer(x)
            if i < len(self.acts):
                x = self.acts[i](x)
        return x


@correct("02.mlp")
class MLPModuleDictReduce(nn.Module):
    """Named layers in an nn.ModuleDict, folded over the input with functools.reduce."""

    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        self.parts = nn.ModuleDict()
        num_layers = len(sizes) - 1
        for i in range(num_layers):
            self.parts[f"linear{i}"] = nn.Linear(sizes[i], sizes[i + 1])
            if i < num_layers - 1:
                self.parts[f"act{i}"] = activation()

    def forward(self, x):
        return functools.reduce(lambda h, layer: layer(h), self.parts.values(), x)


@correct("02.mlp")
class MLPBlocksWithIdentity(nn.Module):
    """(Linear, activation) blocks; the last block ends in nn.Identity instead."""

    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        last = len(sizes) - 2
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Linear(sizes[i], sizes[i + 1]), activation() if i < last else nn.Identity()
            )
            for i in range(last + 1)
        )

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return x


@correct("02.mlp")
class MLPOwnBlocks(nn.Module):
    """Blocks of a class of the learner's own, each holding a Linear layer and maybe an
    activation: modules that only hold others."""

    class Block(nn.Module):
        def __init__(self, linear, act=None):
            super().__init__()
            self.linear = linear
            self.act = act

        def forward(self, x):
            x = self.linear(x)
            return x if self.act is None else self.act(x)

    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        pairs = list(itertools.pairwise(sizes))
        self.blocks = nn.ModuleList(
            self.Block(nn.Linear(a, b), activation() if i < len(pairs) - 1 else None)
            for i, (a, b) in enumerate(pairs)
        )

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return x


@correct("02.mlp")
class MLPSetattrLoop(nn.Module):
    """Layers set as fc0, act0, fc1, ... with setattr, looked up with getattr in forward."""

    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        self.n = len(sizes) - 1
        for i in range(self.n):
            setattr(self, f"fc{i}", nn.Linear(sizes[i], sizes[i + 1]))
            if i < self.n - 1:
                setattr(self, f"act{i}", activation())

    def forward(self, x):
        for i in range(self.n):
            x = getattr(self, f"fc{i}")(x)
            if i < self.n - 1:
                x = getattr(self, f"act{i}")(x)
        return x


@correct("02.mlp")
class MLPSequentialOfSlice(nn.Sequential):
    """An nn.Sequential subclass given (Linear, activation()) pairs with the last one cut."""

    def __init__(self, sizes, activation=nn.ReLU):
        pairs = [(nn.Linear(a, b), activation()) for a, b in itertools.pairwise(sizes)]
        super().__init__(*[m for pair in pairs for m in pair][:-1])


@correct("02.mlp")
class MLPModuleListDelLast(nn.Module):
    """An activation after every layer appended to a ModuleList, the last one deleted."""

    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        self.layers = nn.ModuleList()
        for a, b in itertools.pairwise(sizes):
            self.layers.append(nn.Linear(a, b))
            self.layers.append(activation())
        del self.layers[-1]

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def _passthrough(fn):
    """A decorator of the learner's own that only forwards the call (functools.wraps)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper


@correct("02.mlp")
class MLPActivationBeforeEachLaterLayer(nn.Module):
    """activation() put before every Linear layer but the first; nn.Sequential(*layers);
    type hints with a Callable for the activation."""

    def __init__(self, sizes: Sequence[int], activation: Callable[[], nn.Module] = nn.ReLU):
        super().__init__()
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):  # noqa: RUF007
            if i:
                layers.append(activation())
            layers.append(nn.Linear(a, b))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


@correct("02.mlp")
class MLPNestedBlocks(nn.Module):
    """nn.Sequential(Linear, activation()) blocks in an nn.Sequential, then the last Linear."""

    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        pairs = list(itertools.pairwise(sizes))
        blocks = [nn.Sequential(nn.Linear(a, b), activation()) for a, b in pairs[:-1]]
        self.net = nn.Sequential(*blocks, nn.Linear(*pairs[-1]))

    def forward(self, x):
        return self.net(x)


@correct("02.mlp")
class MLPNoneMeansReLU(nn.Module):
    """activation=None standing for nn.ReLU, a keyword-only extra; layers appended to an
    nn.ModuleList; forward with functools.reduce and extra arguments."""

    def __init__(self, sizes, activation=None, *, dropout=None):
        super().__init__()
        activation = activation or nn.ReLU
        self.layers = nn.ModuleList()
        n = len(sizes) - 1
        for i in range(n):
            self.layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i < n - 1:
                self.layers.append(activation())

    def forward(self, x, *args, **kwargs):
        return functools.reduce(lambda h, layer: layer(h), self.layers, x)


@correct("02.mlp")
class MLPSequentialAddModule(nn.Sequential):
    """An nn.Sequential subclass filled with add_module, its forward nn.Sequential's own."""

    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        for i, (a, b) in enumerate(itertools.pairwise(sizes)):
            if i > 0:
                self.add_module(f"act{i}", activation())
            self.add_module(f"linear{i}", nn.Linear(a, b))


@correct("02.mlp")
class MLPSingleLayerSpecialCase(nn.Module):
    """Two sizes give a bare nn.Linear; more give an OrderedDict with named layers."""

    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        sizes = tuple(sizes)
        if len(sizes) == 2:
            self.net = nn.Linear(*sizes)
            return
        last = len(sizes) - 2
        entries = []
        for i in range(last + 1):
            name = "output" if i == last else f"hidden{i}"
            entries.append((name, nn.Linear(sizes[i], sizes[i + 1])))
            if i < last:
                entries.append((f"act{i}", activation()))
        self.net = nn.Sequential(OrderedDict(entries))

    def forward(self, x):
        return self.net(x)


@correct("02.mlp")
class MLPModuleDictComprehensions(nn.Module):
    """Two nn.ModuleDicts built from dict comprehensions, looked up by key in forward."""

    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        n = len(sizes) - 1
        self.layers = nn.ModuleDict({f"fc{i}": nn.Linear(sizes[i], sizes[i + 1]) for i in range(n)})
        self.acts = nn.ModuleDict({f"act{i}": activation() for i in range(n - 1)})

    def forward(self, x):
        n = len(self.layers)
        for i in range(n):
            x = self.layers[f"fc{i}"](x)
            if i < n - 1:
                x = self.acts[f"act{i}"](x)
        return x


@correct("02.mlp")
class MLPInEvalModeDecorated(nn.Module):
    """(Linear, activation()) pairs with the last activation cut; the body in eval mode;
    forward decorated."""

    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        modules = []
        for a, b in itertools.pairwise(sizes):
            modules += [nn.Linear(a, b), activation()]
        self.body = nn.Sequential(*modules[:-1]).eval()

    @_passthrough
    def forward(self, x):
        return self.body(x)


@correct("02.mlp")
class MLPValidatesActivation(nn.Module):
    """activation() called once more to validate it (the instance is dropped, never
    registered), then once per gap; the last activation popped."""

    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        if not isinstance(activation(), nn.Module):
            raise TypeError("activation must build a module")
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):  # noqa: RUF007
            layers += [nn.Linear(a, b), activation()]
        layers.pop()
        self.layers = nn.ModuleList(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


@correct("02.mlp")
class MLPHiddenThenOutput(nn.Module):
    """The hidden layers in an nn.Sequential, the output layer registered after it."""

    def __init__(self, sizes, activation=nn.ReLU):
        super().__init__()
        hidden = []
        for a, b in zip(sizes[:-2], sizes[1:-1], strict=True):  # noqa: RUF007
            hidden += [nn.Linear(a, b), activation()]
        self.hidden = nn.Sequential(*hidden)
        self.out = nn.Linear(sizes[-2], sizes[-1])

    def forward(self, x):
        return self.out(self.hidden(x))


@correct("02.mlp")
class MLPIsModuleList(nn.ModuleList):
    """MLP itself an nn.ModuleList of the layers, with a forward of its own."""

    def __init__(self, sizes, activation=nn.ReLU):
        layers = []
        for i, (a, b) in enumerate(itertools.pairwise(sizes)):
            if i:
                layers.append(activation())
            layers.append(nn.Linear(a, b))
        super().__init__(layers)

    def forward(self, x):
        for layer in self:
            x = layer(x)
        return x


# -- 02.multi_head: mistakes --------------------------------------------------------------------


@mistake("02.multi_head", hint="so the heads are not registered")
class MultiHeadPlainDict(nn.Module):
    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = dict(heads)

    def forward(self, x, task):
        return self.heads[task](self.trunk(x))


@mistake("02.multi_head", hint="Keep the head modules you were given")
class MultiHeadCopiesHeads(nn.Module):
    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict({name: copy.deepcopy(head) for name, head in heads.items()})

    def forward(self, x, task):
        return self.heads[task](self.trunk(x))


@mistake("02.multi_head", hint="raised TypeError, not KeyError")
class MultiHeadGetattrDefault(nn.Module):
    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict(heads)

    def forward(self, x, task):
        head = getattr(self.heads, task, None)  # attribute access finds registered heads
        return head(self.trunk(x))


@mistake("02.multi_head", hint="raised ValueError, not KeyError")
class MultiHeadValueError(nn.Module):
    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict(heads)

    def forward(self, x, task):
        if task not in self.heads:
            raise ValueError(f"unknown task {task!r}")
        return self.heads[task](self.trunk(x))


@mistake("02.multi_head", hint="not return None or a default")
class MultiHeadReturnsNone(nn.Module):
    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict(heads)

    def forward(self, x, task):
        if task in self.heads:
            return self.heads[task](self.trunk(x))
        return None


@mistake("02.multi_head", hint="The trunk is skipped")
class MultiHeadSkipsTrunk(nn.Module):
    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict(heads)

    def forward(self, x, task):
        return self.heads[task](x)


@mistake("02.multi_head", hint="The trunk is applied twice")
class MultiHeadTrunkTwice(nn.Module):
    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict(heads)

    def forward(self, x, task):
        features = self.trunk(x)
        return self.heads[task](self.trunk(features))


@mistake("02.multi_head", hint="Call the trunk once per forward")
class MultiHeadDebugPrint(nn.Module):
    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict(heads)

    def forward(self, x, task):
        if self.trunk(x).isnan().any():  # a sanity check left in, running the trunk again
            raise RuntimeError("NaN features")
        return self.heads[task](self.trunk(x))


@mistake("02.multi_head", hint="select the head by its name")
class MultiHeadFirstHead(nn.Module):
    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleList(heads.values())
        self.names = list(heads)

    def forward(self, x, task):
        if task not in self.names:
            raise KeyError(task)
        return self.heads[0](self.trunk(x))


@mistake("02.multi_head", hint="The head is missing")
class MultiHeadReturnsFeatures(nn.Module):
    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict(heads)

    def forward(self, x, task):
        features = self.trunk(x)
        self.heads[task](features)  # computed, then the wrong value returned
        return features


@mistake("02.multi_head", hint="Iterating a dict gives its keys")
class MultiHeadModuleListOfDict(nn.Module):
    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleList(heads)

    def forward(self, x, task):
        return self.heads[list(self.heads).index(task)](self.trunk(x))


@mistake("02.multi_head", hint="The trunk comes first")
class MultiHeadHeadBeforeTrunk(nn.Module):
    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict(heads)

    def forward(self, x, task):
        return self.trunk(self.heads[task](x))


@mistake("02.multi_head", hint="keep the task names as the keys")
class MultiHeadPrefixedKeys(nn.Module):
    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict({f"head_{name}": head for name, head in heads.items()})

    def forward(self, x, task):
        return self.heads[task](self.trunk(x))


@mistake("02.multi_head", hint="nn.ModuleDict has no .get()")
class MultiHeadDictGet(nn.Module):
    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict(heads)

    def forward(self, x, task):
        head = self.heads.get(task)
        if head is None:
            raise KeyError(task)
        return head(self.trunk(x))


@mistake("02.multi_head", hint="not nn.ModuleDict(**heads)")
class MultiHeadUnpacksHeads(nn.Module):
    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict(**heads)

    def forward(self, x, task):
        return self.heads[task](self.trunk(x))


@mistake("02.multi_head", hint="with the registered modules, and do not freeze them")
class MultiHeadFrozenTrunk(nn.Module):
    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict(heads)

    def forward(self, x, task):
        with torch.no_grad():  # "the trunk is shared, so don't train it"
            features = self.trunk(x)
        return self.heads[task](features)


@mistake("02.multi_head", hint="the module you were given (not a copy")
class MultiHeadCopiesTrunk(nn.Module):
    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = copy.deepcopy(trunk)  # "so that the caller's trunk stays untouched"
        self.heads = nn.ModuleDict(heads)

    def forward(self, x, task):
        return self.heads[task](self.trunk(x))


@mistake("02.multi_head", hint="Run only the requested head")
class MultiHeadEveryHead(nn.Module):
    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict(heads)

    def forward(self, x, task):
        features = self.trunk(x)
        outputs = {name: head(features) for name, head in self.heads.items()}
        return outputs[task]  # right value, but every head ran


@mistake("02.multi_head", hint="The heads were indexed with a tensor")
class MultiHeadSwappedArguments(nn.Module):
    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict(heads)

    def forward(self, task, x):
        return self.heads[task](self.trunk(x))


@mistake("02.multi_head", hint="The trunk was given a str")
class MultiHeadSwappedArgumentsTrunkFirst(nn.Module):
    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict(heads)

    def forward(self, task, x):
        features = self.trunk(x)
        return self.heads[task](features)


in_notebook(
    "02.multi_head",
    "MultiHeadMovesToGlobalDevice",
    """
    class MultiHead(nn.Module):
        # The trunk and heads moved to the notebook's `device` as they are registered.
        def __init__(self, trunk, heads):
            super().__init__()
            self.trunk = trunk.to(device)
            self.heads = nn.ModuleDict({name: head.to(device) for name, head in heads.items()})

        def forward(self, x, task):
            return self.heads[task](self.trunk(x))
    """,
    hint=BUILT_ON_CPU,
)


@mistake("02.multi_head", hint="Read `heads` without modifying it")
class MultiHeadPopsCallersDict(nn.Module):
    """The heads moved out of the caller's dict with pop()."""

    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict()
        for name in list(heads):
            self.heads[name] = heads.pop(name)

    def forward(self, x, task):
        return self.heads[task](self.trunk(x))


@mistake("02.multi_head", hint="Rename `__call__` to `forward`")
class MultiHeadCallInsteadOfForward(nn.Module):
    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict(heads)

    def __call__(self, x, task):
        return self.heads[task](self.trunk(x))


@mistake("02.multi_head", hint="forward makes a tensor on the CPU")
class MultiHeadCpuMaskInForward(nn.Module):
    """A feature mask made without device=...: fine on a laptop, an error on a GPU."""

    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict(heads)

    def forward(self, x, task):
        features = self.trunk(x) * torch.ones(x.shape[-1])
        return self.heads[task](features)


@mistake("02.multi_head", hint="raised AttributeError, not KeyError")
class MultiHeadGetattrOnModuleDict(nn.Module):
    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict(heads)

    def forward(self, x, task):
        return getattr(self.heads, task)(self.trunk(x))


@mistake("02.multi_head", hint="no replacing their layers")
class MultiHeadStripsTrunkOutputLayer(nn.Module):
    """The transfer-learning habit: the trunk's last layer replaced by nn.Identity()."""

    def __init__(self, trunk, heads):
        super().__init__()
        last = list(dict(trunk.named_children()))[-1]
        setattr(trunk, last, nn.Identity())  # "drop the trunk's own output layer"
        self.trunk = trunk
        self.heads = nn.ModuleDict(heads)

    def forward(self, x, task):
        return self.heads[task](self.trunk(x))


@mistake("02.multi_head", hint="not a dict or list of outputs keyed by task")
class MultiHeadReturnsDict(nn.Module):
    """The multi-task habit: outputs returned in a dict keyed by task."""

    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict(heads)

    def forward(self, x, task):
        return {task: self.heads[task](self.trunk(x))}


# -- 02.multi_head: correct alternatives ----------------------------------------------------------


@correct("02.multi_head")
class MultiHeadAddModule(nn.Module):
    """Each head registered with add_module under a prefix, looked up with getattr."""

    def __init__(self, trunk, heads):
        super().__init__()
        self.body = trunk
        self.task_names = set(heads)
        for name, head in heads.items():
            self.add_module(f"head_{name}", head)

    def forward(self, x, task):
        if task not in self.task_names:
            raise KeyError(f"no head for task {task!r}")
        return getattr(self, f"head_{task}")(self.body(x))


@correct("02.multi_head")
class MultiHeadModuleListAndIndex(nn.Module):
    """Heads registered in a ModuleList, a plain dict maps each name to its index."""

    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.head_list = nn.ModuleList(heads.values())
        self.index = {name: i for i, name in enumerate(heads)}

    def forward(self, x, task):
        return self.head_list[self.index[task]](self.trunk(x))


@correct("02.multi_head")
class MultiHeadUpdate(nn.Module):
    """An empty ModuleDict filled with update(); trunk and head composed in a Sequential."""

    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict()
        self.heads.update(heads)

    def forward(self, x, task):
        return nn.Sequential(self.trunk, self.heads[task])(x)


@correct("02.multi_head")
class MultiHeadTrunkPerPath(nn.Module):
    """One nn.Sequential(trunk, head) per task: the trunk object is shared by all paths."""

    def __init__(self, trunk, heads):
        super().__init__()
        self.paths = nn.ModuleDict(
            {name: nn.Sequential(trunk, head) for name, head in heads.items()}
        )

    def forward(self, x, task):
        return self.paths[task](x)


@correct("02.multi_head")
class MultiHeadFromPairs(nn.Module):
    """An nn.ModuleDict built from (name, head) pairs; the KeyError re-raised with a message."""

    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict(list(heads.items()))

    def forward(self, x, task):
        try:
            head = self.heads[task]
        except KeyError:
            raise KeyError(f"no head for task {task!r}; known: {list(self.heads)}") from None
        return head(self.trunk(x))


@correct("02.multi_head")
class MultiHeadSetattrPerHead(nn.Module):
    """Each head an attribute head_<task>, the known names kept in a set."""

    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.tasks = set(heads)
        for name, head in heads.items():
            setattr(self, "head_" + name, head)

    def forward(self, x, task):
        if task not in self.tasks:
            raise KeyError(task)
        return getattr(self, "head_" + task)(self.trunk(x))


@correct("02.multi_head")
class MultiHeadDefaultTask(nn.Module):
    """heads copied into a dict first, forward with a default task."""

    def __init__(self, trunk, heads, **unused):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict(dict(heads))

    def forward(self, x, task="cls"):
        return self.heads[task](self.trunk(x))


@correct("02.multi_head")
class MultiHeadLooksUpFirst(nn.Module):
    """Heads from a dict comprehension; the head looked up before the trunk runs; hints."""

    def __init__(self, trunk: nn.Module, heads: Mapping[str, nn.Module]) -> None:
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict({name: head for name, head in heads.items()})

    def forward(self, x: torch.Tensor, task: str) -> torch.Tensor:
        head = self.heads[task]  # an unknown task fails before the trunk runs
        return head(self.trunk(x))


@correct("02.multi_head")
class MultiHeadSortedKeywordExtras(nn.Module):
    """Heads registered in sorted order; keyword-only extras in __init__ and forward."""

    def __init__(self, trunk, heads, *, share=True):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict(sorted(heads.items()))

    def forward(self, x, task, **kwargs):
        features = self.trunk(x)
        return self.heads[task](features)


@correct("02.multi_head")
class MultiHeadNamesAndModuleList(nn.Module):
    """Task names in a list, heads in an nn.ModuleList; KeyError raised explicitly."""

    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.names = list(heads.keys())
        self.head_list = nn.ModuleList(heads.values())

    def forward(self, x, task):
        if task not in self.names:
            raise KeyError(f"unknown task {task!r}")
        return self.head_list[self.names.index(task)](self.trunk(x))


@correct("02.multi_head")
class MultiHeadNestedModuleDicts(nn.Module):
    """The trunk wrapped in an nn.Sequential, both parts in one nn.ModuleDict; forward
    decorated."""

    def __init__(self, trunk, heads):
        super().__init__()
        parts = {"trunk": nn.Sequential(trunk), "heads": nn.ModuleDict(heads)}
        self.parts = nn.ModuleDict(parts)

    @_passthrough
    def forward(self, x, task):
        return self.parts["heads"][task](self.parts["trunk"](x))


@correct("02.multi_head")
class MultiHeadPrefixedNames(nn.Module):
    """Each head registered as `head_<task>` with register_module, found in self._modules."""

    def __init__(self, trunk, heads):
        super().__init__()
        self.add_module("trunk", trunk)
        for name, head in dict(heads).items():
            self.register_module(f"head_{name}", head)

    def forward(self, x, task):
        head = self._modules[f"head_{task}"]
        return head(self.trunk(x))


@correct("02.multi_head")
class MultiHeadReraisesKeyError(nn.Module):
    """An empty nn.ModuleDict updated with the heads; a default task; a KeyError of its
    own that lists the known tasks."""

    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict()
        self.heads.update(heads)

    def forward(self, x, task: str = "cls"):
        try:
            head = self.heads[task]
        except KeyError:
            raise KeyError(f"no head for task {task!r}; known: {list(self.heads)}") from None
        return head(self.trunk(x))


@correct("02.multi_head")
class MultiHeadTrunkTwiceNamed(nn.Module):
    """The trunk registered under two names, called once through the second; a given
    nn.ModuleDict kept as it is."""

    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.backbone = trunk
        self.heads = heads if isinstance(heads, nn.ModuleDict) else nn.ModuleDict(heads)

    def forward(self, x, task, *, detach_trunk=False):
        h = self.backbone(x)
        if detach_trunk:
            h = h.detach()
        return self.heads[task](h)


@correct("02.multi_head")
class MultiHeadRoutes(nn.Module):
    """A plain dict of task -> function (no modules in it) that calls the registered head."""

    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict(heads)
        self.routes = {name: functools.partial(self._run_head, name) for name in heads}

    def _run_head(self, name, features):
        return self.heads[name](features)

    def forward(self, x, task):
        route = self.routes[task]
        return route(self.trunk(x))


@correct("02.multi_head")
class MultiHeadIsModuleDict(nn.ModuleDict):
    """MultiHead itself an nn.ModuleDict of "trunk" and "heads", with a forward of its own."""

    def __init__(self, trunk, heads):
        super().__init__({"trunk": trunk, "heads": nn.ModuleDict(heads)})

    def forward(self, x, task):
        return self["heads"][task](self["trunk"](x))


# -- 02.named_sequential: mistakes ----------------------------------------------------------------


@mistake("02.named_sequential", hint="Positional arguments give the names 0, 1, 2")
def build_positional(in_features, hidden, num_classes):
    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))


@mistake("02.named_sequential", hint="nn.Sequential does not take a plain dict")
def build_from_dict(in_features, hidden, num_classes):
    return nn.Sequential(
        {
            "fc1": nn.Linear(in_features, hidden),
            "act": nn.ReLU(),
            "fc2": nn.Linear(hidden, num_classes),
        }
    )


@mistake("02.named_sequential", hint="Name the children exactly fc1, act and fc2")
def build_named_relu(in_features, hidden, num_classes):
    return nn.Sequential(
        OrderedDict(
            fc1=nn.Linear(in_features, hidden),
            relu=nn.ReLU(),
            fc2=nn.Linear(hidden, num_classes),
        )
    )


@mistake("02.named_sequential", hint="Keep the order fc1, act, fc2")
def build_sorted_names(in_features, hidden, num_classes):
    layers = {
        "fc1": nn.Linear(in_features, hidden),
        "act": nn.ReLU(),
        "fc2": nn.Linear(hidden, num_classes),
    }
    return nn.Sequential(OrderedDict(sorted(layers.items())))


@mistake("02.named_sequential", hint="fc2 maps hidden→num_classes")
def build_fc2_swapped(in_features, hidden, num_classes):
    return nn.Sequential(
        OrderedDict(
            [
                ("fc1", nn.Linear(in_features, hidden)),
                ("act", nn.ReLU()),
                ("fc2", nn.Linear(num_classes, hidden)),
            ]
        )
    )


@mistake("02.named_sequential", hint="not nn.ReLU or F.relu")
def build_relu_class(in_features, hidden, num_classes):
    return nn.Sequential(
        OrderedDict(
            [
                ("fc1", nn.Linear(in_features, hidden)),
                ("act", nn.ReLU),
                ("fc2", nn.Linear(hidden, num_classes)),
            ]
        )
    )


class _Classifier(nn.Module):
    def __init__(self, in_features, hidden, num_classes):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


@mistake("02.named_sequential", hint="not a model class of your own")
def build_custom_class(in_features, hidden, num_classes):
    return _Classifier(in_features, hidden, num_classes)


_fixed = nn.Sequential(
    OrderedDict(fc1=nn.Linear(4, 8), act=nn.ReLU(), fc2=nn.Linear(8, 3))
)  # a model the learner built in an earlier cell


@mistake("02.named_sequential", hint="fc1 maps in_features→hidden")
def build_returns_global(in_features, hidden, num_classes):
    return _fixed


@mistake("02.named_sequential", hint="nn.Sequential takes no keyword arguments")
def build_keyword_arguments(in_features, hidden, num_classes):
    return nn.Sequential(
        fc1=nn.Linear(in_features, hidden), act=nn.ReLU(), fc2=nn.Linear(hidden, num_classes)
    )


@mistake("02.named_sequential", hint="does not take a list of (name, layer) pairs")
def build_list_of_pairs(in_features, hidden, num_classes):
    return nn.Sequential(
        [
            ("fc1", nn.Linear(in_features, hidden)),
            ("act", nn.ReLU()),
            ("fc2", nn.Linear(hidden, num_classes)),
        ]
    )


@mistake("02.named_sequential", hint="registers the layers but has no forward")
def build_module_dict(in_features, hidden, num_classes):
    return nn.ModuleDict(
        {
            "fc1": nn.Linear(in_features, hidden),
            "act": nn.ReLU(),
            "fc2": nn.Linear(hidden, num_classes),
        }
    )


@mistake("02.named_sequential", hint="no layer after fc2")
def build_with_softmax(in_features, hidden, num_classes):
    return nn.Sequential(
        OrderedDict(
            [
                ("fc1", nn.Linear(in_features, hidden)),
                ("act", nn.ReLU()),
                ("fc2", nn.Linear(hidden, num_classes)),
                ("softmax", nn.Softmax(dim=-1)),
            ]
        )
    )


@mistake("02.named_sequential", hint="the classifier must take float32 inputs")
def build_double(in_features, hidden, num_classes):
    layers = OrderedDict(
        fc1=nn.Linear(in_features, hidden), act=nn.ReLU(), fc2=nn.Linear(hidden, num_classes)
    )
    return nn.Sequential(layers).double()


@mistake("02.named_sequential", hint="fc1 keeps its bias")
def build_fc1_without_bias(in_features, hidden, num_classes):
    return nn.Sequential(
        OrderedDict(
            fc1=nn.Linear(in_features, hidden, bias=False),
            act=nn.ReLU(),
            fc2=nn.Linear(hidden, num_classes),
        )
    )


@mistake("02.named_sequential", hint="fc2 keeps its bias")
def build_fc2_without_bias(in_features, hidden, num_classes):
    return nn.Sequential(
        OrderedDict(
            fc1=nn.Linear(in_features, hidden),
            act=nn.ReLU(),
            fc2=nn.Linear(hidden, num_classes, bias=False),  # "logits need no bias"
        )
    )


in_notebook(
    "02.named_sequential",
    "build_on_global_device",
    """
    def build_classifier(in_features, hidden, num_classes):
        # The model moved to the notebook's `device` before it is returned.
        layers = OrderedDict(
            fc1=nn.Linear(in_features, hidden), act=nn.ReLU(), fc2=nn.Linear(hidden, num_classes)
        )
        return nn.Sequential(layers).to(device)
    """,
    hint=BUILT_ON_CPU,
)


@mistake("02.named_sequential", hint="Building asked `torch.accelerator.is_available()`")
def build_on_accelerator_if_available(in_features, hidden, num_classes):
    layers = OrderedDict(
        fc1=nn.Linear(in_features, hidden), act=nn.ReLU(), fc2=nn.Linear(hidden, num_classes)
    )
    model = nn.Sequential(layers)
    if torch.accelerator.is_available():  # moved to the GPU where there is one
        model = model.to(torch.accelerator.current_accelerator())
    return model


@mistake("02.named_sequential", hint="nn.LazyLinear learns in_features only on its first input")
def build_lazy(in_features, hidden, num_classes):
    return nn.Sequential(
        OrderedDict(fc1=nn.LazyLinear(hidden), act=nn.ReLU(), fc2=nn.LazyLinear(num_classes))
    )


@mistake("02.named_sequential", hint="not another activation (LeakyReLU)")
def build_leaky_relu(in_features, hidden, num_classes):
    return nn.Sequential(
        OrderedDict(
            fc1=nn.Linear(in_features, hidden),
            act=nn.LeakyReLU(),
            fc2=nn.Linear(hidden, num_classes),
        )
    )


# -- 02.named_sequential: correct alternatives ----------------------------------------------------


@correct("02.named_sequential")
def build_with_add_module(in_features, hidden, num_classes):
    """An empty Sequential filled with add_module."""
    model = nn.Sequential()
    model.add_module("fc1", nn.Linear(in_features, hidden))
    model.add_module("act", nn.ReLU())
    model.add_module("fc2", nn.Linear(hidden, num_classes))
    return model


@correct("02.named_sequential")
def build_with_attributes(in_features, hidden, num_classes):
    """Attribute assignment on an empty Sequential registers children in order."""
    model = nn.Sequential()
    model.fc1 = nn.Linear(in_features, hidden)
    model.act = nn.ReLU()
    model.fc2 = nn.Linear(hidden, num_classes)
    return model


@correct("02.named_sequential")
def build_with_keyword_ordered_dict(in_features, hidden, num_classes):
    """OrderedDict from keyword arguments (ordered since Python 3.7)."""
    return nn.Sequential(
        OrderedDict(
            fc1=nn.Linear(in_features, hidden),
            act=nn.ReLU(inplace=True),
            fc2=nn.Linear(hidden, num_classes),
        )
    )


@correct("02.named_sequential")
def build_with_register_module(in_features, hidden, num_classes):
    """register_module (the alias of add_module) in a loop over (name, layer) pairs."""
    model = nn.Sequential()
    names = ["fc1", "act", "fc2"]
    layers = [nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)]
    for name, layer in zip(names, layers, strict=True):
        model.register_module(name, layer)
    return model


@correct("02.named_sequential")
def build_sequential_subclass(in_features, hidden, num_classes):
    """An instance of an nn.Sequential subclass, from a dict turned into an OrderedDict."""

    class Classifier(nn.Sequential):
        pass

    layers = {
        "fc1": nn.Linear(in_features, hidden),
        "act": nn.ReLU(),
        "fc2": nn.Linear(hidden, num_classes),
    }
    return Classifier(OrderedDict(layers))


@correct("02.named_sequential")
def build_inplace_relu(in_features, hidden, num_classes):
    """nn.ReLU(inplace=True) is a ReLU."""
    return nn.Sequential(
        OrderedDict(
            fc1=nn.Linear(in_features, hidden),
            act=nn.ReLU(inplace=True),
            fc2=nn.Linear(hidden, num_classes),
        )
    )


@correct("02.named_sequential")
def build_setattr_loop(in_features, hidden, num_classes):
    """An empty nn.Sequential, the layers set with setattr in a loop."""
    model = nn.Sequential()
    layers = [
        ("fc1", nn.Linear(in_features, hidden)),
        ("act", nn.ReLU()),
        ("fc2", nn.Linear(hidden, num_classes)),
    ]
    for name, layer in layers:
        setattr(model, name, layer)
    return model


@correct("02.named_sequential")
def build_zip_names(in_features: int, hidden: int, num_classes: int) -> nn.Sequential:
    """Names and layers zipped into the OrderedDict; type hints."""
    names = ("fc1", "act", "fc2")
    layers = (nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))
    return nn.Sequential(OrderedDict(zip(names, layers, strict=True)))


@correct("02.named_sequential")
def build_defaults_keyword_only(in_features=784, hidden=128, num_classes=10, *, act=nn.ReLU):
    """Defaults for every size and a keyword-only activation class defaulting to nn.ReLU."""
    return nn.Sequential(
        OrderedDict(
            [
                ("fc1", nn.Linear(in_features, hidden)),
                ("act", act()),
                ("fc2", nn.Linear(hidden, num_classes)),
            ]
        )
    )


@correct("02.named_sequential")
def build_in_eval_mode(in_features, hidden, num_classes):
    """Returned in eval mode (the task says nothing about the mode)."""
    layers = OrderedDict(
        fc1=nn.Linear(in_features, hidden), act=nn.ReLU(), fc2=nn.Linear(hidden, num_classes)
    )
    return nn.Sequential(layers).eval()


@correct("02.named_sequential")
def build_initialised(in_features, hidden, num_classes):
    """xavier_uniform_ weights and zero biases; .to("cpu").float() on the way out."""
    layers = OrderedDict(
        fc1=nn.Linear(in_features, hidden), act=nn.ReLU(), fc2=nn.Linear(hidden, num_classes)
    )
    model = nn.Sequential(layers)
    for layer in (model.fc1, model.fc2):
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
    return model.to("cpu").float()


def _build_with(in_features, hidden, num_classes, act_cls):
    layers = OrderedDict(
        fc1=nn.Linear(in_features, hidden), act=act_cls(), fc2=nn.Linear(hidden, num_classes)
    )
    return nn.Sequential(layers)


build_partial = functools.partial(_build_with, act_cls=nn.ReLU)
build_partial.__name__ = "build_partial"
correct("02.named_sequential")(build_partial)  # a functools.partial, not a def


class _ClassifierBuilder:
    """A callable object, not a function, registering the layers on an empty Sequential."""

    __name__ = "build_callable_object"

    def __call__(self, in_features, hidden, num_classes):
        model = nn.Sequential()
        for name, layer in [
            ("fc1", nn.Linear(in_features, hidden)),
            ("act", nn.ReLU()),
            ("fc2", nn.Linear(hidden, num_classes)),
        ]:
            model.register_module(name, layer)
        return model


correct("02.named_sequential")(_ClassifierBuilder())


@correct("02.named_sequential")
def build_from_spec(in_features, hidden, num_classes):
    """A dict of (class, arguments) turned into the OrderedDict by a generator."""
    spec = {
        "fc1": (nn.Linear, (in_features, hidden)),
        "act": (nn.ReLU, ()),
        "fc2": (nn.Linear, (hidden, num_classes)),
    }
    return nn.Sequential(OrderedDict((name, cls(*args)) for name, (cls, args) in spec.items()))


# -- 02.polynomial: mistakes ----------------------------------------------------------------------


@mistake("02.polynomial", hint="A Python list of Parameters is not registered")
class PolynomialPlainList(nn.Module):
    def __init__(self, degree):
        super().__init__()
        self.coeffs = [nn.Parameter(torch.zeros(())) for _ in range(degree + 1)]

    def forward(self, x):
        return sum(c * x**i for i, c in enumerate(self.coeffs))


@mistake("02.polynomial", hint="One Parameter per coefficient")
class PolynomialVector(nn.Module):
    def __init__(self, degree):
        super().__init__()
        self.coeffs = nn.Parameter(torch.zeros(degree + 1))

    def forward(self, x):
        powers = torch.arange(len(self.coeffs), device=x.device)
        return (x.unsqueeze(-1) ** powers * self.coeffs).sum(-1)


@mistake("02.polynomial", hint="Start every coefficient at zero")
class PolynomialRandomInit(nn.Module):
    def __init__(self, degree):
        super().__init__()
        self.coeffs = nn.ParameterList(nn.Parameter(torch.randn(())) for _ in range(degree + 1))

    def forward(self, x):
        return sum(c * x**i for i, c in enumerate(self.coeffs))


@mistake("02.polynomial", hint="d + 1 coefficients")
class PolynomialDegreeCoefficients(nn.Module):
    def __init__(self, degree):
        super().__init__()
        self.coeffs = nn.ParameterList(nn.Parameter(torch.zeros(())) for _ in range(degree))

    def forward(self, x):
        return sum(c * x**i for i, c in enumerate(self.coeffs))


@mistake("02.polynomial", hint="repeats ONE Parameter")
class PolynomialRepeatedParameter(nn.Module):
    def __init__(self, degree):
        super().__init__()
        self.coeffs = nn.ParameterList([nn.Parameter(torch.zeros(()))] * (degree + 1))

    def forward(self, x):
        return sum(c * x**i for i, c in enumerate(self.coeffs))


@mistake("02.polynomial", hint="parameters() must yield c0 first")
class PolynomialHighestFirst(nn.Module):
    def __init__(self, degree):
        super().__init__()
        self.degree = degree
        self.coeffs = nn.ParameterList(nn.Parameter(torch.zeros(())) for _ in range(degree + 1))

    def forward(self, x):
        # Horner's rule, but the list is stored c_degree first
        y = torch.zeros_like(x)
        for c in self.coeffs:
            y = y * x + c
        return y


@mistake("02.polynomial", hint="c0 is the constant term")
class PolynomialPowersFromOne(nn.Module):
    def __init__(self, degree):
        super().__init__()
        self.coeffs = nn.ParameterList(nn.Parameter(torch.zeros(())) for _ in range(degree + 1))

    def forward(self, x):
        return sum(c * x ** (i + 1) for i, c in enumerate(self.coeffs))


@mistake("02.polynomial", hint="not as separate attributes or an nn.ParameterDict")
class PolynomialNamedParameters(nn.Module):
    def __init__(self, degree):
        super().__init__()
        self.degree = degree
        for i in range(degree + 1):
            self.register_parameter(f"c{i}", nn.Parameter(torch.zeros(())))

    def forward(self, x):
        return sum(getattr(self, f"c{i}") * x**i for i in range(self.degree + 1))


@mistake("02.polynomial", hint="Even Polynomial(0) returns a tensor of x's shape")
class PolynomialHornerFromLast(nn.Module):
    def __init__(self, degree):
        super().__init__()
        self.coeffs = nn.ParameterList(nn.Parameter(torch.zeros(())) for _ in range(degree + 1))

    def forward(self, x):
        y = self.coeffs[-1]
        for c in reversed(self.coeffs[:-1]):
            y = y * x + c
        return y


@mistake("02.polynomial", hint="no .item(), float(), .data or .detach()")
class PolynomialItem(nn.Module):
    def __init__(self, degree):
        super().__init__()
        self.coeffs = nn.ParameterList(nn.Parameter(torch.zeros(())) for _ in range(degree + 1))

    def forward(self, x):
        y = torch.zeros_like(x)
        for i, c in enumerate(self.coeffs):
            y = y + c.item() * x**i
        return y


@mistake("02.polynomial", hint="nn.ParameterList takes a list of Parameters, not one tensor")
class PolynomialListOfOneTensor(nn.Module):
    def __init__(self, degree):
        super().__init__()
        self.coeffs = nn.ParameterList(torch.zeros(degree + 1))

    def forward(self, x):
        return sum(c * x**i for i, c in enumerate(self.coeffs))


@mistake("02.polynomial", hint="An in-place update")
class PolynomialInPlacePower(nn.Module):
    def __init__(self, degree):
        super().__init__()
        self.coeffs = nn.ParameterList(nn.Parameter(torch.zeros(())) for _ in range(degree + 1))

    def forward(self, x):
        y = torch.zeros_like(x)
        power = torch.ones_like(x)
        for c in self.coeffs:
            y = y + c * power
            power *= x  # autograd saved `power` for c's gradient
        return y


@mistake("02.polynomial", hint="Leave requires_grad at its default")
class PolynomialFrozen(nn.Module):
    def __init__(self, degree):
        super().__init__()
        self.coeffs = nn.ParameterList(
            nn.Parameter(torch.zeros(()), requires_grad=False) for _ in range(degree + 1)
        )

    def forward(self, x):
        return sum(c * x**i for i, c in enumerate(self.coeffs))


@mistake("02.polynomial", hint="other dtypes change the dtype of the output")
class PolynomialDoubleStacked(nn.Module):
    def __init__(self, degree):
        super().__init__()
        self.coeffs = nn.ParameterList(
            nn.Parameter(torch.zeros((), dtype=torch.float64)) for _ in range(degree + 1)
        )

    def forward(self, x):
        c = torch.stack(list(self.coeffs))  # (degree + 1,) float64: promotes x's powers
        powers = torch.stack([x**i for i in range(len(c))], dim=-1)
        return (powers * c).sum(-1)


@mistake("02.polynomial", hint="is one too many")
class PolynomialExtraScale(nn.Module):
    def __init__(self, degree):
        super().__init__()
        self.coeffs = nn.ParameterList(nn.Parameter(torch.zeros(())) for _ in range(degree + 1))
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x):
        return self.scale * sum(c * x**i for i, c in enumerate(self.coeffs))


@mistake("02.polynomial", hint="the highest coefficient, is never used")
class PolynomialSkipsHighest(nn.Module):
    def __init__(self, degree):
        super().__init__()
        self.degree = degree
        self.coeffs = nn.ParameterList(nn.Parameter(torch.zeros(())) for _ in range(degree + 1))

    def forward(self, x):
        y = torch.zeros_like(x)
        for i in range(self.degree):  # one term short
            y = y + self.coeffs[i] * x**i
        return y


@correct("02.polynomial")
class PolynomialStackedShapeOne(nn.Module):
    """(1,)-shaped coefficients hold one number each, and the result keeps x's shape."""

    def __init__(self, degree):
        super().__init__()
        self.degree = degree
        self.coeffs = nn.ParameterList([torch.zeros(1) for _ in range(degree + 1)])

    def forward(self, x):
        c = torch.cat(list(self.coeffs))  # (degree + 1,)
        powers = torch.arange(self.degree + 1, device=x.device, dtype=x.dtype)
        return (x.unsqueeze(-1) ** powers) @ c


@mistake("02.polynomial", hint="A 0-d x gives a 0-d result")
class PolynomialAtLeast1d(nn.Module):
    def __init__(self, degree):
        super().__init__()
        self.coeffs = nn.ParameterList(nn.Parameter(torch.zeros(())) for _ in range(degree + 1))

    def forward(self, x):
        x = torch.atleast_1d(x)  # "the powers need a dimension to stack on"
        powers = torch.stack([x**i for i in range(len(self.coeffs))], dim=-1)
        return powers @ torch.stack(list(self.coeffs))


in_notebook(
    "02.polynomial",
    "PolynomialOnGlobalDevice",
    """
    class Polynomial(nn.Module):
        # The coefficients created on the notebook's `device`.
        def __init__(self, degree):
            super().__init__()
            self.coeffs = nn.ParameterList(
                nn.Parameter(torch.zeros((), device=device)) for _ in range(degree + 1)
            )

        def forward(self, x):
            y = torch.zeros_like(x)
            for i, c in enumerate(self.coeffs):
                y = y + c * x**i
            return y
    """,
    hint=BUILT_ON_CPU,
)


@mistake("02.polynomial", hint="forward makes a tensor on the CPU")
class PolynomialZerosWithoutDevice(nn.Module):
    """torch.zeros(x.shape) starts on the CPU: fine on a laptop, an error on a GPU."""

    def __init__(self, degree):
        super().__init__()
        self.coeffs = nn.ParameterList(nn.Parameter(torch.zeros(())) for _ in range(degree + 1))

    def forward(self, x):
        y = torch.zeros(x.shape)
        for i, c in enumerate(self.coeffs):
            y = y + c * x**i
        return y


@mistake("02.polynomial", hint="Rename `__call__` to `forward`")
class PolynomialCallInsteadOfForward(nn.Module):
    def __init__(self, degree):
        super().__init__()
        self.coeffs = nn.ParameterList(nn.Parameter(torch.zeros(())) for _ in range(degree + 1))

    def __call__(self, x):
        y = torch.zeros_like(x)
        for i, c in enumerate(self.coeffs):
            y = y + c * x**i
        return y


# -- 02.polynomial: correct alternatives ----------------------------------------------------------


@correct("02.polynomial")
class PolynomialHorner(nn.Module):
    """Horner's rule over the reversed list, starting from zeros_like(x)."""

    def __init__(self, degree):
        super().__init__()
        self.coeffs = nn.ParameterList()
        for _ in range(degree + 1):
            self.coeffs.append(nn.Parameter(torch.tensor(0.0)))

    def forward(self, x):
        y = torch.zeros_like(x)
        for c in reversed(self.coeffs):
            y = y * x + c
        return y


@correct("02.polynomial")
class PolynomialSumOfTerms(nn.Module):
    """Python's sum() over the terms (its start, the int 0, broadcasts away)."""

    def __init__(self, degree):
        super().__init__()
        self.coeffs = nn.ParameterList([nn.Parameter(torch.zeros(())) for _ in range(degree + 1)])

    def forward(self, x):
        return sum(c * x**i for i, c in enumerate(self.coeffs))


@correct("02.polynomial")
class PolynomialPowersList(nn.Module):
    """A running power of x; the first term broadcast to x's shape with expand_as."""

    def __init__(self, degree):
        super().__init__()
        self.c = nn.ParameterList(nn.Parameter(torch.zeros([])) for _ in range(degree + 1))

    def forward(self, x):
        power = torch.ones_like(x)
        terms = []
        for coefficient in self.c:
            terms.append(coefficient * power)
            power = power * x
        return torch.stack(terms).sum(0)


@correct("02.polynomial")
class PolynomialStackedPowers(nn.Module):
    """The powers of x stacked on a last dimension, contracted with the stacked coefficients."""

    def __init__(self, degree):
        super().__init__()
        self.coeffs = nn.ParameterList()
        self.coeffs.extend(torch.zeros(()) for _ in range(degree + 1))

    def forward(self, x):
        c = torch.stack(list(self.coeffs))
        powers = torch.stack([x**i for i in range(len(c))], dim=-1)
        return powers @ c


@correct("02.polynomial")
class PolynomialDoubleScalars(nn.Module):
    """float64 coefficients of shape (): a 0-dim tensor does not change x's dtype."""

    def __init__(self, degree):
        super().__init__()
        self.coeffs = nn.ParameterList(
            nn.Parameter(torch.tensor(0.0, dtype=torch.float64)) for _ in range(degree + 1)
        )

    def forward(self, x):
        y = torch.zeros_like(x)
        for i, c in enumerate(self.coeffs):
            y = y + c * x**i
        return y


in_notebook(
    "02.polynomial",
    "PolynomialForwardOnGlobalDevice",
    """
    class Polynomial(nn.Module):
        # Built on the CPU; forward starts from zeros on the notebook's `device`, which
        # works wherever the model and x are on that device.
        def __init__(self, degree):
            super().__init__()
            self.coeffs = nn.ParameterList(nn.Parameter(torch.zeros(())) for _ in range(degree + 1))

        def forward(self, x):
            y = torch.zeros(x.shape, device=device)
            for i, c in enumerate(self.coeffs):
                y = y + c * x**i
            return y
    """,
)


@correct("02.polynomial")
class PolynomialArangeOnXDevice(nn.Module):
    """Powers from an arange made on x's device, contracted with the stacked coefficients."""

    def __init__(self, degree):
        super().__init__()
        self.coeffs = nn.ParameterList(nn.Parameter(torch.zeros(())) for _ in range(degree + 1))

    def forward(self, x):
        exponents = torch.arange(len(self.coeffs), device=x.device)
        powers = x.unsqueeze(-1) ** exponents
        return (powers * torch.stack(list(self.coeffs))).sum(-1)


@correct("02.polynomial")
class PolynomialCpuScalarStart(nn.Module):
    """A 0-d CPU tensor in forward: torch lets a 0-d CPU tensor join tensors on any device."""

    def __init__(self, degree):
        super().__init__()
        self.coeffs = nn.ParameterList(nn.Parameter(torch.zeros(())) for _ in range(degree + 1))

    def forward(self, x):
        y = torch.zeros_like(x) + torch.tensor(0.0)
        for i, c in enumerate(self.coeffs):
            y = y + c * x**i
        return y


@correct("02.polynomial")
class PolynomialAppendedTensorsReduce(nn.Module):
    """Plain 0-d tensors appended to an nn.ParameterList (which wraps them in Parameters);
    Horner's rule with functools.reduce."""

    def __init__(self, degree: int) -> None:
        super().__init__()
        self.coeffs = nn.ParameterList()
        for _ in range(degree + 1):
            self.coeffs.append(torch.zeros(()))

    def forward(self, x):
        coefficients = reversed(list(self.coeffs))
        return functools.reduce(lambda acc, c: acc * x + c, coefficients, torch.zeros_like(x))


@correct("02.polynomial")
class PolynomialRunningPower(nn.Module):
    """torch.tensor(0.0) coefficients (wrapped by the ParameterList); a running power."""

    def __init__(self, degree):
        super().__init__()
        self.c = nn.ParameterList([torch.tensor(0.0) for _ in range(degree + 1)])

    def forward(self, x):
        out = torch.zeros_like(x)
        power = torch.ones_like(x)
        for c in self.c:
            out = out + c * power
            power = power * x
        return out


@correct("02.polynomial")
class PolynomialVandermonde(nn.Module):
    """torch.linalg.vander on x flattened (N at least 2, as torch requires), reshaped back;
    register_module; torch.scalar_tensor coefficients."""

    def __init__(self, degree):
        super().__init__()
        self.degree = degree
        coefficients = nn.ParameterList(
            nn.Parameter(torch.scalar_tensor(0)) for _ in range(degree + 1)
        )
        self.register_module("coefficients", coefficients)

    def forward(self, x):
        n = self.degree + 1
        powers = torch.linalg.vander(x.reshape(-1), N=max(n, 2))[:, :n]
        return (powers @ torch.stack(list(self.coefficients))).reshape(x.shape)

    def extra_repr(self):
        return f"degree={self.degree}"


@correct("02.polynomial")
class PolynomialPowAndSum(nn.Module):
    """torch.pow terms summed by sum(); torch.full((), init); forward decorated."""

    def __init__(self, degree, *, init=0.0):
        super().__init__()
        self.coeffs = nn.ParameterList(
            [nn.Parameter(torch.full((), init)) for _ in range(degree + 1)]
        )

    @_passthrough
    def forward(self, x, *args, **kwargs):
        return sum(torch.pow(x, i) * c for i, c in enumerate(self.coeffs))


@correct("02.polynomial")
class PolynomialUnbound(nn.Module):
    """Coefficients from torch.zeros(n).unbind() (each 0-d), mapped to nn.Parameter."""

    def __init__(self, degree):
        super().__init__()
        self.coeffs = nn.ParameterList(map(nn.Parameter, torch.zeros(degree + 1).unbind()))

    def forward(self, x):
        y = self.coeffs[0] * torch.ones_like(x)
        for i in range(1, len(self.coeffs)):
            y = y + self.coeffs[i] * x**i
        return y


@correct("02.polynomial")
class PolynomialTensordot(nn.Module):
    """Powers stacked on a new last dimension, tensordot with the stacked coefficients."""

    def __init__(self, degree):
        super().__init__()
        self.n = degree + 1
        self.params = nn.ParameterList([nn.Parameter(torch.zeros([])) for _ in range(self.n)])

    def forward(self, x):
        powers = torch.stack([x**i for i in range(self.n)], dim=-1)
        return torch.tensordot(powers, torch.stack(tuple(self.params)), dims=1)


@correct("02.polynomial")
class PolynomialInSubmodule(nn.Module):
    """The ParameterList held by a plain nn.Module inside; a plain alias list beside it;
    sum() started from zeros_like(x)."""

    def __init__(self, degree):
        super().__init__()
        self.store = nn.Module()
        self.store.coeffs = nn.ParameterList(
            nn.Parameter(torch.zeros(())) for _ in range(degree + 1)
        )
        self.view = list(self.store.coeffs)  # the same Parameters, not registered again

    def forward(self, x):
        terms = (c * x**i for i, c in enumerate(self.store.coeffs))
        return sum(terms, torch.zeros_like(x))
