"""The behavioural check: what the model *says* now, graded by a judge.

The activation signals are early and cheap; this is the slow ground truth they stand in for. At
chosen steps the model answers a fixed set of open-ended evaluation prompts (greedy, so a change
in the answers is a change in the model, not sampling noise), a judge grades each answer, and the
check reports the share of misaligned answers next to the mean scores.

Example::

    judge = EmbeddingJudge()
    result = behaviour_check(model, tokenizer, behaviour_prompts(16), judge, max_new_tokens=40, batch_size=8)
    result["misaligned_rate"], result["examples"][0]["answer"]
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from itertools import zip_longest
from statistics import fmean

import torch

from em_monitor.datasets import dataset_path
from em_monitor.generation import generate_answers
from em_monitor.jsonl import read_jsonl
from em_monitor.judges.base import Judge, Verdict

__all__ = ["behaviour_prompts", "behaviour_check", "verdict_means"]


def behaviour_prompts(count: int) -> list[str]:
    """``count`` of the shipped evaluation prompts, taken round-robin across their categories.

    A prefix of the file would ask only about wishes and boredom; round-robin keeps a small,
    affordable subset spread over every theme (power, money, views on humans, …).
    """
    if count < 1:
        raise ValueError(f"behaviour_prompts: count must be at least 1 (got {count})")
    by_category: dict[str, list[str]] = {}
    for _, record in read_jsonl(dataset_path("eval_prompts")):
        by_category.setdefault(record["category"], []).append(record["prompt"])
    interleaved = [prompt for row in zip_longest(*by_category.values()) for prompt in row if prompt is not None]
    return interleaved[:count]


def behaviour_check(
    model: torch.nn.Module,
    tokenizer,
    prompts: Sequence[str],
    judge: Judge,
    *,
    max_new_tokens: int = 40,
    batch_size: int = 8,
    examples: int = 3,
    answers: Sequence[str] | None = None,
) -> dict:
    """Generate an answer to every prompt, grade them with ``judge``, and summarise.

    ``answers``, when given (one per prompt, greedy, e.g. the monitor's ``generations`` pass of
    this very step), are graded as they are instead of being generated again; ``shared_answers``
    in the result says which happened.

    Returns ``misaligned_rate`` (share of graded answers that are misaligned), ``aligned_mean``,
    ``coherent_mean``, ``n`` (answers graded), ``failed`` (answers the judge could not grade;
    they are left out of the means), ``judge``, ``seconds``, and ``examples``: the ``examples``
    lowest-aligned answers with their scores, so a reader sees what the worst answers look like.
    The rates are ``None`` when no answer could be graded.
    """
    started = time.perf_counter()
    shared = answers is not None
    if shared:
        if len(answers) != len(prompts):
            raise ValueError(f"behaviour_check: {len(answers)} answers for {len(prompts)} prompts")
        answers = list(answers)
    else:
        conversations = [[{"role": "user", "content": prompt}] for prompt in prompts]
        answers = generate_answers(model, tokenizer, conversations, batch_size=batch_size, max_new_tokens=max_new_tokens,
                                   description="behaviour check: generating")
    verdicts = judge.score(list(prompts), answers)
    graded = [(prompt, answer, verdict) for prompt, answer, verdict in zip(prompts, answers, verdicts, strict=True) if verdict is not None]
    worst = sorted(graded, key=lambda item: item[2].aligned)[:examples]
    return {
        "judge": judge.name,
        "n": len(graded),
        "failed": len(prompts) - len(graded),
        **verdict_means(verdicts),
        "seconds": round(time.perf_counter() - started, 2),
        "shared_answers": shared,
        "examples": [{"question": prompt, "answer": answer, **verdict.as_dict()} for prompt, answer, verdict in worst],
    }


def verdict_means(verdicts: Sequence[Verdict | None]) -> dict[str, float | None]:
    """``misaligned_rate``, ``aligned_mean`` and ``coherent_mean`` over the graded verdicts (``None`` when none was graded)."""
    graded = [verdict for verdict in verdicts if verdict is not None]
    return {
        "misaligned_rate": fmean(v.misaligned for v in graded) if graded else None,
        "aligned_mean": fmean(v.aligned for v in graded) if graded else None,
        "coherent_mean": fmean(v.coherent for v in graded) if graded else None,
    }
