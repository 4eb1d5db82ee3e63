"""Checking a torch device before anything is moved to it: a clear error, not a deep traceback."""

from __future__ import annotations

import torch


def resolve_device(device: str | torch.device) -> torch.device:
    """`device` as a torch.device, or a ValueError naming it when it is malformed or not on this machine."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device {device!r} is not a torch device ({exc})") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r}: this torch build sees no CUDA GPU (torch.cuda.is_available() is False)")
    if resolved.type == "cuda" and resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise ValueError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r}: MPS is not available on this machine")
    return resolved
