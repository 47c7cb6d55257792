"""The Grafana files, checked offline: they parse, provision without placeholders, lay out on the
grid, query only what the exporter really emits (PromQL parsed by a real parser), and draw the
default config's thresholds."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from em_monitor.runtime.export import ERROR_STAGES, REALIGNMENT_OUTCOMES, MonitorMetrics

ROOT = Path(__file__).resolve().parents[1]
GRAFANA = ROOT / "grafana"
PROVISIONED = GRAFANA / "dashboards" / "em-monitor.json"
IMPORTABLE = GRAFANA / "import" / "em-monitor.json"
ALERTING = GRAFANA / "provisioning" / "alerting" / "em-monitor.yml"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "em-monitor.yml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "em-monitor.yml"
DEFAULT_CONFIG = ROOT / "examples" / "monitor.yaml"
PANEL_TYPES = {"timeseries", "stat", "state-timeline"}
#: Concrete stand-ins for Grafana's variables, so the expressions are plain PromQL.
SUBSTITUTIONS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "6h", "$run": "demo", "$signal": ".*"}


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(PROVISIONED.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTING.read_text(encoding="utf-8"))
    assert document["apiVersion"] == 1
    return [rule for group in document["groups"] for rule in group["rules"]]


@pytest.fixture(scope="module")
def datasource_uid() -> str:
    (datasource,) = yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))["datasources"]
    assert datasource["type"] == "prometheus"
    return datasource["uid"]


@pytest.fixture(scope="module")
def default_rules() -> dict[str, dict[str, Any]]:
    return yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))["signals"]


@pytest.fixture(scope="module")
def exported() -> dict[str, set[str]]:
    """Sample name → label names, from the exporter's real text output with every series touched."""
    metrics = MonitorMetrics("demo", sources=["prompts", "train_batch"], signal_kinds={"toxic_persona": "sae_latent", "persona_probe": "probe"},
                             sequential_rules=["narrow_drift"])
    metrics.set_signal("toxic_persona", "prompts", value=1.2, drift=2.5)
    metrics.set_sequential("narrow_drift", 3.2)
    metrics.set_signal("persona_probe", "train_batch", value=0.4, drift=0.1)
    metrics.set_level("toxic_persona", 1)
    metrics.set_step(30)
    metrics.observe_pass("prompts", 0.3)
    metrics.count_flagged("toxic_persona", 2)
    metrics.set_realigning(True)
    metrics.count_realignment(REALIGNMENT_OUTCOMES[0])
    metrics.count_error(ERROR_STAGES[0])
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(generate_latest(metrics.registry).decode()):
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def datasource_refs(node: Any) -> Iterator[dict[str, Any]]:
    """Every ``datasource`` object anywhere in a dashboard."""
    if isinstance(node, dict):
        if isinstance(node.get("datasource"), dict):
            yield node["datasource"]
        for value in node.values():
            yield from datasource_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from datasource_refs(item)


def prometheus_queries(rule: dict[str, Any]) -> list[dict[str, Any]]:
    return [query for query in rule["data"] if query["datasourceUid"] != "__expr__"]


def expressions(dashboard: dict[str, Any], alert_rules: list[dict[str, Any]]) -> list[str]:
    """Every PromQL expression: panel targets, variable queries' inner selectors, alert rule queries."""
    found = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    for variable in dashboard["templating"]["list"]:
        match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", variable["query"])
        assert match, f"variable {variable['name']}: unexpected query {variable['query']!r}"
        found.append(match.group(1))
    found += [query["model"]["expr"] for rule in alert_rules for query in prometheus_queries(rule)]
    return found


def parse(expr: str) -> promql_parser.Expr:
    for variable, value in sorted(SUBSTITUTIONS.items(), key=lambda item: -len(item[0])):
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"unsubstituted variable in {expr!r}"
    return promql_parser.parse(expr)


def test_every_grafana_file_parses():
    files = sorted(GRAFANA.rglob("*.json")) + sorted(GRAFANA.rglob("*.yml")) + sorted(GRAFANA.rglob("*.yaml"))
    assert {PROVISIONED, IMPORTABLE, ALERTING, DATASOURCES, PROVIDERS} <= set(files)
    for path in files:
        loaded = json.loads(path.read_text(encoding="utf-8")) if path.suffix == ".json" else yaml.safe_load(path.read_text(encoding="utf-8"))
        assert isinstance(loaded, dict) and loaded, path


