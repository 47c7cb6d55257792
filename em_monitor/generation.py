"""Greedy, batched answers from a model: on-policy data for the audit and for realignment.

Why greedy: the answers stand for "what this model says now" (the audit's projection difference,
the base model's own answers as benign realignment data); sampling would add noise to both.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from rich.progress import track

from em_monitor.capture import scoring_mode
from em_monitor.chat import Message

__all__ = ["generate_answers"]


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
    device = next(model.parameters()).device
    answers: list[str] = []
    saved = tokenizer.padding_side, tokenizer.truncation_side
    # Left padding (and truncation) keeps every prompt's last token next to the first generated one.
    tokenizer.padding_side = tokenizer.truncation_side = "left"
    try:
        for start in track(range(0, len(prompts), batch_size), description=description, transient=True):
            texts = [tokenizer.apply_chat_template(list(p), tokenize=False, add_generation_prompt=True)
                     for p in prompts[start : start + batch_size]]
            encoded = tokenizer(texts, add_special_tokens=False, padding=True, truncation=True, max_length=max_length,
                                return_tensors="pt")
            with scoring_mode(model):
                output = model.generate(
                    input_ids=encoded["input_ids"].to(device), attention_mask=encoded["attention_mask"].to(device),
                    max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id,
                )
            new_tokens = output[:, encoded["input_ids"].shape[1] :]
            answers.extend(tokenizer.batch_decode(new_tokens, skip_special_tokens=True))
    finally:
        tokenizer.padding_side, tokenizer.truncation_side = saved
    return answers
