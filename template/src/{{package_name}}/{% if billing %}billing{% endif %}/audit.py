"""The audit port billing writes to: who did what, to what, when, why -- and which steps must alert.

A tiny Protocol so billing does not depend on how the audit log is stored.
`record` receives the connection of the transaction that makes the change, so
an append-only audit log (security/audit.py) commits the event atomically with
the change: no credit without its audit event, no audit event for a change that
rolled back. `LogAuditSink` (structured JSON lines on the `audit` logger, for a
SIEM) is the fallback; events with `alert=True` -- credits, refunds and other
payout edits -- are logged at WARNING with `alert: true` so they page someone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import structlog
from sqlalchemy import Connection

from ..security.audit import AuditEntry, AuditLog


class BillingAction:
    """Action names; `credits.requested` / `credits.approved` are security/audit.py's own names."""

    CHECKOUT_CREATED = "billing.checkout.created"
    CREDIT_REQUESTED = "credits.requested"
    CREDIT_APPROVED = "credits.approved"
    REFUND_REQUESTED = "refunds.requested"
    REFUND_APPROVED = "refunds.approved"
    APPROVAL_DENIED = "billing.approval.denied"
    PAYOUT_EXECUTED = "billing.payout.executed"
    PAYOUT_FAILED = "billing.payout.failed"
    APPROVAL_EXPIRED = "billing.approval.expired"
    PAYMENT_AMOUNT_MISMATCH = "billing.payment.amount_mismatch"
    #: A credit or refund named a payment of ANOTHER tenant (alerts: PAY004).
    PAYMENT_FOREIGN = "billing.payment.foreign"
    #: A credit or refund named a payment nobody recorded.
    PAYMENT_UNKNOWN = "billing.payment.unknown"
    #: A full refund or a lost chargeback took the subscription's access away (alerts: PAY005).
    SUBSCRIPTION_REVOKED = "billing.subscription.revoked"
    #: The provider could not be told to cancel a revoked subscription: cancel it in its dashboard (PAY005).
    SUBSCRIPTION_PROVIDER_CANCEL_FAILED = "billing.subscription.provider_cancel_failed"
    #: A payment is under dispute: frozen until the dispute closes (nothing credited or refunded meanwhile).
    PAYMENT_DISPUTED = "billing.payment.disputed"
    INVOICE_ISSUED = "billing.invoice.issued"
    INVOICE_TAMPERED = "billing.invoice.tampered"


@dataclass(frozen=True)
class AuditEvent:
    """One audited step.

    Attributes:
        action: a `BillingAction` name.
        actor / actor_roles: the principal's subject and roles (`provider:<name>` for webhooks).
        tenant: the tenant the target belongs to.
        target: what was acted on, e.g. `credit:<id>`.
        outcome: `success`, `denied` or `failed`.
        justification: the human reason, for requests and approvals.
        details: a small JSON-safe summary (amounts in minor units, ids): no secrets, no card data.
        alert: True when the step must raise an alert (payout/credit/refund edits, integrity failures).
    """

    action: str
    actor: str
    tenant: str
    target: str
    at: datetime
    actor_roles: Iterable[str] = ()
    outcome: str = "success"
    justification: str = ""
    details: Mapping[str, object] = field(default_factory=dict)
    alert: bool = False


class AuditSink(Protocol):
    def record(self, connection: Connection, event: AuditEvent) -> None:
        """Persist the event inside the caller's transaction; raise if it cannot be persisted."""
        ...


class LogAuditSink:
    """Structured JSON lines on the `audit` logger; alerts at WARNING."""

    def __init__(self) -> None:
        self._log = structlog.get_logger("audit")

    def record(self, connection: Connection, event: AuditEvent) -> None:
        emit = self._log.warning if event.alert else self._log.info
        emit(
            event.action,
            actor=event.actor,
            actor_roles=sorted(event.actor_roles),
            tenant=event.tenant,
            target=event.target,
            at=event.at.isoformat(),
            outcome=event.outcome,
            justification=event.justification,
            alert=event.alert,
            details=dict(event.details),
        )


#: Which permission of policy/roles.yaml each billing action exercises (the audit log checks
#: that admin actions carry a justification).
_PERMISSIONS = {
    BillingAction.CHECKOUT_CREATED: "billing:checkout",
    BillingAction.CREDIT_REQUESTED: "credits:request",
    BillingAction.REFUND_REQUESTED: "credits:request",
    BillingAction.CREDIT_APPROVED: "credits:approve",
    BillingAction.REFUND_APPROVED: "credits:approve",
    BillingAction.APPROVAL_DENIED: "credits:approve",
    BillingAction.APPROVAL_EXPIRED: "credits:approve",
    BillingAction.PAYMENT_FOREIGN: "credits:request",
    BillingAction.PAYMENT_UNKNOWN: "credits:request",
    BillingAction.PAYOUT_EXECUTED: "credits:approve",
    BillingAction.PAYOUT_FAILED: "credits:approve",
}


class ChainedAuditSink:
    """Appends billing events to the hash-chained audit log (security/audit.py) in the caller's transaction.

    Events flagged `alert` are also logged at WARNING, so they reach the SIEM even
    before an alert rule for them exists in security/alerts.py.
    """

    def __init__(self, log: AuditLog) -> None:
        self._log = log
        self._alerts = structlog.get_logger("audit")

    def record(self, connection: Connection, event: AuditEvent) -> None:
        self._log.append(
            connection,
            AuditEntry(
                tenant=event.tenant,
                actor=event.actor,
                actor_roles=tuple(event.actor_roles),
                action=event.action,
                target=event.target,
                permission=_PERMISSIONS.get(event.action, ""),
                outcome="success" if event.outcome == "success" else "denied",
                justification=event.justification,
                after={**event.details, "outcome": event.outcome},
            ),
        )
        if event.alert:
            self._alerts.warning(
                event.action,
                alert=True,
                actor=event.actor,
                tenant=event.tenant,
                target=event.target,
                outcome=event.outcome,
            )
