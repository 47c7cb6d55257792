"""Build em-monitor's Grafana dashboard from a compact panel spec.

Why a generator and not hand-edited JSON: a dashboard is hundreds of lines of repeated field
config, and the threshold lines it draws must equal the default config's thresholds. Here each
panel is a few lines, and the thresholds are read from ``examples/monitor.yaml`` at build time, so
the lines on the drift panel cannot disagree with the rules the monitor runs by default.

It writes two files that a test keeps equal to this script's output:

- ``grafana/dashboards/em-monitor.json``: for file provisioning; every query names the datasource
  by the concrete uid that ``grafana/provisioning/datasources/em-monitor.yml`` defines.
- ``grafana/import/em-monitor.json``: the same dashboard for *Dashboards → Import*, with an
  ``__inputs`` datasource placeholder. It lives outside the provisioned folder because Grafana
  would otherwise load both files and refuse the duplicate dashboard uid.

Usage::

    .venv/bin/python scripts/build_dashboard.py          # rewrite both files
    .venv/bin/python scripts/build_dashboard.py --check  # exit 1 if either is stale
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "monitor.yaml"
PROVISIONED = ROOT / "grafana" / "dashboards" / "em-monitor.json"
IMPORTABLE = ROOT / "grafana" / "import" / "em-monitor.json"

DATASOURCE_UID = "em-monitor-prometheus"
DATASOURCE = {"type": "prometheus", "uid": DATASOURCE_UID}
DASHBOARD_UID = "em-monitor"
#: Drift is in baseline standard deviations for every signal, so one signal's drift thresholds are a
#: fair reference line for all of them; this is the signal the default config watches by drift.
DRIFT_REFERENCE_SIGNAL = "toxic_persona"
#: Legend of per-signal series; value-threshold overrides match on its ``<signal>/`` prefix.
SIGNAL_LEGEND = "{{signal}}/{{source}}"
RUN = 'run=~"$run"'
RUN_SIGNAL = 'run=~"$run", signal=~"$signal"'
LEVEL_NAMES = ("ok", "warn", "critical")
LEVEL_COLORS = ("green", "yellow", "red")

Grid = tuple[int, int, int, int]  # x, y, w, h in Grafana grid units (24 columns)
Panel = dict[str, Any]


def load_rules(config: Path = CONFIG) -> dict[str, dict[str, Any]]:
    """The ``signals`` rules of a monitor YAML, with the config model's default measure filled in."""
    signals = yaml.safe_load(config.read_text(encoding="utf-8")).get("signals") or {}
    return {name: {"measure": "drift", **rule} for name, rule in signals.items()}


def threshold_steps(warn: float | None, critical: float | None) -> dict[str, Any]:
    """Grafana threshold steps: green below warn, yellow from warn, red from critical (null = off)."""
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    steps += [{"color": color, "value": value} for color, value in (("yellow", warn), ("red", critical)) if value is not None]
    return {"mode": "absolute", "steps": steps}


def target(expr: str, legend: str, ref: str = "A") -> dict[str, Any]:
    """A PromQL range query on the provisioned datasource."""
    return {"datasource": DATASOURCE, "editorMode": "code", "expr": expr, "legendFormat": legend, "range": True, "refId": ref}


def _panel(kind: str, title: str, description: str, grid: Grid, targets: Sequence[dict[str, Any]]) -> Panel:
    x, y, w, h = grid
    return {
        "datasource": DATASOURCE,
        "description": description,
        "gridPos": {"h": h, "w": w, "x": x, "y": y},
        "targets": list(targets),
        "title": title,
        "type": kind,
    }