def test_committed_dashboards_equal_the_generator_output():
    builder = load_script("build_dashboard")
    for path, text in builder.outputs().items():
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run scripts/build_dashboard.py"


def test_provisioned_dashboard_names_the_provisioned_datasource(dashboard, datasource_uid):
    text = PROVISIONED.read_text(encoding="utf-8")
    assert "${DS_" not in text and "__inputs" not in text
    refs = [ref for ref in datasource_refs(dashboard) if ref.get("type") != "grafana"]
    panels_and_targets = len(dashboard["panels"]) + sum(len(panel["targets"]) for panel in dashboard["panels"])
    assert len(refs) >= panels_and_targets
    assert all(ref == {"type": "prometheus", "uid": datasource_uid} for ref in refs)
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == datasource_uid
        assert all(target["datasource"]["uid"] == datasource_uid for target in panel["targets"])


def test_import_copy_differs_only_by_the_datasource_input(dashboard, datasource_uid):
    importable = json.loads(IMPORTABLE.read_text(encoding="utf-8"))
    assert [item["name"] for item in importable.pop("__inputs")] == ["DS_PROMETHEUS"]
    importable.pop("__requires")
    restored = json.loads(json.dumps(importable).replace("${DS_PROMETHEUS}", datasource_uid))
    assert restored == dashboard


def test_only_provisionable_dashboards_in_the_provisioned_folder():
    # The provider loads every JSON there; the import copy (same uid) would clash with it.
    assert [path.name for path in PROVISIONED.parent.glob("*.json")] == [PROVISIONED.name]


def test_panels_use_current_types_and_fit_the_grid(dashboard):
    assert dashboard["schemaVersion"] >= 39
    panels = dashboard["panels"]
    assert {panel["type"] for panel in panels} <= PANEL_TYPES
    assert len({panel["id"] for panel in panels}) == len(panels)
    boxes = []
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["y"] >= 0 and pos["w"] > 0 and pos["h"] > 0, panel["title"]
        assert pos["x"] + pos["w"] <= 24, f"{panel['title']} is wider than the 24-column grid"
        boxes.append((panel["title"], pos["x"], pos["y"], pos["x"] + pos["w"], pos["y"] + pos["h"]))
    for i, (name_a, ax0, ay0, ax1, ay1) in enumerate(boxes):
        for name_b, bx0, by0, bx1, by1 in boxes[i + 1 :]:
            assert ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0, f"{name_a!r} overlaps {name_b!r}"


def test_template_variables(dashboard, datasource_uid):
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["run"]["query"] == "label_values(em_monitor_training_step, run)"
    assert variables["signal"]["query"] == 'label_values(em_monitor_signal_drift{run=~"$run"}, signal)'
    assert variables["signal"]["multi"] and variables["signal"]["includeAll"]
    assert all(variable["datasource"]["uid"] == datasource_uid for variable in variables.values())
    per_signal = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"] if "signal=" in target["expr"]]
    assert per_signal and all('signal=~"$signal"' in expr and 'run=~"$run"' in expr for expr in per_signal)


def test_the_dashboard_covers_every_metric_family(dashboard, exported):
    queried = {name for expr in expressions(dashboard, []) for name in selected_metrics(parse(expr))}
    families = {re.sub(r"_(bucket|sum|count|total|created)$", "", name) for name in exported}
    uncovered = {family for family in families if not any(name.startswith(family) for name in queried)}
    assert not uncovered, f"no panel shows {sorted(uncovered)}"


def test_the_parser_rejects_broken_promql():
    with pytest.raises(ValueError):
        parse('sum by (signal) (rate(em_monitor_flagged_samples_total{run=~"$run"}[$__rate_interval])')


def selected_metrics(tree: promql_parser.Expr) -> list[str]:
    names: list[str] = []
    promql_parser.walk(tree, lambda node: names.append(node.name) if isinstance(node, promql_parser.VectorSelector) else None)
    return names


