"""Checks for lesson 01 · nn.Module: ``01.affine``, ``01.residual``, ``01.gaussian_noise``."""

from __future__ import annotations

import numbers

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from helpers.checks.core import (
    SKIPPED_ON_META,
    CallCounter,
    Checker,
    call_on_meta,
    describe,
    equal,
    plain_tensor_attributes,
    shape_str,
    task,
    watch_modules,
)
from helpers.device import get_device

NOTEBOOK = "01_module"

# Exceptions Affine's forward or extra_repr raise for common slips, and what to do.
_AFFINE_HINTS = (
    (
        "Boolean value of Tensor with more than one value is ambiguous",
        "`if self.bias:` (or bool(self.bias)) asks a tensor of several values for one "
        "truth value: test `self.bias is not None`.",
    ),
    (
        "mat1 must be a matrix",
        "torch.addmm only takes 2-D tensors: use `@` (torch.matmul) or F.linear, which "
        "accept any number of leading dimensions.",
    ),
)


# -- 01.affine ------------------------------------------------------------------------------


@task("01.affine", title="Affine layer", names=["Affine"], notebook=NOTEBOOK)
def check_affine(t: Checker) -> None:
    Affine = t.module_class("Affine")
    t.expect_own_forward(Affine, "Affine")

    with t.probe("`Affine` is written on nn.Module, not on nn.Linear"):
        if Affine is nn.Linear:
            t.fail(
                "`Affine` is nn.Linear itself",
                expected="a class of your own, `class Affine(nn.Module):`",
                got="Affine = nn.Linear",
                hint="`Affine = nn.Linear` renames torch's layer instead of writing one: "
                "define `class Affine(nn.Module):` with its own weight and bias Parameters.",
            )
        if issubclass(Affine, nn.Linear):
            chain = " -> ".join(
                k.__name__ for k in Affine.__mro__[: Affine.__mro__.index(nn.Linear) + 1]
            )
            t.fail(
                "`Affine` inherits from nn.Linear",
                expected="`class Affine(nn.Module):`",
                got=f"class chain {chain}",
                hint="Inheriting from nn.Linear reuses its parameters and forward: subclass "
                "nn.Module and create weight and bias yourself.",
            )

    with t.probe("Affine(3, 2) constructs, its parameters on the CPU"):
        layer = t.build(Affine, 3, 2, what="Affine(3, 2)")

    with t.probe("Affine(3, 2) holds no nn.Linear inside it"):
        inner = [
            (name, module)
            for name, module in t.call(lambda: list(layer.named_modules()), what="named_modules()")
            if isinstance(module, nn.Linear)
        ]
        if inner:
            name, module = inner[0]
            t.fail(
                "Affine(3, 2) delegates to an nn.Linear inside it",
                expected="weight and bias Parameters of Affine itself, no nn.Linear submodule",
                got=f"submodule `{name}`: {type(module).__name__}",
                hint="An nn.Linear submodule does the work for you: register weight and bias "
                "on Affine itself and compute x @ self.weight.T + self.bias in forward "
                "(F.linear, a function, is fine).",
            )

    with t.probe("parameters are exactly `weight` (2, 3) and `bias` (2,)"):
        _expect_affine_parameters(t, layer, 3, 2, bias=True)

    with t.probe("Affine(4, 5, bias=False) has only `weight` and self.bias is None"):
        no_bias = t.build(Affine, 4, 5, bias=False, what="Affine(4, 5, bias=False)")
        _expect_affine_parameters(t, no_bias, 4, 5, bias=False)

    for in_features, out_features, batch_shape in [(3, 2, (5,)), (4, 4, (2, 3)), (6, 1, ())]:
        for bias in (True, False):
            shape = (*batch_shape, in_features)
            with t.probe(
                f"Affine({in_features}, {out_features}, bias={bias}) on x of shape "
                f"{shape_str(shape)}"
            ):
                _expect_affine_forward(t, Affine, in_features, out_features, shape, bias)

    with t.probe("gradients reach weight and bias"):
        layer = t.build(Affine, 3, 2, what="Affine(3, 2)")
        weight, bias = _fill(layer, 3, 2, bias=True)
        for name, param in [("weight", weight), ("bias", bias)]:
            if not param.requires_grad:
                t.fail(
                    f"`{name}` does not require gradients",
                    expected="requires_grad=True",
                    got="requires_grad=False",
                    hint="An nn.Parameter requires gradients by default: do not pass "
                    "requires_grad=False or call .requires_grad_(False) on it.",
                )
        x = torch.randn(4, 3)
        y = t.call(layer, x, what="layer(x)", hints=_AFFINE_HINTS)
        y = t.expect_tensor(y, what="the output")
        if not y.requires_grad:
            t.fail(
                "the output does not track gradients",
                hint="Compute the output from self.weight and self.bias directly; "
                "`.data`, `.detach()` or `torch.no_grad()` in forward cut the graph.",
            )
        t.call(y.sum().backward, what="output.sum().backward()")
        for name, param, expected in [
            ("weight", weight, torch.ones(4, 2).T @ x),
            ("bias", bias, torch.full((2,), 4.0)),
        ]:
            if param.grad is None:
                t.fail(
                    f"no gradient reached `{name}`",
                    hint=f"forward must use self.{name} itself (not a copy made in "
                    "__init__, not `.data` / `.detach()`).",
                )
            t.expect_close(
                param.grad,
                expected,
                what=f"{name}.grad after output.sum().backward()",
                hint=f"forward must use self.{name} exactly once, as in x @ weight.T + bias.",
            )

    with t.probe("repr shows in_features, out_features and bias"):
        for args, kwargs, text in [
            ((3, 2), {}, "in_features=3, out_features=2, bias=True"),
            ((7, 5), {"bias": False}, "in_features=7, out_features=5, bias=False"),
        ]:
            call = f"Affine({', '.join(map(str, args))}{', bias=False' if kwargs else ''})"
            module = t.build(Affine, *args, what=call, **kwargs)
            shown = t.call(repr, module, what=f"repr({call})", hints=_AFFINE_HINTS)
            if not isinstance(shown, str) or text not in shown:
                fixed = isinstance(shown, str) and "in_features=3, out_features=2" in shown
                t.fail(
                    f"repr({call}) does not show its settings",
                    expected=f"a repr containing `{text}`",
                    got=repr(shown),
                    hint="The repr shows the same settings for every layer: build "
                    "extra_repr's text from the constructor's arguments (kept on self), "
                    "not from fixed numbers."
                    if fixed and args != (3, 2)
                    else 'Define `def extra_repr(self): return f"in_features=..., '
                    "out_features=..., bias=...\"` from the constructor's arguments "
                    "(bias is True when there is a bias).",
                )

    # Another dtype than the parameters were built in: float64, or float32 in a notebook
    # that made float64 the default (where .to(torch.float64) would change nothing).
    other = torch.float32 if torch.get_default_dtype() == torch.float64 else torch.float64
    name = str(other).removeprefix("torch.")
    with t.probe(f"`.to(torch.{name})` converts the parameters and forward follows"):
        layer = t.build(Affine, 3, 2, what="Affine(3, 2)")
        t.move(layer, other, what=f"Affine(3, 2).to({other})")
        x = torch.randn(2, 3, dtype=other)
        stale = (
            "forward uses a tensor that .to() did not convert (a plain tensor attribute, "
            "or one computed from the weight in __init__): use self.weight and self.bias "
            "in forward."
        )
        y = t.call(layer, x, what="layer(x)", hints=[("same dtype", stale), ("scalar type", stale)])
        y = t.expect_tensor(y, what="the output")
        if y.dtype != other:
            t.fail(
                f"after .to({other}) the output is not {name}",
                expected=str(other),
                got=str(y.dtype),
                hint="Keep weight and bias as registered Parameters so .to() converts "
                "them; do not create tensors of a fixed dtype in forward.",
            )

    with t.probe("runs on another device (the meta device: shapes only)"):
        for bias in (True, False):
            call = f"Affine(3, 2, bias={bias})"
            layer = t.build(Affine, 3, 2, bias=bias, what=call)
            t.expect_runs_on_meta(layer, (4, 3), (4, 2), call)

    with t.probe("works on the course's device, get_device()"):
        _expect_affine_forward(t, Affine, 3, 2, (4, 3), True, device=get_device())


