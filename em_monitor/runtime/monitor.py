"""The framework-agnostic monitor: scores in, baselines, drift, levels, flags, metrics and events out.

Training-framework adapters (``em_monitor.callbacks``) only decide *when* to sample and *how*
to run actions; everything about what a score means lives here, so the Lightning and Hugging
Face adapters behave identically and the logic is testable without a trainer.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from em_monitor.config import MonitorConfig, SignalRule, check_signal_names
from em_monitor.runtime.drift import RunningStats, drift, finite_values
from em_monitor.runtime.event_schema import check_event
from em_monitor.runtime.events import EventLog
from em_monitor.runtime.export import MonitorMetrics
from em_monitor.runtime.levels import Level, next_level
from em_monitor.runtime.own_answers import AnswerPass
from em_monitor.runtime.sequential import SequentialState, combined_z

__all__ = ["LevelChange", "Monitor"]

log = logging.getLogger("em_monitor")


@dataclass(frozen=True)
class LevelChange:
    """A signal's alert level moved (levels are per signal: the max over its sources)."""

    signal: str
    old: Level
    new: Level

    @property
    def rising(self) -> bool:
        return self.new > self.old


class Monitor:
    """Baselines, drift, alert levels, per-sample flags, metrics and the event log for one run.

    Feed it scores with :meth:`observe`; it returns the level changes an adapter acts on.

    Example::

        monitor = Monitor(config, signal_kinds={"persona": "direction"}, metrics=None, events=None)
        changes = monitor.observe(step=0, source="prompts", scores={"persona": torch.randn(8)})
    """

    def __init__(
        self,
        config: MonitorConfig,
        signal_kinds: Mapping[str, str],
        *,
        metrics: MonitorMetrics | None,
        events: EventLog | None,
        stored_baselines: Mapping[str, Mapping[str, RunningStats]] | None = None,
        std_floors: Mapping[tuple[str, str], float] | None = None,
    ) -> None:
        check_signal_names(config, list(signal_kinds))
        self.config = config
        #: (signal, source) → the smallest baseline std drift divides by (see :func:`drift`).
        self.std_floors = dict(std_floors or {})
        self.signal_kinds = dict(signal_kinds)
        self.metrics = metrics
        self.events = events
        self.baselines: dict[tuple[str, str], RunningStats] = {}
        for signal, per_source in (stored_baselines or {}).items():
            for source, stats in per_source.items():
                self.baselines[(signal, source)] = stats
        self.frozen: set[tuple[str, str]] = set(self.baselines)
        self.passes: dict[str, int] = {source: 0 for source in config.sources}
        self.source_levels: dict[tuple[str, str], Level] = {}
        self.levels: dict[str, Level] = {name: Level.OK for name in signal_kinds}
        #: Sequential (CUSUM) rules: their running evidence and their level, by rule name.
        self.sequential: dict[str, SequentialState] = {name: SequentialState() for name in config.sequential}
        self.sequential_levels: dict[str, Level] = {name: Level.OK for name in config.sequential}
        self.latest: dict[tuple[str, str], tuple[float, float]] = {}
        #: Passes observed against a finished baseline, per (signal, source): what `min_samples` counts.
        self.compared: dict[tuple[str, str], int] = {}
        self._logged_stages: set[str] = set()
        #: Failures in a row per guarded stage (see :meth:`guard`).
        self._streaks: dict[str, int] = {}
        #: The step being sampled (set by the adapter, and by each pass observed): error events carry it.
        self.current_step: int | None = None

    # --- sampling cadence -------------------------------------------------------------
    def is_sampling_step(self, step: int) -> bool:
        """Every step until the baseline is complete, then every ``every_n_steps``."""
        return step < self.config.baseline_samples or step % self.config.every_n_steps == 0

    def is_train_batch_step(self, step: int) -> bool:
        """Every step until the baseline is complete, then every ``train_batch.every_n_steps`` (default: ``every_n_steps``)."""
        every = self.config.train_batch.every_n_steps or self.config.every_n_steps
        return step < self.config.baseline_samples or step % every == 0

    def is_generation_step(self, step: int) -> bool:
        """Every step until the baseline is complete (so `generations` gets its own), then every ``generations.every_n_steps``."""
        return step < self.config.baseline_samples or step % self.config.generations.every_n_steps == 0

    def in_baseline(self, signal: str, source: str) -> bool:
        return (signal, source) not in self.frozen

    # --- the main entry point -----------------------------------------------------------
    def observe(self, step: int, source: str, scores: Mapping[str, torch.Tensor], seconds: float = 0.0) -> list[LevelChange]:
        """Fold one sampling pass (per-sample scores by signal) into the run's state."""
        self.current_step = step
        self.passes[source] += 1
        summary: dict[str, dict[str, float]] = {}
        samples = max((int(per_sample.numel()) for per_sample in scores.values()), default=0)
        broken = self._count_broken(source, scores)
        compared_now: dict[str, float] = {}
        for signal, per_sample in scores.items():
            finite = finite_values(per_sample.detach().float().cpu())
            if finite.numel() == 0:
                continue
            value = float(finite.mean())
            key = (signal, source)
            comparing = not self.in_baseline(signal, source)
            if comparing:
                self.compared[key] = self.compared.get(key, 0) + 1
            else:
                self.baselines.setdefault(key, RunningStats()).update(finite)
            current_drift = self._drift(key, value)
            if comparing:
                compared_now[signal] = current_drift
            self.latest[key] = (value, current_drift)
            summary[signal] = {"value": value, "drift": current_drift}
            if self.metrics:
                self.metrics.set_signal(signal, source, value=value, drift=current_drift)
        if self.passes[source] >= self.config.baseline_samples:
            # A signal that has not scored a single finite sample yet (all answers empty, say) keeps collecting.
            freezing = [(signal, source) for signal in scores if (signal, source) in self.baselines and (signal, source) not in self.frozen]
            self.frozen.update(freezing)
            for key in freezing:
                # What every later drift of this series divides by, for anyone auditing an alert from the log.
                stats = self.baselines[key]
                self._event("baseline", step=step, signal=key[0], source=key[1], mean=stats.mean, std=stats.std, count=stats.count,
                            std_floor=self.std_floors.get(key, 0.0))
        if self.metrics:
            self.metrics.set_step(step)
            self.metrics.observe_pass(source, seconds)
        evidence = self._accumulate(source, compared_now)
        self._event("sample", step=step, source=source, samples=samples, seconds=round(seconds, 4), signals=summary,
                    **({"nonfinite_samples": broken} if broken else {}), **({"sequential": evidence} if evidence else {}))
        return self._update_levels(step, source) + self._update_sequential_levels(step, source, evidence)

    def _drift(self, key: tuple[str, str], value: float | torch.Tensor) -> float | torch.Tensor:
        """Drift of ``value`` against the baseline of ``key`` = (signal, source), with that series' std floor."""
        return drift(value, self.baselines[key], self.std_floors.get(key, 0.0))

    def _count_broken(self, source: str, scores: Mapping[str, torch.Tensor]) -> int:
        """Samples whose activations were NaN/inf (scored +inf, see ``SignalSet.score``): skipped like
        any non-finite score, but counted and logged once, because the watched model is broken there."""
        broken = max((int(torch.isposinf(per_sample).sum()) for per_sample in scores.values()), default=0)
        if broken:
            if self.metrics:
                self.metrics.count_error("nonfinite")
            if "nonfinite" not in self._logged_stages:
                self._logged_stages.add("nonfinite")
                log.warning("em-monitor: %d %s sample(s) had NaN/inf activations at the watched layer and were skipped "
                            "(counted in em_monitor_errors_total{stage=\"nonfinite\"}); the model itself may be diverging", broken, source)
        return broken

    def observe_answers(self, step: int, answers: AnswerPass) -> list[LevelChange]:
        """Fold a `generations` pass in like any source, and log what the model said for a human to read."""
        changes = self.observe(step, "generations", answers.scores, answers.seconds)
        if answers.skipped:
            if self.metrics:
                self.metrics.count_error("generations_budget")
            if "generations_budget" not in self._logged_stages:
                self._logged_stages.add("generations_budget")
                log.warning(
                    "em-monitor: a generations pass ran out of generations.time_budget_seconds; %d prompts went unanswered "
                    "(counted in em_monitor_errors_total; raise the budget or lower generations.max_prompts / max_new_tokens)", answers.skipped,
                )
        self._event("answers", step=step, **answers.summary())
        return changes

    def flag_samples(self, step: int, scores: Mapping[str, torch.Tensor], origins: Sequence[tuple[int, int]] | None = None) -> dict[str, list[int]]:
        """Training samples (batch indices) whose own score crosses their signal's flag threshold.

        ``origins`` maps each index to ``(rank, index in that rank's batch)`` when the scores are
        several ranks' batches gathered into one; each flagged event then names both.
        """
        flagged: dict[str, list[int]] = {}
        for signal, rule in self.config.signals.items():
            # An explicit `flag` always applies; the `critical` fallback only where the rule watches training batches.
            threshold = rule.flag if rule.flag is not None else (rule.critical if "train_batch" in self._rule_sources(rule) else None)
            key = (signal, "train_batch")
            flag_measure = rule.flag_measure or rule.measure
            # A value needs no baseline, so a value flag applies from the first batch; drift waits for its baseline.
            if threshold is None or signal not in scores or (flag_measure == "drift" and self.in_baseline(*key)):
                continue
            per_sample = scores[signal].detach().float().cpu()
            measure = per_sample if flag_measure == "value" else self._drift(key, per_sample)
            # Non-finite scores (nothing pooled, or broken activations) are never evidence about the data.
            indices = [int(i) for i in torch.nonzero(torch.isfinite(measure) & (measure >= threshold)).flatten()]
            if not indices:
                continue
            flagged[signal] = indices
            if self.metrics:
                self.metrics.count_flagged(signal, len(indices))
            for index in indices:
                where = {"batch_index": index} if origins is None else {"rank": origins[index][0], "batch_index": origins[index][1]}
                self._event("flagged", step=step, signal=signal, **where, score=float(per_sample[index]), measure=flag_measure, observed=float(measure[index]))
        return flagged

    def record_scores(self, step: int, scores: Mapping[str, torch.Tensor], origins: Sequence[tuple[int, int]] | None = None) -> None:
        """Log every sample's score, per signal: flags can then be studied and set afterwards on what the run really met."""
        per_signal = {signal: [float(value) for value in values.detach().float().cpu()] for signal, values in scores.items()}
        self._event("scores", step=step, signals=per_signal, origins=[list(origin) for origin in origins] if origins is not None else None)

    def actions_for(self, changes: list[LevelChange]) -> list[str]:
        """The configured actions for rising levels, each at most once, in configured order."""
        actions: list[str] = []
        for change in changes:
            if not change.rising:
                continue
            configured = self.config.actions.on_critical if change.new == Level.CRITICAL else self.config.actions.on_warn
            actions.extend(action for action in configured if action not in actions)
        return actions

    # --- failure containment --------------------------------------------------------------
    @contextmanager
    def guard(self, stage: str) -> Iterator[None]:
        """Run a monitor stage so that its failure is counted and logged, never raised into training.

        Every failure is counted (``em_monitor_errors_total{stage}``) and written to the event log;
        the training log gets the first failure of a streak with its traceback, and one line when
        the stage works again, so a stage failing at every step cannot flood it.
        """
        try:
            yield
        except Exception as error:  # noqa: BLE001 — the monitor must never break the run it watches
            self._note_failure(stage, error)
            self.record_error(stage, error, count=False)
        else:
            self._note_success(stage)

    def record_error(self, stage: str, error: BaseException, *, count: bool = True) -> None:
        """Count a failure caught elsewhere (the Pushgateway's thread, say) and write it to the event log.

        Safe from another thread: the metrics and the event log take their own locks.
        """
        if count and self.metrics:
            self.metrics.count_error(stage)
        trace = "".join(traceback.format_exception(error, limit=3))
        self._event("error", step=self.current_step, stage=stage, error=f"{type(error).__name__}: {error}", trace=trace)

    def _note_failure(self, stage: str, error: Exception) -> None:
        """Count a failure; log it with its traceback if it starts a streak, at debug level otherwise."""
        if self.metrics:
            self.metrics.count_error(stage)
        streak = self._streaks[stage] = self._streaks.get(stage, 0) + 1
        if streak == 1:
            log.error("em-monitor %s failed (counted in em_monitor_errors_total; training goes on; "
                      "repeats log at debug until the stage works again): %s", stage, error, exc_info=True)
        else:
            log.debug("em-monitor %s failed again (%d in a row): %s", stage, streak, error)

    def _note_success(self, stage: str) -> None:
        failures = self._streaks.pop(stage, 0)
        if failures:
            log.warning("em-monitor %s works again after %d failure(s) in a row", stage, failures)

    def event(self, kind: str, **fields: object) -> None:
        """Write an event for the controller (start, actions, realignments) or the behavioural check.

        ``kind`` and ``fields`` must make a record of :mod:`em_monitor.runtime.event_schema`; otherwise
        :class:`~em_monitor.runtime.event_schema.EventSchemaError` is raised here, where the mistake is made,
        instead of a reader meeting a field it does not know at the end of the run.
        """
        self._event(kind, **fields)

    # --- state for checkpoints -------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "baselines": {f"{signal}\t{source}": stats.state_dict() for (signal, source), stats in self.baselines.items()},
            "frozen": sorted(f"{signal}\t{source}" for signal, source in self.frozen),
            "passes": dict(self.passes),
            "compared": {f"{signal}\t{source}": count for (signal, source), count in self.compared.items()},
            "source_levels": {f"{signal}\t{source}": int(level) for (signal, source), level in self.source_levels.items()},
            "levels": {signal: int(level) for signal, level in self.levels.items()},
            "sequential": {name: {**state.state_dict(), "level": int(self.sequential_levels[name])} for name, state in self.sequential.items()},
            "counts": self.metrics.counts() if self.metrics else {},
        }

    def load_state_dict(self, state: Mapping) -> None:
        def split(key: str) -> tuple[str, str]:
            signal, source = key.split("\t")
            return signal, source

        # Everything is read before anything is assigned: a state that does not fit leaves the monitor as it was.
        baselines = {split(key): RunningStats.from_state(stats) for key, stats in state["baselines"].items()}
        frozen = {split(key) for key in state["frozen"]}
        passes = {source: int(count) for source, count in state["passes"].items()}
        compared = {split(key): int(count) for key, count in state["compared"].items()}
        source_levels = {split(key): Level(level) for key, level in state["source_levels"].items()}
        levels = {signal: Level(level) for signal, level in state["levels"].items() if signal in self.levels}
        # Rules the config still has continue; a checkpoint from before sequential rules existed starts them afresh.
        sequential = {name: (SequentialState.from_state(saved), Level(saved["level"])) for name, saved in state.get("sequential", {}).items() if name in self.sequential}
        self.baselines, self.frozen, self.compared, self.source_levels = baselines, frozen, compared, source_levels
        self.passes.update(passes)
        self.levels.update(levels)
        for name, (running, level) in sequential.items():
            self.sequential[name], self.sequential_levels[name] = running, level
        if self.metrics:
            self.metrics.restore_counts(state.get("counts", {}))
            for signal, level in self.levels.items():
                self.metrics.set_level(signal, level)
            for name, running in self.sequential.items():
                self.metrics.set_sequential(name, running.statistic)
                self.metrics.set_sequential_level(name, self.sequential_levels[name])

    # --- internals ----------------------------------------------------------------------------
    def _rule_sources(self, rule: SignalRule) -> list[str]:
        return list(rule.sources or self.config.sources)

    def _accumulate(self, source: str, drifts: Mapping[str, float]) -> dict[str, dict[str, float]]:
        """Fold this pass into every sequential rule on ``source`` whose signals were all compared in it."""
        evidence: dict[str, dict[str, float]] = {}
        for name, rule in self.config.sequential.items():
            z = combined_z(drifts, rule) if rule.source == source else None
            if z is None:
                continue
            statistic = self.sequential[name].update(z, rule.reference)
            evidence[name] = {"z": z, "statistic": statistic}
            if self.metrics:
                self.metrics.set_sequential(name, statistic)
        return evidence

    def _update_sequential_levels(self, step: int, source: str, evidence: Mapping[str, Mapping[str, float]]) -> list[LevelChange]:
        changes: list[LevelChange] = []
        for name, figures in evidence.items():
            rule, old = self.config.sequential[name], self.sequential_levels[name]
            new = next_level(old, figures["statistic"], rule.warn, rule.critical, rule.hysteresis)
            if new != old:
                self.sequential_levels[name] = new
                changes.append(LevelChange(name, old, new))
                self._event("level", step=step, signal=name, source=source, old=old.name.lower(), new=new.name.lower(), measure="cusum", observed=figures["statistic"])
                log.log(logging.WARNING if new > old else logging.INFO, "em-monitor: sequential rule %s %s -> %s at step %d (CUSUM %.3g on %s)",
                        name, old.name, new.name, step, figures["statistic"], source)
            if self.metrics:
                self.metrics.set_sequential_level(name, new)
        return changes

    def alerting(self) -> tuple[str, ...]:
        """Rules above ok, signal rules first: what a realignment started now must bring back."""
        signals = [signal for signal, level in self.levels.items() if level > Level.OK and signal in self.config.signals]
        return (*signals, *(name for name, level in self.sequential_levels.items() if level > Level.OK))

    def reset_sequential(self, names: Sequence[str]) -> None:
        """Restart the evidence of these sequential rules (a realignment acted on it); their levels follow at the next pass."""
        for name in names:
            if name in self.sequential:
                self.sequential[name].reset()

    def _update_levels(self, step: int, source: str) -> list[LevelChange]:
        changes: list[LevelChange] = []
        for signal, rule in self.config.signals.items():
            key = (signal, source)
            if source not in self._rule_sources(rule) or key not in self.latest or self.in_baseline(*key):
                continue
            if self.compared.get(key, 0) < rule.min_samples:
                continue
            value, current_drift = self.latest[key]
            measure = value if rule.measure == "value" else current_drift
            self.source_levels[key] = next_level(self.source_levels.get(key, Level.OK), measure, rule.warn, rule.critical, rule.hysteresis)
            new = max((self.source_levels.get((signal, s), Level.OK) for s in self._rule_sources(rule)), default=Level.OK)
            old = self.levels[signal]
            if new != old:
                self.levels[signal] = new
                changes.append(LevelChange(signal, old, new))
                self._event("level", step=step, signal=signal, source=source, old=old.name.lower(), new=new.name.lower(), measure=rule.measure, observed=measure)
                log.log(logging.WARNING if new > old else logging.INFO, "em-monitor: %s %s -> %s at step %d (%s %.3g on %s)", signal, old.name, new.name, step, rule.measure, measure, source)
            if self.metrics:
                self.metrics.set_level(signal, new)
        return changes

    def _event(self, kind: str, **fields: object) -> None:
        # Checked even when nothing is written (no log, or closed): a record that does not fit is a bug in its writer, in every run.
        check_event(kind, fields)
        if self.events is None or self.events.closed:  # closed: the run has ended (a checkpoint saved after fit, say)
            return
        try:
            self.events.write(kind, **fields)
        except Exception as error:  # noqa: BLE001 — a full disk or a broken pipe must not stop training
            self._note_failure("event_log", error)
        else:
            self._note_success("event_log")
