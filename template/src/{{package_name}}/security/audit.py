"""The audit log: append-only, hash-chained, who/what/when/where/why, one chain per tenant.

Every admin action and every permission, role, payout or credit change is
appended here *in the same transaction* as the change itself, together with
its SIEM outbox row and any alert the rules in `alerts.py` raise -- so a
change without its audit event (or an event without its SIEM copy) cannot be
committed.

Chain: `hash = sha256(canonical JSON of the event including prev_hash)`, the
first event of a tenant links to `GENESIS`. Appends of one tenant are
serialized by a transaction-scoped advisory lock (and `UNIQUE (tenant_id,
seq)` turns any bypass into an error rather than a fork). `verify_chain`
recomputes every hash and link and cross-checks the outbox, so an edited,
deleted or inserted row is reported with its sequence number. What a hash
chain cannot do on its own is stop the *owner* from rewriting every row and
hash consistently: the copy streamed to the SIEM is the external anchor.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from sqlalchemy import Connection, text

from .alerts import AlertCounter, AlertRule, evaluate_alerts
from .policy.errors import JustificationRequiredError
from .policy.model import Matrix

GENESIS: Final = "0" * 64
#: Advisory-lock namespace of audit appends (pg_advisory_xact_lock(ns, hashtext(tenant))).
CHAIN_LOCK_NAMESPACE: Final = 0x41554454  # "AUDT"
MAX_JUSTIFICATION: Final = 2000
SCHEMA: Final = "audit-event/1"

Outcome = Literal["success", "denied"]


class AuditAction:
    """The action names alert rules and the SIEM key on; services use these constants."""

    ROLES_CHANGED: Final = "users.roles.changed"
    POLICY_CHANGED: Final = "policy.grants.changed"
    PAYOUT_EDITED: Final = "payouts.edited"
    CREDIT_REQUESTED: Final = "credits.requested"
    CREDIT_APPROVED: Final = "credits.approved"
    PII_EXPORTED: Final = "customers.exported"
    #: an admin action refused at the route (web/authz.py); the permission names which.
    REFUSED: Final = "authz.refused"


@dataclass(frozen=True, slots=True)
class Where:
    """Where the request came from: client address (after trusted-proxy handling) and device."""

    ip: str = ""
    user_agent: str = ""
    device: str = ""


@dataclass(frozen=True)
class AuditEntry:
    """What a service asks to record. `who` is the principal's subject and roles."""

    tenant: str
    actor: str
    actor_roles: Iterable[str]
    action: str
    target: str
    permission: str = ""
    outcome: Outcome = "success"
    where: Where = field(default_factory=Where)
    justification: str = ""
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class AuditEvent:
    """A recorded event: the entry plus its place in the chain."""

    id: uuid.UUID
    tenant: str
    seq: int
    occurred_at: datetime
    actor: str
    actor_roles: tuple[str, ...]
    action: str
    permission: str
    target: str
    outcome: str
    ip: str
    user_agent: str
    device: str
    justification: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    prev_hash: str
    hash: str

    def document(self) -> dict[str, Any]:
        """The hashed content: every field but `hash` itself."""
        return {
            "schema": SCHEMA,
            "id": str(self.id),
            "tenant": self.tenant,
            "seq": self.seq,
            "occurred_at": _timestamp(self.occurred_at),
            "actor": self.actor,
            "actor_roles": list(self.actor_roles),
            "action": self.action,
            "permission": self.permission,
            "target": self.target,
            "outcome": self.outcome,
            "ip": self.ip,
            "user_agent": self.user_agent,
            "device": self.device,
            "justification": self.justification,
            "before": self.before,
            "after": self.after,
            "prev_hash": self.prev_hash,
        }

    def siem_record(self) -> dict[str, Any]:
        """What the SIEM receives: the document, its hash, and `type` for routing; `id` dedupes."""
        return {"type": "audit", **self.document(), "hash": self.hash}


class AuditInputError(ValueError):
    """An entry holds values the canonical form cannot represent faithfully."""


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8: the bytes that are hashed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def chain_hash(document: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(document)).hexdigest()


