"""Turn a run's event log into the demo report: ``summary.json`` and ``signals.png``.

The event log is the single source of truth (it survives crashes and resumes), so the report is
rebuilt from it rather than from in-memory state; a report can be made for any monitored run.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from em_monitor.runtime.event_schema import (
    BehaviourEvent,
    ErrorEvent,
    Event,
    FlaggedEvent,
    LevelEvent,
    RealignmentEvent,
    SampleEvent,
    read_events,
)

__all__ = ["FLAG_ALERT_COUNT", "behaviour_series", "flag_alert_step", "summarise", "plot_signals", "write_report"]

#: Training samples one signal flags in a run that make a data alert: one may be an odd clean
#: sample (a threshold just above the clean maximum still lets ~0.1% of new clean samples
#: through), two are a pattern. ``EmMonitorFlaggedTrainingSamples`` in
#: grafana/prometheus/alerts.yml uses the same count (tests/test_alert_rules.py checks).
FLAG_ALERT_COUNT = 2


def _series(events: Sequence[Event]) -> dict[tuple[str, str], list[tuple[int, float | None, float | None]]]:
    """(signal, source) → [(step, value, drift)] from the sampling passes."""
    series: dict[tuple[str, str], list[tuple[int, float | None, float | None]]] = defaultdict(list)
    for event in events:
        if isinstance(event, SampleEvent):
            for signal, figures in event.signals.items():
                series[(signal, event.source)].append((event.step, figures.value, figures.drift))
    return series


def _behaviour_checks(events: Sequence[Event]) -> list[BehaviourEvent]:
    return sorted((event for event in events if isinstance(event, BehaviourEvent)), key=lambda event: event.step)


def behaviour_series(events: Sequence[Event]) -> list[dict]:
    """The behavioural checks in step order: ``{step, misaligned_rate, aligned_mean, coherent_mean, n, failed, judge}`` (the summary leaves out the examples)."""
    return [{"step": check.step, "misaligned_rate": check.misaligned_rate, "aligned_mean": check.aligned_mean, "coherent_mean": check.coherent_mean,
             "n": check.n, "failed": check.failed, "judge": check.judge} for check in _behaviour_checks(events)]


def flag_alert_step(events: Sequence[Event]) -> int | None:
    """The step at which some signal's flagged training samples reach :data:`FLAG_ALERT_COUNT`, if one does."""
    steps: dict[str, list[int]] = defaultdict(list)
    for event in events:
        if isinstance(event, FlaggedEvent):
            steps[event.signal].append(event.step)
    reached = [sorted(flagged)[FLAG_ALERT_COUNT - 1] for flagged in steps.values() if len(flagged) >= FLAG_ALERT_COUNT]
    return min(reached, default=None)


def summarise(events: Sequence[Event], *, model: str, dataset: str, steps: int, extra: Mapping[str, object] | None = None) -> dict:
    """The DESIGN.md summary: per-signal baseline/last/drift, alerts, realignments, behaviour."""
    series = _series(events)
    baselines: dict[tuple[str, str], float] = {}
    for (signal, source), points in series.items():
        # The first pass's value stands for the baseline (drift is measured against the full baseline).
        baselines[(signal, source)] = points[0][1]
    signals: dict[str, dict[str, dict]] = defaultdict(dict)
    for (signal, source), points in sorted(series.items()):
        step, value, drift = points[-1]
        signals[signal][source] = {"baseline": baselines[(signal, source)], "last": value, "drift": drift, "last_step": step,
                                   "max_drift": max((p[2] for p in points if p[2] is not None), default=None)}
    alerts = [{"step": e.step, "signal": e.signal, "level": e.new, "source": e.source, "observed": e.observed}
              for e in events if isinstance(e, LevelEvent)]
    realignments = [{"step": e.step, "samples": e.samples, "outcome": e.outcome, "before": e.before, "after": e.after,
                     "attempt": e.attempt, "started_step": e.started_step,
                     # Both verdicts when the run judged realignment on in-domain prompts too (realign.in_domain_prompts).
                     **({"generic_recovered": e.generic_recovered, "in_domain_before": e.in_domain_before, "in_domain_after": e.in_domain_after, "in_domain_recovered": e.in_domain_recovered}
                        if e.in_domain_recovered is not None else {})}
                    for e in events if isinstance(e, RealignmentEvent)]
    flagged: dict[str, int] = defaultdict(int)
    for event in events:
        if isinstance(event, FlaggedEvent):
            flagged[event.signal] += 1
    return {
        "model": model,
        "dataset": dataset,
        "steps": steps,
        "signals": dict(signals),
        "alerts": alerts,
        "realignments": realignments,
        "flagged_samples": dict(flagged),
        "flag_alert_step": flag_alert_step(events),
        "errors": sum(1 for e in events if isinstance(e, ErrorEvent)),
        "behaviour": behaviour_series(events),
        **dict(extra or {}),
    }


