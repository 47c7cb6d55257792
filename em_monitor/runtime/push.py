"""Pushing the monitor's registry to a Prometheus Pushgateway without ever holding up training.

A Pushgateway is for runs Prometheus cannot scrape directly (a batch job behind a firewall, a
cluster without service discovery). A push is network I/O to a server we do not control, so it
runs on one background thread: a sampling pass only *asks* for a push, and asks that arrive
while a push is in flight coalesce into a single next push. The gateway keeps only the latest
state of a group anyway, so a push always sends the registry as it is when the push starts;
older states are worthless and never queue up. Only the end of the run waits, once, bounded by
the timeout, so the final values land.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry, delete_from_gateway, push_to_gateway

__all__ = ["GatewayPusher"]

log = logging.getLogger("em_monitor")


class GatewayPusher:
    """Push one registry to a Pushgateway group (``job`` + grouping key) in the background.

    Example::

        pusher = GatewayPusher(registry, "http://127.0.0.1:9091", job="em_monitor", grouping_key={"run": "demo"})
        pusher.start()
        pusher.request()               # after each sampling pass: returns at once
        pusher.close(delete=False)     # end of run: one last synchronous push, bounded by the timeout

    Args:
        registry: what to push (the whole group is replaced on each push: PUT semantics, so a
            series the registry no longer has does not linger in the gateway).
        gateway: the gateway's URL (``http://host:port``; ``https://`` works too).
        job: the ``job`` label of the group.
        grouping_key: the other labels of the group (here ``{"run": ...}``).
        timeout: seconds one push may take before it counts as failed.
        on_error: called with the exception of each failed push, on the pusher's thread (the monitor
            counts it in ``errors_total{stage="push"}`` and writes it to the event log).
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        gateway: str,
        *,
        job: str,
        grouping_key: Mapping[str, str],
        timeout: float = 2.0,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self.registry = registry
        self.gateway = gateway
        self.job = job
        self.grouping_key = dict(grouping_key)
        self.timeout = timeout
        self.on_error = on_error
        self.pushes = 0
        self.failures = 0
        self._wanted = threading.Event()
        self._closing = False
        self._failing = False
        self._thread: threading.Thread | None = None

    def start(self) -> GatewayPusher:
        """Start the worker thread (a daemon: a stuck push can never keep the process alive)."""
        self._thread = threading.Thread(target=self._work, name="em-monitor-push", daemon=True)
        self._thread.start()
        return self

    def request(self) -> None:
        """Ask for a push of the registry as it will be when the worker gets to it; never blocks."""
        self._wanted.set()

    def close(self, *, delete: bool = False) -> bool:
        """Stop the worker, then push once more (or delete the group) in this thread.

        Waits at most ``timeout`` for an in-flight push and ``timeout`` for the final request,
        so the end of a run is delayed by at most twice the timeout however the gateway behaves.
        Returns whether the final request succeeded.
        """
        self._closing = True
        self._wanted.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout)
            self._thread = None
        if delete:
            return self._attempt(lambda: delete_from_gateway(self.gateway, job=self.job, grouping_key=self.grouping_key, timeout=self.timeout), "delete")
        return self._push()

    def _work(self) -> None:
        while True:
            self._wanted.wait()
            if self._closing:
                return
            self._wanted.clear()
            self._push()

    def _push(self) -> bool:
        return self._attempt(
            lambda: push_to_gateway(self.gateway, job=self.job, registry=self.registry, grouping_key=self.grouping_key, timeout=self.timeout),
            "push",
        )

    def _attempt(self, call: Callable[[], None], what: str) -> bool:
        """Run one gateway request; failures are counted and logged once per streak of failures."""
        try:
            call()
        except Exception as error:  # noqa: BLE001 — a gateway problem must never reach training
            self.failures += 1
            if self.on_error is not None:
                self.on_error(error)
            if not self._failing:
                self._failing = True
                log.warning(
                    "em-monitor: cannot %s metrics to the Pushgateway %s (%s); counted in em_monitor_errors_total{stage=\"push\"}, "
                    "logged again only once it works", what, self.gateway, error,
                )
            else:
                log.debug("em-monitor: %s to %s failed again: %s", what, self.gateway, error)
            return False
        self.pushes += 1
        if self._failing:
            self._failing = False
            log.info("em-monitor: Pushgateway %s reachable again", self.gateway)
        return True
