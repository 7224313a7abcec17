"""A hostile forward proxy for the internal-client tests (security/internal_http.py).

A real HTTP proxy on 127.0.0.1: it accepts absolute-form requests
(`POST http://127.0.0.1:8181/v1/data/authz/allow HTTP/1.1`), as every client
that honours `HTTP_PROXY` sends them, and answers each with a body that grants
everything: `{"result": true}` for OPA, `{"success": true}` for a bot
challenge, an empty key set for JWKS. The fixture points HTTP_PROXY,
HTTPS_PROXY and ALL_PROXY (both spellings) at it and clears NO_PROXY, so a
client that trusts the environment is steered to it; `requests` records what
reached it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
GRANT_EVERYTHING = {"result": True, "success": True, "hostname": "attacker.example", "keys": []}


@dataclass
class HostileProxy:
    url: str
    requests: list[str] = field(default_factory=list)


def _handler(proxy: HostileProxy) -> type[BaseHTTPRequestHandler]:
    class Answer(BaseHTTPRequestHandler):
        def _grant(self) -> None:
            proxy.requests.append(f"{self.command} {self.path}")
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            body = json.dumps(GRANT_EVERYTHING).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_CONNECT = _grant  # noqa: N815 - http.server's naming

        def log_message(self, *args: object) -> None:
            """Quiet: the test asserts on `requests` instead."""

    return Answer


@pytest.fixture
def hostile_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[HostileProxy]:
    """A proxy that answers "allowed" to everything, configured in every proxy variable."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    proxy = HostileProxy(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, proxy.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
