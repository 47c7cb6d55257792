"""Data audit: score every sample of a fine-tuning set with a pack's signals *before* training on it.

Wang et al. (2025) note that the persona latents that detect emergent misalignment can also
screen training data; Chen et al. (2025) flag samples by "projection difference": how far the
training answer sits from the base model's *own* answer to the same prompt along a persona
direction. This module does both, pooling over the answer tokens exactly as the monitor does on
training batches:

* ``scores``: each signal on the training answer;
* ``z``: per signal, against the pack's baseline for source ``responses`` when it has one, else a
  robust z against the dataset itself (median, 1.4826 · MAD);
* ``flagged``: signals with ``z >= z_threshold``; probes when their probability is >= 0.5 (log-odds >= 0
  for a probe whose pack output is ``logit``, such as ``bad_advice``);
* ``rank``: 1 = most suspicious by the mean of the per-signal z-scores;
* ``projection_difference``: training answer's score minus the base model's greedy answer's.

Example::

    pack = load_pack("builtin:smollm2")
    result = audit_samples(loaded.model, loaded.tokenizer, pack, read_chat_jsonl("data.jsonl"))
    result.write("audit.jsonl")  # one line per sample in input order + audit.summary.json
    result.summary["top"]        # the ten most suspicious sample indices
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rich.progress import track

from em_monitor.chat import Message
from em_monitor.jsonl import read_jsonl
from em_monitor.labels import parse_label
from em_monitor.offline.activations import chat_batches
from em_monitor.packs import PersonaPack
from em_monitor.runtime.capture import hidden_size, residuals_at
from em_monitor.runtime.generation import generate_answers
from em_monitor.runtime.signals import SignalSet

__all__ = [
    "BASELINE_SOURCE",
    "PROBE_THRESHOLD",
    "MAD_SCALE",
    "AuditResult",
    "audit_samples",
    "read_labels",
    "score_answers",
    "summary_path",
    "z_scores",
]

#: The pack baseline source the audit compares training answers with.
BASELINE_SOURCE = "responses"
#: Probes output a probability; a sample is flagged by a probe at or above this (log-odds probes: at or above 0, the same decision).
PROBE_THRESHOLD = 0.5
#: 1.4826 · MAD estimates the standard deviation of normally distributed data.
MAD_SCALE = 1.4826
#: Accepted ``label`` values (case-insensitive for strings): misaligned is the positive class.


@dataclass
class AuditResult:
    """Per-sample records (input order) and the summary; :meth:`write` saves both."""

    records: list[dict[str, object]]
    summary: dict[str, object]

    def write(self, out: str | Path) -> Path:
        """Write the records as JSONL to ``out`` and the summary beside it; return the summary's path."""
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as handle:
            for record in self.records:
                handle.write(json.dumps(record) + "\n")
        path = summary_path(out)
        path.write_text(json.dumps(self.summary, indent=2) + "\n", encoding="utf-8")
        return path


def summary_path(out: str | Path) -> Path:
    """``OUT.jsonl`` → ``OUT.summary.json``."""
    out = Path(out)
    return out.with_name(f"{out.stem if out.suffix == '.jsonl' else out.name}.summary.json")


def read_labels(path: str | Path) -> list[int | None]:
    """The ``label`` of every line of a chat JSONL file, in the order :func:`read_chat_jsonl` reads them."""
    return [parse_label(record.get("label"), where) for where, record in read_jsonl(path)]


def score_answers(
    model: torch.nn.Module,
    tokenizer,
    signals: SignalSet,
    layer: int,
    conversations: Sequence[Sequence[Message]],
    *,
    batch_size: int = 8,
    max_length: int = 256,
    description: str = "audit: scoring answers",
) -> dict[str, np.ndarray]:
    """Every signal on each conversation's final answer tokens; NaN where no answer token survives truncation."""
    parts: dict[str, list[np.ndarray]] = {name: [] for name in signals.names}
    batches = chat_batches(tokenizer, conversations, batch_size=batch_size, max_length=max_length)
    for batch in track(batches, description=description, total=math.ceil(len(conversations) / batch_size), transient=True):
        activations = residuals_at(model, layer, batch.input_ids, batch.attention_mask)
        scores = signals.score(activations, batch.content_mask.to(activations.device))
        for name, values in scores.items():
            parts[name].append(values.double().numpy())
    return {name: np.concatenate(chunks) if chunks else np.empty(0) for name, chunks in parts.items()}


