"""Device binding for high-risk flows: a session is only fully usable with its device key.

At login the server creates a random device secret, sends it in its own
`__Host-device` cookie (HttpOnly, Secure, SameSite=Strict, Path=/) and keeps
only its SHA-256 in the server-side session. High-risk actions and the
WebAuthn step-up ceremony require the cookie to hash to the stored value.

What it addresses: a *session id on its own* that leaks -- from a log line,
a proxy or APM trace, a debugging dump, a copy of the session store (which
holds only the hash), a session-fixation or cookie-tossing attempt. Replaying
that id gets at most the low-risk reads it already could; step-up and the
actions behind it fail with `DeviceMismatchError`.

What it does NOT address: malware or an infostealer that copies the whole
browser cookie jar (both cookies travel together), script running in the
user's own browser (XSS rides the browser's cookies without reading them),
or a fully compromised device. Against those, the WebAuthn step-up is the
control that holds -- its private key never leaves the authenticator -- and
device binding only makes sure the step-up belongs to the same browser that
logged in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from types import MappingProxyType
from typing import Final, Protocol

from ..errors import DeviceMismatchError

DEVICE_COOKIE: Final = "__Host-device"
#: Attributes of the device cookie; the web adapter sets exactly these.
DEVICE_COOKIE_ATTRIBUTES: Final = MappingProxyType(
    {"httponly": True, "secure": True, "samesite": "strict", "path": "/"}
)
_SECRET_BYTES: Final = 32


class DeviceBound(Protocol):
    """Anything session-like that remembers its device key's hash."""

    @property
    def device_hash(self) -> str | None: ...


def new_device_secret() -> str:
    """256 random bits for the `__Host-device` cookie; never stored server-side."""
    return secrets.token_urlsafe(_SECRET_BYTES)


def device_hash(secret: str) -> str:
    """What the session stores: a one-way hash, so the store cannot mint device cookies."""
    return hashlib.sha256(secret.encode()).hexdigest()


def is_same_device(session: DeviceBound, presented_secret: str | None) -> bool:
    """Constant-time check of the presented cookie against the session's binding."""
    expected = session.device_hash
    if not expected or not presented_secret:
        return False
    return hmac.compare_digest(expected, device_hash(presented_secret))


def require_same_device(session: DeviceBound, presented_secret: str | None) -> None:
    """Raise DeviceMismatchError unless the request carries the device key bound at login."""
    if not is_same_device(session, presented_secret):
        raise DeviceMismatchError()
