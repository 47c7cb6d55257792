"""Prometheus export: the DESIGN.md metric set on a private registry, and its HTTP endpoint.

The signal table (values, drifts, levels, step) is owned by the monitor and read by a custom
collector at scrape time, so a scrape always sees one consistent snapshot and nothing is
registered globally. Counters are ordinary prometheus_client counters; every label value that
can occur is created up front so dashboards see zeros instead of missing series.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from em_monitor.config import ACTIONS
from em_monitor.runtime.endpoint import start_endpoint

__all__ = ["ERROR_STAGES", "REALIGNMENT_OUTCOMES", "MetricsServer", "MonitorMetrics"]

#: Stages whose failures ``em_monitor_errors_total`` counts (the ``stage`` label).
#: ``generations_budget`` counts generations passes cut short by their time budget (partly unwatched, not broken).
ERROR_STAGES: tuple[str, ...] = (
    "capture", "score", "gather", "decide", "nonfinite", "prompts", "generations", "generations_budget", "behaviour",
    "actions", "realign", "event_log", "push", "state", "teardown",
)
#: Values of the ``outcome`` label on ``em_monitor_realignments_total``.
REALIGNMENT_OUTCOMES: tuple[str, ...] = ("recovered", "failed")
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class _SignalTable(Collector):
    """Latest value, drift and level per signal; yields fresh gauge families on every scrape."""

    def __init__(self, run: str, kinds: Mapping[str, str], rules: Sequence[str] = ()) -> None:
        self.run = run
        self.kinds = dict(kinds)
        self.values: dict[tuple[str, str], tuple[float, float]] = {}
        self.levels: dict[str, int] = {name: 0 for name in kinds}
        #: Sequential rules by name: their CUSUM statistic, and their level.
        self.statistics: dict[str, float] = {name: 0.0 for name in rules}
        self.rule_levels: dict[str, int] = {name: 0 for name in rules}
        self.step = 0
        self.lock = threading.Lock()

    def collect(self) -> Iterable[GaugeMetricFamily]:
        with self.lock:
            values, levels, step = dict(self.values), dict(self.levels), self.step
            statistics, rule_levels = dict(self.statistics), dict(self.rule_levels)
        value = GaugeMetricFamily("em_monitor_signal_value", "Latest mean score of a persona signal over a sampling pass.", labels=["run", "signal", "kind", "source"])
        drift = GaugeMetricFamily("em_monitor_signal_drift", "Drift of a signal from the run's baseline, in baseline standard deviations.", labels=["run", "signal", "source"])
        for (signal, source), (latest, latest_drift) in sorted(values.items()):
            value.add_metric([self.run, signal, self.kinds[signal], source], latest)
            drift.add_metric([self.run, signal, source], latest_drift)
        level = GaugeMetricFamily("em_monitor_alert_level", "Alert level of a signal: 0 ok, 1 warn, 2 critical.", labels=["run", "signal"])
        for signal, current in sorted(levels.items()):
            level.add_metric([self.run, signal], current)
        training_step = GaugeMetricFamily("em_monitor_training_step", "Optimizer step at the latest sampling pass.", labels=["run"])
        training_step.add_metric([self.run], step)
        statistic = GaugeMetricFamily("em_monitor_sequential_statistic", "Evidence a sequential rule has accumulated (CUSUM, in units of its combined per-pass statistic).",
                                      labels=["run", "rule"])
        rule_level = GaugeMetricFamily("em_monitor_sequential_level", "Alert level of a sequential rule: 0 ok, 1 warn, 2 critical.", labels=["run", "rule"])
        for rule, current in sorted(statistics.items()):
            statistic.add_metric([self.run, rule], current)
            rule_level.add_metric([self.run, rule], rule_levels.get(rule, 0))
        yield from (value, drift, level, training_step, statistic, rule_level)


@dataclass
class MetricsServer:
    """A running metrics endpoint; ``close()`` stops it and frees the port."""

    server: object
    thread: threading.Thread
    addr: str
    port: int
    scheme: str = "http"

    @property
    def url(self) -> str:
        """The scrape URL (an IPv6 address in brackets, as URLs need)."""
        host = f"[{self.addr}]" if ":" in self.addr else self.addr
        return f"{self.scheme}://{host}:{self.port}/metrics"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class MonitorMetrics:
    """Every ``em_monitor_*`` series for one monitored run, on its own registry.

    Example::

        metrics = MonitorMetrics("demo", sources=["prompts"], signal_kinds={"persona": "direction"})
        metrics.set_signal("persona", "prompts", value=0.3, drift=1.2)
        metrics.registry.get_sample_value("em_monitor_signal_drift", {"run": "demo", "signal": "persona", "source": "prompts"})
    """

    def __init__(self, run: str, sources: Sequence[str], signal_kinds: Mapping[str, str], registry: CollectorRegistry | None = None,
                 sequential_rules: Sequence[str] = ()) -> None:
        self.run = run
        self.registry = registry if registry is not None else CollectorRegistry()
        self._table = _SignalTable(run, signal_kinds, sequential_rules)
        self.registry.register(self._table)
        self._samples = Counter("em_monitor_samples", "Monitor sampling passes.", ["run", "source"], registry=self.registry)
        self._duration = Histogram("em_monitor_sample_duration_seconds", "Wall time of one sampling pass.", ["run", "source"], buckets=_DURATION_BUCKETS, registry=self.registry)
        self._realignments = Counter("em_monitor_realignments", "Benign-data realignments, by outcome.", ["run", "outcome"], registry=self.registry)
        self._realigning = Gauge("em_monitor_realignment_active", "1 while a realignment is in progress.", ["run"], registry=self.registry)
        self._flagged = Counter("em_monitor_flagged_samples", "Training samples whose score crossed the flag threshold.", ["run", "signal"], registry=self.registry)
        self._errors = Counter("em_monitor_errors", "The monitor's own failures, caught so training goes on.", ["run", "stage"], registry=self.registry)
        self._actions = Counter("em_monitor_actions", "Actions the monitor carried out (log, checkpoint, stop, realign).", ["run", "action"], registry=self.registry)
        # A wall-clock time, not a duration: the one series that tells a run gone silent (hung trainer, hung monitor)
        # from one still training, also through a Pushgateway, which keeps serving the last push of a dead job.
        self._last_pass = Gauge("em_monitor_last_pass_timestamp_seconds", "Unix time of the monitor's last sampling pass.", ["run", "source"],
                                registry=self.registry)
        for source in sources:
            self._samples.labels(run, source)
            self._duration.labels(run, source)
        for outcome in REALIGNMENT_OUTCOMES:
            self._realignments.labels(run, outcome)
        self._realigning.labels(run).set(0)
        for signal in signal_kinds:
            self._flagged.labels(run, signal)
        for stage in ERROR_STAGES:
            self._errors.labels(run, stage)
        for action in ACTIONS:
            self._actions.labels(run, action)

    def set_signal(self, signal: str, source: str, *, value: float, drift: float) -> None:
        with self._table.lock:
            self._table.values[(signal, source)] = (value, drift)

    def set_level(self, signal: str, level: int) -> None:
        with self._table.lock:
            self._table.levels[signal] = int(level)

    def set_sequential(self, rule: str, statistic: float) -> None:
        with self._table.lock:
            self._table.statistics[rule] = statistic

    def set_sequential_level(self, rule: str, level: int) -> None:
        with self._table.lock:
            self._table.statistics.setdefault(rule, 0.0)
            self._table.rule_levels[rule] = int(level)

    def set_step(self, step: int) -> None:
        with self._table.lock:
            self._table.step = step

    def observe_pass(self, source: str, seconds: float) -> None:
        self._samples.labels(self.run, source).inc()
        self._duration.labels(self.run, source).observe(seconds)
        self._last_pass.labels(self.run, source).set_to_current_time()

    def count_flagged(self, signal: str, count: int) -> None:
        self._flagged.labels(self.run, signal).inc(count)

    def set_realigning(self, active: bool) -> None:
        self._realigning.labels(self.run).set(1 if active else 0)

    def count_realignment(self, outcome: str) -> None:
        self._realignments.labels(self.run, outcome).inc()

    def count_error(self, stage: str) -> None:
        self._errors.labels(self.run, stage).inc()

    def count_action(self, action: str) -> None:
        """One executed action; alerting on ``action="stop"`` tells a human the monitor ended a run."""
        self._actions.labels(self.run, action).inc()

    def pass_summary(self) -> dict[str, tuple[int, float | None]]:
        """Per source: (sampling passes, mean seconds per pass or None before the first), read from the histogram.

        What a benchmark reports about the monitor's own cost, without reaching into the registry.
        """
        summary: dict[str, tuple[int, float | None]] = {}
        for metric in self._duration.collect():
            totals: dict[str, dict[str, float]] = {}
            for sample in metric.samples:
                if sample.name.endswith(("_count", "_sum")):
                    totals.setdefault(sample.labels["source"], {})[sample.name.rsplit("_", 1)[1]] = sample.value
            for source, total in totals.items():
                passes = int(total.get("count", 0))
                summary[source] = (passes, total.get("sum", 0.0) / passes if passes else None)
        return summary

    def _counters(self) -> dict[str, tuple[Counter, str]]:
        """The counters a resumed run continues from, with the label that tells their series apart."""
        return {
            "samples": (self._samples, "source"),
            "flagged": (self._flagged, "signal"),
            "errors": (self._errors, "stage"),
            "realignments": (self._realignments, "outcome"),
            "actions": (self._actions, "action"),
        }

    def counts(self) -> dict[str, dict[str, float]]:
        """Counter totals by label, the part of the metrics a resumed run must continue from."""
        totals: dict[str, dict[str, float]] = {}
        for key, (counter, label) in self._counters().items():
            totals[key] = {
                sample.labels[label]: sample.value
                for metric in counter.collect()
                for sample in metric.samples
                if sample.name.endswith("_total")
            }
        return totals

    def restore_counts(self, counts: Mapping[str, Mapping[str, float]]) -> None:
        """Continue counters after a resume from the totals saved in the callback's state."""
        for key, (counter, _label) in self._counters().items():
            for label_value, total in counts.get(key, {}).items():
                counter.labels(self.run, label_value).inc(total)

    def serve(self, addr: str, port: int, *, tls: ssl.SSLContext | None = None, credentials: tuple[str, str] | None = None) -> MetricsServer:
        """Start the HTTP(S) endpoint; a busy port fails here, at start-up, with the fix in the message.

        ``tls`` serves HTTPS; ``credentials`` (username, password) require basic auth on every request.
        """
        try:
            server, thread = start_endpoint(self.registry, addr, port, tls=tls, credentials=credentials)
        except OSError as error:
            raise OSError(
                f"cannot serve metrics on {addr}:{port} ({error.strerror}); set prometheus.port to a free port "
                "(0 picks one) or prometheus.enabled: false"
            ) from error
        return MetricsServer(server=server, thread=thread, addr=addr, port=server.server_port, scheme="https" if tls else "http")
