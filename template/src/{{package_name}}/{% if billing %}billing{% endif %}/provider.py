"""The port every payment provider adapter implements, and the normalized values it speaks.

Four operations only: open a hosted checkout, verify a webhook into normalized
events, refund, credit. Card data never appears in any of them: checkout
returns a URL (or a drop-in client token) and the provider collects the card
on its own page or iframe (PCI-DSS SAQ A).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from .catalog import Price
from .errors import ProviderError, ProviderOutcomeUnknownError


class EventKind(StrEnum):
    """What a provider event means to us; everything else is stored and acknowledged as OTHER."""

    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    #: The payment of a checkout captured, reported apart from the checkout's own completion
    #: (Stripe: the first invoice of a subscription): recorded in the ledger, no state change.
    PAYMENT_CAPTURED = "payment_captured"
    RENEWAL_SUCCEEDED = "renewal_succeeded"
    RENEWAL_FAILED = "renewal_failed"
    SUBSCRIPTION_CANCELED = "subscription_canceled"
    REFUNDED = "refunded"
    #: A dispute the merchant lost (or accepted): the card network took the payment back.
    CHARGEBACK = "chargeback"
    #: The cardholder opened a dispute (or the bank asked for information): the payment is frozen --
    #: nothing may be credited or refunded against it until the dispute closes.
    DISPUTE_OPENED = "dispute_opened"
    #: A dispute closed in the merchant's favour: the payment counts again as captured.
    DISPUTE_WON = "dispute_won"
    OTHER = "other"


@dataclass(frozen=True)
class WebhookEvent:
    """One verified provider event, normalized.

    Attributes:
        event_id: the replay guard's key, made only of what the provider signs: its unique event id
            (Stripe, Paddle), eventCode:pspReference:success (Adyen, all HMAC-covered), or the SHA-256
            of the signed payload (Braintree, which sends no id).
        provider_type: the provider's own event name, for logs.
        occurred_at: when the provider says it happened: orders state transitions.
        checkout_id: our checkout id, echoed back from the metadata we sent.
        payment_reference / subscription_reference: the provider's ids. For refunds and
            chargebacks, `payment_reference` is the payment they take back.
        customer_reference: the provider's customer id, where it has one (Stripe `cus_...`,
            Braintree's vaulted customer, Paddle `ctm_...`): what a customer credit pays.
        amount_minor / currency: what the provider says it captured from the customer's payment
            method (tax included; the payment ledger's captured amount, billing/ledger.py) or
            refunded / took back.
        cumulative_amount: `amount_minor` of a refund is the payment's refunded total so far
            (Stripe's `amount_refunded`), not this refund's part.
        net_minor: what the provider billed for the purchase with every discount taken off, before the
            tax it adds on top and before any credit balance that paid part of it. The paid-amount check
            compares it with what the server priced (docs/billing.md, "What the amount check compares");
            None when the event carries no amount, which never matches.
    """

    provider: str
    event_id: str
    provider_type: str
    kind: EventKind
    occurred_at: datetime
    checkout_id: str | None = None
    payment_reference: str | None = None
    subscription_reference: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    customer_reference: str | None = None
    cumulative_amount: bool = False
    net_minor: int | None = None


@dataclass(frozen=True)
class CheckoutRequest:
    """Everything an adapter needs to open a hosted checkout; every amount was computed server-side.

    Attributes:
        checkout_id: our id, sent as metadata so webhooks can be matched to it.
        amount_minor: net amount per period after discount (what a renewal will charge).
        due_now_minor: what to charge today (0 during a free trial).
        idempotency_key: derived from the client's key; passed on to the provider.
        dropin_page_url: our page that hosts a provider's drop-in UI (Braintree), by checkout id.
    """

    checkout_id: str
    price: Price
    quantity: int
    amount_minor: int
    due_now_minor: int
    currency: str
    success_url: str
    cancel_url: str
    customer_reference: str
    idempotency_key: str
    dropin_page_url: str

    @property
    def description(self) -> str:
        return f"{self.price.description} x {self.quantity}"


@dataclass(frozen=True)
class HostedCheckout:
    """Where to send the customer: the provider's page, or our page hosting its drop-in (client_token)."""

    provider_reference: str
    checkout_url: str
    client_token: str | None = None


@dataclass(frozen=True)
class MoneyMovement:
    """An approved refund or credit, executed exactly once (the key is stable per request).

    `customer` and `payment_reference` come from the payment ledger row the request was
    made against (billing/ledger.py), never from the request.
    """

    adjustment_id: str
    customer: str | None
    payment_reference: str
    amount_minor: int
    currency: str
    reason: str
    idempotency_key: str


@dataclass(frozen=True)
class ProviderReceipt:
    provider_reference: str
    status: str


class PaymentProvider(Protocol):
    """One payment provider behind its official SDK.

    Attributes:
        name: the `{provider}` of `POST /webhooks/{provider}`.
        credit_needs_customer: a credit pays the provider's customer of the payment (Stripe's
            customer balance, Braintree's unreferenced credit), so the payment must have one.
        credit_is_refund: the provider executes a credit as a refund of the payment (Adyen):
            its refund webhooks then count our credits too (billing/ledger.py).
        replays_money_movement: the provider deduplicates a refund or credit sent again under the same
            idempotency key (Stripe, Adyen), so a movement whose outcome is unknown may be retried.
    """

    name: str
    credit_needs_customer: bool
    credit_is_refund: bool
    replays_money_movement: bool

    def create_checkout(self, request: CheckoutRequest) -> HostedCheckout:
        """Open a hosted checkout / payment session for exactly `request.due_now_minor`."""
        ...

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, *, now: datetime) -> list[WebhookEvent]:
        """Verify the raw body with the SDK's verifier; raise WebhookSignatureError / WebhookStaleError.

        `headers` have lower-case names. Nothing may be stored before this returns.
        """
        ...

    def refund(self, movement: MoneyMovement) -> ProviderReceipt: ...

    def credit(self, movement: MoneyMovement) -> ProviderReceipt: ...

    def cancel_subscription(self, subscription_reference: str) -> bool:
        """Stop the provider billing a subscription this app revoked; False when it keeps no such object.

        Raises ProviderError when the provider refused or could not be reached (the caller alerts).
        """
        ...


def failure_for_status(status: object) -> ProviderError:
    """The error for a provider's HTTP answer: a 4xx is a definite refusal (nothing happened); a 5xx,
    408 (timeout), 409 (the same key still in flight) or no status at all may have executed."""
    refused = isinstance(status, int) and 400 <= status < 500 and status not in (408, 409)
    return ProviderError() if refused else ProviderOutcomeUnknownError()


def provider_idempotency_key(*parts: str) -> str:
    """A provider-side idempotency key: stable for the same inputs, opaque, at most 64 characters.

    Client keys are scoped to (tenant, caller) before they reach the provider, so two
    customers choosing the same key can never collide in the provider's key space.
    """
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:64]


@dataclass(frozen=True)
class NonceCharge:
    """A drop-in payment-method nonce to charge for a checkout we priced earlier (Braintree)."""

    checkout_id: str
    customer_reference: str
    amount_minor: int
    currency: str
    recurring: bool
    nonce: str
    idempotency_key: str


class DropInProvider(PaymentProvider, Protocol):
    """Providers whose hosted fields return a one-time nonce the server then charges."""

    def charge_nonce(self, charge: NonceCharge) -> ProviderReceipt: ...
