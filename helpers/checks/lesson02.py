"""Checks for lesson 02 · Containers: ``02.mlp``, ``02.multi_head``,
``02.named_sequential``, ``02.polynomial``."""

from __future__ import annotations

import contextlib
import copy
import inspect
import itertools
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import Any

import torch
from torch import nn

from helpers.checks.core import CallCounter, Checker, describe, shape_str, task
from helpers.device import get_device

NOTEBOOK = "02_containers"

# The attributes every nn.Module has (its registries, hooks, flags): never the learner's.
_MODULE_INTERNALS = frozenset(vars(nn.Module()))


# -- shared helpers --------------------------------------------------------------------------


def _modules(t: Checker, model: nn.Module, *, remove_duplicate: bool = True) -> list[nn.Module]:
    named = t.call(
        lambda: list(model.named_modules(remove_duplicate=remove_duplicate)),
        what="model.named_modules()",
    )
    return [module for _, module in named]


def _parameters(t: Checker, model: nn.Module) -> list[nn.Parameter]:
    return t.call(lambda: list(model.parameters()), what="model.parameters()")


def _plain_container(model: nn.Module, kind: type | tuple[type, ...]) -> str | None:
    """``self.<name>`` of a plain list/tuple/dict attribute (of the model or any of its
    registered submodules) holding instances of ``kind``; None if there is none."""
    try:
        for prefix, module in model.named_modules():
            for name, value in vars(module).items():
                if name in _MODULE_INTERNALS or not isinstance(value, (list, tuple, dict)):
                    continue
                items = value.values() if isinstance(value, dict) else value
                if any(isinstance(v, kind) for v in items):
                    return f"self.{prefix + '.' if prefix else ''}{name}"
    except Exception:  # an attribute that cannot be inspected: no diagnosis, no crash
        return None
    return None


def _contains(items: Sequence[Any], target: Any) -> bool:
    return any(item is target for item in items)


_CPU = torch.device("cpu")
_META = torch.device("meta")


@contextlib.contextmanager
def _namespace_device(t: Checker, device: torch.device) -> Iterator[None]:
    """The learner's ``device`` (and ``get_device()``) name ``device`` while the body runs.

    ``t.build`` already makes construction machine-independent (modules must be built on
    the CPU). This does the same for learner code that reads the notebook's ``device`` when
    it runs, e.g. ``torch.zeros(x.shape, device=device)`` in forward: the probes on the CPU
    run with ``device`` naming the CPU, the device probe with ``get_device()``, so the
    verdict is the same on a laptop and on a GPU machine. Put back afterwards.
    """
    namespace = t.namespace
    swapped: list[tuple[str, Any]] = []
    try:
        if isinstance(namespace, MutableMapping):
            value = namespace.get("device")
            if isinstance(value, (torch.device, str)):  # else: no usual `device`, left alone
                swapped.append(("device", value))
                namespace["device"] = device
            if namespace.get("get_device") is get_device:
                swapped.append(("get_device", get_device))
                namespace["get_device"] = lambda prefer=None: device
    except Exception:  # a namespace that refuses: what was swapped is put back below
        pass
    try:
        yield
    finally:
        for name, value in reversed(swapped):
            with contextlib.suppress(Exception):
                namespace[name] = value


def _fill_linear(layer: nn.Linear) -> None:
    """Known, well-scaled values for a Linear layer the check built itself."""
    with torch.no_grad():
        out_features, in_features = layer.weight.shape
        layer.weight.copy_(torch.randn(out_features, in_features) / in_features**0.5)
        if layer.bias is not None:
            layer.bias.copy_(0.5 * torch.randn(out_features))


# -- 02.mlp -----------------------------------------------------------------------------------

_FUNCTION_NOT_MODULE = (
    "A function such as F.relu or torch.tanh is not a module, and nn.Sequential and "
    "nn.ModuleList hold modules only: put a fresh activation() instance between the Linear "
    "layers."
)

_MLP_REFINE = (
    (
        "TypeError: list is not a Module subclass",
        "nn.Sequential takes the layers as separate arguments: unpack the list, "
        "nn.Sequential(*layers).",
    ),
    (
        "<genexpr> is not a Module subclass",
        "nn.Sequential takes the layers as separate arguments, not a generator: unpack it, "
        "nn.Sequential(*layers) (nn.ModuleList is the container that takes an iterable).",
    ),
    (
        "torch.nn.functional.",
        _FUNCTION_NOT_MODULE,
    ),
    (
        "torch._VariableFunctionsClass.",
        _FUNCTION_NOT_MODULE,
    ),
    (
        "is not a Module subclass",
        "`activation` is a class (like nn.ReLU), not a module: call activation() to create "
        "an instance for each gap between Linear layers.",
    ),
    (
        "IndexError",
        "The layer loop runs one step too far: for sizes [d0, ..., dn] there are "
        "len(sizes) - 1 pairs (d_i, d_i+1), e.g. zip(sizes[:-1], sizes[1:]).",
    ),
)


def _activation_hints(name: str) -> tuple[tuple[str, str], ...]:
    """The hint for an activation class called with arguments, e.g. activation(inplace=True)."""
    return (
        (
            f"{name}.__init__() ",
            f"`activation` is a class to call with no arguments, activation(): {name}() "
            "takes none (nn.ReLU and a few others accept inplace=..., nn.Tanh, nn.GELU and "
            "a class of your own do not), so activation(inplace=True) fails for it.",
        ),
        *_MLP_REFINE,
    )


def _softsign_class() -> tuple[type[nn.Module], list[nn.Module]]:
    """A custom activation class that records every instance created."""
    created: list[nn.Module] = []

    class Softsign(nn.Module):
        """x / (1 + |x|): an activation class the check defines itself."""

        def __init__(self) -> None:
            super().__init__()
            created.append(self)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x / (1 + x.abs())

    return Softsign, created


def _arrow(pairs: Sequence[tuple[int, int]]) -> str:
    return ", ".join(f"{a}→{b}" for a, b in pairs) or "none"


@task("02.mlp", title="MLP from a list of sizes", names=["MLP"], notebook=NOTEBOOK)
def check_mlp(t: Checker) -> None:
    with _namespace_device(t, _CPU):
        _check_mlp(t)


