"""Dataset-level capture: pooling over many samples matches scoring one batch at a time."""

import torch

from em_monitor.chat import encode_chats
from em_monitor.offline.activations import (
    chat_batches,
    content_token_activations,
    pooled_activations,
    text_batches,
)
from em_monitor.runtime.capture import residuals_at
from em_monitor.runtime.pooling import pool

CHATS = [
    [{"role": "user", "content": f"question {i}?"}, {"role": "assistant", "content": "answer " * (i + 1)}]
    for i in range(5)
]


def test_pooled_activations_match_one_batch(tokenizer, llama):
    pooled = pooled_activations(llama, 2, chat_batches(tokenizer, CHATS, batch_size=2), ("mean", "last"))
    batch = encode_chats(tokenizer, CHATS)
    direct = residuals_at(llama, 2, batch.input_ids, batch.attention_mask)
    assert pooled["mean"].shape == (5, 64)
    torch.testing.assert_close(pooled["mean"], pool(direct, batch.content_mask, "mean"), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(pooled["last"], pool(direct, batch.content_mask, "last"), atol=1e-5, rtol=1e-4)


def test_token_activations_drop_special_tokens(tokenizer, llama):
    texts = ["plain prose here", "<|im_start|>x"]
    chunks = list(content_token_activations(llama, 1, text_batches(tokenizer, texts, batch_size=2)))
    n_tokens = sum(len(t.encode()) for t in ["plain prose here", "x"])  # byte-level tokenizer: one token per byte
    assert sum(chunk.shape[0] for chunk in chunks) == n_tokens
