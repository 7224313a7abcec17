"""Subscription lifecycle: free trials, proration on plan change, dunning with access downgrade.

The pure functions decide; `SubscriptionStore` applies their decisions to
`billing_subscriptions` from verified webhook events, in the webhook's
transaction, ignoring any event older than the state it would replace (events
arrive out of order: a late `renewal_failed` must not undo a newer success).
A full refund or a lost chargeback of one of its payments revokes a
subscription (`canceled`, no access) whenever the news arrives. `canceled` is
final: no later event of the provider -- a failed renewal that would open
dunning with full access, a renewal paid before the provider learnt of the
cancellation -- brings the row back; only a new checkout makes a new row.
Free trials: one per tenant, ever (`has_subscribed`, read by checkout).

`access_for` is what paid features check on every request (`requires_subscription`
in policy/roles.yaml, enforced by web/authz.py through `SubscriptionAccess`).

Amounts: proration splits the period to the second and rounds each side once,
half-up (as Stripe does per item), so credit and charge are each exact to the
minor unit and the net is their difference.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Literal

from sqlalchemy import Connection, Engine, text

from ..security.principal import Principal
from .catalog import Catalog, Interval, Price
from .money import round_minor
from .provider import EventKind, WebhookEvent

Status = Literal["trialing", "active", "past_due", "unpaid", "canceled"]
Access = Literal["full", "restricted", "none"]


def add_months(at: datetime, months: int) -> datetime:
    """Same day-of-month `months` later, clamped to the month's last day (Jan 31 + 1 month = Feb 28/29)."""
    month_index = at.month - 1 + months
    year, month = at.year + month_index // 12, month_index % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def period_end(start: datetime, interval: Interval) -> datetime:
    return add_months(start, 1 if interval == "month" else 12)


@dataclass(frozen=True)
class Proration:
    """A mid-period plan change: credit for the unused old plan, charge for the rest of the period on the new one."""

    credit_minor: int
    charge_minor: int

    @property
    def net_minor(self) -> int:
        """Positive: the customer pays now; negative: the customer is owed a credit."""
        return self.charge_minor - self.credit_minor


def prorate(
    old_amount_minor: int, new_amount_minor: int, *, period_start: datetime, period_end: datetime, change_at: datetime
) -> Proration:
    if not period_start <= change_at < period_end:
        raise ValueError("the change must fall inside the current period")
    remaining = Fraction(
        int((period_end - change_at).total_seconds()), int((period_end - period_start).total_seconds())
    )
    return Proration(
        credit_minor=round_minor(old_amount_minor * remaining),
        charge_minor=round_minor(new_amount_minor * remaining),
    )


@dataclass(frozen=True)
class DunningPolicy:
    """Retry a failed renewal after each delay in turn; when the last retry fails, restrict access."""

    retry_after: tuple[timedelta, ...] = (timedelta(days=1), timedelta(days=3), timedelta(days=5))


@dataclass(frozen=True)
class SubscriptionState:
    status: Status
    access: Access
    period_start: datetime
    period_end: datetime
    trial_ends_at: datetime | None = None
    failed_attempts: int = 0
    next_retry_at: datetime | None = None


def start(price: Price, at: datetime) -> SubscriptionState:
    """A new subscription: trialing (nothing charged) until the trial ends, else active for one period."""
    if price.interval is None:
        raise ValueError(f"{price.id} is not a subscription price")
    if price.trial_days:
        trial_end = at + timedelta(days=price.trial_days)
        return SubscriptionState("trialing", "full", at, trial_end, trial_ends_at=trial_end)
    return SubscriptionState("active", "full", at, period_end(at, price.interval))


def renewal_succeeded(state: SubscriptionState, interval: Interval) -> SubscriptionState:
    """Paid: the next period starts where the last (or the trial) ended; dunning is cleared."""
    return replace(
        state,
        status="active",
        access="full",
        period_start=state.period_end,
        period_end=period_end(state.period_end, interval),
        failed_attempts=0,
        next_retry_at=None,
    )


def renewal_failed(state: SubscriptionState, at: datetime, policy: DunningPolicy) -> SubscriptionState:
    """Past due with full access while retries remain; unpaid with restricted access after the last."""
    attempts = state.failed_attempts + 1
    if attempts <= len(policy.retry_after):
        return replace(
            state,
            status="past_due",
            access="full",
            failed_attempts=attempts,
            next_retry_at=at + policy.retry_after[attempts - 1],
        )
    return replace(state, status="unpaid", access="restricted", failed_attempts=attempts, next_retry_at=None)


def canceled(state: SubscriptionState) -> SubscriptionState:
    return replace(state, status="canceled", access="none", next_retry_at=None)