def _check_mlp(t: Checker) -> None:
    MLP = t.module_class("MLP")
    t.expect_own_forward(MLP, "MLP")
    sizes = [4, 8, 6, 3]

    with t.probe("MLP([4, 8, 6, 3]) constructs"):
        given = list(sizes)
        model = t.build(MLP, given, what="MLP([4, 8, 6, 3])", hints=_MLP_REFINE)
        if given != sizes:
            t.fail(
                "MLP(sizes) changed the caller's list",
                expected=f"sizes still {sizes} after MLP(sizes)",
                got=f"sizes is now {given}",
                hint="Read `sizes` without modifying it (no pop, append, insert, reverse or "
                "del on it): the caller may reuse the list, e.g. for a second model.",
            )

    with t.probe("MLP([4, 8, 6, 3]) registers 3 Linear layers, in order: 4→8, 8→6, 6→3"):
        _expect_linears(t, model, sizes)

    with t.probe("MLP([4, 8, 6, 3]) has 2 ReLU instances of its own, none after the last layer"):
        _expect_activations(t, MLP, model, sizes, nn.ReLU)

    with t.probe("MLP([4, 8, 6, 3]) holds no other modules (no norm, dropout, ...)"):
        _expect_only_layers(t, model, sizes, nn.ReLU)

    cases = [([4, 8, 6, 3], (5, 4)), ([3, 5, 2], (2, 7, 3)), ([6, 4], (3, 6)), ([5, 3, 1], (4, 5))]
    for case_sizes, shape in cases:
        with t.probe(f"MLP({case_sizes}) on x of shape {shape_str(shape)}"):
            call = f"MLP({case_sizes})"
            layer = t.build(MLP, list(case_sizes), what=call, hints=_MLP_REFINE)
            _expect_linears(t, layer, case_sizes)
            _expect_mlp_forward(t, layer, case_sizes, shape, torch.relu, "ReLU")

    with t.probe("MLP([6, 4]) is a single Linear layer with no activation"):
        model = t.build(MLP, [6, 4], what="MLP([6, 4])", hints=_MLP_REFINE)
        _expect_activations(t, MLP, model, [6, 4], nn.ReLU)

    with t.probe("activation=nn.Tanh: 3 fresh Tanh instances between 4 Linear layers"):
        tanh_sizes = [5, 7, 7, 7, 2]
        call = f"MLP({tanh_sizes}, activation=nn.Tanh)"
        model = t.build(
            MLP, list(tanh_sizes), activation=nn.Tanh, what=call, hints=_activation_hints("Tanh")
        )
        _expect_linears(t, model, tanh_sizes)
        _expect_activations(t, MLP, model, tanh_sizes, nn.Tanh)
        _expect_only_layers(t, model, tanh_sizes, nn.Tanh)
        _expect_mlp_forward(t, model, tanh_sizes, (4, 5), torch.tanh, "Tanh")

    with t.probe("a custom activation class: one new instance per gap, made in __init__"):
        Softsign, created = _softsign_class()
        custom_sizes = [3, 6, 4, 2]
        call = f"MLP({custom_sizes}, activation=Softsign)"
        model = t.build(
            MLP,
            list(custom_sizes),
            activation=Softsign,
            what=call,
            hints=_activation_hints("Softsign"),
        )
        _expect_linears(t, model, custom_sizes)
        _expect_activations(t, MLP, model, custom_sizes, Softsign, created=created)
        _expect_only_layers(t, model, custom_sizes, Softsign)
        _expect_mlp_forward(t, model, custom_sizes, (5, 3), lambda h: h / (1 + h.abs()), "Softsign")

    with t.probe("runs on another device (the meta device: shapes only)"):
        model = t.build(MLP, [4, 8, 3], what="MLP([4, 8, 3])", hints=_MLP_REFINE)
        with _namespace_device(t, _META):
            t.expect_runs_on_meta(model, (6, 4), (6, 3), "MLP([4, 8, 3])")

    with t.probe("works on the course's device, get_device()"):
        model = t.build(MLP, [4, 8, 3], what="MLP([4, 8, 3])", hints=_MLP_REFINE)
        _expect_linears(t, model, [4, 8, 3])
        with _namespace_device(t, get_device()):
            _expect_mlp_forward(
                t, model, [4, 8, 3], (6, 4), torch.relu, "ReLU", device=get_device()
            )


def _linears(t: Checker, model: nn.Module) -> list[nn.Linear]:
    return [m for m in _modules(t, model) if isinstance(m, nn.Linear)]


def _expect_linears(t: Checker, model: nn.Module, sizes: list[int]) -> None:
    call = f"MLP({sizes})"
    expected = list(itertools.pairwise(sizes))
    linears = _linears(t, model)
    _expect_not_lazy(t, linears, call, "nn.Linear(sizes[i], sizes[i + 1])")
    got = [(int(m.weight.shape[1]), int(m.weight.shape[0])) for m in linears]
    if not linears:
        hidden = _plain_container(model, nn.Module)
        params = _parameters(t, model)
        t.fail(
            f"{call}: parameters are missing",
            expected=f"{2 * len(expected)} parameter tensors ({len(expected)} Linear layers)",
            got=f"{len(params)} parameter tensors"
            + (f"; the layers sit in {hidden}" if hidden else ""),
            hint="Layers kept in a Python list are not registered; use nn.ModuleList or "
            "nn.Sequential."
            if hidden
            else "Create the nn.Linear layers in __init__ and register them (in an "
            "nn.Sequential or an nn.ModuleList).",
        )
    if len(linears) != len(expected):
        all_linears = [
            m for m in _modules(t, model, remove_duplicate=False) if isinstance(m, nn.Linear)
        ]
        if len(all_linears) == len(expected):
            hint = (
                "The same nn.Linear object is used in several places (e.g. `[layer] * n`): "
                "create a new nn.Linear for each pair of sizes."
            )
        else:
            hint = (
                "For sizes [d0, ..., dn] make n = len(sizes) - 1 Linear layers, one per "
                "consecutive pair: zip(sizes[:-1], sizes[1:])."
            )
        t.fail(
            f"{call} has {len(linears)} Linear layers instead of {len(expected)}",
            expected=_arrow(expected),
            got=_arrow(got),
            hint=hint,
        )
    if got != expected:
        if sorted(got) == sorted(expected):
            hint = (
                "Register the layers in the order they are applied: model.modules() "
                "yields them in registration order."
            )
        elif got == [(b, a) for a, b in expected]:
            hint = (
                "nn.Linear takes in_features first: layer i is nn.Linear(sizes[i], sizes[i + 1])."
            )
        else:
            hint = "Layer i maps sizes[i] → sizes[i + 1]: nn.Linear(sizes[i], sizes[i + 1])."
        t.fail(
            f"the Linear layers of {call} have the wrong sizes",
            expected=_arrow(expected),
            got=_arrow(got) + " (in_features→out_features, in model.modules() order)",
            hint=hint,
        )
    no_bias = [f"{a}→{b}" for (a, b), m in zip(got, linears, strict=True) if m.bias is None]
    if no_bias:
        t.fail(
            f"Linear layers of {call} have no bias",
            expected="every Linear layer with a bias",
            got=f"bias=None in {', '.join(no_bias)}",
            hint="Every Linear layer has a bias: leave nn.Linear's bias=True, the default "
            "(bias=False removes it).",
        )


def _expect_not_lazy(t: Checker, layers: Sequence[nn.Module], call: str, code: str) -> None:
    """No layer is an nn.LazyLinear still waiting for its first input to know its sizes."""
    lazy = [m for m in layers if isinstance(m.weight, nn.parameter.UninitializedParameter)]
    if lazy:
        t.fail(
            f"{call} uses nn.LazyLinear, whose in_features is not known yet",
            expected="every Linear layer created with both its sizes",
            got=f"{len(lazy)} nn.LazyLinear layer{'s' if len(lazy) > 1 else ''}, not initialised",
            hint=f"nn.LazyLinear learns in_features only on its first input, so the model has "
            f"no weights to train, move or save until then: give both sizes, {code}.",
        )


# Modules that only hold others and compute nothing themselves.
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


