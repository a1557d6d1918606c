"""Lesson 05, ``05.summary``: realistic mistakes and correct alternatives."""

from __future__ import annotations

import contextlib
import functools
from collections import OrderedDict
from copy import deepcopy

import torch
from torch.nn.modules.module import register_module_forward_hook

from catalogue import correct, mistake
from helpers.hooks import Hooks


def _row(name, module, output):
    return {
        "name": name,
        "type": type(module).__name__,
        "output_shape": tuple(output.shape),
        "num_params": sum(p.numel() for p in module.parameters()),
    }


def _leaves(model):
    return [(n, m) for n, m in model.named_modules() if not list(m.children())]


def _summary_with_rows(model, example_input, row):
    """A right summary whose rows come from ``row(name, module, args, output)``: the
    mistakes below that get one field of a row wrong are written with it."""
    rows = []
    with Hooks() as hooks:
        for n, m in _leaves(model):
            hooks.forward(m, lambda m, a, o, n=n: rows.append(row(n, m, a, o)))
        modes = {m: m.training for m in model.modules()}
        model.eval()
        with torch.no_grad():
            model(example_input)
        for m, t in modes.items():
            m.training = t
    return rows


# -- mistakes ---------------------------------------------------------------------------------


@mistake("05.summary", hint="Hook only the leaves")
def summary_every_module(model, example_input):
    rows, handles = [], []
    for name, module in model.named_modules():  # containers and the root too
        handles.append(
            module.register_forward_hook(lambda m, a, o, name=name: rows.append(_row(name, m, o)))
        )
    modes = {m: m.training for m in model.modules()}
    model.eval()
    with torch.no_grad():
        model(example_input)
    for h in handles:
        h.remove()
    for m, t in modes.items():
        m.training = t
    return rows


@mistake("05.summary", hint="not by walking named_modules() afterwards")
def summary_walks_modules_after(model, example_input):
    shapes = {}
    handles = [
        m.register_forward_hook(lambda m, a, o: shapes.__setitem__(m, tuple(o.shape)))
        for _, m in _leaves(model)
    ]
    modes = {m: m.training for m in model.modules()}
    model.eval()
    with torch.no_grad():
        model(example_input)
    for h in handles:
        h.remove()
    for m, t in modes.items():
        m.training = t
    return [
        {
            "name": n,
            "type": type(m).__name__,
            "output_shape": shapes.get(m, ()),
            "num_params": sum(p.numel() for p in m.parameters()),
        }
        for n, m in _leaves(model)
    ]


@mistake("05.summary", hint="a dict keyed by name or module keeps only one")
def summary_dict_per_module(model, example_input):
    rows = {}
    handles = [
        m.register_forward_hook(lambda m, a, o, n=n: rows.__setitem__(n, _row(n, m, o)))
        for n, m in _leaves(model)
    ]
    modes = {m: m.training for m in model.modules()}
    model.eval()
    with torch.no_grad():
        model(example_input)
    for h in handles:
        h.remove()
    for m, t in modes.items():
        m.training = t
    return list(rows.values())


@mistake("05.summary", hint="Call model.eval() before the forward pass")
def summary_forgets_eval(model, example_input):
    rows = []
    handles = [
        m.register_forward_hook(lambda m, a, o, n=n: rows.append(_row(n, m, o)))
        for n, m in _leaves(model)
    ]
    with torch.no_grad():
        model(example_input)
    for h in handles:
        h.remove()
    return rows


@mistake("05.summary", hint="Run the forward pass under `with torch.no_grad():`")
def summary_tracks_gradients(model, example_input):
    rows = []
    handles = [
        m.register_forward_hook(lambda m, a, o, n=n: rows.append(_row(n, m, o)))
        for n, m in _leaves(model)
    ]
    modes = {m: m.training for m in model.modules()}
    model.eval()
    model(example_input)
    for h in handles:
        h.remove()
    for m, t in modes.items():
        m.training = t
    return rows


@mistake("05.summary", hint="model.train() (or model.train(was_training)) sets EVERY submodule")
def summary_restores_root_mode_only(model, example_input):
    rows = []
    handles = [
        m.register_forward_hook(lambda m, a, o, n=n: rows.append(_row(n, m, o)))
        for n, m in _leaves(model)
    ]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(example_input)
    for h in handles:
        h.remove()
    model.train(was_training)
    return rows


@mistake("05.summary", hint="Keep every handle the register_* calls return")
def summary_leaves_hooks(model, example_input):
    rows = []
    for n, m in _leaves(model):
        m.register_forward_hook(lambda m, a, o, n=n: rows.append(_row(n, m, o)))
    modes = {m: m.training for m in model.modules()}
    model.eval()
    with torch.no_grad():
        model(example_input)
    for m, t in modes.items():
        m.training = t
    return rows


