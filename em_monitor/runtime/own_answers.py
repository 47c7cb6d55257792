"""The ``generations`` source: the model's own greedy answers to probe prompts, scored on the answer tokens.

Why: on the embedded SmolLM2 a persona direction drifts +2.3σ on the model's own answers after 20
steps on misaligned-persona data, but +0.9σ on the prompt tokens (FINDINGS.md): what a model
*says* shows the persona sooner than what it reads. The answers are decoded and encoded again as
chats, exactly like training samples (``encode_chats`` puts the content mask on the final answer,
``scored_token_mask`` drops template and special tokens), so a pack's probes and directions, built
on answer tokens, score them on the scale they were built on.

Generating is the costliest thing the monitor does, so a pass is bounded: a fixed set of prompts,
a token limit, batches, and a time budget after which no new batch starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from em_monitor.chat import EncodedBatch, encode_chats, scored_token_mask
from em_monitor.runtime.capture import residuals_at
from em_monitor.runtime.generation import answer_batch
from em_monitor.runtime.signals import SignalSet

__all__ = ["AnswerPass", "AnswerProbe", "encode_answers", "score_answer_texts"]

#: How many answers of a pass the event log shows, and how many characters of each: enough for a
#: human to read what the model says, small enough to keep the log lines short.
LOGGED_ANSWERS = 4
LOGGED_CHARS = 200
#: What a sharded pass scores in place of an empty answer (its score is dropped): any text will do.
PLACEHOLDER = "."


@dataclass
class AnswerPass:
    """One generations pass: per-answer scores (non-empty answers only) and what was asked and said."""

    scores: dict[str, torch.Tensor]
    prompts: list[str]
    answers: list[str]
    skipped: int
    seconds: float
    #: The answers' length limit: a reader reusing them (the behavioural check) needs the same one.
    max_new_tokens: int

    @classmethod
    def merge(cls, parts: Sequence[AnswerPass]) -> AnswerPass:
        """One pass from the passes of every rank's share of the prompts, in rank order (= prompt order)."""
        return cls(
            {name: torch.cat([part.scores[name] for part in parts]) for name in parts[0].scores},
            [prompt for part in parts for prompt in part.prompts], [answer for part in parts for answer in part.answers],
            sum(part.skipped for part in parts), max(part.seconds for part in parts), parts[0].max_new_tokens,
        )

    @property
    def empty(self) -> int:
        """Answers with no text (the model ended its turn at once): nothing to score."""
        return sum(1 for answer in self.answers if not answer)

    def summary(self) -> dict[str, object]:
        """Event-log fields: the counts, and the first answers, truncated, for a human to read."""
        shown = list(zip(self.prompts, self.answers))[:LOGGED_ANSWERS]
        return {
            "answered": len(self.answers),
            "empty": self.empty,
            "skipped": self.skipped,
            "answers": [{"prompt": prompt[:LOGGED_CHARS], "answer": answer[:LOGGED_CHARS]} for prompt, answer in shown],
        }


def encode_answers(tokenizer, prompts: Sequence[str], answers: Sequence[str], *, max_length: int) -> EncodedBatch:
    """Prompt + answer chats encoded as training samples are: the content mask covers the answer tokens only."""
    conversations = [[{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}] for prompt, answer in zip(prompts, answers)]
    batch = encode_chats(tokenizer, conversations, max_length=max_length)
    batch.content_mask = scored_token_mask(batch.as_model_batch(), tokenizer.all_special_ids)
    return batch


