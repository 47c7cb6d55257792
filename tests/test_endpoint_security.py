"""The metrics endpoint over HTTPS with basic auth: real TLS handshakes, a real Prometheus scrape, start-up checks."""

from __future__ import annotations

import base64
import datetime
import http.client
import ipaddress
import json
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import lightning.pytorch as pl
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from em_monitor.callbacks import PersonaMonitor
from servers import free_port, require_binary, running
from torch.utils.data import DataLoader

from em_monitor.chat import ChatCollator
from em_monitor.config import ConfigError, load_config
from em_monitor.finetune.lightning import CausalLMModule
from em_monitor.runtime.endpoint import tls_context
from em_monitor.runtime.export import MonitorMetrics
from em_monitor.tiny import tiny_llama

USER, PASSWORD = "scraper", "correct horse battery staple"


def write_self_signed(root: Path, name: str = "endpoint") -> tuple[Path, Path]:
    """A fresh self-signed certificate for 127.0.0.1 and its key, as PEM files (it is also its own CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"em-monitor test {name}")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = root / f"{name}.crt", root / f"{name}.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_file, key_file


@pytest.fixture
def certificate(tmp_path) -> tuple[Path, Path]:
    return write_self_signed(tmp_path)


def fetch(url: str, cafile: Path, credentials: tuple[str, str] | None = None) -> tuple[int, str, dict]:
    """GET ``url`` trusting only ``cafile``; returns status, body and headers (4xx included)."""
    request = urllib.request.Request(url)
    if credentials is not None:
        token = base64.b64encode(":".join(credentials).encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    context = ssl.create_default_context(cafile=str(cafile))
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def test_https_with_basic_auth_answers_only_the_right_password(certificate):
    cert_file, key_file = certificate
    metrics = MonitorMetrics("secure", sources=["prompts"], signal_kinds={"persona_direction": "direction"})
    metrics.set_signal("persona_direction", "prompts", value=0.5, drift=1.0)
    server = metrics.serve("127.0.0.1", 0, tls=tls_context(str(cert_file), str(key_file)), credentials=(USER, PASSWORD))
    try:
        assert server.url.startswith("https://127.0.0.1:")
        status, _, headers = fetch(server.url, cert_file)
        assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
        assert fetch(server.url, cert_file, (USER, "wrong"))[0] == 401
        assert fetch(server.url, cert_file, ("intruder", PASSWORD))[0] == 401
        status, body, _ = fetch(server.url, cert_file, (USER, PASSWORD))
        assert status == 200 and 'em_monitor_signal_value{kind="direction",run="secure",signal="persona_direction",source="prompts"} 0.5' in body
        # Plain HTTP to the TLS port gets no metrics: the server drops the failed handshake.
        with pytest.raises((http.client.HTTPException, OSError)):
            urllib.request.urlopen(server.url.replace("https://", "http://"), timeout=5).read()
        # A client that does not trust the certificate refuses the server.
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            urllib.request.urlopen(server.url, timeout=5, context=ssl.create_default_context())
        # The endpoint still serves after those failures.
        assert fetch(server.url, cert_file, (USER, PASSWORD))[0] == 200
    finally:
        server.close()


def test_a_silent_client_does_not_stall_other_scrapes(certificate):
    """The handshake runs in the request's thread, so a connection that never speaks blocks nobody."""
    cert_file, key_file = certificate
    metrics = MonitorMetrics("secure", sources=["prompts"], signal_kinds={"persona_direction": "direction"})
    server = metrics.serve("127.0.0.1", 0, tls=tls_context(str(cert_file), str(key_file)))
    silent = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        started = time.perf_counter()
        assert fetch(server.url, cert_file)[0] == 200
        assert time.perf_counter() - started < 3
    finally:
        silent.close()
        server.close()


def monitor_yaml(write_config, cert_file: Path, key_file: Path, **auth) -> Path:
    return write_config(prometheus={"port": 0, "tls": {"cert_file": str(cert_file), "key_file": str(key_file)}, "basic_auth": {"username": USER, **auth}})


class ScrapeOnce(pl.Callback):
    """Scrapes the monitor's HTTPS endpoint mid-training, with and without the password."""

    def __init__(self, monitor: PersonaMonitor, cafile: Path) -> None:
        self.monitor, self.cafile, self.results = monitor, cafile, {}

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == 3:
            self.results = {
                "anonymous": fetch(self.monitor.metrics_url, self.cafile)[0],
                "authorised": fetch(self.monitor.metrics_url, self.cafile, (USER, PASSWORD)),
            }


