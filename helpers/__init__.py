"""Helpers for the course "Inside nn.Module".

One module per concern:

- ``helpers.device``: ``get_device()``, decided when called;
- ``helpers.seeding``: ``seed_everything(seed)``;
- ``helpers.versions``: ``print_versions(device)`` for a lesson's setup cell;
- ``helpers.grading``: ``run_check(task_id, namespace)`` and ``TASKS``;
- ``helpers.build``: ``python -m helpers build`` writes ``exercises/`` from ``solutions/``.
"""

from helpers.device import get_device
from helpers.seeding import seed_everything
from helpers.versions import print_versions

__all__ = ["get_device", "print_versions", "seed_everything"]
