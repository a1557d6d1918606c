"""Lesson 06 (apply): realistic mistakes and correct alternatives for every task."""

from __future__ import annotations

import functools
import math
import types
from collections import deque

import torch
from torch import nn

from catalogue import correct, mistake

_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm)


def _norm_ones_zeros(module):
    if module.weight is not None:
        nn.init.ones_(module.weight)
    if module.bias is not None:
        nn.init.zeros_(module.bias)


def _zero_bias(module):
    if module.bias is not None:
        nn.init.zeros_(module.bias)


# == 06.init_weights ===========================================================================

# -- correct alternatives ----------------------------------------------------------------------


@correct("06.init_weights")
def init_weights_by_hand(module):
    """Draws the values itself, under no_grad, with the fans computed from the weight."""
    with torch.no_grad():
        if isinstance(module, nn.Linear):
            fan_out, fan_in = module.weight.shape
            bound = math.sqrt(6 / (fan_in + fan_out))
            module.weight.uniform_(-bound, bound)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, nn.Conv2d):
            fan_out = module.out_channels * module.kernel_size[0] * module.kernel_size[1]
            module.weight.normal_(0.0, math.sqrt(2.0 / fan_out))
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, _NORMS):
            if module.weight is not None:
                module.weight.fill_(1.0)
            if module.bias is not None:
                module.bias.fill_(0.0)


@correct("06.init_weights")
def init_weights_data_and_base_classes(module):
    """Assigns .data (the Parameter stays the same object); _BatchNorm covers 1d/2d/3d;
    LayerNorm.reset_parameters() sets ones and zeros."""
    if isinstance(module, nn.Linear):
        module.weight.data = nn.init.xavier_uniform_(torch.empty_like(module.weight))
        if module.bias is not None:
            module.bias.data = torch.zeros_like(module.bias)
    elif isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out")  # leaky_relu, a=0: ReLU's gain
        _zero_bias(module)
    elif isinstance(module, nn.modules.batchnorm._BatchNorm):
        _norm_ones_zeros(module)
    elif isinstance(module, nn.LayerNorm):
        module.reset_parameters()


@correct("06.init_weights")
def init_weights_copy_under_no_grad(module):
    """Builds new values and copies them in, with hasattr tests for the optional parts."""
    if isinstance(module, (nn.Linear, nn.Conv2d)):
        new = torch.empty_like(module.weight)
        if isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(new, gain=nn.init.calculate_gain("linear"))
        else:
            nn.init.kaiming_normal_(new, mode="fan_out", nonlinearity="relu")
        with torch.no_grad():
            module.weight.copy_(new)
            if getattr(module, "bias", None) is not None:
                module.bias.copy_(torch.zeros_like(module.bias))
    elif isinstance(module, _NORMS):
        with torch.no_grad():
            for name, value in (("weight", 1.0), ("bias", 0.0)):
                param = getattr(module, name, None)
                if param is not None:
                    param.fill_(value)


# -- mistakes ------------------------------------------------------------------------------------


@mistake("06.init_weights", hint="test `isinstance(module, nn.Linear)`, which subclasses pass")
def init_weights_type_equality(module):
    if type(module) == nn.Linear:  # noqa: E721 (the mistake)
        nn.init.xavier_uniform_(module.weight)
        _zero_bias(module)
    elif isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        _zero_bias(module)
    elif isinstance(module, _NORMS):
        _norm_ones_zeros(module)


@mistake("06.init_weights", hint="test `isinstance(module, nn.Conv2d)`, which subclasses pass")
def init_weights_type_in_tuple(module):
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        _zero_bias(module)
    elif type(module) in (nn.Conv2d,):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        _zero_bias(module)
    elif isinstance(module, _NORMS):
        _norm_ones_zeros(module)


