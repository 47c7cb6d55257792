"""Sequential rules from control runs: the in-control model, the weights and the decision intervals.

A CUSUM rule (``runtime/sequential.py``) needs four things a user cannot guess: each signal's
in-control mean and spread of pass drift, weights that combine the signals into a
unit-variance statistic, and a decision interval with a known false-alarm rate. All come from
benign control runs here:

- **In-control model.** Every post-baseline pass of every control run on the rule's source is
  one observation. Mean and std per signal are taken over all of them, so the spread includes
  how much benign runs differ from each other, not only the noise within one.
- **Weights.** The standardised drifts' correlation is estimated with the Ledoit–Wolf shrunk
  covariance (scikit-learn; a few dozen passes make the plain estimate noisy), and
  ``w ∝ R⁻¹·1``, the most powerful linear test of "every signal rose by the same number of its
  own stds", clipped at 0 (a signal may not count *against* an alert) and scaled so ``wᵀRw = 1``.
- **Decision interval.** ``h`` is the CUSUM's ``1 − α`` quantile of its maximum over a clean run
  of the controls' length, simulated with independent unit-normal passes (``α`` = the stated
  expected false alerts per clean run), and never below the highest value any control run
  reached. Passes of a real run are not independent (the model changes slowly), so the
  simulated rate is optimistic; the **leave-one-out** rate (each control run judged by a rule
  fitted on the others alone) is the honest estimate, and it is reported beside it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from em_monitor.config import SequentialRule, SequentialSignal
from em_monitor.offline.calibration import RunPeaks
from em_monitor.runtime.sequential import replay

__all__ = ["SequentialCalibration", "calibrate_sequential", "config_block", "parse_rule_spec", "run_passes", "sequential_crossings"]

#: Simulated clean runs behind a decision interval: the 1 − α quantile of their maxima is stable to about 1 % at α = 0.05.
SIMULATED_RUNS = 20_000
#: Seed of the simulation, so a calibration reproduces to the digit.
SIMULATION_SEED = 0


@dataclass
class SequentialCalibration:
    """A calibrated sequential rule and the figures it comes from."""

    name: str
    rule: SequentialRule
    #: Post-baseline passes per control run on the rule's source (the run length the interval is set for).
    passes_per_run: int
    #: Highest CUSUM each control run reached under the calibrated rule.
    control_max: list[float]
    #: Simulated probability that a clean run of ``passes_per_run`` independent passes reaches ``warn``.
    simulated_false_alarm_rate: float
    #: Leave-one-out: share of control runs whose CUSUM reaches ``warn`` of a rule fitted on the others (None with one run).
    false_alarm_rate: float | None
    loo_warns: list[float]

    def as_dict(self) -> dict:
        return {
            "source": self.rule.source, "reference": self.rule.reference, "warn": self.rule.warn, "critical": self.rule.critical,
            "signals": {name: model.model_dump() for name, model in self.rule.signals.items()},
            "passes_per_run": self.passes_per_run, "control_max": [round(value, 3) for value in self.control_max],
            "simulated_false_alarm_rate": round(self.simulated_false_alarm_rate, 4), "false_alarm_rate": self.false_alarm_rate,
            "leave_one_out_warns": self.loo_warns,
        }


def parse_rule_spec(spec: str) -> tuple[str, list[str], str]:
    """``NAME=SIG1,SIG2@SOURCE`` (source optional, default generations) → (name, signals, source)."""
    name, equals, rest = spec.partition("=")
    signals_text, _, source = rest.partition("@")
    signals = [signal for signal in signals_text.split(",") if signal]
    if not equals or not name or not signals:
        raise ValueError(f"--sequential {spec!r}: write NAME=SIGNAL[,SIGNAL...][@SOURCE], e.g. narrow=persona_direction,persona_probe@generations")
    return name, signals, source or "generations"


def run_passes(run: RunPeaks, source: str, signals: Sequence[str]) -> list[tuple[int, dict[str, float]]]:
    """A run's post-baseline passes of ``source`` as (step, signal → drift), in step order."""
    by_step: dict[int, dict[str, float]] = {}
    for signal in signals:
        for step, drift in run.series.get((signal, source), []):
            by_step.setdefault(step, {})[signal] = drift
    return sorted(by_step.items())


def _in_control(runs: Sequence[RunPeaks], source: str, signals: Sequence[str], reference: float, name: str) -> SequentialRule:
    """The rule's signal models (mean, std, weight) from the passes of ``runs``; intervals left for the caller."""
    from sklearn.covariance import LedoitWolf

    rows = [[drifts[signal] for signal in signals] for run in runs for _, drifts in run_passes(run, source, signals)
            if all(signal in drifts and math.isfinite(drifts[signal]) for signal in signals)]
    if len(rows) < 3:
        raise ValueError(f"sequential rule {name}: the control runs have {len(rows)} post-baseline {source} passes with every one of "
                         f"{', '.join(signals)}; at least 3 are needed (longer or more control runs)")
    drifts = np.asarray(rows, dtype=np.float64)
    means, stds = drifts.mean(axis=0), drifts.std(axis=0, ddof=1)
    flat = [signal for signal, std in zip(signals, stds) if not std > 0]
    if flat:
        raise ValueError(f"sequential rule {name}: {', '.join(flat)} did not vary over the control passes; leave it out of the rule")
    standardised = (drifts - means) / stds
    if len(signals) == 1:
        weights = np.ones(1)
    else:
        correlation = LedoitWolf().fit(standardised).covariance_
        weights = np.clip(np.linalg.solve(correlation, np.ones(len(signals))), 0.0, None)
        weights /= math.sqrt(float(weights @ correlation @ weights))
    models = {signal: SequentialSignal(mean=round(float(mean), 4), std=round(float(std), 4), weight=round(float(weight), 4))
              for signal, mean, std, weight in zip(signals, means, stds, weights)}
    # A placeholder interval, replaced by the caller once the maxima are known (the model validates a usable one).
    return SequentialRule(signals=models, source=source, reference=reference, warn=1.0)