@mistake("05.summary", hint="Count every parameter, trainable or not")
def summary_counts_trainable_only(model, example_input):
    def row(name, module, args, output):
        trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
        return {**_row(name, module, output), "num_params": trainable}

    return _summary_with_rows(model, example_input, row)


@mistake("05.summary", hint="type(module).__name__ is the class's name as a str")
def summary_type_is_the_class(model, example_input):
    def row(name, module, args, output):
        return {**_row(name, module, output), "type": type(module)}

    return _summary_with_rows(model, example_input, row)


@mistake("05.summary", hint="tuple(output.shape) is a tuple of ints; a list")
def summary_shape_as_list(model, example_input):
    def row(name, module, args, output):
        return {**_row(name, module, output), "output_shape": list(output.shape)}

    return _summary_with_rows(model, example_input, row)


@mistake("05.summary", hint="Record the shape of the module's OUTPUT")
def summary_input_shape(model, example_input):
    def row(name, module, args, output):
        return {**_row(name, module, output), "output_shape": tuple(args[0].shape)}

    return _summary_with_rows(model, example_input, row)


@mistake("05.summary", hint="Use the dotted names named_modules() gives")
def summary_short_names(model, example_input):
    rows = []
    with Hooks() as hooks:
        for n, m in _leaves(model):
            short = n.rsplit(".", 1)[-1]
            hooks.forward(m, lambda m, a, o, short=short: rows.append(_row(short, m, o)))
        modes = {m: m.training for m in model.modules()}
        model.eval()
        with torch.no_grad():
            model(example_input)
        for m, t in modes.items():
            m.training = t
    return rows


@mistake("05.summary", hint="Register the hooks first, then call model(example_input) once")
def summary_runs_twice(model, example_input):
    modes = {m: m.training for m in model.modules()}
    model.eval()
    with torch.no_grad():
        model(example_input)  # "warm up" to see that it runs
        rows = []
        with Hooks() as hooks:
            for n, m in _leaves(model):
                hooks.forward(m, lambda m, a, o, n=n: rows.append(_row(n, m, o)))
            model(example_input)
    for m, t in modes.items():
        m.training = t
    return rows


@mistake("05.summary", hint="A module with no children is a leaf, the model itself included")
def summary_skips_the_root(model, example_input):
    rows = []
    with Hooks() as hooks:
        for n, m in _leaves(model):
            if n:  # "the root is the model, not a layer"
                hooks.forward(m, lambda m, a, o, n=n: rows.append(_row(n, m, o)))
        modes = {m: m.training for m in model.modules()}
        model.eval()
        with torch.no_grad():
            model(example_input)
        for m, t in modes.items():
            m.training = t
    return rows


@mistake("05.summary", hint="Leave the model where it is")
def summary_moves_the_model_to_the_cpu(model, example_input):
    model.cpu()  # "the summary runs on the CPU"
    rows = []
    with Hooks() as hooks:
        for n, m in _leaves(model):
            hooks.forward(m, lambda m, a, o, n=n: rows.append(_row(n, m, o)))
        modes = {m: m.training for m in model.modules()}
        model.eval()
        with torch.no_grad():
            model(example_input.cpu())
        for m, t in modes.items():
            m.training = t
    return rows


@mistake("05.summary", hint="Do not freeze parameters to avoid gradients")
def summary_freezes_instead_of_no_grad(model, example_input):
    rows = []
    with Hooks() as hooks:
        for n, m in _leaves(model):
            hooks.forward(m, lambda m, a, o, n=n: rows.append(_row(n, m, o)))
        modes = {m: m.training for m in model.modules()}
        model.eval()
        model.requires_grad_(False)
        with torch.no_grad():
            model(example_input)
        for m, t in modes.items():
            m.training = t
    return rows


@mistake("05.summary", hint="A leaf called twice has the same parameters at each call")
def summary_counts_each_parameter_once(model, example_input):
    counted = set()

    def row(name, module, args, output):
        fresh = [p for p in module.parameters() if p not in counted]  # "no double count"
        counted.update(fresh)
        return {**_row(name, module, output), "num_params": sum(p.numel() for p in fresh)}

    return _summary_with_rows(model, example_input, row)


@mistake("05.summary", hint="Buffers are not parameters")
def summary_counts_the_state_dict(model, example_input):
    def row(name, module, args, output):
        values = module.state_dict().values()
        return {**_row(name, module, output), "num_params": sum(v.numel() for v in values)}

    return _summary_with_rows(model, example_input, row)


