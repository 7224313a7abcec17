"""Money leaving the vendor -- credits and refunds: back to the tenant that paid, approved by the vendor.

Whose money (billing/ledger.py):
- A tenant's finance user requests a credit or refund against a payment the
  app recorded, from a verified webhook, FOR THE CALLER'S TENANT. The request
  names the provider's payment reference (or, for a refund, the checkout);
  the customer or payment the provider is then asked to pay back is read from
  that ledger row, never from the request. An unknown reference and another
  tenant's look alike (404) and are audited; another tenant's also alerts (PAY004).
- Credits and refunds of one payment share its ledger row: the amount is
  reserved there at execution with one conditional UPDATE, so however many
  approvals race, the total moved never exceeds what was captured.

Who approves (security/operators.py):
- A vendor operator (`operator_finance`, a principal of the operator tenant)
  approves; tenant finance users and tenant admins never can. Approving reads
  the request across tenants -- the one cross-tenant read of billing, made only
  after the caller proved to be an operator.
- Never the requester (also a CHECK on `billing_approvals`), never anyone of
  the tenant receiving the money (also a CHECK, on the approver's and the
  beneficiary's tenants), never whoever paid. Refusals are audited and alert.
- At or above `APP_BILLING_SECOND_APPROVAL_THRESHOLD_MINOR` two distinct
  approvers are needed. The threshold applies to the running total, not to one
  request: everything requested against the same payment (pending, approved,
  executing or executed, this request included), and everything the tenant
  requested in the last `ApprovalRules.window` -- so splitting 25 000 into
  9 000 + 9 000 + 7 000 does not dodge the second approver. An operator's
  approval counts for one request only: approving a sibling on the same
  payment is no second approval of this one. A request expires after
  `APP_BILLING_APPROVAL_TTL_HOURS`.
- Approvals serialize on a row lock (`SELECT ... FOR UPDATE`); execution is
  claimed by a conditional `UPDATE ... WHERE status = 'approved'`, so the
  provider is called once, with an idempotency key derived from the request id.

What was executed (billing/ledger.py, billing/subscriptions.py):
- When an executed movement leaves nothing of the payment to give back --
  whatever mix of credits and refunds -- the payment is closed as `refunded`
  and the subscription it paid for is revoked, in the transaction that marks
  the request executed (as a provider-reported full refund does).
- A definite refusal by the provider (a 4xx) fails the request and releases
  its reservation. An uncertain failure (5xx, timeout, lost connection: the
  provider may have executed it) keeps the reservation and leaves the request
  `executing` with failure `outcome_unknown`; approving it again retries with
  the SAME idempotency key where the provider replays (Stripe, Adyen), and is
  refused (`payout_outcome_unknown`) where it cannot (Braintree, Paddle:
  reconcile in their dashboard). Nothing else can move that amount meanwhile.
- Every step -- request, approval, denial, expiry, execution, failure -- is
  audited in the chain of the tenant receiving the money, with its
  justification; request, approval and execution also alert.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, Engine, text

from ..security.operators import OperatorScope
from ..security.principal import Principal
from .audit import AuditEvent, AuditSink, BillingAction
from .errors import (
    AdjustmentNotFoundError,
    AdjustmentNotPendingError,
    AlreadyApprovedError,
    ApprovalExpiredError,
    BeneficiaryApprovalError,
    BillingError,
    CheckoutNotFoundError,
    CurrencyMismatchError,
    FinanceRoleRequiredError,
    InvalidAdjustmentError,
    OperatorRoleRequiredError,
    PaymentDisputedError,
    PaymentNotFoundError,
    PayoutOutcomeUnknownError,
    ProviderOutcomeUnknownError,
    RefundExceedsCapturedError,
    SelfApprovalError,
)
from .idempotency import IdempotencyStore, KeyScope, Outcome, checked_key, fingerprint
from .ledger import Payment, PaymentLedger
from .money import check_currency
from .provider import MoneyMovement, PaymentProvider, provider_idempotency_key
from .subscriptions import SubscriptionStore

Kind = Literal["credit", "refund"]
FINANCE_ROLE = "finance"
OPERATOR_ROLE = "operator_finance"
MAX_AMOUNT_MINOR = 10**10
_REFERENCE = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")
_ACTIONS = {
    ("credit", "requested"): BillingAction.CREDIT_REQUESTED,
    ("credit", "approved"): BillingAction.CREDIT_APPROVED,
    ("refund", "requested"): BillingAction.REFUND_REQUESTED,
    ("refund", "approved"): BillingAction.REFUND_APPROVED,
}
#: Denials that mean someone tried to approve money going to themselves: they alert.
_ALERTING_DENIALS = (SelfApprovalError, BeneficiaryApprovalError)
#: `failure` of a request the provider may have executed: reservation kept, status stays `executing`.
OUTCOME_UNKNOWN = "outcome_unknown"
#: What the second-approval threshold adds up: requests that may still move money or did, on this payment
#: (ever) and of this tenant (within the window). Failed and expired requests moved nothing and never will.
_RUNNING_TOTALS = """
SELECT COALESCE(SUM(amount_minor) FILTER (WHERE payment_id = :payment), 0) AS on_payment,
       COALESCE(SUM(amount_minor) FILTER (WHERE created_at >= :since), 0) AS in_window
  FROM billing_adjustments
 WHERE tenant_id = :tenant AND status IN ('pending', 'approved', 'executing', 'executed')
   AND (status <> 'pending' OR expires_at > :now)
   AND (payment_id = :payment OR created_at >= :since)