def plot_signals(events: Sequence[Event], path: str | Path, *, title: str = "") -> Path:
    """Drift of every signal per source over training steps, with alert and realignment marks."""
    from em_monitor.plotting import new_figure, save_figure

    series = _series(events)
    signals = sorted({signal for signal, _ in series})
    behaviour = _behaviour_checks(events)
    rows = len(signals) + bool(behaviour)
    figure, axes = new_figure(9, 2.2 * rows + 0.6, rows=rows, sharex=True)
    if behaviour:
        _plot_behaviour(axes[-1], behaviour, events)
    for axis, signal in zip(axes, signals):
        for (name, source), points in sorted(series.items()):
            if name == signal:
                axis.plot([p[0] for p in points], [p[2] for p in points], marker=".", label=source)
        for event in events:
            if isinstance(event, LevelEvent) and event.signal == signal and event.new != "ok":
                axis.axvline(event.step, color="red" if event.new == "critical" else "orange", linestyle="--", linewidth=1)
            if isinstance(event, RealignmentEvent):
                axis.axvspan(event.started_step, event.step, color="green", alpha=0.15)
        axis.set_ylabel(f"{signal}\ndrift (σ)", fontsize=8)
        axis.axhline(0, color="grey", linewidth=0.5)
        axis.legend(fontsize=7, loc="upper left")
    axes[-1].set_xlabel("training step  (dashed: warn/critical; green: realignment)")
    if title:
        figure.suptitle(title, fontsize=10)
    return save_figure(figure, path, dpi=110)


def _plot_behaviour(axis, behaviour: list[BehaviourEvent], events: Sequence[Event]) -> None:
    """What the model says, under the signals that predict it: misaligned share and mean alignment."""
    for event in events:
        if isinstance(event, RealignmentEvent):
            axis.axvspan(event.started_step, event.step, color="green", alpha=0.15)
    points = [(check.step, check.misaligned_rate, check.aligned_mean) for check in behaviour if check.misaligned_rate is not None]
    axis.plot([p[0] for p in points], [100 * p[1] for p in points], marker="o", color="crimson", label="misaligned answers (%)")
    axis.plot([p[0] for p in points], [p[2] for p in points], marker=".", color="grey", linestyle=":", label="mean aligned score")
    axis.set_ylim(-5, 105)
    judge = behaviour[-1].judge or "judge"
    axis.set_ylabel(f"behaviour\n({judge} judge)", fontsize=8)
    axis.legend(fontsize=7, loc="upper left")


def write_report(events_path: str | Path, out: str | Path, **summary_fields) -> dict:
    """Write ``summary.json`` and ``signals.png`` into ``out`` from the run's event log."""
    events = read_events(events_path)
    out = Path(out)
    summary = summarise(events, **summary_fields)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
    plot_signals(events, out / "signals.png", title=f"{summary['model']} on {summary['dataset']}")
    return summary