def _check_summary(value: Any, where: str) -> None:
    """Before/after summaries round-trip through JSONB unchanged only without floats and NULs."""
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, str):
        if "\x00" in value:
            raise AuditInputError(f"{where}: NUL characters are not allowed")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_summary(item, f"{where}[{index}]")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise AuditInputError(f"{where}: keys must be strings")
            _check_summary(key, where)
            _check_summary(item, f"{where}.{key}")
        return
    raise AuditInputError(f"{where}: {type(value).__name__} is not allowed (use str, int, bool, list, dict)")


def _plain(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else json.loads(canonical_json(value))


def require_justification(matrix: Matrix, permission: str, justification: str | None) -> str:
    """The stripped justification; `JustificationRequiredError` (422) when an admin action has none."""
    cleaned = (justification or "").strip()
    spec = matrix.permissions.get(permission)
    if spec is not None and spec.admin_action and not cleaned:
        raise JustificationRequiredError(permission)
    if len(cleaned) > MAX_JUSTIFICATION:
        raise AuditInputError(f"justification is longer than {MAX_JUSTIFICATION} characters")
    return cleaned


_LAST = text("SELECT seq, hash FROM audit_events WHERE tenant_id = :tenant ORDER BY seq DESC LIMIT 1")
_INSERT = text(
    """
    INSERT INTO audit_events (id, tenant_id, seq, occurred_at, actor, actor_roles, action, permission, target,
                              outcome, ip, user_agent, device, justification, before, after, prev_hash, hash)
    VALUES (:id, :tenant, :seq, :occurred_at, :actor, :actor_roles, :action, :permission, :target,
            :outcome, :ip, :user_agent, :device, :justification,
            CAST(:before AS jsonb), CAST(:after AS jsonb), :prev_hash, :hash)
    """
)
_OUTBOX = text("INSERT INTO siem_outbox (event_id, kind, payload) VALUES (:event_id, :kind, CAST(:payload AS jsonb))")
_COLUMNS = (
    "id, tenant_id, seq, occurred_at, actor, actor_roles, action, permission, target, outcome, ip, "
    "user_agent, device, justification, before, after, prev_hash, hash"
)


def _event_from_row(row: Any) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        tenant=row.tenant_id,
        seq=row.seq,
        occurred_at=row.occurred_at,
        actor=row.actor,
        actor_roles=tuple(row.actor_roles),
        action=row.action,
        permission=row.permission,
        target=row.target,
        outcome=row.outcome,
        ip=row.ip,
        user_agent=row.user_agent,
        device=row.device,
        justification=row.justification,
        before=row.before,
        after=row.after,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


class AuditLog:
    """Appends to and reads the audit log on a connection the caller's transaction owns."""

    def __init__(
        self, matrix: Matrix, rules: Iterable[AlertRule] | None = None, counter: AlertCounter | None = None
    ) -> None:
        """`counter` aggregates the rules anyone can trigger (AUTHZ003) per actor; None fires every time."""
        self.matrix = matrix
        self.rules = tuple(rules) if rules is not None else None
        self.counter = counter

    def append(self, connection: Connection, entry: AuditEntry) -> AuditEvent:
        """Record `entry` (and its SIEM copy and alerts) inside the caller's open transaction.

        Raises `JustificationRequiredError` before touching the database when the
        permission is an admin action without a justification.
        """
        justification = (
            require_justification(self.matrix, entry.permission, entry.justification)
            if entry.outcome == "success"
            else entry.justification.strip()[:MAX_JUSTIFICATION]
        )
        _check_summary(entry.before, "before")
        _check_summary(entry.after, "after")
        for label in ("tenant", "actor", "action", "target", "permission", "justification"):
            _check_summary(getattr(entry, label), label)
        for label in ("ip", "user_agent", "device"):
            _check_summary(getattr(entry.where, label), label)
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:ns, hashtext(:tenant))"),
            {"ns": CHAIN_LOCK_NAMESPACE, "tenant": entry.tenant},
        )
        last = connection.execute(_LAST, {"tenant": entry.tenant}).first()
        seq, prev_hash = (last.seq + 1, last.hash) if last else (1, GENESIS)
        draft = AuditEvent(
            id=uuid.uuid4(),
            tenant=entry.tenant,
            seq=seq,
            occurred_at=datetime.now(UTC),
            actor=entry.actor,
            actor_roles=tuple(sorted(entry.actor_roles)),
            action=entry.action,
            permission=entry.permission,
            target=entry.target,
            outcome=entry.outcome,
            ip=entry.where.ip,
            user_agent=entry.where.user_agent[:512],
            device=entry.where.device,
            justification=justification,
            before=_plain(entry.before),
            after=_plain(entry.after),
            prev_hash=prev_hash,
            hash="",
        )
        event = AuditEvent(**{**draft.__dict__, "hash": chain_hash(draft.document())})
        connection.execute(
            _INSERT,
            {
                **{key: value for key, value in event.__dict__.items() if key not in ("before", "after")},
                "actor_roles": list(event.actor_roles),
                "before": None if event.before is None else canonical_json(event.before).decode(),
                "after": None if event.after is None else canonical_json(event.after).decode(),
            },
        )
        self._outbox(connection, event.id, "audit", event.siem_record())
        for alert in evaluate_alerts(event, self.matrix, self.rules, self.counter):
            self._outbox(connection, alert.id, "alert", alert.siem_record())
        return event

    @staticmethod
    def _outbox(connection: Connection, event_id: uuid.UUID, kind: str, payload: Mapping[str, Any]) -> None:
        connection.execute(_OUTBOX, {"event_id": event_id, "kind": kind, "payload": canonical_json(payload).decode()})

    @staticmethod
    def events(
        connection: Connection, tenant: str, *, limit: int = 100, before_seq: int | None = None
    ) -> list[AuditEvent]:
        """Newest first, for the audit API; `before_seq` pages backwards."""
        rows = connection.execute(
            text(
                f"SELECT {_COLUMNS} FROM audit_events WHERE tenant_id = :tenant "  # noqa: S608 - constant columns
                "AND (CAST(:before AS bigint) IS NULL OR seq < :before) ORDER BY seq DESC LIMIT :limit"
            ),
            {"tenant": tenant, "before": before_seq, "limit": max(1, min(limit, 500))},
        )
        return [_event_from_row(row) for row in rows]


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """One finding of the verifier, located by sequence number."""

    seq: int
    kind: Literal["gap", "hash_mismatch", "broken_link", "missing_event"]
    detail: str


