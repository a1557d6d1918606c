"""What the checks of ``05.activation_recorder`` and ``05.grad_norms`` share.

Both tasks ask for a class ``Recorder(model, names)`` that is a context manager over a
model's named submodules: ``__enter__`` returns the recorder itself, a dict attribute
holds a list per qualified name, and on exit every hook the recorder added is gone, also
when the body of the ``with`` block raised (the exception propagates).

The check runs real ``with`` statements (``run_block``). Nothing inside a block ever calls
``t.fail``: a learner's ``__exit__`` that returns True would swallow the failure. The body
only observes (``observe``); the probes judge what it saw once the block is over.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn.modules import module as _module_api

from helpers.checks.core import Checker, count_global_hooks, count_hooks, describe
from helpers.sandbox import MODULE_HOOK_DICTS

__all__ = [
    "BackwardHooks",
    "Block",
    "HookCount",
    "Observed",
    "build_recorder",
    "clear_hooks",
    "expect_entered_itself",
    "expect_exception_propagates",
    "expect_hooks_removed",
    "expect_list_per_name",
    "expect_opening",
    "global_backward_hooks",
    "misfiled_hint",
    "module_backward_hooks",
    "name_hints",
    "observe",
    "reraise_body_error",
    "run_block",
    "tensor_flags",
]


class _BodyRaised(Exception):
    """What the check raises inside a ``with`` block, to see that it propagates."""


_UNSET = object()


@dataclass
class Block:
    """What happened in one ``with`` block the check ran.

    Attributes:
        entered: what ``__enter__`` returned (``with recorder as r``), or unset.
        seen: what the body returned (its observations).
        error: an exception learner code raised inside the body (a hook, say).
        propagated: for a body that raised on purpose, whether the exception came out.
    """

    entered: Any = _UNSET
    seen: Any = None
    error: Exception | None = None
    propagated: bool | None = None


@dataclass
class Observed:
    """A recorder's dict attribute as read at one moment, without running its methods.

    Attributes:
        missing: the attribute does not exist.
        mapping: the attribute's value.
        lists: for each name present as a key, a copy of its list (or the value itself
            when it is not a list).
        keys: the dict's keys (at most 20).
        shared: names whose value is the very list object of an earlier name
            (``dict.fromkeys(names, [])``).
    """

    missing: bool = False
    mapping: Any = None
    lists: dict[str, Any] = field(default_factory=dict)
    keys: list[Any] = field(default_factory=list)
    shared: list[str] = field(default_factory=list)


def observe(recorder: Any, attribute: str, names: Sequence[str]) -> Observed:
    """Read ``recorder.<attribute>``: plain dict and list reads only, so that a
    ``defaultdict`` does not make the key it is asked for."""
    try:
        mapping = getattr(recorder, attribute)
    except AttributeError:
        return Observed(missing=True)
    if not isinstance(mapping, dict):
        return Observed(mapping=mapping)
    lists: dict[str, Any] = {}
    shared: list[str] = []
    seen: set[int] = set()
    for name in names:
        if dict.__contains__(mapping, name):
            value = dict.__getitem__(mapping, name)
            if isinstance(value, list):
                if id(value) in seen:
                    shared.append(name)
                seen.add(id(value))
            lists[name] = list.copy(value) if isinstance(value, list) else value
    keys = list(dict.keys(mapping))[:20]
    return Observed(mapping=mapping, lists=lists, keys=keys, shared=shared)


# -- learner tensors, read as plain tensors ---------------------------------------------------


def tensor_flags(value: torch.Tensor) -> tuple[bool, Any]:
    """``(requires_grad, grad_fn)`` as torch keeps them (a subclass's properties set aside)."""
    base = torch._C.TensorBase
    return bool(base.requires_grad.__get__(value)), base.grad_fn.__get__(value)


# -- running a with block ---------------------------------------------------------------------

# What Python and a learner's lookups say when something goes wrong at the edges of a block.
_PROTOCOL_HINTS = (
    (
        "missed __exit__ method",
        "The class has __enter__ but no __exit__: define "
        "`def __exit__(self, exc_type, exc_value, traceback):` and remove the hooks there.",
    ),
    (
        "does not support the context manager protocol",
        "A `with` statement needs __enter__ (register the hooks, `return self`) and "
        "__exit__(self, exc_type, exc_value, traceback) (remove them), defined in the class.",
    ),
    (
        "__exit__() takes",
        "Python calls __exit__ with three arguments: define "
        "`def __exit__(self, exc_type, exc_value, traceback):` (or `*exc_info`).",
    ),
    (
        "__enter__() takes",
        "Python calls __enter__ with no argument besides self: `def __enter__(self):`.",
    ),
)


def name_hints(names: Sequence[str]) -> list[tuple[str, str]]:
    """Hints for a lookup of a dotted name that reaches the first level only."""
    hint = (
        "Names are qualified names such as 'encoder.0' (dotted, any depth): look each one "
        "up with model.get_submodule(name) or dict(model.named_modules())[name]; "
        "getattr(model, name), model._modules and named_children() reach only the first level."
    )
    pairs = []
    for name in names:
        if "." in name:
            pairs += [(f"KeyError: '{name}'", hint), (f"attribute '{name}'", hint)]
    return pairs


def run_block(
    t: Checker,
    recorder: Any,
    body: Callable[[Any], Any],
    *,
    what: str,
    names: Sequence[str] = (),
    use_as: bool = True,
    raise_inside: bool = False,
    hints: Sequence[tuple[str, str]] = (),
) -> Block:
    """Run ``with recorder as r: body(r)`` (or ``with recorder: body(recorder)``).

    The body's own exceptions are kept in ``Block.error`` (and reported by
    ``reraise_body_error``), so that nothing but the check's ``_BodyRaised`` ever leaves
    the body. With ``raise_inside`` the body then raises ``_BodyRaised``, and
    ``Block.propagated`` says whether it came out of the ``with`` statement. ``names``:
    the names the recorder was given (for the hints of a lookup that fails).
    """
    block = Block()

    def inside(target: Any) -> None:
        try:
            block.seen = body(target)
        except Exception as exc:
            block.error = exc
        if raise_inside:
            raise _BodyRaised("raised by the check inside the with block")

    def run() -> None:
        try:
            if use_as:
                with recorder as entered:
                    block.entered = entered
                    inside(entered)
            else:
                with recorder:
                    inside(recorder)
        except _BodyRaised:
            block.propagated = True
            return
        if raise_inside:
            block.propagated = False

    t.call(run, what=what, hints=[*hints, *name_hints(names), *_PROTOCOL_HINTS])
    return block


def reraise_body_error(
    t: Checker,
    block: Block,
    *,
    what: str,
    names: Sequence[str] = (),
    hints: Sequence[tuple[str, str]] = (),
) -> None:
    """Report an exception the learner's code raised inside the block, as ``t.call`` does."""
    error = block.error
    if error is None:
        return
    block.error = None

    def again() -> None:
        raise error

    t.call(again, what=what, hints=[*hints, *name_hints(names), *_PROTOCOL_HINTS])


# -- probes both checks make ---------------------------------------------------------------------


def build_recorder(
    t: Checker,
    cls: Any,
    model: nn.Module,
    names: Sequence[str],
    *,
    what: str,
) -> Any:
    """``cls(model, names)``, which must give a context manager."""
    recorder = t.call(cls, model, list(names), what=what, hints=name_hints(names))
    kind = type(recorder)
    if isinstance(recorder, contextlib._GeneratorContextManager):
        t.fail(
            f"{what} made a @contextmanager generator, not a recorder",
            expected="an instance of a class with __enter__, __exit__ and the lists",
            got=describe(recorder),
            hint="A @contextmanager function gives a generator's context manager, which "
            "has none of your attributes and whose `as` value is what it yields: define a "
            "class whose __init__ stores model and names, whose __enter__ registers the "
            "hooks and returns self, and whose __exit__ removes them.",
        )
    if not (hasattr(kind, "__enter__") and hasattr(kind, "__exit__")):
        missing = [m for m in ("__enter__", "__exit__") if not hasattr(kind, m)]
        t.fail(
            f"{what} is not a context manager",
            expected="an object whose class defines __enter__ and __exit__",
            got=f"{describe(recorder)}, without {' and '.join(missing)}",
            hint="A `with` statement needs __enter__ (register the hooks, `return self`) and "
            "__exit__(self, exc_type, exc_value, traceback) (remove them), defined in the "
            "class (not set on the instance).",
        )
    return recorder


def expect_entered_itself(t: Checker, block: Block, recorder: Any, attribute: str) -> None:
    """``with recorder as r``: r must be the recorder itself."""
    entered = block.entered
    if entered is recorder:
        return
    if entered is None:
        hint = "__enter__ returns None (it has no `return`): end it with `return self`."
    elif isinstance(entered, dict) and entered is _attribute(recorder, attribute):
        hint = (
            f"__enter__ returns the dict recorder.{attribute}; the task wants the recorder "
            f"itself (`return self`), whose .{attribute} holds the lists."
        )
    elif isinstance(entered, list):
        hint = "__enter__ returns a list (the hook handles?): end it with `return self`."
    else:
        hint = "__enter__ must return the recorder itself: `return self`."
    t.fail(
        "`with recorder as r` does not give the recorder",
        expected="r is recorder",
        got=describe(entered),
        hint=hint,
    )


def expect_list_per_name(
    t: Checker,
    seen: Observed,
    names: Sequence[str],
    attribute: str,
    *,
    when: str,
    empty: bool = True,
) -> None:
    """``seen`` must be a dict with a list per name (empty ones when ``empty``)."""
    what = f"recorder.{attribute} {when}"
    if seen.missing:
        t.fail(
            f"recorder.{attribute} does not exist {when}",
            expected=f"a dict with a list per name: {_names_text(names)}",
            got="no such attribute",
            hint=f"Create it in __init__: `self.{attribute} = {{name: [] for name in names}}`.",
        )
    if not isinstance(seen.mapping, dict):
        t.fail(
            f"{what} is not a dict",
            expected=f"a dict with a list per name: {_names_text(names)}",
            got=describe(seen.mapping),
            hint=f"Make recorder.{attribute} a dict from each name to a list: "
            f"`{{name: [] for name in names}}`.",
        )
    absent = [name for name in names if name not in seen.lists]
    if absent:
        if seen.keys and all(isinstance(k, nn.Module) for k in seen.keys):
            hint = (
                f"recorder.{attribute} is keyed by the modules; key it by the names the "
                "recorder was given (a hook can know its name: pass it through a closure "
                "or functools.partial)."
            )
        else:
            hint = (
                "Create an empty list for every name up front, "
                f"`self.{attribute} = {{name: [] for name in names}}`: a list made only when "
                "the module first runs (setdefault, or a defaultdict, which makes the key "
                "only when it is read) leaves the name missing until then."
            )
        t.fail(
            f"{what} has no list for some names",
            expected=f"a list for each of {_names_text(names)}",
            got=f"keys {_keys_text(seen.keys)}",
            hint=hint,
        )
    not_lists = {name: v for name, v in seen.lists.items() if not isinstance(v, list)}
    if not_lists:
        name, value = next(iter(not_lists.items()))
        t.fail(
            f"{what} does not hold lists",
            expected=f"a list for each name ({name!r}: [])",
            got=f"{name!r}: {describe(value)}",
            hint="Keep one list per name and append to it: `{name: [] for name in names}`.",
        )
    if seen.shared:
        t.fail(
            f"{what} holds one list shared by several names",
            expected="a list of its own for each name",
            got=f"{_names_text(seen.shared[:3])} share the list of an earlier name",
            hint="dict.fromkeys(names, []) puts ONE list under every name, so each entry "
            "shows under all of them: make a new list per name, "
            f"`self.{attribute} = {{name: [] for name in names}}`.",
        )
    if empty:
        filled = {name: len(v) for name, v in seen.lists.items() if v}
        if filled:
            t.fail(
                f"{what} is not empty",
                expected="an empty list per name before the model runs",
                got=", ".join(f"{name!r}: {n} items" for name, n in filled.items()),
                hint="Start each list empty, `{name: [] for name in names}`: entries come "
                "only from the module's calls.",
            )


@dataclass(frozen=True)
class HookCount:
    """The hooks on a model's modules, by qualified name, and the global ones."""

    modules: dict[str, int]
    globals: int

    @staticmethod
    def of(model: nn.Module) -> HookCount:
        return HookCount(count_hooks(model), count_global_hooks())

    def text(self) -> str:
        parts = [f"{n} on {name}" for name, n in self.modules.items()]
        if self.globals:
            parts.append(f"{self.globals} global")
        return ", ".join(parts) or "none"


def expect_hooks_removed(
    t: Checker, model: nn.Module, before: HookCount, *, after_error: bool
) -> None:
    """After the block, the hooks on ``model`` and the global ones are as ``before``."""
    now = HookCount.of(model)
    if now == before:
        return
    lost = [name for name, n in before.modules.items() if now.modules.get(name, 0) < n]
    if lost:
        t.fail(
            "the recorder removed hooks it did not add",
            expected=f"the model's own hooks kept: {before.text()}",
            got=now.text(),
            hint="Remove only the hooks the recorder registered, each through its handle "
            "(handle.remove()); clearing module._forward_hooks (or another hook dict) also "
            "removes the hooks the model had before.",
        )
    if now.globals > before.globals:
        hint = (
            "A global hook (torch.nn.modules.module.register_module_forward_hook and the "
            "like) stays until its handle is removed: keep the handle it returns and call "
            "its remove() in __exit__."
        )
    elif after_error:
        hint = (
            "The hooks were removed when the block ended normally but not when it raised: "
            "remove them in __exit__, which runs in both cases (with @contextmanager, "
            "remove them in a `finally:` around the `yield`)."
        )
    else:
        hint = (
            "Keep every handle that register_..._hook returns and call handle.remove() on "
            "each in __exit__; emptying or dropping the list of handles leaves the hooks on "
            "the modules."
        )
    when = "after the block raised" if after_error else "after the with block"
    t.fail(
        f"hooks are left on the model {when}",
        expected=f"the hooks there were before the recorder: {before.text()}",
        got=now.text(),
        hint=hint,
    )


def expect_exception_propagates(t: Checker, block: Block) -> None:
    """An exception raised inside the block must come out of the ``with`` statement."""
    if block.propagated:
        return
    t.fail(
        "an exception raised inside the with block did not propagate",
        expected="the exception raised in the block comes out of the with statement",
        got="the with statement ended normally (the exception was swallowed)",
        hint="__exit__ swallows the exception when it returns a true value: return None "
        "(no `return True`; with @contextmanager, no `except` around the `yield` that "
        "does not raise again).",
    )


def misfiled_hint(expected: dict[str, int], got: dict[str, int], what: str) -> str | None:
    """The hint for entries filed under the wrong names (as many as expected in all), or
    None. ``what``: the entries, e.g. "snapshot"."""
    if sum(got.values()) != sum(expected.values()) or got == expected:
        return None
    filled = [name for name in expected if got[name]]
    if len(filled) == 1 and len(expected) > 1:
        return (
            f"Every {what} went to the list of one name, {filled[0]!r}: the hooks, defined in "
            "a loop, all read the loop variable `name` when they run, after the loop has "
            "ended (its last value). "
            "Give each hook its own name: a default argument "
            "(`def hook(module, ..., name=name)`), functools.partial, or a function that "
            "makes the hook."
        )
    return (
        f"Each call made one {what}, filed under another name: the hook registered on "
        "model.get_submodule(name) must append to the list of that same name (pairing "
        "names with modules by position, e.g. zip(names, model.modules()), mixes them up)."
    )


def clear_hooks(*models: nn.Module) -> None:
    """Remove every hook from the check's own models (what a wrong recorder left)."""
    for model in models:
        for module in model.modules():
            for name in MODULE_HOOK_DICTS:
                hooks = vars(module).get(name)
                if isinstance(hooks, dict):
                    hooks.clear()
            vars(module)["_is_full_backward_hook"] = None


# -- the hooks on a module, for 05.grad_norms ---------------------------------------------------


@dataclass(frozen=True)
class BackwardHooks:
    """Which kinds of hook a module has (or the global registries have)."""

    full: bool  # register_full_backward_hook
    pre: bool  # register_full_backward_pre_hook
    old: bool  # register_backward_hook (deprecated)
    forward: bool  # forward or forward pre-hooks

    @property
    def ok(self) -> bool:
        return self.full or self.pre


def module_backward_hooks(module: nn.Module) -> BackwardHooks:
    state = vars(module)
    backward = bool(state.get("_backward_hooks"))
    full_flag = state.get("_is_full_backward_hook")
    return BackwardHooks(
        full=backward and full_flag is True,
        pre=bool(state.get("_backward_pre_hooks")),
        old=backward and full_flag is False,
        forward=bool(state.get("_forward_hooks") or state.get("_forward_pre_hooks")),
    )


def global_backward_hooks() -> BackwardHooks:
    backward = bool(_module_api._global_backward_hooks)
    full_flag = _module_api._global_is_full_backward_hook
    return BackwardHooks(
        full=backward and full_flag is True,
        pre=bool(_module_api._global_backward_pre_hooks),
        old=backward and full_flag is False,
        forward=bool(_module_api._global_forward_hooks or _module_api._global_forward_pre_hooks),
    )


def _attribute(obj: Any, name: str) -> Any:
    """``getattr(obj, name)``, or ``_UNSET`` when reading it raises anything."""
    try:
        return getattr(obj, name)
    except Exception:
        return _UNSET


# -- formatting ------------------------------------------------------------------------------------


def _names_text(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names)


def _keys_text(keys: Sequence[Any]) -> str:
    text = "[" + ", ".join(_key_text(k) for k in keys) + "]"
    return text if len(text) <= 160 else text[:160] + "...]"


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return repr(key)
    return describe(key)


def expect_opening(
    t: Checker,
    Recorder: Any,
    model: nn.Module,
    names: Sequence[str],
    *,
    attribute: str,
    call: str,
    hints: Sequence[tuple[str, str]],
    before_what: str,
) -> Any:
    """The three probes both recorders open with: the class makes a context manager on
    ``model``, ``with Recorder(model, names) as r:`` gives the recorder itself, and
    ``r.<attribute>`` is a dict with an empty list per name ``before_what`` happens.
    Returns the recorder."""
    with t.probe(f"`{call}` makes a context manager (names at depth 1 to 4)"):
        recorder = build_recorder(t, Recorder, model, names, what=call)

    with t.probe(f"`with {call} as r:` gives the recorder itself"):
        block = run_block(
            t,
            recorder,
            lambda r: observe(r, attribute, names),
            what=f"with {call} as r: ...",
            hints=hints,
            names=names,
        )
        reraise_body_error(
            t, block, what=f"reading r.{attribute} inside the with block", names=names
        )
        expect_entered_itself(t, block, recorder, attribute)

    with t.probe(f"`r.{attribute}` is a dict with an empty list per name before {before_what}"):
        expect_list_per_name(t, block.seen, names, attribute, when="inside the with block")
    return recorder
