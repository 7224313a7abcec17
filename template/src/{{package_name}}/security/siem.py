"""Stream the audit outbox to a SIEM: at-least-once, in order, nothing lost while the sink is down.

`AuditLog.append` writes each event (and each alert) to `siem_outbox` in the
transaction of the change. `forward_once` sends the oldest undelivered rows
as one batch and, only after the sink accepted it, records them in
`siem_deliveries` (an insert: the app role cannot update or delete outbox
rows). A sink that is down leaves the rows pending; `run_forwarder` retries
with exponential backoff and delivers them when it is back. A crash between
"accepted" and "recorded" re-sends the batch: consumers deduplicate on `id`.

One forwarder works at a time (a session advisory lock), so N replicas may
all run `audit-forward` and the batches still go out once, in order.

Every forwarder also logs the backlog once a minute (`siem_backlog`, with
`pending`), delivering or not: the deployment turns that line into a metric
and alarms when the backlog stays high or when no forwarder reports at all
(infra/.../runtime/alarms.tf), since the forwarder is deliberately not
essential to serving.

Sinks (`APP_SIEM_URL`): `https://...` POSTs JSON lines (`application/x-ndjson`,
Bearer token from the secret `siem_token` when present); `syslog+tls://host:port`
(RFC 5425) and, outside production only, `syslog+tcp://host:port` send RFC 5424
messages with octet-counting framing (RFC 6587), one JSON record each.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import httpx2
import structlog
from sqlalchemy import Engine, text

from ..errors import AppError, ConfigurationError, MissingSecretError
from .internal_http import internal_client
from .tls import client_context

log = structlog.get_logger(__name__)

FORWARDER_LOCK: Final = (0x41554454, 1)  # same namespace as the chain lock, key 1


class SinkUnavailableError(AppError):
    """The sink did not accept a batch; it stays in the outbox for the next attempt."""

    code = "siem_unavailable"


class Sink(Protocol):
    name: str

    def send(self, records: list[dict[str, Any]]) -> None:
        """Deliver all records or raise SinkUnavailableError (partial delivery is re-sent whole)."""
        ...


class HttpSink:
    """POST a batch as JSON lines; any 2xx accepts it, anything else (or no answer) is a retry."""

    def __init__(
        self, url: str, *, token: str | None = None, timeout: float = 5.0, client: httpx2.Client | None = None
    ) -> None:
        self.name = f"http:{urlsplit(url).hostname}"
        self.url = url
        self._headers = {"Content-Type": "application/x-ndjson"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._client = client or internal_client(timeout=timeout)

    def send(self, records: list[dict[str, Any]]) -> None:
        body = "".join(json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n" for record in records)
        try:
            response = self._client.post(self.url, content=body.encode(), headers=self._headers)
        except httpx2.HTTPError as error:
            raise SinkUnavailableError(f"{self.name}: {type(error).__name__}") from None
        if not 200 <= response.status_code < 300:
            raise SinkUnavailableError(f"{self.name}: HTTP {response.status_code}")

    def close(self) -> None:
        self._client.close()


class SyslogTcpSink:
    """RFC 5424 over TCP, octet-counted; facility auth (10), severity notice/alert.

    With `tls` (`syslog+tls://`, RFC 5425) the connection is wrapped in a verifying TLS 1.2+
    context before a byte of an event is sent; a failed handshake is a retry, never plain text.
    """

    def __init__(
        self, host: str, port: int, *, app_name: str, timeout: float = 5.0, tls: ssl.SSLContext | None = None
    ) -> None:
        self.name = f"syslog{'+tls' if tls else ''}:{host}:{port}"
        self.address = (host, port)
        self.app_name = app_name[:48] or "app"
        self.timeout = timeout
        self.tls = tls

    def _frame(self, record: dict[str, Any]) -> bytes:
        severity = 1 if record.get("type") == "alert" else 5
        priority = 10 * 8 + severity
        timestamp = datetime.now(UTC).isoformat(timespec="microseconds")
        message = json.dumps(record, sort_keys=True, separators=(",", ":"))
        host, kind = socket.gethostname()[:255], record.get("type", "audit")
        line = f"<{priority}>1 {timestamp} {host} {self.app_name} - {kind} - {message}"
        data = line.encode()
        return f"{len(data)} ".encode() + data

    def send(self, records: list[dict[str, Any]]) -> None:
        payload = b"".join(self._frame(record) for record in records)
        try:
            with socket.create_connection(self.address, timeout=self.timeout) as raw:
                if self.tls is None:
                    raw.sendall(payload)
                    return
                with self.tls.wrap_socket(raw, server_hostname=self.address[0]) as connection:
                    connection.sendall(payload)
        except OSError as error:  # ssl.SSLError included: an unverified server gets nothing
            raise SinkUnavailableError(f"{self.name}: {type(error).__name__}") from None


def build_sink(url: str | None, *, token: Callable[[], str | None], app_name: str) -> Sink:
    """The sink named by `APP_SIEM_URL` (validated by Settings)."""
    if not url:
        raise ConfigurationError("APP_SIEM_URL is not set; audit-forward has nowhere to deliver")
    parts = urlsplit(url)
    if parts.scheme in ("syslog+tcp", "syslog+tls"):
        if not parts.hostname or not parts.port:
            raise ConfigurationError(f"APP_SIEM_URL={parts.scheme}://host:port needs a host and a port")
        tls = client_context() if parts.scheme == "syslog+tls" else None
        return SyslogTcpSink(parts.hostname, parts.port, app_name=app_name, tls=tls)
    return HttpSink(url, token=token())


def secret_token(get: Callable[[str], str]) -> Callable[[], str | None]:
    """The optional `siem_token` secret: absent means the sink needs no token."""

    def read() -> str | None:
        try:
            return get("siem_token")
        except MissingSecretError:
            return None

    return read


@dataclass(frozen=True, slots=True)
class ForwardResult:
    delivered: int
    pending: int
    #: False when another forwarder held the lock (this one did nothing).
    ran: bool = True


_PENDING = text(
    """
    SELECT o.position, o.payload FROM siem_outbox o
     WHERE NOT EXISTS (SELECT 1 FROM siem_deliveries d WHERE d.position = o.position)
     ORDER BY o.position LIMIT :limit
    """
)
_COUNT_PENDING = text(
    "SELECT count(*) FROM siem_outbox o "
    "WHERE NOT EXISTS (SELECT 1 FROM siem_deliveries d WHERE d.position = o.position)"
)
_LOCK = {"a": FORWARDER_LOCK[0], "b": FORWARDER_LOCK[1]}


def pending_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(_COUNT_PENDING).scalar_one())


def forward_once(engine: Engine, sink: Sink, *, batch_size: int = 200, max_batches: int = 50) -> ForwardResult:
    """Deliver pending outbox rows in order until none is left (or `max_batches`).

    Raises SinkUnavailableError after recording whatever was delivered before the failure.
    """
    delivered = 0
    with engine.connect() as connection:
        if not connection.execute(text("SELECT pg_try_advisory_lock(:a, :b)"), _LOCK).scalar():
            connection.rollback()
            return ForwardResult(delivered=0, pending=-1, ran=False)
        connection.commit()
        try:
            for _ in range(max_batches):
                rows = connection.execute(_PENDING, {"limit": batch_size}).all()
                connection.commit()
                if not rows:
                    break
                sink.send([row.payload for row in rows])
                connection.execute(
                    text("INSERT INTO siem_deliveries (position, sink) VALUES (:position, :sink)"),
                    [{"position": row.position, "sink": sink.name} for row in rows],
                )
                connection.commit()
                delivered += len(rows)
            pending = int(connection.execute(_COUNT_PENDING).scalar_one())
            connection.commit()
        finally:
            connection.rollback()
            connection.execute(text("SELECT pg_advisory_unlock(:a, :b)"), _LOCK)
            connection.commit()
    return ForwardResult(delivered=delivered, pending=pending)


def run_forwarder(
    engine: Engine,
    sink: Sink,
    *,
    stop: threading.Event,
    interval: float = 2.0,
    max_backoff: float = 60.0,
    report_every: float = 60.0,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Forward until `stop` is set; back off exponentially (up to `max_backoff`) while the sink is down.

    Logs `siem_backlog` every `report_every` seconds, above all while the sink is down, when the
    backlog grows: that line is what the deployment's backlog alarm watches.
    """
    backoff = interval
    next_report = clock()
    while not stop.is_set():
        if clock() >= next_report:
            log.info("siem_backlog", pending=pending_count(engine))
            next_report = clock() + report_every
        try:
            result = forward_once(engine, sink)
        except SinkUnavailableError as error:
            log.warning("siem_sink_unavailable", error=str(error), retry_in=backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, max_backoff)
            continue
        if result.delivered:
            log.info("siem_forwarded", delivered=result.delivered, pending=result.pending)
        backoff = interval
        stop.wait(interval)
