"""The graders, one module per lesson, registered in ``REGISTRY`` by task id.

Importing this package imports every lesson's module, which registers its tasks.
"""

from helpers.checks import (
    lesson01,
    lesson02,
    lesson03,
    lesson04,
    lesson05,
    lesson06,
    lesson07,
)
from helpers.checks.core import REGISTRY

__all__ = [
    "REGISTRY",
    "lesson01",
    "lesson02",
    "lesson03",
    "lesson04",
    "lesson05",
    "lesson06",
    "lesson07",
]
