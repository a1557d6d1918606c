"""Lesson 04: mistakes learners make writing count_parameters, find_modules,
replace_modules and describe, and correct solutions written in other ways. Function names
say what is wrong or different."""

from __future__ import annotations

import copy
import functools
import itertools
import math
import operator
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from catalogue import correct, mistake

# -- 04.count_parameters: mistakes ------------------------------------------------------------


@mistake("04.count_parameters", hint="not the numbers in them")
def count_tensors(model, trainable_only=False):
    return len([p for p in model.parameters() if p.requires_grad or not trainable_only])


@mistake("04.count_parameters", hint="Buffers are not parameters (BatchNorm's")
def count_state_dict(model, trainable_only=False):
    return sum(v.numel() for v in model.state_dict().values())


@mistake("04.count_parameters", hint="counted twice")
def count_with_duplicates(model, trainable_only=False):
    return sum(
        p.numel()
        for _, p in model.named_parameters(remove_duplicate=False)
        if p.requires_grad or not trainable_only
    )


@mistake("04.count_parameters", hint="counts nested ones again")
def count_per_module(model, trainable_only=False):
    total = 0
    for module in model.modules():
        for p in module.parameters():
            if p.requires_grad or not trainable_only:
                total += p.numel()
    return total


@mistake("04.count_parameters", hint="With trainable_only=True count only")
def count_ignores_flag(model, trainable_only=False):
    return sum(p.numel() for p in model.parameters())


@mistake("04.count_parameters", hint="The test is inverted")
def count_inverted(model, trainable_only=False):
    total = 0
    for p in model.parameters():
        if trainable_only and p.requires_grad:
            continue
        total += p.numel()
    return total


@mistake("04.count_parameters", hint="frozen ones too")
def count_always_trainable(model, trainable_only=False):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@mistake("04.count_parameters", hint="for a tensor total, use .item()")
def count_as_tensor(model, trainable_only=False):
    sizes = [p.numel() for p in model.parameters() if p.requires_grad or not trainable_only]
    return torch.tensor(sizes, dtype=torch.long).sum()


@mistake("04.count_parameters", hint="np.prod(()) is 1.0")
def count_with_np_prod(model, trainable_only=False):
    return sum(
        np.prod(p.shape) for p in model.parameters() if p.requires_grad or not trainable_only
    )


@mistake("04.count_parameters", hint="0 for a model that has parameters")
def count_flag_compared(model, trainable_only=False):
    # reads "trainable_only" as "requires_grad must equal the flag": with the default
    # False it keeps only the frozen parameters
    return sum(p.numel() for p in model.parameters() if p.requires_grad == trainable_only)


@mistake("04.count_parameters", hint="changed the model it was given")
def count_switching_to_eval(model, trainable_only=False):
    model.eval()  # "nothing is trained while we count" (and the caller's model stays in eval)
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@mistake("04.count_parameters", hint="parameters_to_vector (torch.cat) fails on a model with no")
def count_with_parameters_to_vector(model, trainable_only=False):
    params = [p for p in model.parameters() if p.requires_grad or not trainable_only]
    return torch.nn.utils.parameters_to_vector(params).numel()  # torch.cat([]) raises


