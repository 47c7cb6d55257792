"""Compute the chat-template prefix that every probe prompt shares once per pass, not once per prompt.

Why: a chat template puts the same tokens before every user message (SmolLM2 adds a default
system prompt: 24 of the ~46 tokens of an average probe prompt). Those positions are never
pooled (they are template, not content), yet an uncached pass pushes them through the layers
for every prompt. Here the prefix runs once, batch size 1, its keys and values are shared by
every batch of the pass, and only the per-prompt suffix is computed. On SmolLM2 this cuts a
batch's cost by about a quarter with bit-identical activations at the content positions.

The prefix is recomputed at every pass (the weights change between passes) and stops at the
captured layer like any scoring pass, so its cache holds only the layers that run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from transformers import DynamicCache

from em_monitor.chat import EncodedBatch
from em_monitor.runtime.capture import CaptureError, residuals_at

__all__ = ["SharedPrefix", "shared_prefix_length"]


def shared_prefix_length(batches: Sequence[EncodedBatch]) -> int:
    """How many leading tokens every prompt has in common, stopping before any prompt's first content token.

    Stopping before content keeps every pooled position in the per-prompt suffix, so pooling sees
    exactly the tokens it would see without the cache; at least one token of every prompt stays
    in the suffix, so every row still has a query to run.
    """
    first = batches[0].input_ids[0]
    limit = min(int(batch.attention_mask.sum(dim=1).min()) for batch in batches) - 1
    for batch in batches:
        has_content = batch.content_mask.any(dim=1)
        if has_content.any():
            limit = min(limit, int(batch.content_mask.float().argmax(dim=1)[has_content].min()))
    length = 0
    while length < max(limit, 0) and all(bool((batch.input_ids[:, length] == first[length]).all()) for batch in batches):
        length += 1
    return length


@dataclass
class SharedPrefix:
    """The shared prefix's token ids, and how to run a batch's suffixes on top of it."""

    input_ids: torch.Tensor  # [1, prefix]

    @property
    def length(self) -> int:
        return int(self.input_ids.shape[1])

    def keys_and_values(self, model: nn.Module, layer: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Run the prefix through blocks ``0..layer`` once: per block, its keys and values ``[1, heads, prefix, head_dim]``."""
        cache = DynamicCache()
        residuals_at(model, layer, self.input_ids, torch.ones_like(self.input_ids), cache=cache)
        blocks = [(block.keys, block.values) for block in cache.layers if getattr(block, "keys", None) is not None]
        if len(blocks) <= layer:
            raise CaptureError(f"the prefix pass cached {len(blocks)} blocks, expected at least {layer + 1}")
        return blocks

    def residuals(
        self, model: nn.Module, layer: int, prefix: list[tuple[torch.Tensor, torch.Tensor]],
        suffix_ids: torch.Tensor, attention_mask: torch.Tensor,
    ) -> torch.Tensor:
        """Block ``layer``'s output at the suffix positions ``[batch, suffix, d_model]``, the prefix read from ``prefix``.

        ``attention_mask`` covers prefix and suffix (the full prompts' mask). The prefix's keys and
        values are broadcast over the batch without a copy; the cache concatenates new positions
        onto them, which allocates a fresh tensor and leaves ``prefix`` intact for the next batch.
        """
        rows = suffix_ids.shape[0]
        cache = DynamicCache(ddp_cache_data=[(keys.expand(rows, -1, -1, -1), values.expand(rows, -1, -1, -1)) for keys, values in prefix])
        return residuals_at(model, layer, suffix_ids, attention_mask, cache=cache)
