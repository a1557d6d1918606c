"""Lesson 06 (apply): one module per task, each registering its check on import.

- ``init_weights``: ``06.init_weights``, a function for ``model.apply`` that initializes
  Linear, Conv2d, BatchNorm and LayerNorm layers in place, each kind by its own rule;
- ``apply_order``: ``06.apply_order``, the qualified names in the order ``model.apply``
  visits the modules (children first);
- ``preorder_apply``: ``06.preorder_apply``, ``Module.apply`` that visits a module before
  its children;
- ``hooks_by_type``: ``06.hooks_by_type``, a forward hook on every module of a type, one
  handle per hook;
- ``name_repr``: ``06.name_repr``, a per-instance ``extra_repr`` for modules that have a
  ``name``.

``common`` holds what they share: the notebook's name, the checks' models (built with
``torch.nn.init`` as imported) and ``ClassGuard``, which undoes and reports changes a
learner's code makes to classes, ``torch.Tensor`` and ``torch.nn.init``.
"""

from helpers.checks.lesson06 import (
    apply_order,
    hooks_by_type,
    init_weights,
    name_repr,
    preorder_apply,
)

__all__ = [
    "apply_order",
    "hooks_by_type",
    "init_weights",
    "name_repr",
    "preorder_apply",
]
