"""Pure ASGI middleware: security headers, a request id, and the last-resort 500.

Pure ASGI (not BaseHTTPMiddleware) so headers are added to every response,
streaming bodies included, and an unexpected exception becomes a JSON 500
that carries them too instead of Starlette's plain-text page.
"""

from __future__ import annotations

import secrets
import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..security.headers import ROUTE_OVERRIDABLE, SECURITY_HEADERS
from .errors import INTERNAL_ERROR_BODY

log = structlog.get_logger("http")


class SecurityHeadersMiddleware:
    """Adds `SECURITY_HEADERS` (a route's own CSP wins) and `x-request-id`, and logs one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._headers = [(name.encode(), value.encode()) for name, value in SECURITY_HEADERS]
        self._overridable = {name.encode() for name in ROUTE_OVERRIDABLE}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        started = time.perf_counter()
        status = 500
        started_response = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                started_response = True
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"server"]
                own = {k.lower() for k, _ in headers} & self._overridable
                headers.extend((k, v) for k, v in self._headers if k not in own)
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_headers)
            except Exception:
                log.exception("unhandled_error", path=scope["path"])
                if started_response:
                    raise  # too late to answer cleanly; the server closes the connection
                await send_with_headers(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": INTERNAL_ERROR_BODY})
            finally:
                log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                )