@mistake("06.init_weights", hint="a new `module.weight = nn.Parameter(...)` is never trained")
def init_weights_new_parameters(module):
    if isinstance(module, nn.Linear):
        module.weight = nn.Parameter(nn.init.xavier_uniform_(torch.empty_like(module.weight)))
        if module.bias is not None:
            module.bias = nn.Parameter(torch.zeros_like(module.bias))
    elif isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        _zero_bias(module)
    elif isinstance(module, _NORMS):
        _norm_ones_zeros(module)


@mistake("06.init_weights", hint="kaiming_normal_'s default mode is 'fan_in'")
def init_weights_kaiming_fan_in(module):
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        _zero_bias(module)
    elif isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        _zero_bias(module)
    elif isinstance(module, _NORMS):
        _norm_ones_zeros(module)


@mistake("06.init_weights", hint="that is xavier_normal_")
def init_weights_xavier_normal(module):
    if isinstance(module, nn.Linear):
        nn.init.xavier_normal_(module.weight)
        _zero_bias(module)
    elif isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        _zero_bias(module)
    elif isinstance(module, _NORMS):
        _norm_ones_zeros(module)


@mistake("06.init_weights", hint="that is kaiming_uniform_")
def init_weights_kaiming_uniform(module):
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        _zero_bias(module)
    elif isinstance(module, nn.Conv2d):
        nn.init.kaiming_uniform_(module.weight, mode="fan_out", nonlinearity="relu")
        _zero_bias(module)
    elif isinstance(module, _NORMS):
        _norm_ones_zeros(module)


@mistake("06.init_weights", hint="an nn.Conv2d gets nn.init.kaiming_normal_")
def init_weights_xavier_everywhere(module):
    if isinstance(module, (nn.Linear, nn.Conv2d)):
        nn.init.xavier_uniform_(module.weight)
        _zero_bias(module)
    elif isinstance(module, _NORMS):
        _norm_ones_zeros(module)


@mistake("06.init_weights", hint="which module.reset_parameters() draws again")
def init_weights_reset_parameters(module):
    if isinstance(module, (nn.Linear, nn.Conv2d)):
        module.reset_parameters()  # torch's default init, not xavier / kaiming
        _zero_bias(module)
    elif isinstance(module, _NORMS):
        _norm_ones_zeros(module)


@mistake("06.init_weights", hint="initialize each only `if module.bias is not None:`")
def init_weights_bias_none_crash(module):
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)  # None for bias=False
    elif isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(module.bias)
    elif isinstance(module, _NORMS):
        _norm_ones_zeros(module)


@mistake("06.init_weights", hint="for every nn.Linear with a bias")
def init_weights_forgets_bias(module):
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
    elif isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    elif isinstance(module, _NORMS):
        _norm_ones_zeros(module)


@mistake("06.init_weights", hint="also resets its running statistics")
def init_weights_batchnorm_reset(module):
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        _zero_bias(module)
    elif isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        _zero_bias(module)
    elif isinstance(module, _NORMS):
        module.reset_parameters()  # BatchNorm: running statistics too


@mistake("06.init_weights", hint="BatchNorm1d, 2d and 3d all count")
def init_weights_batchnorm2d_only(module):
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        _zero_bias(module)
    elif isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        _zero_bias(module)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)):
        _norm_ones_zeros(module)


@mistake("06.init_weights", hint="not every module that has a `weight`")
def init_weights_every_weight(module):
    if isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        _zero_bias(module)
    elif isinstance(module, _NORMS):
        _norm_ones_zeros(module)
    elif getattr(module, "weight", None) is not None and module.weight.dim() == 2:
        nn.init.xavier_uniform_(module.weight)  # Linear, and the Embedding too
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)


@mistake("06.init_weights", hint="not every parameter the same rule")
def init_weights_every_parameter(module):
    if isinstance(module, nn.Linear):
        for param in module.parameters():
            nn.init.xavier_uniform_(param)  # the bias is 1-D
    elif isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        _zero_bias(module)
    elif isinstance(module, _NORMS):
        _norm_ones_zeros(module)


