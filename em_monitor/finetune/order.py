"""Which sample sits at which step and batch index: one sample order for every reference fine-tune."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import RandomSampler

__all__ = ["training_order"]


def training_order(conversations: Sequence[dict], *, steps: int, batch_size: int, seed: int, shuffle: bool) -> list[dict]:
    """The ``steps * batch_size`` samples a fine-tune trains on, in order.

    With ``shuffle`` they are drawn with replacement (seeded), which makes ``steps`` independent of
    the dataset size; without it they are used in the given order, cycled if too few. Either way
    the frameworks read the list in sequence, so Lightning and the Trainer see the same batches
    and the caller knows which sample sits where.
    """
    samples = list(conversations)
    if not shuffle:
        return [samples[index % len(samples)] for index in range(steps * batch_size)]
    generator = torch.Generator().manual_seed(seed)
    return [samples[index] for index in RandomSampler(samples, replacement=True, num_samples=steps * batch_size, generator=generator)]
