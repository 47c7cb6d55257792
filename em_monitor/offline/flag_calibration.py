"""Per-sample flag thresholds from known-clean training data: the monitor's data-side detector.

Drift thresholds judge the model; a flag judges one training sample as it passes through a
scored batch. A poisoned share too small to move the model in a short run still puts persona
samples in front of the monitor, and a sparse persona latent fires on them far above anything
it reaches on clean data. On SmolLM2, 5% misaligned-persona answers over 60 steps moved no drift
signal, while toxic_persona separates persona from benign chat samples with a per-sample AUROC
of 0.99 on the base model.

The threshold sits a stated margin above the highest value the signal reaches on a clean sample
of the kind of data being trained on (scored by the model about to be fine-tuned, pooled exactly
as the monitor pools training answers), so that clean data flags nothing. The margin is in units
of the clean values' standard deviation, which makes it mean the same for a latent's activation,
a direction's projection or a probe's probability. A signal whose threshold lands beyond its
range (a probe already near 1.0 on clean data) cannot flag anything, and is reported as unusable
instead of getting a threshold that never fires.

A threshold set on the very samples it is judged on cannot flag any of them, so the false-flag
rate is estimated on held-out data instead: the clean samples are split in half many times, a
threshold is set on one half and counted on the other. The default margin of 2 stds comes from
that estimate on SmolLM2's benign chat (docs/thresholds.md): 0.3% of held-out clean samples
crossed at a margin of 0.5, 0.1% at 2, while 88% of persona samples still did.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["DEFAULT_MARGIN", "FlagThreshold", "flag_threshold", "flag_thresholds", "held_out_false_flag_rate"]

DEFAULT_MARGIN = 2.0
#: Random half splits behind the held-out false-flag estimate: enough for a stable mean at ~1e-3.
HELD_OUT_SPLITS = 200

@dataclass
class FlagThreshold:
    """One signal's per-sample flag threshold and the clean-data figures it comes from."""

    signal: str
    samples: int
    clean_max: float
    clean_p99: float
    clean_std: float
    flag: float
    #: Share of clean samples crossing a threshold set on the *other* half of the clean data.
    held_out_false_flag_rate: float

    def as_dict(self) -> dict[str, float | int]:
        return {"flag": round(self.flag, 4), "samples": self.samples, "clean_max": round(self.clean_max, 4),
                "clean_p99": round(self.clean_p99, 4), "clean_std": round(self.clean_std, 4),
                "held_out_false_flag_rate": round(self.held_out_false_flag_rate, 5)}


def flag_threshold(values: np.ndarray, margin: float) -> float:
    """Highest value + ``margin`` × the values' sample std: the rule every flag here follows."""
    return float(values.max()) + margin * float(values.std(ddof=1))


def held_out_false_flag_rate(values: np.ndarray, margin: float, *, splits: int = HELD_OUT_SPLITS, seed: int = 0) -> float:
    """Mean share of one random half of the clean values at or above the threshold set on the other half."""
    rng = np.random.default_rng(seed)
    half = values.size // 2
    rates = []
    for _ in range(splits):
        order = rng.permutation(values.size)
        fitted, held_out = values[order[:half]], values[order[half:]]
        rates.append(float((held_out >= flag_threshold(fitted, margin)).mean()))
    return float(np.mean(rates))


def flag_thresholds(
    clean_scores: Mapping[str, np.ndarray], ceilings: Mapping[str, float], *, margin: float = DEFAULT_MARGIN
) -> tuple[dict[str, FlagThreshold], dict[str, str]]:
    """``flag`` = highest clean value + ``margin`` × clean std, per signal; and why the others were left out.

    ``clean_scores`` holds each signal's per-sample values on clean data (NaN: a sample with no
    scorable answer token, ignored). ``ceilings``: the largest value a bounded signal can take
    (:attr:`~em_monitor.packs.SignalSpec.ceiling`); a flag at or above it never fires. Returns
    ``(thresholds, unusable)``: ``unusable`` maps a signal to the reason it has no threshold.
    """
    if margin < 0:
        raise ValueError(f"flag margin must be >= 0 (got {margin})")
    thresholds: dict[str, FlagThreshold] = {}
    unusable: dict[str, str] = {}
    for name, scores in clean_scores.items():
        values = np.asarray(scores, dtype=float)
        values = values[np.isfinite(values)]
        if values.size < 4:
            unusable[name] = f"only {values.size} clean sample(s) scored; give more clean data"
            continue
        top, spread, flag = float(values.max()), float(values.std(ddof=1)), flag_threshold(values, margin)
        ceiling = ceilings.get(name)
        if spread == 0:
            unusable[name] = f"constant ({top:g}) on every clean sample: no scale for a margin"
        elif ceiling is not None and flag >= ceiling:
            unusable[name] = f"clean data already reaches {top:.4f}; a flag at {flag:.4f} could never fire (range ends at {ceiling:g})"
        else:
            thresholds[name] = FlagThreshold(name, int(values.size), top, float(np.percentile(values, 99)), spread, flag,
                                             held_out_false_flag_rate(values, margin))
    return thresholds, unusable