@mistake("06.init_weights", hint="needs `with torch.no_grad():`")
def init_weights_copy_without_no_grad(module):
    if isinstance(module, nn.Linear):
        module.weight.copy_(nn.init.xavier_uniform_(torch.empty_like(module.weight)))
        _zero_bias(module)
    elif isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        _zero_bias(module)
    elif isinstance(module, _NORMS):
        _norm_ones_zeros(module)


@mistake("06.init_weights", hint="InstanceNorm2d is not a BatchNorm")
def init_weights_norm_base(module):
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        _zero_bias(module)
    elif isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        _zero_bias(module)
    elif isinstance(module, (nn.modules.batchnorm._NormBase, nn.LayerNorm)):
        _norm_ones_zeros(module)  # _NormBase: InstanceNorm too


@mistake("06.init_weights", hint="not every class with Norm in its name")
def init_weights_norm_in_class_name(module):
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        _zero_bias(module)
    elif isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        _zero_bias(module)
    elif "Norm" in type(module).__name__:  # GroupNorm, InstanceNorm too
        if getattr(module, "weight", None) is not None:
            nn.init.ones_(module.weight)
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)


@mistake("06.init_weights", hint="not every convolution")
def init_weights_every_convolution(module):
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        _zero_bias(module)
    elif isinstance(module, nn.modules.conv._ConvNd):  # Conv1d too
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        _zero_bias(module)
    elif isinstance(module, _NORMS):
        _norm_ones_zeros(module)


@mistake("06.init_weights", hint="a gain (calculate_gain('relu'))")
def init_weights_xavier_relu_gain(module):
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight, gain=nn.init.calculate_gain("relu"))
        _zero_bias(module)
    elif isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        _zero_bias(module)
    elif isinstance(module, _NORMS):
        _norm_ones_zeros(module)


@mistake("06.init_weights", hint="the gain (calculate_gain('tanh')) is not the ReLU gain")
def init_weights_kaiming_tanh(module):
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        _zero_bias(module)
    elif isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="tanh")
        _zero_bias(module)
    elif isinstance(module, _NORMS):
        _norm_ones_zeros(module)


@mistake("06.init_weights", hint="a normal distribution cut off")
def init_weights_truncated_normal(module):
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        _zero_bias(module)
    elif isinstance(module, nn.Conv2d):
        std = math.sqrt(2 / (module.out_channels * math.prod(module.kernel_size)))
        nn.init.trunc_normal_(module.weight, std=std, a=-2 * std, b=2 * std)
        _zero_bias(module)
    elif isinstance(module, _NORMS):
        _norm_ones_zeros(module)


@mistake("06.init_weights", hint="never assign to them")
def init_weights_patches_init(module):
    """Replaces nn.init's function to add a default gain (for every later caller too)."""
    original = nn.init.xavier_uniform_
    nn.init.xavier_uniform_ = lambda tensor, gain=1.0: original(tensor, gain)
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        _zero_bias(module)
    elif isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        _zero_bias(module)
    elif isinstance(module, _NORMS):
        _norm_ones_zeros(module)


@correct("06.init_weights")
def init_weights_match(module):
    """A match statement on the type, the fans from torch's own helper, .data written."""
    match module:
        case nn.Linear():
            fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(module.weight)
            bound = math.sqrt(6 / (fan_in + fan_out))
            module.weight.data.uniform_(-bound, bound)
            if module.bias is not None:
                module.bias.data.zero_()
        case nn.Conv2d():
            # leaky_relu with torch's default slope 0.01: gain sqrt(2 / 1.0001), ReLU's to 1e-4
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="leaky_relu")
            if module.bias is not None:
                module.bias.data.zero_()
        case nn.BatchNorm1d() | nn.BatchNorm2d() | nn.BatchNorm3d() | nn.LayerNorm():
            if module.weight is not None:
                module.weight.data.fill_(1.0)
            if module.bias is not None:
                module.bias.data.fill_(0.0)
        case _:
            pass


