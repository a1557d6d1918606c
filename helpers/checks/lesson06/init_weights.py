"""The check of ``06.init_weights``: ``model.apply(init_weights)`` initializes every layer in
place by its kind.

The model the check initializes holds every kind the contract names and some it does not:
an ``nn.Linear`` and a subclass of it (no bias), an ``nn.Conv2d`` and a subclass of it (no
bias), BatchNorm 1d/2d/3d (one without affine parameters), LayerNorm with and without
weight and bias, and "other" modules that must stay untouched (Conv1d, Embedding,
GroupNorm, InstanceNorm2d, which shares torch's private ``_NormBase`` with BatchNorm but is
not one, a container's own parameter). The model is built with ``torch.nn.init`` as torch
was imported (``common.init_as_imported``), whatever the notebook assigned there. Before
the call every norm weight and bias and every running statistic is set to random values, so
that an initialization that does nothing, or resets the running statistics, shows.

The weights are judged by their distribution, on layers large enough (16 384 to 32 768
values) that the statistics below are decisive whatever the seed
(``tests/test_init_statistics.py`` proves it over hundreds of seeds):

- xavier-uniform, bound ``b = sqrt(6 / (fan_in + fan_out))``: every value within
  ``b`` (+0.1 %, rounding), values within 1 % of ``b`` on both sides (``P(miss) < e^-80``),
  root mean square within 3 % of ``b / sqrt(3)`` (about 12 standard deviations), mean near
  0. Torch's default (``kaiming_uniform_(a=sqrt(5))``, bound ``1 / sqrt(fan_in)``) and
  xavier-normal (gaussian tails far beyond ``b``) fail the bound at once.
- kaiming-normal, ``mode="fan_out"``, ReLU gain: ``std = sqrt(2 / fan_out)``; root mean
  square within 6 % of it (about 11 standard deviations), mean near 0, and a gaussian
  tail: the share of values beyond 1.8 root mean squares is 7.2 % for a normal
  distribution (4.5 % to 10 % accepted) and exactly 0 for any uniform one (whose bound is
  1.73 root mean squares). The layers have ``fan_out = 2 fan_in`` and ``fan_in = 2
  fan_out``, so mode ``fan_in`` is off by a factor sqrt(2) either way, and xavier by 18 % or
  more.

When a weight fails, its root mean square and shape (uniform or gaussian) are compared with
what the usual wrong initializations give, to name the mistake. A wrong gain
(``gain=calculate_gain("relu")``, ``nonlinearity="tanh"``) is told from wrong fans by the
two layers of a kind: their fans are in opposite ratios, so a rule with the wrong fans is a
different multiple of the right rule on each, while a gain is the same multiple on both
(``shared_gain``). A normal cut off near 2 std (``trunc_normal_`` with ``a, b`` = ±2 std)
has no value beyond 3 root mean squares, where 16 384 normal values always have some.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from helpers.checks.core import Checker, describe, equal, task
from helpers.checks.lesson06.common import NOTEBOOK, ClassGuard, init_as_imported, module_classes

CALL = "model.apply(init_weights)"

# Bound at import: learner code that replaces them cannot change a verdict.
_full_like = torch.full_like

# Thresholds (see the module docstring; tests/test_init_statistics.py sweeps seeds).
BOUND_SLACK = 1e-3  # relative: a value may exceed the bound by float rounding only
BOUND_REACH = 0.99  # values reach 99 % of the bound on both sides
UNIFORM_RMS_TOL = 0.03
NORMAL_RMS_TOL = 0.06
MEAN_TOL = 0.08  # |mean| < MEAN_TOL * expected rms
TAIL_AT = 1.8  # in root mean squares: beyond a uniform distribution's bound (sqrt(3))
NORMAL_TAIL = (0.045, 0.10)  # 2 * (1 - Phi(1.8)) = 0.0719
UNIFORM_TAIL_MAX = 0.005  # a uniform distribution has none
DIAGNOSIS_TOL = 0.05  # a wrong initialization is named when the rms is within 5 % of its own
# Of 16 384 or more normal values some lie beyond 3 std (P(none) < e^-44).
TRUNCATED_AT = 3.0
GAIN_AGREEMENT = 0.10  # a gain: one multiple of the rule on both layers (fans: 41 % apart)
GAIN_NAMED = 0.03  # a gain is named when within 3 % (the named gains are 15 % apart or more)


class _Linear(nn.Linear):
    """A subclass of nn.Linear, as a learner's or a library's layer would be."""


class _Conv2d(nn.Conv2d):
    """A subclass of nn.Conv2d."""


class _Features(nn.Module):
    """Convolutions (fan_out = 2 fan_in, then fan_in = 2 fan_out) among norms and others."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(32, 64, 3)
        self.bn = nn.BatchNorm2d(64)
        self.squeeze = _Conv2d(64, 32, 3, bias=False)
        self.gn = nn.GroupNorm(4, 32)
        self.inorm = nn.InstanceNorm2d(32, affine=True)  # a _NormBase, not a _BatchNorm
        self.temporal = nn.Conv1d(8, 16, 3)
        self.bn1d = nn.BatchNorm1d(16)
        self.volume = nn.BatchNorm3d(4)
        self.gate = nn.Parameter(torch.randn(32))  # a container's own parameter


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.randn(8))  # the root's own parameter
        self.features = _Features()
        self.embed = nn.Embedding(20, 8)
        self.fc = nn.Linear(256, 128)
        self.norm = nn.LayerNorm(128)
        self.head = nn.Sequential(
            _Linear(128, 256, bias=False), nn.LayerNorm(256, bias=False), nn.ReLU()
        )
        self.plain = nn.ModuleList(
            [nn.BatchNorm1d(8, affine=False), nn.LayerNorm(8, elementwise_affine=False)]
        )


