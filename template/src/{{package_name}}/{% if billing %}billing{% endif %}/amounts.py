"""The paid-amount check: what the provider billed, against what the server priced.

Every adapter reads the provider's documented payload into `WebhookEvent.net_minor`:
the amount billed for the purchase with every discount taken off, before the tax
the provider adds on top (Stripe Tax, Paddle as merchant of record) and before any
credit balance that paid part of it. That is compared, with the currency, to what
the server priced: a checkout's `due_now_minor`, or for a renewal the subscription's
per-period `amount_minor` (from the checkout that started it). Anything else -- a
discount taken on the provider's page, a partial authorisation, a missing amount --
is a mismatch: never `paid`, always an alerting audit event (docs/billing.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from .provider import WebhookEvent


@dataclass(frozen=True)
class Priced:
    """What the server priced for one payment, and whose it is."""

    tenant: str
    amount_minor: int | None
    currency: str | None


def paid_as_priced(event: WebhookEvent, priced_minor: int | None, currency: str | None) -> bool:
    """True only when the provider billed exactly the server's price, in its currency; unknowns never match."""
    if event.net_minor is None or priced_minor is None or not currency:
        return False
    return event.net_minor == priced_minor and (event.currency or "").upper() == currency.upper()


def renewal_price(connection: Connection, subscription_reference: str) -> Priced | None:
    """The per-period price of the subscription a renewal names: the net amount its checkout priced.

    None when no subscription has that reference (the renewal is then `unmatched`).
    A subscription whose checkout is gone prices nothing, so its renewals never match.
    """
    row = connection.execute(
        text(
            "SELECT s.tenant_id, c.amount_minor, c.currency FROM billing_subscriptions s "
            "LEFT JOIN billing_checkouts c ON c.id = s.checkout_id WHERE s.provider_reference = :reference"
        ),
        {"reference": subscription_reference},
    ).first()
    if row is None:
        return None
    return Priced(row.tenant_id, row.amount_minor, row.currency)
