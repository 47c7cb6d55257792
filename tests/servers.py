"""Start real server binaries (Prometheus, Alertmanager, Pushgateway) for integration tests.

Tests run the Debian binaries themselves instead of relying on services: each server gets a
free loopback port and a private data directory, readiness is an HTTP probe with a bounded
timeout, and the process is always stopped on the way out, even when the test fails. A server
that dies during start-up raises with the tail of its log, which is where the reason is.

Example::

    binary = require_binary("prometheus-pushgateway")
    port = free_port()
    with running([binary, f"--web.listen-address=127.0.0.1:{port}"], f"http://127.0.0.1:{port}/-/ready", log_path=tmp_path / "pgw.log"):
        ...  # talk to http://127.0.0.1:{port}
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["Server", "free_port", "require_binary", "running", "wait_http"]


def require_binary(name: str) -> str:
    """The path of an installed binary; skips the calling test, saying what to install, when absent."""
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian: apt-get install prometheus prometheus-alertmanager prometheus-pushgateway)")
    return path


def free_port() -> int:
    """A loopback port free right now (the OS picks it; the tiny window before reuse is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _log_tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


def wait_http(url: str, timeout: float, process: subprocess.Popen | None = None, log_path: Path | None = None) -> None:
    """Poll ``url`` until it answers 200; fail fast if ``process`` exits, fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: object = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode} before {url} was ready:\n{_log_tail(log_path) if log_path else ''}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
                last_error = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as error:
            last_error = error
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready after {timeout:.0f}s (last error: {last_error}):\n{_log_tail(log_path) if log_path else ''}")


@dataclass
class Server:
    """A started server: its process and the file holding its stdout and stderr."""

    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return _log_tail(self.log_path, 20000)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextmanager
def running(argv: Sequence[str], ready_url: str, *, log_path: Path, timeout: float = 30.0, cwd: Path | None = None) -> Iterator[Server]:
    """Start ``argv``, wait until ``ready_url`` answers 200, yield the server, and always stop it."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(list(argv), stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd)
    try:
        wait_http(ready_url, timeout, process, log_path)
        yield Server(process, log_path)
    finally:
        _stop(process)
