"""The pack's bad-data signal: a probe for subtly wrong advice, chosen by leave-one-domain-out and added to a pack.

The persona signals read a persona; the emergent-misalignment recipe is narrow, subtly wrong
advice, which they do not see. This probe is trained on wrong vs correct advice from several
domains, so that it learns "wrong advice" rather than one topic's mistakes, and ships as one more
pack signal (``bad_advice``) that the audit ranks samples with, the monitor scores on training
batches and ``calibrate --flag-data`` sets a per-sample flag for.

Only variants the monitor can compute on a training forward ship: a residual probe under one of
the pooling methods. Prompted probing needs its own forward pass over a task description, which
a training batch does not have; it stays an offline comparison (``train-probe --domains``). The
probe reports log-odds rather than a probability (``output: logit``): clean answers can reach
p = 0.999 and leave a flag no room.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from em_monitor.chat import Message
from em_monitor.errors import InputError
from em_monitor.offline.domain_transfer import DomainSamples, VariantTransfer, ranked, word_features
from em_monitor.offline.probe_training import LinearProbe, layer_features
from em_monitor.packs import PackSpec, PersonaPack, SignalSpec, load_pack, save_probe, write_pack_spec
from em_monitor.runtime.pooling import POOLING_METHODS

__all__ = ["BAD_ADVICE", "PACKABLE", "BadAdviceProbe", "add_to_pack", "choose_variant", "fit_bad_advice", "negative_features", "residual_transfer_features"]

#: The signal's name in the pack.
BAD_ADVICE = "bad_advice"
#: Leave-one-domain-out variants a pack probe can carry, and the pooling each stands for.
PACKABLE: dict[str, str] = {f"residual_{method}": method for method in POOLING_METHODS}


@dataclass(frozen=True)
class BadAdviceProbe:
    """The fitted probe in raw-activation space, and the evidence it was chosen on."""

    pooling: str
    coef: torch.Tensor
    intercept: float
    transfer: VariantTransfer
    domains: list[str]
    samples: int


def choose_variant(results: Mapping[str, VariantTransfer]) -> VariantTransfer:
    """The packable variant with the best mean held-out-domain AUROC."""
    packable = [result for result in ranked(results) if result.variant in PACKABLE]
    if not packable:
        raise InputError(f"no packable variant was scored; run the residual variants ({', '.join(PACKABLE)})")
    return packable[0]


def fit_bad_advice(features: Mapping[str, np.ndarray], samples: DomainSamples, transfer: VariantTransfer, *, C: float = 1.0,
                   negatives: np.ndarray | None = None) -> BadAdviceProbe:
    """Fit the chosen variant on every domain's answers (the held-out scores came from the folds; this is the shipped fit).

    ``negatives``: the same variant's features of answers that are no advice at all (plain chat),
    labelled correct. A training batch is not all advice, and a probe that only ever saw advice
    puts some chat far on the wrong side (measured: benign chat up to log-odds 14.5 while unseen
    correct advice stayed below 0.7), which leaves a per-sample flag no room.
    """
    X, y = features[transfer.variant], samples.labels
    if negatives is not None:
        X, y = np.concatenate([X, negatives]), np.concatenate([y, np.zeros(len(negatives), dtype=y.dtype)])
    usable = np.isfinite(X).all(axis=1)
    probe = LinearProbe(C=C).fit(X[usable], y[usable])
    return BadAdviceProbe(PACKABLE[transfer.variant], torch.from_numpy(probe.coef_).float(), float(probe.intercept_), transfer,
                          samples.names, int(usable.sum()))


def negative_features(model: torch.nn.Module, tokenizer, conversations: Sequence[Sequence[Message]], variant: str, *, layer: int,
                      batch_size: int = 8, max_length: int = 256) -> np.ndarray:
    """One packable variant's features of plain-chat answers, for :func:`fit_bad_advice`'s ``negatives``."""
    pooling = PACKABLE[variant]
    return layer_features(model, tokenizer, [layer], conversations, [pooling], batch_size=batch_size, max_length=max_length)[layer][pooling].double().numpy()


def add_to_pack(
    model: torch.nn.Module,
    tokenizer,
    pack_dir: str | Path,
    probe: BadAdviceProbe,
    *,
    prompts: Sequence[str],
    aligned_answers: Sequence[Sequence[Message]],
    provenance: Mapping[str, object],
    batch_size: int = 8,
    max_length: int = 256,
) -> PersonaPack:
    """Write ``probes/bad_advice.safetensors`` into the pack, list the signal in ``pack.yaml`` (replacing an
    earlier one) with its baselines on the pack's prompts and aligned answers, and record how it was made."""
    from em_monitor.offline.pack_builder import signal_baselines

    pack = load_pack(pack_dir)
    pack.check_width(probe.coef.numel())
    file = f"probes/{BAD_ADVICE}.safetensors"
    figures = {"mean_auroc": probe.transfer.mean_auroc, "mean_recall_at_1pct_fpr": probe.transfer.mean_recall,
               "held_out": {entry.domain: round(entry.auroc, 4) for entry in probe.transfer.held_out}}
    save_probe(pack.root / file, probe.coef, probe.intercept, {
        "layer": pack.layer, "pooling": probe.pooling, "output": "logit", "variant": probe.transfer.variant,
        "domains": probe.domains, "samples": probe.samples, "leave_one_domain_out": figures,
    })
    held_out = ", ".join(f"{entry.domain} {entry.auroc:.3f}" for entry in probe.transfer.held_out)
    signal = SignalSpec(
        name=BAD_ADVICE, kind="probe", file=file, pooling=probe.pooling, output="logit",
        description=(f"subtly wrong vs correct advice, logistic regression on {probe.pooling}-pooled answer tokens, log-odds; "
                     f"trained on {', '.join(probe.domains)}; held-out-domain AUROC {probe.transfer.mean_auroc:.3f} ({held_out})"),
    )
    others = [existing for existing in pack.spec.signals if existing.name != BAD_ADVICE]
    built = {**pack.spec.built, BAD_ADVICE: {**provenance, "variant": probe.transfer.variant, "domains": probe.domains,
                                             "samples": probe.samples, "leave_one_domain_out": figures}}
    spec = PackSpec.model_validate({**pack.spec.model_dump(), "signals": [*(s.model_dump() for s in others), signal.model_dump()], "built": built})
    write_pack_spec(pack.root, spec)
    pack = load_pack(pack.root)
    baselines = signal_baselines(model, tokenizer, pack, prompts, aligned_answers, batch_size=batch_size, max_length=max_length)
    next(s for s in pack.spec.signals if s.name == BAD_ADVICE).baseline.update(baselines[BAD_ADVICE])
    write_pack_spec(pack.root, pack.spec)
    return load_pack(pack.root)


def residual_transfer_features(model: torch.nn.Module, tokenizer, samples: DomainSamples, *, layer: int, batch_size: int = 8,
                               max_length: int = 256) -> dict[str, np.ndarray]:
    """The packable variants' features, one forward pass per batch (no prompted passes), and the words-only baseline beside them."""
    pooled = layer_features(model, tokenizer, [layer], samples.conversations, POOLING_METHODS, batch_size=batch_size, max_length=max_length)[layer]
    return {**{f"residual_{method}": tensor.double().numpy() for method, tensor in pooled.items()}, "bag_of_words": word_features(samples)}
