"""Server-side sessions in Redis behind an opaque `__Host-session` cookie.

The cookie holds 256 random bits; Redis holds only their SHA-256, so a dump
of Redis yields no usable cookie. The refresh token, the one secret a session
keeps, is additionally encrypted with a key derived from the cookie value, so
the dump does not yield it either. Sessions end after `idle_timeout` without
use or `absolute_timeout` after login, whichever comes first; the injected
clock decides, Redis expiry only collects the garbage. `rotate()` issues a new
id (and CSRF token) for the same login and must be called whenever the
session's privileges change; login always creates a fresh session.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
import secrets
from dataclasses import asdict, dataclass, field, replace
from typing import cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from redis import Redis

from .clock import Clock
from .principal import Principal

SESSION_ID_BYTES = 32
_SESSION_ID_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _refresh_token_cipher(session_id: str) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"session refresh token v1")
    return AESGCM(hkdf.derive(session_id.encode("ascii")))


@dataclass
class Session:
    """One logged-in browser.

    Attributes:
        id: the cookie value; never stored, never logged.
        subject / email / tenant / roles / mfa / attributes: the Principal at login
            (roles assigned in the app are added per request, see `role_admin`).
        csrf_token: sent back by the browser as `X-CSRF-Token` on unsafe methods.
        created_at / last_seen_at: drive the absolute and idle timeouts.
        auth_time: when the user authenticated at the IdP (`auth_time` claim).
        refresh_token: the IdP's refresh token; server-side only, encrypted at rest.
        step_up_at: set by the WebAuthn step-up module (`security/webauthn.py`)
            when the user passes a step-up assertion; login leaves it empty.
        device_hash: set by the device-binding module (`security/device.py`):
            the hash of the `__Host-device` secret; login leaves it empty.

    `session_id` and `authenticated_at` alias `id` and `auth_time` so a Session
    satisfies `webauthn.StepUpSession`; the modules that fill the last two
    fields persist them with `SessionStore.save()` and call
    `SessionStore.rotate()` after a step-up (a privilege change).
    """

    id: str = field(repr=False)
    subject: str
    email: str
    tenant: str
    roles: frozenset[str]
    mfa: bool
    csrf_token: str = field(repr=False)
    created_at: float
    last_seen_at: float
    auth_time: float
    refresh_token: str | None = field(default=None, repr=False)
    step_up_at: float | None = None
    device_hash: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def session_id(self) -> str:
        return self.id

    @property
    def authenticated_at(self) -> float:
        return self.auth_time

    def principal(self) -> Principal:
        return Principal(
            subject=self.subject,
            email=self.email,
            tenant=self.tenant,
            roles=self.roles,
            mfa=self.mfa,
            attributes=dict(self.attributes),
            session_id=self.id,
        )


class SessionStore:
    """Create, load, rotate and revoke sessions; every replica sees the same state."""

    def __init__(self, redis: Redis, *, prefix: str, idle_timeout: int, absolute_timeout: int, clock: Clock) -> None:
        self.redis = redis
        self.prefix = prefix
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout
        self.clock = clock

    # ------------------------------------------------------------------ keys
    def storage_key(self, session_id: str) -> str:
        """The Redis key of a session: a hash of the id, so the key is not the cookie."""
        return f"{self.prefix}:session:{_digest(session_id)}"

    def _subject_key(self, subject: str) -> str:
        return f"{self.prefix}:session-subject:{_digest(subject)}"

    def _tenant_key(self, tenant: str) -> str:
        return f"{self.prefix}:session-tenant:{_digest(tenant)}"

    # ------------------------------------------------------------ encoding
    def _encode(self, session: Session) -> str:
        record = asdict(session)
        del record["id"]
        record["roles"] = sorted(session.roles)
        if session.refresh_token is not None:
            nonce = os.urandom(12)
            sealed = _refresh_token_cipher(session.id).encrypt(
                nonce, session.refresh_token.encode("utf-8"), self.storage_key(session.id).encode()
            )
            record["refresh_token"] = base64.b64encode(nonce + sealed).decode("ascii")
        return json.dumps(record)

    def _decode(self, session_id: str, raw: str | bytes) -> Session:
        record = json.loads(raw)
        sealed = record.pop("refresh_token", None)
        refresh_token = None
        if sealed is not None:
            blob = base64.b64decode(sealed)
            try:
                refresh_token = (
                    _refresh_token_cipher(session_id)
                    .decrypt(blob[:12], blob[12:], self.storage_key(session_id).encode())
                    .decode("utf-8")
                )
            except InvalidTag:
                refresh_token = None  # a record moved under another key cannot reveal the token
        record["roles"] = frozenset(record["roles"])
        return Session(id=session_id, refresh_token=refresh_token, **record)

    def _ttl(self, session: Session, now: float) -> int:
        remaining = min(
            session.last_seen_at + self.idle_timeout - now,
            session.created_at + self.absolute_timeout - now,
        )
        return max(1, math.ceil(remaining))

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.last_seen_at >= self.idle_timeout or now - session.created_at >= self.absolute_timeout

    # ------------------------------------------------------------- lifecycle
    def create(self, principal: Principal, *, auth_time: float | None, refresh_token: str | None) -> Session:
        """A brand-new session (new id, new CSRF token) for a completed login."""
        now = self.clock.now()
        session = Session(
            id=secrets.token_urlsafe(SESSION_ID_BYTES),
            subject=principal.subject,
            email=principal.email,
            tenant=principal.tenant,
            roles=principal.roles,
            mfa=principal.mfa,
            attributes=dict(principal.attributes),
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            auth_time=auth_time if auth_time is not None else now,
            refresh_token=refresh_token,
        )
        self._write(session, now, create=True)
        return session

    def _write(self, session: Session, now: float, *, create: bool) -> bool:
        key = self.storage_key(session.id)
        pipe = self.redis.pipeline(transaction=True)
        if create:
            pipe.set(key, self._encode(session), ex=self._ttl(session, now), nx=True)
        else:
            pipe.set(key, self._encode(session), ex=self._ttl(session, now), xx=True)
        subject_key = self._subject_key(session.subject)
        pipe.sadd(subject_key, _digest(session.id))
        pipe.expire(subject_key, self.absolute_timeout)
        tenant_key = self._tenant_key(session.tenant)
        pipe.sadd(tenant_key, _digest(session.id))
        pipe.expire(tenant_key, self.absolute_timeout)
        written = pipe.execute()[0]
        return bool(written)

    def get(self, session_id: str | None) -> Session | None:
        """The live session for a cookie value, its idle timer refreshed; None otherwise."""
        if not session_id or not _SESSION_ID_SHAPE.fullmatch(session_id):
            return None
        raw = self.redis.get(self.storage_key(session_id))
        if raw is None:
            return None
        session = self._decode(session_id, raw)
        now = self.clock.now()
        if self._expired(session, now):
            self.revoke(session_id)
            return None
        session.last_seen_at = now
        # XX: a session revoked by another request meanwhile is not brought back.
        return session if self._write(session, now, create=False) else None

    def save(self, session: Session) -> None:
        """Persist changes (step-up time, device key) to an existing session."""
        self._write(session, self.clock.now(), create=False)

    def rotate(self, session: Session, *, principal: Principal | None = None) -> Session:
        """Replace the session id and CSRF token, optionally with new privileges.

        The old id stops working at once. The absolute timeout still counts
        from the original login.
        """
        rotated = replace(session, id=secrets.token_urlsafe(SESSION_ID_BYTES), csrf_token=secrets.token_urlsafe(32))
        if principal is not None:
            rotated = replace(
                rotated,
                email=principal.email,
                tenant=principal.tenant,
                roles=principal.roles,
                mfa=principal.mfa,
                attributes=dict(principal.attributes),
            )
        self._write(rotated, self.clock.now(), create=True)
        self.revoke(session.id)
        return rotated

    def revoke(self, session_id: str) -> None:
        """End a session server-side; its cookie is worthless from now on."""
        key = self.storage_key(session_id)
        raw = self.redis.getdel(key)
        if raw is not None:
            record = json.loads(raw)
            self.redis.srem(self._subject_key(record.get("subject", "")), _digest(session_id))
            self.redis.srem(self._tenant_key(record.get("tenant", "")), _digest(session_id))

    def revoke_subject(self, subject: str) -> int:
        """End every session of one user (role change, offboarding); returns how many."""
        subject_key = self._subject_key(subject)
        digests = cast("set[str]", self.redis.smembers(subject_key))  # decode_responses=True: str members
        removed = 0
        if digests:
            removed = self.redis.delete(*(f"{self.prefix}:session:{digest}" for digest in digests))
        self.redis.delete(subject_key)
        return int(removed)

    def revoke_tenant(self, tenant: str) -> int:
        """End every session of one tenant (suspension, offboarding); returns how many."""
        tenant_key = self._tenant_key(tenant)
        digests = cast("set[str]", self.redis.smembers(tenant_key))
        removed = 0
        if digests:
            removed = self.redis.delete(*(f"{self.prefix}:session:{digest}" for digest in digests))
        self.redis.delete(tenant_key)
        return int(removed)