@mistake("04.count_parameters", hint="reduce() without a start value fails")
def count_with_reduce(model, trainable_only=False):
    sizes = (p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
    return functools.reduce(operator.add, sizes)  # no start value: fails on no parameters


@mistake("04.count_parameters", hint="unpacks each tensor's two rows")
def count_unpacking_parameters(model, trainable_only=False):
    # parameters() yields tensors: a (2, 3) weight unpacks into its two rows
    return sum(p.numel() for name, p in model.parameters() if p.requires_grad or not trainable_only)


@mistake("04.count_parameters", hint="do not ask the first parameter for a device or dtype")
def count_on_the_first_parameters_device(model, trainable_only=False):
    device = next(model.parameters()).device  # "keep the total on the model's device"
    total = torch.zeros((), dtype=torch.long, device=device)
    for p in model.parameters():
        if p.requires_grad or not trainable_only:
            total += p.numel()
    return int(total)


@mistake("04.count_parameters", hint="takes the model off the GPU")
def count_after_moving_to_cpu(model, trainable_only=False):
    model = model.cpu()  # "count on the CPU": moves the caller's model (a no-op on a laptop)
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@mistake("04.count_parameters", hint="parameters(), buffers() and children() do not")
def count_with_remove_duplicate(model, trainable_only=False):
    # "each shared parameter once", as named_parameters() was told in the lesson
    params = model.parameters(remove_duplicate=True)
    return sum(p.numel() for p in params if p.requires_grad or not trainable_only)


# -- 04.count_parameters: correct alternatives ------------------------------------------------


@correct("04.count_parameters")
def count_by_identity(model, trainable_only=False):
    """Each module's own parameters, deduplicated by identity; math.prod of the shape."""
    seen = {}
    for module in model.modules():
        for p in module.parameters(recurse=False):
            seen[id(p)] = p
    kept = [p for p in seen.values() if p.requires_grad or not trainable_only]
    return sum(math.prod(p.shape) for p in kept)


@correct("04.count_parameters")
def count_with_filter(model, trainable_only=False):
    """filter() and a loop; torch.numel; an explicit int()."""
    params = model.parameters()
    if trainable_only:
        params = filter(lambda p: p.requires_grad, params)
    total = 0
    for p in params:
        total += torch.numel(p)
    return int(total)


@correct("04.count_parameters")
def count_via_tensor_item(model, trainable_only=False):
    """A long tensor of sizes summed, then .item() (an int for an integer tensor)."""
    sizes = [p.nelement() for p in model.parameters() if p.requires_grad or not trainable_only]
    return torch.tensor(sizes, dtype=torch.long).sum().item()


@correct("04.count_parameters")
def count_over_a_set(model, trainable_only=False):
    """Every place of every parameter, deduplicated by a set (a Parameter hashes by id)."""
    unique = {p for _, p in model.named_parameters(remove_duplicate=False)}
    return sum(p.numel() for p in unique if p.requires_grad >= trainable_only)


@correct("04.count_parameters")
def count_recursively_numpy_int(model, trainable_only=False):
    """A recursion over each module's own _parameters with a set of ids; a NumPy integer."""
    seen = set()

    def own(module):
        total = 0
        for p in module._parameters.values():
            if p is not None and id(p) not in seen:
                seen.add(id(p))
                total += p.numel() if p.requires_grad or not trainable_only else 0
        return total + sum(own(child) for child in module.children())

    return np.int64(own(model))


# -- 04.count_parameters: more correct alternatives (second review) -----------------------------


@correct("04.count_parameters")
def count_with_math_prod(model, trainable_only=False):
    """math.prod of each shape (1 for a 0-dim parameter)."""
    return sum(
        math.prod(p.shape) for p in model.parameters() if p.requires_grad or not trainable_only
    )


@correct("04.count_parameters")
def count_own_parameters_by_id(model, trainable_only=False):
    """Each module's own parameters (recurse=False), gathered in a dict by id."""
    unique = {}
    for module in model.modules():
        for p in module.parameters(recurse=False):
            unique[id(p)] = p
    return sum(p.numel() for p in unique.values() if not trainable_only or p.requires_grad)


@correct("04.count_parameters")
def count_with_reduce_and_start(model, trainable_only=False):
    """functools.reduce(operator.mul, shape, 1) over named_parameters(remove_duplicate=True)."""
    total = 0
    for _, p in model.named_parameters(remove_duplicate=True):
        if trainable_only and not p.requires_grad:
            continue
        total += functools.reduce(operator.mul, p.shape, 1)
    return total


@correct("04.count_parameters")
def count_from_state_dict_keep_vars(model, trainable_only=False):
    """state_dict(keep_vars=True) keeps the Parameters: buffers filtered out by type, shared
    ones by id; nelement()."""
    unique = {
        id(v): v for v in model.state_dict(keep_vars=True).values() if isinstance(v, nn.Parameter)
    }
    return sum(v.nelement() for v in unique.values() if v.requires_grad or not trainable_only)


@correct("04.count_parameters")
def count_with_map_numel(model, trainable_only=False):
    """sum(map(torch.numel, ...)) over a filter() of the parameters."""
    params = model.parameters()
    if trainable_only:
        params = filter(lambda p: p.requires_grad, params)
    return sum(map(torch.numel, params))


@correct("04.count_parameters")
def count_flattened_lengths(model, trainable_only: bool = False) -> int:
    """The length of each flattened parameter, reshape(-1).shape[0]."""
    n = 0
    for p in model.parameters():
        if p.requires_grad or not trainable_only:
            n += p.reshape(-1).shape[0]
    return n


@correct("04.count_parameters")
def count_on_a_deep_copy(model, trainable_only=False):
    """Counted on copy.deepcopy(model) (wasteful but right: a deep copy keeps the sharing)."""
    twin = copy.deepcopy(model)
    return sum(p.numel() for p in twin.parameters() if p.requires_grad or not trainable_only)


@correct("04.count_parameters")
def count_with_a_torch_sum(model, trainable_only=False):
    """The sizes summed by a CPU tensor, turned into an int; 0 without parameters."""
    sizes = [p.numel() for p in model.parameters() if p.requires_grad or not trainable_only]
    return int(torch.tensor(sizes, dtype=torch.long).sum()) if sizes else 0


# -- 04.find_modules: mistakes ----------------------------------------------------------------


@mistake("04.find_modules", hint="not type(m) == cls")
def find_exact_type(model, cls):
    return [name for name, m in model.named_modules() if type(m) == cls]  # noqa: E721


@mistake("04.find_modules", hint="do not pass remove_duplicate=False")
def find_with_duplicates(model, cls):
    return [name for name, m in model.named_modules(remove_duplicate=False) if isinstance(m, cls)]


@mistake("04.find_modules", hint="The root counts too")
def find_without_root(model, cls):
    return [name for name, m in model.named_modules() if name and isinstance(m, cls)]


@mistake("04.find_modules", hint="leading dot")
def find_leading_dot(model, cls):
    names = ["" if isinstance(model, cls) else None]

    def walk(module, prefix):
        for name, child in module.named_children():
            full = prefix + "." + name
            if isinstance(child, cls):
                names.append(full)
            walk(child, full)

    walk(model, "")
    return [n for n in names if n is not None]


@mistake("04.find_modules", hint="Search all levels")
def find_children_only(model, cls):
    return [name for name, m in model.named_children() if isinstance(m, cls)]


@mistake("04.find_modules", hint="do not sort the names")
def find_sorted(model, cls):
    return sorted(name for name, m in model.named_modules() if isinstance(m, cls))


@mistake("04.find_modules", hint="returned modules, not their names")
def find_returns_modules(model, cls):
    return [m for m in model.modules() if isinstance(m, cls)]


@mistake("04.find_modules", hint="listed under its first name")
def find_last_name_wins(model, cls):
    names = {}
    for name, m in model.named_modules(remove_duplicate=False):
        names[m] = name  # a later name overwrites the first one
    return [name for m, name in names.items() if isinstance(m, cls)]


@mistake("04.find_modules", hint="wrap it in list(...)")
def find_generator(model, cls):
    return (name for name, m in model.named_modules() if isinstance(m, cls))


@mistake("04.find_modules", hint="The function keeps calling itself")
def find_recursing_on_model(model, cls):
    names = [""] if isinstance(model, cls) else []
    for name, child in model.named_children():  # noqa: B007 (the bug: child is unused)
        below = find_recursing_on_model(model, cls)  # meant: find_...(child, cls)
        names += [f"{name}.{n}" if n else name for n in below]
    return names


@mistake("04.find_modules", hint="a walk of your own must skip the modules it has already met")
def find_walk_without_memo(model, cls):
    found = []

    def walk(module, prefix):
        if isinstance(module, cls):
            found.append(prefix)
        for name, child in module.named_children():  # a block shared by two parents: twice
            walk(child, f"{prefix}.{name}" if prefix else name)

    walk(model, "")
    return found


@mistake("04.find_modules", hint="full dotted name from the root")
def find_child_names_only(model, cls):
    found = [""] if isinstance(model, cls) else []

    def walk(module):
        for name, child in module.named_children():
            if isinstance(child, cls):
                found.append(name)  # "0", where "encoder.0" is meant
            walk(child)

    walk(model)
    return found


@mistake("04.find_modules", hint="not children before their parent")
def find_post_order(model, cls):
    found, seen = [], set()

    def walk(module, prefix):
        if id(module) in seen:
            return
        seen.add(id(module))
        for name, child in module.named_children():
            walk(child, f"{prefix}.{name}" if prefix else name)
        if isinstance(module, cls):  # after the children: post-order
            found.append(prefix)

    walk(model, "")
    return found


@mistake("04.find_modules", hint="not the name of its class")
def find_class_names(model, cls):
    return [type(m).__name__ for m in model.modules() if isinstance(m, cls)]


@mistake("04.find_modules", hint="modules() and children() yield the modules alone")
def find_unpacking_modules(model, cls):
    return [name for name, m in model.modules() if isinstance(m, cls)]  # no names there


@mistake("04.find_modules", hint="takes the model off the GPU")
def find_after_moving_to_cpu(model, cls):
    model.to("cpu")  # "inspect on the CPU"
    return [name for name, m in model.named_modules() if isinstance(m, cls)]


# -- 04.find_modules: correct alternatives ----------------------------------------------------


@correct("04.find_modules")
def find_with_loop(model, cls):
    """An explicit loop with append."""
    found = []
    for name, module in model.named_modules():
        if isinstance(module, cls):
            found.append(name)
    return found


@correct("04.find_modules")
def find_recursive_walk(model, cls):
    """A pre-order walk over named_children with its own memo of visited modules."""
    found, seen = [], set()

    def walk(module, prefix):
        if id(module) in seen:
            return
        seen.add(id(module))
        if isinstance(module, cls):
            found.append(prefix)
        for name, child in module._modules.items():
            if child is not None:
                walk(child, f"{prefix}.{name}" if prefix else name)

    walk(model, "")
    return found


@correct("04.find_modules")
def find_with_stack(model, cls):
    """An explicit stack (children pushed in reverse) and a set of modules already seen."""
    found, seen, stack = [], set(), [("", model)]
    while stack:
        name, module = stack.pop()
        if module in seen:
            continue
        seen.add(module)
        if isinstance(module, cls):
            found.append(name)
        children = [(f"{name}.{n}" if name else n, c) for n, c in module.named_children()]
        stack.extend(reversed(children))
    return found


@correct("04.find_modules")
def find_with_filter_and_mro(model, cls):
    """filter() over named_modules(); cls found in the class's MRO (same as isinstance)."""
    return [
        name for name, _ in filter(lambda pair: cls in type(pair[1]).__mro__, model.named_modules())
    ]


# -- 04.find_modules: more correct alternatives (second review) ---------------------------------


@correct("04.find_modules")
def find_with_comprehension(model, cls):
    """One list comprehension over named_modules()."""
    return [name for name, m in model.named_modules() if isinstance(m, cls)]


@correct("04.find_modules")
def find_with_issubclass(model, cls):
    """issubclass(type(m), cls), list() of a generator expression."""
    return list(name for name, m in model.named_modules() if issubclass(type(m), cls))


@correct("04.find_modules")
def find_through_a_dict(model, cls):
    """dict(named_modules()) keeps their order; names are unique keys."""
    modules = dict(model.named_modules())
    return [name for name, m in modules.items() if isinstance(m, cls)]


@correct("04.find_modules")
def find_recursive_with_seen_ids(model, cls):
    """A recursive walk over named_children() with a set of ids already met."""
    found, seen = [], set()

    def walk(module, prefix):
        if id(module) in seen:
            return
        seen.add(id(module))
        if isinstance(module, cls):
            found.append(prefix)
        for name, child in module.named_children():
            walk(child, f"{prefix}.{name}" if prefix else name)

    walk(model, "")
    return found


@correct("04.find_modules")
def find_with_map_and_filter(model, cls):
    """map(itemgetter(0), filter(...)) over named_modules(memo=set(), prefix='')."""
    pairs = model.named_modules(memo=set(), prefix="")
    return list(map(operator.itemgetter(0), filter(lambda nm: isinstance(nm[1], cls), pairs)))


@correct("04.find_modules")
def find_with_stack_over_modules_dicts(model, cls):
    """An explicit stack over each module's _modules, children pushed in reverse."""
    found, seen, stack = [], set(), [("", model)]
    while stack:
        name, module = stack.pop()
        if module in seen:
            continue
        seen.add(module)
        if isinstance(module, cls):
            found.append(name)
        children = [
            (f"{name}.{key}" if name else key, child)
            for key, child in module._modules.items()
            if child is not None
        ]
        stack.extend(reversed(children))
    return found


@correct("04.find_modules")
def find_with_apply_then_order(model, cls):
    """apply() collects the matches (children first), named_modules() restores the order."""
    hits = set()
    model.apply(lambda m: hits.add(id(m)) if isinstance(m, cls) else None)
    return [name for name, m in model.named_modules() if id(m) in hits]


@correct("04.find_modules")
def find_on_a_deep_copy(model, cls):
    """Names read from copy.deepcopy(model): the same names, shared modules still shared."""
    twin = copy.deepcopy(model)
    return [name for name, m in twin.named_modules() if isinstance(m, cls)]


# -- 04.replace_modules: mistakes -------------------------------------------------------------


@mistake("04.replace_modules", hint="Only the direct children were replaced")
def replace_children_only(model, cls, factory):
    count = 0
    for name, child in list(model.named_children()):
        if isinstance(child, cls):
            setattr(model, name, factory(child))
            count += 1
    return count


@mistake("04.replace_modules", hint="collect the matches first")
def replace_recursing_into_new(model, cls, factory):
    count = 0
    for name, child in list(model.named_children()):
        if isinstance(child, cls):
            setattr(model, name, factory(child))
            count += 1
        count += replace_recursing_into_new(getattr(model, name), cls, factory)
    return count


@mistake("04.replace_modules", hint="while iterating modules()")
def replace_while_iterating(model, cls, factory):
    count = 0
    for module in model.modules():
        for name, child in module.named_children():
            if isinstance(child, cls):
                setattr(module, name, factory(child))
                count += 1
    return count


@mistake("04.replace_modules", hint="factory was called on the root model")
def replace_including_root(model, cls, factory):
    targets = [(name, m) for name, m in model.named_modules() if isinstance(m, cls)]
    for name, old in targets:
        model.set_submodule(name, factory(old))
    return len(targets)


@mistake("04.replace_modules", hint="adds a child literally named")
def replace_dotted_setattr(model, cls, factory):
    targets = [(name, m) for name, m in model.named_modules() if name and isinstance(m, cls)]
    for name, old in targets:
        setattr(model, name, factory(old))
    return len(targets)


@mistake("04.replace_modules", hint="A dict of submodules changed while a loop walked it")
def replace_dotted_setattr_live(model, cls, factory):
    count = 0
    for name, m in model.named_modules():
        if name and isinstance(m, cls):
            setattr(model, name, factory(m))
            count += 1
    return count


@mistake("04.replace_modules", hint="The root is not replaced, so it does not count")
def replace_counts_root(model, cls, factory):
    matches = [(name, m) for name, m in model.named_modules() if isinstance(m, cls)]
    for name, old in matches:
        if name:
            model.set_submodule(name, factory(old))
    return len(matches)


@mistake("04.replace_modules", hint="`return` how many submodules were replaced")
def replace_no_return(model, cls, factory):
    for name, old in list(model.named_modules()):
        if name and isinstance(old, cls):
            model.set_submodule(name, factory(old))


@mistake("04.replace_modules", hint="Subclasses count too: replace every m")
def replace_exact_type(model, cls, factory):
    targets = [name for name, m in model.named_modules() if name and type(m) is cls]
    for name in targets:
        model.set_submodule(name, factory(model.get_submodule(name)))
    return len(targets)


@mistake("04.replace_modules", hint="A match inside another match")
def replace_outer_first(model, cls, factory):
    # pre-order: after "1" is replaced, the name "1.0" leads into what factory returned
    targets = [(name, m) for name, m in model.named_modules() if name and isinstance(m, cls)]
    for name, old in targets:
        model.set_submodule(name, factory(old))
    return len(targets)


@mistake("04.replace_modules", hint="a copy (copy.deepcopy) has modules of its own")
def replace_in_a_copy(model, cls, factory):
    model = copy.deepcopy(model)  # "do not change the caller's model" (but the task says to)
    targets = [(name, m) for name, m in model.named_modules() if name and isinstance(m, cls)]
    for name, old in reversed(targets):
        model.set_submodule(name, factory(old))
    return len(targets)


@mistake("04.replace_modules", hint="Replace each match at its place")
def replace_rebinding_the_loop_variable(model, cls, factory):
    count = 0
    for name, module in list(model.named_modules()):
        if name and isinstance(module, cls):
            module = factory(module)  # rebinds the local name; the model is unchanged
            count += 1
    return count


@mistake("04.replace_modules", hint="was not replaced at every place")
def replace_first_place_only(model, cls, factory):
    # the old reference: named_modules() gives a shared module once, at its first place
    targets = [(name, m) for name, m in model.named_modules() if name and isinstance(m, cls)]
    for name, old in reversed(targets):
        model.set_submodule(name, factory(old))
    return len(targets)


@mistake("04.replace_modules", hint="gets ONE factory call")
def replace_factory_per_place(model, cls, factory):
    # every place is found, but each place gets a factory call of its own
    places = [
        (name, m)
        for name, m in model.named_modules(remove_duplicate=False)
        if name and isinstance(m, cls)
    ]
    for name, old in reversed(places):
        model.set_submodule(name, factory(old))
    return len(places)


@mistake("04.replace_modules", hint="A shared module counts once")
def replace_counts_places(model, cls, factory):
    places = [
        (name, m)
        for name, m in model.named_modules(remove_duplicate=False)
        if name and isinstance(m, cls)
    ]
    new = {}
    for name, old in reversed(places):
        if old not in new:
            new[old] = factory(old)
        model.set_submodule(name, new[old])
    return len(places)  # a module at two places counted twice


@mistake("04.replace_modules", hint="must hold the same new module object")
def replace_copy_at_other_places(model, cls, factory):
    places = [
        (name, m)
        for name, m in model.named_modules(remove_duplicate=False)
        if name and isinstance(m, cls)
    ]
    new = {}
    for name, old in reversed(places):
        if old in new:
            model.set_submodule(name, copy.deepcopy(new[old]))  # a copy: sharing broken
        else:
            new[old] = factory(old)
            model.set_submodule(name, new[old])
    return len(new)


@mistake("04.replace_modules", hint="A module shared by two parents was walked twice")
def replace_recursion_revisits_shared(model, cls, factory, new=None):
    # a memo of replacements, but no memo of modules already walked: a block shared by
    # two parents is entered twice, the second time holding factory's output
    new = {} if new is None else new
    for name, child in list(model._modules.items()):
        if child in new:
            setattr(model, name, new[child])
        elif isinstance(child, cls):
            new[child] = factory(child)
            setattr(model, name, new[child])
        else:
            replace_recursion_revisits_shared(child, cls, factory, new)
    return len(new)


@mistake("04.replace_modules", hint="getattr and setattr do not follow dots")
def replace_getattr_dotted_parent(model, cls, factory):
    targets = [(name, m) for name, m in model.named_modules() if name and isinstance(m, cls)]
    for name, old in reversed(targets):
        parent_name, _, child_name = name.rpartition(".")
        parent = getattr(model, parent_name) if parent_name else model  # "blocks.0": no
        setattr(parent, child_name, factory(old))
    return len(targets)


@mistake("04.replace_modules", hint="Unpack (name, x) pairs only from the named_* methods")
def replace_unpacking_modules(model, cls, factory):
    targets = [(name, m) for name, m in model.modules() if name and isinstance(m, cls)]
    for name, old in reversed(targets):
        model.set_submodule(name, factory(old))
    return len(targets)


@mistake("04.replace_modules", hint="do not move or convert it")
def replace_moved_to_the_old_device(model, cls, factory):
    places = [
        (name, m)
        for name, m in model.named_modules(remove_duplicate=False)
        if name and isinstance(m, cls)
    ]
    new = {}
    for name, old in reversed(places):
        if old not in new:  # "keep it where the old one was": ReLU has no parameters
            new[old] = factory(old).to(next(old.parameters()).device)
        model.set_submodule(name, new[old])
    return len(new)


# -- 04.replace_modules: correct alternatives -------------------------------------------------
# A module registered at several places must get one factory call and the same new
# module at each place: named_children() and named_modules() skip a repeated module, so
# each alternative finds the places another way and keeps a dict old -> new.


@correct("04.replace_modules")
def replace_recursive_walk(model, cls, factory, new=None, walked=None):
    """Recurse over each parent's _modules (repeats included) into every child that is
    not replaced; a match inside a match stays inside it (only the outer one counts)."""
    new = {} if new is None else new
    walked = set() if walked is None else walked
    walked.add(model)
    for name, child in list(model._modules.items()):
        if child in new:
            setattr(model, name, new[child])  # a second place of a module replaced already
        elif isinstance(child, cls):
            new[child] = factory(child)
            setattr(model, name, new[child])
        elif child is not None and child not in walked:
            replace_recursive_walk(child, cls, factory, new, walked)
    return len(new)


@correct("04.replace_modules")
def replace_via_parent(model, cls, factory):
    """Every place collected first and sorted deepest first; the parent found with
    get_submodule and rpartition; add_module; a memo keyed by id."""
    places = [
        (name, m)
        for name, m in model.named_modules(remove_duplicate=False)
        if name and isinstance(m, cls)
    ]
    new = {}
    for name, old in sorted(places, key=lambda p: p[0].count("."), reverse=True):
        if id(old) not in new:
            new[id(old)] = factory(old)
        parent_name, _, child_name = name.rpartition(".")
        model.get_submodule(parent_name).add_module(child_name, new[id(old)])
    return len(new)


@correct("04.replace_modules")
def replace_with_set_submodule(model, cls, factory):
    """Every place in pre-order, a place inside a replaced one skipped (it went into
    factory with the outer one), then set_submodule(strict=True) and a memo."""
    places = [
        (name, m)
        for name, m in model.named_modules(remove_duplicate=False)
        if name and isinstance(m, cls)
    ]
    new, done = {}, []
    for name, old in places:
        if any(name.startswith(d + ".") for d in done):
            continue
        if old not in new:
            new[old] = factory(old)
        model.set_submodule(name, new[old], strict=True)
        done.append(name)
    return len(new)


@correct("04.replace_modules")
def replace_children_first(model, cls, factory, new=None, walked=None):
    """Post-order recursion: a child's own matches are replaced before the child itself,
    so factory receives a module whose insides are already done."""
    new = {} if new is None else new
    walked = set() if walked is None else walked
    walked.add(model)
    for name, child in list(model._modules.items()):
        if child is None:
            continue
        if child in new:
            setattr(model, name, new[child])
            continue
        if child not in walked:
            replace_children_first(child, cls, factory, new, walked)
        if isinstance(child, cls):
            new[child] = factory(child)
            setattr(model, name, new[child])
    return len(new)


@correct("04.replace_modules")
def replace_through_parents(model, cls, factory):
    """(parent, name, child) triples over each parent once (modules()) and every entry of
    its _modules, collected first; then setattr on each parent object."""
    found = [
        (parent, name, child)
        for parent in model.modules()
        for name, child in parent._modules.items()
        if isinstance(child, cls)
    ]
    new = {}
    for parent, name, child in found:
        if id(child) not in new:
            new[id(child)] = factory(child)
        setattr(parent, name, new[id(child)])
    return len(new)


@correct("04.replace_modules")
def replace_with_sequential_indexing(model, cls, factory):
    """The places from named_modules(remove_duplicate=False), deepest first, the memo a
    list of (old, new) pairs searched by identity; the parent's item assignment for
    Sequential / ModuleList, setattr otherwise."""
    places = [
        (name, m)
        for name, m in model.named_modules(remove_duplicate=False)
        if name and isinstance(m, cls)
    ]
    pairs = []
    for name, old in reversed(places):  # the module collected, not what is there now
        parent_name, _, child_name = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        match = [n for o, n in pairs if o is old]
        if match:
            replacement = match[0]
        else:
            replacement = factory(old)
            pairs.append((old, replacement))
        if isinstance(parent, (nn.Sequential, nn.ModuleList)):
            parent[int(child_name)] = replacement
        else:
            setattr(parent, child_name, replacement)
    return len(pairs)


@correct("04.replace_modules")
def replace_in_modules_dicts(model, cls, factory):
    """An explicit stack over the parents, each walked once; each parent's _modules dict
    edited by key; a memo keyed by id."""
    new, walked, stack = {}, set(), [model]
    while stack:
        parent = stack.pop()
        if id(parent) in walked:
            continue
        walked.add(id(parent))
        for key, child in list(parent._modules.items()):
            if child is None:
                continue
            if id(child) in new:
                parent._modules[key] = new[id(child)]
            elif isinstance(child, cls):
                new[id(child)] = factory(child)
                parent._modules[key] = new[id(child)]
            else:
                stack.append(child)
    return len(new)


# -- 04.replace_modules: more correct alternatives (second review) ------------------------------


@correct("04.replace_modules")
def replace_every_place_in_reverse(model, cls, factory):
    """Every place from named_modules(remove_duplicate=False), walked in reverse (inner
    matches before the outer ones); one new module per old one; set_submodule."""
    places = [
        (name, m)
        for name, m in model.named_modules(remove_duplicate=False)
        if name and isinstance(m, cls)
    ]
    new = {}
    for name, old in reversed(places):
        if id(old) not in new:
            new[id(old)] = factory(old)
        model.set_submodule(name, new[id(old)])
    return len(new)


@correct("04.replace_modules")
def replace_outer_matches_only(model, cls, factory):
    """A walk over _modules that does not enter a match (its inner matches are left in it)
    nor factory's output; a dict from id to (old, new) keeps one call per module."""
    made = {}

    def walk(parent):
        for key, child in list(parent._modules.items()):
            if child is None:
                continue
            if isinstance(child, cls):
                if id(child) not in made:
                    made[id(child)] = (child, factory(child))
                parent._modules[key] = made[id(child)][1]
            elif all(child is not new for _, new in made.values()):
                walk(child)

    walk(model)
    return len(made)


@correct("04.replace_modules")
def replace_deepest_names_first(model, cls, factory):
    """Names sorted by depth (most dots first), the old modules looked up before any
    change, a dict keyed by the module itself."""
    names = [
        name
        for name, m in model.named_modules(remove_duplicate=False)
        if name and isinstance(m, cls)
    ]
    names.sort(key=lambda name: name.count("."), reverse=True)
    olds = {name: model.get_submodule(name) for name in names}
    new = {}
    for name in names:
        old = olds[name]
        if old not in new:
            new[old] = factory(old)
        model.set_submodule(name, new[old])
    return len(new)


@correct("04.replace_modules")
def replace_outer_names_skipping_inner(model, cls, factory):
    """Pre-order names; a name inside an outer match already replaced is skipped (the inner
    match stays inside the old outer module)."""
    places = [
        (name, m)
        for name, m in model.named_modules(remove_duplicate=False)
        if name and isinstance(m, cls)
    ]
    outer, new = [], {}
    for name, old in places:
        if any(name.startswith(o + ".") for o in outer):
            continue
        outer.append(name)
        if old not in new:
            new[old] = factory(old)
        model.set_submodule(name, new[old])
    return len(new)


@correct("04.replace_modules")
def replace_by_parent_add_module(model, cls, factory):
    """Every (parent, key, child) gathered from _modules; the parents met in pre-order,
    replaced in reverse with add_module (which overwrites the key in place)."""
    places, seen, order = [], set(), [model]
    while order:
        parent = order.pop(0)
        if id(parent) in seen:
            continue
        seen.add(id(parent))
        for key, child in parent._modules.items():
            if child is not None:
                places.append((parent, key, child))
        order[:0] = [c for c in parent._modules.values() if c is not None]
    new = {}
    for parent, key, child in reversed(places):
        if isinstance(child, cls):
            if id(child) not in new:
                new[id(child)] = factory(child)
            parent.add_module(key, new[id(child)])
    return len(new)


@correct("04.replace_modules")
def replace_children_after_their_subtrees(model, cls, factory):
    """Recursion over _modules (named_children() gives a module registered twice in one
    parent once), each parent walked once, a child's subtree before the child."""
    new, walked = {}, set()

    def visit(module):
        if id(module) in walked:
            return
        walked.add(id(module))
        for key, child in list(module._modules.items()):
            if child is None:
                continue
            visit(child)
            if isinstance(child, cls):
                if id(child) not in new:
                    new[id(child)] = factory(child)
                setattr(module, key, new[id(child)])

    visit(model)
    return len(new)


# -- 04.describe: mistakes --------------------------------------------------------------------


def _row(name, kind, tensor, trainable):
    return {
        "name": name,
        "kind": kind,
        "shape": tuple(tensor.shape),
        "numel": tensor.numel(),
        "trainable": trainable,
    }


@mistake("04.describe", hint="A non-persistent buffer is missing")
def describe_from_state_dict(model):
    params = dict(model.named_parameters())
    rows = [_row(name, "parameter", p, p.requires_grad) for name, p in params.items()]
    for name, value in model.state_dict().items():
        if name not in params:
            rows.append(_row(name, "buffer", value, False))
    return rows


@mistake("04.describe", hint="a list is not")
def describe_shape_list(model):
    rows = [
        {
            "name": name,
            "kind": "parameter",
            "shape": list(p.shape),
            "numel": p.numel(),
            "trainable": p.requires_grad,
        }
        for name, p in model.named_parameters()
    ]
    rows += [
        {
            "name": n,
            "kind": "buffer",
            "shape": list(b.shape),
            "numel": b.numel(),
            "trainable": False,
        }
        for n, b in model.named_buffers()
    ]
    return rows


@mistake("04.describe", hint="trainable is False for every buffer")
def describe_buffers_trainable(model):
    rows = []
    named = itertools.chain(
        (("parameter", n, t) for n, t in model.named_parameters()),
        (("buffer", n, t) for n, t in model.named_buffers()),
    )
    for kind, name, tensor in named:
        rows.append(_row(name, kind, tensor, True))  # every tensor marked trainable
    return rows


@mistake("04.describe", hint="trainable is p.requires_grad")
def describe_params_always_trainable(model):
    rows = [_row(n, "parameter", p, True) for n, p in model.named_parameters()]
    rows += [_row(n, "buffer", b, False) for n, b in model.named_buffers()]
    return rows


@mistake("04.describe", hint="(lower case, singular)")
def describe_wrong_kind(model):
    rows = [_row(n, "Parameter", p, p.requires_grad) for n, p in model.named_parameters()]
    rows += [_row(n, "Buffer", b, False) for n, b in model.named_buffers()]
    return rows


@mistake("04.describe", hint="Parameters first, in named_parameters() order")
def describe_buffers_first(model):
    rows = [_row(n, "buffer", b, False) for n, b in model.named_buffers()]
    rows += [_row(n, "parameter", p, p.requires_grad) for n, p in model.named_parameters()]
    return rows


@mistake("04.describe", hint="add 'numel'")
def describe_without_numel(model):
    rows = []
    for name, p in model.named_parameters():
        rows.append({"name": name, "kind": "parameter", "shape": tuple(p.shape), "trainable": True})
    for name, b in model.named_buffers():
        rows.append({"name": name, "kind": "buffer", "shape": tuple(b.shape), "trainable": False})
    return rows


@mistake("04.describe", hint="The buffers are missing")
def describe_parameters_only(model):
    return [_row(n, "parameter", p, p.requires_grad) for n, p in model.named_parameters()]


@mistake("04.describe", hint="got two rows")
def describe_with_duplicates(model):
    rows = [
        _row(n, "parameter", p, p.requires_grad)
        for n, p in model.named_parameters(remove_duplicate=False)
    ]
    rows += [_row(n, "buffer", b, False) for n, b in model.named_buffers()]
    return rows


@mistake("04.describe", hint="numel is the int p.numel()")
def describe_numel_tensor(model):
    rows = []
    for name, p in model.named_parameters():
        row = _row(name, "parameter", p, p.requires_grad)
        row["numel"] = torch.tensor(p.shape).prod()  # a 0-dim tensor, not an int
        rows.append(row)
    rows += [_row(n, "buffer", b, False) for n, b in model.named_buffers()]
    return rows


@mistake("04.describe", hint="kind says where the tensor is registered")
def describe_kind_from_requires_grad(model):
    named = list(model.named_parameters()) + list(model.named_buffers())
    # a frozen parameter comes out as a "buffer"
    return [
        _row(n, "parameter" if t.requires_grad else "buffer", t, t.requires_grad) for n, t in named
    ]


@mistake("04.describe", hint="not 'weight'")
def describe_own_names(model):
    rows = []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):  # "weight", not "0.weight"
            rows.append(_row(name, "parameter", p, p.requires_grad))
    for module in model.modules():
        for name, b in module.named_buffers(recurse=False):
            rows.append(_row(name, "buffer", b, False))
    return rows


