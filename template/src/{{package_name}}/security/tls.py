"""TLS 1.2+ for every outbound connection.

HTTP clients use `client_context()`: the system trust store (or a given CA
bundle), certificate and host-name verification on, anything older than
TLS 1.2 refused. Pass it as `verify=client_context()` to httpx, or use it
directly with `ssl`-aware clients. Never disable verification to "make it
work"; point `cafile` at the private CA instead.

PostgreSQL connections in production must say `sslmode=verify-full`
(`config.verifies_tls`, checked when Settings load); libpq 14+ already
refuses protocols below TLS 1.2 (`ssl_min_protocol_version` default).
"""

from __future__ import annotations

import ssl
from typing import Final

MINIMUM_VERSION: Final = ssl.TLSVersion.TLSv1_2


def client_context(cafile: str | None = None) -> ssl.SSLContext:
    """A verifying client context that refuses TLS below 1.2."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    context.minimum_version = MINIMUM_VERSION
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context