def _expect_affine_parameters(
    t: Checker, layer: nn.Module, in_features: int, out_features: int, *, bias: bool
) -> None:
    params = dict(t.call(layer.named_parameters, what="named_parameters()"))
    expected = {"weight": (out_features, in_features)}
    if bias:
        expected["bias"] = (out_features,)
    call = f"Affine({in_features}, {out_features}{'' if bias else ', bias=False'})"
    got = {name: shape_str(p.shape) for name, p in params.items()}
    want = {name: shape_str(shape) for name, shape in expected.items()}
    # A Parameter put through an operation (`nn.Parameter(w) * 0.1`, `.to(device)`)
    # comes out as a plain tensor with a grad_fn: the learner did wrap, then lost it.
    derived = [
        name for name in plain_tensor_attributes(layer) if vars(layer)[name].grad_fn is not None
    ]
    derived_hint = (
        f"`self.{derived[0]}` is the result of an operation on a Parameter "
        "(`nn.Parameter(...) * scale` or `.to(device)` returns a plain tensor): wrap the "
        "final value, `nn.Parameter(torch.randn(...) * scale)`."
        if derived
        else None
    )
    if not params:
        attrs = plain_tensor_attributes(layer)
        t.fail(
            f"{call} has no parameters",
            expected=_fmt_shapes(want),
            got="no parameters" + (f"; plain tensor attributes {attrs}" if attrs else ""),
            hint=derived_hint
            or "Wrap the tensors in nn.Parameter (self.weight = nn.Parameter(...)): "
            "a plain tensor attribute is not registered, so it is not trained or saved.",
        )
    if not bias and "bias" in params:
        t.fail(
            f"{call} still has a bias parameter",
            expected=_fmt_shapes(want),
            got=_fmt_shapes(got),
            hint="With bias=False register no bias: set `self.bias = None` (or "
            "`self.register_parameter('bias', None)`).",
        )
    if set(params) != set(expected):
        missing = sorted(set(expected) - set(params))
        tensor_attrs = [m for m in missing if isinstance(_attribute(layer, m), torch.Tensor)]
        hint = (
            f"`{tensor_attrs[0]}` is a plain tensor: wrap it in nn.Parameter so it is registered."
            if tensor_attrs
            else "Name the parameters exactly `weight` and `bias`, like nn.Linear."
        )
        t.fail(
            f"{call} has the wrong parameters",
            expected=_fmt_shapes(want),
            got=_fmt_shapes(got),
            hint=derived_hint or hint,
        )
    default = torch.empty(0)  # torch's default dtype and device, which nn.Linear uses
    for name, shape in expected.items():
        if tuple(params[name].shape) != shape:
            swapped = name == "weight" and tuple(params[name].shape) == shape[::-1]
            t.fail(
                f"`{name}` of {call} has the wrong shape",
                expected=shape_str(shape),
                got=shape_str(params[name].shape),
                hint="weight is (out_features, in_features), the nn.Linear convention; "
                "forward then computes x @ weight.T."
                if swapped
                else f"`{name}` should have shape {shape_str(shape)}.",
            )
        if not params[name].dtype.is_floating_point:
            t.fail(
                f"`{name}` of {call} is not floating point",
                got=str(params[name].dtype),
                hint="Create it with torch.randn / torch.zeros (float), not an integer tensor.",
            )
        if params[name].dtype != default.dtype:
            t.fail(
                f"`{name}` of {call} has the wrong dtype",
                expected=str(default.dtype),
                got=str(params[name].dtype),
                hint="Create parameters in torch's default dtype, like nn.Linear: "
                "torch.randn / torch.empty give it; NumPy arrays are float64 "
                "(add .float()).",
            )
        if params[name].device != default.device:
            t.fail(
                f"`{name}` of {call} is on the wrong device",
                expected=str(default.device),
                got=str(params[name].device),
                hint="Create parameters without device=...: whoever uses the layer moves "
                "it with .to(device), which moves every parameter.",
            )
    if not bias:
        if "bias" not in dir(layer):
            t.fail(
                f"{call} has no attribute `bias`",
                expected="self.bias is None",
                hint="Set `self.bias = None` when bias=False, so forward and other code "
                "can test `if self.bias is not None`.",
            )
        kept = t.call(lambda: layer.bias, what=f"{call}.bias")
        if kept is not None:
            t.fail(
                f"{call}.bias is not None",
                expected="None",
                got=describe(kept),
                hint="With bias=False set `self.bias = None`.",
            )


