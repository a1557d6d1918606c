"""Choose the device a lesson runs on, at call time."""

from __future__ import annotations

import torch

__all__ = ["get_device"]


def get_device(prefer: str | None = None) -> torch.device:
    """Return the best available device: CUDA, then Apple's MPS, then the CPU.

    Decided when called, never at import, so a notebook that sets
    ``CUDA_VISIBLE_DEVICES`` first still gets what it asked for.

    Args:
        prefer: a device string (``"cpu"``, ``"cuda"``, ``"mps"``) to use when it is
            available; ignored (falling back to the automatic choice) when it is not.

    Returns:
        A ``torch.device``.

    Example:
        >>> device = get_device()
        >>> torch.zeros(2, device=device).device.type in {"cpu", "cuda", "mps"}
        True
    """
    if prefer is not None and _available(prefer):
        return torch.device(prefer)
    for kind in ("cuda", "mps"):
        if _available(kind):
            return torch.device(kind)
    return torch.device("cpu")


def _available(kind: str) -> bool:
    kind = torch.device(kind).type
    if kind == "cpu":
        return True
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        return bool(mps is not None and mps.is_available())
    return False
