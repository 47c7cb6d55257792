"""The shipped alert rules and Alertmanager config, end to end, on real servers and a real fit.

A tiny ``Trainer.fit`` with a planted persona shift (tests/scripts/alerting_run.py) serves its
metrics; a real Prometheus (1 s scrape and evaluation) loads ``grafana/prometheus/alerts.yml``
unchanged and sends to a real Alertmanager, whose webhook receiver is a small HTTP server in
this test. The chosen alerts need no `for:` rewrite: ``EmMonitorAlertLevelCritical`` and
``EmMonitorStoppedTraining`` have none, and the drift rule (``for: 2m``) is only expected to be
pending. The Alertmanager config is ``grafana/alertmanager/alertmanager.yml`` with three
programmatic changes, because a test cannot wait 30 s or send mail: the webhook URL points
at this test, group waits are 1 s, and the e-mail route and receiver are dropped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from servers import free_port, require_binary, running

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "grafana" / "prometheus" / "alerts.yml"
ALERTMANAGER_CONFIG = ROOT / "grafana" / "alertmanager" / "alertmanager.yml"
SCRIPT = Path(__file__).parent / "scripts" / "alerting_run.py"
#: The whole test, servers and training included, must finish within this.
BUDGET_SECONDS = 90.0


class Webhook:
    """Records the JSON bodies Alertmanager POSTs, as a real webhook receiver would get them."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        payloads = self.payloads

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                payloads.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/em-monitor"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def alerts(self) -> list[dict[str, Any]]:
        return [alert for payload in list(self.payloads) for alert in payload["alerts"]]

    @contextmanager
    def serving(self) -> Iterator[Webhook]:
        self.thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()


def alertmanager_config(webhook_url: str) -> dict[str, Any]:
    """The shipped config, made testable: our webhook, 1 s grouping, no e-mail."""
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    mail = {receiver["name"] for receiver in config["receivers"] if "email_configs" in receiver}
    config["receivers"] = [receiver for receiver in config["receivers"] if receiver["name"] not in mail]
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = webhook_url
    route = config["route"]
    route["routes"] = [child for child in route.get("routes", []) if child["receiver"] not in mail]
    route.update(group_wait="1s", group_interval="1s")
    for child in route["routes"]:  # children inherit the root's timings
        child.pop("group_wait", None)
        child.pop("group_interval", None)
    return config


def prometheus_config(metrics_port: int, alertmanager_port: int) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]},
        # The job name the health rules (EmMonitorDown) expect.
        "scrape_configs": [{"job_name": "em-monitor", "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}]}],
    }


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    return get_json(f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))["data"]["result"]


def until(check: Callable[[], Any], deadline: float, what: str, diagnose: Callable[[], str]) -> Any:
    """Poll ``check`` until it returns something truthy; fail with diagnostics at the deadline."""
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}\n{diagnose()}")


def prometheus_alerts(prometheus: str, name: str, state: str | None = None) -> list[dict[str, Any]]:
    alerts = get_json(f"{prometheus}/api/v1/alerts")["data"]["alerts"]
    return [a for a in alerts if a["labels"]["alertname"] == name and (state is None or a["state"] == state)]


def inhibited(alertmanager: str, name: str) -> bool:
    """Alertmanager holds ``name`` and reports it suppressed by an inhibit rule."""
    alerts = get_json(f"{alertmanager}/api/v2/alerts?" + urllib.parse.urlencode({"filter": f'alertname="{name}"'}))
    return bool(alerts) and all(alert["status"]["inhibitedBy"] for alert in alerts)


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


