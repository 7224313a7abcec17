"""Typed errors of billing; the web adapter maps each to one HTTP status (web/billing_errors.py).

Messages are safe for clients: no provider payloads, no signatures, no SQL.
"""

from __future__ import annotations

from ..errors import AppError


class BillingError(AppError):
    """Root of every billing error."""

    code = "billing_error"


class WebhookRejectedError(BillingError):
    """A webhook failed verification; nothing was stored or applied."""

    code = "webhook_rejected"


class WebhookSignatureError(WebhookRejectedError):
    """The signature is missing, malformed or does not match the body."""

    code = "webhook_signature_invalid"

    def __init__(self, detail: str = "the webhook signature is missing or does not match the body") -> None:
        super().__init__(detail)


class WebhookStaleError(WebhookRejectedError):
    """The signed timestamp is outside the tolerance window (a replay or a badly skewed clock)."""

    code = "webhook_stale"

    def __init__(self, detail: str = "the webhook timestamp is outside the accepted window") -> None:
        super().__init__(detail)


class IdempotencyKeyMissingError(BillingError):
    """Money-moving requests must carry an Idempotency-Key header."""

    code = "idempotency_key_required"

    def __init__(self) -> None:
        super().__init__("send an Idempotency-Key header (8-255 printable characters, e.g. a UUID)")


class IdempotencyKeyReusedError(BillingError):
    """The key was already used with a different request body."""

    code = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was used with a different request; use a new key")


class IdempotencyKeyInFlightError(BillingError):
    """The first request with this key has not finished yet."""

    code = "idempotency_key_in_flight"

    def __init__(self) -> None:
        super().__init__("a request with this Idempotency-Key is still being processed; retry shortly")


class PricingError(BillingError):
    """The requested price, quantity or coupon cannot be sold."""

    code = "pricing_error"


class UnknownPriceError(PricingError):
    code = "unknown_price"

    def __init__(self, price_id: str) -> None:
        super().__init__(f"unknown price {price_id!r}")


class QuantityOutOfRangeError(PricingError):
    code = "quantity_out_of_range"

    def __init__(self, maximum: int) -> None:
        super().__init__(f"quantity must be between 1 and {maximum}")


class InvalidCouponError(PricingError):
    code = "invalid_coupon"

    def __init__(self) -> None:
        super().__init__("the coupon does not exist, has expired or does not apply to this price")


class DiscountAboveCapError(PricingError):
    """The coupon would discount more than the configured percentage or absolute cap."""

    code = "discount_above_cap"


class AdjustmentError(BillingError):
    """A credit or refund request cannot proceed."""

    code = "adjustment_error"


class AdjustmentNotFoundError(AdjustmentError):
    code = "not_found"

    def __init__(self) -> None:
        super().__init__("no such credit or refund request")


class PaymentNotFoundError(AdjustmentError):
    """The payment is unknown, or another tenant's: both look the same to the caller."""

    code = "not_found"

    def __init__(self) -> None:
        super().__init__("no such payment recorded for your tenant")


class CurrencyMismatchError(AdjustmentError):
    code = "currency_mismatch"

    def __init__(self, currency: str) -> None:
        super().__init__(f"the payment was captured in {currency}; credit it in {currency}")


class FinanceRoleRequiredError(AdjustmentError):
    code = "finance_role_required"

    def __init__(self) -> None:
        super().__init__("credits and refunds are requested by the tenant's finance users only")


class OperatorRoleRequiredError(AdjustmentError):
    """Money leaving the vendor is approved by the vendor's own finance operators."""

    code = "operator_role_required"

    def __init__(self) -> None:
        super().__init__("credits and refunds are approved by the vendor's finance operators only")


class SelfApprovalError(AdjustmentError):
    """Maker-checker: the requester can never approve their own request."""

    code = "self_approval_forbidden"

    def __init__(self) -> None:
        super().__init__("a request must be approved by someone other than the requester")