def _expect_only_layers(
    t: Checker, model: nn.Module, sizes: list[int], cls: type[nn.Module]
) -> None:
    """No module besides the Linear layers, the activations and what holds them: torch's
    containers, a parameter-free module of the learner's own that has children, or
    nn.Identity (a placeholder that computes nothing)."""

    def others() -> list[tuple[str, str]]:
        extra = []
        for name, module in model.named_modules():
            if module is model or isinstance(module, (nn.Linear, cls, nn.Identity, *_CONTAINERS)):
                continue
            own = [*module.parameters(recurse=False), *module.buffers(recurse=False)]
            if not own and next(module.children(), None) is not None:
                continue  # a block of the learner's own, holding Linear layers and activations
            extra.append((name, type(module).__name__))
        return extra

    extra = t.call(others, what="model.named_modules()")
    if extra:
        kinds = sorted({kind for _, kind in extra})
        t.fail(
            f"MLP({sizes}) holds modules other than its Linear layers and activations",
            expected=f"only Linear layers and {cls.__name__} instances (in containers such as "
            "nn.Sequential or nn.ModuleList)",
            got=", ".join(f"{name}: {kind}" for name, kind in extra),
            hint=f"Remove the {' and '.join(kinds)}: the MLP holds its Linear layers and the "
            "activations between them, nothing else. A registered module is part of the model "
            "(model.modules(), .to(), state_dict()) whether forward uses it or not.",
        )


def _expect_activations(
    t: Checker,
    MLP: type[nn.Module],
    model: nn.Module,
    sizes: list[int],
    cls: type[nn.Module],
    *,
    created: list[nn.Module] | None = None,
) -> None:
    call = f"MLP({sizes})"
    gaps = len(sizes) - 2
    name = cls.__name__
    instances = [m for m in _modules(t, model) if isinstance(m, cls)]
    if len(instances) == gaps:
        return
    if len(instances) == gaps + 1:
        _fail_one_activation_too_many(t, model, call, gaps, cls)
    if len(instances) == 1 and gaps > 1:
        default = _signature_default(MLP, "activation")
        if isinstance(default, nn.Module):
            hint = (
                f"The default is an instance, `activation={_class_name(default)}()`, "
                "created once and shared: make it the class, `activation=nn.ReLU`, and call "
                "activation() once per gap."
            )
        else:
            hint = (
                "One activation instance is reused between all layers: call activation() "
                "once per gap, so each gap gets a fresh instance of its own."
            )
        t.fail(
            f"{call} has one {name} instance for {gaps} gaps between layers",
            expected=f"{gaps} distinct {name} instances",
            got=f"1 {name} instance",
            hint=hint,
        )
    if not instances:
        stored_class = [
            attr
            for attr, value in vars(model).items()
            if attr not in _MODULE_INTERNALS and value is cls
        ]
        others = sorted(
            {
                type(m).__name__
                for m in _modules(t, model)
                if m.__module__ == "torch.nn.modules.activation" and not isinstance(m, cls)
            }
        )
        if stored_class:
            hint = (
                f"self.{stored_class[0]} holds the class {name} itself, which is not a module: "
                "create the instances in __init__ with activation() and register them."
            )
        elif others and cls is not nn.ReLU:
            hint = (
                f"The `activation` argument is ignored ({', '.join(others)} instead): create "
                "the layers between the Linear layers with activation()."
            )
        elif hidden := _plain_container(model, cls):
            hint = (
                f"{hidden} is a plain Python container, so the {name} instances in it are not "
                "registered: keep them in the nn.Sequential or an nn.ModuleList."
            )
        elif created:
            hint = (
                "The activation instances are created but not registered: keep them in the "
                "nn.Sequential or an nn.ModuleList."
            )
        else:
            hint = (
                "Create the activation modules in __init__ with activation(), one per gap, "
                "and register them (in the nn.Sequential or an nn.ModuleList); one made or "
                "called only inside forward is not registered."
            )
        t.fail(
            f"{call} has no registered {name} instance",
            expected=f"{gaps} {name} instances among model.modules()",
            got="none",
            hint=hint,
        )
    t.fail(
        f"{call} has {len(instances)} {name} instances instead of {gaps}",
        expected=f"{gaps}, one between each pair of consecutive Linear layers",
        got=str(len(instances)),
        hint="Put exactly one activation() between consecutive Linear layers.",
    )


def _fail_one_activation_too_many(
    t: Checker, model: nn.Module, call: str, gaps: int, cls: type[nn.Module]
) -> None:
    """One activation more than there are gaps: say where the extra one sits when the
    registration order shows it (Linear and activation layers alternating)."""
    name = cls.__name__
    order = [
        "act" if isinstance(m, cls) else "linear"
        for m in _modules(t, model)
        if isinstance(m, (cls, nn.Linear))
    ]
    alternating = all(a != b for a, b in itertools.pairwise(order))
    expected = f"{gaps} {name} instances, only between consecutive Linear layers"
    got = f"{gaps + 1} {name} instances"
    if alternating and order[0] == "act":
        t.fail(
            f"{call} has an activation before its first Linear layer",
            expected=expected,
            got=got + ", the first one before the first Linear layer",
            hint="The input goes straight into the first Linear layer: put activation() only "
            "between consecutive Linear layers, after each layer but the last.",
        )
    if alternating and order[-1] == "act":
        t.fail(
            f"{call} has an activation after its last Linear layer",
            expected=expected,
            got=got,
            hint="There is no activation after the last Linear layer: the network's output "
            "is the last layer's output.",
        )
    t.fail(
        f"{call} has {gaps + 1} {name} instances for {gaps} gaps between Linear layers",
        expected=expected,
        got=got,
        hint="n Linear layers have n - 1 gaps between them: make len(sizes) - 2 activation "
        "instances, none before the first Linear layer and none after the last.",
    )


def _class_name(module: nn.Module) -> str:
    cls = type(module)
    return f"nn.{cls.__name__}" if cls.__module__.startswith("torch.nn.") else cls.__name__


def _signature_default(cls: type, name: str) -> Any:
    try:
        parameter = inspect.signature(cls).parameters.get(name)
    except Exception:  # a signature the inspect module cannot read
        return None
    return None if parameter is None else parameter.default


def _expect_default_dtype(t: Checker, what: str, layers: Sequence[nn.Module], fix: str) -> None:
    """The parameters of ``layers`` have torch's default dtype (float32, unless the notebook
    changed it with torch.set_default_dtype), like the check's x. ``fix`` may name
    ``{dtype}``."""
    default = torch.get_default_dtype()
    dtypes = sorted({str(p.dtype) for layer in layers for p in layer.parameters()})
    if dtypes != [str(default)]:
        name = str(default).removeprefix("torch.")
        t.fail(
            f"{what} are not {name}",
            expected=f"{default} (the default dtype, which the input x has too)",
            got=", ".join(dtypes),
            hint=fix.format(dtype=name),
        )


def _linear_reference(
    layers: Sequence[nn.Linear],
    x: torch.Tensor,
    act: Callable[[torch.Tensor], torch.Tensor] | None,
) -> torch.Tensor:
    """The layers applied to x on the CPU (act between them, if given), from copies of
    their values: the learner's model may live on another device."""
    with torch.no_grad():
        for i, layer in enumerate(layers):
            bias = None if layer.bias is None else layer.bias.detach().cpu()
            x = torch.nn.functional.linear(x, layer.weight.detach().cpu(), bias)
            if act is not None and i < len(layers) - 1:
                x = act(x)
    return x