def z_scores(scores: np.ndarray, baseline: object | None = None) -> tuple[np.ndarray, dict[str, object]]:
    """z-scores of ``scores`` against ``baseline`` (``mean``/``std``), else robustly against the scores themselves.

    Where the MAD is 0 (over half the scores tie, e.g. a latent that rarely fires) the sample
    standard deviation stands in; a constant signal gets z = 0 rather than infinities.
    """
    if baseline is not None:
        center, scale, method = float(baseline.mean), float(baseline.std), f"baseline:{BASELINE_SOURCE}"
    else:
        finite = scores[np.isfinite(scores)]
        center = float(np.median(finite)) if finite.size else 0.0
        scale = MAD_SCALE * float(np.median(np.abs(finite - center))) if finite.size else 0.0
        method = "dataset_robust"
        if scale == 0 and finite.size > 1:
            scale, method = float(np.std(finite, ddof=1)), "dataset_std"  # over half the scores tie: MAD is 0
        if scale == 0:
            method = "constant"
    z = (scores - center) / scale if scale > 0 else np.where(np.isfinite(scores), 0.0, np.nan)
    return z, {"method": method, "center": center, "scale": scale}


def audit_samples(
    model: torch.nn.Module,
    tokenizer,
    pack: PersonaPack,
    conversations: Sequence[Sequence[Message]],
    *,
    labels: Sequence[int | None] | None = None,
    generate: bool = True,
    z_threshold: float = 3.0,
    batch_size: int = 8,
    max_length: int = 256,
    max_new_tokens: int = 48,
    signals: SignalSet | None = None,
) -> AuditResult:
    """Score, z-score, flag and rank every sample; with ``generate`` also the projection difference.

    ``signals`` may be passed when the caller already built them from ``pack``.
    """
    if not conversations:
        raise ValueError("audit: no samples to audit")
    if labels is not None and len(labels) != len(conversations):
        raise ValueError(f"audit: {len(labels)} labels for {len(conversations)} samples")
    pack.check_width(hidden_size(model))
    signals = signals or pack.build_signals()
    options = {"batch_size": batch_size, "max_length": max_length}
    started = time.perf_counter()
    scores = score_answers(model, tokenizer, signals, pack.layer, conversations, **options)
    # What one more sample costs: the scoring pass alone (a forward over the sample, every signal read from it) and with the own-answer step.
    seconds = {"scoring": time.perf_counter() - started}
    differences = None
    if generate:
        prompts = [list(conversation)[:-1] for conversation in conversations]
        answers = generate_answers(model, tokenizer, prompts, batch_size=batch_size, max_new_tokens=max_new_tokens, max_length=max_length, description="audit: base model answers")
        own = _score_own_answers(model, tokenizer, signals, pack.layer, prompts, answers, options)
        differences = {name: scores[name] - own[name] for name in signals.names}
        seconds["total"] = time.perf_counter() - started
    baselines = {spec.name: spec.baseline.get(BASELINE_SOURCE) for spec in pack.spec.signals}
    z, references = {}, {}
    for name in signals.names:
        z[name], references[name] = z_scores(scores[name], baselines.get(name))
    outputs = {spec.name: spec.output for spec in pack.spec.signals}
    flags = {name: _flags(signals.kinds[name], outputs.get(name, "probability"), scores[name], z[name], z_threshold) for name in signals.names}
    rank_score = _mean_z(z, len(conversations))
    order = np.argsort(-rank_score, kind="stable")
    ranks = np.empty(len(order), dtype=int)
    ranks[order] = np.arange(1, len(order) + 1)
    records = []
    for i in range(len(conversations)):
        record = {
            "index": i,
            "scores": {name: _number(scores[name][i]) for name in signals.names},
            "flagged": [name for name in signals.names if flags[name][i]],
            "rank": int(ranks[i]),
            "z": {name: _number(z[name][i]) for name in signals.names},
        }
        if differences is not None:
            record["projection_difference"] = {name: _number(differences[name][i]) for name in signals.names}
        records.append(record)
    summary = {
        "samples": len(conversations),
        "z_threshold": z_threshold,
        "probe_threshold": PROBE_THRESHOLD,
        "generated": generate,
        "flagged_any": int(np.any([flags[name] for name in signals.names], axis=0).sum()),
        "flagged": {name: int(flags[name].sum()) for name in signals.names},
        "top": [int(i) for i in order[:10]],
        "seconds": {stage: round(value, 2) for stage, value in seconds.items()},
        "seconds_per_100_samples": {stage: round(100 * value / len(conversations), 2) for stage, value in seconds.items()},
        "signals": {
            name: {"kind": signals.kinds[name], **references[name], "unscored": int((~np.isfinite(scores[name])).sum())}
            for name in signals.names
        },
    }
    if labels is not None and any(label is not None for label in labels):
        summary.update(_aurocs(labels, scores, differences, rank_score))
    return AuditResult(records=records, summary=summary)


