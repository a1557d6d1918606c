"""The check of ``06.name_repr``: ``model.apply(add_name_repr)`` gives each module that has
an attribute ``name`` its own ``extra_repr`` returning ``name=<str of its name>``, and
changes nothing else.

The check's model has named modules of three kinds (a torch layer, a custom module with an
``extra_repr`` of its own, a name with a space), names that are not strings (the int 0,
which is falsy, None, which ``getattr(module, "name", None)`` cannot tell from no name, and
a submodule registered as ``name``, which lives in ``_modules``, not in the instance's
``__dict__``), and unnamed instances of the same classes; fresh instances outside the model
must print as before too. A named module prints as ``ClassName(name=...)`` with the class it
had before the call. ``ClassGuard`` undoes and reports any change
to a class (``type(module).extra_repr = ...``), before the grader's tamper guard sees it.

Not checked, because the contract does not say it: what a ``copy.deepcopy`` of a named
module prints (a closure over the module shows the original's name there; ``MethodType``
and ``functools.partial`` are copied along with the module), and whether a name changed
later shows.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from helpers.checks.core import Checker, describe, task
from helpers.checks.lesson06.common import (
    NOTEBOOK,
    ClassGuard,
    built,
    module_classes,
    pre_order,
)

CALL = "model.apply(add_name_repr)"


class _Tagged(nn.Module):
    """A custom module with an extra_repr of its own (``width=4``)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.width = width
        self.proj = nn.Linear(width, width)

    def extra_repr(self) -> str:
        return f"width={self.width}"


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Linear(3, 4)
        self.encoder.name = "encoder"
        self.decoder = nn.Linear(4, 3)  # the same class, no name
        self.block = _Tagged(4)
        self.block.name = "block one"
        self.other = _Tagged(4)  # the same class, no name
        self.counter = nn.ReLU()
        self.counter.name = 0  # not a str, and falsy
        self.holder = nn.Sequential()
        self.holder.name = nn.Identity()  # a submodule registered under `name`
        self.gate = nn.Tanh()
        self.gate.name = None  # it has a `name`, which is None


NAMED = ("encoder", "block", "counter", "holder", "gate")


def _fresh() -> list[nn.Module]:
    """Instances of the model's classes outside the model, none with a name."""
    return [nn.Linear(3, 4), _Tagged(4), nn.ReLU(), nn.Sequential(), nn.Identity(), nn.Tanh()]


_CALL_HINTS = (
    (
        "missing 1 required positional argument",
        "A function stored on an instance is not bound: it is called with no `self`. Bind "
        "it with types.MethodType(fn, module), or functools.partial(fn, module), or assign "
        "a function without parameters that uses `module` from add_name_repr.",
    ),
    (
        "object is not callable",
        "extra_repr is a method that nn.Module's __repr__ calls: assign a function that "
        "returns the text, not the text itself.",
    ),
    (
        "can only concatenate str",
        "A name need not be a str (here it is the int 0, None or a module): format it, "
        "f'name={module.name}', or use str(module.name).",
    ),
    (
        "must be str, not",
        "A name need not be a str (here it is the int 0, None or a module): format it, "
        "f'name={module.name}', or use str(module.name).",
    ),
    (
        "object has no attribute 'name'",
        "Only a module that has a `name` gets the new extra_repr: test hasattr(module, "
        "'name') before assigning one (modules without a name keep theirs).",
    ),
)


@task(
    "06.name_repr",
    title="A per-instance extra_repr",
    names=["add_name_repr"],
    notebook=NOTEBOOK,
)
def check_name_repr(t: Checker) -> None:
    add_name_repr = t.function("add_name_repr")

    with t.probe(f"{CALL} runs and changes no class"):
        model, fresh = built(_Net), built(_fresh)
        modules = dict(pre_order(model))
        own = {name: m.extra_repr() for name, m in modules.items()}
        classes = {name: type(m).__name__ for name, m in modules.items()}
        reprs = {name: repr(m) for name, m in modules.items() if name not in NAMED}
        fresh_reprs = [repr(m) for m in fresh]
        with ClassGuard(t, module_classes(model, *fresh), what=CALL):
            t.call(model.apply, add_name_repr, what=CALL, hints=_CALL_HINTS)

    with t.probe(
        "a module with a str `name` gets an extra_repr returning name=<name>, without quotes, "
        "replacing its own"
    ):
        for name in ("encoder", "block"):
            _expect_named(t, modules[name], name, own[name], classes[name])

    with t.probe("any name shows as str(name): the int 0, None, a submodule registered as `name`"):
        for name in ("counter", "gate", "holder"):
            _expect_named(t, modules[name], name, own[name], classes[name])

    with t.probe(
        "modules without a name, and other instances of the same classes, print as before"
    ):
        for name, before in reprs.items():
            module = modules[name]
            label = f"`{name}`" if name else "the model"
            now = t.call(module.extra_repr, what=f"{label}.extra_repr()", hints=_CALL_HINTS)
            if now != own[name] or type(now) is not str:
                _unnamed_changed(t, label, own[name], now)
            text = t.call(repr, module, what=f"repr({label})", hints=_CALL_HINTS)
            if name and text != before:  # the model's own repr shows its named children
                _unnamed_changed(t, label, before, text)
        for module, before in zip(fresh, fresh_reprs, strict=True):
            what = f"repr({type(module).__name__}(...))"
            text = t.call(repr, module, what=what, hints=_CALL_HINTS)
            if text != before:
                t.fail(
                    f"{what} of an instance outside the model changed",
                    expected=repr(before),
                    got=describe(text),
                    hint="Give each named instance its own extra_repr (an attribute of that "
                    "instance); other instances of its class must print as before.",
                )


