"""Baselines and drift: how far a signal has moved since the start of the run.

Drift is measured in *per-sample* baseline standard deviations: ``(mean now − baseline mean) /
baseline std``, where the std is the spread of the signal across samples (prompts, or training
answers) on the model as it was at the start. Why per-sample and not the spread of pass means:
on a fixed prompt set the pass mean barely moves before training starts, so its spread is ~0
and any change would read as infinite drift. Per-sample spread is also the scale the research
findings report (e.g. "+2.3σ after 20 steps").
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

__all__ = ["STD_FLOOR_SHARE", "RunningStats", "drift", "finite_values"]

#: Floor on the baseline std, relative to the baseline mean's magnitude, so a constant signal
#: (e.g. a dead latent) produces large-but-finite drift instead of a division by zero.
_RELATIVE_STD_FLOOR = 1e-6

#: Share of the pack's reference spread below which a run's baseline std is not trusted (drift
#: divides by this floor instead). A quarter: a run baseline may be legitimately narrower than
#: the pack's broad reference set (a few fixed prompts), but a 0 std on a sparse latent is not.
STD_FLOOR_SHARE = 0.25


@dataclass
class RunningStats:
    """Count, mean and variance accumulated over batches of samples (Chan et al.'s parallel update)."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def update(self, values: torch.Tensor) -> None:
        """Fold a batch of finite sample values into the statistics."""
        values = values.double().flatten()
        n = values.numel()
        if n == 0:
            return
        batch_mean = float(values.mean())
        batch_m2 = float(((values - batch_mean) ** 2).sum())
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean += delta * n / total
        self.m2 += batch_m2 + delta * delta * self.count * n / total
        self.count = total

    @property
    def std(self) -> float:
        """Sample standard deviation (0 with fewer than two samples)."""
        return math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else 0.0

    def state_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, float]) -> RunningStats:
        return cls(count=int(state["count"]), mean=float(state["mean"]), m2=float(state["m2"]))

    @classmethod
    def from_mean_std(cls, mean: float, std: float, count: int) -> RunningStats:
        """Stats equivalent to a stored baseline (e.g. one recorded in a persona pack)."""
        return cls(count=count, mean=mean, m2=std * std * max(count - 1, 0))


def drift(value: float | torch.Tensor, baseline: RunningStats, min_std: float = 0.0) -> float | torch.Tensor:
    """``value`` (a float, or a tensor of per-sample scores) relative to the baseline, in baseline stds.

    ``min_std`` floors the baseline's spread. Why: a sparse SAE latent can be exactly 0 on every
    baseline sample (a few training answers, no persona), so its measured std is 0 and the first
    answer that fires reads as thousands of σ. The monitor floors it at a share of the spread the
    pack recorded for that signal on a reference set (see ``Monitor``).
    """
    floor = _RELATIVE_STD_FLOOR * max(1.0, abs(baseline.mean))
    return (value - baseline.mean) / max(baseline.std, min_std, floor)


def finite_values(scores: torch.Tensor) -> torch.Tensor:
    """The finite entries of ``scores`` (NaN marks a sample with nothing to pool; inf a broken activation)."""
    return scores[torch.isfinite(scores)]