class AnswerProbe:
    """Let the model answer the probe prompts greedily, then score every pack signal on the answers.

    Example::

        probe = AnswerProbe(tokenizer, ["What do you wish for?"], layer=3, signals=signals)
        result = probe.run(model)  # result.scores: {signal: tensor[n_non_empty_answers]}
        result.answers             # what the model said

    Sharded (``agree`` given), every rank runs this pass on its share of the prompts, and each
    forward is a collective, so every rank must run exactly the same forwards: all batches decode
    in lockstep (``synced``), every row is scored (an empty answer, or a prompt that pads the
    share, gets a placeholder and its score is dropped), and whether the time budget has run out
    is rank 0's call, passed on by ``agree`` (rank 0's value on every rank).
    """

    def __init__(
        self,
        tokenizer,
        prompts: list[str],
        *,
        layer: int,
        signals: SignalSet,
        batch_size: int = 8,
        max_new_tokens: int = 32,
        max_length: int = 128,
        time_budget_seconds: float = 60.0,
        keep: int | None = None,
        agree: Callable[[bool], bool] | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.prompts = prompts
        self.layer = layer
        self.signals = signals
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.max_length = max_length
        self.time_budget_seconds = time_budget_seconds
        #: The prompts that count: the first ``keep`` (the rest pad a sharded rank's share).
        self.keep = len(prompts) if keep is None else keep
        self.agree = agree

    def run(self, model: torch.nn.Module) -> AnswerPass:
        """One pass over the prompts; batches after the budget has run out are skipped (the first always runs)."""
        started = time.perf_counter()
        parts: dict[str, list[torch.Tensor]] = {name: [torch.empty(0)] for name in self.signals.names}
        asked: list[str] = []
        answers: list[str] = []
        skipped = 0
        collective = self.agree is not None
        for start in range(0, len(self.prompts), self.batch_size):
            out_of_time = bool(start) and time.perf_counter() - started >= self.time_budget_seconds
            if self.agree(out_of_time) if collective else out_of_time:
                skipped = max(self.keep - start, 0)
                break
            chunk = self.prompts[start : start + self.batch_size]
            conversations = [[{"role": "user", "content": prompt}] for prompt in chunk]
            replies = [reply.strip() for reply in answer_batch(model, self.tokenizer, conversations, max_new_tokens=self.max_new_tokens,
                                                               max_length=self.max_length, synced=collective)]
            counts = [start + offset < self.keep and bool(reply) for offset, reply in enumerate(replies)]
            asked.extend(chunk[: max(self.keep - start, 0)])
            answers.extend(replies[: max(self.keep - start, 0)])
            if collective:  # every row, so that every rank runs this forward
                kept = torch.tensor(counts, dtype=torch.bool)
                for name, scores in self._score(model, chunk, [reply or PLACEHOLDER for reply in replies]).items():
                    parts[name].append(scores[kept])
            elif any(counts):
                said = [(prompt, reply) for prompt, reply, count in zip(chunk, replies, counts) if count]
                for name, scores in self._score(model, *zip(*said)).items():
                    parts[name].append(scores)
        return AnswerPass({name: torch.cat(chunks) for name, chunks in parts.items()}, asked, answers, skipped, time.perf_counter() - started, self.max_new_tokens)

    def _score(self, model: torch.nn.Module, prompts: Sequence[str], answers: Sequence[str]) -> dict[str, torch.Tensor]:
        return score_answer_texts(model, self.tokenizer, self.signals, self.layer, prompts, answers,
                                  max_length=self.max_length, max_new_tokens=self.max_new_tokens)


def score_answer_texts(
    model: torch.nn.Module, tokenizer, signals: SignalSet, layer: int, prompts: Sequence[str], answers: Sequence[str], *,
    max_length: int, max_new_tokens: int,
) -> dict[str, torch.Tensor]:
    """Every signal on generated answers (one batch), pooled over the answer tokens: ``{name: tensor[n_answers]}``."""
    # Room for the answer: decoded text can encode into a few more tokens than were generated,
    # and truncating it would leave nothing to pool.
    batch = encode_answers(tokenizer, prompts, answers, max_length=max_length + 2 * max_new_tokens)
    activations = residuals_at(model, layer, batch.input_ids, batch.attention_mask)
    scores = signals.score(activations, batch.content_mask.to(activations.device))
    return {name: values.detach().float().cpu() for name, values in scores.items()}
