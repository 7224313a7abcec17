"""Enrolment grants: how a first security key is enrolled when sign-in proved one factor only.

Where the IdP's ID tokens carry no MFA evidence (Cognito user pools, Entra v2,
Google; `APP_MFA_SOURCE=token_or_webauthn`), the app's WebAuthn step-up *is*
the second factor. Enrolling the first key is then the weak point: whoever
holds the password alone must not be able to register a key of their own and
so become "MFA". A first key may therefore be enrolled only

- within `APP_STEP_UP_MAX_AGE_SECONDS` of a fresh sign-in, and
- after a sign-in whose token proved phone-free MFA, or under a *grant*: a
  single-use, time-boxed (`APP_WEBAUTHN_ENROLMENT_GRANT_TTL_SECONDS`)
  permission for one account, issued by another administrator with MFA and a
  fresh step-up (`POST /api/admin/users/{id}/webauthn-enrolment`, the same
  permission and obligations as changing roles) or, for the very first
  administrator, by an operator with `python -m <package> webauthn-enrolment`.

Issuing a grant and redeeming it are both written to the audit log, and both
raise alert `AUTH001` in the SIEM. The residual risk is documented in
docs/identity.md: an attacker who has the password *and* talks an
administrator into a grant, within its lifetime, can still enrol a key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Final

from redis import Redis
from sqlalchemy import Engine

from ..errors import EnrolmentGrantRequiredError
from .audit import AuditAction, AuditEntry, AuditLog, Where, require_justification
from .policy.decision import Caller, DecisionPoint
from .policy.errors import PermissionDeniedError, RoleEscalationError

#: Granting an enrolment is role administration: same permission, MFA, step-up and justification.
PERMISSION: Final = "users:assign_roles"
#: The actor recorded for grants issued from the command line by an operator.
OPERATOR_ACTOR: Final = "operator:cli"


@dataclass(frozen=True)
class EnrolmentGrant:
    """One account may enrol one first security key until `expires_at` (Unix seconds)."""

    tenant: str
    subject: str
    granted_by: str
    granted_at: float
    expires_at: float


class EnrolmentGrants:
    """Grants in Redis: one per account, expiring by themselves, redeemed with an atomic GETDEL."""

    def __init__(self, redis: Redis, *, key_prefix: str, ttl_seconds: int) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self.ttl_seconds = ttl_seconds

    def _key(self, tenant: str, subject: str) -> str:
        account = hashlib.sha256(f"{tenant}\0{subject}".encode()).hexdigest()
        return f"{self._prefix}:webauthn:enrolment-grant:{account}"

    def issue(self, *, tenant: str, subject: str, granted_by: str, now: float) -> EnrolmentGrant:
        """A new grant; it replaces an earlier one of the same account (the clock restarts)."""
        grant = EnrolmentGrant(tenant, subject, granted_by, now, now + self.ttl_seconds)
        record = {"tenant": tenant, "subject": subject, "granted_by": granted_by, "granted_at": now}
        self._redis.set(self._key(tenant, subject), json.dumps(record), ex=self.ttl_seconds)
        return grant

    def _grant(self, raw: str | bytes | None, now: float) -> EnrolmentGrant | None:
        if raw is None:
            return None
        record = json.loads(raw)
        granted_at = float(record["granted_at"])
        grant = EnrolmentGrant(
            record["tenant"], record["subject"], record["granted_by"], granted_at, granted_at + self.ttl_seconds
        )
        return grant if granted_at <= now <= grant.expires_at else None

    def pending(self, tenant: str, subject: str, now: float) -> EnrolmentGrant | None:
        """The account's unexpired grant, left in place."""
        return self._grant(self._redis.get(self._key(tenant, subject)), now)

    def redeem(self, tenant: str, subject: str, now: float) -> EnrolmentGrant:
        """Take the grant (gone afterwards, whatever happens next); EnrolmentGrantRequiredError if none."""
        grant = self._grant(self._redis.getdel(self._key(tenant, subject)), now)
        if grant is None:
            raise EnrolmentGrantRequiredError()
        return grant


class KeyEnrolmentAdministration:
    """Issues grants (authorized, justified, audited) and audits first-key enrolments."""

    def __init__(self, engine: Engine, decision_point: DecisionPoint, audit: AuditLog, grants: EnrolmentGrants) -> None:
        self.engine = engine
        self.decision_point = decision_point
        self.audit = audit
        self.grants = grants

    def grant(
        self,
        actor: Caller,
        *,
        tenant: str,
        target: str,
        justification: str | None,
        step_up_fresh: bool,
        where: Where,
        now: float,
    ) -> EnrolmentGrant:
        """An administrator lets `target` enrol a first key; never their own (no self-service bypass)."""
        decision = self.decision_point.decide(actor, PERMISSION, step_up_fresh=step_up_fresh)
        if not decision.allowed:
            raise PermissionDeniedError(PERMISSION, decision.reason)
        cleaned = require_justification(self.decision_point.matrix, PERMISSION, justification)
        if target == actor.subject:
            raise RoleEscalationError("nobody grants their own security-key enrolment: another administrator must")
        return self._record_grant(tenant, target, actor.subject, tuple(sorted(actor.roles)), cleaned, where, now)

    def grant_as_operator(self, *, tenant: str, target: str, reason: str, now: float) -> EnrolmentGrant:
        """The command-line path for the first administrator (no one in the app can grant yet)."""
        cleaned = require_justification(self.decision_point.matrix, PERMISSION, reason)
        return self._record_grant(tenant, target, OPERATOR_ACTOR, (), cleaned, Where(device="cli"), now)

    def _record_grant(
        self,
        tenant: str,
        target: str,
        actor: str,
        actor_roles: tuple[str, ...],
        justification: str,
        where: Where,
        now: float,
    ) -> EnrolmentGrant:
        expires_at = now + self.grants.ttl_seconds
        with self.engine.begin() as connection:  # the audit event commits before the grant exists
            self.audit.append(
                connection,
                AuditEntry(
                    tenant=tenant,
                    actor=actor,
                    actor_roles=actor_roles,
                    action=AuditAction.WEBAUTHN_ENROLMENT_GRANTED,
                    permission=PERMISSION,
                    target=target,
                    where=where,
                    justification=justification,
                    after={"expires_at": int(expires_at)},
                ),
            )
        return self.grants.issue(tenant=tenant, subject=target, granted_by=actor, now=now)

    def first_key_enrolled(self, *, tenant: str, subject: str, grant: EnrolmentGrant | None, where: Where) -> None:
        """Audit a first key; under a grant it also raises AUTH001 (alerts.py)."""
        via = {"via": "grant", "granted_by": grant.granted_by} if grant is not None else {"via": "token_mfa"}
        with self.engine.begin() as connection:
            self.audit.append(
                connection,
                AuditEntry(
                    tenant=tenant,
                    actor=subject,
                    actor_roles=(),
                    action=AuditAction.WEBAUTHN_FIRST_KEY_ENROLLED,
                    target=subject,
                    where=where,
                    after=via,
                ),
            )