@functools.singledispatch
def init_weights_dispatch(module):
    """functools.singledispatch on the module's class (subclasses dispatch to their base)."""


@init_weights_dispatch.register
def _(module: nn.Linear):
    nn.init.xavier_uniform_(module.weight)
    _zero_bias(module)


@init_weights_dispatch.register
def _(module: nn.Conv2d):
    std = math.sqrt(2 / nn.init._calculate_fan_in_and_fan_out(module.weight)[1])
    nn.init.trunc_normal_(module.weight, std=std)  # cut at ±2 (absolute): ±30 std here
    _zero_bias(module)


@init_weights_dispatch.register(nn.modules.batchnorm._BatchNorm)
@init_weights_dispatch.register(nn.LayerNorm)
def _(module):
    _norm_ones_zeros(module)


correct("06.init_weights")(init_weights_dispatch)


# == 06.apply_order =============================================================================


def _post_order_names(module, prefix=""):
    names = []
    for name, child in module.named_children():
        names += _post_order_names(child, f"{prefix}.{name}" if prefix else name)
    return [*names, prefix]


@correct("06.apply_order")
def apply_order_recursive(model):
    return _post_order_names(model)


@correct("06.apply_order")
def apply_order_by_id(model):
    names = {id(m): n for n, m in model.named_modules()}
    visited = []
    model.apply(visited.append)
    return [names[id(m)] for m in visited]


@correct("06.apply_order")
def apply_order_stack(model):
    """Two stacks: a reversed pre-order with the children pushed in order is a post-order
    read backwards."""
    stack, out = [("", model)], []
    while stack:
        prefix, module = stack.pop()
        out.append(prefix)
        for name, child in module.named_children():
            stack.append((f"{prefix}.{name}" if prefix else name, child))
    return out[::-1]


@mistake("06.apply_order", hint="That is named_modules() order (pre-order")
def apply_order_named_modules(model):
    return [name for name, _ in model.named_modules()]


@mistake("06.apply_order", hint="it reverses the siblings too")
def apply_order_reversed_named_modules(model):
    return [name for name, _ in model.named_modules()][::-1]


@mistake("06.apply_order", hint="not only the leaves")
def apply_order_leaves_only(model):
    names = {m: n for n, m in model.named_modules()}
    order = []
    model.apply(lambda m: order.append(names[m]) if not list(m.children()) else None)
    return order


@mistake("06.apply_order", hint="its qualified name is ''")
def apply_order_without_root(model):
    names = {m: n for n, m in model.named_modules()}
    order = []
    for child in model.children():
        child.apply(lambda m: order.append(names[m]))
    return order


@mistake("06.apply_order", hint="not the name under the parent alone")
def apply_order_short_names(model):
    def walk(module, own):
        names = []
        for name, child in module.named_children():
            names += walk(child, name)
        return [*names, own]

    return walk(model, "")


@mistake("06.apply_order", hint="Give names, not the modules")
def apply_order_modules(model):
    order = []
    model.apply(order.append)
    return order


@mistake("06.apply_order", hint="These are class names")
def apply_order_class_names(model):
    order = []
    model.apply(lambda m: order.append(type(m).__name__))
    return order


@mistake("06.apply_order", hint="not '.out'")
def apply_order_leading_dot(model):
    def walk(module, prefix):
        names = []
        for name, child in module.named_children():
            names += walk(child, prefix + "." + name)
        return [*names, prefix]

    return walk(model, "")


@mistake("06.apply_order", hint="level by level (breadth first)")
def apply_order_breadth_first(model):
    out, queue = [], deque([("", model)])
    while queue:
        prefix, module = queue.popleft()
        out.append(prefix)
        for name, child in module.named_children():
            queue.append((f"{prefix}.{name}" if prefix else name, child))
    return out[::-1]