@mistake("04.describe", hint="not each module's parameters and buffers together")
def describe_module_by_module(model):
    rows = []
    for prefix, module in model.named_modules():
        for name, p in module.named_parameters(prefix=prefix, recurse=False):
            rows.append(_row(name, "parameter", p, p.requires_grad))
        for name, b in module.named_buffers(prefix=prefix, recurse=False):
            rows.append(_row(name, "buffer", b, False))
    return rows


@mistake("04.describe", hint="numel is p.numel(), the number of values")
def describe_numel_as_len(model):
    rows = []
    for kind, named in (("parameter", model.named_parameters()), ("buffer", model.named_buffers())):
        for name, tensor in named:
            row = _row(name, kind, tensor, kind == "parameter" and tensor.requires_grad)
            row["numel"] = len(tensor) if tensor.dim() else 1  # the first dimension only
            rows.append(row)
    return rows


# -- 04.describe: correct alternatives --------------------------------------------------------


@correct("04.describe")
def describe_torch_size(model):
    """shape kept as the torch.Size (a tuple subclass of ints); nelement(); dict()."""
    rows = []
    for name, p in model.named_parameters():
        rows.append(
            dict(name=name, kind="parameter", shape=p.shape, numel=p.nelement(),
                 trainable=bool(p.requires_grad))
        )  # fmt: skip
    for name, b in model.named_buffers():
        rows.append(dict(name=name, kind="buffer", shape=b.size(), numel=b.nelement(),
                         trainable=False))  # fmt: skip
    return rows


