"""Seed every random number generator a lesson uses."""

from __future__ import annotations

import random

import torch

__all__ = ["seed_everything"]


def seed_everything(seed: int = 0) -> int:
    """Seed Python's ``random``, NumPy (when installed) and torch (CPU and every GPU).

    Args:
        seed: the seed.

    Returns:
        The seed, so a notebook can print what it used.

    Example:
        >>> _ = seed_everything(0); a = torch.rand(2)
        >>> _ = seed_everything(0); torch.equal(a, torch.rand(2))
        True
    """
    random.seed(seed)
    try:
        import numpy as np
    except ImportError:  # NumPy is optional for the helpers
        pass
    else:
        np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return seed
