"""Webhooks: verify -> replay guard -> idempotent, order-aware apply.

1. The adapter verifies the raw body with the provider SDK's verifier. A bad,
   missing or stale signature raises before anything is written.
2. Each event is INSERTed into `billing_webhook_events` under UNIQUE
   (provider, event_id). A replay (or a concurrent duplicate delivery) finds the
   row and is acknowledged without being applied again.
3. The event is applied in the same transaction as that INSERT, so it is
   stored-and-applied or neither (a failure makes the provider retry).
4. State transitions carry the provider's event time: an event older than the
   state it would replace is recorded as `ignored_out_of_order`, never applied.
5. A payment counts only when the provider billed what the server priced
   (amounts.py): a checkout or renewal that paid anything else is recorded as
   `amount_mismatch` and raises an alert; a mismatched renewal is dunned as a
   failed one.
6. Every captured payment that paid what the server priced -- a checkout paid,
   a subscription's first invoice, a renewal -- becomes a row of the payment
   ledger (billing/ledger.py), with the tenant it belongs to and the amount the
   provider captured: the only payments credits and refunds can name. A
   mismatched payment never enters it (whatever it captured goes back only from
   the provider's dashboard, after a human looked at the alert). A full refund
   or a lost chargeback the provider reports closes the row and revokes the
   subscription it paid for.
7. A revoked subscription is canceled at the provider too, after the event's
   transaction committed (no network call holds the row locks), so the
   provider stops renewing it. If that call fails the local row stays revoked
   (`canceled` is final, subscriptions.py) and an alerting audit event
   (`billing.subscription.provider_cancel_failed`) tells a human to cancel it
   in the provider's dashboard.
8. A dispute the provider reports open freezes the disputed payment's ledger
   row ('disputed': nothing can be credited or refunded against it); won, the
   row is 'captured' again; lost, it is charged back as in 6.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

import structlog
from sqlalchemy import Connection, Engine, text

from .amounts import paid_as_priced, renewal_price
from .audit import AuditEvent, AuditSink, BillingAction
from .errors import UnsupportedOperationError
from .ledger import Capture, Payment, PaymentKind, PaymentLedger
from .provider import EventKind, PaymentProvider, WebhookEvent
from .subscriptions import SubscriptionStore

log = structlog.get_logger("billing.webhooks")

#: Later states win ties of equal event time (Stripe timestamps have one-second resolution).
_RANK = {"charging": 1, "failed": 2, "paid": 3, "amount_mismatch": 4}


@dataclass
class WebhookReport:
    """What one delivery did: outcomes by event id (`applied`, `duplicate`, `ignored_out_of_order`, ...)."""

    outcomes: dict[str, str] = field(default_factory=dict)

    @property
    def duplicates(self) -> int:
        return sum(1 for outcome in self.outcomes.values() if outcome == "duplicate")


class WebhookProcessor:
    def __init__(
        self,
        *,
        engine: Engine,
        provider: PaymentProvider,
        subscriptions: SubscriptionStore,
        audit: AuditSink,
        clock: Callable[[], datetime],
        ledger: PaymentLedger | None = None,
    ) -> None:
        self._engine = engine
        self._provider = provider
        self._subscriptions = subscriptions
        self._ledger = ledger or PaymentLedger(provider.name, credit_is_refund=provider.credit_is_refund)
        self._audit = audit
        self._clock = clock

    def handle(self, provider_name: str, headers: Mapping[str, str], body: bytes) -> WebhookReport:
        """Verify and apply one delivery; raises WebhookRejectedError (400) with no side effect."""
        if provider_name != self._provider.name:
            raise UnsupportedOperationError(f"no webhook endpoint for {provider_name!r}")
        events = self._provider.verify_webhook(headers, body, now=self._clock())
        report = WebhookReport()
        for event in events:
            revoked: list[tuple[str, str, str]] = []
            report.outcomes[event.event_id] = self._apply_once(event, revoked)
            for tenant, subscription_id, reference in revoked:
                self._cancel_at_provider(event, tenant, subscription_id, reference)
        return report

    def _apply_once(self, event: WebhookEvent, revoked: list[tuple[str, str, str]]) -> str:
        with self._engine.begin() as connection:
            stored = connection.execute(
                text(
                    "INSERT INTO billing_webhook_events (provider, event_id, kind, provider_type, occurred_at) "
                    "VALUES (:provider, :event_id, :kind, :provider_type, :occurred_at) "
                    "ON CONFLICT (provider, event_id) DO NOTHING RETURNING id"
                ),
                {
                    "provider": event.provider,
                    "event_id": event.event_id,
                    "kind": event.kind.value,
                    "provider_type": event.provider_type,
                    "occurred_at": event.occurred_at,
                },
            ).first()
            if stored is None:
                return "duplicate"
            outcome = self._apply(connection, event, revoked)
            connection.execute(
                text("UPDATE billing_webhook_events SET outcome = :outcome WHERE id = :id"),
                {"outcome": outcome, "id": stored.id},
            )
        return outcome

    def _apply(self, connection: Connection, event: WebhookEvent, revoked: list[tuple[str, str, str]]) -> str:
        """Apply one stored event; subscriptions it revoked are appended to `revoked` (tenant, id, reference)."""
        if event.kind in (EventKind.PAYMENT_SUCCEEDED, EventKind.PAYMENT_FAILED):
            return self._checkout_transition(connection, event)
        if event.kind is EventKind.PAYMENT_CAPTURED:
            return self._captured_for_checkout(connection, event)
        if event.kind in (EventKind.RENEWAL_SUCCEEDED, EventKind.RENEWAL_FAILED, EventKind.SUBSCRIPTION_CANCELED):
            if not event.subscription_reference:
                return "unmatched"
            if event.kind is EventKind.RENEWAL_SUCCEEDED:
                return self._paid_renewal(connection, event)
            return self._subscriptions.apply(connection, event)
        if event.kind is EventKind.REFUNDED:
            return self._refunded(connection, event, revoked)
        if event.kind is EventKind.CHARGEBACK:
            return self._charged_back(connection, event, revoked)
        if event.kind in (EventKind.DISPUTE_OPENED, EventKind.DISPUTE_WON):
            return self._dispute_changed(connection, event)
        return "ignored"

    # ------------------------------------------------------------------ the payment ledger
    def _record(
        self,
        connection: Connection,
        event: WebhookEvent,
        *,
        tenant: str,
        payer: str,
        checkout_id: uuid.UUID | None,
        kind: PaymentKind,
    ) -> bool:
        if not event.payment_reference or event.amount_minor is None or not event.currency:
            return False
        return self._ledger.record(
            connection,
            Capture(
                provider=event.provider,
                reference=event.payment_reference,
                tenant=tenant,
                payer=payer,
                checkout_id=checkout_id,
                subscription_reference=event.subscription_reference,
                provider_customer=event.customer_reference,
                kind=kind,
                amount_minor=event.amount_minor,
                currency=event.currency,
                at=event.occurred_at,
            ),
        )

    def _captured_for_checkout(self, connection: Connection, event: WebhookEvent) -> str:
        """The first payment of a checkout, reported on its own (Stripe: a subscription's first invoice)."""
        checkout = connection.execute(
            text(
                "SELECT id, tenant_id, created_by, due_now_minor, currency FROM billing_checkouts "
                "WHERE id = :id AND provider = :provider"
            ),
            {"id": _uuid(event.checkout_id), "provider": event.provider},
        ).first()
        if checkout is None:
            return "unmatched"
        if not paid_as_priced(event, checkout.due_now_minor, checkout.currency):
            self._mismatch(
                connection,
                event,
                tenant=checkout.tenant_id,
                target=f"checkout:{checkout.id}",
                expected=checkout.due_now_minor,
            )
            return "amount_mismatch"
        recorded = self._record(
            connection,
            event,
            tenant=checkout.tenant_id,
            payer=checkout.created_by,
            checkout_id=checkout.id,
            kind="first",
        )
        return "recorded" if recorded else "ignored"

    def _record_renewal(self, connection: Connection, event: WebhookEvent) -> None:
        """A renewal that paid the subscription's price: its capture joins the ledger."""
        subscription = connection.execute(
            text(
                "SELECT tenant_id, customer, checkout_id FROM billing_subscriptions "
                "WHERE provider_reference = :reference"
            ),
            {"reference": event.subscription_reference},
        ).first()
        if subscription is not None:
            self._record(
                connection,
                event,
                tenant=subscription.tenant_id,
                payer=subscription.customer,
                checkout_id=subscription.checkout_id,
                kind="renewal",
            )

    def _refunded(self, connection: Connection, event: WebhookEvent, revoked: list[tuple[str, str, str]]) -> str:
        """The provider refunded (part of) a payment -- ours or from its dashboard; a full refund revokes."""
        if not event.payment_reference or event.amount_minor is None:
            return "unmatched"
        booked = self._ledger.provider_refunded(
            connection, event.payment_reference, event.amount_minor, cumulative=event.cumulative_amount
        )
        if booked is None:
            return "unmatched"
        payment, now_full = booked
        if now_full:
            revoked += self._revoke(connection, event, payment, cause="full_refund")
        return "applied"

    def _charged_back(self, connection: Connection, event: WebhookEvent, revoked: list[tuple[str, str, str]]) -> str:
        if not event.payment_reference:
            return "unmatched"
        booked = self._ledger.charged_back(connection, event.payment_reference)
        if booked is None:
            return "unmatched"
        payment, newly = booked
        if newly:
            revoked += self._revoke(connection, event, payment, cause="chargeback")
        return "applied"

    def _dispute_changed(self, connection: Connection, event: WebhookEvent) -> str:
        """Freeze the disputed payment's ledger row while the dispute is open; thaw it when the merchant won."""
        if not event.payment_reference:
            return "unmatched"
        opened = event.kind is EventKind.DISPUTE_OPENED
        payment = self._ledger.dispute_changed(connection, event.payment_reference, opened=opened)
        if payment is None:
            return "unmatched"
        if opened:
            self._audit.record(
                connection,
                AuditEvent(
                    action=BillingAction.PAYMENT_DISPUTED,
                    actor=f"provider:{event.provider}",
                    tenant=payment.tenant,
                    target=f"payment:{payment.reference}",
                    at=self._clock(),
                    outcome="success",
                    details={"status": payment.status, "amount": payment.captured_minor},
                    alert=True,
                ),
            )
        return "applied"

    def _cancel_at_provider(self, event: WebhookEvent, tenant: str, subscription_id: str, reference: str) -> None:
        """Stop the provider renewing a revoked subscription; a failure alerts, the local row stays revoked."""
        if reference.startswith("checkout:"):
            return  # never named by the provider: nothing of it exists there
        try:
            self._provider.cancel_subscription(reference)
            return
        except Exception as error:  # noqa: BLE001 -- whatever failed, the revocation stands and a human is told
            log.warning("provider_cancel_failed", subscription=subscription_id, error=type(error).__name__)
        with self._engine.begin() as connection:
            self._audit.record(
                connection,
                AuditEvent(
                    action=BillingAction.SUBSCRIPTION_PROVIDER_CANCEL_FAILED,
                    actor=f"provider:{event.provider}",
                    tenant=tenant,
                    target=f"subscription:{subscription_id}",
                    at=self._clock(),
                    outcome="failed",
                    details={"provider_reference": reference, "event": event.event_id},
                    alert=True,
                ),
            )

    def _revoke(
        self, connection: Connection, event: WebhookEvent, payment: Payment, *, cause: str
    ) -> list[tuple[str, str, str]]:
        """Revoke the subscription `payment` paid for; returns (tenant, id, provider reference) of each revoked."""
        revoked = self._subscriptions.revoke(
            connection,
            tenant=payment.tenant,
            subscription_reference=payment.subscription_reference,
            checkout_id=payment.checkout_id,
            at=event.occurred_at,
        )
        for subscription_id, _ in revoked:
            self._audit.record(
                connection,
                AuditEvent(
                    action=BillingAction.SUBSCRIPTION_REVOKED,
                    actor=f"provider:{event.provider}",
                    tenant=payment.tenant,
                    target=f"subscription:{subscription_id}",
                    at=self._clock(),
                    outcome="success",
                    details={"cause": cause, "payment": payment.reference, "amount": payment.captured_minor},
                    alert=True,
                ),
            )
        return [(payment.tenant, subscription_id, reference) for subscription_id, reference in revoked]

    def _checkout_transition(self, connection: Connection, event: WebhookEvent) -> str:
        checkout_id = _uuid(event.checkout_id)
        if checkout_id is None and event.payment_reference:
            # Providers that only echo their own payment id (e.g. Braintree settlement of a nonce charge).
            found = connection.execute(
                text("SELECT id FROM billing_checkouts WHERE provider = :provider AND payment_reference = :reference"),
                {"provider": event.provider, "reference": event.payment_reference},
            ).first()
            checkout_id = found.id if found else None
        if checkout_id is None:
            return "unmatched"
        expected = connection.execute(
            text("SELECT due_now_minor, currency FROM billing_checkouts WHERE id = :id AND provider = :provider"),
            {"id": checkout_id, "provider": event.provider},
        ).first()
        if expected is None:
            return "unmatched"
        status = "failed"
        if event.kind is EventKind.PAYMENT_SUCCEEDED:
            matches = paid_as_priced(event, expected.due_now_minor, expected.currency)
            status = "paid" if matches else "amount_mismatch"
        row = connection.execute(
            text(
                """
                UPDATE billing_checkouts
                   SET status = :status, status_at = :at, status_rank = :rank,
                       payment_reference = COALESCE(:reference, payment_reference),
                       captured_minor = CASE WHEN :status = 'paid' THEN :captured ELSE captured_minor END
                 WHERE id = :id
                   AND (status_at IS NULL OR status_at < :at OR (status_at = :at AND status_rank < :rank))
                RETURNING tenant_id, created_by, price_id, quantity
                """
            ),
            {
                "status": status,
                "at": event.occurred_at,
                "rank": _RANK[status],
                "reference": event.payment_reference,
                "captured": event.amount_minor or 0,
                "id": checkout_id,
            },
        ).first()
        if row is None:
            return "ignored_out_of_order"
        if status == "amount_mismatch":
            self._mismatch(
                connection,
                event,
                tenant=row.tenant_id,
                target=f"checkout:{checkout_id}",
                expected=expected.due_now_minor,
            )
            return "amount_mismatch"
        if status == "paid":
            self._record(
                connection, event, tenant=row.tenant_id, payer=row.created_by, checkout_id=checkout_id, kind="first"
            )
        if status == "paid" and self._subscriptions.is_recurring(row.price_id):
            self._subscriptions.activate(
                connection,
                tenant=row.tenant_id,
                customer=row.created_by,
                checkout_id=str(checkout_id),
                price_id=row.price_id,
                quantity=row.quantity,
                provider_reference=event.subscription_reference or f"checkout:{checkout_id}",
                at=event.occurred_at,
            )
        return "applied"

    def _paid_renewal(self, connection: Connection, event: WebhookEvent) -> str:
        """A renewal counts as paid only at the subscription's price; otherwise it is dunned as failed, and alerts.

        Dunning, not silence: the period is not extended, the subscription goes `past_due` (and,
        after the retries, `unpaid` with restricted access) until a renewal pays the right amount.
        """
        priced = renewal_price(connection, str(event.subscription_reference))
        if priced is None or paid_as_priced(event, priced.amount_minor, priced.currency):
            self._record_renewal(connection, event)  # nothing without a subscription (then `unmatched`)
            return self._subscriptions.apply(connection, event)
        # Underpaid (or overpaid): not a payment the ledger knows, so nothing can be credited against it.
        outcome = self._subscriptions.apply(connection, replace(event, kind=EventKind.RENEWAL_FAILED))
        self._mismatch(
            connection,
            event,
            tenant=priced.tenant,
            target=f"subscription:{event.subscription_reference}",
            expected=priced.amount_minor,
        )
        return "amount_mismatch" if outcome == "applied" else outcome

    def _mismatch(
        self, connection: Connection, event: WebhookEvent, *, tenant: str, target: str, expected: int | None
    ) -> None:
        """Alert on a payment that did not bill what the server priced (it never enters the ledger)."""
        self._audit.record(
            connection,
            AuditEvent(
                action=BillingAction.PAYMENT_AMOUNT_MISMATCH,
                actor=f"provider:{event.provider}",
                tenant=tenant,
                target=target,
                at=self._clock(),
                outcome="failed",
                details={"expected": expected, "reported": event.net_minor},
                alert=True,
            ),
        )


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None
