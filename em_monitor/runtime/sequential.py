"""Sequential detection: evidence of a small, persistent shift, accumulated over passes and signals.

A level rule compares each pass with a threshold on its own, so it must sit above the *peak* of a
benign run's noisy passes, and a shift smaller than that noise never alerts however long it lasts
(narrow bad advice moves SmolLM2's own-answer signals by well under a pass's noise, but on every
pass). A CUSUM (Page's cumulative sum) adds up each pass's excess over a reference value and
alerts when the sum crosses a decision interval: a persistent shift of ``δ`` in-control standard
deviations crosses ``h`` after about ``h / (δ − k)`` passes, while in-control noise keeps pulling
the sum back to 0.

Several signals move together under bad data, and their noise is partly shared. A rule combines
them into one statistic per pass, ``z = Σ wᵢ · (driftᵢ − meanᵢ) / stdᵢ``, with the in-control
mean and spread of each signal's pass drift (from benign control runs) and weights that make
``z`` unit-variance under their correlation (``em-monitor calibrate`` sets all of these). With
one signal it is a plain per-signal CUSUM.

Why CUSUM and not EWMA: for a step shift of known size CUSUM is the optimal sequential test
(Lorden), its one state variable is easy to read on a dashboard ("evidence so far"), and its
calibration (reference ``k`` = half the shift to detect, interval ``h`` from the false-alarm
target) has a standard form. Why hand-written: the update is one line, and no well-kept Python
library offers a streaming CUSUM with state that can be checkpointed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from em_monitor.config import SequentialRule

__all__ = ["SequentialState", "combined_z", "cusum_update", "replay"]


def combined_z(drifts: Mapping[str, float], rule: SequentialRule) -> float | None:
    """The rule's statistic for one pass, or ``None`` when any of its signals was not measured (finite) in it.

    A pass missing one signal is skipped rather than combined from the rest: the weights are
    only unit-variance together, so a partial sum would be on another scale.
    """
    total = 0.0
    for signal, model in rule.signals.items():
        value = drifts.get(signal)
        if value is None or not math.isfinite(value):
            return None
        total += model.weight * (value - model.mean) / model.std
    return total


def cusum_update(statistic: float, z: float, reference: float) -> float:
    """Page's upper CUSUM: the evidence after one more pass (never below 0)."""
    return max(0.0, statistic + z - reference)


@dataclass
class SequentialState:
    """One rule's running evidence: the CUSUM statistic, the last pass's ``z`` and the passes folded in."""

    statistic: float = 0.0
    last_z: float | None = None
    passes: int = 0

    def update(self, z: float, reference: float) -> float:
        self.statistic = cusum_update(self.statistic, z, reference)
        self.last_z = z
        self.passes += 1
        return self.statistic

    def reset(self) -> None:
        """Start accumulating afresh (after a realignment acted on the evidence)."""
        self.statistic = 0.0

    def state_dict(self) -> dict[str, float | int | None]:
        return {"statistic": self.statistic, "last_z": self.last_z, "passes": self.passes}

    @classmethod
    def from_state(cls, state: Mapping[str, float | int | None]) -> SequentialState:
        last_z = state.get("last_z")
        return cls(statistic=float(state["statistic"]), last_z=None if last_z is None else float(last_z), passes=int(state["passes"]))


def replay(passes: list[tuple[int, Mapping[str, float]]], rule: SequentialRule) -> list[tuple[int, float, float]]:
    """``(step, z, statistic)`` after each pass of a recorded run, as the monitor would have computed them.

    ``passes`` are (step, signal → drift) of the rule's source, baseline passes left out. What
    calibration and ``--check`` judge runs with, so offline figures are the live rule's.
    """
    state, trace = SequentialState(), []
    for step, drifts in passes:
        z = combined_z(drifts, rule)
        if z is not None:
            trace.append((step, z, state.update(z, rule.reference)))
    return trace