def timeseries(
    title: str,
    description: str,
    grid: Grid,
    targets: Sequence[dict[str, Any]],
    *,
    unit: str = "short",
    thresholds: dict[str, Any] | None = None,
    overrides: Sequence[dict[str, Any]] = (),
    bars: bool = False,
    stairs: bool = False,
    axis_label: str = "",
    min_zero: bool = False,
) -> Panel:
    """A time-series panel; ``thresholds`` are drawn as dashed lines, as Grafana's own editor does."""
    custom: dict[str, Any] = {
        "axisLabel": axis_label,
        "drawStyle": "bars" if bars else "line",
        "fillOpacity": 60 if bars else 10,
        "lineInterpolation": "stepAfter" if stairs else "linear",
        "lineWidth": 1 if bars else 2,
        "showPoints": "never",
        "spanNulls": False,
        "thresholdsStyle": {"mode": "dashed" if thresholds else "off"},
    }
    defaults: dict[str, Any] = {
        "color": {"mode": "palette-classic"},
        "custom": custom,
        "thresholds": thresholds or threshold_steps(None, None),
        "unit": unit,
    }
    if min_zero:
        defaults["min"] = 0
    panel = _panel("timeseries", title, description, grid, targets)
    panel["fieldConfig"] = {"defaults": defaults, "overrides": list(overrides)}
    panel["options"] = {
        "legend": {"calcs": ["lastNotNull", "max"], "displayMode": "table", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return panel


def value_mappings(names: Sequence[str], colors: Sequence[str]) -> list[dict[str, Any]]:
    """Map the integers 0, 1, … of a state gauge to words and colours."""
    options = {str(index): {"color": color, "index": index, "text": name} for index, (name, color) in enumerate(zip(names, colors, strict=True))}
    return [{"options": options, "type": "value"}]


def stat(title: str, description: str, grid: Grid, targets: Sequence[dict[str, Any]], *, mappings: Sequence[dict[str, Any]] = (), thresholds: dict[str, Any] | None = None) -> Panel:
    """A single number (a count), or with ``mappings`` a coloured word for a state gauge."""
    panel = _panel("stat", title, description, grid, targets)
    panel["fieldConfig"] = {
        "defaults": {"color": {"mode": "thresholds"}, "mappings": list(mappings), "thresholds": thresholds or {"mode": "absolute", "steps": [{"color": "blue", "value": None}]}, "unit": "none"},
        "overrides": [],
    }
    panel["options"] = {
        "colorMode": "background" if mappings else "value",
        "graphMode": "none" if mappings else "area",
        "justifyMode": "center",
        "orientation": "auto",
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "textMode": "value",
    }
    return panel


def state_timeline(title: str, description: str, grid: Grid, targets: Sequence[dict[str, Any]], *, mappings: Sequence[dict[str, Any]], thresholds: dict[str, Any]) -> Panel:
    """Coloured bands over time, one row per series: how long each signal sat at each level."""
    panel = _panel("state-timeline", title, description, grid, targets)
    panel["fieldConfig"] = {
        "defaults": {"color": {"mode": "thresholds"}, "custom": {"fillOpacity": 80, "lineWidth": 0}, "mappings": list(mappings), "thresholds": thresholds, "unit": "none"},
        "overrides": [],
    }
    panel["options"] = {
        "alignValue": "center",
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
        "mergeValues": True,
        "rowHeight": 0.8,
        "showValue": "auto",
        "tooltip": {"mode": "single", "sort": "none"},
    }
    return panel


def value_threshold_overrides(rules: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Threshold lines for each signal alerted on its raw value, on an axis of its own.

    Raw values of different signals share no scale (an SAE latent's activation, a probe's
    probability), and Grafana draws a series' threshold lines on that series' axis. A right-hand
    axis labelled with the signal's name gives it a scale of its own, so a probe's 0.6 line is
    not read against an SAE latent's values.
    """
    overrides = []
    for name, rule in sorted(rules.items()):
        if rule["measure"] != "value":
            continue
        overrides.append({
            "matcher": {"id": "byRegexp", "options": f"^{name}/"},
            "properties": [
                {"id": "thresholds", "value": threshold_steps(rule.get("warn"), rule.get("critical"))},
                {"id": "custom.thresholdsStyle", "value": {"mode": "dashed"}},
                {"id": "custom.axisPlacement", "value": "right"},
                {"id": "custom.axisLabel", "value": name},
            ],
        })
    return overrides


def panels(rules: Mapping[str, Mapping[str, Any]]) -> list[Panel]:
    """Every panel, top to bottom: state at a glance, the signals, then the monitor's own health."""
    drift_rule = rules[DRIFT_REFERENCE_SIGNAL]
    level_thresholds = {"mode": "absolute", "steps": [{"color": color, "value": None if index == 0 else index} for index, color in enumerate(LEVEL_COLORS)]}
    duration = f"rate(em_monitor_sample_duration_seconds_bucket{{{RUN}}}[$__rate_interval])"
    specs = [
        state_timeline(
            "Alert level",
            "The monitor's level per signal (0 ok, 1 warn, 2 critical), after hysteresis and min_samples, and per sequential rule.",
            (0, 0, 12, 6),
            [target(f"max by (signal) (em_monitor_alert_level{{{RUN_SIGNAL}}})", "{{signal}}"),
             target(f"max by (rule) (em_monitor_sequential_level{{{RUN}}})", "{{rule}} (sequential)")],
            mappings=value_mappings(LEVEL_NAMES, LEVEL_COLORS),
            thresholds=level_thresholds,
        ),
        stat("Training step", "Optimizer step at the latest sampling pass.", (12, 0, 4, 6), [target(f"max(em_monitor_training_step{{{RUN}}})", "step")]),
        stat("Sampling passes", "Sampling passes so far, all sources: a flat line here means the monitor stopped sampling.", (16, 0, 4, 6), [target(f"sum(em_monitor_samples_total{{{RUN}}})", "passes")]),
        stat(
            "Realignment",
            "Whether a benign-data realignment is training right now.",
            (20, 0, 4, 6),
            [target(f"max(em_monitor_realignment_active{{{RUN}}})", "active")],
            mappings=value_mappings(("idle", "realigning"), ("green", "orange")),
            thresholds={"mode": "absolute", "steps": [{"color": "green", "value": None}, {"color": "orange", "value": 1}]},
        ),
        timeseries(
            "Signal value",
            "Mean score of each signal over a sampling pass, by source. Signals alerted on their value have their own right-hand axis, with dashed lines at their thresholds in the default config (examples/monitor.yaml).",
            (0, 6, 12, 9),
            [target(f"em_monitor_signal_value{{{RUN_SIGNAL}}}", SIGNAL_LEGEND)],
            overrides=value_threshold_overrides(rules),
        ),
        timeseries(
            "Signal drift",
            f"Distance from the run's baseline in baseline standard deviations, by source. Dashed lines: {DRIFT_REFERENCE_SIGNAL} warn/critical of the default config (examples/monitor.yaml).",
            (12, 6, 12, 9),
            [target(f"em_monitor_signal_drift{{{RUN_SIGNAL}}}", SIGNAL_LEGEND)],
            thresholds=threshold_steps(drift_rule.get("warn"), drift_rule.get("critical")),
            axis_label="σ from baseline",
        ),
        timeseries(
            "Realignments",
            "Realignments so far, by outcome: recovered (signals back under warn) or failed (fallback actions ran).",
            (0, 15, 6, 8),
            [target(f"sum by (outcome) (em_monitor_realignments_total{{{RUN}}})", "{{outcome}}")],
            stairs=True,
            min_zero=True,
        ),
        timeseries(
            "Flagged training samples",
            "Training samples whose own score crossed a rule's flag threshold, per second, by signal.",
            (6, 15, 6, 8),
            [target(f"sum by (signal) (rate(em_monitor_flagged_samples_total{{{RUN_SIGNAL}}}[$__rate_interval]))", "{{signal}}")],
            unit="cps",
            bars=True,
            min_zero=True,
        ),
        timeseries(
            "Actions",
            "Actions the monitor carried out, by action (log, checkpoint, stop, realign). A stop ended the run and needs a human decision.",
            (12, 15, 6, 8),
            [target(f"sum by (action) (increase(em_monitor_actions_total{{{RUN}}}[$__rate_interval]))", "{{action}}")],
            bars=True,
            min_zero=True,
        ),
        timeseries(
            "Monitor errors",
            "The monitor's own failures, caught so training went on, by stage. Anything above zero deserves a look at the training log.",
            (18, 15, 6, 8),
            [target(f"sum by (stage) (increase(em_monitor_errors_total{{{RUN}}}[$__rate_interval]))", "{{stage}}")],
            bars=True,
            min_zero=True,
        ),
        timeseries(
            "Sampling pass duration",
            "Median and 95th percentile wall time of one sampling pass, by source (from the histogram buckets).",
            (0, 23, 12, 8),
            [
                target(f"histogram_quantile(0.5, sum by (le, source) ({duration}))", "p50 {{source}}"),
                target(f"histogram_quantile(0.95, sum by (le, source) ({duration}))", "p95 {{source}}", "B"),
            ],
            unit="s",
            min_zero=True,
        ),
        timeseries(
            "Monitor overhead",
            "Fraction of wall time spent in sampling passes (seconds of sampling per second), by source.",
            (12, 23, 12, 8),
            [target(f"sum by (source) (rate(em_monitor_sample_duration_seconds_sum{{{RUN}}}[$__rate_interval]))", "{{source}}")],
            unit="percentunit",
            min_zero=True,
        ),
        timeseries(
            "Time since the last pass",
            "Seconds since each source's last sampling pass. It should saw-tooth at the source's cadence; a line that only climbs is a "
            "hung trainer or monitor (EmMonitorSilent fires at 30 minutes).",
            (0, 31, 24, 7),
            [target(f"time() - max by (source) (em_monitor_last_pass_timestamp_seconds{{{RUN}}})", "{{source}}")],
            unit="s",
            min_zero=True,
        ),
        timeseries(
            "Sequential evidence",
            "What each sequential (CUSUM) rule has accumulated: every pass adds its combined drift minus the rule's reference, never below 0. "
            "A steady climb is a small shift present on every pass; the rule alerts at its decision intervals (the config's `sequential:` block).",
            (0, 38, 24, 7),
            [target(f"em_monitor_sequential_statistic{{{RUN}}}", "{{rule}}")],
            min_zero=True,
        ),
    ]
    for panel_id, panel in enumerate(specs, start=1):
        panel["id"] = panel_id
    return specs


def variables() -> list[dict[str, Any]]:
    """``run`` picks one training run; ``signal`` narrows the per-signal panels (all by default)."""

    def query_variable(name: str, label: str, query: str, *, multi: bool) -> dict[str, Any]:
        variable: dict[str, Any] = {
            "datasource": DATASOURCE,
            "definition": query,
            "includeAll": multi,
            "label": label,
            "multi": multi,
            "name": name,
            "query": query,
            "refresh": 2,  # on time-range change: a new run appears without reloading the page
            "sort": 1,
            "type": "query",
        }
        if multi:
            variable["allValue"] = ".*"
            variable["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
        return variable

    return [
        query_variable("run", "Run", "label_values(em_monitor_training_step, run)", multi=False),
        query_variable("signal", "Signal", f"label_values(em_monitor_signal_drift{{{RUN}}}, signal)", multi=True),
    ]


def dashboard(rules: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The provisioned dashboard (current schema; Grafana 10 and later)."""
    return {
        "annotations": {"list": [{
            "builtIn": 1,
            "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True,
            "hide": True,
            "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts",
            "type": "dashboard",
        }]},
        "description": "Persona signals of a fine-tuning run watched by em-monitor (PersonaMonitor): values, drift, alert levels, realignments and the monitor's own health.",
        "editable": True,
        "graphTooltip": 1,
        "id": None,
        "links": [],
        "panels": panels(rules),
        "refresh": "30s",
        "schemaVersion": 39,
        "tags": ["em-monitor", "training", "safety"],
        "templating": {"list": variables()},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": "em-monitor: persona signals",
        "uid": DASHBOARD_UID,
        "version": 1,
    }


def _with_placeholder(node: Any) -> Any:
    """Replace the concrete datasource uid by the import placeholder, everywhere it occurs."""
    if isinstance(node, dict):
        if node.get("uid") == DATASOURCE_UID and node.get("type") == "prometheus":
            return {**node, "uid": "${DS_PROMETHEUS}"}
        return {key: _with_placeholder(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_with_placeholder(item) for item in node]
    return node


def importable(provisioned: Mapping[str, Any]) -> dict[str, Any]:
    """The provisioned dashboard with an ``__inputs`` datasource choice, for the Import dialog."""
    kinds = sorted({panel["type"] for panel in provisioned["panels"]})
    names = {"stat": "Stat", "state-timeline": "State timeline", "timeseries": "Time series"}
    return {
        "__inputs": [{
            "description": "The Prometheus that scrapes the em-monitor endpoint",
            "label": "Prometheus",
            "name": "DS_PROMETHEUS",
            "pluginId": "prometheus",
            "pluginName": "Prometheus",
            "type": "datasource",
        }],
        "__requires": [
            {"id": "grafana", "name": "Grafana", "type": "grafana", "version": "10.0.0"},
            {"id": "prometheus", "name": "Prometheus", "type": "datasource", "version": "1.0.0"},
            *({"id": kind, "name": names[kind], "type": "panel", "version": ""} for kind in kinds),
        ],
        **_with_placeholder(copy.deepcopy(dict(provisioned))),
    }


def render(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def outputs(config: Path = CONFIG) -> dict[Path, str]:
    """File path → the exact text this generator writes there."""
    provisioned = dashboard(load_rules(config))
    return {PROVISIONED: render(provisioned), IMPORTABLE: render(importable(provisioned))}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed file differs from the generated one")
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    for path in stale:
        print(f"stale: {path.relative_to(ROOT)} (run scripts/build_dashboard.py)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
