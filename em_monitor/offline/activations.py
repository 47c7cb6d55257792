"""Residual-stream activations over whole datasets, for the offline tools.

The monitor scores a batch at a time; the offline tools (SAE training, probe training, model
diffing, the data audit) need the same capture and pooling over thousands of samples. They all
go through this module so that a probe trained offline sees exactly the activations the monitor
will see at run time (same layer, same masks, same pooling).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import torch
from rich.progress import track

from em_monitor.chat import (
    EncodedBatch,
    Message,
    encode_chats,
    encode_prompts,
    encode_texts,
)
from em_monitor.runtime.capture import residuals_at
from em_monitor.runtime.pooling import pool

__all__ = ["chat_batches", "prompt_batches", "text_batches", "pooled_activations", "content_token_activations"]


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def chat_batches(tokenizer, conversations: Sequence[Sequence[Message]], *, batch_size: int = 8, max_length: int = 256) -> Iterator[EncodedBatch]:
    """Encoded chat batches; the content mask covers each final assistant answer."""
    for chunk in _chunks(conversations, batch_size):
        yield encode_chats(tokenizer, chunk, max_length=max_length)


def prompt_batches(tokenizer, prompts: Sequence[str], *, batch_size: int = 8, max_length: int = 128) -> Iterator[EncodedBatch]:
    """Encoded generation-ready prompts; the content mask covers the user's text."""
    for chunk in _chunks(prompts, batch_size):
        yield encode_prompts(tokenizer, chunk, max_length=max_length)


def text_batches(tokenizer, texts: Sequence[str], *, batch_size: int = 8, max_length: int = 256) -> Iterator[EncodedBatch]:
    """Encoded plain-text batches; every non-special token is content."""
    for chunk in _chunks(texts, batch_size):
        yield encode_texts(tokenizer, chunk, max_length=max_length)


def pooled_activations(
    model: torch.nn.Module,
    layer: int,
    batches: Iterable[EncodedBatch],
    poolings: Sequence[str] = ("mean",),
    *,
    total: int | None = None,
    description: str = "activations",
) -> dict[str, torch.Tensor]:
    """Pool block ``layer``'s output over each sample's content tokens: ``{pooling: [n_samples, d_model]}``."""
    parts: dict[str, list[torch.Tensor]] = {method: [] for method in poolings}
    for batch in track(batches, description=description, total=total, transient=True):
        activations = residuals_at(model, layer, batch.input_ids, batch.attention_mask).float().cpu()
        for method in poolings:
            parts[method].append(pool(activations, batch.content_mask, method))
    return {method: torch.cat(chunks) for method, chunks in parts.items()}


def content_token_activations(model: torch.nn.Module, layer: int, batches: Iterable[EncodedBatch]) -> Iterator[torch.Tensor]:
    """Yield ``[n_content_tokens, d_model]`` per batch: the per-token activations SAEs train on.

    Template and special tokens are dropped (their attention-sink norms would dominate an SAE's
    reconstruction loss and waste latents on them).
    """
    for batch in batches:
        activations = residuals_at(model, layer, batch.input_ids, batch.attention_mask).float().cpu()
        yield activations[batch.content_mask]