@lru_cache(maxsize=8)
def _simulated_maxima(passes: int, reference: float) -> np.ndarray:
    """The CUSUM's maximum over each of :data:`SIMULATED_RUNS` clean runs of ``passes`` independent unit-normal passes.

    Cached: a calibration asks for the same (passes, reference) once per fit, its leave-one-out refits
    included, and the simulation is seeded, so every call would return the same array (callers only read it).
    """
    noise = np.random.default_rng(SIMULATION_SEED).standard_normal((SIMULATED_RUNS, passes))
    statistic, maxima = np.zeros(SIMULATED_RUNS), np.zeros(SIMULATED_RUNS)
    for column in noise.T:
        statistic = np.maximum(0.0, statistic + column - reference)
        np.maximum(maxima, statistic, out=maxima)
    return maxima


def _tenth_above(value: float) -> float:
    """The next multiple of 0.1 strictly above ``value``: an interval a control run's maximum does not reach."""
    return math.floor(round(value * 10, 9) + 1) / 10


def _max_statistic(run: RunPeaks, rule: SequentialRule) -> float:
    return max((statistic for _, _, statistic in replay(run_passes(run, rule.source, list(rule.signals)), rule)), default=0.0)


def _fit(runs: Sequence[RunPeaks], name: str, signals: Sequence[str], source: str, reference: float, false_alarm_rate: float) -> tuple[SequentialRule, int, list[float]]:
    """A complete rule from ``runs``: in-control model, then warn at ``false_alarm_rate`` and critical at a tenth of it."""
    model = _in_control(runs, source, signals, reference, name)
    passes = max(len(run_passes(run, source, signals)) for run in runs)
    maxima = _simulated_maxima(passes, reference)
    control_max = [_max_statistic(run, model) for run in runs]
    floor = max(control_max)
    warn = _tenth_above(max(float(np.quantile(maxima, 1 - false_alarm_rate)), floor))
    critical = max(_tenth_above(max(float(np.quantile(maxima, 1 - false_alarm_rate / 10)), floor)), _tenth_above(warn))
    return model.model_copy(update={"warn": warn, "critical": critical}), passes, control_max


def calibrate_sequential(controls: Sequence[RunPeaks], name: str, signals: Sequence[str], *, source: str = "generations",
                         reference: float = 0.5, false_alarm_rate: float = 0.05) -> SequentialCalibration:
    """Fit one sequential rule on the control runs, with its simulated and leave-one-out false-alarm rates."""
    if not 0 < false_alarm_rate < 1:
        raise ValueError(f"the false-alarm target must be between 0 and 1 (got {false_alarm_rate})")
    if reference < 0:
        raise ValueError(f"the CUSUM reference must be >= 0 (got {reference})")
    rule, passes, control_max = _fit(controls, name, signals, source, reference, false_alarm_rate)
    simulated = float(np.mean(_simulated_maxima(passes, reference) >= rule.warn))
    loo_warns: list[float] = []
    alarms = 0
    if len(controls) > 1:
        for index, held_out in enumerate(controls):
            others = [run for other, run in enumerate(controls) if other != index]
            fitted, _, _ = _fit(others, name, signals, source, reference, false_alarm_rate)
            loo_warns.append(fitted.warn)
            alarms += _max_statistic(held_out, fitted) >= fitted.warn
    return SequentialCalibration(name, rule, passes, control_max, simulated, alarms / len(controls) if loo_warns else None, loo_warns)


def sequential_crossings(run: RunPeaks, rule: SequentialRule) -> dict[str, int | float | None]:
    """For a run under test: the highest CUSUM it reached and the first step it reached warn and critical."""
    trace = replay(run_passes(run, rule.source, list(rule.signals)), rule)
    return {
        "peak": max((statistic for _, _, statistic in trace), default=None),
        "warn_step": next((step for step, _, statistic in trace if rule.warn is not None and statistic >= rule.warn), None),
        "critical_step": next((step for step, _, statistic in trace if rule.critical is not None and statistic >= rule.critical), None),
    }


def config_block(calibrated: Mapping[str, SequentialCalibration]) -> dict:
    """The ``sequential:`` block to paste into a monitor config."""
    return {name: calibration.rule.model_dump(exclude_defaults=False) for name, calibration in calibrated.items()}