@mistake("06.apply_order", hint="Those are the names sorted alphabetically")
def apply_order_reverse_sorted(model):
    """Reverse alphabetical order puts 'body.1.proj' before 'body.1' before 'body': children
    before parents, but siblings by name."""
    return sorted((name for name, _ in model.named_modules()), reverse=True)


@mistake("06.apply_order", hint="Deepest first is not apply's order")
def apply_order_deepest_first(model):
    names = [name for name, _ in model.named_modules()]
    return sorted(names, key=lambda n: -(n.count(".") + 1 if n else 0))


@mistake("06.apply_order", hint="not as attributes or hooks on the modules")
def apply_order_tags_the_modules(model):
    for name, module in model.named_modules():
        module.qualified_name = name  # left on the caller's modules
    order = []
    model.apply(lambda m: order.append(m.qualified_name))
    return order


@mistake("06.apply_order", hint="Return a list (the task asks for list[str])")
def apply_order_generator(model):
    names = {m: n for n, m in model.named_modules()}
    visited = []
    model.apply(visited.append)
    return (names[m] for m in visited)


# == 06.preorder_apply ===========================================================================


@correct("06.preorder_apply")
def preorder_apply_stack(module, fn):
    stack = [module]
    while stack:
        current = stack.pop()
        fn(current)
        stack.extend(reversed(list(current.children())))
    return module


@correct("06.preorder_apply")
def preorder_apply_modules(module, fn):
    for m in module.modules():  # pre-order, each once (no shared submodules)
        fn(m)
    return module


@correct("06.preorder_apply")
def preorder_apply_via_named_children(module, fn):
    fn(module)
    for _, child in module.named_children():
        preorder_apply_via_named_children(child, fn)
    return module


@mistake("06.preorder_apply", hint="Call fn(module) before the loop over the children")
def preorder_apply_post_order(module, fn):
    for child in module.children():
        preorder_apply_post_order(child, fn)
    fn(module)
    return module


@mistake("06.preorder_apply", hint="Recurse over module.children()")
def preorder_apply_recurses_modules(module, fn):
    fn(module)
    for m in module.modules():
        if m is not module:
            preorder_apply_recurses_modules(m, fn)
    return module


@mistake("06.preorder_apply", hint="calls itself without end")
def preorder_apply_recurses_modules_with_itself(module, fn):
    fn(module)
    for m in module.modules():  # the first is module itself
        preorder_apply_recurses_modules_with_itself(m, fn)
    return module


@mistake("06.preorder_apply", hint="End with `return module`")
def preorder_apply_returns_none(module, fn):
    fn(module)
    for child in module.children():
        preorder_apply_returns_none(child, fn)


@mistake("06.preorder_apply", hint="The children come in reverse")
def preorder_apply_stack_unreversed(module, fn):
    stack = [module]
    while stack:
        current = stack.pop()
        fn(current)
        stack.extend(current.children())  # the last child is popped first
    return module


@mistake("06.preorder_apply", hint="level by level (breadth first, a queue)")
def preorder_apply_queue(module, fn):
    queue = deque([module])
    while queue:
        current = queue.popleft()
        fn(current)
        queue.extend(current.children())
    return module


@mistake("06.preorder_apply", hint="The module itself was never given to fn")
def preorder_apply_skips_root(module, fn):
    for child in module.children():
        fn(child)
        preorder_apply_skips_root(child, fn)
    return module


@mistake("06.preorder_apply", hint="Only the model and its direct children were visited")
def preorder_apply_one_level(module, fn):
    fn(module)
    for child in module.children():
        fn(child)
    return module


@mistake("06.preorder_apply", hint="Only modules without children were given to fn")
def preorder_apply_leaves_only(module, fn):
    children = list(module.children())
    if not children:
        fn(module)
    for child in children:
        preorder_apply_leaves_only(child, fn)
    return module


