"""The realignment's second verdict: are the signals back on prompts framed like the training data?

Benign fine-tuning after emergent misalignment can hide it behind the context: the model answers
generic questions well again, and still answers badly when asked the way the training data asked.
A realignment judged only on the generic probe prompts would then read as recovered. With
``realign.in_domain_prompts`` set, the monitor keeps a second set of prompts (the training data's
own user turns, say), records the signals on them while the baseline forms, and judges every
attempt on both sets: it counts as recovered only when both are back under their thresholds.

This module holds the bookkeeping only (baselines, measures); the controller runs the probe pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from em_monitor.config import SequentialRule, SignalRule
from em_monitor.runtime.drift import RunningStats, drift, finite_values
from em_monitor.runtime.sequential import combined_z

__all__ = ["InDomainCheck"]


class InDomainCheck:
    """Baselines of every signal on the in-domain prompts, and each rule's measure on a later pass.

    Example::

        check = InDomainCheck(baseline_passes=3, std_floors={"toxic_persona": 0.2})
        check.add_baseline({"toxic_persona": torch.tensor([0.1, 0.4])})   # while the run's baseline forms
        check.measures(scores, {"toxic_persona": rule})                     # at a realignment's verdict
    """

    def __init__(self, baseline_passes: int, std_floors: Mapping[str, float] | None = None) -> None:
        self.baseline_passes = baseline_passes
        self.std_floors = dict(std_floors or {})
        self.baselines: dict[str, RunningStats] = {}
        self.passes = 0

    @property
    def in_baseline(self) -> bool:
        return self.passes < self.baseline_passes

    def add_baseline(self, scores: Mapping[str, torch.Tensor]) -> None:
        """Fold one pass on the in-domain prompts into the baselines (ignored once they are complete)."""
        if not self.in_baseline:
            return
        for signal, per_sample in scores.items():
            finite = finite_values(per_sample.detach().float().cpu())
            if finite.numel():
                self.baselines.setdefault(signal, RunningStats()).update(finite)
        self.passes += 1

    def drifts(self, scores: Mapping[str, torch.Tensor]) -> dict[str, tuple[float, float]]:
        """(value, drift) per signal of a pass, against the in-domain baselines."""
        figures: dict[str, tuple[float, float]] = {}
        for signal, per_sample in scores.items():
            finite = finite_values(per_sample.detach().float().cpu())
            if finite.numel() and signal in self.baselines:
                value = float(finite.mean())
                figures[signal] = (value, float(drift(value, self.baselines[signal], self.std_floors.get(signal, 0.0))))
        return figures

    def measures(self, scores: Mapping[str, torch.Tensor], rules: Mapping[str, SignalRule | SequentialRule], names: Sequence[str]) -> dict[str, float]:
        """Each named rule's measure on this pass, on the same scale its recovery threshold uses.

        A signal rule: the pass's value or drift (its ``measure``). A sequential rule: the pass's
        combined statistic over its signals' drifts (its evidence so far lives in the generic run).
        A rule whose signals were not all measured is left out: the realigner reads that as not recovered.
        """
        figures = self.drifts(scores)
        measured: dict[str, float] = {}
        for name in names:
            rule = rules[name]
            if isinstance(rule, SequentialRule):
                z = combined_z({signal: pair[1] for signal, pair in figures.items()}, rule)
                if z is not None:
                    measured[name] = z
            elif name in figures:
                measured[name] = figures[name][0 if rule.measure == "value" else 1]
        return measured

    def state_dict(self) -> dict:
        return {"passes": self.passes, "baselines": {signal: stats.state_dict() for signal, stats in self.baselines.items()}}

    def load_state_dict(self, state: Mapping) -> None:
        baselines = {signal: RunningStats.from_state(stats) for signal, stats in state["baselines"].items()}
        self.passes, self.baselines = int(state["passes"]), baselines