def _expect_mlp_forward(
    t: Checker,
    model: nn.Module,
    sizes: list[int],
    shape: tuple[int, ...],
    act: Callable[[torch.Tensor], torch.Tensor],
    act_name: str,
    device: torch.device | None = None,
) -> None:
    call = f"MLP({sizes})"
    linears = _linears(t, model)
    _expect_default_dtype(
        t,
        f"the Linear layers of {call}",
        linears,
        "Create the layers with the default dtype (no dtype=..., .double() or .half() in "
        "__init__): the model must take {dtype} inputs.",
    )
    for layer in linears:
        _fill_linear(layer)
    x = torch.randn(shape)
    last = linears[-1]
    if last.bias is not None:
        # Centre every output over the batch, so that about half of them are negative and
        # an activation after the last layer changes the result.
        with torch.no_grad():
            last.bias.zero_()
            centre = _linear_reference(linears, x, act).reshape(-1, last.out_features).mean(0)
            last.bias.copy_(-centre)
    if device is not None:
        t.move(model, device, what=f"{call}.to(device)")
    expected = _linear_reference(linears, x, act)
    plain = _linear_reference(linears, x, None)
    # Where the model lives: the course's device, or wherever its own __init__ put it.
    target = device if device is not None else last.weight.device
    y = t.call(model, x.to(target), what=f"{call}(x)")
    diagnoses = [
        (act(expected).to(target), f"There is no {act_name} after the last Linear layer."),
        (plain.to(target), f"The {act_name} between the Linear layers is missing in forward."),
    ]
    if act_name != "ReLU" and len(linears) > 1:
        diagnoses.append(
            (
                _linear_reference(linears, x, torch.relu).to(target),
                f"forward applies ReLU between the layers, not the {act_name} built from "
                "`activation`: call the registered activation() instances in forward "
                "(no F.relu / torch.relu).",
            )
        )
    if expected.shape[-1] == 1:
        diagnoses.append(
            (
                expected.squeeze(-1).to(target),
                "The output keeps the last Linear layer's shape, (*, d_n), even for d_n = 1: "
                "no .squeeze() / .squeeze(-1) / .flatten() on it.",
            )
        )
    if len(linears) > 1:
        skipped = act(_linear_reference(linears[:-1], x, act))
        diagnoses.append(
            (
                skipped.to(target),
                "The last Linear layer is never applied (a loop over the gaps, or zip() "
                "with the shorter list of activations, stops one layer early): apply the "
                "last Linear layer after the loop.",
            )
        )
    t.expect_close(
        y,
        expected.to(target),
        what=f"{call}(x) for x of shape {shape_str(shape)}",
        hint="Apply the layers in order, Linear, activation, Linear, ..., Linear, with "
        "no activation after the last.",
        diagnoses=diagnoses[:1] if len(linears) == 1 else diagnoses,
        rtol=1e-4,
        atol=1e-5,
    )


# -- 02.multi_head -----------------------------------------------------------------------------


class _CountedLinear(nn.Linear):
    """An nn.Linear that counts its forward calls: the first layer of each of the check's
    heads, so that the check sees which heads a forward pass ran."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return super().forward(x)


def _head_calls(head: nn.Module) -> int:
    return sum(m.calls for m in head.modules() if isinstance(m, _CountedLinear))


def _trunk_and_heads(dim: int = 4) -> tuple[CallCounter, dict[str, nn.Module]]:
    """The check's trunk (square, so that mistakes stay diagnosable) and three heads."""
    trunk = CallCounter(dim)
    heads: dict[str, nn.Module] = {
        "cls": _CountedLinear(dim, 3),
        "seg": _CountedLinear(dim, 3),
        "depth": nn.Sequential(_CountedLinear(dim, dim), nn.ReLU(), nn.Linear(dim, 1)),
    }
    for module in [trunk, *heads.values()]:
        for layer in module.modules():
            if isinstance(layer, nn.Linear):
                _fill_linear(layer)
    return trunk, heads


_MULTI_HEAD_BUILD = (
    (
        "str is not a Module subclass",
        "Iterating a dict gives its keys, the task names: register the heads under their "
        "names with nn.ModuleDict(heads).",
    ),
    (
        "ModuleDict.__init__() got an unexpected keyword argument",
        "nn.ModuleDict takes the mapping itself: nn.ModuleDict(heads), not nn.ModuleDict(**heads).",
    ),
)

_MULTI_HEAD_CALL = (
    (
        "KeyError: tensor(",
        "The heads were indexed with a tensor, the input x: forward's arguments are (x, task), "
        'in that order, def forward(self, x, task), as in model(x, "cls").',
    ),
    (
        "must be Tensor, not str",
        "The trunk was given a str, the task name: forward's arguments are (x, task), in that "
        'order, def forward(self, x, task), as in model(x, "cls").',
    ),
    (
        "shapes cannot be multiplied",
        "The trunk comes first: the head is applied to the trunk's output, "
        "heads[task](trunk(x)), not trunk(heads[task](x)).",
    ),
    (
        "object has no attribute 'get'",
        "nn.ModuleDict has no .get(): index it, self.heads[task], which raises KeyError "
        "for an unknown task.",
    ),
    (
        "KeyError",
        "A task the heads were given for raised KeyError: keep the task names as the keys, "
        "nn.ModuleDict(heads), and index with the task itself, self.heads[task].",
    ),
)


def _near(x: torch.Tensor, module: nn.Module) -> torch.Tensor:
    """x on the device of ``module``'s parameters (the learner may have moved it)."""
    return x.to(next(module.parameters()).device)


def _heads_text(heads: dict[str, nn.Module]) -> str:
    def kind(head: nn.Module) -> str:
        return "Linear" if isinstance(head, nn.Linear) else type(head).__name__

    return "{" + ", ".join(f'"{k}": {kind(v)}' for k, v in heads.items()) + "}"


@task(
    "02.multi_head", title="Shared trunk, one head per task", names=["MultiHead"], notebook=NOTEBOOK
)
def check_multi_head(t: Checker) -> None:
    with _namespace_device(t, _CPU):
        _check_multi_head(t)