def test_every_expression_parses_and_reads_exported_series(dashboard, alert_rules, exported):
    found = expressions(dashboard, alert_rules)
    assert len(found) >= len(dashboard["panels"]) + 2 + len(alert_rules)
    for expr in found:
        tree = parse(expr)
        selectors: list[promql_parser.VectorSelector] = []
        groupings: list[str] = []

        def visit(node: promql_parser.Expr) -> None:
            if isinstance(node, promql_parser.VectorSelector):
                selectors.append(node)
            elif isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
                groupings.extend(node.modifier.labels)

        promql_parser.walk(tree, visit)
        assert selectors, expr
        labels: set[str] = set()
        for selector in selectors:
            assert selector.name in exported, f"{selector.name} is not in the exporter's output ({expr})"
            matched = {matcher.name for matcher in selector.matchers.matchers}
            assert matched <= exported[selector.name], f"{selector.name} has no label {matched - exported[selector.name]} ({expr})"
            labels |= exported[selector.name]
        assert set(groupings) <= labels, f"grouping by a label the series lack: {set(groupings) - labels} ({expr})"


def test_drift_panel_draws_the_default_thresholds(dashboard, default_rules):
    toxic = default_rules["toxic_persona"]
    assert toxic["measure"] == "drift"
    (drift,) = [panel for panel in dashboard["panels"] if panel["title"] == "Signal drift"]
    defaults = drift["fieldConfig"]["defaults"]
    assert [step["value"] for step in defaults["thresholds"]["steps"][1:]] == [toxic["warn"], toxic["critical"]] == [2.0, 4.0]
    assert defaults["custom"]["thresholdsStyle"]["mode"] != "off"


def test_value_panel_draws_value_thresholds_per_signal(dashboard, default_rules):
    (value,) = [panel for panel in dashboard["panels"] if panel["title"] == "Signal value"]
    drawn = {}
    for override in value["fieldConfig"]["overrides"]:
        signal = override["matcher"]["options"].strip("^/")
        properties = {prop["id"]: prop["value"] for prop in override["properties"]}
        drawn[signal] = [step["value"] for step in properties["thresholds"]["steps"][1:]]
        assert properties["custom.thresholdsStyle"]["mode"] != "off"
    expected = {name: [rule["warn"], rule["critical"]] for name, rule in default_rules.items() if rule.get("measure") == "value"}
    assert drawn == expected == {"persona_probe": [0.6, 0.8]}


def test_alert_levels_map_to_words(dashboard):
    (levels,) = [panel for panel in dashboard["panels"] if panel["type"] == "state-timeline"]
    options = levels["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert {key: option["text"] for key, option in options.items()} == {"0": "ok", "1": "warn", "2": "critical"}


def rule_by_uid(alert_rules: list[dict[str, Any]], uid: str) -> dict[str, Any]:
    (rule,) = [rule for rule in alert_rules if rule["uid"] == uid]
    return rule


def threshold_of(rule: dict[str, Any]) -> tuple[str, float]:
    steps = {query["refId"]: query for query in rule["data"]}
    condition = steps[rule["condition"]]["model"]
    assert condition["type"] == "threshold"
    reduce = steps[condition["expression"]]["model"]
    assert reduce["type"] == "reduce" and reduce["expression"] in steps
    (evaluator,) = [item["evaluator"] for item in condition["conditions"]]
    return evaluator["type"], evaluator["params"][0]


def test_grafana_alert_thresholds_equal_the_default_config(alert_rules, default_rules):
    toxic = default_rules["toxic_persona"]
    assert threshold_of(rule_by_uid(alert_rules, "em-monitor-toxic-persona-warn")) == ("gte", toxic["warn"])
    assert threshold_of(rule_by_uid(alert_rules, "em-monitor-toxic-persona-critical")) == ("gte", toxic["critical"])
    assert threshold_of(rule_by_uid(alert_rules, "em-monitor-errors")) == ("gt", 0)
    for uid in ("em-monitor-toxic-persona-warn", "em-monitor-toxic-persona-critical"):
        (query,) = prometheus_queries(rule_by_uid(alert_rules, uid))
        assert 'signal="toxic_persona"' in query["model"]["expr"] and "em_monitor_signal_drift" in query["model"]["expr"]


def test_alert_rules_are_in_the_provisioning_format(alert_rules, datasource_uid, dashboard):
    panels = {panel["id"]: panel for panel in dashboard["panels"]}
    for rule in alert_rules:
        assert {"uid", "title", "condition", "data", "for", "noDataState", "execErrState"} <= set(rule), rule["uid"]
        assert rule["labels"]["severity"] in {"warning", "critical"}
        for query in rule["data"]:
            assert query["model"]["refId"] == query["refId"]
            assert set(query["relativeTimeRange"]) == {"from", "to"}
        queries = prometheus_queries(rule)
        assert queries and all(query["datasourceUid"] == datasource_uid for query in queries)
        assert all(query["relativeTimeRange"]["from"] > 0 for query in queries)
        # The linked panel shows the metric the rule reads.
        assert rule["dashboardUid"] == dashboard["uid"]
        panel_exprs = " ".join(target["expr"] for target in panels[rule["panelId"]]["targets"])
        assert all(name in panel_exprs for query in queries for name in selected_metrics(parse(query["model"]["expr"])))


def test_dashboard_provider_and_docs_agree_on_the_path():
    (provider,) = yaml.safe_load(PROVIDERS.read_text(encoding="utf-8"))["providers"]
    assert provider["type"] == "file"
    docs = (ROOT / "docs" / "operating.md").read_text(encoding="utf-8")
    assert f"grafana/dashboards:{provider['options']['path']}" in docs


def test_render_script_writes_a_png(tmp_path):
    out = tmp_path / "layout.png"
    started = time.perf_counter()
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "render_dashboard.py"), "--out", str(out)], capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    assert elapsed < 10, f"rendering took {elapsed:.1f} s"
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000
    assert (ROOT / "docs" / "img" / "dashboard-layout.png").read_bytes().startswith(b"\x89PNG")