@pytest.mark.integration
def test_planted_shift_fires_the_shipped_alerts_through_alertmanager(write_config, pack_dir, tmp_path):
    prometheus_bin, alertmanager_bin = require_binary("prometheus"), require_binary("prometheus-alertmanager")
    deadline = time.monotonic() + BUDGET_SECONDS
    metrics_port, prometheus_port, alertmanager_port = free_port(), free_port(), free_port()
    prometheus, alertmanager_url = f"http://127.0.0.1:{prometheus_port}", f"http://127.0.0.1:{alertmanager_port}"
    config = write_config(
        run="alerting",
        signals={"toxic_persona": {"measure": "drift", "warn": 3.0, "critical": 6.0, "sources": ["prompts"]}},
        actions={"on_warn": ["log"], "on_critical": ["log", "stop"]},
        prometheus={"port": metrics_port},
    )
    go, release, out = tmp_path / "go", tmp_path / "release", tmp_path / "out"
    out.mkdir()

    with ExitStack() as stack:
        webhook = stack.enter_context(Webhook().serving())
        (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(alertmanager_config(webhook.url)))
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(prometheus_config(metrics_port, alertmanager_port)))
        alertmanager = stack.enter_context(running(
            [alertmanager_bin, f"--config.file={tmp_path / 'alertmanager.yml'}", f"--storage.path={tmp_path / 'am-data'}",
             f"--web.listen-address=127.0.0.1:{alertmanager_port}", "--cluster.listen-address="],
            f"{alertmanager_url}/-/ready", log_path=tmp_path / "alertmanager.log",
        ))
        prometheus_server = stack.enter_context(running(
            [prometheus_bin, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'prom-data'}",
             f"--web.listen-address=127.0.0.1:{prometheus_port}"],
            f"{prometheus}/-/ready", log_path=tmp_path / "prometheus.log",
        ))
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
        run_log = stack.enter_context(open(tmp_path / "run.log", "wb"))
        run = subprocess.Popen([sys.executable, str(SCRIPT), str(config), str(pack_dir), str(out), str(go), str(release)], stdout=run_log, stderr=subprocess.STDOUT, env=env)
        stack.callback(stop_process, run)

        def diagnose() -> str:
            tail = (tmp_path / "run.log").read_text(errors="replace")[-3000:]
            return f"--- run (exit {run.poll()}):\n{tail}\n--- prometheus:\n{prometheus_server.log()[-2000:]}\n--- alertmanager:\n{alertmanager.log()[-2000:]}"

        # Prometheus has scraped the run before its first step: every counter is there at zero.
        stop_count = 'em_monitor_actions_total{job="em-monitor", run="alerting", action="stop"}'
        until(lambda: query(prometheus, f"{stop_count} == 0"), deadline, "a scrape of the run with the stop counter at zero", diagnose)
        assert query(prometheus, 'up{job="em-monitor"} == 1')
        go.touch()

        # The planted shift drives toxic_persona critical; the monitor stops training and holds.
        until(lambda: query(prometheus, f"{stop_count} == 1"), deadline, "the stop action to be scraped", diagnose)
        drift = query(prometheus, 'em_monitor_signal_drift{run="alerting", signal="toxic_persona", source="prompts"}')
        assert float(drift[0]["value"][1]) >= 6.0, drift

        critical = until(lambda: prometheus_alerts(prometheus, "EmMonitorAlertLevelCritical", "firing"), deadline, "EmMonitorAlertLevelCritical to fire", diagnose)
        assert [(a["labels"]["run"], a["labels"]["signal"], a["labels"]["severity"]) for a in critical] == [("alerting", "toxic_persona", "critical")]
        assert critical[0]["annotations"]["runbook_url"] == "docs/runbook.md#emmonitoralertlevelcritical"
        until(lambda: prometheus_alerts(prometheus, "EmMonitorStoppedTraining", "firing"), deadline, "EmMonitorStoppedTraining to fire", diagnose)
        # The raw toxic-persona drift rule agrees, but waits out its `for: 1m`.
        drift_alerts = prometheus_alerts(prometheus, "EmMonitorToxicPersonaDriftCritical")
        assert {(a["labels"]["signal"], a["labels"]["source"], a["state"]) for a in drift_alerts} >= {("toxic_persona", "prompts", "pending")}

        def delivered() -> set[str]:
            return {a["labels"]["alertname"] for a in webhook.alerts() if a["status"] == "firing" and a["labels"].get("run") == "alerting"}

        until(lambda: {"EmMonitorAlertLevelCritical", "EmMonitorStoppedTraining"} <= delivered(), deadline, "Alertmanager to deliver both alerts to the webhook", lambda: f"webhook got {webhook.payloads}\n{diagnose()}")
        page = next(a for a in webhook.alerts() if a["labels"]["alertname"] == "EmMonitorAlertLevelCritical")
        assert page["labels"]["signal"] == "toxic_persona" and page["annotations"]["summary"] == "em-monitor raised toxic_persona to critical in run alerting"
        # The warn-level twin (level >= 1 holds at 2 too) fires in Prometheus; the shipped inhibit rule mutes it.
        assert prometheus_alerts(prometheus, "EmMonitorAlertLevelWarning", "firing")
        until(lambda: inhibited(alertmanager_url, "EmMonitorAlertLevelWarning"), deadline, "Alertmanager to inhibit the warning under the critical", diagnose)

        release.touch()
        assert run.wait(timeout=max(1.0, deadline - time.monotonic())) == 0, diagnose()
    result = json.loads((out / "result.json").read_text())
    assert result["waited"] == {"go": True, "release": True}
    assert result["global_step"] < 60 and result["levels"]["toxic_persona"] == 2
