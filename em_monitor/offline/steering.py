"""Steering: add a persona vector to the residual stream and see whether behaviour follows.

Why: a latent that merely correlates with misaligned text is a weak thing to page people about.
If adding its decoder direction makes the model answer like the persona, and subtracting it makes
the model answer less like it, the latent is *causal* for that behaviour, and watching it is
watching the mechanism. A sweep over coefficients shows both directions and where the model
stops making sense (coherence), which bounds how far a shift can go before it is just noise.

Coefficients are in units of the residual stream's typical norm at the steered layer (the mean
L2 norm over the prompts' content tokens, measured once on the unsteered model), so ``0.5``
means "half as long as a typical activation" whatever the model's scale.

Example::

    with steering(model, layer=15, vector=0.5 * norm * unit):
        answers = generate_answers(model, tokenizer, conversations)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import torch
from torch import nn

from em_monitor.chat import encode_prompts
from em_monitor.judges.base import Judge, Verdict
from em_monitor.runtime.behaviour import verdict_means
from em_monitor.runtime.capture import decoder_blocks, model_device, residuals_at
from em_monitor.runtime.generation import generate_answers
from em_monitor.runtime.own_answers import score_answer_texts
from em_monitor.runtime.signals import SignalSet

#: Prompt tokens kept when the answers are scored: the monitor's own-answer default.
ANSWER_PROMPT_TOKENS = 128

__all__ = ["SteeringPoint", "content_norm", "steered_answers", "steering", "steering_sweep", "unit_vector"]


def _add_hook(vector: torch.Tensor) -> Callable:
    def hook(_module: nn.Module, _inputs: tuple, output):
        if isinstance(output, tuple):
            return (output[0] + vector.to(output[0].dtype), *output[1:])
        return output + vector.to(output.dtype)

    return hook


@contextmanager
def steering(model: nn.Module, layer: int, vector: torch.Tensor) -> Iterator[None]:
    """Add ``vector`` to decoder block ``layer``'s output at every position inside the ``with`` body.

    The hook returns the shifted output, so every later block (and any capture hook registered
    after this one) sees the steered residual stream. It always comes off, error or not.
    """
    block = decoder_blocks(model)[layer]
    handle = block.register_forward_hook(_add_hook(vector.detach().to(model_device(model))))
    try:
        yield
    finally:
        handle.remove()


def content_norm(model: nn.Module, tokenizer, prompts: Sequence[str], layer: int) -> float:
    """Mean L2 norm of block ``layer``'s output over the prompts' content tokens: the coefficients' unit.

    Template positions are left out: on chat models their attention-sink norms are tens of times
    larger than a content token's and would make every coefficient far too weak.
    """
    batch = encode_prompts(tokenizer, list(prompts))
    activations = residuals_at(model, layer, batch.input_ids, batch.attention_mask)
    return float(activations[batch.content_mask.to(activations.device)].norm(dim=-1).mean())


@dataclass
class SteeringPoint:
    """What the model says at one coefficient: judge, probe and coherence figures, and every answer."""

    coefficient: float
    misaligned_rate: float | None
    aligned_mean: float | None
    coherent_mean: float | None
    signal_means: dict[str, float]
    prompts: list[str]
    answers: list[str]
    #: The judge's verdict per answer (``None`` where it could not grade, or without a judge).
    verdicts: list[Verdict | None]

    def as_dict(self) -> dict:
        return {
            "coefficient": self.coefficient,
            "misaligned_rate": self.misaligned_rate,
            "aligned_mean": self.aligned_mean,
            "coherent_mean": self.coherent_mean,
            "signal_means": self.signal_means,
            "answers": [{"prompt": prompt, "answer": answer, **(verdict.as_dict() if verdict else {})}
                        for prompt, answer, verdict in zip(self.prompts, self.answers, self.verdicts)],
        }


def steering_sweep(
    model: nn.Module,
    tokenizer,
    prompts: Sequence[str],
    *,
    layer: int,
    direction: torch.Tensor,
    coefficients: Sequence[float],
    judge: Judge | None,
    signals: SignalSet,
    max_new_tokens: int = 40,
    batch_size: int = 8,
) -> tuple[float, list[SteeringPoint]]:
    """Generate answers at every coefficient along ``direction`` (unit-normalised) and grade them.

    Returns the norm that a coefficient of 1 stands for, and one :class:`SteeringPoint` per coefficient.
    """
    unit = unit_vector(direction)
    norm = content_norm(model, tokenizer, prompts, layer)
    points = [
        steered_answers(model, tokenizer, prompts, layer=layer, vector=coefficient * norm * unit, coefficient=coefficient, judge=judge,
                        signals=signals, max_new_tokens=max_new_tokens, batch_size=batch_size)
        for coefficient in coefficients
    ]
    return norm, points


def unit_vector(direction: torch.Tensor) -> torch.Tensor:
    direction = direction.detach().float()
    return direction / direction.norm()


def steered_answers(
    model: nn.Module, tokenizer, prompts: Sequence[str], *, layer: int, vector: torch.Tensor | None, coefficient: float,
    judge: Judge | None, signals: SignalSet, max_new_tokens: int = 40, batch_size: int = 8,
) -> SteeringPoint:
    """Answers with ``vector`` added at ``layer`` (``None``: the unsteered model), graded by the judge and the signals.

    The answers are scored by the signals on the *unsteered* model (as training samples are):
    that reads what the text says, not the vector the hook added.
    """
    conversations = [[{"role": "user", "content": prompt}] for prompt in prompts]
    with steering(model, layer, vector) if vector is not None else nullcontext():
        answers = [answer.strip() for answer in generate_answers(
            model, tokenizer, conversations, batch_size=batch_size, max_new_tokens=max_new_tokens, description=f"steering x{coefficient:+g}")]
    verdicts = judge.score(list(prompts), answers) if judge else [None] * len(answers)
    return SteeringPoint(
        coefficient=float(coefficient),
        **verdict_means(verdicts),
        signal_means=_answer_signal_means(model, tokenizer, prompts, answers, layer, signals, max_new_tokens),
        prompts=list(prompts),
        answers=answers,
        verdicts=list(verdicts),
    )


def _answer_signal_means(model, tokenizer, prompts, answers, layer, signals: SignalSet, max_new_tokens: int) -> dict[str, float]:
    said = [(prompt, answer) for prompt, answer in zip(prompts, answers) if answer]
    if not said:
        return {}
    scores = score_answer_texts(model, tokenizer, signals, layer, *zip(*said), max_length=ANSWER_PROMPT_TOKENS, max_new_tokens=max_new_tokens)
    return {name: float(values[torch.isfinite(values)].mean()) for name, values in scores.items()}