def _check_multi_head(t: Checker) -> None:
    MultiHead = t.module_class("MultiHead")
    t.expect_own_forward(MultiHead, "MultiHead")

    with t.probe("MultiHead(trunk, heads) constructs from a dict of heads"):
        trunk, heads = _trunk_and_heads()
        call = f"MultiHead(trunk, {_heads_text(heads)})"
        given = dict(heads)
        before = _state(trunk, heads)
        model = t.build(MultiHead, trunk, given, what=call, hints=_MULTI_HEAD_BUILD)
        if list(given) != list(heads) or any(given[k] is not heads[k] for k in heads):
            t.fail(
                "MultiHead(trunk, heads) changed the caller's heads",
                expected=f"heads still {_heads_text(heads)}",
                got=f"heads is now {_heads_text(given)}",
                hint="Read `heads` without modifying it (no pop, del or assignment on it): "
                "register its modules with nn.ModuleDict(heads); the caller may reuse it.",
            )
        after = _state(trunk, heads)
        changed = [
            f"`{name}` " + ("gone" if name not in after else "changed")
            for name in before
            if name not in after or not _same(before[name], after[name])
        ]
        changed += [f"`{name}` added" for name in after if name not in before]
        if changed:
            t.fail(
                "MultiHead(trunk, heads) changed the trunk or a head",
                expected="the trunk and heads as the caller built them (layers and values)",
                got=changed[0] + (f" and {len(changed) - 1} more" if changed[1:] else ""),
                hint="Keep the trunk and heads as they are given: no replacing their layers "
                "(e.g. trunk[-1] = nn.Identity()), re-initialising them or switching them "
                "to eval mode in __init__; register them and call them in forward.",
            )

    with t.probe("the trunk and every head are registered submodules"):
        _expect_registered(t, model, trunk, heads)

    with t.probe("every head's parameters are in model.parameters()"):
        params = _parameters(t, model)
        for name, head in heads.items():
            missing = [p for p in head.parameters() if not _contains(params, p)]
            if missing:
                t.fail(
                    f'the parameters of head "{name}" are not among model.parameters()',
                    expected=f"all {len(list(head.parameters()))} of them",
                    got=f"{len(missing)} missing",
                    hint="Register the heads themselves: self.heads = nn.ModuleDict(heads).",
                )

    x = torch.randn(5, 4)
    for name in heads:
        with t.probe(f'model(x, "{name}") returns heads["{name}"](trunk(x))'):
            _expect_head_output(t, model, trunk, heads, x, name)

    with t.probe('model(x, "seg") runs the trunk once and only head "seg"'):
        trunk.calls = 0
        for head in heads.values():
            for layer in head.modules():
                if isinstance(layer, _CountedLinear):
                    layer.calls = 0
        t.call(model, _near(x, trunk), "seg", what='model(x, "seg")', hints=_MULTI_HEAD_CALL)
        if trunk.calls != 1:
            t.fail(
                "the trunk was not called exactly once per forward",
                expected="1 call",
                got=f"{trunk.calls} calls",
                hint="Call the trunk once per forward, self.trunk(x), and reuse its output.",
            )
        calls = {name: _head_calls(head) for name, head in heads.items()}
        if any(n for name, n in calls.items() if name != "seg") or calls["seg"] != 1:
            t.fail(
                'model(x, "seg") did not run head "seg" alone, once',
                expected='head "seg": 1 call, the other heads: none',
                got=", ".join(
                    f'head "{name}": {n} call{"" if n == 1 else "s"}' for name, n in calls.items()
                ),
                hint="Run only the requested head, once: return self.heads[task](features). "
                "Computing every head's output and then picking one does the other heads' "
                "work for nothing.",
            )

    with t.probe("gradients reach the trunk and the chosen head"):
        trunk, heads = _trunk_and_heads()
        model = t.build(MultiHead, trunk, heads, what=call, hints=_MULTI_HEAD_BUILD)
        y = t.call(model, _near(x, trunk), "cls", what='model(x, "cls")', hints=_MULTI_HEAD_CALL)
        y = t.expect_tensor(y, what="the output")
        if not y.requires_grad:
            t.fail(
                "the output does not track gradients",
                hint="Return heads[task](trunk(x)) without torch.no_grad() or .detach().",
            )
        t.call(y.sum().backward, what="output.sum().backward()")
        for where, layer in [("the trunk", trunk.proj), ('head "cls"', heads["cls"])]:
            if layer.weight.grad is None:
                t.fail(
                    f"no gradient reached {where}",
                    hint="Compute heads[task](trunk(x)) with the registered modules, and do "
                    "not freeze them: no .detach(), torch.no_grad() or requires_grad_(False).",
                )

    with t.probe("an unknown task raises KeyError"):
        _expect_key_error(t, model, _near(x, trunk))

    with t.probe("heads given as an nn.ModuleDict work too"):
        trunk, heads = _trunk_and_heads()
        model = t.build(
            MultiHead,
            trunk,
            nn.ModuleDict(heads),
            what="MultiHead(trunk, nn.ModuleDict(heads))",
            hints=_MULTI_HEAD_BUILD,
        )
        _expect_registered(t, model, trunk, heads)
        _expect_head_output(t, model, trunk, heads, torch.randn(2, 3, 4), "depth")

    with t.probe("runs on another device (the meta device: shapes only)"):
        trunk, heads = _trunk_and_heads()
        model = t.build(MultiHead, trunk, heads, what=call, hints=_MULTI_HEAD_BUILD)
        with _namespace_device(t, _META):
            t.expect_runs_on_meta(model, (6, 4), (6, 1), "MultiHead(trunk, heads)", "depth")

    with t.probe("works on the course's device, get_device()"):
        trunk, heads = _trunk_and_heads()
        model = t.build(MultiHead, trunk, heads, what=call, hints=_MULTI_HEAD_BUILD)
        device = get_device()
        t.move(model, device, what="model.to(device)")
        with _namespace_device(t, device):
            _expect_head_output(t, model, trunk, heads, torch.randn(6, 4).to(device), "cls")


def _state(trunk: nn.Module, heads: dict[str, nn.Module]) -> dict[str, Any]:
    """What the caller built, by qualified name: every tensor of the trunk and heads (a
    copy) and every module's class and training flag."""
    state: dict[str, Any] = {}
    for prefix, module in [("trunk", trunk), *((f"heads.{k}", v) for k, v in heads.items())]:
        for name, value in module.state_dict().items():
            state[f"{prefix}.{name}"] = value.detach().clone()
        for name, sub in module.named_modules():
            state[f"{prefix}.{name}".rstrip(".") + " (module)"] = (type(sub), sub.training)
    return state


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        same_kind = isinstance(b, torch.Tensor) and (a.shape, a.device) == (b.shape, b.device)
        return same_kind and bool((a == b).all())
    return a == b


def _expect_registered(
    t: Checker, model: nn.Module, trunk: nn.Module, heads: dict[str, nn.Module]
) -> None:
    modules = _modules(t, model)
    if not _contains(modules, trunk):
        t.fail(
            "the trunk is not a registered submodule",
            expected="trunk among model.modules()",
            hint="Assign it in __init__: self.trunk = trunk, the module you were given (not a "
            "copy: the caller's trunk must be the one that is trained and moved).",
        )
    missing = [name for name, head in heads.items() if not _contains(modules, head)]
    if missing:
        hidden = _plain_container(model, nn.Module)
        copies = len([m for m in modules if isinstance(m, nn.Linear)]) > 1
        if hidden:
            hint = (
                f"{hidden} is a plain Python container, which nn.Module does not look "
                "into, so the heads are not registered: use nn.ModuleDict(heads)."
            )
        elif copies:
            hint = "Keep the head modules you were given (no copies): nn.ModuleDict(heads)."
        else:
            hint = "Register the heads in __init__: self.heads = nn.ModuleDict(heads)."
        t.fail(
            "the heads are not registered submodules",
            expected=f"heads {', '.join(repr(n) for n in heads)} among model.modules()",
            got=f"{', '.join(repr(n) for n in missing)} missing",
            hint=hint,
        )


def _expect_head_output(
    t: Checker,
    model: nn.Module,
    trunk: CallCounter,
    heads: dict[str, nn.Module],
    x: torch.Tensor,
    name: str,
) -> None:
    # The reference runs on the CPU, on copies: the learner's __init__ may have moved the
    # trunk and heads it was given (``trunk.to(device)`` moves in place), and the model is
    # called where its trunk lives.
    target = _near(x, trunk).device
    ref_trunk = copy.deepcopy(trunk).cpu()
    ref_heads = {other: copy.deepcopy(head).cpu() for other, head in heads.items()}
    x_cpu = x.cpu()
    with torch.no_grad():
        features = ref_trunk(x_cpu)
        expected = ref_heads[name](features).to(target)
        diagnoses = [
            (ref_heads[name](x_cpu), "The trunk is skipped: return heads[task](trunk(x))."),
            (
                ref_heads[name](ref_trunk(features)),
                "The trunk is applied twice: run it once, then the head.",
            ),
            (features, "The head is missing: apply heads[task] to the trunk's output."),
        ]
        diagnoses += [
            (
                head(features),
                f'Got the output of head "{other}" for task "{name}": select the head by '
                "its name, heads[task].",
            )
            for other, head in ref_heads.items()
            if other != name
        ]
    diagnoses = [(wrong.to(target), hint) for wrong, hint in diagnoses]
    trunk.calls = 0
    y = t.call(model, _near(x, trunk), name, what=f'model(x, "{name}")', hints=_MULTI_HEAD_CALL)
    if isinstance(y, (dict, nn.ModuleDict)) or (isinstance(y, (list, tuple)) and len(y) != 1):
        t.fail(
            f'model(x, "{name}") returned a {type(y).__name__}, not a tensor',
            expected=f'the tensor heads["{name}"](trunk(x))',
            got=describe(y),
            hint="forward returns the requested head's output itself, "
            "self.heads[task](features): not a dict or list of outputs keyed by task.",
        )
    t.expect_close(
        y,
        expected,
        what=f'model(x, "{name}") for x of shape {shape_str(x.shape)}',
        hint="Return self.heads[task](self.trunk(x)).",
        diagnoses=diagnoses,
        rtol=1e-4,
        atol=1e-5,
    )


