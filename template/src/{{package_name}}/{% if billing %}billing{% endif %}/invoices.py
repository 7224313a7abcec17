"""Invoices: rendered, sealed (SHA-256), encrypted per tenant, stored write-once; verified on every fetch.

Two hashes, stored in `billing_invoices` when the invoice is issued:
- `content_sha256`: the seal over the canonical invoice content, also embedded
  in the PDF's metadata and printed on it (a reader can check a printout);
- `document_sha256`: the hash of the exact PDF bytes.
A fetch decrypts (AES-GCM authenticates every byte of the stored blob), then
checks both hashes in constant time; any mismatch is refused and raises an
alerting audit event -- a tampered invoice is never served.

Storage comes before the database row commits; if the commit then fails, an
unreferenced object remains in the store (it is immutable by design) and the
invoice is simply issued again under a new number.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy import Engine, text

from .audit import AuditEvent, AuditSink, BillingAction
from .encryption import DecryptionError, EnvelopeEncryptor
from .errors import InvoiceNotFoundError, InvoiceTamperedError, ObjectMissingError
from .invoice_pdf import InvoiceContent, InvoiceLine, embedded_seal, render
from .money import check_currency
from .storage import ImmutableStore
from .tax import TaxCustomer, TaxEngine, tax_totals

_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class IssuedInvoice:
    id: str
    number: str
    net_minor: int
    tax_minor: int
    total_minor: int
    content_sha256: str
    document_sha256: str


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tenant_segment(tenant: str) -> str:
    return tenant if _SAFE_SEGMENT.fullmatch(tenant) else _sha256(tenant.encode())[:32]


class InvoiceService:
    def __init__(
        self,
        *,
        engine: Engine,
        encryptor: EnvelopeEncryptor,
        store: ImmutableStore,
        tax: TaxEngine,
        audit: AuditSink,
        seller: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._engine = engine
        self._encryptor = encryptor
        self._store = store
        self._tax = tax
        self._audit = audit
        self._seller = seller
        self._clock = clock

    def issue(
        self,
        *,
        tenant: str,
        customer: str,
        tax_customer: TaxCustomer,
        currency: str,
        lines: Sequence[InvoiceLine],
        actor: str,
    ) -> IssuedInvoice:
        if not lines or any(line.quantity < 1 or line.unit_amount_minor < 0 for line in lines):
            raise ValueError("an invoice needs lines with a positive quantity and a non-negative amount")
        currency = check_currency(currency)
        decision = self._tax.decide(tax_customer)
        totals = tax_totals((line.net_minor for line in lines), decision)
        issued_at = self._clock()
        invoice_id = str(uuid.uuid4())
        with self._engine.begin() as connection:
            sequence = connection.execute(text("SELECT nextval('billing_invoice_number_seq')")).scalar_one()
            number = f"INV-{issued_at:%Y}-{sequence:06d}"
            content = InvoiceContent(
                invoice_id, number, issued_at, self._seller, customer, currency, tuple(lines), decision, totals
            )
            seal = _sha256(json.dumps(content.canonical(), sort_keys=True, separators=(",", ":")).encode())
            document = render(content, seal)
            document_sha = _sha256(document)
            key = f"invoices/{_tenant_segment(tenant)}/{invoice_id}.pdf.enc"
            self._store.put(key, self._encryptor.encrypt(tenant, document, context=self._context(invoice_id)))
            connection.execute(
                text(
                    """
                    INSERT INTO billing_invoices (id, tenant_id, number, customer, currency, net_minor, tax_minor,
                        total_minor, content_sha256, document_sha256, object_key, issued_at)
                    VALUES (:id, :tenant, :number, :customer, :currency, :net, :tax, :total, :content_sha,
                        :document_sha, :key, :issued_at)
                    """
                ),
                {
                    "id": invoice_id,
                    "tenant": tenant,
                    "number": number,
                    "customer": customer,
                    "currency": currency,
                    "net": totals.net_minor,
                    "tax": totals.tax_minor,
                    "total": totals.total_minor,
                    "content_sha": seal,
                    "document_sha": document_sha,
                    "key": key,
                    "issued_at": issued_at,
                },
            )
            self._audit.record(
                connection,
                AuditEvent(
                    action=BillingAction.INVOICE_ISSUED,
                    actor=actor,
                    tenant=tenant,
                    target=f"invoice:{invoice_id}",
                    at=issued_at,
                    details={"number": number, "total": totals.total_minor, "content_sha256": seal},
                ),
            )
        return IssuedInvoice(
            invoice_id, number, totals.net_minor, totals.tax_minor, totals.total_minor, seal, document_sha
        )

    def fetch(self, *, tenant: str, invoice_id: str, actor: str) -> tuple[str, bytes]:
        """(number, PDF bytes) after decrypting and verifying both seals; InvoiceTamperedError otherwise."""
        try:
            invoice_uuid = uuid.UUID(invoice_id)
        except ValueError:
            raise InvoiceNotFoundError from None
        with self._engine.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT id, number, object_key, content_sha256, document_sha256 FROM billing_invoices "
                    "WHERE id = :id AND tenant_id = :tenant"
                ),
                {"id": invoice_uuid, "tenant": tenant},
            ).first()
        if row is None:
            raise InvoiceNotFoundError
        try:
            blob = self._store.get(row.object_key)
            document = self._encryptor.decrypt(tenant, blob, context=self._context(str(row.id)))
        except (ObjectMissingError, DecryptionError):
            self._tampered(tenant, row, actor, "undecryptable")
        if not hmac.compare_digest(_sha256(document), row.document_sha256):
            self._tampered(tenant, row, actor, "document_hash_mismatch")
        if not hmac.compare_digest(embedded_seal(document) or "", row.content_sha256):
            self._tampered(tenant, row, actor, "seal_mismatch")
        return row.number, document

    def _tampered(self, tenant: str, row: Any, actor: str, reason: str) -> NoReturn:
        with self._engine.begin() as connection:
            self._audit.record(
                connection,
                AuditEvent(
                    action=BillingAction.INVOICE_TAMPERED,
                    actor=actor,
                    tenant=tenant,
                    target=f"invoice:{row.id}",
                    at=self._clock(),
                    outcome="failed",
                    details={"reason": reason, "number": row.number},
                    alert=True,
                ),
            )
        raise InvoiceTamperedError

    @staticmethod
    def _context(invoice_id: str) -> bytes:
        return f"invoice:{invoice_id}".encode()
