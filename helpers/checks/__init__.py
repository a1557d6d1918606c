"""The graders, one module per lesson, registered in ``REGISTRY`` by task id."""

from helpers.checks.core import REGISTRY

__all__ = ["REGISTRY"]