def _expect_key_error(t: Checker, model: nn.Module, x: torch.Tensor) -> None:
    def attempt() -> tuple[str, Any]:
        try:
            return "returned", model(x, "unknown")
        except KeyError as exc:
            return "KeyError", exc
        except NotImplementedError:
            raise
        except Exception as exc:
            return "raised", exc

    outcome, value = t.call(attempt, what='model(x, "unknown")')
    if outcome == "KeyError":
        return
    if outcome == "raised":
        t.fail(
            f'model(x, "unknown") raised {type(value).__name__}, not KeyError',
            expected="KeyError",
            got=f"{type(value).__name__}: {value}",
            hint="Look the head up by indexing, self.heads[task]: an nn.ModuleDict (like a "
            "dict) raises KeyError for a name it does not hold.",
        )
    t.fail(
        'model(x, "unknown") returned instead of raising KeyError',
        expected="KeyError",
        got=describe(value),
        hint="An unknown task must raise KeyError, not return None or a default: index "
        "self.heads[task] (no .get(), no fallback).",
    )


# -- 02.named_sequential -----------------------------------------------------------------------

_NAMES = ["fc1", "act", "fc2"]

_SEQUENTIAL_REFINE = (
    (
        "TypeError: dict is not a Module subclass",
        "nn.Sequential does not take a plain dict: pass an OrderedDict, "
        "nn.Sequential(OrderedDict([('fc1', ...), ('act', ...), ('fc2', ...)])).",
    ),
    (
        "TypeError: list is not a Module subclass",
        "nn.Sequential does not take a list of (name, layer) pairs: wrap the list in an "
        "OrderedDict, nn.Sequential(OrderedDict([('fc1', ...), ('act', ...), ('fc2', ...)])).",
    ),
    (
        "Sequential.__init__() got an unexpected keyword argument",
        "nn.Sequential takes no keyword arguments: pass the named layers in one "
        "OrderedDict, nn.Sequential(OrderedDict(fc1=..., act=..., fc2=...)).",
    ),
    (
        "is not a Module subclass",
        "Every entry must be a module instance: nn.ReLU() (with parentheses), not nn.ReLU "
        "or F.relu.",
    ),
)


@task(
    "02.named_sequential",
    title="A Sequential with named layers",
    names=["build_classifier"],
    notebook=NOTEBOOK,
)
def check_named_sequential(t: Checker) -> None:
    with _namespace_device(t, _CPU):
        _check_named_sequential(t)


def _check_named_sequential(t: Checker) -> None:
    build_classifier = t.function("build_classifier")

    with t.probe("build_classifier(4, 8, 3) returns an nn.Sequential"):
        model = _build_sequential(t, build_classifier, 4, 8, 3)

    with t.probe("its children are named fc1, act, fc2, in that order"):
        _expect_children_names(t, model)

    with t.probe("fc1 is Linear(4→8), act is ReLU, fc2 is Linear(8→3), both with a bias"):
        _expect_layers(t, model, 4, 8, 3)

    with t.probe("model.fc1 is model[0], model.act is model[1], model.fc2 is model[2]"):
        for index, name in enumerate(_NAMES):
            by_name = t.call(getattr, model, name, what=f"model.{name}")
            by_index = t.call(model.__getitem__, index, what=f"model[{index}]")
            if by_name is not by_index:
                t.fail(
                    f"model.{name} is not model[{index}]",
                    hint="Build the nn.Sequential from one OrderedDict of the three layers "
                    "(do not add extra attributes afterwards).",
                )

    with t.probe("build_classifier(10, 16, 5): the sizes follow the arguments"):
        model = _build_sequential(t, build_classifier, 10, 16, 5)
        _expect_children_names(t, model)
        _expect_layers(t, model, 10, 16, 5)

    with t.probe("model(x) computes fc2(relu(fc1(x)))"):
        _expect_classifier_forward(t, model, (7, 10))

    with t.probe("works on the course's device, get_device()"):
        model = _build_sequential(t, build_classifier, 4, 8, 3)
        _expect_children_names(t, model)
        _expect_layers(t, model, 4, 8, 3)
        with _namespace_device(t, get_device()):
            _expect_classifier_forward(t, model, (2, 3, 4), device=get_device())


def _build_sequential(t: Checker, build: Callable[..., Any], *sizes: int) -> nn.Sequential:
    call = f"build_classifier({', '.join(map(str, sizes))})"
    model = t.build(build, *sizes, what=call, hints=_SEQUENTIAL_REFINE)
    if not isinstance(model, nn.Sequential):
        if isinstance(model, (nn.ModuleDict, nn.ModuleList)):
            hint = (
                f"An nn.{type(model).__name__} registers the layers but has no forward: "
                "an nn.Sequential registers them under their names and chains them, "
                "nn.Sequential(OrderedDict([...]))."
            )
        elif isinstance(model, nn.Module):
            hint = (
                "Return an nn.Sequential (not a model class of your own): "
                "nn.Sequential(OrderedDict([...]))."
            )
        else:
            hint = "Return the model: `return nn.Sequential(OrderedDict([...]))`."
        t.fail(
            f"{call} did not return an nn.Sequential",
            expected="an nn.Sequential",
            got=describe(model),
            hint=hint,
        )
    return model


def _expect_children_names(t: Checker, model: nn.Sequential) -> None:
    names = [name for name, _ in t.call(lambda: list(model.named_children()), what="children")]
    if names == _NAMES:
        return
    if names == [str(i) for i in range(len(names))]:
        hint = (
            "Positional arguments give the names 0, 1, 2: pass one OrderedDict instead, "
            "nn.Sequential(OrderedDict([('fc1', ...), ('act', ...), ('fc2', ...)]))."
        )
    elif sorted(names) == sorted(_NAMES):
        hint = "Keep the order fc1, act, fc2: nn.Sequential runs its children in that order."
    elif names[: len(_NAMES)] == _NAMES:
        hint = (
            "Exactly three children, fc1, act and fc2, and no layer after fc2 (the "
            "classifier returns the raw scores, the logits)."
        )
    else:
        hint = "Name the children exactly fc1, act and fc2 (the keys of the OrderedDict)."
    t.fail(
        "the children have the wrong names",
        expected=", ".join(_NAMES),
        got=", ".join(names) or "no children",
        hint=hint,
    )


