"""The Prometheus exporter: DESIGN metric names and labels, a private registry, a clean endpoint."""

import socket
import urllib.request

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from em_monitor.runtime.export import ERROR_STAGES, MonitorMetrics

KINDS = {"toxic_persona": "sae_latent", "persona_probe": "probe"}


@pytest.fixture
def metrics():
    return MonitorMetrics("r1", sources=["prompts", "train_batch"], signal_kinds=KINDS)


def test_values_drifts_and_levels(metrics):
    metrics.set_signal("toxic_persona", "prompts", value=0.7, drift=2.5)
    metrics.set_level("toxic_persona", 2)
    metrics.set_step(40)
    get = metrics.registry.get_sample_value
    assert get("em_monitor_signal_value", {"run": "r1", "signal": "toxic_persona", "kind": "sae_latent", "source": "prompts"}) == 0.7
    assert get("em_monitor_signal_drift", {"run": "r1", "signal": "toxic_persona", "source": "prompts"}) == 2.5
    assert get("em_monitor_alert_level", {"run": "r1", "signal": "toxic_persona"}) == 2
    assert get("em_monitor_alert_level", {"run": "r1", "signal": "persona_probe"}) == 0
    assert get("em_monitor_training_step", {"run": "r1"}) == 40


def test_counters_exist_at_zero_and_count(metrics):
    get = metrics.registry.get_sample_value
    for stage in ERROR_STAGES:
        assert get("em_monitor_errors_total", {"run": "r1", "stage": stage}) == 0
    assert get("em_monitor_realignments_total", {"run": "r1", "outcome": "failed"}) == 0
    assert get("em_monitor_realignment_active", {"run": "r1"}) == 0
    for action in ("log", "checkpoint", "stop", "realign"):
        assert get("em_monitor_actions_total", {"run": "r1", "action": action}) == 0
    metrics.observe_pass("prompts", 0.2)
    metrics.count_flagged("toxic_persona", 3)
    metrics.count_error("score")
    metrics.count_action("stop")
    assert get("em_monitor_samples_total", {"run": "r1", "source": "prompts"}) == 1
    assert get("em_monitor_sample_duration_seconds_count", {"run": "r1", "source": "prompts"}) == 1
    assert get("em_monitor_flagged_samples_total", {"run": "r1", "signal": "toxic_persona"}) == 3
    assert get("em_monitor_errors_total", {"run": "r1", "stage": "score"}) == 1
    assert get("em_monitor_actions_total", {"run": "r1", "action": "stop"}) == 1


def test_counts_round_trip_through_restore(metrics):
    metrics.observe_pass("train_batch", 0.01)
    metrics.count_flagged("persona_probe", 2)
    metrics.count_action("checkpoint")
    fresh = MonitorMetrics("r1", sources=["prompts", "train_batch"], signal_kinds=KINDS)
    fresh.restore_counts(metrics.counts())
    assert fresh.counts() == metrics.counts()


def test_nothing_lands_on_the_global_registry(metrics):
    assert REGISTRY.get_sample_value("em_monitor_training_step", {"run": "r1"}) is None


def test_endpoint_serves_parseable_text_and_closes(metrics):
    metrics.set_signal("persona_probe", "train_batch", value=0.1, drift=-0.3)
    server = metrics.serve("127.0.0.1", 0)
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5).read().decode()
    finally:
        server.close()
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"em_monitor_signal_value", "em_monitor_signal_drift", "em_monitor_errors", "em_monitor_sample_duration_seconds"} <= names
    with pytest.raises(ConnectionRefusedError):  # nothing listens any more
        socket.create_connection(("127.0.0.1", server.port), timeout=5)


def test_busy_port_names_the_fix(metrics):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        with pytest.raises(OSError, match="prometheus.port"):
            metrics.serve("127.0.0.1", holder.getsockname()[1])
