"""The metrics HTTP endpoint: prometheus_client's WSGI app, optionally behind TLS and basic auth.

prometheus_client's ``start_http_server`` can do TLS but has no hook for authentication, so the
endpoint is assembled here from the library's own parts (``make_wsgi_app`` and its threading WSGI
server) with a small basic-auth layer in front. Two details differ from the library on purpose:

* the TLS handshake runs in the request's thread, under the handler's timeout, not in the accept
  loop, so one client that connects and stays silent cannot stall every scrape;
* connection errors (a plain-HTTP client on the TLS port, a failed handshake) are logged at debug
  level instead of printing a traceback per attempt on the training job's stderr.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

__all__ = ["basic_auth_app", "start_endpoint", "tls_context"]

log = logging.getLogger("em_monitor")

#: Seconds a connection may sit idle (handshake or request) before its thread gives up on it.
CONNECTION_TIMEOUT = 10.0

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


class _QuietHandler(WSGIRequestHandler):
    """One request per connection; no access log (a scrape every few seconds would flood stderr)."""

    timeout = CONNECTION_TIMEOUT

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 — the base class's name
        pass


def _server_class(addr: str, port: int) -> type[ThreadingWSGIServer]:
    """A server class bound to the address family of ``addr`` (an IPv6 literal needs AF_INET6)."""
    family = socket.getaddrinfo(addr, port, type=socket.SOCK_STREAM)[0][0]

    class Server(ThreadingWSGIServer):
        address_family = family

        def handle_error(self, request: object, client_address: tuple) -> None:
            log.debug("em-monitor endpoint: connection from %s failed", client_address, exc_info=True)

    return Server


def tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A server-side TLS context (TLS 1.2 or newer) presenting ``cert_file``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=cert_file, keyfile=key_file)
    return context


def basic_auth_app(app: WsgiApp, username: str, password: str) -> WsgiApp:
    """Wrap a WSGI app so that only requests with these basic-auth credentials reach it.

    Both parts are compared with ``hmac.compare_digest`` (and both always compared), so the
    response time does not reveal how much of a guess was right.
    """
    expected_user, expected_password = username.encode(), password.encode()

    def authenticated(environ: dict, start_response: Callable) -> Iterable[bytes]:
        scheme, _, encoded = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        try:
            user, _, given = base64.b64decode(encoded.strip(), validate=True).partition(b":")
        except (binascii.Error, ValueError):
            user, given = b"", b""
        user_ok = hmac.compare_digest(user, expected_user)
        password_ok = hmac.compare_digest(given, expected_password)
        if scheme.lower() == "basic" and user_ok and password_ok:
            return app(environ, start_response)
        start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="em-monitor", charset="UTF-8"'), ("Content-Type", "text/plain")])
        return [b"Unauthorized\n"]

    return authenticated


def start_endpoint(
    registry: CollectorRegistry,
    addr: str,
    port: int,
    *,
    tls: ssl.SSLContext | None = None,
    credentials: tuple[str, str] | None = None,
) -> tuple[ThreadingWSGIServer, threading.Thread]:
    """Serve ``registry`` on ``addr:port`` from a daemon thread; returns the server and its thread."""
    app = make_wsgi_app(registry)
    if credentials is not None:
        app = basic_auth_app(app, *credentials)
    server = make_server(addr, port, app, _server_class(addr, port), handler_class=_QuietHandler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    thread = threading.Thread(target=server.serve_forever, name="em-monitor-metrics", daemon=True)
    thread.start()
    return server, thread
