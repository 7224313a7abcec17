"""Alert rules over audit events: permission changes, role escalations, payout edits, credits and refunds.

A rule is one function registered with `@alert_rule(id, severity, title)`;
it looks at one recorded event (and the matrix, for role ranks) and returns
a summary dict when it fires, else None. Alerts are written to the SIEM
outbox in the same transaction as the event that raised them, so the SIEM
receives each alert exactly when (and only if) the change committed; route
`type == "alert"` events to your paging/on-call integration there
(docs/authorization.md, "Alerts"). Ids are stable and never reused.

A rule anyone signed in can trigger at will (AUTHZ003: any member can ask
for an admin action and be refused) is aggregated per actor: with an
`AlertCounter` (Redis, so every replica counts together) it pages on the
actor's first firing in a window and again at the 10th, 100th, 1000th...,
each alert carrying the running `count`. A probe still pages at once and
escalates, a flood cannot bury the on-call in pages, and every refused
request is still its own audit event.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from .policy.model import Matrix

if TYPE_CHECKING:
    from .audit import AuditEvent

Severity = Literal["low", "medium", "high"]
RuleCheck = Callable[["AuditEvent", Matrix], dict[str, Any] | None]


#: The window AUTHZ003 aggregates refusals of one actor over.
REFUSAL_ALERT_WINDOW_SECONDS: Final = 900


@dataclass(frozen=True)
class AlertRule:
    """A registered rule; `per_actor_window` (seconds) aggregates its firings per actor (module docstring)."""

    id: str
    severity: Severity
    title: str
    check: RuleCheck
    per_actor_window: int | None = None


class AlertCounter(Protocol):
    """Counts a rule's firings per tenant, actor and window, shared by every replica."""

    def count(self, rule: str, tenant: str, actor: str, window_seconds: int) -> int:
        """This firing's number in the current window (1 for the first)."""
        ...


def pages_at(count: int) -> bool:
    """An aggregated rule pages on the 1st, 10th, 100th, ... firing in a window."""
    while count >= 10 and count % 10 == 0:
        count //= 10
    return count == 1


@dataclass(frozen=True)
class Alert:
    """A fired rule, tied to the event that fired it."""

    id: uuid.UUID
    rule: str
    severity: Severity
    title: str
    event_id: uuid.UUID
    tenant: str
    actor: str
    occurred_at: datetime
    summary: dict[str, Any]

    def siem_record(self) -> dict[str, Any]:
        return {
            "type": "alert",
            "id": str(self.id),
            "rule": self.rule,
            "severity": self.severity,
            "title": self.title,
            "event_id": str(self.event_id),
            "tenant": self.tenant,
            "actor": self.actor,
            "occurred_at": self.occurred_at.isoformat(timespec="microseconds"),
            "summary": self.summary,
        }


RULES: list[AlertRule] = []


def alert_rule(
    rule_id: str, *, severity: Severity, title: str, per_actor_window: int | None = None
) -> Callable[[RuleCheck], RuleCheck]:
    """Register a rule; ids are unique and stable (SIEM searches and runbooks key on them)."""

    def register(check: RuleCheck) -> RuleCheck:
        if any(rule.id == rule_id for rule in RULES):
            raise ValueError(f"alert rule {rule_id} is registered twice")
        RULES.append(AlertRule(rule_id, severity, title, check, per_actor_window))
        return check

    return register


_PERMISSION_ACTIONS: Final = frozenset({"users.roles.changed", "policy.grants.changed"})


def _roles(summary: Any) -> list[str]:
    roles = summary.get("roles", []) if isinstance(summary, dict) else []
    return [role for role in roles if isinstance(role, str)]


def _highest(matrix: Matrix, roles: Iterable[str]) -> int:
    return max((matrix.rank(role) for role in roles if role in matrix.roles), default=0)


@alert_rule("AUTHZ001", severity="medium", title="Permissions changed")
def permission_change(event: AuditEvent, _: Matrix) -> dict[str, Any] | None:
    if event.action not in _PERMISSION_ACTIONS or event.outcome != "success":
        return None
    before, after = set(_roles(event.before)), set(_roles(event.after))
    return {"target": event.target, "added": sorted(after - before), "removed": sorted(before - after)}


@alert_rule("AUTHZ002", severity="high", title="Role escalation")
def role_escalation(event: AuditEvent, matrix: Matrix) -> dict[str, Any] | None:
    """The target's highest role went up (e.g. member -> admin)."""
    if event.action != "users.roles.changed" or event.outcome != "success":
        return None
    before, after = _roles(event.before), _roles(event.after)
    if _highest(matrix, after) <= _highest(matrix, before):
        return None
    return {"target": event.target, "from": sorted(before), "to": sorted(after)}


@alert_rule("AUTHZ003", severity="high", title="Refused admin action", per_actor_window=REFUSAL_ALERT_WINDOW_SECONDS)
def refused_admin_action(event: AuditEvent, matrix: Matrix) -> dict[str, Any] | None:
    """Someone tried an admin action (e.g. a role change) the policy refused: a probe or a stolen account.

    Any member can cause this at will, so it is aggregated per actor (module docstring).
    """
    spec = matrix.permissions.get(event.permission)
    if event.outcome != "denied" or spec is None or not spec.admin_action:
        return None
    after = event.after if isinstance(event.after, dict) else {}
    return {"permission": event.permission, "target": event.target, "reason": after.get("reason", "")}


