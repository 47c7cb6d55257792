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

import logging
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import zip_longest
from statistics import fmean
from typing import TYPE_CHECKING, Any

import torch

from em_monitor.datasets import dataset_path
from em_monitor.jsonl import read_jsonl
from em_monitor.judges.base import Judge, Verdict
from em_monitor.runtime.generation import generate_answers

if TYPE_CHECKING:
    from em_monitor.runtime.controller import Controller

__all__ = ["BehaviourSchedule", "behaviour_prompts", "behaviour_check", "verdict_means"]

log = logging.getLogger("em_monitor")

#: The figures of each check sent to the trainer's loggers as ``em_monitor/behaviour/<key>``.
LOGGED_KEYS: tuple[str, ...] = ("misaligned_rate", "aligned_mean", "coherent_mean")


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


class BehaviourSchedule:
    """The behavioural check during training, framework-neutral: when it runs, and where its result goes.

    Checks run at step 0 (before any update), at every ``every_n_steps``-th step, and once at the
    end. Each is written as a ``behaviour`` event to the monitor's event log (when the run has a
    monitor) and kept in ``results``; :meth:`check` returns the figures for the framework's own
    loggers. When the monitor's ``generations`` source answered these very prompts at the same
    step with the same ``max_new_tokens``, the check grades those answers instead of generating
    them again. A failing check is counted by the monitor (stage ``behaviour``) and logged, never
    raised into training. The adapters (``callbacks/behaviour.py`` for Lightning,
    ``callbacks/hf.py`` for the Hugging Face Trainer) only call :meth:`due` and :meth:`check` on rank 0.
    """

    def __init__(self, judge: Judge, prompts: Sequence[str], *, every_n_steps: int = 20, max_new_tokens: int = 40, batch_size: int = 8) -> None:
        if every_n_steps < 1:
            raise ValueError(f"BehaviourCheck: every_n_steps must be at least 1 (got {every_n_steps})")
        if not prompts:
            raise ValueError("BehaviourCheck: no prompts to ask; pass e.g. em_monitor.runtime.behaviour.behaviour_prompts(16)")
        self.judge = judge
        self.prompts = list(prompts)
        self.every_n_steps = every_n_steps
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.results: list[dict[str, Any]] = []
        self.checked_steps: set[int] = set()

    def due(self, step: int, *, final: bool = False) -> bool:
        return step not in self.checked_steps and (final or step % self.every_n_steps == 0)

    def check(self, step: int, model: torch.nn.Module, tokenizer: Any, controller: Controller | None) -> dict[str, float]:
        """Run the check at ``step``; return the figures for the trainer's loggers (empty if it failed)."""
        # Marked first: a check that fails is not retried on every micro-batch of the same step.
        self.checked_steps.add(step)
        figures: dict[str, float] = {}
        with self._guard(controller):
            if tokenizer is None:
                raise ValueError("BehaviourCheck needs the tokenizer: pass tokenizer=...")
            result = {"step": step, **behaviour_check(model, tokenizer, self.prompts, self.judge, max_new_tokens=self.max_new_tokens,
                                                      batch_size=self.batch_size, answers=self._monitor_answers(step, controller))}
            self.results.append(result)
            if controller is not None:
                controller.monitor.event("behaviour", **result)
            figures = {f"em_monitor/behaviour/{key}": float(result[key]) for key in LOGGED_KEYS if result[key] is not None}
            log.info("em-monitor: behaviour at step %d: misaligned rate %s over %d answers (%s judge)",
                     step, result["misaligned_rate"], result["n"], result["judge"])
        return figures

    def identity(self) -> dict[str, Any]:
        """What tells this check's saved state from another's (judge, questions, cadence), so a run may hold several.

        crc32 of the questions because ``hash()`` changes per process.
        """
        questions = zlib.crc32("\n".join(self.prompts).encode("utf-8"))
        return {"judge": self.judge.name, "prompts": f"{questions:08x}", "max_new_tokens": self.max_new_tokens, "every_n_steps": self.every_n_steps}

    def state_dict(self) -> dict[str, Any]:
        return {"checked_steps": sorted(self.checked_steps)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.checked_steps = set(state.get("checked_steps", []))

    def _monitor_answers(self, step: int, controller: Controller | None) -> list[str] | None:
        """The monitor's own answers to exactly these prompts at this step, when it generated them (same length limit)."""
        answered = controller.answers_at(step) if controller is not None else None
        if answered is None or answered.max_new_tokens != self.max_new_tokens:
            return None
        said = dict(zip(answered.prompts, answered.answers))
        if not all(prompt in said for prompt in self.prompts):
            return None
        return [said[prompt] for prompt in self.prompts]

    @contextmanager
    def _guard(self, controller: Controller | None) -> Iterator[None]:
        """The monitor's guard (counted, logged once) when there is a monitor; else log and go on."""
        if controller is not None:
            with controller.monitor.guard("behaviour"):
                yield
            return
        try:
            yield
        except Exception:  # noqa: BLE001 — a behavioural check must never break the run it watches
            log.exception("em-monitor: behaviour check failed; training goes on")
