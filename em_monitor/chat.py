"""Turn chat samples into token ids plus the masks the monitor pools over.

Why masks matter: on chat models the template tokens (BOS, role markers, the default system
prompt) carry attention-sink activations with huge norms; a mean over all positions is dominated
by them and hides the content. So every encoding here records, per token, whether it belongs to
the *content* we want to score: the user's text for probe prompts, the assistant's answer for
training samples. The masks come from character offsets of each message inside the rendered
template, so they work for any chat template, not just ChatML.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from em_monitor.errors import InputError
from em_monitor.jsonl import read_jsonl

__all__ = [
    "ChatFormatError",
    "EncodedBatch",
    "encode_chats",
    "encode_prompts",
    "encode_texts",
    "read_chat_jsonl",
    "ChatCollator",
    "scored_token_mask",
]

Message = Mapping[str, str]


class ChatFormatError(InputError):
    """A chat sample is malformed; the message names the file, line and problem."""


@dataclass
class EncodedBatch:
    """Padded token ids with the masks every consumer needs.

    ``content_mask`` marks the tokens to pool over (user text for prompts, the final assistant
    answer for chats); ``labels`` is the language-modelling target (-100 outside the answer).
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    content_mask: torch.Tensor
    labels: torch.Tensor

    def as_model_batch(self) -> dict[str, torch.Tensor]:
        """The dict a training step consumes; ``response_mask`` lets the monitor pool answers only."""
        return {
            "input_ids": self.input_ids,
            "attention_mask": self.attention_mask,
            "labels": self.labels,
            "response_mask": self.content_mask,
        }


def read_chat_jsonl(path: str | Path) -> list[list[dict[str, str]]]:
    """Read a chat JSONL file (``{"messages": [...]}`` per line), naming file and line on errors."""
    conversations = [_validated_messages(record, where) for where, record in read_jsonl(path)]
    if not conversations:
        raise ChatFormatError(f"{path}: no samples; expected one {{\"messages\": [...]}} object per line")
    return conversations


def _validated_messages(record: dict, where: str) -> list[dict[str, str]]:
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ChatFormatError(f"{where}: expected an object with a non-empty \"messages\" list")
    for position, message in enumerate(messages):
        if not (isinstance(message, dict) and isinstance(message.get("role"), str) and isinstance(message.get("content"), str)):
            raise ChatFormatError(f"{where}: messages[{position}] needs string \"role\" and \"content\"")
    return messages


def encode_prompts(tokenizer, prompts: Sequence[str], *, max_length: int = 128) -> EncodedBatch:
    """Encode user prompts as a generation-ready chat; the content mask covers the user's text."""
    conversations = [[{"role": "user", "content": prompt}] for prompt in prompts]
    return _encode(tokenizer, conversations, max_length=max_length, score_role="user", generation_prompt=True)


def encode_texts(tokenizer, texts: Sequence[str], *, max_length: int = 256) -> EncodedBatch:
    """Encode plain text (no chat template), e.g. prose for SAE training; every non-special token is content."""
    rows = []
    special = set(tokenizer.all_special_ids)
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False, truncation=True, max_length=max_length)["input_ids"]
        rows.append((ids, [token not in special for token in ids], list(ids)))
    return _padded(tokenizer, rows)


def encode_chats(tokenizer, conversations: Iterable[Sequence[Message]], *, max_length: int = 256) -> EncodedBatch:
    """Encode full conversations; the content mask and labels cover the final assistant answer."""
    conversations = [list(conversation) for conversation in conversations]
    for index, conversation in enumerate(conversations):
        if conversation[-1]["role"] != "assistant":
            raise ChatFormatError(f"sample {index}: the last message must be the assistant's answer")
    return _encode(tokenizer, conversations, max_length=max_length, score_role="assistant", generation_prompt=False)


def _encode(tokenizer, conversations, *, max_length: int, score_role: str, generation_prompt: bool) -> EncodedBatch:
    rows = [
        _encode_one(tokenizer, conversation, max_length, score_role, generation_prompt)
        for conversation in conversations
    ]
    return _padded(tokenizer, rows)


def _padded(tokenizer, rows: list[tuple[list[int], list[bool], list[int]]]) -> EncodedBatch:
    """Right-pad (ids, content flags, labels) rows into one batch."""
    width = max(len(ids) for ids, _, _ in rows)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    shape = (len(rows), width)
    input_ids = torch.full(shape, pad_id, dtype=torch.long)
    attention_mask = torch.zeros(shape, dtype=torch.long)
    content_mask = torch.zeros(shape, dtype=torch.bool)
    labels = torch.full(shape, -100, dtype=torch.long)
    # Right padding: captured positions line up with the unpadded forward pass.
    for row, (ids, content, target) in enumerate(rows):
        n = len(ids)
        input_ids[row, :n] = torch.tensor(ids)
        attention_mask[row, :n] = 1
        content_mask[row, :n] = torch.tensor(content)
        labels[row, :n] = torch.tensor(target)
    return EncodedBatch(input_ids, attention_mask, content_mask, labels)