class BeneficiaryApprovalError(AdjustmentError):
    """Nobody of the tenant that receives the money (nor whoever paid) approves it."""

    code = "beneficiary_approval_forbidden"

    def __init__(self) -> None:
        super().__init__("money going back to your own tenant must be approved by another operator")


class AlreadyApprovedError(AdjustmentError):
    code = "already_approved"

    def __init__(self) -> None:
        super().__init__("you have already approved this request")


class AdjustmentNotPendingError(AdjustmentError):
    code = "adjustment_not_pending"

    def __init__(self, status: str) -> None:
        super().__init__(f"the request is {status}, not pending")
        self.status = status


class ApprovalExpiredError(AdjustmentNotPendingError):
    code = "approval_expired"

    def __init__(self) -> None:
        super().__init__("expired")


class RefundExceedsCapturedError(AdjustmentError):
    """Credits and refunds of one payment together may not exceed what it captured."""

    code = "refund_exceeds_captured"

    def __init__(self, refundable: int) -> None:
        super().__init__(f"at most {refundable} (minor units) can still be credited or refunded for this payment")


class PaymentDisputedError(AdjustmentError):
    """The payment is under dispute: its funds are with the bank, so nothing goes back until it closes."""

    code = "payment_disputed"

    def __init__(self) -> None:
        super().__init__("this payment is under dispute: nothing can be credited or refunded until it closes")


class InvalidAdjustmentError(AdjustmentError):
    code = "invalid_adjustment"


class ProviderError(BillingError):
    """The payment provider refused or failed a call; details stay in the logs."""

    code = "payment_provider_error"

    def __init__(self, detail: str = "the payment provider did not accept the request") -> None:
        super().__init__(detail)


class ProviderOutcomeUnknownError(ProviderError):
    """The provider may have executed the call: a 5xx, a timeout or a lost connection, not a refusal.

    Money movements keep their reservation and stay open (billing/approvals.py): giving the
    amount back here could let a new request move the same money a second time.
    """

    code = "payment_provider_outcome_unknown"

    def __init__(self, detail: str = "the payment provider did not confirm the call; it may have executed") -> None:
        super().__init__(detail)


class PayoutOutcomeUnknownError(AdjustmentNotPendingError):
    """A retry of a movement whose outcome is unknown, at a provider that cannot replay it safely."""

    code = "payout_outcome_unknown"

    def __init__(self) -> None:
        AdjustmentError.__init__(
            self,
            "the provider may have executed this request and cannot replay it idempotently: reconcile it "
            "in the provider's dashboard",
        )
        self.status = "executing"


class CheckoutNotFoundError(BillingError):
    code = "not_found"

    def __init__(self) -> None:
        super().__init__("no such checkout")


class CheckoutNotOpenError(BillingError):
    """The checkout was already charged (or is being charged): a nonce is charged once."""

    code = "checkout_not_open"

    def __init__(self) -> None:
        super().__init__("this checkout is not open for payment")


class TrialAlreadyUsedError(BillingError):
    """One free trial per tenant: a tenant that ever subscribed (or trialed) pays from the first day."""

    code = "trial_already_used"

    def __init__(self) -> None:
        super().__init__("this tenant has subscribed before: choose a plan without a free trial")


class UnsupportedOperationError(BillingError):
    code = "not_found"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)


class InvoiceNotFoundError(BillingError):
    code = "not_found"

    def __init__(self) -> None:
        super().__init__("no such invoice")


class InvoiceTamperedError(BillingError):
    """The stored invoice failed decryption or its seal: it was altered after issue."""

    code = "invoice_integrity_failed"

    def __init__(self) -> None:
        super().__init__("the stored invoice failed its integrity check and was not served")


class ObjectExistsError(BillingError):
    """The immutable store refused to overwrite an object."""

    code = "object_exists"

    def __init__(self, key: str) -> None:
        super().__init__(f"{key} already exists and is immutable")


class ObjectMissingError(BillingError):
    code = "object_missing"

    def __init__(self, key: str) -> None:
        super().__init__(f"{key} is missing from the invoice store")


class TaxError(BillingError):
    """The jurisdiction or tax id cannot be handled."""

    code = "tax_error"