# -- correct alternatives ---------------------------------------------------------------------


@correct("05.summary")
def summary_with_a_global_hook(model, example_input):
    """One global forward hook, filtered to the model's leaves, under inference_mode."""
    names = {m: n for n, m in model.named_modules() if not list(m.children())}
    rows = []

    def hook(module, args, output):
        if module in names:
            rows.append(_row(names[module], module, output))

    modes = [(m, m.training) for m in model.modules()]
    handle = register_module_forward_hook(hook)
    try:
        model.eval()
        with torch.inference_mode():
            model(example_input)
    finally:
        handle.remove()
        for m, training in modes:
            m.training = training
    return rows


@correct("05.summary")
def summary_with_partial_and_exit_stack(model, example_input):
    """functools.partial hooks owned by an ExitStack; modes restored by name."""
    rows = []

    def record(name, module, args, output):
        rows.append(
            {
                "name": name,
                "type": module.__class__.__name__,
                "output_shape": output.shape,  # a torch.Size is a tuple of ints
                "num_params": sum(p.numel() for p in module.parameters(recurse=False)),
            }
        )

    modes = {name: m.training for name, m in model.named_modules()}
    with contextlib.ExitStack() as stack:
        for name, m in model.named_modules():
            if len(m._modules) == 0:
                handle = m.register_forward_hook(functools.partial(record, name))
                stack.callback(handle.remove)
        model.eval()
        with torch.no_grad():
            model(example_input)
    for name, m in model.named_modules():
        m.training = modes[name]
    return rows


@correct("05.summary")
def summary_with_helpers_hooks_and_pre_hooks(model, example_input):
    """Name pushed by a pre-hook, row completed by the forward hook; Hooks owns both."""
    rows = []
    with Hooks() as hooks:
        for name, m in model.named_modules():
            if not any(True for _ in m.children()):
                hooks.forward_pre(m, lambda m, a, name=name: rows.append({"name": name}))
                hooks.forward(
                    m,
                    lambda m, a, o: rows[-1].update(
                        type=type(m).__name__,
                        output_shape=tuple(int(d) for d in o.shape),
                        num_params=sum(p.numel() for p in m.parameters()),
                    ),
                )
        training = {m: m.training for m in model.modules()}
        try:
            with torch.no_grad():
                model.eval()(example_input)
        finally:
            for m, flag in training.items():
                m.training = flag
    return rows


@correct("05.summary")
def summary_with_kwargs_hooks(model, example_input):
    """Hooks registered with with_kwargs=True and always_call=True; a set_grad_enabled block."""
    rows = []
    leaves = [(n, m) for n, m in model.named_modules() if not list(m.named_children())]
    handles = [
        m.register_forward_hook(
            lambda m, a, k, o, n=n: rows.append(_row(n, m, o)), with_kwargs=True, always_call=True
        )
        for n, m in leaves
    ]
    modes = {id(m): (m, m.training) for m in model.modules()}
    try:
        model.eval()
        with torch.set_grad_enabled(False):
            model(example_input)
    finally:
        for h in handles:
            h.remove()
        for m, flag in modes.values():
            m.training = flag
    return rows


@correct("05.summary")
def summary_of_a_deep_copy(model, example_input):
    """The pass runs on copy.deepcopy(model) in eval mode: the caller's model is never
    touched, so nothing needs restoring."""
    copy = deepcopy(model).eval()
    rows = []
    with Hooks() as hooks:
        for n, m in _leaves(copy):
            hooks.forward(m, lambda m, a, o, n=n: rows.append(_row(n, m, o)))
        with torch.no_grad():
            copy(example_input)
    return rows


@correct("05.summary")
def summary_freezing_then_restoring(model, example_input):
    """No autograd graph because nothing requires grad: every parameter frozen for the pass,
    each one's requires_grad given back afterwards (OrderedDict rows; p.nelement())."""
    rows = []

    def record(name, module, args, output):
        rows.append(
            OrderedDict(
                name=name,
                type=type(module).__name__,
                output_shape=tuple(output.shape),
                num_params=sum(p.nelement() for p in module.parameters()),
            )
        )

    flags = [(p, p.requires_grad) for p in model.parameters()]
    modes = [(m, m.training) for m in model.modules()]
    handles = [m.register_forward_hook(functools.partial(record, n)) for n, m in _leaves(model)]
    try:
        model.eval().requires_grad_(False)
        model(example_input)
    finally:
        for h in handles:
            h.remove()
        for p, flag in flags:
            p.requires_grad_(flag)
        for m, training in modes:
            m.training = training
    return rows