@mistake("06.preorder_apply", hint="child.apply(fn) is Module.apply")
def preorder_apply_children_apply(module, fn):
    fn(module)
    for child in module.children():
        child.apply(fn)  # post-order below the root
    return module


@mistake("06.preorder_apply", hint="Call fn with the module alone")
def preorder_apply_passes_names(module, fn):
    for name, m in module.named_modules():
        fn(name, m)
    return module


# == 06.hooks_by_type ============================================================================


@correct("06.hooks_by_type")
def register_hooks_by_type_apply(model, cls, hook):
    handles = []

    def visit(module):
        if isinstance(module, cls):
            handles.append(module.register_forward_hook(hook))

    model.apply(visit)
    return handles


@correct("06.hooks_by_type")
def register_hooks_by_type_named_modules(model, cls, hook):
    handles = []
    for _, module in model.named_modules():
        if isinstance(module, cls):
            handles.append(module.register_forward_hook(hook, prepend=True))
    return handles


@correct("06.hooks_by_type")
def register_hooks_by_type_wrapped(model, cls, hook):
    @functools.wraps(hook)
    def forward_hook(module, args, output):
        return hook(module, args, output)

    return [m.register_forward_hook(forward_hook) for m in model.modules() if isinstance(m, cls)]


@mistake("06.hooks_by_type", hint="which subclasses pass, not type(module) is cls")
def register_hooks_by_type_exact_type(model, cls, hook):
    return [m.register_forward_hook(hook) for m in model.modules() if type(m) is cls]


@mistake("06.hooks_by_type", hint="The model itself is an instance of")
def register_hooks_by_type_skips_root(model, cls, hook):
    return [
        m.register_forward_hook(hook) for n, m in model.named_modules() if n and isinstance(m, cls)
    ]


@mistake("06.hooks_by_type", hint="These are forward PRE-hooks")
def register_hooks_by_type_pre_hooks(model, cls, hook):
    return [m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, cls)]


@mistake("06.hooks_by_type", hint="That is one handle, the last one")
def register_hooks_by_type_one_handle(model, cls, hook):
    handle = None
    for m in model.modules():
        if isinstance(m, cls):
            handle = m.register_forward_hook(hook)
    return handle


@mistake("06.hooks_by_type", hint="Return a list, not a generator")
def register_hooks_by_type_generator(model, cls, hook):
    return (m.register_forward_hook(hook) for m in model.modules() if isinstance(m, cls))


@mistake("06.hooks_by_type", hint="model.children() stops at depth 1")
def register_hooks_by_type_children(model, cls, hook):
    return [m.register_forward_hook(hook) for m in [model, *model.children()] if isinstance(m, cls)]


@mistake("06.hooks_by_type", hint="A global hook")
def register_hooks_by_type_global(model, cls, hook):
    from torch.nn.modules.module import register_module_forward_hook

    def global_hook(module, args, output):
        if isinstance(module, cls):
            return hook(module, args, output)
        return None

    return [register_module_forward_hook(global_hook)]


@mistake("06.hooks_by_type", hint="register it once per module")
def register_hooks_by_type_twice(model, cls, hook):
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, cls)]
    model.apply(lambda m: m.register_forward_hook(hook) if isinstance(m, cls) else None)
    return handles


@mistake("06.hooks_by_type", hint="Hooks went on modules that are not instances of")
def register_hooks_by_type_every_module(model, cls, hook):
    return [m.register_forward_hook(hook) for m in model.modules()]


@mistake("06.hooks_by_type", hint="no with_kwargs=True")
def register_hooks_by_type_with_kwargs(model, cls, hook):
    return [
        m.register_forward_hook(hook, with_kwargs=True)
        for m in model.modules()
        if isinstance(m, cls)
    ]


@mistake("06.hooks_by_type", hint="Return a list, as the task asks")
def register_hooks_by_type_tuple(model, cls, hook):
    return tuple(m.register_forward_hook(hook) for m in model.modules() if isinstance(m, cls))