@correct("04.describe")
def describe_one_loop(model):
    """One loop over both kinds, an extra "dtype" key, math.prod of the shape."""
    named = [("parameter", model.named_parameters()), ("buffer", model.named_buffers())]
    rows = []
    for kind, items in named:
        for name, tensor in items:
            rows.append(
                {
                    "name": name,
                    "kind": kind,
                    "shape": tuple(int(d) for d in tensor.shape),
                    "numel": math.prod(tensor.shape),
                    "trainable": kind == "parameter" and tensor.requires_grad,
                    "dtype": str(tensor.dtype),
                }
            )
    return rows


@correct("04.describe")
def describe_with_a_generator(model):
    """A generator of OrderedDicts, listed; trainable from requires_grad for both kinds
    (a buffer's is False)."""

    def rows():
        for name, p in model.named_parameters():
            yield OrderedDict(
                name=name, kind="parameter", shape=tuple(p.size()), numel=p.numel(),
                trainable=p.requires_grad,
            )  # fmt: skip
        for name, b in model.named_buffers():
            yield OrderedDict(
                name=name, kind="buffer", shape=tuple(b.size()), numel=b.numel(),
                trainable=b.requires_grad,
            )  # fmt: skip

    return list(rows())


@correct("04.describe")
def describe_with_extra_keys(model):
    """One loop over two (kind, pairs) sources; math.prod for numel; an extra "dtype" key
    (the task names the keys a row must have, not the only ones it may have)."""
    rows = []
    for kind, pairs in (("parameter", model.named_parameters()), ("buffer", model.named_buffers())):
        for name, tensor in pairs:
            rows.append(
                {
                    "name": name,
                    "kind": kind,
                    "shape": tuple(tensor.shape),
                    "numel": math.prod(tensor.shape),
                    "trainable": kind == "parameter" and tensor.requires_grad,
                    "dtype": str(tensor.dtype),
                }
            )
    return rows


