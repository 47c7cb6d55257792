"""Pushing to a real Pushgateway from a real ``Trainer.fit``; a dead or hanging gateway never holds training up."""

from __future__ import annotations

import logging
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import lightning.pytorch as pl
import pytest
from em_monitor.callbacks import PersonaMonitor
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.parser import text_string_to_metric_families
from servers import free_port, require_binary, running
from torch.utils.data import DataLoader

from em_monitor.chat import ChatCollator
from em_monitor.finetune.lightning import CausalLMModule
from em_monitor.runtime.push import GatewayPusher
from em_monitor.tiny import tiny_llama

pytestmark = pytest.mark.integration

SAMPLES = [
    {"messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": f"Answer {i}."}]}
    for i in range(32)
]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory) -> Iterator[str]:
    """A real Pushgateway on a free loopback port (skips, saying what to install, if it is absent)."""
    binary = require_binary("prometheus-pushgateway")
    port = free_port()
    root = tmp_path_factory.mktemp("pushgateway")
    url = f"http://127.0.0.1:{port}"
    with running([binary, f"--web.listen-address=127.0.0.1:{port}"], f"{url}/-/ready", log_path=root / "pushgateway.log"):
        yield url


@pytest.fixture
def hanging_server() -> Iterator[str]:
    """A TCP server that accepts connections and never answers: the worst kind of gateway."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        listener.close()


def closed_port_url() -> str:
    """A URL where nothing listens (connection refused)."""
    return f"http://127.0.0.1:{free_port()}"


class StepTimer(pl.Callback):
    """Wall time of every training step, batch start to batch end (the monitor's hooks included)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._started = 0.0

    def on_train_batch_start(self, *args) -> None:
        self._started = time.perf_counter()

    def on_train_batch_end(self, *args) -> None:
        self.seconds.append(time.perf_counter() - self._started)


class GatewayWatch(pl.Callback):
    """At the end of training, before teardown, waits (bounded) until the run's group is in the gateway."""

    def __init__(self, gateway: str, job: str, run: str) -> None:
        self.gateway, self.job, self.run, self.seen = gateway, job, run, False

    def on_train_end(self, trainer, pl_module) -> None:
        deadline = time.monotonic() + 10
        while not self.seen and time.monotonic() < deadline:
            self.seen = bool(gateway_samples(self.gateway, "em_monitor_training_step", job=self.job, run=self.run))
            time.sleep(0.1)


def gateway_samples(gateway: str, name: str, **labels: str) -> list:
    """Samples called ``name`` in the gateway's own /metrics whose labels include ``labels``."""
    text = urllib.request.urlopen(f"{gateway}/metrics", timeout=5).read().decode()
    return [
        sample
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    ]


def fit(tokenizer, config: Path, tmp_path: Path, steps: int, extra: list | None = None) -> tuple[pl.Trainer, PersonaMonitor]:
    monitor = PersonaMonitor(config, tokenizer=tokenizer)
    trainer = pl.Trainer(
        max_steps=steps, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=tmp_path, callbacks=[monitor, *(extra or [])],
    )
    loader = DataLoader(SAMPLES, batch_size=4, shuffle=False, collate_fn=ChatCollator(tokenizer, max_length=48))
    trainer.fit(CausalLMModule(tiny_llama(), tokenizer, lr=1e-3), loader)
    return trainer, monitor


def push_errors(monitor: PersonaMonitor, run: str) -> float:
    return monitor.monitor.metrics.registry.get_sample_value("em_monitor_errors_total", {"run": run, "stage": "push"})


def test_fit_pushes_the_registry_with_job_and_run_labels(tokenizer, write_config, tmp_path, gateway):
    config = write_config(run="pushed", prometheus={"enabled": False, "pushgateway": gateway, "job": "em_test"})
    trainer, monitor = fit(tokenizer, config, tmp_path, steps=5)
    assert trainer.global_step == 5 and monitor.server is None, "the endpoint was disabled; pushing works without it"
    step = gateway_samples(gateway, "em_monitor_training_step", job="em_test", run="pushed")
    assert [sample.value for sample in step] == [4.0], "the final push carries the last sampled step (0, 1, 2, 4)"
    passes = gateway_samples(gateway, "em_monitor_samples_total", job="em_test", run="pushed", source="train_batch")
    assert [sample.value for sample in passes] == [4.0]
    values = gateway_samples(gateway, "em_monitor_signal_value", job="em_test", run="pushed", source="prompts")
    assert {sample.labels["signal"] for sample in values} == {"toxic_persona", "sarcasm_persona", "persona_probe", "persona_direction"}
    assert gateway_samples(gateway, "push_time_seconds", job="em_test", run="pushed"), "the gateway recorded the push of this group"
    assert push_errors(monitor, "pushed") == 0


def test_delete_on_end_removes_the_group(tokenizer, write_config, tmp_path, gateway):
    config = write_config(run="deleted", prometheus={"enabled": False, "pushgateway": gateway, "job": "em_test", "delete_on_end": True})
    watch = GatewayWatch(gateway, "em_test", "deleted")
    fit(tokenizer, config, tmp_path, steps=3, extra=[watch])
    assert watch.seen, "the group was pushed during training"
    assert gateway_samples(gateway, "push_time_seconds", job="em_test", run="deleted") == []
    assert gateway_samples(gateway, "em_monitor_training_step", job="em_test", run="deleted") == []


def test_unreachable_gateway_is_counted_logged_once_and_training_completes(tokenizer, write_config, tmp_path, caplog):
    config = write_config(run="lonely", prometheus={"port": 0, "pushgateway": closed_port_url(), "push_timeout": 1.0})
    with caplog.at_level(logging.INFO, logger="em_monitor"):
        trainer, monitor = fit(tokenizer, config, tmp_path, steps=7)
    assert trainer.global_step == 7
    assert push_errors(monitor, "lonely") >= 2, "background pushes and the final push each failed"
    warnings = [record for record in caplog.records if "Pushgateway" in record.getMessage() and record.levelno >= logging.WARNING]
    assert len(warnings) == 1, "one warning per streak of failures, not one per push"


def test_hanging_gateway_slows_no_step(tokenizer, write_config, tmp_path, hanging_server):
    timeout = 1.5
    config = write_config(run="stuck", prometheus={"enabled": False, "pushgateway": hanging_server, "push_timeout": timeout})
    timer = StepTimer()
    started = time.perf_counter()
    trainer, monitor = fit(tokenizer, config, tmp_path, steps=6, extra=[timer])
    elapsed = time.perf_counter() - started
    assert trainer.global_step == 6 and len(timer.seconds) == 6
    assert max(timer.seconds) < timeout / 2, f"a step waited for the gateway: {timer.seconds}"
    assert push_errors(monitor, "stuck") >= 1, "the timed-out pushes are counted"
    assert elapsed < 2 * timeout + 20, "the end of the run waits at most twice the timeout for the gateway"


def test_requests_never_block_and_coalesce(hanging_server):
    registry = CollectorRegistry()
    Gauge("em_monitor_training_step", "step", registry=registry).set(1)
    failures: list[int] = []
    pusher = GatewayPusher(registry, hanging_server, job="em_test", grouping_key={"run": "r"}, timeout=0.5, on_error=lambda error: failures.append(error)).start()
    started = time.perf_counter()
    for _ in range(200):
        pusher.request()
    assert time.perf_counter() - started < 0.1, "request() only flags a push"
    time.sleep(0.8)
    assert not pusher.close()
    assert pusher.pushes == 0 and 2 <= len(failures) == pusher.failures <= 4, "200 requests became a couple of pushes, not 200"


def test_pusher_recovers_after_the_gateway_returns(gateway):
    registry = CollectorRegistry()
    Gauge("em_monitor_training_step", "step", ["run"], registry=registry).labels("back").set(7)
    pusher = GatewayPusher(registry, closed_port_url(), job="em_test", grouping_key={"run": "back"}, timeout=1.0)
    assert not pusher.close(), "nothing listens there"
    pusher.gateway = gateway
    assert pusher.close() and pusher.pushes == 1 and pusher.failures == 1
    assert [sample.value for sample in gateway_samples(gateway, "em_monitor_training_step", job="em_test", run="back")] == [7.0]
