"""The billing composition root: every billing service wired from `Services`, once per app.

`build_billing` is called by the web adapter's app factory; tests call it with
their own audit sink or clock. Nothing here talks to the network at build
time except the secrets backend (a missing secret fails fast).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..bootstrap import Services
from ..errors import ConfigurationError
from ..security.keyring import TenantKeySealer, build_invoice_keys
from ..security.operators import operator_scope
from .approvals import ApprovalRules, ApprovalService
from .audit import AuditSink, LogAuditSink
from .catalog import Catalog
from .checkout import CheckoutService
from .coupons import CouponStore
from .encryption import EnvelopeEncryptor
from .factory import build_provider, build_tax_engine
from .idempotency import IdempotencyStore
from .invoices import InvoiceService
from .ledger import PaymentLedger
from .pricing import DiscountCaps, Pricing
from .provider import PaymentProvider
from .storage import ImmutableStore, LocalWriteOnceStore, S3ObjectLockStore
from .subscriptions import SubscriptionAccess, SubscriptionStore
from .webhooks import WebhookProcessor


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Billing:
    """The billing services one process shares."""

    provider: PaymentProvider
    pricing: Pricing
    coupons: CouponStore
    checkout: CheckoutService
    webhooks: WebhookProcessor
    approvals: ApprovalService
    invoices: InvoiceService
    subscriptions: SubscriptionStore
    ledger: PaymentLedger
    #: The tenant's subscription access: what paid features (`requires_subscription`) check.
    access: SubscriptionAccess


def build_invoice_store(services: Services, clock: Callable[[], datetime]) -> ImmutableStore:
    settings = services.settings
    if settings.billing_invoice_store == "local":
        if not settings.billing_invoice_dir:
            raise ConfigurationError("APP_BILLING_INVOICE_DIR is required when APP_BILLING_INVOICE_STORE=local")
        return LocalWriteOnceStore(Path(settings.billing_invoice_dir))
    if not settings.billing_invoice_bucket:
        raise ConfigurationError("APP_BILLING_INVOICE_BUCKET is required when APP_BILLING_INVOICE_STORE=s3")
    import boto3

    client = boto3.client("s3", endpoint_url=settings.billing_s3_endpoint_url)
    return S3ObjectLockStore(
        client,
        settings.billing_invoice_bucket,
        retention=timedelta(days=settings.billing_invoice_retention_days),
        clock=clock,
    )


def build_billing(
    services: Services,
    *,
    audit: AuditSink | None = None,
    clock: Callable[[], datetime] = utc_now,
    invoice_store: ImmutableStore | None = None,
    provider: PaymentProvider | None = None,
) -> Billing:
    settings = services.settings
    audit = audit or LogAuditSink()
    provider = provider or build_provider(settings, services.secrets)
    catalog = Catalog.default()
    coupons = CouponStore(services.engine)
    pricing = Pricing(
        catalog,
        coupons,
        DiscountCaps(max_percent=settings.billing_max_discount_percent, max_minor=settings.billing_max_discount_minor),
    )
    idempotency = IdempotencyStore(services.engine)
    subscriptions = SubscriptionStore(catalog)
    ledger = PaymentLedger(provider.name, credit_is_refund=provider.credit_is_refund)
    return Billing(
        provider=provider,
        pricing=pricing,
        coupons=coupons,
        checkout=CheckoutService(
            engine=services.engine,
            pricing=pricing,
            provider=provider,
            idempotency=idempotency,
            audit=audit,
            base_url=settings.base_url,
            clock=clock,
            subscriptions=subscriptions,
        ),
        webhooks=WebhookProcessor(
            engine=services.engine,
            provider=provider,
            subscriptions=subscriptions,
            audit=audit,
            clock=clock,
            ledger=ledger,
        ),
        approvals=ApprovalService(
            engine=services.engine,
            provider=provider,
            idempotency=idempotency,
            audit=audit,
            rules=ApprovalRules(
                second_approval_threshold_minor=settings.billing_second_approval_threshold_minor,
                ttl=timedelta(hours=settings.billing_approval_ttl_hours),
            ),
            clock=clock,
            # Money leaving the vendor is approved by the vendor's own operators only.
            operators=operator_scope(settings),
            ledger=ledger,
            subscriptions=subscriptions,
        ),
        invoices=InvoiceService(
            engine=services.engine,
            # Each invoice's data key is wrapped by the project's KEK (Vault transit / KMS), bound to the tenant,
            # then sealed under the tenant's data key: purging the tenant crypto-shreds its invoices.
            encryptor=EnvelopeEncryptor(
                build_invoice_keys(
                    settings, services.secrets, sealer=TenantKeySealer(lambda: services.data, lambda: services.keyring)
                )
            ),
            store=invoice_store or build_invoice_store(services, clock),
            tax=build_tax_engine(settings, provider),
            audit=audit,
            seller=settings.billing_seller_name,
            clock=clock,
        ),
        subscriptions=subscriptions,
        ledger=ledger,
        access=SubscriptionAccess(services.engine),
    )