# Qualified names of the check's model, by role.
LINEARS = ("fc", "head.0")
CONVS = ("features.conv", "features.squeeze")
NORMS = ("features.bn", "features.bn1d", "features.volume", "norm", "head.1", "plain.0", "plain.1")
BATCHNORMS = ("features.bn", "features.bn1d", "features.volume", "plain.0")
OTHERS = ("", "features", "features.gn", "features.inorm", "features.temporal", "embed")

_KIND = {
    "fc": "nn.Linear",
    "head.0": "a subclass of nn.Linear",
    "features.conv": "nn.Conv2d",
    "features.squeeze": "a subclass of nn.Conv2d",
}


def build_model() -> nn.Module:
    """The check's model, with every norm parameter and running statistic made random (so
    that 'ones', 'zeros' and 'left as they are' all show)."""
    with init_as_imported():
        model = _Net()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)):
                for name in ("weight", "bias"):
                    value = getattr(module, name, None)
                    if value is not None:
                        value.normal_()
            tracked = isinstance(module, nn.modules.batchnorm._BatchNorm)
            if tracked and module.running_mean is not None:
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 2.0)
                module.num_batches_tracked.fill_(7)
    return model


def fans(weight: torch.Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a Linear or Conv weight, as torch.nn.init computes them."""
    receptive = math.prod(weight.shape[2:])
    return weight.shape[1] * receptive, weight.shape[0] * receptive


@dataclass(frozen=True)
class Stats:
    """What the check measures of a weight."""

    rms: float  # root mean square
    mean: float
    largest: float  # max |value|
    top: float  # max value
    bottom: float  # min value
    tail: float  # share of values beyond TAIL_AT root mean squares

    @property
    def shape(self) -> str:
        if self.tail > NORMAL_TAIL[0]:
            return "gaussian"
        if self.tail < UNIFORM_TAIL_MAX:
            return "uniform"
        return "neither uniform nor gaussian"


def measure(weight: torch.Tensor) -> Stats:
    w = weight.detach().double().reshape(-1)
    rms = float(w.square().mean().sqrt())
    return Stats(
        rms=rms,
        mean=float(w.mean()),
        largest=float(w.abs().max()),
        top=float(w.max()),
        bottom=float(w.min()),
        tail=float((w.abs() > TAIL_AT * rms).double().mean()) if rms > 0 else 0.0,
    )


# A problem: (headline, facts, hint); None when the weight is right.
Problem = tuple[str, list[str], str]

DEFAULT_INIT = (
    "These are torch's default values (kaiming_uniform_ with a=sqrt(5), bound "
    "1/sqrt(fan_in)), which module.reset_parameters() draws again: initialize the weight "
    "yourself instead, {fix}."
)


def _near(value: float, target: float) -> bool:
    return target > 0 and abs(value / target - 1) < DIAGNOSIS_TOL


def xavier_uniform_problem(weight: torch.Tensor, gain: float | None = None) -> Problem | None:
    """Whether ``weight`` looks drawn by ``nn.init.xavier_uniform_`` (gain 1).

    ``gain``: the ratio of the root mean square to xavier's that every nn.Linear of the
    model shares, when they share one (see ``shared_gain``): then the rule is right but for
    a gain, whatever the layers' fans."""
    fan_in, fan_out = fans(weight)
    bound = math.sqrt(6 / (fan_in + fan_out))
    want = bound / math.sqrt(3)
    s = measure(weight)
    ok = (
        s.largest <= bound * (1 + BOUND_SLACK)
        and s.top >= BOUND_REACH * bound
        and s.bottom <= -BOUND_REACH * bound
        and abs(s.rms / want - 1) < UNIFORM_RMS_TOL
        and abs(s.mean) < MEAN_TOL * want
    )
    if ok:
        return None
    facts = [
        f"Values from {s.bottom:.4f} to {s.top:.4f}, root mean square {s.rms:.4f}, {s.shape}.",
        f"xavier-uniform (fan_in={fan_in}, fan_out={fan_out}) draws uniformly from "
        f"±{bound:.4f}, root mean square {want:.4f}.",
    ]
    fix = "nn.init.xavier_uniform_(module.weight)"
    if s.shape == "uniform" and gain is not None and abs(gain - 1) > UNIFORM_RMS_TOL:
        facts.append(f"Every nn.Linear's root mean square is {gain:.3f} times xavier's.")
        hint = (
            "The values are uniform with one multiple of xavier's spread on every "
            f"nn.Linear, whatever its fans: a gain{_named_gain(gain)}. The task asks for "
            f"{fix} with its default gain=1 (no calculate_gain)."
        )
    elif s.shape == "uniform" and _near(s.rms, 1 / math.sqrt(3 * fan_in)):
        hint = DEFAULT_INIT.format(fix=fix)
    elif s.shape == "gaussian" and _near(s.rms, want):
        hint = (
            "The values are gaussian with xavier's spread: that is xavier_normal_. The "
            f"task asks for the uniform one, {fix}, whose values never exceed the bound."
        )
    elif _near(s.rms, math.sqrt(2 / fan_in)) or _near(s.rms, math.sqrt(2 / fan_out)):
        hint = (
            "The spread is kaiming's (sqrt(2 / fan)), the rule the task gives nn.Conv2d: "
            f"an nn.Linear gets {fix}."
        )
    elif s.shape == "uniform" and abs(s.mean) < MEAN_TOL * s.rms:
        hint = (
            f"The values are uniform with the wrong bound: use {fix} with its default "
            "gain=1, or uniform_(-b, b) with b = sqrt(6 / (fan_in + fan_out)), where "
            "fan_in = in_features and fan_out = out_features."
        )
    else:
        hint = f"Initialize the weight with {fix}."
    return "not xavier-uniform", facts, hint


def kaiming_normal_problem(weight: torch.Tensor, gain: float | None = None) -> Problem | None:
    """Whether ``weight`` looks drawn by ``nn.init.kaiming_normal_(mode="fan_out",
    nonlinearity="relu")``.

    ``gain``: the ratio of the root mean square to the rule's that every nn.Conv2d of the
    model shares, when they share one (see ``shared_gain``)."""
    fan_in, fan_out = fans(weight)
    want = math.sqrt(2 / fan_out)
    s = measure(weight)
    ok = (
        abs(s.rms / want - 1) < NORMAL_RMS_TOL
        and abs(s.mean) < MEAN_TOL * want
        and NORMAL_TAIL[0] < s.tail < NORMAL_TAIL[1]
    )
    if ok:
        return None
    facts = [
        f"Root mean square {s.rms:.4f}, {s.shape} ({100 * s.tail:.1f} % of the values "
        f"beyond {TAIL_AT} root mean squares).",
        f"kaiming-normal with mode='fan_out' (fan_out={fan_out}, fan_in={fan_in}) and the "
        f"ReLU gain sqrt(2) is gaussian with std sqrt(2 / fan_out) = {want:.4f} "
        "(7.2 % beyond 1.8 std).",
    ]
    fix = 'nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")'
    if s.shape == "gaussian" and s.largest < TRUNCATED_AT * s.rms:
        facts.append(f"No value lies beyond {s.largest / s.rms:.2f} root mean squares.")
        hint = (
            f"No value goes beyond {TRUNCATED_AT:g} root mean squares: a normal distribution "
            "cut off (trunc_normal_ with a and b about 2 std), which also shrinks the "
            f"spread. Draw the full normal: {fix}."
        )
    elif s.shape == "gaussian" and gain is not None and abs(gain - 1) > NORMAL_RMS_TOL:
        used = gain * math.sqrt(2)
        facts.append(
            f"Every nn.Conv2d's root mean square is {gain:.3f} times the rule's: a gain of "
            f"{used:.3f}."
        )
        hint = (
            "The values are gaussian with one multiple of the rule's spread on every "
            f"nn.Conv2d, whatever its fans: the gain{_named_gain(used)} is not the ReLU "
            f'gain sqrt(2). Pass nonlinearity="relu": {fix}.'
        )
    elif s.shape == "gaussian" and _near(s.rms, math.sqrt(2 / fan_in)):
        hint = (
            "The spread is sqrt(2 / fan_in): kaiming_normal_'s default mode is 'fan_in'. "
            f'Pass mode="fan_out": {fix}.'
        )
    elif s.shape == "uniform" and _near(s.rms, want):
        hint = (
            "The spread is right but the values are uniform: that is kaiming_uniform_. "
            f"The task asks for the normal one, {fix}."
        )
    elif s.shape == "uniform" and _near(s.rms, 1 / math.sqrt(3 * fan_in)):
        hint = DEFAULT_INIT.format(fix=fix)
    elif _near(s.rms, math.sqrt(2 / (fan_in + fan_out))):
        hint = (
            f"The spread is xavier's, sqrt(2 / (fan_in + fan_out)), the rule the task "
            f"gives nn.Linear: an nn.Conv2d gets {fix}."
        )
    elif s.shape == "gaussian":
        hint = (
            "The values are gaussian with the wrong spread: "
            f'{fix} (nonlinearity="relu" gives the gain sqrt(2); std = sqrt(2 / fan_out)).'
        )
    else:
        hint = f"Initialize the weight with {fix}."
    return "not kaiming-normal (fan_out, relu)", facts, hint


# Gains of torch.nn.init.calculate_gain, to name the one used.
_GAINS = (
    ("calculate_gain('relu')", math.sqrt(2)),
    ("calculate_gain('tanh')", 5 / 3),
    ("calculate_gain('selu')", 3 / 4),
    ("calculate_gain('leaky_relu', sqrt(5)), kaiming_*'s a=sqrt(5)", math.sqrt(2 / 6)),
    ("1: calculate_gain('linear') or 'sigmoid'", 1.0),
)


def _named_gain(gain: float) -> str:
    for name, value in _GAINS:
        if abs(gain / value - 1) < GAIN_NAMED:
            return f" ({name})"
    return ""


def shared_gain(weights: list[torch.Tensor], spread: Callable[[int, int], float]) -> float | None:
    """The ratio of each weight's root mean square to ``spread(fan_in, fan_out)``, when every
    weight has the same one (within ``GAIN_AGREEMENT``); else None. The check's layers of a
    kind have fans in opposite ratios, so a rule with the wrong fans gives ratios far apart,
    while the right rule with another gain gives one ratio."""
    ratios = [measure(w).rms / spread(*fans(w)) for w in weights]
    if not ratios or min(ratios) <= 0 or max(ratios) / min(ratios) - 1 > GAIN_AGREEMENT:
        return None
    return sum(ratios) / len(ratios)


def xavier_spread(fan_in: int, fan_out: int) -> float:
    return math.sqrt(2 / (fan_in + fan_out))


def kaiming_spread(fan_in: int, fan_out: int) -> float:
    return math.sqrt(2 / fan_out)


# -- the check ---------------------------------------------------------------------------------

# What torch and Python raise for the usual slips, and what to do about each.
_CALL_HINTS = (
    (
        "'NoneType' object has no attribute",
        "A layer built with bias=False has `bias` None, and a norm built with affine=False "
        "(or elementwise_affine=False, bias=False) has `weight` or `bias` None: initialize "
        "each only `if module.bias is not None:` (and likewise for the weight).",
    ),
    (
        "a leaf Variable that requires grad is being used in an in-place operation",
        "Writing into a parameter (copy_, fill_, uniform_, ...) needs `with torch.no_grad():`"
        " around it; torch.nn.init's functions do that for you.",
    ),
    (
        "Fan in and fan out can not be computed",
        "xavier and kaiming compute fans from a weight of 2 or more dimensions: give them "
        "`module.weight` only; biases get zeros_ and norm weights ones_, not every "
        "parameter the same rule.",
    ),
    (
        "cannot assign",
        "Initialize the existing Parameter in place (nn.init.*_(module.weight), or copy_ "
        "under torch.no_grad()) instead of assigning a new tensor to it.",
    ),
)


def _state(model: nn.Module) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Every parameter and buffer by qualified name: (the object, a copy of its values)."""
    return {
        name: (tensor, tensor.detach().clone())
        for name, tensor in (
            *model.named_parameters(remove_duplicate=False),
            *model.named_buffers(remove_duplicate=False),
        )
    }


@task(
    "06.init_weights",
    title="Initialize weights with apply",
    names=["init_weights"],
    notebook=NOTEBOOK,
)
def check_init_weights(t: Checker) -> None:
    init_weights = t.function("init_weights")

    with t.probe(
        f"{CALL} runs on a model with Linear, Conv2d, BatchNorm1d/2d/3d, LayerNorm and other "
        "layers (some without bias or affine parameters)"
    ):
        model = build_model()
        modules = dict(model.named_modules())
        before = _state(model)
        params_before = dict(model.named_parameters())
        with ClassGuard(t, module_classes(model), what=CALL):
            t.call(model.apply, init_weights, what=CALL, hints=_CALL_HINTS)

    with t.probe("in place: every Parameter is the same object as before, and a leaf"):
        params_after = dict(model.named_parameters())
        for name, old in params_before.items():
            new = params_after.get(name)
            if new is not old:
                t.fail(
                    f"`{name}` is a new object after {CALL}",
                    expected="the same Parameter object, its values changed in place",
                    got=describe(new) if new is not None else "no such parameter any more",
                    hint="An optimizer built before apply holds the old Parameter objects, "
                    "so a new `module.weight = nn.Parameter(...)` is never trained: change "
                    "the values in place, with nn.init.*_(module.weight) (the trailing _ "
                    "means in place) or `with torch.no_grad(): module.weight.copy_(...)`.",
                )
            if not new.is_leaf:
                t.fail(
                    f"`{name}` is no longer a leaf tensor",
                    got=f"grad_fn={type(new.grad_fn).__name__}",
                    hint="Write into parameters under `with torch.no_grad():` (nn.init's "
                    "functions do), so no graph is recorded.",
                )

    with t.probe("every nn.Linear weight is xavier-uniform, subclasses included"):
        gain = shared_gain([before[f"{n}.weight"][0] for n in LINEARS], xavier_spread)
        for name in LINEARS:
            _expect_initialized(
                t,
                modules,
                before,
                name,
                functools.partial(xavier_uniform_problem, gain=gain),
                "nn.Linear",
            )

    with t.probe("every nn.Linear bias is zero (the one without bias is fine)"):
        _expect_filled(t, before, "fc.bias", 0.0, "nn.init.zeros_(module.bias)")

    with t.probe(
        'every nn.Conv2d weight is kaiming-normal with mode="fan_out", nonlinearity="relu", '
        "subclasses included"
    ):
        gain = shared_gain([before[f"{n}.weight"][0] for n in CONVS], kaiming_spread)
        for name in CONVS:
            _expect_initialized(
                t,
                modules,
                before,
                name,
                functools.partial(kaiming_normal_problem, gain=gain),
                "nn.Conv2d",
            )

    with t.probe("every nn.Conv2d bias is zero (the one without bias is fine)"):
        _expect_filled(t, before, "features.conv.bias", 0.0, "nn.init.zeros_(module.bias)")

    with t.probe("BatchNorm1d/2d/3d and LayerNorm: weight ones and bias zeros where they exist"):
        for name in NORMS:
            for kind, value, fix in (
                ("weight", 1.0, "nn.init.ones_(module.weight)"),
                ("bias", 0.0, "nn.init.zeros_(module.bias)"),
            ):
                if f"{name}.{kind}" in before:
                    _expect_filled(t, before, f"{name}.{kind}", value, fix)

    with t.probe("BatchNorm's running statistics are left as they are"):
        for name in BATCHNORMS:
            for kind in ("running_mean", "running_var", "num_batches_tracked"):
                _expect_unchanged_stat(t, model, before, f"{name}.{kind}")

    with t.probe(
        "other modules are untouched (Conv1d, Embedding, GroupNorm, InstanceNorm2d, the "
        "containers' own parameters)"
    ):
        after = _state(model)
        for name, (_, old) in before.items():
            owner = name.rpartition(".")[0]
            now = after.get(name)
            if owner in OTHERS and (now is None or not equal(now[1], old)):
                t.fail(
                    f"{CALL} changed `{name}`",
                    expected=f"`{owner or '(the model)'}` "
                    f"({type(modules[owner]).__name__}) left as it was",
                    got="changed values",
                    hint=_OTHER_HINTS.get(owner, _OTHER_HINTS[""]),
                )


_OTHER_HINTS = {
    "": "Only nn.Linear, nn.Conv2d, BatchNorm and LayerNorm are initialized: a "
    "container's own parameters (here the model's `scale`) stay as they are; initialize "
    "each layer's parameters in its own branch, not every parameter of the modules apply "
    "gives you.",
    "features.gn": "GroupNorm is not among the norms the task names (BatchNorm1d/2d/3d and "
    "LayerNorm): test those with isinstance, not every class with Norm in its name, and "
    "leave GroupNorm alone.",
    "features.inorm": "InstanceNorm2d is not a BatchNorm: it shares only torch's private "
    "base class _NormBase with them. Test nn.modules.batchnorm._BatchNorm, or the three "
    "classes (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d), and leave InstanceNorm alone.",
    "features.temporal": "Only nn.Conv2d gets kaiming-normal: test isinstance(module, "
    "nn.Conv2d), not every convolution (a Conv1d or the private _ConvNd) and not every "
    "module whose weight has 3 or more dimensions.",
    "embed": "Only nn.Linear gets xavier-uniform: test isinstance(module, nn.Linear), not "
    "every module that has a `weight` (an Embedding has a 2-D one too).",
}
_OTHER_HINTS["features"] = _OTHER_HINTS[""]


def _expect_initialized(
    t: Checker,
    modules: dict[str, nn.Module],
    before: dict[str, tuple[torch.Tensor, torch.Tensor]],
    name: str,
    problem_of: Callable[[torch.Tensor], Problem | None],
    base: str,
) -> None:
    weight, old = before[f"{name}.weight"]
    if equal(weight.detach(), old):
        subclass = type(modules[name]) not in (nn.Linear, nn.Conv2d)
        t.fail(
            f"`{name}.weight` ({_KIND[name]}) was left as it was",
            expected="new values",
            got="the values torch's constructor drew",
            hint=f"`{name}` is an instance of a subclass of {base}: test "
            f"`isinstance(module, {base})`, which subclasses pass, not `type(module) == "
            f"{base}` or `type(module) in (...)`."
            if subclass
            else f"Give {base} its own branch: `if isinstance(module, {base}):`, and "
            "initialize module.weight there in place.",
        )
    problem = problem_of(weight)
    if problem is not None:
        headline, facts, hint = problem
        t.fail(f"`{name}.weight` ({_KIND[name]}) is {headline}", facts=facts, hint=hint)


def _expect_filled(
    t: Checker,
    before: dict[str, tuple[torch.Tensor, torch.Tensor]],
    name: str,
    value: float,
    fix: str,
) -> None:
    tensor, old = before[name]
    got = tensor.detach()
    if equal(got, _full_like(got, value)):
        return
    what = "ones" if value else "zeros"
    t.fail(
        f"`{name}` is not all {what}",
        expected=f"{what} ({tuple(got.shape)})",
        got="left as it was" if equal(got, old) else _few(got),
        hint=f"Set it with {fix}."
        if not equal(got, old)
        else f"{fix} for every {_owner_kind(name)}.",
    )


def _owner_kind(name: str) -> str:
    owner = name.rpartition(".")[0]
    return {
        "fc": "nn.Linear with a bias",
        "features.conv": "nn.Conv2d with a bias",
        "features.bn": "BatchNorm2d",
        "features.bn1d": "BatchNorm1d",
        "features.volume": "BatchNorm3d (BatchNorm1d, 2d and 3d all count)",
        "norm": "LayerNorm",
        "head.1": "LayerNorm (bias=False leaves it a weight: set that one)",
    }.get(owner, owner)


def _few(tensor: torch.Tensor) -> str:
    values = ", ".join(f"{v:.3g}" for v in tensor.reshape(-1)[:4].tolist())
    return f"[{values}, ...]"


def _expect_unchanged_stat(
    t: Checker,
    model: nn.Module,
    before: dict[str, tuple[torch.Tensor, torch.Tensor]],
    name: str,
) -> None:
    old = before[name][1]
    now: Any = dict(model.named_buffers()).get(name)
    if isinstance(now, torch.Tensor) and equal(now.detach(), old):
        return
    reset = (
        isinstance(now, torch.Tensor)
        and now.numel() > 0
        and (
            (name.endswith("running_mean") and equal(now, _full_like(now, 0.0)))
            or (name.endswith("running_var") and equal(now, _full_like(now, 1.0)))
            or (name.endswith("num_batches_tracked") and int(now) == 0)
        )
    )
    t.fail(
        f"{CALL} changed `{name}`",
        expected=f"the running statistic as it was ({_few(old)})",
        got=_few(now) if isinstance(now, torch.Tensor) else describe(now),
        hint="reset_parameters() of a BatchNorm also resets its running statistics "
        "(reset_running_stats): set only the affine parameters, nn.init.ones_(module.weight) "
        "and nn.init.zeros_(module.bias)."
        if reset
        else "Leave BatchNorm's buffers (running_mean, running_var, num_batches_tracked) "
        "alone: only its weight and bias are initialized.",
    )