def _expect_named(t: Checker, module: nn.Module, name: str, old: str, cls: str) -> None:
    """``module`` (``name`` in the model, of class ``cls`` before the call) has the new
    extra_repr, and prints with it as ``cls(name=...)``."""
    value: Any = getattr(module, "name")  # noqa: B009 (the module's own attribute)
    want = f"name={value}"
    got = t.call(module.extra_repr, what=f"`{name}`.extra_repr()", hints=_CALL_HINTS)
    if type(got) is str and got == want:
        text = t.call(repr, module, what=f"repr(`{name}`)", hints=_CALL_HINTS)
        lines = [*text.split("\n"), ""][:2] if type(text) is str else ["", ""]
        head = f"{cls}("
        if lines[0] == f"{head}{want})" or (lines[0] == head and lines[1].strip() == want):
            return
        t.fail(
            f"repr(`{name}`) does not show the new extra_repr",
            expected=f"{cls}({want}...",
            got=describe(text),
            hint="Leave __repr__ and the module's class alone: nn.Module's __repr__ prints "
            "`ClassName(` + self.extra_repr() + the children.",
        )
    if type(got) is not str:
        hint = "extra_repr returns a str: return f'name={module.name}'."
    elif got == old and "__repr__" in vars(module):
        hint = (
            "repr() looks __repr__ up on the class, so one stored on the instance is never "
            "called; assign `extra_repr` instead, which nn.Module's __repr__ calls."
        )
    elif got == old and name == "counter":
        hint = (
            "This module's name is 0, which is falsy: test whether the attribute exists, "
            "hasattr(module, 'name'), not whether it is truthy."
        )
    elif got == old and name == "gate":
        hint = (
            "This module's name is None, and it has one: test whether the attribute exists, "
            "hasattr(module, 'name'), not getattr(module, 'name', None) is not None."
        )
    elif got == old and name == "holder":
        hint = (
            "This module's `name` is a submodule, kept in _modules, not in __dict__: test "
            "hasattr(module, 'name') (nn.Module finds parameters, buffers and submodules "
            "too), not 'name' in vars(module)."
        )
    elif got == old:
        hint = (
            "Give every module that has a `name` a new extra_repr, through model.apply: "
            "`module.extra_repr = ...` on that instance."
        )
    elif got == f"name={value!r}":
        hint = (
            "Without quotes: format the name with str(), f'name={module.name}', not repr() or !r."
        )
    elif old and old in got:
        hint = (
            "The new extra_repr replaces the module's own: return only 'name=...', without "
            "the old text."
        )
    else:
        hint = "Return exactly f'name={module.name}': no spaces, no quotes, nothing else."
    t.fail(
        f"`{name}`.extra_repr() is wrong",
        expected=repr(want),
        got=repr(got) if type(got) is str else describe(got),
        facts=[f"The module's name is {describe(value)}; its own extra_repr gave {old!r}."],
        hint=hint,
    )


def _unnamed_changed(t: Checker, label: str, before: str, now: Any) -> None:
    named_none = type(now) is str and "name=None" in now
    t.fail(
        f"{label}, which has no `name`, prints differently",
        expected=repr(before),
        got=repr(now) if type(now) is str else describe(now),
        hint="A module without a `name` keeps its own extra_repr: give a new one only `if "
        "hasattr(module, 'name'):` (getattr(module, 'name', None) would show name=None)."
        if named_none
        else "Only modules that have a `name` get a new extra_repr; the others, and every "
        "class, stay as they were.",
    )
