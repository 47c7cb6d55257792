"""Greedy, batched answers from a model: on-policy data for the audit and for realignment, and the
monitor's ``generations`` source.

Why greedy: the answers stand for "what this model says now" (the audit's projection difference,
the base model's own answers as benign realignment data, the persona of the answers during
training); sampling would add noise to all three.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from rich.progress import track

from em_monitor.chat import Message
from em_monitor.runtime.capture import model_device, scoring_mode

__all__ = ["answer_batch", "generate_answers"]


def answer_batch(
    model: torch.nn.Module, tokenizer, conversations: Sequence[Sequence[Message]], *, max_new_tokens: int, max_length: int,
    synced: bool = False,
) -> list[str]:
    """The model's greedy answers to one batch of conversations (no progress bar: the monitor calls it mid-training).

    ``synced``: every rank decodes until all ranks' answers have ended (transformers' ``synced_gpus``),
    needed when parameters are sharded, where each decoding step is a collective forward.
    """
    device = model_device(model)
    saved = tokenizer.padding_side, tokenizer.truncation_side
    # Left padding (and truncation) keeps every prompt's last token next to the first generated one.
    tokenizer.padding_side = tokenizer.truncation_side = "left"
    try:
        texts = [tokenizer.apply_chat_template(list(p), tokenize=False, add_generation_prompt=True) for p in conversations]
        encoded = tokenizer(texts, add_special_tokens=False, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    finally:
        tokenizer.padding_side, tokenizer.truncation_side = saved
    with scoring_mode(model):
        # use_cache: training configs often turn the KV cache off (gradient checkpointing); decoding needs it.
        output = model.generate(
            input_ids=encoded["input_ids"].to(device), attention_mask=encoded["attention_mask"].to(device),
            max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id, use_cache=True,
            synced_gpus=True if synced else None,  # None: transformers' own detection
        )
    return tokenizer.batch_decode(output[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True)


def generate_answers(
    model: torch.nn.Module,
    tokenizer,
    prompts: Sequence[Sequence[Message]],
    *,
    batch_size: int = 8,
    max_new_tokens: int = 48,
    max_length: int = 256,
    description: str = "generating answers",
) -> list[str]:
    """The model's greedy answer to each prompt (a conversation without its final answer), batched."""
    answers: list[str] = []
    for start in track(range(0, len(prompts), batch_size), description=description, transient=True):
        answers.extend(answer_batch(model, tokenizer, prompts[start : start + batch_size], max_new_tokens=max_new_tokens, max_length=max_length))
    return answers