@mistake("04.describe", hint="takes the model off the GPU")
def describe_after_moving_to_cpu(model):
    model.cpu()  # "tensors must be on the CPU to read them"
    rows = [_row(name, "parameter", p, p.requires_grad) for name, p in model.named_parameters()]
    return rows + [_row(name, "buffer", b, False) for name, b in model.named_buffers()]


@correct("04.describe")
def describe_from_numpy_copies(model):
    """Shapes and sizes read from NumPy copies of each tensor (the model stays put)."""
    rows = []
    for name, p in model.named_parameters():
        array = p.detach().cpu().numpy()
        rows.append(
            {
                "name": name,
                "kind": "parameter",
                "shape": array.shape,
                "numel": int(array.size),
                "trainable": p.requires_grad,
            }
        )
    for name, b in model.named_buffers():
        array = b.cpu().numpy()
        rows.append(
            {
                "name": name,
                "kind": "buffer",
                "shape": array.shape,
                "numel": int(array.size),
                "trainable": False,
            }
        )
    return rows


# -- 04.describe: more correct alternatives (second review) -------------------------------------


@correct("04.describe")
def describe_two_kinds_in_one_loop(model):
    """One loop over (kind, iterator) pairs; dict(...) rows; math.prod for numel; shape
    from int(s) for each size; trainable from kind and requires_grad."""
    rows = []
    for kind, items in (("parameter", model.named_parameters()), ("buffer", model.named_buffers())):
        for name, t in items:
            rows.append(
                dict(
                    name=name,
                    kind=kind,
                    shape=tuple(int(s) for s in t.shape),
                    numel=math.prod(t.shape),
                    trainable=kind == "parameter" and t.requires_grad,
                )
            )
    return rows


