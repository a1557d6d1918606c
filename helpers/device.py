"""Choose the device a lesson runs on, at call time."""

from __future__ import annotations

import torch

__all__ = ["get_device"]


def get_device(prefer: str | None = None) -> torch.device:
    """Return the best available device: the accelerator torch reports, else the CPU.

    ``torch.accelerator`` (torch 2.6 and newer) is torch's own answer to "which
    accelerator does this machine have" (CUDA, MPS, XPU, ...); where it is missing, CUDA
    and then Apple's MPS are tried. Decided when called, never at import, so a notebook
    that sets ``CUDA_VISIBLE_DEVICES`` first still gets what it asked for.

    Args:
        prefer: a device string (``"cpu"``, ``"cuda"``, ``"mps"``) to use when it is
            available; ignored (falling back to the automatic choice) when it is not.

    Returns:
        A ``torch.device`` without an index (``cuda``, not ``cuda:0``).

    Example:
        >>> device = get_device()
        >>> torch.zeros(2, device=device).device.type in {"cpu", "cuda", "mps", "xpu"}
        True
    """
    if prefer is not None and _available(prefer):
        return torch.device(torch.device(prefer).type)
    accelerator = _accelerator()
    return torch.device(accelerator) if accelerator is not None else torch.device("cpu")


def _accelerator() -> str | None:
    """The type of the machine's accelerator (``"cuda"``, ``"mps"``, ...), or None."""
    api = getattr(torch, "accelerator", None)
    if api is not None:  # torch >= 2.6
        if not api.is_available():
            return None
        current = api.current_accelerator()
        return current.type if current is not None else None
    for kind in ("cuda", "mps"):  # older torch
        if _available(kind):
            return kind
    return None


def _available(kind: str) -> bool:
    kind = torch.device(kind).type
    if kind == "cpu":
        return True
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        return bool(mps is not None and mps.is_available())
    api = getattr(torch, "accelerator", None)
    current = api.current_accelerator() if api is not None and api.is_available() else None
    return current is not None and current.type == kind
