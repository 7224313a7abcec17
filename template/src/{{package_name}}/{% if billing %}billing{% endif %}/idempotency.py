"""Idempotency keys in Postgres: insert first, so concurrent duplicates are decided by a PRIMARY KEY.

The first request to INSERT (tenant, caller, scope, key) owns the key and runs
the operation; every other request -- concurrent or later, on any replica --
finds the row: a different body is refused (422), a finished one gets the
first response, an unfinished one waits briefly and then gets a 409. No
check-then-insert window exists. Keys are scoped to the caller, so one
customer can never read another's result by guessing a key.

A request that fails before completing releases its key (the client may retry
with the same key); an owner that died holds it only for `LEASE`, after which
one retry takes it over -- safe because the provider-side key is the same.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text

from .errors import IdempotencyKeyInFlightError, IdempotencyKeyMissingError, IdempotencyKeyReusedError

_KEY = re.compile(r"^[\x21-\x7e]{8,255}$")
LEASE_SECONDS = 60


def checked_key(key: str | None) -> str:
    """The client's Idempotency-Key, or IdempotencyKeyMissingError when absent or malformed."""
    if key is None or not _KEY.fullmatch(key):
        raise IdempotencyKeyMissingError
    return key


def fingerprint(payload: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the parsed body: whitespace and key order do not matter."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class KeyScope:
    tenant: str
    subject: str
    scope: str
    key: str

    def params(self) -> dict[str, str]:
        return {"tenant": self.tenant, "subject": self.subject, "scope": self.scope, "key": self.key}


@dataclass(frozen=True)
class Outcome:
    """The operation's response, and whether it was replayed from the first request."""

    response: dict[str, Any]
    replayed: bool


class IdempotencyStore:
    def __init__(self, engine: Engine, *, wait_seconds: float = 5.0, poll_seconds: float = 0.05) -> None:
        self._engine = engine
        self._wait = wait_seconds
        self._poll = poll_seconds

    def run(self, scope: KeyScope, request_sha256: str, operation: Callable[[], dict[str, Any]]) -> Outcome:
        """Run `operation` at most once per key; return its (possibly replayed) response."""
        if self._claim(scope, request_sha256):
            return Outcome(self._complete(scope, operation), replayed=False)
        deadline = time.monotonic() + self._wait
        while True:
            with self._engine.connect() as connection:
                row = connection.execute(
                    text(
                        "SELECT request_sha256, status, response FROM billing_idempotency_keys "
                        "WHERE tenant_id = :tenant AND subject = :subject AND scope = :scope AND key = :key"
                    ),
                    scope.params(),
                ).first()
            if row is None:  # the owner failed and released the key: take it
                if self._claim(scope, request_sha256):
                    return Outcome(self._complete(scope, operation), replayed=False)
                continue
            if row.request_sha256 != request_sha256:
                raise IdempotencyKeyReusedError
            if row.status == "completed":
                return Outcome(dict(row.response), replayed=True)
            if self._take_over_expired(scope):
                return Outcome(self._complete(scope, operation), replayed=False)
            if time.monotonic() >= deadline:
                raise IdempotencyKeyInFlightError
            time.sleep(self._poll)

    def _claim(self, scope: KeyScope, request_sha256: str) -> bool:
        with self._engine.begin() as connection:
            inserted = connection.execute(
                text(
                    "INSERT INTO billing_idempotency_keys (tenant_id, subject, scope, key, request_sha256) "
                    "VALUES (:tenant, :subject, :scope, :key, :sha) ON CONFLICT DO NOTHING RETURNING key"
                ),
                {**scope.params(), "sha": request_sha256},
            ).first()
        return inserted is not None

    def _take_over_expired(self, scope: KeyScope) -> bool:
        with self._engine.begin() as connection:
            taken = connection.execute(
                text(
                    "UPDATE billing_idempotency_keys SET created_at = now() "
                    "WHERE tenant_id = :tenant AND subject = :subject AND scope = :scope AND key = :key "
                    "AND status = 'in_progress' "
                    "AND created_at < now() - make_interval(secs => :lease) RETURNING key"
                ),
                {**scope.params(), "lease": LEASE_SECONDS},
            ).first()
        return taken is not None

    def _complete(self, scope: KeyScope, operation: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        try:
            response = operation()
        except BaseException:
            with self._engine.begin() as connection:
                connection.execute(
                    text(
                        "DELETE FROM billing_idempotency_keys "
                        "WHERE tenant_id = :tenant AND subject = :subject AND scope = :scope AND key = :key"
                    ),
                    scope.params(),
                )
            raise
        with self._engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE billing_idempotency_keys SET status = 'completed', response = :response, "
                    "completed_at = now() "
                    "WHERE tenant_id = :tenant AND subject = :subject AND scope = :scope AND key = :key"
                ),
                {**scope.params(), "response": json.dumps(response)},
            )
        return response
