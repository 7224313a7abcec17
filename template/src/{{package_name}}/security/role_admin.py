"""Changing a user's roles: authorized, escalation-checked, justified, audited, alerted -- atomically.

Order matters and is tested: the decision point first (`users:assign_roles`,
MFA, fresh step-up), then the justification (422 when empty), then the
escalation rules against the target's current roles, then the change and
its audit event in one transaction. A refused attempt (403) is itself
audited, as `outcome="denied"`, so probing shows up in the SIEM (AUTHZ003).

Roles assigned here live in `role_assignments` (tenant, subject, role). The
authentication layer adds them to the roles from the IdP token on every
request (`with_assigned_roles`), and the drift report lists them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Final

from sqlalchemy import Connection, Engine, text

from .audit import AuditAction, AuditEntry, AuditLog, Where, require_justification
from .claims import PRIVILEGED_ROLES
from .policy.decision import Caller, DecisionPoint
from .policy.errors import PermissionDeniedError, RoleEscalationError, UnknownRoleError
from .policy.escalation import RoleChange, check_role_change
from .principal import KNOWN_ROLES, OPERATOR_ROLES, Principal

PERMISSION: Final = "users:assign_roles"
#: Advisory-lock namespace serializing changes to one user's roles.
ASSIGNMENT_LOCK_NAMESPACE: Final = 0x524F4C45  # "ROLE"

_CURRENT = text("SELECT role FROM role_assignments WHERE tenant_id = :tenant AND subject = :subject ORDER BY role")


def roles_of(connection: Connection, tenant: str, subject: str) -> frozenset[str]:
    """Roles assigned in the app to `subject` (the IdP's roles come from the token)."""
    return frozenset(connection.execute(_CURRENT, {"tenant": tenant, "subject": subject}).scalars())


def with_assigned_roles(engine: Engine, principal: Principal) -> Principal:
    """The caller with the roles assigned in the app added to the token's, read per request.

    Per request, not per login: a role removed here stops working on the
    caller's next request, without waiting for the session or token to end.
    Only roles the app knows are added, like `ClaimsMapping.roles` does, and
    privileged ones only to a caller whose second factor was not an SMS or a
    phone call: an assignment must not carry a session past the MFA rule of login.
    Vendor-only roles (`OPERATOR_ROLES`) are never added: only the vendor's IdP
    grants them, so a row naming one (a bug, a hand edit, a restored backup) counts for nothing.
    """
    with engine.connect() as connection:
        assigned = roles_of(connection, principal.tenant, principal.subject)
    return add_assigned_roles(principal, assigned)


def add_assigned_roles(principal: Principal, assigned: Iterable[str]) -> Principal:
    """`principal` with the app-assigned roles it may hold (the rules of `with_assigned_roles`).

    Vendor-only roles are dropped here, so every caller -- `with_assigned_roles`,
    admission's single statement (security/admission.py) -- counts none from storage.
    """
    granted = frozenset(assigned) & (KNOWN_ROLES - OPERATOR_ROLES)
    if not principal.mfa or principal.mfa_by_phone:
        granted -= PRIVILEGED_ROLES
    if granted <= principal.roles:
        return principal
    return replace(principal, roles=principal.roles | granted)


class RoleAdministration:
    """The one place role assignments change."""

    def __init__(self, engine: Engine, decision_point: DecisionPoint, audit: AuditLog) -> None:
        self.engine = engine
        self.decision_point = decision_point
        self.audit = audit

    def set_roles(
        self,
        actor: Caller,
        *,
        tenant: str,
        target: str,
        roles: Iterable[str],
        justification: str | None,
        step_up_fresh: bool,
        where: Where,
    ) -> RoleChange:
        requested = sorted(set(roles))
        matrix = self.decision_point.matrix
        decision = self.decision_point.decide(actor, PERMISSION, step_up_fresh=step_up_fresh)
        if not decision.allowed:
            self._record_refusal(actor, tenant, target, requested, where, justification, decision.reason)
            raise PermissionDeniedError(PERMISSION, decision.reason)
        cleaned = require_justification(matrix, PERMISSION, justification)
        unknown = sorted(set(requested) - set(matrix.roles))
        if unknown:
            raise UnknownRoleError(unknown)
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:ns, hashtext(:key))"),
                    {"ns": ASSIGNMENT_LOCK_NAMESPACE, "key": f"{tenant}\x1f{target}"},
                )
                change = check_role_change(
                    matrix,
                    actor=actor.subject,
                    actor_roles=actor.roles,
                    target=target,
                    current=roles_of(connection, tenant, target),
                    requested=requested,
                )
                self._apply(connection, tenant, actor.subject, change)
                self.audit.append(
                    connection,
                    AuditEntry(
                        tenant=tenant,
                        actor=actor.subject,
                        actor_roles=actor.roles,
                        action=AuditAction.ROLES_CHANGED,
                        permission=PERMISSION,
                        target=target,
                        where=where,
                        justification=cleaned,
                        before={"roles": list(change.before)},
                        after={"roles": list(change.after)},
                    ),
                )
                return change
        except RoleEscalationError as error:
            self._record_refusal(actor, tenant, target, requested, where, justification, str(error))
            raise

    @staticmethod
    def _apply(connection: Connection, tenant: str, granted_by: str, change: RoleChange) -> None:
        for role in change.removed:
            connection.execute(
                text("DELETE FROM role_assignments WHERE tenant_id = :t AND subject = :s AND role = :r"),
                {"t": tenant, "s": change.target, "r": role},
            )
        for role in change.added:
            connection.execute(
                text("INSERT INTO role_assignments (tenant_id, subject, role, granted_by) VALUES (:t, :s, :r, :g)"),
                {"t": tenant, "s": change.target, "r": role, "g": granted_by},
            )

    def _record_refusal(
        self,
        actor: Caller,
        tenant: str,
        target: str,
        requested: list[str],
        where: Where,
        justification: str | None,
        reason: str,
    ) -> None:
        with self.engine.begin() as connection:
            self.audit.append(
                connection,
                AuditEntry(
                    tenant=tenant,
                    actor=actor.subject,
                    actor_roles=actor.roles,
                    action=AuditAction.ROLES_CHANGED,
                    permission=PERMISSION,
                    target=target,
                    outcome="denied",
                    where=where,
                    justification=justification or "",
                    before=None,
                    after={"roles": requested, "reason": reason[:200]},
                ),
            )