@mistake("06.hooks_by_type", hint="not a dict")
def register_hooks_by_type_dict(model, cls, hook):
    return {
        n: m.register_forward_hook(hook) for n, m in model.named_modules() if isinstance(m, cls)
    }


# == 06.name_repr ================================================================================


def _show_name(module):
    return f"name={module.name}"


@correct("06.name_repr")
def add_name_repr_partial(module):
    if hasattr(module, "name"):
        module.extra_repr = functools.partial(_show_name, module)


@correct("06.name_repr")
def add_name_repr_closure(module):
    try:
        name = module.name
    except AttributeError:
        return
    module.extra_repr = lambda: "name=" + str(name)


@correct("06.name_repr")
def add_name_repr_method_type(module):
    if hasattr(module, "name"):
        module.__dict__["extra_repr"] = types.MethodType(_show_name, module)


@mistake("06.name_repr", hint="An assignment to a class")
def add_name_repr_patches_class(module):
    if hasattr(module, "name"):
        type(module).extra_repr = _show_name


@mistake("06.name_repr", hint="`Module.extra_repr` was replaced")
def add_name_repr_patches_module(module):
    if hasattr(module, "name"):
        nn.Module.extra_repr = lambda self: f"name={self.name}" if hasattr(self, "name") else ""


@mistake("06.name_repr", hint="Without quotes")
def add_name_repr_quotes(module):
    if hasattr(module, "name"):
        module.extra_repr = lambda: f"name={module.name!r}"


@mistake("06.name_repr", hint="The new extra_repr replaces the module's own")
def add_name_repr_appends(module):
    if hasattr(module, "name"):
        old = module.extra_repr()
        module.extra_repr = lambda: f"{old}, name={module.name}" if old else f"name={module.name}"


@mistake("06.name_repr", hint="assign a function that returns the text, not the text itself")
def add_name_repr_string(module):
    if hasattr(module, "name"):
        module.extra_repr = f"name={module.name}"


@mistake("06.name_repr", hint="A function stored on an instance is not bound")
def add_name_repr_unbound(module):
    if hasattr(module, "name"):
        module.extra_repr = _show_name  # called without self


@mistake("06.name_repr", hint="test hasattr(module, 'name') before assigning one")
def add_name_repr_every_module(module):
    module.extra_repr = lambda: f"name={module.name}"


@mistake("06.name_repr", hint="getattr(module, 'name', None) would show name=None")
def add_name_repr_getattr_default(module):
    module.extra_repr = lambda: f"name={getattr(module, 'name', None)}"


@mistake("06.name_repr", hint="which is falsy")
def add_name_repr_truthy(module):
    name = getattr(module, "name", None)
    if name:
        module.extra_repr = lambda: f"name={name}"


@mistake("06.name_repr", hint="This module's name is None, and it has one")
def add_name_repr_not_none(module):
    if getattr(module, "name", None) is not None:
        module.extra_repr = functools.partial(_show_name, module)


@mistake("06.name_repr", hint="Leave __repr__ and the module's class alone")
def add_name_repr_new_subclass(module):
    """Moves the instance to a new subclass of its own (which prints under its own name)."""
    if hasattr(module, "name"):
        module.__class__ = type(
            f"Named{type(module).__name__}", (type(module),), {"extra_repr": _show_name}
        )


@mistake("06.name_repr", hint="not 'name' in vars(module)")
def add_name_repr_instance_dict(module):
    if "name" in vars(module):
        module.extra_repr = lambda: f"name={module.name}"


@mistake("06.name_repr", hint="A name need not be a str")
def add_name_repr_concatenates(module):
    if hasattr(module, "name"):
        module.extra_repr = lambda: "name=" + module.name


@mistake("06.name_repr", hint="repr() looks __repr__ up on the class")
def add_name_repr_instance_repr(module):
    if hasattr(module, "name"):
        module.__repr__ = lambda: f"{type(module).__name__}(name={module.name})"