def _score_own_answers(model, tokenizer, signals, layer, prompts, answers, options) -> dict[str, np.ndarray]:
    """Scores of the model's own answers; NaN where it answered nothing (an empty answer has no tokens to pool)."""
    answered = [i for i, answer in enumerate(answers) if answer.strip()]
    chats = [prompts[i] + [{"role": "assistant", "content": answers[i]}] for i in answered]
    own = {name: np.full(len(prompts), np.nan) for name in signals.names}
    if chats:
        scored = score_answers(model, tokenizer, signals, layer, chats, description="audit: scoring base answers", **options)
        for name in signals.names:
            own[name][answered] = scored[name]
    return own


def _flags(kind: str, output: str, scores: np.ndarray, z: np.ndarray, z_threshold: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # NaN compares False: an unscored sample is never flagged
        if kind == "probe":
            return scores >= (0.0 if output == "logit" else PROBE_THRESHOLD)
        return z >= z_threshold


def _mean_z(z: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """Mean of the finite per-signal z-scores; -inf (ranked last) where a sample has none."""
    stacked = np.stack(list(z.values())) if z else np.full((1, n), np.nan)
    finite = np.isfinite(stacked)
    counts = finite.sum(axis=0)
    totals = np.where(finite, stacked, 0.0).sum(axis=0)
    return np.where(counts > 0, totals / np.maximum(counts, 1), -np.inf)


def _aurocs(labels, scores, differences, rank_score) -> dict[str, object]:
    """AUROC (misaligned = positive) of each signal, of each projection difference and of the rank score."""
    from sklearn.metrics import roc_auc_score

    y = np.array([np.nan if label is None else label for label in labels], dtype=float)

    def auroc(values: np.ndarray) -> float | None:
        usable = np.isfinite(y) & np.isfinite(values)
        if len(set(y[usable].tolist())) < 2:
            return None  # AUROC needs both classes
        return float(roc_auc_score(y[usable].astype(int), values[usable]))

    result: dict[str, object] = {
        "labelled": int(np.isfinite(y).sum()),
        "positives": int(np.nansum(y)),
        "auroc": {name: auroc(values) for name, values in scores.items()},
        "auroc_rank_score": auroc(rank_score),
    }
    if differences is not None:
        result["auroc_projection_difference"] = {name: auroc(values) for name, values in differences.items()}
    return result


def _number(value: float) -> float | None:
    """JSON has no NaN: an unscored value is ``null``."""
    return float(value) if math.isfinite(value) else None