@correct("04.describe")
def describe_ordered_dicts(model):
    """OrderedDict rows (a dict) with the keys in another order; tuple(p.size())."""
    keys = ("trainable", "numel", "shape", "kind", "name")
    rows = [
        OrderedDict(
            zip(keys, (p.requires_grad, p.numel(), tuple(p.size()), "parameter", n), strict=True)
        )
        for n, p in model.named_parameters()
    ]
    rows += [
        OrderedDict(zip(keys, (False, b.numel(), tuple(list(b.shape)), "buffer", n), strict=True))
        for n, b in model.named_buffers()
    ]
    return rows


@correct("04.describe")
def describe_from_two_dicts(model):
    """dict(named_parameters()) and dict(named_buffers()); nelement(); bool(requires_grad)."""
    params, buffers = dict(model.named_parameters()), dict(model.named_buffers())
    rows = [
        {
            "name": k,
            "kind": "parameter",
            "shape": tuple(v.shape),
            "numel": v.nelement(),
            "trainable": bool(v.requires_grad),
        }
        for k, v in params.items()
    ]
    return rows + [
        {
            "name": k,
            "kind": "buffer",
            "shape": tuple(v.shape),
            "numel": int(v.numel()),
            "trainable": False,
        }
        for k, v in buffers.items()
    ]


