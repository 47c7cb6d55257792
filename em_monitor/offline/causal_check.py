"""The causal check: keep a persona latent only if steering along it moves behaviour (build-pack, steer --check).

A latent can rise in the diff and fire on misaligned answers for reasons that have nothing to do
with the persona (the answers' topic, their length). Steering tells them apart: adding the
latent's decoder direction to the residual stream should make the model answer *more* like the
persona. Each candidate is steered at one coefficient and its answers compared with the
unsteered model's: by the judge's misaligned share first, by the pack's probe on the answers when
the judge ties or there is none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import nn

from em_monitor.judges.base import Judge
from em_monitor.offline.steering import (
    SteeringPoint,
    content_norm,
    steered_answers,
    unit_vector,
)
from em_monitor.packs import PackError, PackSpec, PersonaPack, SteeringEvidence
from em_monitor.runtime.signals import SignalSet

__all__ = ["SteerCheck", "check_pack_latents", "latent_directions", "steering_evidence", "with_steering_evidence"]

K = TypeVar("K")


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
    model: nn.Module, tokenizer, layer: int, directions: Mapping[K, torch.Tensor], check: SteerCheck, probe: SignalSet, probe_name: str,
) -> dict[K, SteeringEvidence]:
    """Steer along each direction at ``check.coefficient``; say per key whether behaviour moved toward the persona.

    ``directions`` maps whatever names the caller uses (latent ids at build time, signal names for
    a built pack) to residual-stream directions, e.g. SAE decoder rows; only their direction counts.
    """
    common = dict(layer=layer, judge=check.judge, signals=probe, max_new_tokens=check.max_new_tokens, batch_size=check.batch_size)
    unit_norm = content_norm(model, tokenizer, check.prompts, layer)
    unsteered = steered_answers(model, tokenizer, check.prompts, vector=None, coefficient=0.0, **common)
    evidence = {}
    for key, direction in directions.items():
        vector = check.coefficient * unit_norm * unit_vector(direction)
        steered = steered_answers(model, tokenizer, check.prompts, vector=vector, coefficient=check.coefficient, **common)
        evidence[key] = SteeringEvidence(
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


def latent_directions(pack: PersonaPack) -> dict[str, torch.Tensor]:
    """Each SAE-latent signal of a built pack and its decoder row: what ``steer --check`` steers along."""
    latents = [spec.name for spec in pack.spec.signals if spec.kind == "sae_latent"]
    if not latents:
        raise PackError(f"{pack.root}: the pack has no SAE-latent signals to check by steering")
    return {name: pack.steering_vector(name) for name in latents}


def check_pack_latents(
    model: nn.Module, tokenizer, pack: PersonaPack, signals: SignalSet, directions: Mapping[str, torch.Tensor], check: SteerCheck,
) -> dict[str, SteeringEvidence]:
    """The build-time causal check, run on a pack that already exists: one verdict per signal in ``directions``.

    Packs built without ``--steer-check`` (or before it existed) get their evidence this way
    without a rebuild, so the latents they watch stay the same. The pack's first probe breaks the
    judge's ties, as at build time; ``signals`` are the pack's, already built by the caller.
    """
    probe_name = next((spec.name for spec in pack.spec.signals if spec.kind == "probe"), "")
    return steering_evidence(model, tokenizer, pack.layer, directions, check, signals, probe_name)


def with_steering_evidence(spec: PackSpec, evidence: Mapping[str, SteeringEvidence], recorded_by: str) -> PackSpec:
    """``spec`` with each checked signal's ``steering`` record replaced, and the command that measured it under ``built``."""
    signals = [signal.model_copy(update={"steering": evidence[signal.name]}) if signal.name in evidence else signal for signal in spec.signals]
    return spec.model_copy(update={"signals": signals, "built": {**spec.built, "steering_recorded_by": recorded_by}})