@dataclass(frozen=True)
class ChainReport:
    tenant: str
    events: int
    head: str
    problems: tuple[ChainProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(connection: Connection, tenant: str) -> ChainReport:
    """Recompute every hash and link of `tenant`'s chain; cross-check the SIEM outbox copy."""
    problems: list[ChainProblem] = []
    expected_seq, prev, count = 1, GENESIS, 0
    rows = connection.execute(
        text(f"SELECT {_COLUMNS} FROM audit_events WHERE tenant_id = :tenant ORDER BY seq"),  # noqa: S608
        {"tenant": tenant},
    )
    seen: set[str] = set()
    for row in rows:
        event = _event_from_row(row)
        count += 1
        seen.add(str(event.id))
        if event.seq != expected_seq:
            problems.append(ChainProblem(event.seq, "gap", f"events {expected_seq}..{event.seq - 1} are missing"))
        if chain_hash(event.document()) != event.hash:
            problems.append(ChainProblem(event.seq, "hash_mismatch", "the event's content no longer matches its hash"))
        if event.prev_hash != prev:
            problems.append(ChainProblem(event.seq, "broken_link", "prev_hash does not match the previous event"))
        prev, expected_seq = event.hash, event.seq + 1
    copies = connection.execute(
        text(
            "SELECT (payload->>'seq')::bigint AS seq, payload->>'id' AS id FROM siem_outbox "
            "WHERE kind = 'audit' AND payload->>'tenant' = :tenant ORDER BY 1"
        ),
        {"tenant": tenant},
    )
    for copy in copies:
        if copy.id not in seen:
            problems.append(ChainProblem(copy.seq, "missing_event", "the SIEM outbox holds an event the log lacks"))
    return ChainReport(tenant=tenant, events=count, head=prev, problems=tuple(problems))


def tenants_with_events(connection: Connection) -> list[str]:
    return list(connection.execute(text("SELECT DISTINCT tenant_id FROM audit_events ORDER BY 1")).scalars())
