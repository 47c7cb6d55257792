"""Thresholds from control runs: how far signals drift when the fine-tuning data is *good*.

Any fine-tune moves activations a little (FINDINGS.md: +0.6σ on correct narrow advice), so a
threshold picked by hand either pages people for benign runs or sleeps through bad ones. This
module reads the event logs of control runs (fine-tunes on benign data, monitored like any run),
takes each signal's peak drift in each run, and puts ``warn`` a stated margin above the highest
control peak and ``critical`` a further gap above that. With two or more control runs it also
estimates the false-alert rate honestly, by leave-one-out: each run is judged by thresholds
calibrated on the *other* runs only.

It reads event logs rather than hooking into training so that any past monitored run — the demo,
a user's own benign fine-tunes — can serve as a control.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from em_monitor.runtime.event_schema import SampleEvent, StartEvent, read_events

__all__ = ["RunPeaks", "SignalThresholds", "read_run", "calibrate", "first_crossings", "config_fragment"]


@dataclass
class RunPeaks:
    """One monitored run, reduced to what calibration needs: drift per (signal, source) per pass after the baseline."""

    path: str
    #: (signal, source) → [(step, drift)], baseline passes left out.
    series: dict[tuple[str, str], list[tuple[int, float]]]

    def peak(self, signal: str, sources: Sequence[str]) -> float | None:
        """The highest drift of ``signal`` over ``sources`` in this run; ``None`` when never measured there."""
        drifts = [drift for source in sources for _, drift in self.series.get((signal, source), [])]
        return max(drifts) if drifts else None

    @property
    def signals(self) -> set[str]:
        return {signal for signal, _ in self.series}


@dataclass
class SignalThresholds:
    """Calibrated thresholds for one signal, and the control figures they come from."""

    signal: str
    sources: list[str]
    control_peaks: list[float]
    warn: float
    critical: float
    #: Leave-one-out: share of control runs that cross ``warn`` calibrated on the others (None with one run).
    false_alert_rate: float | None
    loo_warns: list[float] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "sources": self.sources, "warn": round(self.warn, 3), "critical": round(self.critical, 3),
            "control_peaks": [round(peak, 3) for peak in self.control_peaks], "false_alert_rate": self.false_alert_rate,
            "leave_one_out_warns": [round(warn, 3) for warn in self.loo_warns],
        }


def read_run(path: str | Path) -> RunPeaks:
    """Drift series of a run's event log, without its baseline passes.

    Baseline passes are recognised from the ``start`` event's ``baseline_samples`` (each source's
    first N passes); logs written before that field existed keep every pass, which can only
    raise the peaks, i.e. make the thresholds more conservative.
    """
    baseline_passes = 0
    passes: dict[str, int] = defaultdict(int)
    series: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
    for event in read_events(path):
        if isinstance(event, StartEvent):
            baseline_passes = event.baseline_samples or 0
        elif isinstance(event, SampleEvent):
            passes[event.source] += 1
            if passes[event.source] <= baseline_passes:
                continue
            for signal, figures in event.signals.items():
                if figures.drift is not None:
                    series[(signal, event.source)].append((event.step, figures.drift))
    if not series:
        raise ValueError(f"{path}: no sampling passes after the baseline; is this a monitor event log of a run that trained?")
    return RunPeaks(str(path), dict(series))


def _thresholds(peaks: Sequence[float], margin: float, critical_gap: float) -> tuple[float, float]:
    """warn and critical as ``thresholds.yaml`` writes them, rounded up to 0.1σ.

    Rounding here rather than only when writing means the leave-one-out rate and ``--check`` judge
    runs against the thresholds a user deploys, not against slightly lower ones.
    """
    warn = _up_to_tenth(max(peaks) + margin)
    return warn, _up_to_tenth(warn + critical_gap)


def _up_to_tenth(value: float) -> float:
    return math.ceil(round(value * 10, 9)) / 10


def calibrate(
    controls: Sequence[RunPeaks], *, sources: Sequence[str], margin: float = 1.0, critical_gap: float = 1.0, signals: Sequence[str] | None = None
) -> dict[str, SignalThresholds]:
    """Per-signal ``warn``/``critical`` drift thresholds over ``sources`` from control runs.

    ``warn`` = highest control peak + ``margin``; ``critical`` = ``warn`` + ``critical_gap`` (both
    in baseline standard deviations, rounded up to 0.1σ). Signals no control measured on ``sources`` are left out.
    """
    if not controls:
        raise ValueError("calibrate needs at least one control run")
    if margin < 0 or critical_gap <= 0:
        raise ValueError(f"margin must be >= 0 and critical_gap > 0 (got {margin}, {critical_gap})")
    names = sorted(signals) if signals else sorted(set.intersection(*(run.signals for run in controls)))
    calibrated: dict[str, SignalThresholds] = {}
    for signal in names:
        peaks = [run.peak(signal, sources) for run in controls]
        if any(peak is None for peak in peaks):
            continue
        warn, critical = _thresholds(peaks, margin, critical_gap)
        loo_warns = [_thresholds(peaks[:i] + peaks[i + 1 :], margin, critical_gap)[0] for i in range(len(peaks))] if len(peaks) > 1 else []
        false_alerts = sum(peak >= loo for peak, loo in zip(peaks, loo_warns))
        calibrated[signal] = SignalThresholds(signal, list(sources), peaks, warn, critical,
                                              false_alerts / len(peaks) if loo_warns else None, loo_warns)
    if not calibrated:
        raise ValueError(f"no signal was measured on sources {list(sources)} in every control run")
    return calibrated


def first_crossings(run: RunPeaks, thresholds: Mapping[str, SignalThresholds]) -> dict[str, dict[str, int | float | None]]:
    """For a run under test: its peak per signal and the first step it reaches warn and critical."""
    crossings: dict[str, dict[str, int | float | None]] = {}
    for signal, calibrated in thresholds.items():
        points = sorted(point for source in calibrated.sources for point in run.series.get((signal, source), []))
        crossings[signal] = {
            "peak": max((drift for _, drift in points), default=None),
            "warn_step": next((step for step, drift in points if drift >= calibrated.warn), None),
            "critical_step": next((step for step, drift in points if drift >= calibrated.critical), None),
        }
    return crossings


def config_fragment(thresholds: Mapping[str, SignalThresholds], *, hysteresis: float = 0.5, flags: Mapping[str, float] | None = None) -> dict:
    """The ``signals:`` block to paste into a monitor config (drift thresholds as calibrated, already rounded up to 0.1σ).

    ``flags`` (signal → per-sample threshold, from :mod:`em_monitor.offline.flag_calibration`) adds a
    ``flag`` compared with the sample's value, rounded up to 3 significant digits.
    """
    def up_significant(value: float) -> float:
        scale = 10 ** (math.floor(math.log10(abs(value))) - 2) if value else 1.0
        return math.ceil(value / scale - 1e-9) * scale

    rules = {
        signal: {"measure": "drift", "warn": t.warn, "critical": t.critical, "hysteresis": hysteresis, "sources": list(t.sources)}
        for signal, t in thresholds.items()
    }
    for signal, flag in (flags or {}).items():
        rules.setdefault(signal, {"measure": "value", "sources": ["train_batch"]}).update(flag=float(f"{up_significant(flag):.6g}"), flag_measure="value")
    return {"signals": rules}