def _encode_one(tokenizer, conversation, max_length, score_role, generation_prompt):
    text = tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=generation_prompt)
    spans = _content_spans(text, conversation, score_role)
    encoding = tokenizer(
        text, add_special_tokens=False, return_offsets_mapping=True, truncation=True, max_length=max_length
    )
    ids = encoding["input_ids"]
    special = set(tokenizer.all_special_ids)
    content = [
        token not in special and any(start < end and lo <= start and end <= hi for lo, hi in spans)
        for token, (start, end) in zip(ids, encoding["offset_mapping"])
    ]
    if generation_prompt:
        target = [-100] * len(ids)
    else:
        # Train on the answer and the template's end-of-turn marker, which the model must learn to emit.
        answer_start = spans[-1][0]
        target = [token if start >= answer_start else -100 for token, (start, _) in zip(ids, encoding["offset_mapping"])]
    return ids, content, target


def _content_spans(text: str, conversation, score_role: str) -> list[tuple[int, int]]:
    """Character spans of the scored role's message contents inside the rendered template."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for message in conversation:
        content = message["content"].strip()
        start = text.find(content, cursor) if content else -1
        if start < 0:
            continue
        end = start + len(content)
        cursor = end
        if message["role"] == score_role:
            spans.append((start, end))
    if score_role == "assistant":
        # Only the final answer is "the response" (DESIGN data contract).
        spans = spans[-1:]
    if not spans:
        raise ChatFormatError(f"could not locate the {score_role} text inside the rendered chat template")
    return spans


class ChatCollator:
    """A ``DataLoader`` collate function: chat samples in, a training batch with masks out.

    Example::

        loader = DataLoader(samples, batch_size=8, collate_fn=ChatCollator(tokenizer))
        batch = next(iter(loader))  # input_ids, attention_mask, labels, response_mask
    """

    def __init__(self, tokenizer, max_length: int = 256) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length

    def __call__(self, samples: Sequence[Mapping | Sequence[Message]]) -> dict[str, torch.Tensor]:
        conversations = [sample["messages"] if isinstance(sample, Mapping) else sample for sample in samples]
        return encode_chats(self.tokenizer, conversations, max_length=self.max_length).as_model_batch()


def scored_token_mask(batch: Mapping[str, torch.Tensor], special_ids: Iterable[int]) -> torch.Tensor:
    """Which tokens of a training batch to score: the answer tokens, never padding or template tokens.

    Uses, in order of preference, ``response_mask`` (made by :class:`ChatCollator`), the
    positions with ``labels != -100``, or every attended token.
    """
    if "input_ids" not in batch:
        raise KeyError("the training batch has no `input_ids`; the train_batch source needs a dict batch")
    input_ids = batch["input_ids"]
    mask = batch["attention_mask"].bool() if "attention_mask" in batch else torch.ones_like(input_ids, dtype=torch.bool)
    if "response_mask" in batch:
        mask = mask & batch["response_mask"].bool()
    elif "labels" in batch:
        mask = mask & (batch["labels"] != -100)
    special = torch.tensor(sorted(set(special_ids)), dtype=input_ids.dtype, device=input_ids.device)
    return mask & ~torch.isin(input_ids, special)


def split_packed_rows(activations: torch.Tensor, mask: torch.Tensor, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Packed rows as one padded row per sequence, so each packed conversation is scored (and flagged) as its own sample.

    Padding-free batches (TRL's ``packing``/``padding_free``) put several conversations in one
    row and restart ``position_ids`` at 0 at each; ``activations`` is ``[rows, tokens, width]``,
    ``mask`` the scored tokens. Rows that hold one sequence come back as they are.
    """
    rows, tokens = mask.shape
    starts = position_ids.reshape(rows, tokens) == 0
    starts[:, 0] = True
    spans = []
    for row in range(rows):
        bounds = torch.nonzero(starts[row]).flatten().tolist() + [tokens]
        spans += [(row, begin, end) for begin, end in zip(bounds, bounds[1:])]
    if len(spans) == rows:
        return activations, mask
    longest = max(end - begin for _, begin, end in spans)
    split = activations.new_zeros((len(spans), longest, activations.shape[-1]))
    split_mask = mask.new_zeros((len(spans), longest))
    for index, (row, begin, end) in enumerate(spans):
        split[index, : end - begin] = activations[row, begin:end]
        split_mask[index, : end - begin] = mask[row, begin:end]
    return split, split_mask
