"""The version line a lesson's setup cell prints."""

from __future__ import annotations

import platform

import torch

__all__ = ["print_versions"]


def print_versions(device: torch.device | str) -> None:
    """Print the Python and torch versions and the device in one line.

    The line has a fixed shape (``Python X · torch Y · device Z``) so that
    ``tests/sanitize.cfg`` can normalise it: notebooks validate the same way on any
    machine, CPU or GPU.

    Example:
        >>> print_versions("cpu")  # doctest: +ELLIPSIS
        Python ... · torch ... · device cpu
    """
    print(f"Python {platform.python_version()} · torch {torch.__version__} · device {device}")