def _attribute(module: nn.Module, name: str) -> object:
    """``getattr(module, name)``, or None when there is none or looking it up raises."""
    try:
        return getattr(module, name, None)
    except Exception:  # a learner's property or __getattr__ that raises
        return None


def _fmt_shapes(shapes: dict[str, str]) -> str:
    return ", ".join(f"{name} {shape}" for name, shape in shapes.items()) or "none"


def _fill(layer: nn.Module, in_features: int, out_features: int, *, bias: bool):
    """Give the check's own layer known values (its parameters stay the same objects)."""
    params = dict(layer.named_parameters())
    with torch.no_grad():
        params["weight"].copy_(torch.randn(out_features, in_features))
        if bias:
            params["bias"].copy_(torch.randn(out_features))
    return params["weight"], params.get("bias")


def _expect_affine_forward(
    t: Checker,
    Affine: type[nn.Module],
    in_features: int,
    out_features: int,
    shape: tuple[int, ...],
    bias: bool,
    device: torch.device | None = None,
) -> None:
    call = f"Affine({in_features}, {out_features}, bias={bias})"
    layer = t.build(Affine, in_features, out_features, bias=bias, what=call)
    _expect_affine_parameters(t, layer, in_features, out_features, bias=bias)
    weight, b = _fill(layer, in_features, out_features, bias=bias)
    x = torch.randn(shape)
    if device is not None:
        t.move(layer, device, what=f"{call}.to(device)")
        x = x.to(device)
    x_before = x.clone()
    w = weight.detach().clone()  # what forward must read: snapshots taken before the call
    b_before = b.detach().clone() if bias else None
    with watch_modules(nn.Linear) as linear:
        y = t.call(layer, x, what=f"{call}(x)", hints=_AFFINE_HINTS)
    if linear:
        t.fail(
            f"{call}(x) runs an nn.Linear inside forward",
            expected="forward computes x @ self.weight.T + self.bias itself",
            got=f"nn.Linear built {len(linear.built)}x, called {len(linear.called)}x in forward",
            hint="forward builds or calls an nn.Linear, which does the work for you: compute "
            "x @ self.weight.T + self.bias (or F.linear, a function) yourself.",
        )
    changed = [
        name
        for name, param, before in [("weight", weight, w), ("bias", b, b_before)]
        if before is not None and not equal(param.detach(), before)
    ]
    if changed:
        t.fail(
            f"{call}(x) changed self.{changed[0]}",
            expected=f"self.{changed[0]} as it was before the call",
            got=f"self.{changed[0]} modified in place by forward",
            hint="forward only reads the parameters: no in-place clamp_, mul_, renorm or "
            "normalisation of self.weight / self.bias (not under torch.no_grad() or on "
            "`.data` either). Changing parameters is the optimizer's job.",
        )
    expected = x @ w.T + (b_before if bias else 0)
    diagnoses = [(x @ w.T, "The bias is missing: add self.bias after the matrix product.")]
    if in_features == out_features:
        diagnoses.append(
            (
                x @ w + (b_before if bias else 0),
                "weight is used untransposed: for weight of shape (out_features, "
                "in_features) compute x @ weight.T.",
            )
        )
    if len(shape) != 2:
        n = x.reshape(-1, in_features) @ w.T + (b_before if bias else 0)
        diagnoses.append(
            (n, "Keep the leading dimensions: do not flatten x to 2-D (use @ or F.linear).")
        )
    t.expect_close(
        y,
        expected,
        what=f"{call}(x) for x of shape {shape_str(shape)}",
        hint=f"Return x @ self.weight.T + self.bias, of shape {shape_str(expected.shape)} "
        "(the input's leading dimensions, then out_features).",
        diagnoses=diagnoses,
        rtol=1e-4,
        atol=1e-5,
    )
    if not equal(x, x_before):
        t.fail(
            f"{call}(x) changed its input x",
            hint="forward must not modify x in place; compute a new tensor.",
        )


# -- 01.residual ----------------------------------------------------------------------------