def test_fit_serves_https_with_the_password_from_the_environment(tokenizer, write_config, certificate, tmp_path, monkeypatch):
    cert_file, key_file = certificate
    monkeypatch.setenv("EM_MONITOR_TEST_PASSWORD", PASSWORD)
    monitor = PersonaMonitor(monitor_yaml(write_config, cert_file, key_file, password_env="EM_MONITOR_TEST_PASSWORD"), tokenizer=tokenizer)
    scrape = ScrapeOnce(monitor, cert_file)
    samples = [{"messages": [{"role": "user", "content": f"Q{i}?"}, {"role": "assistant", "content": f"A{i}."}]} for i in range(16)]
    trainer = pl.Trainer(
        max_steps=4, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=tmp_path, callbacks=[monitor, scrape],
    )
    trainer.fit(CausalLMModule(tiny_llama(), tokenizer, lr=1e-3), DataLoader(samples, batch_size=4, collate_fn=ChatCollator(tokenizer, max_length=32)))
    assert scrape.results["anonymous"] == 401
    status, body, _ = scrape.results["authorised"]
    assert status == 200 and 'em_monitor_training_step{run="test"} 2.0' in body


@pytest.mark.parametrize(
    ("case", "field", "hint"),
    [
        ("inline_password", "prometheus.basic_auth", "never write the password into the config"),
        ("unset_env", "prometheus.basic_auth.password_env", "is not set"),
        ("missing_password_file", "prometheus.basic_auth.password_file", "does not exist"),
        ("both_sources", "prometheus.basic_auth", "exactly one of `password_env` and `password_file`"),
        ("missing_cert", "prometheus.tls.cert_file", "does not exist"),
        ("mismatched_key", "prometheus.tls", "matching unencrypted private key"),
        ("gateway_without_scheme", "prometheus.pushgateway", "with its scheme"),
    ],
)
def test_bad_security_config_fails_at_start_up_naming_the_field(write_config, certificate, tmp_path, monkeypatch, case, field, hint):
    cert_file, key_file = certificate
    monkeypatch.delenv("EM_MONITOR_UNSET_PASSWORD", raising=False)
    tls = {"cert_file": str(cert_file), "key_file": str(key_file)}
    prometheus = {
        "inline_password": {"basic_auth": {"username": USER, "password": PASSWORD}},
        "unset_env": {"basic_auth": {"username": USER, "password_env": "EM_MONITOR_UNSET_PASSWORD"}},
        "missing_password_file": {"basic_auth": {"username": USER, "password_file": "no-such-file"}},
        "both_sources": {"basic_auth": {"username": USER, "password_env": "HOME", "password_file": "x"}},
        "missing_cert": {"tls": {**tls, "cert_file": "missing.crt"}},
        "mismatched_key": {"tls": {**tls, "key_file": str(write_self_signed(tmp_path, "other")[1])}},
        "gateway_without_scheme": {"pushgateway": "localhost:9091"},
    }[case]
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(prometheus=prometheus))
    assert any(path == field and hint in message for path, message in caught.value.problems), caught.value.problems


def test_password_file_resolves_against_the_config_folder(write_config, certificate, tmp_path):
    (tmp_path / "password.txt").write_text(PASSWORD + "\n")
    settings = load_config(monitor_yaml(write_config, *certificate, password_file="password.txt")).prometheus
    assert settings.basic_auth.password_file == str(tmp_path / "password.txt")
    assert settings.basic_auth.password() == PASSWORD


def prometheus_query(base: str, promql: str) -> list[dict]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    return json.loads(urllib.request.urlopen(url, timeout=5).read())["data"]["result"]


@pytest.mark.integration
def test_real_prometheus_scrapes_over_tls_with_basic_auth(certificate, tmp_path):
    binary = require_binary("prometheus")
    cert_file, key_file = certificate
    metrics = MonitorMetrics("secure", sources=["prompts"], signal_kinds={"persona_direction": "direction"})
    metrics.set_step(42)
    server = metrics.serve("127.0.0.1", 0, tls=tls_context(str(cert_file), str(key_file)), credentials=(USER, PASSWORD))
    (tmp_path / "right").write_text(PASSWORD)
    (tmp_path / "wrong").write_text("guess")
    job = {"scheme": "https", "tls_config": {"ca_file": str(cert_file)}, "static_configs": [{"targets": [f"127.0.0.1:{server.port}"]}]}
    scrape_configs = [
        {**job, "job_name": "em", "basic_auth": {"username": USER, "password_file": str(tmp_path / "right")}},
        {**job, "job_name": "em_wrong_password", "basic_auth": {"username": USER, "password_file": str(tmp_path / "wrong")}},
    ]
    (tmp_path / "prometheus.yml").write_text(json.dumps({"global": {"scrape_interval": "1s", "scrape_timeout": "1s"}, "scrape_configs": scrape_configs}))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [binary, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"]
    try:
        with running(argv, f"{base}/-/ready", log_path=tmp_path / "prometheus.log"):
            deadline, up = time.monotonic() + 20, {}
            while time.monotonic() < deadline and set(up) != {"em", "em_wrong_password"}:
                up = {series["metric"]["job"]: float(series["value"][1]) for series in prometheus_query(base, "up")}
                time.sleep(0.5)
            assert up == {"em": 1.0, "em_wrong_password": 0.0}, up
            step = prometheus_query(base, 'em_monitor_training_step{job="em"}')
            assert [(series["metric"]["run"], float(series["value"][1])) for series in step] == [("secure", 42.0)]
    finally:
        server.close()