def _expect_layers(t: Checker, model: nn.Sequential, in_f: int, hidden: int, out_f: int) -> None:
    children = dict(t.call(lambda: list(model.named_children()), what="children"))
    layers = [
        ("fc1", (in_f, hidden), "in_features→hidden", "nn.Linear(in_features, hidden)"),
        ("fc2", (hidden, out_f), "hidden→num_classes", "nn.Linear(hidden, num_classes)"),
    ]
    for name, sizes, where, code in layers:
        layer = children[name]
        if not isinstance(layer, nn.Linear):
            t.fail(f"{name} is not an nn.Linear", got=describe(layer), hint=f"{name} is {code}.")
        _expect_not_lazy(t, [layer], name, code)
        got = (int(layer.weight.shape[1]), int(layer.weight.shape[0]))
        if got != sizes:
            t.fail(
                f"{name} has the wrong sizes",
                expected=f"Linear({sizes[0]}→{sizes[1]}), {where}",
                got=f"Linear({got[0]}→{got[1]})",
                hint=f"{name} maps {where}: {code}.",
            )
        if layer.bias is None:
            t.fail(
                f"{name} has no bias",
                expected=f"{name}.bias, a Parameter of shape ({sizes[1]},)",
                got="bias=None",
                hint=f"{name} keeps its bias: {code}, with bias=True, the default "
                "(bias=False removes it).",
            )
    act = children["act"]
    if not isinstance(act, nn.ReLU):
        other = isinstance(act, nn.Module) and type(act).__module__ == nn.ReLU.__module__
        t.fail(
            "act is not an nn.ReLU",
            got=describe(act),
            hint=f"act is nn.ReLU(), not another activation ({type(act).__name__}): the task "
            "names ReLU."
            if other
            else "act is nn.ReLU(), an instance.",
        )


def _expect_classifier_forward(
    t: Checker, model: nn.Sequential, shape: tuple[int, ...], device: torch.device | None = None
) -> None:
    fc1, fc2 = model.fc1, model.fc2
    _expect_default_dtype(
        t,
        "fc1 and fc2",
        [fc1, fc2],
        "Create the layers with the default dtype (no dtype=..., .double() or .half()): "
        "the classifier must take {dtype} inputs.",
    )
    _fill_linear(fc1)
    _fill_linear(fc2)
    x = torch.randn(shape)
    if device is not None:
        t.move(model, device, what="model.to(device)")
    expected = _linear_reference([fc1, fc2], x, torch.relu)
    # Where the model lives: the course's device, or wherever build_classifier put it.
    target = device if device is not None else fc1.weight.device
    y = t.call(model, x.to(target), what="model(x)")
    t.expect_close(
        y,
        expected.to(target),
        what=f"model(x) for x of shape {shape_str(shape)}",
        hint="The nn.Sequential should hold exactly fc1, act, fc2 and nothing else.",
        rtol=1e-4,
        atol=1e-5,
    )


# -- 02.polynomial -----------------------------------------------------------------------------


_POLY_BUILD = (
    (
        "ParameterList.extend should be called with an iterable, but got Tensor",
        "nn.ParameterList takes a list of Parameters, not one tensor: "
        "nn.ParameterList(nn.Parameter(torch.zeros(())) for _ in range(degree + 1)).",
    ),
)

_POLY_BACKWARD = (
    (
        "modified by an inplace operation",
        "An in-place update (`*=`, `+=`, `.mul_()`) changed a tensor that autograd had saved "
        "for the backward pass: write `power = power * x`, not `power *= x`.",
    ),
)


@task(
    "02.polynomial",
    title="Polynomial with a ParameterList",
    names=["Polynomial"],
    notebook=NOTEBOOK,
)
def check_polynomial(t: Checker) -> None:
    with _namespace_device(t, _CPU):
        _check_polynomial(t)


def _check_polynomial(t: Checker) -> None:
    Polynomial = t.module_class("Polynomial")
    t.expect_own_forward(Polynomial, "Polynomial")

    with t.probe("Polynomial(3) constructs"):
        model = t.build(Polynomial, 3, what="Polynomial(3)", hints=_POLY_BUILD)

    with t.probe("Polynomial(3) has 4 Parameters, each holding one number, shape ()"):
        _expect_coefficients(t, model, 3)

    with t.probe("the coefficients are kept in an nn.ParameterList"):
        _expect_parameter_list(t, model)

    with t.probe("every coefficient starts at zero"):
        nonzero = [i for i, p in enumerate(_parameters(t, model)) if bool((p != 0).any())]
        if nonzero:
            t.fail(
                "not every coefficient starts at zero",
                expected="c0 = c1 = c2 = c3 = 0",
                got=f"nonzero: {', '.join(f'c{i}' for i in nonzero)}",
                hint="Start every coefficient at zero: nn.Parameter(torch.zeros(())) for each.",
            )

    cases = [(3, (6,)), (1, (2, 3)), (5, (2, 1, 4)), (0, (7,)), (2, ())]
    for degree, shape in cases:
        with t.probe(
            f"Polynomial({degree}) on x of shape {shape_str(shape)}, "
            "coefficients in parameters() order" + (": a 0-d result" if shape == () else "")
        ):
            model = t.build(Polynomial, degree, what=f"Polynomial({degree})", hints=_POLY_BUILD)
            _expect_coefficients(t, model, degree)
            _expect_polynomial(t, model, degree, shape)

    with t.probe("gradients reach every coefficient"):
        model = t.build(Polynomial, 2, what="Polynomial(2)", hints=_POLY_BUILD)
        params = _expect_coefficients(t, model, 2)
        frozen = [f"c{i}" for i, p in enumerate(params) if not p.requires_grad]
        if frozen:
            t.fail(
                "not every coefficient requires grad",
                expected="requires_grad=True for c0, c1, c2",
                got=f"requires_grad=False for {', '.join(frozen)}",
                hint="Leave requires_grad at its default: nn.Parameter(torch.zeros(())) is "
                "trained, one created with requires_grad=False is not.",
            )
        # On the coefficients' device: the learner's __init__ may have put them there.
        x = torch.randn(8).to(params[0].device)
        y = t.expect_tensor(t.call(model, x, what="Polynomial(2)(x)"), what="the output")
        if not y.requires_grad:
            t.fail(
                "the output does not track gradients",
                hint="Compute with the Parameters themselves: no .item(), float(), .data "
                "or .detach() in forward.",
            )
        t.call(y.sum().backward, what="output.sum().backward()", hints=_POLY_BACKWARD)
        for i, p in enumerate(params):
            if p.grad is None:
                t.fail(
                    f"no gradient reached c{i}",
                    hint="Every coefficient must be used in forward, as a Parameter (no "
                    ".item(), float(), .data or .detach()).",
                )
            t.expect_close(
                p.grad.reshape(()),
                (x**i).sum().to(p.grad.dtype),  # a float64 coefficient has a float64 grad
                what=f"c{i}.grad after output.sum().backward()",
                hint=f"c{i} multiplies x**{i}, so its gradient is (x**{i}).sum().",
                rtol=1e-4,
                atol=1e-5,
            )

    with t.probe("runs on another device (the meta device: shapes only)"):
        model = t.build(Polynomial, 2, what="Polynomial(2)", hints=_POLY_BUILD)
        _expect_coefficients(t, model, 2)
        with _namespace_device(t, _META):
            t.expect_runs_on_meta(model, (3, 5), (3, 5), "Polynomial(2)")

    with t.probe("works on the course's device, get_device()"):
        model = t.build(Polynomial, 2, what="Polynomial(2)", hints=_POLY_BUILD)
        _expect_coefficients(t, model, 2)
        with _namespace_device(t, get_device()):
            _expect_polynomial(t, model, 2, (3, 5), device=get_device())