class SubscriptionStore:
    """`billing_subscriptions`, written inside the caller's (webhook) transaction."""

    def __init__(self, catalog: Catalog, policy: DunningPolicy | None = None) -> None:
        self._catalog = catalog
        self._policy = policy or DunningPolicy()

    def is_recurring(self, price_id: str) -> bool:
        return self._catalog.get(price_id).recurring

    def activate(
        self,
        connection: Connection,
        *,
        tenant: str,
        customer: str,
        checkout_id: str,
        price_id: str,
        quantity: int,
        provider_reference: str,
        at: datetime,
    ) -> None:
        state = start(self._catalog.get(price_id), at)
        connection.execute(
            text(
                """
                INSERT INTO billing_subscriptions (tenant_id, customer, checkout_id, provider_reference, price_id,
                    quantity, status, access, current_period_start, current_period_end, trial_ends_at,
                    failed_attempts, next_retry_at, status_at)
                VALUES (:tenant, :customer, :checkout_id, :reference, :price_id, :quantity, :status, :access,
                    :period_start, :period_end, :trial_ends_at, :failed_attempts, :next_retry_at, :at)
                ON CONFLICT (provider_reference) DO NOTHING
                """
            ),
            {
                "tenant": tenant,
                "customer": customer,
                "checkout_id": checkout_id,
                "reference": provider_reference,
                "price_id": price_id,
                "quantity": quantity,
                **self._params(state),
                "at": at,
            },
        )

    def apply(self, connection: Connection, event: WebhookEvent) -> str:
        """Apply a renewal/cancel event; returns the outcome recorded on the webhook event."""
        row = connection.execute(
            text(
                "SELECT id, price_id, status_at, status, access, current_period_start, current_period_end, "
                "trial_ends_at, failed_attempts, next_retry_at FROM billing_subscriptions "
                "WHERE provider_reference = :reference FOR UPDATE"
            ),
            {"reference": event.subscription_reference},
        ).first()
        if row is None:
            return "unmatched"
        if row.status == "canceled":
            # Final: a revoked (or provider-canceled) subscription is never dunned or renewed back to access.
            return "ignored_canceled"
        if event.occurred_at <= row.status_at:
            return "ignored_out_of_order"
        state = SubscriptionState(
            row.status,
            row.access,
            row.current_period_start,
            row.current_period_end,
            row.trial_ends_at,
            row.failed_attempts,
            row.next_retry_at,
        )
        interval = self._catalog.get(row.price_id).interval or "month"
        if event.kind is EventKind.RENEWAL_SUCCEEDED:
            new = renewal_succeeded(state, interval)
        elif event.kind is EventKind.RENEWAL_FAILED:
            new = renewal_failed(state, event.occurred_at, self._policy)
        else:
            new = canceled(state)
        connection.execute(
            text(
                "UPDATE billing_subscriptions SET status = :status, access = :access, "
                "current_period_start = :period_start, current_period_end = :period_end, "
                "trial_ends_at = :trial_ends_at, failed_attempts = :failed_attempts, "
                "next_retry_at = :next_retry_at, status_at = :at WHERE id = :id"
            ),
            {"id": row.id, "at": event.occurred_at, **self._params(new)},
        )
        return "applied"

    def revoke(
        self,
        connection: Connection,
        *,
        tenant: str,
        subscription_reference: str | None,
        checkout_id: object | None,
        at: datetime,
    ) -> list[tuple[str, str]]:
        """Cancel the subscription a fully refunded or charged-back payment paid for.

        Applied whatever the event's age: money given back means no access, even if a
        later renewal was seen first, and for good (`apply` leaves a canceled row alone).
        Returns (id, provider reference) of each subscription revoked now, for the caller
        to cancel at the provider too.
        """
        if not subscription_reference and checkout_id is None:
            return []  # a one-off payment: no subscription to revoke
        rows = connection.execute(
            text(
                """
                UPDATE billing_subscriptions
                   SET status = 'canceled', access = 'none', next_retry_at = NULL,
                       status_at = GREATEST(status_at, :at)
                 WHERE tenant_id = :tenant AND status <> 'canceled'
                   AND (provider_reference = :reference OR checkout_id = :checkout)
                RETURNING id, provider_reference
                """
            ),
            {"tenant": tenant, "reference": subscription_reference, "checkout": checkout_id, "at": at},
        ).all()
        return [(str(row.id), row.provider_reference) for row in rows]

    @staticmethod
    def _params(state: SubscriptionState) -> dict[str, object]:
        return {
            "status": state.status,
            "access": state.access,
            "period_start": state.period_start,
            "period_end": state.period_end,
            "trial_ends_at": state.trial_ends_at,
            "failed_attempts": state.failed_attempts,
            "next_retry_at": state.next_retry_at,
        }


def has_subscribed(connection: Connection, tenant: str) -> bool:
    """Whether the tenant ever had a subscription (trial, paid, revoked or canceled): no second free trial."""
    return (
        connection.execute(
            text("SELECT 1 FROM billing_subscriptions WHERE tenant_id = :tenant LIMIT 1"), {"tenant": tenant}
        ).first()
        is not None
    )


def access_for(connection: Connection, tenant: str) -> Access:
    """What the tenant's newest subscription currently allows (`none` without one: fail closed)."""
    row = connection.execute(
        text(
            "SELECT access FROM billing_subscriptions WHERE tenant_id = :tenant "
            "ORDER BY created_at DESC, status_at DESC LIMIT 1"
        ),
        {"tenant": tenant},
    ).first()
    return row.access if row else "none"


class SubscriptionAccess:
    """`access_for` on its own connection: the paid-feature check of every request (web/authz.py)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __call__(self, principal: Principal) -> Access:
        with self._engine.connect() as connection:
            return access_for(connection, principal.tenant)
