"""Where WebAuthn state lives: credentials in Postgres, pending challenges in Redis.

Credentials are durable and tenant-scoped (`webauthn_credentials`, migration
`identity_0001`); the runtime role may SELECT, INSERT and UPDATE them, never
DELETE. Every query filters on tenant and subject, and every transaction
also sets `app.tenant_id` (transaction-local), so the table works unchanged
under the pooled model's row-level security policy. Challenges are single-use: `consume` is one atomic GETDEL, so two
replicas racing with the same response cannot both succeed, and a challenge
is bound to the session and the account that asked for it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import sqlalchemy as sa
from redis import Redis
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError

from ..errors import ChallengeExpiredError, CredentialAlreadyRegisteredError

CHALLENGE_BYTES: Final = 32
UNIQUE_VIOLATION: Final = "23505"

metadata = sa.MetaData()
webauthn_credentials = sa.Table(
    "webauthn_credentials",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("tenant_id", sa.Text(), nullable=False),
    sa.Column("subject", sa.Text(), nullable=False),
    sa.Column("credential_id", sa.LargeBinary(), nullable=False, unique=True),
    sa.Column("public_key", sa.LargeBinary(), nullable=False),
    sa.Column("sign_count", sa.BigInteger(), nullable=False),
    sa.Column("transports", ARRAY(sa.Text()), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_used_at", sa.DateTime(timezone=True)),
)


@dataclass(frozen=True)
class StoredCredential:
    """A registered authenticator of one account."""

    id: uuid.UUID
    tenant: str
    subject: str
    credential_id: bytes
    public_key: bytes
    sign_count: int
    transports: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None


def _credential(row: sa.Row) -> StoredCredential:
    return StoredCredential(
        id=row.id,
        tenant=row.tenant_id,
        subject=row.subject,
        credential_id=bytes(row.credential_id),
        public_key=bytes(row.public_key),
        sign_count=row.sign_count,
        transports=tuple(row.transports),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
    )


_SET_TENANT: Final = sa.text("SELECT set_config('app.tenant_id', :tenant, true)")


class CredentialStore:
    """Tenant-scoped CRUD (minus delete) on `webauthn_credentials`."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    @contextmanager
    def _transaction(self, tenant: str) -> Iterator[sa.Connection]:
        with self._engine.begin() as connection:
            connection.execute(_SET_TENANT, {"tenant": tenant})
            yield connection

    def add(
        self,
        *,
        tenant: str,
        subject: str,
        credential_id: bytes,
        public_key: bytes,
        sign_count: int,
        transports: Sequence[str],
        now: datetime,
    ) -> StoredCredential:
        credential_uuid, kept_transports = uuid.uuid4(), sorted(set(transports))
        values = {
            "id": credential_uuid,
            "tenant_id": tenant,
            "subject": subject,
            "credential_id": credential_id,
            "public_key": public_key,
            "sign_count": sign_count,
            "transports": kept_transports,
            "created_at": now,
            "last_used_at": None,
        }
        try:
            with self._transaction(tenant) as connection:
                connection.execute(webauthn_credentials.insert().values(**values))
        except IntegrityError as error:
            if getattr(error.orig, "sqlstate", None) == UNIQUE_VIOLATION:
                raise CredentialAlreadyRegisteredError() from error
            raise
        return StoredCredential(
            id=credential_uuid,
            tenant=tenant,
            subject=subject,
            credential_id=credential_id,
            public_key=public_key,
            sign_count=sign_count,
            transports=tuple(kept_transports),
            created_at=now,
            last_used_at=None,
        )

    def for_account(self, tenant: str, subject: str) -> list[StoredCredential]:
        query = (
            sa.select(webauthn_credentials)
            .where(webauthn_credentials.c.tenant_id == tenant, webauthn_credentials.c.subject == subject)
            .order_by(webauthn_credentials.c.created_at)
        )
        with self._transaction(tenant) as connection:
            return [_credential(row) for row in connection.execute(query)]

    def find(self, tenant: str, subject: str, credential_id: bytes) -> StoredCredential | None:
        """The credential only if it belongs to this account: another account's key is 'not found'."""
        query = sa.select(webauthn_credentials).where(
            webauthn_credentials.c.tenant_id == tenant,
            webauthn_credentials.c.subject == subject,
            webauthn_credentials.c.credential_id == credential_id,
        )
        with self._transaction(tenant) as connection:
            row = connection.execute(query).first()
        return _credential(row) if row is not None else None

    def record_use(self, credential: StoredCredential, new_sign_count: int, now: datetime) -> bool:
        """Store the new counter only if it moved forward (or both are 0); False if another use won."""
        table = webauthn_credentials
        moves_forward = sa.or_(
            table.c.sign_count < new_sign_count,
            sa.and_(table.c.sign_count == 0, sa.literal(new_sign_count) == 0),
        )
        statement = (
            table.update()
            .where(table.c.id == credential.id, moves_forward)
            .values(sign_count=new_sign_count, last_used_at=now)
        )
        with self._transaction(credential.tenant) as connection:
            return connection.execute(statement).rowcount == 1


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ChallengeStore:
    """Single-use, short-lived challenges bound to (purpose, session, account)."""

    def __init__(self, redis: Redis, *, key_prefix: str, ttl_seconds: int = 120) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self.ttl_seconds = ttl_seconds

    def _key(self, purpose: str, session_id: str) -> str:
        session = hashlib.sha256(session_id.encode()).hexdigest()[:32]
        return f"{self._prefix}:webauthn:{purpose}:{session}"

    @staticmethod
    def _account(tenant: str, subject: str) -> str:
        return hashlib.sha256(f"{tenant}\0{subject}".encode()).hexdigest()

    def issue(self, purpose: str, *, session_id: str, tenant: str, subject: str, now: float) -> bytes:
        """A fresh challenge; it replaces any earlier one of this session and purpose."""
        challenge = secrets.token_bytes(CHALLENGE_BYTES)
        record = {"challenge": _b64(challenge), "issued_at": now, "account": self._account(tenant, subject)}
        self._redis.set(self._key(purpose, session_id), json.dumps(record), ex=self.ttl_seconds)
        return challenge

    def consume(self, purpose: str, *, session_id: str, tenant: str, subject: str, now: float) -> bytes:
        """Take the pending challenge (it is gone afterwards, whatever happens next)."""
        raw = self._redis.getdel(self._key(purpose, session_id))
        if raw is None:
            raise ChallengeExpiredError()
        record = json.loads(raw)
        fresh = 0 <= now - float(record["issued_at"]) <= self.ttl_seconds
        if not fresh or record["account"] != self._account(tenant, subject):
            raise ChallengeExpiredError()
        return _unb64(record["challenge"])