"""
#: The columns execution needs, claimed by one conditional UPDATE (first execution or a retry).
_CLAIM_FIRST = (
    "UPDATE billing_adjustments SET status = 'executing' WHERE id = :id AND status = 'approved' "
    "RETURNING id, kind, payment_id, amount_minor, currency, reason, tenant_id, required_approvals"
)
_CLAIM_RETRY = (
    "UPDATE billing_adjustments SET failure = NULL WHERE id = :id AND status = 'executing' AND failure = :unknown "
    "RETURNING id, kind, payment_id, amount_minor, currency, reason, tenant_id, required_approvals"
)


@dataclass(frozen=True)
class ApprovalRules:
    second_approval_threshold_minor: int
    ttl: timedelta
    #: How far back a tenant's requests on any of its payments add up towards the threshold.
    window: timedelta = timedelta(hours=24)

    def required_approvals(self, amount_minor: int) -> int:
        return 2 if amount_minor >= self.second_approval_threshold_minor else 1


def _reference(value: str, label: str) -> str:
    if not isinstance(value, str) or not _REFERENCE.fullmatch(value):
        raise InvalidAdjustmentError(f"{label} must be 1-128 letters, digits or . _ : @ -")
    return value


def _text(value: str, label: str, minimum: int, maximum: int) -> str:
    cleaned = (value or "").strip()
    if not minimum <= len(cleaned) <= maximum:
        raise InvalidAdjustmentError(f"{label} must be {minimum}-{maximum} characters")
    return cleaned


def _amount(amount: int) -> int:
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= MAX_AMOUNT_MINOR:
        raise InvalidAdjustmentError(f"amount must be a positive integer of minor units up to {MAX_AMOUNT_MINOR}")
    return amount


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
        operators: OperatorScope,
        ledger: PaymentLedger | None = None,
        subscriptions: SubscriptionStore | None = None,
    ) -> None:
        self._engine = engine
        self._provider = provider
        self._idempotency = idempotency
        self._audit = audit
        self._rules = rules
        self._clock = clock
        self._operators = operators
        self._ledger = ledger or PaymentLedger(provider.name, credit_is_refund=provider.credit_is_refund)
        self._subscriptions = subscriptions

    # ------------------------------------------------------------------ requests
    def request_credit(
        self, principal: Principal, *, payment: str, amount: int, currency: str, reason: str
    ) -> dict[str, Any]:
        """A credit against one of the caller's tenant's recorded payments (`payment`: the provider's id)."""
        self._require_finance(principal)
        reference = _reference(payment, "payment")
        amount = _amount(amount)
        try:
            currency = check_currency(currency)
        except ValueError as error:
            raise InvalidAdjustmentError(str(error)) from None
        reason = _text(reason, "reason", 3, 500)
        with self._engine.connect() as connection:
            paid = self._ledger.owned_by(connection, principal.tenant, reference)
            owner = self._ledger.owner_of(connection, reference) if paid is None else None
        if paid is None:
            self._refuse_payment(principal, "credit", f"payment:{reference}", owner, reason)
            raise PaymentNotFoundError
        if paid.currency != currency:
            raise CurrencyMismatchError(paid.currency)
        if self._provider.credit_needs_customer and not paid.provider_customer:
            raise InvalidAdjustmentError(
                f"{self._provider.name} recorded no customer for this payment to credit; refund it instead"
            )
        return self._create(principal, "credit", paid, amount, reason)

    def request_refund(
        self, principal: Principal, *, checkout_id: str, amount: int, reason: str, idempotency_key: str | None
    ) -> Outcome:
        """A refund of (part of) a paid checkout of the caller's tenant, at most once per Idempotency-Key."""
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
        amount = _amount(amount)
        reason = _text(reason, "reason", 3, 500)
        with self._engine.connect() as connection:
            paid = self._ledger.first_of_checkout(connection, principal.tenant, checkout_uuid)
            owner = None
            if paid is None:
                owner = connection.execute(
                    text("SELECT tenant_id FROM billing_checkouts WHERE id = :id"), {"id": checkout_uuid}
                ).scalar_one_or_none()
        if paid is None:
            self._refuse_payment(principal, "refund", f"checkout:{checkout_uuid}", owner, reason)
            raise CheckoutNotFoundError
        return self._create(principal, "refund", paid, amount, reason)

    def _create(self, principal: Principal, kind: Kind, paid: Payment, amount: int, reason: str) -> dict[str, Any]:
        if paid.status == "disputed":
            raise PaymentDisputedError  # frozen until the dispute closes (billing/ledger.py)
        movable = self._ledger.movable_minor(paid)
        if amount > movable:
            raise RefundExceedsCapturedError(movable)
        now = self._clock()
        with self._engine.begin() as connection:
            required = self._required_approvals(connection, paid, amount, now)
            row = connection.execute(
                text(
                    """
                    INSERT INTO billing_adjustments (tenant_id, kind, customer, checkout_id, payment_reference,
                        payment_id, amount_minor, currency, reason, requested_by, required_approvals, expires_at,
                        created_at)
                    VALUES (:tenant, :kind, :customer, :checkout_id, :payment, :payment_id, :amount, :currency,
                        :reason, :requested_by, :required, :expires_at, :now)
                    RETURNING id
                    """
                ),
                {
                    "tenant": paid.tenant,
                    "kind": kind,
                    "customer": paid.provider_customer,
                    "checkout_id": paid.checkout_id,
                    "payment": paid.reference,
                    "payment_id": paid.id,
                    "amount": amount,
                    "currency": paid.currency,
                    "reason": reason,
                    "requested_by": principal.subject,
                    "required": required,
                    "expires_at": now + self._rules.ttl,
                    "now": now,
                },
            ).one()
            self._audit.record(
                connection,
                self._event(principal, paid.tenant, _ACTIONS[(kind, "requested")], kind, row.id, reason, amount, paid),
            )
        return {"id": str(row.id), "status": "pending", "kind": kind, "required_approvals": required, "approvals": 0}

    def _required_approvals(self, connection: Connection, paid: Payment, amount: int, now: datetime) -> int:
        """Approvals for `amount` on top of what the payment and the tenant already have under way.

        The tenant's requests serialize on a transaction-scoped advisory lock, so two requests
        made at once each see the other's amount.
        """
        connection.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"billing-adjustments:{paid.tenant}"},
        )
        totals = connection.execute(
            text(_RUNNING_TOTALS),
            {"tenant": paid.tenant, "payment": paid.id, "since": now - self._rules.window, "now": now},
        ).one()
        return self._rules.required_approvals(max(totals.on_payment, totals.in_window) + amount)

    def _refuse_payment(self, principal: Principal, kind: Kind, target: str, owner: str | None, reason: str) -> None:
        """Audit a request naming a payment the caller's tenant does not own; another tenant's alerts."""
        foreign = owner is not None and owner != principal.tenant
        with self._engine.begin() as connection:
            self._audit.record(
                connection,
                AuditEvent(
                    action=BillingAction.PAYMENT_FOREIGN if foreign else BillingAction.PAYMENT_UNKNOWN,
                    actor=principal.subject,
                    actor_roles=principal.roles,
                    tenant=principal.tenant,
                    target=target,
                    at=self._clock(),
                    outcome="denied",
                    justification=reason,
                    details={"kind": kind},
                    alert=foreign,
                ),
            )

    # ------------------------------------------------------------------ approval
    def approve(self, principal: Principal, kind: Kind, adjustment_id: str, justification: str) -> dict[str, Any]:
        """Record one operator's approval; execute (once) when enough distinct operators have approved."""
        if not self._operators.is_operator(principal, OPERATOR_ROLE):
            raise OperatorRoleRequiredError
        justification = _text(justification, "justification", 10, 1000)
        try:
            adjustment_uuid = uuid.UUID(adjustment_id)
        except ValueError:
            raise AdjustmentNotFoundError from None
        with self._engine.begin() as connection:
            # Across tenants on purpose: the approver is the vendor's, the request a customer tenant's.
            row = connection.execute(
                text(
                    "SELECT a.id, a.kind, a.status, a.tenant_id, a.requested_by, a.required_approvals, "
                    "a.expires_at, a.amount_minor, a.currency, a.payment_id, a.failure, p.payer "
                    "FROM billing_adjustments a LEFT JOIN billing_payments p ON p.id = a.payment_id "
                    "WHERE a.id = :id AND a.kind = :kind FOR UPDATE OF a"
                ),
                {"id": adjustment_uuid, "kind": kind},
            ).first()
            if row is None:
                raise AdjustmentNotFoundError
            denial = self._denial(connection, principal, row)
            retry = denial is None and row.status == "executing"
            if denial is None and not retry:
                approvals = self._add_approval(connection, principal, row, justification)
        if denial is not None:
            self._audit_denial(principal, row, denial, justification)
            raise denial
        if retry:  # fully approved already; the provider's answer was lost (see _denial)
            return self._execute(principal, adjustment_uuid, retry=True)
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
        same_tenant = not self._operators.single_tenant and row.tenant_id == principal.tenant
        if same_tenant or row.payer == principal.subject:
            return BeneficiaryApprovalError()
        if row.payment_id is None:
            return PaymentNotFoundError()  # made before the ledger existed; billing_0002 expired these
        if row.status == "executing" and row.failure == OUTCOME_UNKNOWN:
            # Retried with the same idempotency key only where the provider deduplicates it.
            return None if self._provider.replays_money_movement else PayoutOutcomeUnknownError()
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
                "INSERT INTO billing_approvals (adjustment_id, approver, requester, approver_tenant, "
                "beneficiary_tenant, justification, approved_at) "
                "VALUES (:id, :approver, :requester, :approver_tenant, :beneficiary_tenant, :justification, :now) "
                "ON CONFLICT DO NOTHING RETURNING approver"
            ),
            {
                "id": row.id,
                "approver": principal.subject,
                "requester": row.requested_by,
                "approver_tenant": principal.tenant,
                "beneficiary_tenant": row.tenant_id,
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
            AuditEvent(
                action=_ACTIONS[(row.kind, "approved")],
                actor=principal.subject,
                actor_roles=principal.roles,
                tenant=row.tenant_id,
                target=f"{row.kind}:{row.id}",
                at=self._clock(),
                justification=justification,
                details={
                    "amount": row.amount_minor,
                    "currency": row.currency,
                    "approvals": approvals,
                    "approver_tenant": principal.tenant,
                },
                alert=True,
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
                    tenant=row.tenant_id,
                    target=f"{row.kind}:{row.id}",
                    at=self._clock(),
                    outcome="denied",
                    justification=justification,
                    details={"reason": denial.code, "approver_tenant": principal.tenant},
                    alert=isinstance(denial, _ALERTING_DENIALS),
                ),
            )

    # ------------------------------------------------------------------ execution
    def _execute(self, principal: Principal, adjustment_id: uuid.UUID, *, retry: bool = False) -> dict[str, Any]:
        """Claim the request and call the provider; a retry keeps the reservation its first attempt made."""
        movable: int | None = None
        with self._engine.begin() as connection:
            row = connection.execute(
                text(_CLAIM_RETRY if retry else _CLAIM_FIRST), {"id": adjustment_id, "unknown": OUTCOME_UNKNOWN}
            ).first()
            if row is None:  # another approver's request is executing it
                raise AdjustmentNotPendingError("executing" if retry else "approved")
            paid = self._ledger.get(connection, row.payment_id)
            # A retry's amount is still booked by its first attempt (an unknown outcome is never released).
            if not retry and (
                paid is None or not self._ledger.reserve(connection, row.payment_id, row.kind, row.amount_minor)
            ):
                movable = self._fail_reservation(connection, principal, row, paid)
        if movable is not None:
            raise RefundExceedsCapturedError(movable)
        assert paid is not None
        movement = MoneyMovement(
            adjustment_id=str(row.id),
            customer=paid.provider_customer,
            payment_reference=paid.reference,
            amount_minor=row.amount_minor,
            currency=row.currency,
            reason=row.reason,
            idempotency_key=provider_idempotency_key("adjustment", str(row.id)),
        )
        try:
            receipt = self._provider.refund(movement) if row.kind == "refund" else self._provider.credit(movement)
        except ProviderOutcomeUnknownError:
            # It may have happened: keep the amount booked, so no other request can move it again.
            self._finish(principal, row, status="executing", reference=None, failure=OUTCOME_UNKNOWN)
            raise
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

    def _fail_reservation(self, connection: Connection, principal: Principal, row: Any, paid: Payment | None) -> int:
        """The amount no longer fits the payment: fail the request (audited, alerted); returns what still fits."""
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
        current = self._ledger.get(connection, row.payment_id) if paid is not None else None
        return self._ledger.movable_minor(current) if current is not None else 0

    def _finish(
        self, principal: Principal, row: Any, *, status: str, reference: str | None, failure: str | None
    ) -> None:
        """`executed`; `failed` (refused for certain: the reservation goes back); or still `executing` with
        failure `outcome_unknown` (the reservation stays)."""
        with self._engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE billing_adjustments SET status = :status, provider_reference = :reference, "
                    "failure = :failure, executed_at = :executed_at WHERE id = :id AND status = 'executing'"
                ),
                {
                    "status": status,
                    "reference": reference,
                    "failure": failure,
                    "executed_at": None if status == "executing" else self._clock(),
                    "id": row.id,
                },
            )
            if status == "failed":
                self._ledger.release(connection, row.payment_id, row.kind, row.amount_minor)
            elif status == "executed":
                self._close_if_given_back(connection, principal, row)
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
                    details={
                        "amount": row.amount_minor,
                        "currency": row.currency,
                        "provider_reference": reference,
                        "failure": failure,
                    },
                    alert=True,
                ),
            )

    def _close_if_given_back(self, connection: Connection, principal: Principal, row: Any) -> None:
        """Everything captured went back (credits and refunds together): close the payment, revoke what it paid."""
        closed = self._ledger.close_if_given_back(connection, row.payment_id)
        if closed is None or self._subscriptions is None:
            return
        revoked = self._subscriptions.revoke(
            connection,
            tenant=closed.tenant,
            subscription_reference=closed.subscription_reference,
            checkout_id=closed.checkout_id,
            at=self._clock(),
        )
        for subscription_id in revoked:
            self._audit.record(
                connection,
                AuditEvent(
                    action=BillingAction.SUBSCRIPTION_REVOKED,
                    actor=principal.subject,
                    actor_roles=principal.roles,
                    tenant=closed.tenant,
                    target=f"subscription:{subscription_id}",
                    at=self._clock(),
                    outcome="success",
                    details={"cause": "given_back", "payment": closed.reference, "amount": closed.captured_minor},
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
        tenant: str,
        action: str,
        kind: str,
        adjustment_id: uuid.UUID,
        justification: str,
        amount: int,
        paid: Payment,
    ) -> AuditEvent:
        return AuditEvent(
            action=action,
            actor=principal.subject,
            actor_roles=principal.roles,
            tenant=tenant,
            target=f"{kind}:{adjustment_id}",
            at=self._clock(),
            justification=justification,
            details={"amount": amount, "currency": paid.currency, "payment": paid.reference},
            alert=True,
        )