def _expect_coefficients(t: Checker, model: nn.Module, degree: int) -> list[nn.Parameter]:
    call = f"Polynomial({degree})"
    params = _parameters(t, model)
    count = degree + 1
    if not params:
        hidden = _plain_container(model, torch.Tensor)
        t.fail(
            f"{call} has no parameters",
            expected=f"{count} Parameters, c0 ... c{degree}",
            got="none" + (f"; the coefficients sit in {hidden}" if hidden else ""),
            hint="A Python list of Parameters is not registered: keep them in an nn.ParameterList."
            if hidden
            else "Create the coefficients in __init__ as Parameters in an nn.ParameterList.",
        )
    shapes = ", ".join(shape_str(p.shape) for p in params)
    if len(params) == 1 and params[0].numel() == count and count > 1:
        t.fail(
            f"{call} keeps its coefficients in one Parameter",
            expected=f"{count} Parameters of one number each",
            got=f"1 Parameter of shape {shapes}",
            hint="One Parameter per coefficient, each holding one number, in an "
            "nn.ParameterList (not one vector).",
        )
    bad = [i for i, p in enumerate(params) if p.numel() != 1]
    if bad:
        t.fail(
            f"a coefficient of {call} holds more than one number",
            expected="each Parameter of shape (), one number",
            got=f"shapes {shapes}",
            hint="Each coefficient is its own Parameter holding one number: "
            "nn.Parameter(torch.zeros(())).",
        )
    if len(params) != count:
        lists = [m for m in _modules(t, model) if isinstance(m, nn.ParameterList)]
        full = [pl for pl in lists if len(pl) == count]
        if full and len(params) < count:
            hint = (
                "`[p] * n` repeats ONE Parameter n times: create a new nn.Parameter for each "
                "coefficient (e.g. in a list comprehension)."
            )
        elif full:
            named = t.call(lambda: list(model.named_parameters()), what="named_parameters()")
            others = [name for name, p in named if not _contains(list(full[0]), p)]
            extra = (
                f"{others[0]} is one too many"
                if len(others) == 1
                else f"{', '.join(others) or 'the others'} are too many"
            )
            hint = f"The coefficients in the ParameterList are the only Parameters: {extra}."
        else:
            hint = (
                "A polynomial of degree d has d + 1 coefficients, c0 ... c_d: make degree + 1 "
                "Parameters."
            )
        t.fail(
            f"{call} has {len(params)} distinct coefficient Parameters instead of {count}",
            expected=f"{count} (c0 ... c{degree})",
            got=str(len(params)),
            hint=hint,
        )
    # "Holding one number": shape () or (1,). What a (1,)-shaped coefficient usually does
    # wrong, a (1,) result for a 0-d x, is the result probe's to catch.
    if any(p.numel() != 1 for p in params):
        t.fail(
            f"the coefficients of {call} do not hold one number each",
            expected="each Parameter holding one number, e.g. of shape ()",
            got=f"shapes {shapes}",
            hint="Each coefficient is its own Parameter holding one number: "
            "nn.Parameter(torch.zeros(())), not one vector of all the coefficients.",
        )
    if not all(p.dtype.is_floating_point for p in params):
        t.fail(
            f"the coefficients of {call} are not floating point",
            got=", ".join(str(p.dtype) for p in params),
            hint="Create them with torch.zeros(()) (float32), not an integer tensor.",
        )
    return params


def _expect_parameter_list(t: Checker, model: nn.Module) -> None:
    params = _parameters(t, model)
    lists = [m for m in _modules(t, model) if isinstance(m, nn.ParameterList)]
    if not any(all(_contains(list(pl), p) for p in params) for pl in lists):
        kinds = sorted({type(m).__name__ for m in _modules(t, model)} - {type(model).__name__})
        t.fail(
            "the coefficients are not kept in an nn.ParameterList",
            expected="one nn.ParameterList holding c0 ... c_degree",
            got=f"submodules: {', '.join(kinds) or 'none'}",
            hint="Keep them in an nn.ParameterList (self.coeffs = nn.ParameterList([...])), "
            "not as separate attributes or an nn.ParameterDict.",
        )


def _expect_polynomial(
    t: Checker,
    model: nn.Module,
    degree: int,
    shape: tuple[int, ...],
    device: torch.device | None = None,
) -> None:
    call = f"Polynomial({degree})"
    params = _parameters(t, model)
    values = torch.randn(degree + 1)
    with torch.no_grad():
        for p, value in zip(params, values, strict=True):
            p.copy_(value.reshape(p.shape))
    x = 1.2 * torch.randn(shape)
    if device is not None:
        t.move(model, device, what=f"{call}.to(device)")
    else:  # wherever the learner's __init__ put the coefficients
        device = params[0].device
    x = x.to(device)
    # 0-d coefficients of the learner's dtypes: torch's type promotion then gives the dtype
    # the learner's forward gives (x's, except that a 0-d x takes a float64 coefficient's).
    coefficients = [v.to(device, p.dtype) for v, p in zip(values, params, strict=True)]

    def poly(coefficients: Sequence[torch.Tensor], first_power: int = 0) -> torch.Tensor:
        out = torch.zeros_like(x)
        for i, c in enumerate(coefficients):
            out = out + c * x ** (i + first_power)
        return out

    expected = poly(coefficients)
    diagnoses = [
        (
            poly(coefficients[:-1]),
            f"c{degree}, the highest coefficient, is never used: the loop runs degree + 1 "
            "times, range(degree + 1), or over the whole ParameterList.",
        )
    ]
    if degree > 0:
        diagnoses += [
            (
                poly(coefficients[::-1]),
                "parameters() must yield c0 first: keep c0, c1, ..., c_degree in that order "
                "in the ParameterList (for Horner's rule, iterate reversed(...) in forward).",
            ),
            (
                poly(coefficients, first_power=1),
                "c0 is the constant term: c_i multiplies x**i, starting from x**0.",
            ),
        ]
    hint = "Return c0 + c1*x + ... + c_degree*x**degree, elementwise, with x's shape."
    if degree == 0:
        hint = (
            "Even Polynomial(0) returns a tensor of x's shape (c0 everywhere): start from "
            "torch.zeros_like(x), or multiply c0 by x**0."
        )
    if shape == ():
        hint = (
            "A 0-d x gives a 0-d result, x's shape exactly: compute elementwise on x itself, "
            "without adding a dimension to it (no atleast_1d, unsqueeze or reshape(-1) left in "
            "the result)."
        )
    y = t.call(model, x, what=f"{call}(x)")
    odd = sorted({str(p.dtype) for p in params if p.dtype != x.dtype})
    if isinstance(y, torch.Tensor) and y.dtype != expected.dtype and odd:
        t.fail(
            f"{call}(x) for x of shape {shape_str(shape)} has the wrong dtype",
            expected=f"{expected.dtype}"
            + (", the dtype of x" if expected.dtype == x.dtype else ""),
            got=f"{y.dtype}, from coefficients of dtype {', '.join(odd)}",
            hint="Create the coefficients with the default dtype, torch.zeros(()) (float32): "
            "other dtypes change the dtype of the output.",
        )
    t.expect_close(
        y,
        expected,
        what=f"{call}(x) for x of shape {shape_str(shape)}",
        hint=hint,
        diagnoses=diagnoses,
        rtol=1e-4,
        atol=1e-4,
    )
