"""Lesson 05 (hooks): one module per task, each registering its check on import.

- ``activation_recorder``: ``05.activation_recorder``, a context manager recording
  snapshots of named submodules' outputs;
- ``clamp_inputs``: ``05.clamp_inputs``, a forward pre-hook that clamps the first input;
- ``clip_gradient``: ``05.clip_gradient``, a tensor hook that rescales each incoming
  gradient to a maximal L2 norm;
- ``grad_norms``: ``05.grad_norms``, a context manager recording the norm of the gradient
  with respect to named submodules' outputs;
- ``summary``: ``05.summary``, one row per leaf-module call, the model left as it was.
"""

from helpers.checks.lesson05 import (
    activation_recorder,
    clamp_inputs,
    clip_gradient,
    grad_norms,
    summary,
)

__all__ = [
    "activation_recorder",
    "clamp_inputs",
    "clip_gradient",
    "grad_norms",
    "summary",
]
