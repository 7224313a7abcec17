"""Checkout: a server-priced hosted checkout, at most once per Idempotency-Key.

The client names a price, a quantity and optionally a coupon -- nothing else
is read from the body, so a client-sent amount or currency has no effect. The
checkout id is derived from (tenant, caller, key), so a retry after a failure
reaches the provider with the same reference and the same provider-side
idempotency key, and the provider returns its first session instead of a new
one.

A free trial is given once per tenant: a price with trial days is refused
(409 `trial_already_used`) for a tenant that ever had a subscription --
trialing, paid, revoked after a chargeback or canceled -- as the database
records it (`billing_subscriptions`), so no restart or other process forgets it.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from ..security.principal import Principal
from .audit import AuditEvent, AuditSink, BillingAction
from .errors import (
    CheckoutNotFoundError,
    CheckoutNotOpenError,
    IdempotencyKeyReusedError,
    InvalidAdjustmentError,
    TrialAlreadyUsedError,
    UnsupportedOperationError,
)
from .idempotency import IdempotencyStore, KeyScope, Outcome, checked_key, fingerprint
from .pricing import Pricing, Quote
from .provider import CheckoutRequest, NonceCharge, PaymentProvider, provider_idempotency_key
from .subscriptions import SubscriptionStore, has_subscribed

#: Namespace of checkout ids derived from idempotency keys (uuid5); never change it.
CHECKOUT_ID_NAMESPACE = uuid.UUID("6f1d3c1e-6a51-4d55-9a9e-3c3f1b1f2d70")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{8,200}$")


def customer_reference(principal: Principal) -> str:
    """An opaque, stable customer id for the provider: no email or name leaves for it."""
    digest = hashlib.sha256(f"{principal.tenant}\x1f{principal.subject}".encode()).hexdigest()
    return f"cust_{digest[:24]}"


class CheckoutService:
    def __init__(
        self,
        *,
        engine: Engine,
        pricing: Pricing,
        provider: PaymentProvider,
        idempotency: IdempotencyStore,
        audit: AuditSink,
        base_url: str,
        clock: Callable[[], datetime],
        subscriptions: SubscriptionStore | None = None,
    ) -> None:
        self._engine = engine
        self._subscriptions = subscriptions
        self._pricing = pricing
        self._provider = provider
        self._idempotency = idempotency
        self._audit = audit
        self._base_url = base_url.rstrip("/")
        self._clock = clock

    def start(
        self, principal: Principal, *, price_id: str, quantity: int, coupon: str | None, idempotency_key: str | None
    ) -> Outcome:
        """Price server-side, then open the hosted checkout once; returns the (first) response body."""
        key = checked_key(idempotency_key)
        quote = self._pricing.quote(price_id, quantity, coupon, now=self._clock())
        request_sha = fingerprint({"price_id": price_id, "quantity": quantity, "coupon": coupon or None})
        scope = KeyScope(principal.tenant, principal.subject, "checkout", key)
        return self._idempotency.run(scope, request_sha, lambda: self._open(principal, quote, key, request_sha))

    def _open(self, principal: Principal, quote: Quote, key: str, request_sha: str) -> dict[str, Any]:
        checkout_id = str(uuid.uuid5(CHECKOUT_ID_NAMESPACE, f"{principal.tenant}\x1f{principal.subject}\x1f{key}"))
        with self._engine.begin() as connection:
            if quote.price.trial_days and has_subscribed(connection, principal.tenant):
                raise TrialAlreadyUsedError
            row = connection.execute(
                text(
                    """
                    INSERT INTO billing_checkouts (id, tenant_id, created_by, price_id, quantity, coupon_code,
                        subtotal_minor, discount_minor, amount_minor, due_now_minor, currency, provider)
                    VALUES (:id, :tenant, :subject, :price_id, :quantity, :coupon, :subtotal, :discount,
                        :amount, :due_now, :currency, :provider)
                    ON CONFLICT (id) DO UPDATE SET price_id = EXCLUDED.price_id, quantity = EXCLUDED.quantity,
                        coupon_code = EXCLUDED.coupon_code, subtotal_minor = EXCLUDED.subtotal_minor,
                        discount_minor = EXCLUDED.discount_minor, amount_minor = EXCLUDED.amount_minor,
                        due_now_minor = EXCLUDED.due_now_minor, currency = EXCLUDED.currency
                    WHERE billing_checkouts.status = 'creating'
                    RETURNING id
                    """
                ),
                {
                    "id": checkout_id,
                    "tenant": principal.tenant,
                    "subject": principal.subject,
                    "price_id": quote.price.id,
                    "quantity": quote.quantity,
                    "coupon": quote.coupon_code,
                    "subtotal": quote.subtotal_minor,
                    "discount": quote.discount_minor,
                    "amount": quote.amount_minor,
                    "due_now": quote.due_now_minor,
                    "currency": quote.currency,
                    "provider": self._provider.name,
                },
            ).first()
        if row is None:  # a checkout already opened under this key whose key record was lost
            raise IdempotencyKeyReusedError
        hosted = self._provider.create_checkout(
            CheckoutRequest(
                checkout_id=checkout_id,
                price=quote.price,
                quantity=quote.quantity,
                amount_minor=quote.amount_minor,
                due_now_minor=quote.due_now_minor,
                currency=quote.currency,
                success_url=f"{self._base_url}/billing/success?checkout={checkout_id}",
                cancel_url=f"{self._base_url}/billing/cancel?checkout={checkout_id}",
                customer_reference=customer_reference(principal),
                idempotency_key=provider_idempotency_key(
                    "checkout", principal.tenant, principal.subject, key, request_sha
                ),
                dropin_page_url=f"{self._base_url}/billing/checkout/{checkout_id}",
            )
        )
        with self._engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE billing_checkouts SET status = 'open', provider_reference = :reference, "
                    "checkout_url = :url WHERE id = :id"
                ),
                {"id": checkout_id, "reference": hosted.provider_reference, "url": hosted.checkout_url},
            )
            self._audit.record(
                connection,
                AuditEvent(
                    action=BillingAction.CHECKOUT_CREATED,
                    actor=principal.subject,
                    actor_roles=principal.roles,
                    tenant=principal.tenant,
                    target=f"checkout:{checkout_id}",
                    at=self._clock(),
                    details={"price_id": quote.price.id, "quantity": quote.quantity, "amount": quote.amount_minor},
                ),
            )
        body: dict[str, Any] = {
            "checkout_id": checkout_id,
            "checkout_url": hosted.checkout_url,
            "amount": quote.amount_minor,
            "due_now": quote.due_now_minor,
            "currency": quote.currency,
        }
        if hosted.client_token:
            body["client_token"] = hosted.client_token
        return body

    def charge_nonce(self, principal: Principal, checkout_id: str, nonce: str) -> dict[str, Any]:
        """Drop-in providers: charge the nonce for the amount priced at checkout, exactly once."""
        charge_nonce = getattr(self._provider, "charge_nonce", None)
        if charge_nonce is None:
            raise UnsupportedOperationError(f"{self._provider.name} checkouts are completed on the provider's page")
        if not _NONCE.fullmatch(nonce):
            raise InvalidAdjustmentError("payment_method_nonce is malformed")
        try:
            checkout_uuid = uuid.UUID(checkout_id)
        except ValueError:
            raise CheckoutNotFoundError from None
        owner = {"id": checkout_uuid, "tenant": principal.tenant, "subject": principal.subject}
        with self._engine.begin() as connection:
            row = connection.execute(
                text(
                    "UPDATE billing_checkouts SET status = 'charging' WHERE id = :id AND tenant_id = :tenant "
                    "AND created_by = :subject AND status = 'open' "
                    "RETURNING due_now_minor, currency, price_id, quantity"
                ),
                owner,
            ).first()
            if row is None:
                exists = connection.execute(
                    text(
                        "SELECT 1 FROM billing_checkouts "
                        "WHERE id = :id AND tenant_id = :tenant AND created_by = :subject"
                    ),
                    owner,
                ).first()
                raise CheckoutNotOpenError if exists else CheckoutNotFoundError
        try:
            receipt = charge_nonce(
                NonceCharge(
                    checkout_id=checkout_id,
                    customer_reference=customer_reference(principal),
                    amount_minor=row.due_now_minor,
                    currency=row.currency,
                    recurring=self._pricing.catalog.get(row.price_id).recurring,
                    nonce=nonce,
                    idempotency_key=provider_idempotency_key("charge", checkout_id),
                )
            )
        except Exception:
            with self._engine.begin() as connection:
                connection.execute(
                    text("UPDATE billing_checkouts SET status = 'open' WHERE id = :id AND status = 'charging'"), owner
                )
            raise
        status = "charging"
        with self._engine.begin() as connection:
            connection.execute(
                text("UPDATE billing_checkouts SET payment_reference = :reference WHERE id = :id"),
                {"id": checkout_uuid, "reference": receipt.provider_reference},
            )
            if row.due_now_minor == 0 and (subscriptions := self._subscriptions) is not None:
                # A trial: nothing was charged, so no settlement webhook will come; the verified,
                # vaulted payment method is the completion. The subscription starts trialing now.
                status = self._complete_trial(connection, subscriptions, principal, checkout_uuid, row)
        return {"checkout_id": checkout_id, "status": status, "amount": row.due_now_minor, "currency": row.currency}

    def _complete_trial(
        self,
        connection: Connection,
        subscriptions: SubscriptionStore,
        principal: Principal,
        checkout_id: uuid.UUID,
        row: Any,
    ) -> str:
        now = self._clock()
        connection.execute(
            text(
                "UPDATE billing_checkouts SET status = 'paid', status_at = :now, status_rank = 3, captured_minor = 0 "
                "WHERE id = :id AND status = 'charging'"
            ),
            {"id": checkout_id, "now": now},
        )
        subscriptions.activate(
            connection,
            tenant=principal.tenant,
            customer=principal.subject,
            checkout_id=str(checkout_id),
            price_id=row.price_id,
            quantity=row.quantity,
            provider_reference=str(checkout_id),
            at=now,
        )
        return "trialing"