@task("01.residual", title="Residual wrapper", names=["Residual"], notebook=NOTEBOOK)
def check_residual(t: Checker) -> None:
    Residual = t.module_class("Residual")
    t.expect_own_forward(Residual, "Residual")

    with t.probe("Residual(fn) constructs and registers fn as a submodule"):
        fn = nn.Linear(4, 4)
        given = {name: tensor.detach().clone() for name, tensor in fn.state_dict().items()}
        block = t.build(Residual, fn, what="Residual(nn.Linear(4, 4))")
        submodules = [m for m in t.call(block.modules, what="modules()") if m is not block]
        if not any(m is fn for m in submodules):
            copies = [m for m in submodules if isinstance(m, nn.Linear)]
            hidden = _plain_container_holding(block, fn)
            if hidden:
                hint = (
                    f"`{hidden}` is a plain Python container, which nn.Module does not "
                    "look into: assign the module directly (self.fn = fn) or use "
                    "nn.ModuleList."
                )
            elif copies:
                hint = "Keep the module you were given (self.fn = fn), not a copy."
            else:
                hint = "Assign the module as an attribute in __init__: `self.fn = fn`."
            t.fail(
                "fn is not a registered submodule",
                expected="fn among Residual(fn).modules()",
                got=f"submodules {[type(m).__name__ for m in submodules]}",
                hint=hint,
            )

    with t.probe("Residual(fn) leaves fn as it was given (its values and its mode)"):
        now = fn.state_dict()
        changed = [name for name, value in given.items() if not equal(now[name], value)]
        if changed or fn.training is not True:
            t.fail(
                "Residual(fn) changed fn",
                expected="fn's parameters and training mode as the caller built them",
                got=f"`{changed[0]}` changed" if changed else "fn switched to eval mode",
                hint="Keep fn as it is given: no re-initialising, zeroing or scaling of fn's "
                "parameters in __init__, so Residual(fn)(x) is x + fn(x) for the caller's fn."
                if changed
                else "Keep fn in the mode it is given: no fn.eval() (or fn.train(False)) in "
                "__init__; whoever uses the model switches every module with model.eval().",
            )

    with t.probe("fn's parameters appear in Residual(fn).parameters()"):
        params = list(t.call(block.parameters, what="parameters()"))
        missing = [p for p in fn.parameters() if not any(p is q for q in params)]
        if missing:
            t.fail(
                "fn's parameters are not among Residual(fn).parameters()",
                expected=f"{len(list(fn.parameters()))} parameters of fn",
                got=f"{len(params)} parameters, {len(missing)} of fn's missing",
                hint="Register fn itself as a submodule (self.fn = fn).",
            )

    with t.probe("Residual adds no parameters or buffers of its own"):
        fn_state = {id(p) for p in fn.parameters()} | {id(b) for b in fn.buffers()}
        for kind, listing in [
            ("parameters", block.named_parameters),
            ("buffers", block.named_buffers),
        ]:
            named = t.call(lambda listing=listing: list(listing()), what=f"named_{kind}()")
            own = [name for name, tensor in named if id(tensor) not in fn_state]
            if own:
                t.fail(
                    f"Residual(fn) has {kind} of its own",
                    expected=f"only fn's {kind}",
                    got=f"also {', '.join(f'`{name}`' for name in own)}",
                    hint="Residual adds nothing learnable: no gate or scale Parameter, even "
                    "one starting at 1; return exactly x + self.fn(x)."
                    if kind == "parameters"
                    else "Residual keeps no buffers of its own: no register_buffer in "
                    "__init__; return exactly x + self.fn(x).",
                )

    cases = [
        ("nn.Linear(4, 4)", lambda: nn.Linear(4, 4), (3, 4)),
        ("nn.Tanh()", nn.Tanh, (2, 5, 6)),
        ("nn.Identity()", nn.Identity, (7,)),
        ("a counting module", lambda: CallCounter(8), (2, 8)),
    ]
    for name, make_fn, shape in cases:
        with t.probe(f"Residual({name}) on x of shape {shape_str(shape)} gives x + fn(x)"):
            fn = make_fn()
            block = t.build(Residual, fn, what=f"Residual({name})")
            x = torch.randn(shape)
            x_before = x.clone()
            with torch.no_grad():
                fx = fn(x.clone())
            hook_calls: list[int] = []
            if isinstance(fn, CallCounter):
                fn.calls = 0
                fn.register_forward_hook(lambda *_, calls=hook_calls: calls.append(1))
            y = t.call(block, x, what=f"Residual({name})(x)")
            if not equal(x, x_before):
                t.fail(
                    "forward changed its input x in place",
                    hint="Return `x + self.fn(x)`, a new tensor; `x += ...` or "
                    "`out += x` when fn returns x itself modify the caller's tensor.",
                )
            t.expect_close(
                y,
                x_before + fx,
                what=f"Residual({name})(x)",
                hint="Return x + self.fn(x).",
                diagnoses=[
                    (fx, "The skip connection is missing: return x + self.fn(x), not self.fn(x)."),
                    (x_before, "fn's output is missing: return x + self.fn(x)."),
                    (
                        torch.relu(x_before + fx),
                        "No activation after the sum: return x + self.fn(x) as it is.",
                    ),
                ],
            )
            if isinstance(fn, CallCounter) and fn.calls != 1:
                t.fail(
                    "fn was not called exactly once per forward",
                    expected="1 call",
                    got=f"{fn.calls} calls",
                    hint="Call self.fn(x) once and reuse the result.",
                )
            if isinstance(fn, CallCounter) and not hook_calls:
                t.fail(
                    "fn's forward hooks did not run",
                    expected="fn's forward hook called once",
                    got="not called",
                    hint="Call the module, self.fn(x), not self.fn.forward(x): only "
                    "calling it runs its hooks.",
                )

    with t.probe("gradients reach fn's parameters and the input"):
        fn = nn.Linear(3, 3)
        block = t.build(Residual, fn, what="Residual(nn.Linear(3, 3))")
        x = torch.randn(5, 3, requires_grad=True)
        y = t.expect_tensor(t.call(block, x, what="Residual(fn)(x)"), what="the output")
        if not y.requires_grad:
            t.fail(
                "the output does not track gradients",
                hint="Do not detach or wrap forward in torch.no_grad().",
            )
        t.call(y.sum().backward, what="output.sum().backward()")
        expected_x_grad = 1 + fn.weight.detach().sum(0).expand(5, 3)
        if fn.weight.grad is None or x.grad is None:
            t.fail(
                "gradients do not reach fn's weight and the input",
                hint="Compute x + self.fn(x) with the registered fn; no .detach().",
            )
        t.expect_close(
            x.grad,
            expected_x_grad,
            what="x.grad after output.sum().backward()",
            hint="The skip path must be the input itself: x + self.fn(x).",
        )

    with t.probe("runs on another device (the meta device: shapes only)"):
        call = "Residual(nn.Linear(4, 4))"
        block = t.build(Residual, nn.Linear(4, 4), what=call)
        t.expect_runs_on_meta(block, (2, 4), (2, 4), call)

    with t.probe("moves to the course's device, get_device(), and runs there"):
        device = get_device()
        fn = nn.Linear(4, 4)
        block = t.build(Residual, fn, what="Residual(nn.Linear(4, 4))")
        t.move(block, device, what="Residual(fn).to(device)")
        if fn.weight.device.type != device.type:
            t.fail("fn did not move with .to(device)", hint="Register fn: self.fn = fn.")
        x = torch.randn(2, 4).to(device)
        with torch.no_grad():
            expected = x + fn(x)
            y = t.call(block, x, what="Residual(fn)(x) on the device")
        t.expect_close(y, expected, what="the output on the device", hint="Return x + self.fn(x).")


