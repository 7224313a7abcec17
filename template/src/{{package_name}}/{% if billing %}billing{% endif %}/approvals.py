"""Maker-checker for money going back to customers: credits and refunds need a second finance user.

- A finance user requests; a *different* finance user approves (the requester
  never can: checked here and by a CHECK constraint on `billing_approvals`).
- At or above `APP_BILLING_SECOND_APPROVAL_THRESHOLD_MINOR` two distinct
  approvers are needed. A request expires after `APP_BILLING_APPROVAL_TTL_HOURS`.
- Approvals serialize on a row lock (`SELECT ... FOR UPDATE`); execution is
  claimed by a conditional `UPDATE ... WHERE status = 'approved'`, so however
  many approvals race, the provider is called once, with an idempotency key
  derived from the request id. A refund also reserves its amount with
  `refunded_minor + amount <= captured_minor` in the same kind of UPDATE, so
  partial refunds can never add up to more than was captured.
- Every step -- request, approval, denial, expiry, execution, failure -- is
  audited with its justification; request, approval and execution also alert.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, Engine, text

from ..security.principal import Principal
from .audit import AuditEvent, AuditSink, BillingAction
from .errors import (
    AdjustmentNotFoundError,
    AdjustmentNotPendingError,
    AlreadyApprovedError,
    ApprovalExpiredError,
    BillingError,
    CheckoutNotFoundError,
    FinanceRoleRequiredError,
    InvalidAdjustmentError,
    RefundExceedsCapturedError,
    SelfApprovalError,
)
from .idempotency import IdempotencyStore, KeyScope, Outcome, checked_key, fingerprint
from .money import check_currency
from .provider import MoneyMovement, PaymentProvider, provider_idempotency_key

Kind = Literal["credit", "refund"]
FINANCE_ROLE = "finance"
MAX_AMOUNT_MINOR = 10**10
_REFERENCE = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")
_ACTIONS = {
    ("credit", "requested"): BillingAction.CREDIT_REQUESTED,
    ("credit", "approved"): BillingAction.CREDIT_APPROVED,
    ("refund", "requested"): BillingAction.REFUND_REQUESTED,
    ("refund", "approved"): BillingAction.REFUND_APPROVED,
}


@dataclass(frozen=True)
class ApprovalRules:
    second_approval_threshold_minor: int
    ttl: timedelta

    def required_approvals(self, amount_minor: int) -> int:
        return 2 if amount_minor >= self.second_approval_threshold_minor else 1


def _reference(value: str | None, label: str) -> str | None:
    if value is None:
        return None
    if not _REFERENCE.fullmatch(value):
        raise InvalidAdjustmentError(f"{label} must be 1-128 letters, digits or . _ : @ -")
    return value


def _text(value: str, label: str, minimum: int, maximum: int) -> str:
    cleaned = (value or "").strip()
    if not minimum <= len(cleaned) <= maximum:
        raise InvalidAdjustmentError(f"{label} must be {minimum}-{maximum} characters")
    return cleaned


class ApprovalService:
    def __init__(
        self,
        *,
        engine: Engine,
        provider: PaymentProvider,
        idempotency: IdempotencyStore,
        audit: AuditSink,
        rules: ApprovalRules,
        clock: Callable[[], datetime],
    ) -> None:
        self._engine = engine
        self._provider = provider
        self._idempotency = idempotency
        self._audit = audit
        self._rules = rules
        self._clock = clock

    # ------------------------------------------------------------------ requests
    def request_credit(
        self, principal: Principal, *, customer: str, amount: int, currency: str, reason: str, payment: str | None
    ) -> dict[str, Any]:
        self._require_finance(principal)
        customer = _reference(customer, "customer") or ""
        payment = _reference(payment, "payment")
        if self._provider.credit_needs_payment and not payment:
            raise InvalidAdjustmentError(f"{self._provider.name} credits against a payment: send `payment`")
        return self._create(principal, "credit", customer, None, payment, amount, currency, reason)

    def request_refund(
        self, principal: Principal, *, checkout_id: str, amount: int, reason: str, idempotency_key: str | None
    ) -> Outcome:
        """A refund of (part of) a paid checkout, at most once per Idempotency-Key."""
        self._require_finance(principal)
        key = checked_key(idempotency_key)
        request_sha = fingerprint({"checkout_id": checkout_id, "amount": amount, "reason": reason})
        scope = KeyScope(principal.tenant, principal.subject, "refund", key)
        return self._idempotency.run(
            scope, request_sha, lambda: self._refund_request(principal, checkout_id, amount, reason)
        )

    def _refund_request(self, principal: Principal, checkout_id: str, amount: int, reason: str) -> dict[str, Any]:
        try:
            checkout_uuid = uuid.UUID(checkout_id)
        except ValueError:
            raise CheckoutNotFoundError from None
        with self._engine.connect() as connection:
            paid = connection.execute(
                text(
                    "SELECT created_by, currency, payment_reference, captured_minor - refunded_minor AS refundable "
                    "FROM billing_checkouts WHERE id = :id AND tenant_id = :tenant AND status = 'paid'"
                ),
                {"id": checkout_uuid, "tenant": principal.tenant},
            ).first()
        if paid is None:
            raise CheckoutNotFoundError
        if amount > paid.refundable:
            raise RefundExceedsCapturedError(paid.refundable)
        return self._create(
            principal, "refund", paid.created_by, checkout_uuid, paid.payment_reference, amount, paid.currency, reason
        )

    def _create(
        self,
        principal: Principal,
        kind: Kind,
        customer: str,
        checkout_id: uuid.UUID | None,
        payment: str | None,
        amount: int,
        currency: str,
        reason: str,
    ) -> dict[str, Any]:
        if not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT_MINOR:
            raise InvalidAdjustmentError(f"amount must be a positive integer of minor units up to {MAX_AMOUNT_MINOR}")
        try:
            currency = check_currency(currency)
        except ValueError as error:
            raise InvalidAdjustmentError(str(error)) from None
        reason = _text(reason, "reason", 3, 500)
        now = self._clock()
        required = self._rules.required_approvals(amount)
        with self._engine.begin() as connection:
            row = connection.execute(
                text(
                    """
                    INSERT INTO billing_adjustments (tenant_id, kind, customer, checkout_id, payment_reference,
                        amount_minor, currency, reason, requested_by, required_approvals, expires_at, created_at)
                    VALUES (:tenant, :kind, :customer, :checkout_id, :payment, :amount, :currency, :reason,
                        :requested_by, :required, :expires_at, :now)
                    RETURNING id
                    """
                ),
                {
                    "tenant": principal.tenant,
                    "kind": kind,
                    "customer": customer,
                    "checkout_id": checkout_id,
                    "payment": payment,
                    "amount": amount,
                    "currency": currency,
                    "reason": reason,
                    "requested_by": principal.subject,
                    "required": required,
                    "expires_at": now + self._rules.ttl,
                    "now": now,
                },
            ).one()
            self._audit.record(
                connection,
                self._event(principal, _ACTIONS[(kind, "requested")], kind, row.id, reason, amount, currency),
            )
        return {"id": str(row.id), "status": "pending", "kind": kind, "required_approvals": required, "approvals": 0}

    # ------------------------------------------------------------------ approval
    def approve(self, principal: Principal, kind: Kind, adjustment_id: str, justification: str) -> dict[str, Any]:
        """Record one approval; execute (once) when enough distinct approvers have approved."""
        self._require_finance(principal)
        justification = _text(justification, "justification", 10, 1000)
        try:
            adjustment_uuid = uuid.UUID(adjustment_id)
        except ValueError:
            raise AdjustmentNotFoundError from None
        denial: BillingError | None = None
        with self._engine.begin() as connection:
            row = connection.execute(
                text(
                    "SELECT id, kind, status, requested_by, required_approvals, expires_at, amount_minor, currency "
                    "FROM billing_adjustments WHERE id = :id AND tenant_id = :tenant AND kind = :kind FOR UPDATE"
                ),
                {"id": adjustment_uuid, "tenant": principal.tenant, "kind": kind},
            ).first()
            if row is None:
                raise AdjustmentNotFoundError
            denial = self._denial(connection, principal, row)
            if denial is None:
                approvals = self._add_approval(connection, principal, row, justification)
        if denial is not None:
            self._audit_denial(principal, row, denial, justification)
            raise denial
        if approvals >= row.required_approvals:
            return self._execute(principal, adjustment_uuid)
        return {
            "id": str(row.id),
            "status": "pending",
            "kind": kind,
            "required_approvals": row.required_approvals,
            "approvals": approvals,
        }

    def _denial(self, connection: Connection, principal: Principal, row: Any) -> BillingError | None:
        if row.requested_by == principal.subject:
            return SelfApprovalError()
        if row.status != "pending":
            return AdjustmentNotPendingError(row.status)
        if self._clock() >= row.expires_at:
            connection.execute(
                text("UPDATE billing_adjustments SET status = 'expired' WHERE id = :id AND status = 'pending'"),
                {"id": row.id},
            )
            return ApprovalExpiredError()
        return None

    def _add_approval(self, connection: Connection, principal: Principal, row: Any, justification: str) -> int:
        inserted = connection.execute(
            text(
                "INSERT INTO billing_approvals (adjustment_id, approver, requester, justification, approved_at) "
                "VALUES (:id, :approver, :requester, :justification, :now) ON CONFLICT DO NOTHING RETURNING approver"
            ),
            {
                "id": row.id,
                "approver": principal.subject,
                "requester": row.requested_by,
                "justification": justification,
                "now": self._clock(),
            },
        ).first()
        if inserted is None:
            raise AlreadyApprovedError
        approvals = connection.execute(
            text("SELECT count(*) FROM billing_approvals WHERE adjustment_id = :id"), {"id": row.id}
        ).scalar_one()
        if approvals >= row.required_approvals:
            connection.execute(
                text("UPDATE billing_adjustments SET status = 'approved' WHERE id = :id"), {"id": row.id}
            )
        self._audit.record(
            connection,
            self._event(
                principal,
                _ACTIONS[(row.kind, "approved")],
                row.kind,
                row.id,
                justification,
                row.amount_minor,
                row.currency,
                approvals=approvals,
            ),
        )
        return approvals

    def _audit_denial(self, principal: Principal, row: Any, denial: BillingError, justification: str) -> None:
        """Denials are recorded in their own transaction: the attempt must be visible even though nothing changed."""
        expired = isinstance(denial, ApprovalExpiredError)
        with self._engine.begin() as connection:
            self._audit.record(
                connection,
                AuditEvent(
                    action=BillingAction.APPROVAL_EXPIRED if expired else BillingAction.APPROVAL_DENIED,
                    actor=principal.subject,
                    actor_roles=principal.roles,
                    tenant=principal.tenant,
                    target=f"{row.kind}:{row.id}",
                    at=self._clock(),
                    outcome="denied",
                    justification=justification,
                    details={"reason": denial.code},
                    alert=isinstance(denial, SelfApprovalError),
                ),
            )

    # ------------------------------------------------------------------ execution
    def _execute(self, principal: Principal, adjustment_id: uuid.UUID) -> dict[str, Any]:
        refundable: int | None = None
        with self._engine.begin() as connection:
            row = connection.execute(
                text(
                    "UPDATE billing_adjustments SET status = 'executing' WHERE id = :id AND status = 'approved' "
                    "RETURNING id, kind, customer, checkout_id, payment_reference, amount_minor, currency, reason, "
                    "tenant_id, required_approvals"
                ),
                {"id": adjustment_id},
            ).first()
            if row is None:  # another approver's request is executing it
                raise AdjustmentNotPendingError("approved")
            if row.kind == "refund":
                refundable = self._reserve_refund(connection, principal, row)
        if refundable is not None:
            raise RefundExceedsCapturedError(refundable)
        movement = MoneyMovement(
            adjustment_id=str(row.id),
            customer=row.customer,
            payment_reference=row.payment_reference,
            amount_minor=row.amount_minor,
            currency=row.currency,
            reason=row.reason,
            idempotency_key=provider_idempotency_key("adjustment", str(row.id)),
        )
        try:
            receipt = self._provider.refund(movement) if row.kind == "refund" else self._provider.credit(movement)
        except BillingError as error:
            self._finish(principal, row, status="failed", reference=None, failure=error.code)
            raise
        self._finish(principal, row, status="executed", reference=receipt.provider_reference, failure=None)
        return {
            "id": str(row.id),
            "status": "executed",
            "kind": row.kind,
            "required_approvals": row.required_approvals,
            "approvals": row.required_approvals,
            "provider_reference": receipt.provider_reference,
        }

    def _reserve_refund(self, connection: Connection, principal: Principal, row: Any) -> int | None:
        """Book the refund against the capture; None when it fits, else what can still be refunded."""
        reserved = connection.execute(
            text(
                "UPDATE billing_checkouts SET refunded_minor = refunded_minor + :amount "
                "WHERE id = :checkout AND refunded_minor + :amount <= captured_minor RETURNING id"
            ),
            {"amount": row.amount_minor, "checkout": row.checkout_id},
        ).first()
        if reserved is not None:
            return None
        connection.execute(
            text("UPDATE billing_adjustments SET status = 'failed', failure = 'exceeds_captured' WHERE id = :id"),
            {"id": row.id},
        )
        self._audit.record(
            connection,
            AuditEvent(
                action=BillingAction.PAYOUT_FAILED,
                actor=principal.subject,
                actor_roles=principal.roles,
                tenant=row.tenant_id,
                target=f"{row.kind}:{row.id}",
                at=self._clock(),
                outcome="failed",
                justification=row.reason,
                details={"amount": row.amount_minor, "currency": row.currency, "failure": "exceeds_captured"},
                alert=True,
            ),
        )
        return connection.execute(
            text("SELECT captured_minor - refunded_minor FROM billing_checkouts WHERE id = :checkout"),
            {"checkout": row.checkout_id},
        ).scalar_one()

    def _finish(
        self, principal: Principal, row: Any, *, status: str, reference: str | None, failure: str | None
    ) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE billing_adjustments SET status = :status, provider_reference = :reference, "
                    "failure = :failure, executed_at = :now WHERE id = :id AND status = 'executing'"
                ),
                {"status": status, "reference": reference, "failure": failure, "now": self._clock(), "id": row.id},
            )
            if status == "failed" and row.kind == "refund":
                connection.execute(
                    text("UPDATE billing_checkouts SET refunded_minor = refunded_minor - :amount WHERE id = :checkout"),
                    {"amount": row.amount_minor, "checkout": row.checkout_id},
                )
            self._audit.record(
                connection,
                AuditEvent(
                    action=BillingAction.PAYOUT_EXECUTED if status == "executed" else BillingAction.PAYOUT_FAILED,
                    actor=principal.subject,
                    actor_roles=principal.roles,
                    tenant=row.tenant_id,
                    target=f"{row.kind}:{row.id}",
                    at=self._clock(),
                    outcome="success" if status == "executed" else "failed",
                    justification=row.reason,
                    details={"amount": row.amount_minor, "currency": row.currency, "provider_reference": reference},
                    alert=True,
                ),
            )

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _require_finance(principal: Principal) -> None:
        if not principal.has_role(FINANCE_ROLE):
            raise FinanceRoleRequiredError

    def _event(
        self,
        principal: Principal,
        action: str,
        kind: str,
        adjustment_id: uuid.UUID,
        justification: str,
        amount: int,
        currency: str,
        **details: object,
    ) -> AuditEvent:
        return AuditEvent(
            action=action,
            actor=principal.subject,
            actor_roles=principal.roles,
            tenant=principal.tenant,
            target=f"{kind}:{adjustment_id}",
            at=self._clock(),
            justification=justification,
            details={"amount": amount, "currency": currency, **details},
            alert=True,
        )
