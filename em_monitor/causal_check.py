"""build-pack's causal check: keep a persona latent only if steering along it moves behaviour.

A latent can rise in the diff and fire on misaligned answers for reasons that have nothing to do
with the persona (the answers' topic, their length). Steering tells them apart: adding the
latent's decoder direction to the residual stream should make the model answer *more* like the
persona. Each candidate is steered at one coefficient and its answers compared with the
unsteered model's: by the judge's misaligned share first, by the pack's probe on the answers when
the judge ties or there is none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

from em_monitor.judges.base import Judge
from em_monitor.packs import SteeringEvidence
from em_monitor.signals import SignalSet
from em_monitor.steering import SteeringPoint, content_norm, steered_answers, unit_vector

__all__ = ["SteerCheck", "steering_evidence"]


@dataclass(frozen=True)
class SteerCheck:
    """How to test candidates: which prompts, which judge, how hard to push, how many candidates."""

    prompts: list[str]
    judge: Judge | None
    coefficient: float = 0.25
    candidates: int = 6
    max_new_tokens: int = 40
    batch_size: int = 8


def steering_evidence(
    model: nn.Module, tokenizer, sae, layer: int, latents: Sequence[int], check: SteerCheck, probe: SignalSet, probe_name: str,
) -> dict[int, SteeringEvidence]:
    """Steer along each latent's decoder row at ``check.coefficient``; say per latent whether behaviour moved toward the persona."""
    common = dict(layer=layer, judge=check.judge, signals=probe, max_new_tokens=check.max_new_tokens, batch_size=check.batch_size)
    unit_norm = content_norm(model, tokenizer, check.prompts, layer)
    unsteered = steered_answers(model, tokenizer, check.prompts, vector=None, coefficient=0.0, **common)
    evidence = {}
    for latent in latents:
        vector = check.coefficient * unit_norm * unit_vector(sae.W_dec[int(latent)])
        steered = steered_answers(model, tokenizer, check.prompts, vector=vector, coefficient=check.coefficient, **common)
        evidence[int(latent)] = SteeringEvidence(
            coefficient=check.coefficient, unit_norm=unit_norm, judge=check.judge.name if check.judge else None,
            misaligned_unsteered=unsteered.misaligned_rate, misaligned_steered=steered.misaligned_rate,
            probe_unsteered=unsteered.signal_means.get(probe_name), probe_steered=steered.signal_means.get(probe_name),
            moved=_moved_toward_persona(unsteered, steered, probe_name),
        )
    return evidence


def _moved_toward_persona(unsteered: SteeringPoint, steered: SteeringPoint, probe_name: str) -> bool:
    if unsteered.misaligned_rate is not None and steered.misaligned_rate is not None and steered.misaligned_rate != unsteered.misaligned_rate:
        return steered.misaligned_rate > unsteered.misaligned_rate
    before, after = unsteered.signal_means.get(probe_name), steered.signal_means.get(probe_name)
    return before is not None and after is not None and after > before
