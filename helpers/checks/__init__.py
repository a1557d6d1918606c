"""The graders, one module per lesson, registered in ``REGISTRY`` by task id.

Importing this package imports every lesson's module, which registers its tasks.
"""

from helpers.checks import module_01, module_02, module_03, module_04
from helpers.checks.core import REGISTRY

__all__ = ["REGISTRY", "module_01", "module_02", "module_03", "module_04"]
