"""Checks for lesson 01 · nn.Module: ``01.affine``, ``01.residual``, ``01.gaussian_noise``."""

from __future__ import annotations

import torch
from torch import nn

from helpers.checks.core import (
    CallCounter,
    Checker,
    equal,
    plain_tensor_attributes,
    shape_str,
    task,
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

    with t.probe("Affine(3, 2) constructs"):
        layer = t.call(Affine, 3, 2, what="Affine(3, 2)")

    with t.probe("parameters are exactly `weight` (2, 3) and `bias` (2,)"):
        _expect_affine_parameters(t, layer, 3, 2, bias=True)

    with t.probe("Affine(4, 5, bias=False) has only `weight` and self.bias is None"):
        no_bias = t.call(Affine, 4, 5, bias=False, what="Affine(4, 5, bias=False)")
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
        layer = t.call(Affine, 3, 2, what="Affine(3, 2)")
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
            module = t.call(Affine, *args, what=call, **kwargs)
            shown = t.call(repr, module, what=f"repr({call})", hints=_AFFINE_HINTS)
            if not isinstance(shown, str) or text not in shown:
                t.fail(
                    f"repr({call}) does not show its settings",
                    expected=f"a repr containing `{text}`",
                    got=repr(shown),
                    hint='Define `def extra_repr(self): return f"in_features=..., '
                    "out_features=..., bias=...\"` from the constructor's arguments "
                    "(bias is True when there is a bias).",
                )

    with t.probe("`.to(torch.float64)` converts the parameters and forward follows"):
        layer = t.call(Affine, 3, 2, what="Affine(3, 2)")
        layer.to(torch.float64)
        x = torch.randn(2, 3, dtype=torch.float64)
        stale = (
            "forward uses a tensor that .to() did not convert (a plain tensor attribute, "
            "or one computed from the weight in __init__): use self.weight and self.bias "
            "in forward."
        )
        y = t.call(layer, x, what="layer(x)", hints=[("same dtype", stale), ("scalar type", stale)])
        y = t.expect_tensor(y, what="the output")
        if y.dtype != torch.float64:
            t.fail(
                "after .to(torch.float64) the output is not float64",
                expected="torch.float64",
                got=str(y.dtype),
                hint="Keep weight and bias as registered Parameters so .to() converts "
                "them; do not create tensors of a fixed dtype in forward.",
            )

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
        tensor_attrs = [m for m in missing if isinstance(getattr(layer, m, None), torch.Tensor)]
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
        if layer.bias is not None:
            t.fail(
                f"{call}.bias is not None",
                expected="None",
                got=repr(layer.bias)[:60],
                hint="With bias=False set `self.bias = None`.",
            )


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
    layer = t.call(Affine, in_features, out_features, bias=bias, what=call)
    _expect_affine_parameters(t, layer, in_features, out_features, bias=bias)
    weight, b = _fill(layer, in_features, out_features, bias=bias)
    x = torch.randn(shape)
    if device is not None:
        layer.to(device)
        x = x.to(device)
    x_before = x.clone()
    y = t.call(layer, x, what=f"{call}(x)", hints=_AFFINE_HINTS)
    w = weight.detach()
    expected = x @ w.T + (b.detach() if bias else 0)
    diagnoses = [(x @ w.T, "The bias is missing: add self.bias after the matrix product.")]
    if in_features == out_features:
        diagnoses.append(
            (
                x @ w + (b.detach() if bias else 0),
                "weight is used untransposed: for weight of shape (out_features, "
                "in_features) compute x @ weight.T.",
            )
        )
    if len(shape) != 2:
        n = x.reshape(-1, in_features) @ w.T + (b.detach() if bias else 0)
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

    with t.probe("Residual(fn) constructs and registers fn as a submodule"):
        fn = nn.Linear(4, 4)
        block = t.call(Residual, fn, what="Residual(nn.Linear(4, 4))")
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

    cases = [
        ("nn.Linear(4, 4)", lambda: nn.Linear(4, 4), (3, 4)),
        ("nn.Tanh()", nn.Tanh, (2, 5, 6)),
        ("nn.Identity()", nn.Identity, (7,)),
        ("a counting module", lambda: CallCounter(8), (2, 8)),
    ]
    for name, make_fn, shape in cases:
        with t.probe(f"Residual({name}) on x of shape {shape_str(shape)} gives x + fn(x)"):
            fn = make_fn()
            block = t.call(Residual, fn, what=f"Residual({name})")
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
        block = t.call(Residual, fn, what="Residual(nn.Linear(3, 3))")
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

    with t.probe("moves to the course's device, get_device(), and runs there"):
        device = get_device()
        fn = nn.Linear(4, 4)
        block = t.call(Residual, fn, what="Residual(nn.Linear(4, 4))")
        block.to(device)
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


@task("01.gaussian_noise", title="Gaussian noise layer", names=["GaussianNoise"], notebook=NOTEBOOK)
def check_gaussian_noise(t: Checker) -> None:
    GaussianNoise = t.module_class("GaussianNoise")

    with t.probe("GaussianNoise(0.5) constructs, has no parameters, starts in training mode"):
        layer = t.call(GaussianNoise, 0.5, what="GaussianNoise(0.5)")
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

    for sigma in (0.5, 2.0):
        with t.probe(f"GaussianNoise({sigma}) in training mode adds N(0, {sigma}²) noise"):
            layer = t.call(GaussianNoise, sigma, what=f"GaussianNoise({sigma})")
            x = torch.randn(100, 200)
            _expect_noise(t, layer, x, sigma)

    with t.probe("the noise is fresh on every call"):
        layer = t.call(GaussianNoise, 1.0, what="GaussianNoise(1.0)")
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

    with t.probe("training mode adds noise under torch.no_grad() too"):
        layer = t.call(GaussianNoise, 1.0, what="GaussianNoise(1.0)")
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
        layer = t.call(GaussianNoise, 1.0, what="GaussianNoise(1.0)")
        layer.eval()
        x = torch.randn(6, 7, requires_grad=True)
        y = t.expect_tensor(t.call(layer, x, what="layer.eval()(x)"), what="the output")
        if y.shape != x.shape or not equal(y, x):
            t.fail(
                "in eval mode the output differs from x",
                hint="Return x unchanged when `not self.training` (eval() sets "
                "self.training to False; `self.train` and `self.eval` are methods, "
                "always true in an `if`).",
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
        layer = t.call(GaussianNoise, 1.0, what="GaussianNoise(1.0)")
        x = torch.randn(8, 8).to(torch.bfloat16)
        y = t.expect_tensor(t.call(layer, x, what="layer(x)"), what="the output")
        if y.dtype != torch.bfloat16:
            t.fail(
                "the output dtype differs from the input's",
                expected="torch.bfloat16",
                got=str(y.dtype),
                hint="Create the noise like x: torch.randn_like(x) (same dtype and "
                "device), not torch.randn(x.shape).",
            )

    with t.probe("gradients flow to x in training mode"):
        layer = t.call(GaussianNoise, 0.3, what="GaussianNoise(0.3)")
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
        layer = t.call(GaussianNoise, 1.0, what="GaussianNoise(1.0)").to(device)
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
    if y.shape != x.shape:
        t.fail(
            "the output has the wrong shape",
            expected=shape_str(x.shape),
            got=shape_str(y.shape),
            hint="The noise must have x's shape: torch.randn_like(x).",
        )
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
    if abs(std - 1) > 0.05:
        # What (output - x) / sigma measures for the usual scaling mistakes.
        mistakes = [
            (1 / sigma, "The noise is not scaled: multiply it by self.sigma."),
            (sigma, "sigma is the standard deviation: multiply by sigma, not sigma ** 2."),
            (1 / sigma**2, "Multiply the noise by sigma; do not divide by it."),
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
    magnitudes = torch.stack([noise.abs().reshape(-1), x.detach().double().abs().reshape(-1)])
    if torch.corrcoef(magnitudes)[0, 1].item() > 0.2:
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


__all__ = ["check_affine", "check_gaussian_noise", "check_residual"]
