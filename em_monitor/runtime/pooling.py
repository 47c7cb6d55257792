"""Pool per-token activations into one vector per sample, honouring a token mask.

Pure functions: every signal, probe trainer and audit pools the same way, so a probe trained
offline scores identically inside the monitor. A row whose mask is empty (say, a training
sample whose answer was truncated away) pools to NaN rather than to a made-up number; the
statistics downstream skip non-finite scores and count them.
"""

from __future__ import annotations

from typing import Literal

import torch

__all__ = ["POOLING_METHODS", "Pooling", "pool", "check_pooling"]

Pooling = Literal["mean", "max", "last"]
#: The pooling methods, checked against this one tuple wherever a pooling name is accepted.
POOLING_METHODS: tuple[str, ...] = ("mean", "max", "last")


def check_pooling(method: str) -> str:
    """Return ``method`` if it is a known pooling method, else raise with the valid choices."""
    if method not in POOLING_METHODS:
        raise ValueError(f"unknown pooling {method!r}; choose one of {', '.join(POOLING_METHODS)}")
    return method


def pool(activations: torch.Tensor, mask: torch.Tensor, method: str) -> torch.Tensor:
    """Pool ``activations[batch, tokens, features]`` over the tokens where ``mask[batch, tokens]`` is set.

    Returns ``[batch, features]``; rows with no masked token are NaN.
    """
    check_pooling(method)
    if activations.shape[:2] != mask.shape:
        raise ValueError(f"mask shape {tuple(mask.shape)} does not match activations {tuple(activations.shape)}")
    mask = mask.to(torch.bool)
    counts = mask.sum(dim=1)
    empty = (counts == 0).unsqueeze(-1)
    if method == "mean":
        summed = (activations * mask.unsqueeze(-1)).sum(dim=1)
        pooled = summed / counts.clamp(min=1).unsqueeze(-1).to(activations.dtype)
    elif method == "max":
        pooled = activations.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=1)
    else:
        positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
        last = torch.where(mask, positions, -1).amax(dim=1).clamp(min=0)
        pooled = activations[torch.arange(activations.shape[0], device=activations.device), last]
    return pooled.masked_fill(empty, float("nan"))