@correct("04.describe")
def describe_unpacked_shape_and_reduce(model):
    """(*t.shape,) for the shape, reduce(mul, shape, 1) for numel, a helper per row."""

    def row(name, t, kind):
        return {
            "name": name,
            "kind": kind,
            "shape": (*t.shape,),
            "numel": functools.reduce(operator.mul, t.shape, 1),
            "trainable": t.requires_grad if kind == "parameter" else False,
        }

    return [row(n, p, "parameter") for n, p in model.named_parameters()] + [
        row(n, b, "buffer") for n, b in model.named_buffers()
    ]


@correct("04.describe")
def describe_numpy_ints_and_torch_size(model):
    """numel a NumPy int64 for parameters; a buffer's shape left a torch.Size (a tuple of
    ints)."""
    rows = []
    for n, p in model.named_parameters():
        numel = np.prod(p.shape, dtype=np.int64)
        shape = tuple(map(int, p.shape))
        rows.append(
            {
                "name": n,
                "kind": "parameter",
                "shape": shape,
                "numel": numel,
                "trainable": p.requires_grad,
            }
        )
    for n, b in model.named_buffers():
        rows.append(
            {"name": n, "kind": "buffer", "shape": b.shape, "numel": b.numel(), "trainable": False}
        )
    return rows


@correct("04.describe")
def describe_numel_from_a_shape_tensor(model):
    """numel as the product of a shape tensor (prod of an empty tensor is 1)."""

    def numel(t):
        return int(torch.tensor(t.shape, dtype=torch.long).prod())

    rows = [
        {
            "name": n,
            "kind": "parameter",
            "shape": tuple(p.shape),
            "numel": numel(p),
            "trainable": p.requires_grad,
        }
        for n, p in model.named_parameters()
    ]
    rows += [
        {
            "name": n,
            "kind": "buffer",
            "shape": tuple(b.shape),
            "numel": numel(b),
            "trainable": False,
        }
        for n, b in model.named_buffers()
    ]
    return rows
