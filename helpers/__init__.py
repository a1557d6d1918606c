"""Helpers for the course "Inside nn.Module".

One module per concern:

- ``helpers.device``: ``get_device()``, decided when called;
- ``helpers.seeding``: ``seed_everything(seed)``;
- ``helpers.versions``: ``print_versions(device)`` for a lesson's setup cell;
- ``helpers.plots``: the drawings lessons call (module trees, yes/no tables, hook timelines);
- ``helpers.hooks``: ``Hooks``, which owns hook handles and removes them (lesson 05);
- ``helpers.data``: ``digits()``, scikit-learn's bundled handwritten digits (lesson 07);
- ``helpers.grading``: ``run_check(task_id, namespace)`` and ``TASKS``;
- ``helpers.build``: ``python -m helpers build`` writes ``exercises/`` from ``solutions/``;
- ``helpers.tasklist``: ``python -m helpers tasks`` prints every task and its statement;
- ``helpers.notebooks``: kernels of this environment, and ``python -m helpers execute``
  to re-execute a committed notebook the way the repository keeps it.

``from helpers import get_device, print_versions, seed_everything`` works as usual; the
modules load on first use, so ``import helpers`` alone does not import torch (the
exercise builder and the test runner's plugin stay fast).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["get_device", "print_versions", "seed_everything"]

_HOME = {
    "get_device": "helpers.device",
    "print_versions": "helpers.versions",
    "seed_everything": "helpers.seeding",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
