"""What the checks of lesson 06 share: the notebook, and a guard that undoes changes to classes.

A function written for ``model.apply`` receives module instances, and the shortest wrong way
to change "a module" is to change its class (``type(module).extra_repr = ...``), which
changes every instance of that class, in the check and in the learner's notebook alike.
``ClassGuard`` snapshots ``vars()`` of every class of the modules the learner's code is
given (their whole MRO, ``nn.Module`` included) before the call, and afterwards puts back
whatever was assigned, replaced or deleted, and deletes what was added, then fails the
check naming the change. It runs inside the check, so it restores ``nn.Module`` before the
grader's tamper guard (``helpers.grading``) looks: the learner gets this specific message
rather than the generic "the grader or torch was modified" one. It watches
``torch.Tensor``, ``nn.Parameter`` and the functions of ``torch.nn.init`` too
(``nn.init.xavier_uniform_ = ...``, ``torch.Tensor.std = ...`` inside the learner's code).

``init_as_imported`` builds the checks' own modules with ``torch.nn.init`` as torch was
imported: a notebook that replaced ``nn.init.kaiming_uniform_`` (which every ``nn.Linear``
constructor calls) neither breaks a check nor changes its verdict.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType, TracebackType
from typing import Any, TypeVar

import torch
from torch import nn
from torch.nn.modules import module as _module_api

from helpers.checks.core import Checker, Fail, NotImplementedYet, equal

NOTEBOOK = "06_apply"

# torch.nn.init as torch was imported (before any learner code ran): the checks build their
# modules with it, and ClassGuard watches it.
_INIT = nn.init
_INIT_AS_IMPORTED = dict(vars(_INIT))
_M = TypeVar("_M")


@contextlib.contextmanager
def init_as_imported() -> Iterator[None]:
    """While the body runs, every function of ``torch.nn.init`` is the one torch was imported
    with (torch's layers initialize themselves through them); whatever the notebook had
    assigned there is put back afterwards."""
    space = vars(_INIT)
    replaced = {
        key: space.get(key, _MISSING)
        for key, value in _INIT_AS_IMPORTED.items()
        if space.get(key, _MISSING) is not value
    }
    try:
        space.update({key: _INIT_AS_IMPORTED[key] for key in replaced})
        yield
    finally:
        for key, value in replaced.items():
            if value is _MISSING:
                space.pop(key, None)
            else:
                space[key] = value


def built(factory: Callable[..., _M], *args: Any, **kwargs: Any) -> _M:
    """``factory(*args, **kwargs)`` (one of the check's own models) with ``init_as_imported``."""
    with init_as_imported():
        return factory(*args, **kwargs)


# -- a nested model and its traversal orders ---------------------------------------------------


class Block(nn.Module):
    """A custom container: a Linear, then a Sequential of two leaves."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(2, 2)
        self.gate = nn.Sequential(nn.Linear(2, 2), nn.Tanh())

    def forward(self, x: Any) -> Any:
        return self.gate(self.proj(x))


class Tree(nn.Module):
    """Depths 1 to 4, containers of three kinds, and names whose sorted order is not the
    registration order: a shallow leaf (`out`) is registered before a deep subtree (`body`),
    and ModuleDict keys come in the order "b", "a"."""

    def __init__(self) -> None:
        super().__init__()
        self.out = nn.Linear(2, 2)
        self.body = nn.Sequential(nn.Linear(2, 2), Block(), nn.ReLU())
        self.heads = nn.ModuleDict({"b": nn.Linear(2, 2), "a": nn.Sequential(nn.Linear(2, 2))})
        self.norm = nn.LayerNorm(2)

    def forward(self, x: Any) -> Any:
        x = self.body(self.out(x))
        return self.norm(self.heads["a"](x) + self.heads["b"](x))


def _children(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """A module's children in registration order, read from its ``_modules`` dict."""
    return [(n, c) for n, c in (vars(module).get("_modules") or {}).items() if c is not None]


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def post_order(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(qualified name, module) in the order ``model.apply`` visits them."""
    order: list[tuple[str, nn.Module]] = []

    def walk(prefix: str, module: nn.Module, reverse: bool) -> None:
        children = _children(module)
        for name, child in reversed(children) if reverse else children:
            walk(_join(prefix, name), child, reverse)
        order.append((prefix, module))

    walk("", model, False)
    return order


def pre_order(model: nn.Module, *, reverse: bool = False) -> list[tuple[str, nn.Module]]:
    """(qualified name, module), each before its children (``named_modules()`` order);
    with ``reverse``, the children of each module in reverse registration order."""
    order: list[tuple[str, nn.Module]] = []

    def walk(prefix: str, module: nn.Module) -> None:
        order.append((prefix, module))
        children = _children(module)
        for name, child in reversed(children) if reverse else children:
            walk(_join(prefix, name), child)

    walk("", model)
    return order


def breadth_first(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(qualified name, module), level by level."""
    order, level = [], [("", model)]
    while level:
        order += level
        level = [(_join(p, n), c) for p, m in level for n, c in _children(m)]
    return order


# -- what a learner's code may leave on a model ---------------------------------------------------


def snapshot(model: nn.Module) -> list[tuple[Any, ...]]:
    """Everything about ``model`` that its owner could see change: each module's attributes
    (by identity), the contents of its dicts (parameters, buffers, submodules, hooks), the
    values of its tensors, and the number of global hooks."""
    entries: list[tuple[Any, ...]] = []
    for name, module in post_order(model):
        attributes = dict(vars(module))
        entries.append(("attributes", name, {k: id(v) for k, v in attributes.items()}))
        for key, value in attributes.items():
            if isinstance(value, dict):
                entries.append(("dict", name, key, {k: id(v) for k, v in value.items()}))
                for item, tensor in value.items():
                    if hasattr(tensor, "detach") and key in ("_parameters", "_buffers"):
                        entries.append(("values", name, f"{key}.{item}", tensor.detach().clone()))
    entries.append(("global hooks", _global_hooks()))
    return entries


def _global_hooks() -> int:
    return sum(
        len(value)
        for key, value in vars(_module_api).items()
        if key.startswith("_global_") and isinstance(value, dict)
    )


def changes(before: list[tuple[Any, ...]], after: list[tuple[Any, ...]]) -> list[str]:
    """What differs between two snapshots, as phrases for a message."""
    if len(before) != len(after):
        return ["modules, parameters or buffers were added or removed"]
    found: list[str] = []
    for old, new in zip(before, after, strict=True):
        if old[:-1] != new[:-1]:
            found.append("modules, parameters or buffers were added or removed")
        elif old[0] == "attributes" and old[-1] != new[-1]:
            added = sorted(new[-1].keys() - old[-1].keys())
            where = f"`{old[1]}`" if old[1] else "the model"
            found.append(
                f"{where} got the attribute `{added[0]}`"
                if added
                else f"an attribute of {where} was replaced or deleted"
            )
        elif old[0] == "dict" and old[-1] != new[-1]:
            where = f"`{old[1]}`" if old[1] else "the model"
            kind = "hooks" if "hook" in old[2] else old[2].strip("_")
            found.append(f"the {kind} of {where} changed")
        elif old[0] == "values" and not _same_values(old[-1], new[-1]):
            found.append(f"the values of `{_join(old[1], old[2].split('.', 1)[1])}` changed")
        elif old[0] == "global hooks" and old[-1] != new[-1]:
            found.append("global module hooks were registered")
    return found


def _same_values(a: Any, b: Any) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and equal(a, b)


# Entries Python itself adds to a class's dict on first use (copy/pickle caches the slot
# names, reading __annotations__ creates it): not a learner's change.
_CACHES = frozenset({"__slotnames__", "__annotations__"})
_MISSING = object()


def module_classes(*modules: nn.Module) -> list[type]:
    """The classes of ``modules`` and all their submodules, with every base class up to and
    including ``nn.Module`` (``object`` cannot be changed), each once; and ``torch.Tensor``
    and ``nn.Parameter``, whose methods the checks measure tensors with."""
    classes: dict[type, None] = {nn.Module: None, torch.Tensor: None, nn.Parameter: None}
    for root in modules:
        for module in root.modules():
            for klass in type(module).__mro__:
                if klass is not object:
                    classes[klass] = None
    return list(classes)


class ClassGuard:
    """A context manager: classes (and ``torch.nn.init``) as they were before the body, and a
    failure if they were not.

    Args:
        t: the checker (the failure goes through ``t.fail``).
        classes: the classes to watch (see ``module_classes``); ``torch.nn.init`` is watched
            too.
        what: the learner's call, for the message (``"model.apply(add_name_repr)"``).
    """

    def __init__(self, t: Checker, classes: Iterable[type], *, what: str) -> None:
        self.t = t
        self.what = what
        owners: list[type | ModuleType] = [*classes, _INIT]
        self.saved = {owner: dict(vars(owner)) for owner in owners}

    def __enter__(self) -> ClassGuard:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        changes = self.restore()
        # A time limit, an exit() or an interrupt goes on as it is (the classes are back).
        reportable = exc is None or isinstance(exc, (Exception, Fail, NotImplementedYet))
        if not (changes and reportable):
            return
        shown = ", ".join(text for _, text in changes[:3]) + (
            f" and {len(changes) - 3} more" if len(changes) > 3 else ""
        )
        owners = {owner for owner, _ in changes}
        put_back = "The check has put it back, so nothing else sees the change."
        if _INIT in owners:
            self.t.fail(
                f"{self.what} changed torch.nn.init",
                expected="torch.nn.init's functions as they were",
                got=shown,
                facts=[put_back],
                hint="Call nn.init's functions, nn.init.xavier_uniform_(module.weight); "
                "never assign to them: `nn.init.xavier_uniform_ = ...` changes them for the "
                "whole notebook, torch's own layers included (their constructors initialize "
                "their weights through nn.init).",
            )
        if all(not issubclass(owner, nn.Module) for owner in owners):
            self.t.fail(
                f"{self.what} changed torch.Tensor",
                expected="torch.Tensor and nn.Parameter as they were",
                got=shown,
                facts=[put_back],
                hint="An assignment to torch.Tensor (`torch.Tensor.std = ...`) changes every "
                "tensor of the notebook: work on the module's own tensors with torch's "
                "functions, and leave torch's classes as they are.",
            )
        self.t.fail(
            f"{self.what} changed a class, not only instances",
            expected="every class as it was (only the module instances change)",
            got=shown,
            facts=[put_back],
            hint="An assignment to a class (`type(module).extra_repr = ...`, "
            "`nn.Linear.forward = ...`) changes every instance of it, in every model "
            "of the notebook: give the one instance what it needs (`module.attr = ...`).",
        )

    def restore(self) -> list[tuple[Any, str]]:
        """Put every watched class back as it was; return what had changed: (the class or
        module, a phrase)."""
        changes: list[tuple[Any, str]] = []
        for owner, saved in self.saved.items():
            now = dict(vars(owner))
            name = _owner_name(owner)
            for key in sorted(now.keys() - saved.keys() - _CACHES):
                changes.append((owner, f"`{name}.{key}` was added"))
                _set(owner, key, _MISSING)
            for key, value in saved.items():
                current = now.get(key, _MISSING)
                if current is value:
                    continue
                changes.append(
                    (
                        owner,
                        f"`{name}.{key}` was deleted"
                        if current is _MISSING
                        else f"`{name}.{key}` was replaced",
                    )
                )
                _set(owner, key, value)
        return changes


def _owner_name(owner: type | ModuleType) -> str:
    if isinstance(owner, ModuleType):
        return owner.__name__
    return "torch.Tensor" if owner is torch.Tensor else owner.__qualname__


def _set(owner: type | ModuleType, key: str, value: Any) -> None:
    """Set (or with ``_MISSING`` delete) an attribute of a class, as ``type`` itself does, or
    of a module."""
    if isinstance(owner, ModuleType):
        if value is _MISSING:
            vars(owner).pop(key, None)
        else:
            vars(owner)[key] = value
        return
    try:
        if value is _MISSING:
            type.__delattr__(owner, key)
        else:
            type.__setattr__(owner, key, value)
    except (AttributeError, TypeError):  # a builtin type: nothing a learner could change
        pass
