"""The payment ledger: what each tenant paid, recorded from verified webhooks only, and what went back.

Money leaves the vendor only against a row of `billing_payments`: a credit or
refund names a payment the provider captured FOR THE CALLER'S TENANT, and the
customer or payment the provider is asked to pay back is read from that row,
never from the request (billing/approvals.py). Rows are written only by the
webhook processor (billing/webhooks.py), after the provider's signature was
verified.

What one payment may still give back, whatever mix of credits and refunds:

    captured - credited - max(refunded, refunded as the provider reports it)

`refunded` is what this app refunded; the provider's own count also includes
refunds made in its dashboard, so the larger of the two is what left. Where a
provider executes a credit as a refund (Adyen), its count includes our credits
too, and the formula becomes `captured - max(credited + refunded, provider's)`.
`reserve` books an amount with one conditional UPDATE: concurrent approvals
serialize on the row, and the database CHECK (credited + refunded <=
captured) backs it. A reservation is released only when the provider refused
the movement for certain; one whose outcome is unknown stays booked. A full
refund, a lost chargeback, or credits and refunds that together gave back the
whole capture (`close_if_given_back`) close the row: nothing more moves
against it. A dispute the provider reports open freezes it ('disputed':
`reserve` books nothing, nothing is movable) until the dispute closes: won, it
is 'captured' again; lost, it is closed as 'charged_back'.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, RowMapping, text

PaymentKind = Literal["first", "renewal"]
MovementKind = Literal["credit", "refund"]

_COLUMNS = (
    "id, provider, reference, tenant_id, payer, checkout_id, subscription_reference, provider_customer, "
    "currency, captured_minor, credited_minor, refunded_minor, provider_refunded_minor, status"
)
#: Minor units gone back once `:credit` and `:refund` are booked, as SQL over one row;
#: `:credit_is_refund` picks the provider's accounting (see the module docstring).
_MOVED_AFTER_BOOKING = (
    "CASE WHEN :credit_is_refund "
    "THEN GREATEST((credited_minor + :credit) + (refunded_minor + :refund), provider_refunded_minor) "
    "ELSE (credited_minor + :credit) + GREATEST(refunded_minor + :refund, provider_refunded_minor) END"
)


#: The ledger columns of the updated row `p`, for `RETURNING`.
_RETURNING_PAYMENT = ", ".join(f"p.{column}" for column in _COLUMNS.split(", "))


def _provider_refund_statement(refunded_total: str) -> str:
    """Book a provider-reported refund; `refunded_total` is one of the two literal expressions below."""
    return f"""
        WITH before AS (
            SELECT id, status FROM billing_payments WHERE provider = :provider AND reference = :reference
            FOR UPDATE
        )
        UPDATE billing_payments p
           SET provider_refunded_minor = LEAST(p.captured_minor, {refunded_total}),
               status = CASE WHEN p.status = 'captured' AND {refunded_total} >= p.captured_minor
                             THEN 'refunded' ELSE p.status END
          FROM before
         WHERE p.id = before.id
        RETURNING before.status AS previous, {_RETURNING_PAYMENT}
        """  # noqa: S608 -- built once, at import, from the literals below


#: Keyed by `cumulative`: Stripe reports the payment's refunded total so far, the others each refund.
_PROVIDER_REFUND = {
    True: _provider_refund_statement("GREATEST(provider_refunded_minor, :amount)"),
    False: _provider_refund_statement("provider_refunded_minor + :amount"),
}
#: Giving back a reservation, per movement kind: two fixed statements, no column name from a variable.
_RELEASE = {
    "credit": "UPDATE billing_payments SET credited_minor = credited_minor - :amount WHERE id = :id",
    "refund": "UPDATE billing_payments SET refunded_minor = refunded_minor - :amount WHERE id = :id",
}


@dataclass(frozen=True)
class Capture:
    """A payment the provider captured, as a verified webhook reported it.

    Attributes:
        reference: the provider's payment id (PaymentIntent, pspReference, transaction id).
        payer: the subject who opened the checkout (the subscription's customer for renewals).
        provider_customer: the provider's customer id, where the provider has one (Stripe `cus_...`).
        subscription_reference: the subscription the payment belongs to, if any.
    """

    provider: str
    reference: str
    tenant: str
    payer: str
    checkout_id: uuid.UUID | None
    subscription_reference: str | None
    provider_customer: str | None
    kind: PaymentKind
    amount_minor: int
    currency: str
    at: datetime


@dataclass(frozen=True)
class Payment:
    """One ledger row."""

    id: uuid.UUID
    provider: str
    reference: str
    tenant: str
    payer: str
    checkout_id: uuid.UUID | None
    subscription_reference: str | None
    provider_customer: str | None
    currency: str
    captured_minor: int
    credited_minor: int
    refunded_minor: int
    provider_refunded_minor: int
    status: str

    def movable_minor(self, *, credit_is_refund: bool) -> int:
        """What may still go back: nothing once refunded in full or charged back, nor while disputed."""
        if self.status != "captured":
            return 0
        if credit_is_refund:
            moved = max(self.credited_minor + self.refunded_minor, self.provider_refunded_minor)
        else:
            moved = self.credited_minor + max(self.refunded_minor, self.provider_refunded_minor)
        return max(self.captured_minor - moved, 0)


def _payment(row: RowMapping | None) -> Payment | None:
    if row is None:
        return None
    return Payment(**{("tenant" if key == "tenant_id" else key): value for key, value in row.items()})


class PaymentLedger:
    """`billing_payments` of one provider; every method runs in the caller's transaction."""

    def __init__(self, provider: str, *, credit_is_refund: bool) -> None:
        self._provider = provider
        self._credit_is_refund = credit_is_refund

    @property
    def credit_is_refund(self) -> bool:
        return self._credit_is_refund

    # ------------------------------------------------------------------ written by webhooks only
    def record(self, connection: Connection, capture: Capture) -> bool:
        """Add a captured payment once (a replayed or duplicate event finds it); True when it was new."""
        if capture.amount_minor <= 0:
            return False  # a trial or a zero-value card check: nothing was captured
        inserted = connection.execute(
            text(
                """
                INSERT INTO billing_payments (provider, reference, tenant_id, checkout_id, subscription_reference,
                    payer, provider_customer, kind, currency, captured_minor, captured_at)
                VALUES (:provider, :reference, :tenant, :checkout_id, :subscription, :payer, :customer, :kind,
                    :currency, :amount, :at)
                ON CONFLICT (provider, reference) DO NOTHING RETURNING id
                """
            ),
            {
                "provider": capture.provider,
                "reference": capture.reference,
                "tenant": capture.tenant,
                "checkout_id": capture.checkout_id,
                "subscription": capture.subscription_reference,
                "payer": capture.payer,
                "customer": capture.provider_customer,
                "kind": capture.kind,
                "currency": capture.currency.upper(),
                "amount": capture.amount_minor,
                "at": capture.at,
            },
        ).first()
        return inserted is not None

    def provider_refunded(
        self, connection: Connection, reference: str, amount_minor: int, *, cumulative: bool
    ) -> tuple[Payment, bool] | None:
        """Book a refund the provider reports; returns the row and whether this made the refund full.

        `cumulative`: the amount is the payment's refunded total so far (Stripe), not this refund's.
        """
        row = (
            connection.execute(
                text(_PROVIDER_REFUND[cumulative]),
                {"provider": self._provider, "reference": reference, "amount": max(amount_minor, 0)},
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        previous = row["previous"]
        payment = _payment({key: value for key, value in row.items() if key != "previous"})
        assert payment is not None
        return payment, previous == "captured" and payment.status == "refunded"

    def charged_back(self, connection: Connection, reference: str) -> tuple[Payment, bool] | None:
        """The card network took the payment back; True when the row was not closed already."""
        row = (
            connection.execute(
                text(
                    f"""
                WITH before AS (
                    SELECT id, status FROM billing_payments WHERE provider = :provider AND reference = :reference
                    FOR UPDATE
                )
                UPDATE billing_payments p SET status = 'charged_back' FROM before WHERE p.id = before.id
                RETURNING before.status AS previous, {_RETURNING_PAYMENT}
                """  # noqa: S608 -- the column list is a module constant
                ),
                {"provider": self._provider, "reference": reference},
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        payment = _payment({key: value for key, value in row.items() if key != "previous"})
        assert payment is not None
        return payment, row["previous"] != "charged_back"

    def dispute_changed(self, connection: Connection, reference: str, *, opened: bool) -> Payment | None:
        """Freeze a captured payment while its dispute is open (`opened`), or thaw it when the dispute is won.

        Only 'captured' -> 'disputed' and back: a refunded or charged-back row stays closed. Returns the
        row as it now is, or None for a payment the ledger does not know.
        """
        row = (
            connection.execute(
                text(
                    f"""
                UPDATE billing_payments
                   SET status = CASE WHEN status = :from_status THEN :to_status ELSE status END
                 WHERE provider = :provider AND reference = :reference
                RETURNING {_COLUMNS}
                """  # noqa: S608 -- the column list is a module constant
                ),
                {
                    "provider": self._provider,
                    "reference": reference,
                    "from_status": "captured" if opened else "disputed",
                    "to_status": "disputed" if opened else "captured",
                },
            )
            .mappings()
            .first()
        )
        return _payment(row)

    # ------------------------------------------------------------------ read for requests
    def owned_by(self, connection: Connection, tenant: str, reference: str) -> Payment | None:
        """The payment `reference` IF it belongs to `tenant`: the only way a request finds a payment."""
        return _payment(
            connection.execute(
                text(
                    f"SELECT {_COLUMNS} FROM billing_payments "  # noqa: S608 -- module constant
                    "WHERE provider = :provider AND reference = :reference AND tenant_id = :tenant"
                ),
                {"provider": self._provider, "reference": reference, "tenant": tenant},
            )
            .mappings()
            .first()
        )

    def first_of_checkout(self, connection: Connection, tenant: str, checkout_id: uuid.UUID) -> Payment | None:
        """The payment that paid `checkout_id` IF the checkout is `tenant`'s (refunds name the checkout)."""
        return _payment(
            connection.execute(
                text(
                    f"SELECT {_COLUMNS} FROM billing_payments "  # noqa: S608 -- module constant
                    "WHERE provider = :provider AND checkout_id = :checkout AND tenant_id = :tenant "
                    "AND kind = 'first' ORDER BY captured_at, created_at LIMIT 1"
                ),
                {"provider": self._provider, "checkout": checkout_id, "tenant": tenant},
            )
            .mappings()
            .first()
        )

    def owner_of(self, connection: Connection, reference: str) -> str | None:
        """Which tenant a payment belongs to: only to tell a foreign reference (alert) from an unknown one."""
        return connection.execute(
            text("SELECT tenant_id FROM billing_payments WHERE provider = :provider AND reference = :reference"),
            {"provider": self._provider, "reference": reference},
        ).scalar_one_or_none()

    def get(self, connection: Connection, payment_id: uuid.UUID) -> Payment | None:
        return _payment(
            connection.execute(
                text(f"SELECT {_COLUMNS} FROM billing_payments WHERE id = :id"),  # noqa: S608 -- module constant
                {"id": payment_id},
            )
            .mappings()
            .first()
        )

    def movable_minor(self, payment: Payment) -> int:
        return payment.movable_minor(credit_is_refund=self._credit_is_refund)

    # ------------------------------------------------------------------ booked by approvals
    def reserve(self, connection: Connection, payment_id: uuid.UUID, kind: MovementKind, amount_minor: int) -> bool:
        """Book `amount_minor` as a credit or refund if it still fits; one statement, so races cannot overbook."""
        credit, refund = (amount_minor, 0) if kind == "credit" else (0, amount_minor)
        booked = connection.execute(
            text(
                f"""
                UPDATE billing_payments
                   SET credited_minor = credited_minor + :credit, refunded_minor = refunded_minor + :refund
                 WHERE id = :id AND status = 'captured' AND {_MOVED_AFTER_BOOKING} <= captured_minor
                RETURNING id
                """  # noqa: S608 -- a module constant, no input
            ),
            {"id": payment_id, "credit": credit, "refund": refund, "credit_is_refund": self._credit_is_refund},
        ).first()
        return booked is not None

    def release(self, connection: Connection, payment_id: uuid.UUID, kind: MovementKind, amount_minor: int) -> None:
        """Give back a reservation whose provider call was refused for certain (never one of unknown outcome)."""
        connection.execute(text(_RELEASE[kind]), {"amount": amount_minor, "id": payment_id})

    def close_if_given_back(self, connection: Connection, payment_id: uuid.UUID) -> Payment | None:
        """After an executed movement: close the payment as `refunded` when nothing is left to give back.

        Credits and refunds add up: a credit of 900 and a refund of 1000 of a 1900 payment gave
        everything back although neither was a full refund. Returns the row when this call closed it.
        """
        return _payment(
            connection.execute(
                text(
                    f"""
                    UPDATE billing_payments SET status = 'refunded'
                     WHERE id = :id AND status = 'captured' AND {_MOVED_AFTER_BOOKING} >= captured_minor
                    RETURNING {_COLUMNS}
                    """  # noqa: S608 -- module constants, no input
                ),
                {"id": payment_id, "credit": 0, "refund": 0, "credit_is_refund": self._credit_is_refund},
            )
            .mappings()
            .first()
        )