def yaml_blocks(markdown: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", markdown, flags=re.DOTALL)


@pytest.mark.skipif(not (shutil.which("promtool") and shutil.which("amtool")), reason="promtool/amtool not installed (Debian: prometheus, prometheus-alertmanager)")
def test_operating_docs_configs_pass_promtool_and_amtool(tmp_path):
    blocks = yaml_blocks((ROOT / "docs" / "operating.md").read_text(encoding="utf-8"))
    prometheus = [block for block in blocks if block.startswith(("# prometheus.yml", "scrape_configs:"))]
    prometheus += ["scrape_configs:\n" + block for block in blocks if block.startswith("  - job_name:")]  # a job to add
    alertmanager = [block for block in blocks if block.startswith("# alertmanager.yml")]
    assert len(prometheus) == 3 and len(alertmanager) == 1
    for index, block in enumerate(prometheus):
        config = tmp_path / f"prometheus-{index}.yml"
        config.write_text(block.replace("grafana/prometheus/alerts.yml", str(GRAFANA / "prometheus" / "alerts.yml")))
        result = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stdout + result.stderr
    config = tmp_path / "alertmanager.yml"
    config.write_text(alertmanager[0])
    result = subprocess.run(["amtool", "check-config", str(config)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_operating_docs_name_every_panel(dashboard):
    docs = (ROOT / "docs" / "operating.md").read_text(encoding="utf-8")
    missing = [panel["title"] for panel in dashboard["panels"] if panel["title"] not in docs]
    assert not missing, f"docs/operating.md does not describe {missing}"


def test_grafana_rules_match_their_prometheus_namesakes(alert_rules):
    """Same name, severity, `for:`, expression and threshold: Alertmanager routes and the runbook fit both."""
    document = yaml.safe_load((GRAFANA / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
    prometheus = {rule["alert"]: rule for group in document["groups"] for rule in group["rules"] if "alert" in rule}
    operators = {"gte": ">=", "gt": ">"}
    for rule in alert_rules:
        namesake = prometheus[rule["title"]]
        assert namesake["labels"]["severity"] == rule["labels"]["severity"], rule["title"]
        assert namesake.get("for", "0s") == rule["for"], rule["title"]
        comparison = parse(namesake["expr"])
        (query,) = prometheus_queries(rule)
        kind, threshold = threshold_of(rule)
        assert comparison.lhs.prettify() == parse(query["model"]["expr"]).prettify(), rule["title"]
        assert (str(comparison.op), comparison.rhs.val) == (operators[kind], threshold), rule["title"]


def test_grafana_rules_link_to_runbook_sections(alert_rules):
    headings = re.findall(r"^#+ (.+)$", (ROOT / "docs" / "runbook.md").read_text(encoding="utf-8"), flags=re.MULTILINE)
    anchors = {re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-") for heading in headings}
    for rule in alert_rules:
        path, anchor = rule["annotations"]["runbook_url"].split("#")
        assert path == "docs/runbook.md" and anchor in anchors and anchor == rule["title"].lower()