def _plain_container_holding(module: nn.Module, target: nn.Module) -> str | None:
    for name, value in vars(module).items():
        if isinstance(value, (list, tuple, set)) and any(v is target for v in value):
            return f"self.{name}"
        if isinstance(value, dict) and any(v is target for v in value.values()):
            return f"self.{name}"
    return None


# -- 01.gaussian_noise ----------------------------------------------------------------------


def _expect_noise_shape(t: Checker, y: torch.Tensor, x: torch.Tensor) -> None:
    if y.shape != x.shape:
        t.fail(
            "the output has the wrong shape",
            expected=shape_str(x.shape),
            got=shape_str(y.shape),
            hint="The noise must have x's shape: torch.randn_like(x).",
        )


@task("01.gaussian_noise", title="Gaussian noise layer", names=["GaussianNoise"], notebook=NOTEBOOK)
def check_gaussian_noise(t: Checker) -> None:
    GaussianNoise = t.module_class("GaussianNoise")
    t.expect_own_forward(GaussianNoise, "GaussianNoise")

    with t.probe("GaussianNoise(0.5) constructs, has no parameters, starts in training mode"):
        layer = t.build(GaussianNoise, 0.5, what="GaussianNoise(0.5)")
        t.expect_no_parameters(
            layer,
            what="GaussianNoise(0.5)",
            hint="sigma is a fixed setting, not something to train: store it as a "
            "plain float (self.sigma = sigma).",
        )
        if layer.training is not True:
            t.fail(
                "a new GaussianNoise is not in training mode",
                got=f"training={layer.training!r}",
                hint="Do not set self.training yourself; nn.Module starts in training mode.",
            )

    with t.probe("sigma is kept as the attribute `sigma`"):
        for sigma in (0.5, 2.0):
            layer = t.build(GaussianNoise, sigma, what=f"GaussianNoise({sigma})")
            kept = t.call(
                lambda layer=layer: getattr(layer, "sigma", _MISSING),
                what=f"GaussianNoise({sigma}).sigma",
            )
            if kept is _MISSING:
                t.fail(
                    f"GaussianNoise({sigma}) has no attribute `sigma`",
                    expected=f"GaussianNoise({sigma}).sigma == {sigma}",
                    hint="Keep the noise level as `self.sigma = sigma`: the task names that "
                    "attribute (as nn.Dropout keeps `p`).",
                )
            value = _as_number(kept)
            if value is None or abs(value - sigma) > 1e-6 * sigma:
                t.fail(
                    f"GaussianNoise({sigma}).sigma is not {sigma}",
                    expected=str(sigma),
                    got=repr(kept)[:60],
                    hint="self.sigma must be the sigma given to the constructor, the "
                    "standard deviation itself (not its square, not a fixed number).",
                )

    for sigma in (0.5, 2.0):
        with t.probe(f"GaussianNoise({sigma}) in training mode adds N(0, {sigma}²) noise"):
            layer = t.build(GaussianNoise, sigma, what=f"GaussianNoise({sigma})")
            x = torch.randn(100, 200)
            _expect_noise(t, layer, x, sigma)

    with t.probe("the noise is fresh on every call"):
        layer = t.build(GaussianNoise, 1.0, what="GaussianNoise(1.0)")
        x = torch.zeros(3, 4)
        first = t.call(layer, x, what="layer(x)")
        second = t.call(layer, x, what="layer(x) again")
        first = t.expect_tensor(first, what="the output")
        second = t.expect_tensor(second, what="the output")
        if equal(first, second):
            t.fail(
                "two calls on the same input gave the same output",
                hint="Draw new noise inside forward (torch.randn_like(x)), not once in __init__.",
            )

    with t.probe("two GaussianNoise layers draw different noise"):
        x = torch.zeros(3, 4)
        layers = [t.build(GaussianNoise, 1.0, what="GaussianNoise(1.0)") for _ in range(2)]
        outputs = [
            t.expect_tensor(t.call(layer, x, what="layer(x)"), what="the output")
            for layer in layers
        ]
        if equal(outputs[0], outputs[1]):
            t.fail(
                "two new GaussianNoise(1.0) layers added the same noise",
                expected="different noise from each layer's first call",
                got="identical outputs",
                hint="Draw from torch's global random generator, torch.randn_like(x): a "
                "torch.Generator of the layer's own, seeded in __init__, gives every layer "
                "the same noise (and a CPU generator fails for x on a GPU).",
            )

    with t.probe("training mode adds noise under torch.no_grad() too"):
        layer = t.build(GaussianNoise, 1.0, what="GaussianNoise(1.0)")
        x = torch.randn(100, 100)  # enough values for the statistics to be reliable
        with torch.no_grad():
            _expect_noise(
                t,
                layer,
                x,
                1.0,
                no_noise_hint="Decide on self.training, not on torch.is_grad_enabled(): "
                "training mode adds noise under torch.no_grad() too.",
            )

    with t.probe("eval mode returns x unchanged"):
        layer = t.build(GaussianNoise, 1.0, what="GaussianNoise(1.0)")
        t.call(layer.eval, what="layer.eval()")
        x = torch.randn(6, 7, requires_grad=True)
        y = t.expect_tensor(t.call(layer, x, what="layer.eval()(x)"), what="the output")
        if y.shape != x.shape or not equal(y, x):
            t.fail(
                "in eval mode the output differs from x",
                hint="Return x unchanged when `not self.training` (eval() sets "
                "self.training to False; `self.train` and `self.eval` are methods, "
                "always true in an `if`).",
            )
        # A model's .eval() reaches its children through train(False), not eval().
        layer = t.build(GaussianNoise, 1.0, what="GaussianNoise(1.0)")
        model = t.call(lambda: nn.Sequential(layer).eval(), what="nn.Sequential(layer).eval()")
        y = t.expect_tensor(t.call(model, x, what="model(x)"), what="the output")
        if y.shape != x.shape or not equal(y, x):
            t.fail(
                "inside a model switched with model.eval(), the layer still adds noise",
                expected="x unchanged (the layer's self.training is False)",
                hint="Decide on self.training in forward: model.eval() switches its children "
                "with child.train(False), so an eval() method of your own (or a flag it "
                "sets) is never called; do not override eval() or train().",
            )
        if not y.requires_grad:
            t.fail(
                "in eval mode the output does not track gradients",
                expected="requires_grad=True (x requires grad)",
                got="requires_grad=False",
                hint="eval() does not turn off gradients: in eval mode return x itself "
                "(no .detach(), .data or torch.no_grad()).",
            )

    with t.probe("the noise follows x's dtype (bfloat16 in, bfloat16 out)"):
        layer = t.build(GaussianNoise, 1.0, what="GaussianNoise(1.0)")
        x = torch.randn(8, 8).to(torch.bfloat16)
        y = t.expect_tensor(t.call(layer, x, what="layer(x)"), what="the output")
        if y.dtype != torch.bfloat16:
            t.fail(
                "the output dtype differs from the input's",
                expected="torch.bfloat16",
                got=str(y.dtype),
                hint="The noise must have x's dtype: torch.randn(x.shape) makes float32 "
                "noise whatever x is, with or without device=x.device; use "
                "torch.randn_like(x), which copies x's shape, dtype and device.",
            )

    with t.probe("the noise has normal tails (values beyond 2.5 and 3 sigma)"):
        layer = t.build(GaussianNoise, 1.0, what="GaussianNoise(1.0)")
        x = torch.randn(TAIL_SAMPLES // 500, 500)
        y = t.expect_tensor(t.call(layer, x, what="layer(x)"), what="the output")
        problem = tail_problem((y.detach().double() - x.double()).reshape(-1))
        if problem is not None:
            headline, facts, hint = problem
            t.fail(headline, facts=facts, hint=hint)

    with t.probe(f"the noise's mean and std vary from call to call ({SPREAD_CALLS} calls)"):
        layer = t.build(GaussianNoise, 1.0, what="GaussianNoise(1.0)")
        x = torch.randn(8, SPREAD_SAMPLES // 8)
        draws = []
        for _ in range(SPREAD_CALLS):
            y = t.expect_tensor(t.call(layer, x, what="layer(x)"), what="the output")
            _expect_noise_shape(t, y, x)
            draws.append((y.detach().double() - x.double()).reshape(-1))
        problem = spread_problem(torch.stack(draws))
        if problem is not None:
            headline, facts, hint = problem
            t.fail(headline, facts=facts, hint=hint)

    with t.probe("the noise is made on x's device (x on the meta device: shapes only)"):
        layer = t.build(GaussianNoise, 1.0, what="GaussianNoise(1.0)")
        t.move(layer, "meta", what="GaussianNoise(1.0).to('meta')")
        x = torch.empty(4, 6, device="meta")
        on_device = (
            "The noise must be on x's device: torch.randn(x.shape, ...) without "
            "device=x.device is always on the CPU (and fails for x on a GPU); use "
            "torch.randn_like(x)."
        )
        with _GeneratorWatch() as generators:
            y = t.call(
                call_on_meta,
                layer,
                x,
                what="layer(x) for x on the meta device",
                hints=[("is not on the expected device", on_device), ("same device", on_device)],
            )
        elsewhere = sorted({str(g) for g in generators})
        if elsewhere:
            # torch draws meta noise with a CPU generator without a word; for x on a GPU it
            # refuses ("Expected a 'cuda' device type for generator but found 'cpu'").
            t.fail(
                "the noise is drawn with a torch.Generator that is not on x's device",
                expected="noise drawn on x's device",
                got=f"a generator on {', '.join(elsewhere)} for x on the meta device",
                hint="A torch.Generator() of the layer's own lives on the CPU, and torch "
                "refuses it for x on a GPU: draw from torch's global generator, "
                "torch.randn_like(x), which follows x wherever it is.",
            )
        if y is not SKIPPED_ON_META:
            y = t.expect_tensor(y, what="the output")
            if y.device != x.device or y.shape != x.shape or y.dtype != x.dtype:
                t.fail(
                    "the output for x on the meta device is not like x",
                    expected=f"device meta, shape {shape_str(x.shape)}, {x.dtype}",
                    got=f"device {y.device}, shape {shape_str(y.shape)}, {y.dtype}",
                    hint=on_device,
                )

    with t.probe("gradients flow to x in training mode"):
        layer = t.build(GaussianNoise, 0.3, what="GaussianNoise(0.3)")
        x = torch.randn(4, 5, requires_grad=True)
        y = t.expect_tensor(t.call(layer, x, what="layer(x)"), what="the output")
        if not y.requires_grad:
            t.fail(
                "the output does not track gradients to x",
                hint="Return x + self.sigma * noise using x itself (no .data / .detach()).",
            )
        t.call(y.sum().backward, what="output.sum().backward()")
        t.expect_close(
            x.grad,
            torch.ones(4, 5),
            what="x.grad after output.sum().backward()",
            hint="The output should be x + sigma * noise: its gradient with respect to x is 1.",
            diagnoses=[
                (
                    torch.zeros(4, 5),
                    "torch.normal(mean=x, ...) passes no gradient to x: compute "
                    "x + self.sigma * torch.randn_like(x).",
                )
            ],
        )

    with t.probe("works on the course's device, get_device()"):
        device = get_device()
        layer = t.build(GaussianNoise, 1.0, what="GaussianNoise(1.0)")
        t.move(layer, device, what="GaussianNoise(1.0).to(device)")
        _expect_noise(t, layer, torch.randn(100, 100).to(device), 1.0)


def _expect_noise(
    t: Checker, layer: nn.Module, x: torch.Tensor, sigma: float, *, no_noise_hint: str = ""
) -> None:
    """``layer(x) - x`` must look like standard normal noise times sigma, of x's shape."""
    x_before = x.clone()
    y = t.expect_tensor(t.call(layer, x, what=f"GaussianNoise({sigma})(x)"), what="the output")
    if not equal(x, x_before):
        t.fail(
            "forward changed its input x in place",
            hint="Return a new tensor, x + self.sigma * noise (not x.add_ / x += ...).",
        )
    _expect_noise_shape(t, y, x)
    noise = (y.detach().double() - x.double()) / sigma
    if not bool(torch.isfinite(noise).all()):
        t.fail(
            "the output contains NaN or inf",
            hint="Add finite noise: x + self.sigma * torch.randn_like(x).",
        )
    n = noise.numel()
    mean, std = noise.mean().item(), noise.std().item()
    spread = [
        noise.diff(dim=dim).std().item() if noise.shape[dim] > 1 else 2.0**0.5
        for dim in range(noise.dim())
    ]
    facts = [f"(output - x) / sigma over {n} values: mean {mean:.3f}, std {std:.3f}"]
    if std < 1e-6:
        hint = no_noise_hint or (
            "No noise was added in training mode: add self.sigma * torch.randn_like(x) "
            "when self.training is True (`self.eval` is a method, so `if self.eval:` is "
            "always true)."
            if abs(mean) < 1e-6
            else "Every element got the same noise value: draw one per element, "
            "torch.randn_like(x)."
        )
        t.fail("the output is not noisy", expected="std 1.000", facts=facts, hint=hint)
    # Independent noise changes from one element to the next along every dimension
    # (differences have std sqrt(2)); noise drawn for one row or column repeats.
    repeated = [dim for dim, s in enumerate(spread) if s < 0.1]
    if repeated:
        t.fail(
            f"the same noise values repeat along dimension {repeated[0]} of x",
            expected=f"a fresh value for each of the {n} elements",
            got=f"noise constant along dimension {repeated[0]} (of shape {shape_str(x.shape)})",
            facts=facts,
            hint="Draw noise of x's full shape, torch.randn_like(x), not a smaller tensor "
            "that broadcasts.",
        )
    if abs(mean) > 6 / n**0.5:
        uniform = abs(mean - 0.5) < 0.05 and abs(std - 12**-0.5) < 0.05
        t.fail(
            "the noise does not have mean 0",
            expected="mean 0.000",
            got=f"mean {mean:.3f}",
            facts=facts,
            hint="torch.rand is uniform on [0, 1) with mean 0.5: use torch.randn_like(x), "
            "standard normal."
            if uniform
            else "Use noise centred on 0, standard normal torch.randn_like(x), scaled by "
            "sigma (no abs(), no offset).",
        )
    # Clipping narrows the noise only a little (std 0.96 at ±2 sigma, 0.996 at ±3), so a
    # std this close to 1 with an empty tail is clipping, not a wrong scale.
    problem = clipped_problem(noise.reshape(-1)) if abs(std - 1) <= 0.1 else None
    if problem is not None:
        headline, more, hint = problem
        t.fail(headline, facts=facts + more, hint=hint)
    if abs(std - 1) > 0.05:
        # What (output - x) / sigma measures for the usual scaling mistakes.
        mistakes = [
            (1 / sigma, "The noise is not scaled: multiply it by self.sigma."),
            (sigma, "sigma is the standard deviation: multiply by sigma, not sigma ** 2."),
            (1 / sigma**2, "Multiply the noise by sigma; do not divide by it."),
            (
                sigma**-0.5,
                "sigma is the standard deviation: multiply by sigma, not its square root "
                "(torch.normal's std is the standard deviation too).",
            ),
        ]
        hint = next(
            (h for value, h in mistakes if abs(std - value) < 0.05 * value),
            "Scale standard normal noise by sigma: x + self.sigma * torch.randn_like(x).",
        )
        t.fail(
            f"the noise does not have standard deviation sigma = {sigma}",
            expected=f"std {sigma:.3f} (of output - x)",
            got=f"std {std * sigma:.3f}",
            facts=facts,
            hint=hint,
        )
    # Additive noise is independent of x; x * sigma * noise grows with |x|.
    # (Pearson's correlation written out: torch.corrcoef is ten times slower here.)
    a = noise.abs().reshape(-1)
    b = x.detach().double().abs().reshape(-1)
    a, b = a - a.mean(), b - b.mean()
    if ((a * b).mean() / ((a * a).mean() * (b * b).mean()).sqrt()).item() > 0.2:
        t.fail(
            "the noise grows with |x|",
            expected="noise independent of x",
            facts=facts,
            hint="Add the noise, x + self.sigma * torch.randn_like(x); do not multiply x by it.",
        )
    within_one = (noise.abs() < 1).double().mean().item()
    if abs(within_one - 0.6827) > 0.03:
        t.fail(
            "the noise is not normally distributed",
            expected="about 68% of values within one sigma",
            got=f"{within_one:.1%}",
            hint="Use standard normal noise, torch.randn_like(x), scaled by sigma.",
        )


_MISSING = object()


def _as_number(value: object) -> float | None:
    """A real number (Python's, NumPy's np.float32, ...), or a one-element tensor or NumPy
    array, as a float; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.device.type != "meta":
        return float(value.detach().double().item())
    if type(value).__name__ == "ndarray" and getattr(value, "size", None) == 1:
        try:
            return _as_number(value.item())
        except Exception:  # an object that only looks like an array
            return None
    return None


class _GeneratorWatch(TorchFunctionMode):
    """Records the device of every torch.Generator passed to a torch function (as
    ``generator=``) that drew a tensor on another device type, while the body runs.

    On a GPU torch refuses such a draw; on the meta device it allows it. Noise drawn on
    the CPU with a CPU generator and then moved to x's device is fine everywhere.
    """

    def __enter__(self) -> list[torch.device]:
        super().__enter__()
        self.devices: list[torch.device] = []
        return self.devices

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        generator = kwargs.get("generator")
        if (
            isinstance(generator, torch.Generator)
            and isinstance(out, torch.Tensor)
            and out.device.type != generator.device.type
        ):
            self.devices.append(generator.device)
        return out


# -- statistics of the noise, kept pure so tests/test_noise_statistics.py can prove them ----
#
# Standard normal noise has 1.242% of its values beyond 2.5 and 0.270% beyond 3 (in
# absolute value). Over TAIL_SAMPLES values the counts are about 1242 ± 35 and 270 ± 16;
# the bounds below sit 7 or more standard deviations away on both sides, so correct noise
# never fails (tests/test_noise_statistics.py runs them over hundreds of seeds) while noise
# clipped at 2, 2.5 or 3 sigma always does (no values at all beyond the cut).
TAIL_SAMPLES = 100_000
TAIL_BOUNDS = ((2.5, 0.0090, 0.0160), (3.0, 0.0015, 0.0040))  # (cut, min, max fraction)

# Per call, fresh N(0, 1) noise of SPREAD_SAMPLES values has a sample mean m with
# N m² ~ chi²(1) and a sample std s with 2 (N - 1) (s - 1)² ~ chi²(1) (nearly). Summed over
# SPREAD_CALLS calls each is about chi²(32), mean 32; P(chi²(32) < 2) is about 1e-14.
# Noise re-centred or re-standardised on every call gives sums near 0 (rounding only).
SPREAD_CALLS = 32
SPREAD_SAMPLES = 256
SPREAD_MIN = 2.0


def tail_problem(noise: torch.Tensor) -> tuple[str, list[str], str] | None:
    """(headline, facts, hint) when ``noise`` (1-D, sigma 1) lacks or overdoes normal tails."""
    n = noise.numel()
    # + 0.001: noise clipped at exactly `cut`, added to x in float32 and taken back out,
    # lands a rounding error (about 1e-6) either side of the cut.
    fractions = [
        (cut, (noise.abs() > cut + 0.001).double().mean().item()) for cut, _, _ in TAIL_BOUNDS
    ]
    facts = [
        f"{fraction:.3%} of {n} values beyond {cut:g} sigma (normal noise: "
        f"{'1.242%' if cut == 2.5 else '0.270%'})"
        for cut, fraction in fractions
    ]
    for (cut, low, high), (_, fraction) in zip(TAIL_BOUNDS, fractions, strict=True):
        if fraction < low:
            return f"the noise has too few values beyond {cut:g} sigma", facts, _clipped_hint(cut)
        if fraction > high:
            return (
                f"the noise has too many values beyond {cut:g} sigma",
                facts,
                "The noise has heavier tails than a normal distribution: use standard "
                "normal noise, torch.randn_like(x), scaled by sigma.",
            )
    return None


def _clipped_hint(cut: float) -> str:
    clamp = "(-2, 2)" if cut == 2.5 else "(-3, 3)"
    return (
        f"Values beyond {cut:g} sigma are missing: the noise looks clipped (e.g. "
        f".clamp{clamp}); add standard normal noise, torch.randn_like(x), as it comes."
    )


# With at least CLIPPED_MIN_SAMPLES values of N(0, 1) noise, none beyond 3 has probability
# (1 - 0.0027) ** 10_000, about 2e-12 (none beyond 2.5: about 1e-54): correct noise never
# shows an empty tail, while noise clipped at 2, 2.5 or 3 sigma always does.
CLIPPED_MIN_SAMPLES = 10_000


def clipped_problem(noise: torch.Tensor) -> tuple[str, list[str], str] | None:
    """(headline, facts, hint) when ``noise`` (sigma 1, at least CLIPPED_MIN_SAMPLES values)
    has no value at all beyond 2.5 or beyond 3 sigma: a deterministic sign of clipping that
    the std of clipped noise (about 0.96 at ±2 sigma) does not give reliably."""
    n = noise.numel()
    if n < CLIPPED_MIN_SAMPLES:
        return None
    for cut, _, _ in TAIL_BOUNDS:
        if not bool((noise.abs() > cut + 0.001).any()):
            largest = noise.abs().max().item()
            return (
                f"the noise has no values beyond {cut:g} sigma",
                [f"largest |output - x| / sigma over {n} values: {largest:.3f}"],
                _clipped_hint(cut),
            )
    return None


def spread_statistics(draws: torch.Tensor) -> tuple[float, float]:
    """For ``draws`` of shape (calls, samples): the chi²-like spreads of mean and std."""
    n = draws.shape[1]
    means = draws.mean(dim=1)
    stds = draws.std(dim=1)
    return float(n * (means**2).sum()), float(2 * (n - 1) * ((stds - 1) ** 2).sum())


def spread_problem(draws: torch.Tensor) -> tuple[str, list[str], str] | None:
    """(headline, facts, hint) when per-call means or stds do not vary as fresh noise's do."""
    mean_spread, std_spread = spread_statistics(draws)
    calls, n = draws.shape
    facts = [
        f"over {calls} calls of {n} values: per-call means vary {mean_spread:.3g}, per-call "
        f"stds vary {std_spread:.3g} (fresh N(0, 1) noise: about {calls} each)"
    ]
    if mean_spread < SPREAD_MIN:
        return (
            "the noise's mean is exactly 0 on every call",
            facts,
            "Do not re-centre or re-standardise the noise on each call ((n - n.mean()) / "
            "n.std()): the mean of fresh N(0, 1) draws varies from call to call; use "
            "torch.randn_like(x) as it comes.",
        )
    if std_spread < SPREAD_MIN:
        return (
            "the noise's std is exactly 1 on every call",
            facts,
            "Do not rescale the noise to std 1 on each call (n / n.std()): the std of "
            "fresh N(0, 1) draws varies from call to call; use torch.randn_like(x) as it "
            "comes.",
        )
    return None


__all__ = [
    "CLIPPED_MIN_SAMPLES",
    "SPREAD_CALLS",
    "SPREAD_MIN",
    "SPREAD_SAMPLES",
    "TAIL_BOUNDS",
    "TAIL_SAMPLES",
    "check_affine",
    "check_gaussian_noise",
    "check_residual",
    "clipped_problem",
    "spread_problem",
    "spread_statistics",
    "tail_problem",
]
