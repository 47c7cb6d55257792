"""The shipped Prometheus alert rules and Alertmanager config: valid, unit-tested, and in step with the default config.

``promtool`` and ``amtool`` (the Debian prometheus and prometheus-alertmanager packages) do the
parsing and the rule unit tests; these tests run them and check what they cannot know: that the
thresholds equal ``examples/monitor.yaml``, that each rule reads a metric the exporter really
exports, and that each alert has its runbook section.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import generate_latest
from servers import require_binary

from em_monitor.runtime.export import MonitorMetrics

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "grafana" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "grafana" / "prometheus" / "alerts.test.yml"
ALERTMANAGER_CONFIG = ROOT / "grafana" / "alertmanager" / "alertmanager.yml"
RUNBOOK = ROOT / "docs" / "runbook.md"
DEFAULT_CONFIG = ROOT / "examples" / "monitor.yaml"

#: Alerts that mirror a rule of the default config: (signal in the YAML, its level key).
THRESHOLD_ALERTS = {
    "EmMonitorToxicPersonaDriftWarning": ("toxic_persona", "warn"),
    "EmMonitorToxicPersonaDriftCritical": ("toxic_persona", "critical"),
    "EmMonitorProbeScoreWarning": ("persona_probe", "warn"),
    "EmMonitorProbeScoreCritical": ("persona_probe", "critical"),
}
#: Which series each measure of a signal rule compares with.
MEASURE_METRIC = {"drift": "em_monitor_signal_drift", "value": "em_monitor_signal_value"}
#: `metric{matchers} >= number`: the shape of every threshold rule.
THRESHOLD_EXPR = re.compile(r"^(?P<metric>\w+)\{(?P<matchers>[^}]*)\}\s*(?P<op>>=|>|==|<=|<)\s*(?P<threshold>-?\d+(?:\.\d+)?)$")
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"')


def rules() -> dict[str, dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"] if "alert" in rule}


def parse_threshold(expr: str) -> tuple[str, dict[str, tuple[str, str]], str, float]:
    match = THRESHOLD_EXPR.match(expr.strip())
    assert match, f"not a `metric{{...}} >= N` rule: {expr}"
    matchers = {name: (op, value) for name, op, value in MATCHER.findall(match["matchers"])}
    return match["metric"], matchers, match["op"], float(match["threshold"])


def github_anchor(heading: str) -> str:
    """The fragment GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_promtool_accepts_the_rules():
    result = subprocess.run([require_binary("promtool"), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_promtool_rule_unit_tests_pass():
    result = subprocess.run([require_binary("promtool"), "test", "rules", str(RULE_TESTS)], capture_output=True, text=True, timeout=120, cwd=RULE_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_unit_tested_firing_and_then_resolved():
    cases = [case for group in yaml.safe_load(RULE_TESTS.read_text())["tests"] for case in group["alert_rule_test"]]
    for name in rules():
        firing = [case["eval_time"] for case in cases if case["alertname"] == name and case.get("exp_alerts")]
        quiet = [case["eval_time"] for case in cases if case["alertname"] == name and not case.get("exp_alerts")]
        assert firing, f"{name}: no unit test shows it firing"
        assert any(_minutes(t) > _minutes(min(firing, key=_minutes)) for t in quiet), f"{name}: no unit test shows it resolving"
        assert any(_minutes(t) < _minutes(min(firing, key=_minutes)) for t in quiet), f"{name}: no unit test shows it quiet before firing"


def _minutes(duration: str) -> float:
    value, unit = re.fullmatch(r"(\d+)([smh])", duration).groups()
    return int(value) * {"s": 1 / 60, "m": 1, "h": 60}[unit]


def test_thresholds_equal_the_default_config():
    signals = yaml.safe_load(DEFAULT_CONFIG.read_text())["signals"]
    shipped = rules()
    for name, (signal, level) in THRESHOLD_ALERTS.items():
        rule = signals[signal]
        metric, matchers, op, threshold = parse_threshold(shipped[name]["expr"])
        assert metric == MEASURE_METRIC[rule.get("measure", "drift")], f"{name} reads {metric}, but {signal} is measured on {rule['measure']}"
        assert op == ">=", f"{name}: the monitor enters a level at measure >= threshold; use >="
        assert threshold == rule[level], f"{name} fires at {threshold}, examples/monitor.yaml says {signal}.{level}: {rule[level]}"
        if rule.get("sources"):
            assert matchers.get("source") == ("=", *rule["sources"]), f"{name} must watch the sources {rule['sources']} only"


def test_toxic_persona_rules_and_the_generic_pair_split_the_signals():
    shipped = rules()
    for level in ("Warning", "Critical"):
        _, own, _, _ = parse_threshold(shipped[f"EmMonitorToxicPersonaDrift{level}"]["expr"])
        _, generic, _, _ = parse_threshold(shipped[f"EmMonitorSignalDrift{level}"]["expr"])
        assert own["signal"] == ("=", "toxic_persona") and generic["signal"] == ("!=", "toxic_persona")


def test_probe_rules_watch_the_kind_of_the_default_packs_probe():
    pack = yaml.safe_load((ROOT / "em_monitor" / "data" / "packs" / "smollm2" / "pack.yaml").read_text())
    kinds = {signal["name"]: signal["kind"] for signal in pack["signals"]}
    _, matchers, _, _ = parse_threshold(rules()["EmMonitorProbeScoreWarning"]["expr"])
    assert matchers["kind"] == ("=", kinds["persona_probe"])


def test_rules_read_only_metrics_the_exporter_exports():
    metrics = MonitorMetrics("r", sources=["prompts", "train_batch"], signal_kinds={"toxic_persona": "sae_latent", "persona_probe": "probe"},
                             sequential_rules=["narrow_drift"])  # a config with a sequential rule exports its two series from the start
    metrics.set_signal("toxic_persona", "prompts", value=1.0, drift=1.0)
    metrics.observe_pass("prompts", 0.1)  # the last-pass timestamp exists from the first pass on (none before: not "silent since 1970")
    exported = set(re.findall(r"^(em_monitor_\w+?)(?:\{| )", generate_latest(metrics.registry).decode(), flags=re.MULTILINE))
    for name, rule in rules().items():
        for metric in re.findall(r"em_monitor_\w+", rule["expr"]):
            assert metric in exported, f"{name} reads {metric}, which the exporter does not export"


def test_every_alert_is_labelled_annotated_and_has_its_runbook_section():
    anchors = {github_anchor(line.lstrip("#")) for line in RUNBOOK.read_text().splitlines() if line.startswith("## ")}
    for name, rule in rules().items():
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        annotations = rule["annotations"]
        assert {"summary", "description", "runbook_url"} <= set(annotations), name
        path, _, anchor = annotations["runbook_url"].partition("#")
        assert path == "docs/runbook.md" and anchor == name.lower(), f"{name}: runbook_url {annotations['runbook_url']}"
        assert anchor in anchors, f"docs/runbook.md has no section `## {name}`"
        if not rule["expr"].startswith("absent("):  # absent() has no value worth printing
            assert "$value" in annotations["description"], f"{name}: say the observed value in the description"


def test_alertmanager_config_is_valid():
    result = subprocess.run([require_binary("amtool"), "check-config", str(ALERTMANAGER_CONFIG)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["alertname=EmMonitorToxicPersonaDriftCritical", "severity=critical", "run=r"], "em-monitor-oncall-email,em-monitor-webhook"),
        (["alertname=EmMonitorErrors", "severity=warning", "run=r"], "em-monitor-webhook"),
    ],
)
def test_alertmanager_routes_critical_alerts_to_a_person_and_every_alert_to_the_webhook(labels, receivers):
    command = [require_binary("amtool"), "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}", f"--verify.receivers={receivers}", *labels]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receivers
