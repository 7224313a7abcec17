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
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import Connection, Engine, text

from .amounts import paid_as_priced, renewal_price
from .audit import AuditEvent, AuditSink, BillingAction
from .errors import UnsupportedOperationError
from .provider import EventKind, PaymentProvider, WebhookEvent
from .subscriptions import SubscriptionStore

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
    ) -> None:
        self._engine = engine
        self._provider = provider
        self._subscriptions = subscriptions
        self._audit = audit
        self._clock = clock

    def handle(self, provider_name: str, headers: Mapping[str, str], body: bytes) -> WebhookReport:
        """Verify and apply one delivery; raises WebhookRejectedError (400) with no side effect."""
        if provider_name != self._provider.name:
            raise UnsupportedOperationError(f"no webhook endpoint for {provider_name!r}")
        events = self._provider.verify_webhook(headers, body, now=self._clock())
        report = WebhookReport()
        for event in events:
            report.outcomes[event.event_id] = self._apply_once(event)
        return report

    def _apply_once(self, event: WebhookEvent) -> str:
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
            outcome = self._apply(connection, event)
            connection.execute(
                text("UPDATE billing_webhook_events SET outcome = :outcome WHERE id = :id"),
                {"outcome": outcome, "id": stored.id},
            )
        return outcome

    def _apply(self, connection: Connection, event: WebhookEvent) -> str:
        if event.kind in (EventKind.PAYMENT_SUCCEEDED, EventKind.PAYMENT_FAILED):
            return self._checkout_transition(connection, event)
        if event.kind in (EventKind.RENEWAL_SUCCEEDED, EventKind.RENEWAL_FAILED, EventKind.SUBSCRIPTION_CANCELED):
            if not event.subscription_reference:
                return "unmatched"
            if event.kind is EventKind.RENEWAL_SUCCEEDED:
                return self._paid_renewal(connection, event)
            return self._subscriptions.apply(connection, event)
        if event.kind is EventKind.REFUNDED:
            return "recorded"  # our refunds are booked when executed (approvals.py); this confirms them
        return "ignored"

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
            self._audit.record(
                connection,
                AuditEvent(
                    action=BillingAction.PAYMENT_AMOUNT_MISMATCH,
                    actor=f"provider:{event.provider}",
                    tenant=row.tenant_id,
                    target=f"checkout:{checkout_id}",
                    at=self._clock(),
                    outcome="failed",
                    details={"expected": expected.due_now_minor, "reported": event.net_minor},
                    alert=True,
                ),
            )
            return "amount_mismatch"
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
            return self._subscriptions.apply(connection, event)
        outcome = self._subscriptions.apply(connection, replace(event, kind=EventKind.RENEWAL_FAILED))
        self._audit.record(
            connection,
            AuditEvent(
                action=BillingAction.PAYMENT_AMOUNT_MISMATCH,
                actor=f"provider:{event.provider}",
                tenant=priced.tenant,
                target=f"subscription:{event.subscription_reference}",
                at=self._clock(),
                outcome="failed",
                details={"expected": priced.amount_minor, "reported": event.net_minor},
                alert=True,
            ),
        )
        return "amount_mismatch" if outcome == "applied" else outcome


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None