@alert_rule("AUTH001", severity="high", title="Security-key enrolment granted or used without token MFA")
def key_enrolment_grant(event: AuditEvent, _: Matrix) -> dict[str, Any] | None:
    """Where the IdP proves one factor, a grant is what stands between a stolen password and "MFA"."""
    after = event.after if isinstance(event.after, dict) else {}
    granted = event.action == "webauthn.enrolment.granted"
    redeemed = event.action == "webauthn.first_key.enrolled" and after.get("via") == "grant"
    if event.outcome != "success" or not (granted or redeemed):
        return None
    return {"step": event.action, "target": event.target, "by": event.actor if granted else after.get("granted_by")}


@alert_rule("PAY001", severity="high", title="Payout destination edited")
def payout_edit(event: AuditEvent, _: Matrix) -> dict[str, Any] | None:
    if event.action != "payouts.edited" or event.outcome != "success":
        return None
    return {"target": event.target, "justification": event.justification}


#: Every step of paying money back out (billing/approvals.py): a credit or refund requested,
#: approved, executed at the provider or failing there. This is where an insider or a stolen
#: finance account turns into cash, so each step pages -- not only the last one.
_MONEY_MOVEMENT_ACTIONS: Final = frozenset(
    {
        "credits.requested",
        "credits.approved",
        "refunds.requested",
        "refunds.approved",
        "billing.payout.executed",
        "billing.payout.failed",
    }
)
#: Billing integrity failures: a stored invoice that no longer matches its seal, or a provider
#: reporting a charge that differs from the server-side price.
_BILLING_INTEGRITY_ACTIONS: Final = frozenset({"billing.invoice.tampered", "billing.payment.amount_mismatch"})


def _after(event: AuditEvent) -> dict[str, Any]:
    return dict(event.after) if isinstance(event.after, dict) else {}


@alert_rule("PAY002", severity="high", title="Credit or refund requested, approved or paid out")
def money_movement(event: AuditEvent, _: Matrix) -> dict[str, Any] | None:
    """Fires on every step, whatever its outcome: a failed payout is as interesting as a paid one."""
    if event.action not in _MONEY_MOVEMENT_ACTIONS:
        return None
    after = _after(event)
    return {
        "step": event.action,
        "target": event.target,
        "amount": after.get("amount"),
        "currency": after.get("currency"),
        "outcome": after.get("outcome", event.outcome),
        "justification": event.justification,
    }


@alert_rule("PAY003", severity="high", title="Billing integrity check failed")
def billing_integrity(event: AuditEvent, _: Matrix) -> dict[str, Any] | None:
    if event.action not in _BILLING_INTEGRITY_ACTIONS:
        return None
    details = {key: value for key, value in _after(event).items() if key != "outcome"}
    return {"check": event.action, "target": event.target, "details": details}


@alert_rule("PAY004", severity="high", title="Money movement aimed at another tenant or approved by its beneficiary")
def money_to_the_wrong_party(event: AuditEvent, _: Matrix) -> dict[str, Any] | None:
    """A credit or refund named another tenant's payment, or its requester or beneficiary tried to approve it."""
    after = _after(event)
    if event.action == "billing.payment.foreign":
        return {"target": event.target, "actor": event.actor, "outcome": event.outcome}
    if event.action == "billing.approval.denied" and after.get("reason") in _WRONG_APPROVER:
        return {"target": event.target, "actor": event.actor, "reason": after.get("reason")}
    return None


#: Approval refusals that mean someone tried to approve money going to themselves.
_WRONG_APPROVER: Final = frozenset({"self_approval_forbidden", "beneficiary_approval_forbidden"})


#: A subscription revoked because the money went back, and one the provider could not be told to stop billing.
_REVOCATION_ACTIONS: Final = frozenset({"billing.subscription.revoked", "billing.subscription.provider_cancel_failed"})


@alert_rule("PAY005", severity="medium", title="Subscription revoked after a full refund or a lost chargeback")
def subscription_revoked(event: AuditEvent, _: Matrix) -> dict[str, Any] | None:
    """Also when the provider-side cancel of a revoked subscription failed: someone cancels it in the dashboard."""
    if event.action not in _REVOCATION_ACTIONS:
        return None
    after = _after(event)
    if event.action == "billing.subscription.provider_cancel_failed":
        return {"target": event.target, "cause": "provider_cancel_failed", "payment": after.get("provider_reference")}
    return {"target": event.target, "cause": after.get("cause"), "payment": after.get("payment")}


def evaluate_alerts(
    event: AuditEvent,
    matrix: Matrix,
    rules: Iterable[AlertRule] | None = None,
    counter: AlertCounter | None = None,
) -> list[Alert]:
    """Every alert `event` fires, in rule order; with `counter`, aggregated rules only when they page."""
    fired = []
    for rule in RULES if rules is None else rules:
        summary = rule.check(event, matrix)
        if summary is None:
            continue
        if rule.per_actor_window is not None and counter is not None:
            count = counter.count(rule.id, event.tenant, event.actor, rule.per_actor_window)
            if not pages_at(count):
                continue
            summary = {**summary, "count": count, "window_seconds": rule.per_actor_window}
        fired.append(
            Alert(
                id=uuid.uuid4(),
                rule=rule.id,
                severity=rule.severity,
                title=rule.title,
                event_id=event.id,
                tenant=event.tenant,
                actor=event.actor,
                occurred_at=event.occurred_at,
                summary=summary,
            )
        )
    return fired
