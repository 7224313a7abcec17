"""Renders an invoice PDF with fpdf2 and embeds the content seal in its metadata.

The seal is the SHA-256 of the invoice's canonical content (`InvoiceContent.
canonical_json`). It is written into the PDF's Keywords metadata and printed
in the footer; `embedded_seal` reads it back so a fetch can compare it with
the copy stored in the database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from fpdf import FPDF

from .money import format_amount
from .tax import TaxDecision, TaxTotals

_SEAL = re.compile(rb"/Keywords \(sha256=([0-9a-f]{64})\)")


@dataclass(frozen=True)
class InvoiceLine:
    description: str
    quantity: int
    unit_amount_minor: int

    @property
    def net_minor(self) -> int:
        return self.quantity * self.unit_amount_minor


@dataclass(frozen=True)
class InvoiceContent:
    """Everything the invoice says; its canonical JSON is what the seal covers."""

    invoice_id: str
    number: str
    issued_at: datetime
    seller: str
    customer: str
    currency: str
    lines: Sequence[InvoiceLine]
    tax: TaxDecision
    totals: TaxTotals

    def canonical(self) -> dict[str, object]:
        return {
            "invoice_id": self.invoice_id,
            "number": self.number,
            "issued_at": self.issued_at.isoformat(),
            "seller": self.seller,
            "customer": self.customer,
            "currency": self.currency,
            "lines": [[line.description, line.quantity, line.unit_amount_minor] for line in self.lines],
            "tax": [self.tax.jurisdiction, str(self.tax.rate_percent), self.tax.reverse_charge, self.tax.note],
            "totals": [self.totals.net_minor, self.totals.tax_minor, self.totals.total_minor],
        }


def _safe(value: str) -> str:
    """Core PDF fonts speak cp1252: anything else becomes '?', never an exception."""
    return value.encode("cp1252", "replace").decode("cp1252")


def render(content: InvoiceContent, seal: str) -> bytes:
    pdf = FPDF()
    pdf.core_fonts_encoding = "cp1252"
    pdf.set_creation_date(content.issued_at)
    pdf.set_title(_safe(f"Invoice {content.number}"))
    pdf.set_author(_safe(content.seller))
    pdf.set_subject(_safe(f"Invoice {content.number} for {content.customer}"))
    pdf.set_keywords(f"sha256={seal}")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _safe(f"Invoice {content.number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    for label, value in (
        ("Issued", content.issued_at.strftime("%Y-%m-%d")),
        ("Seller", content.seller),
        ("Customer", content.customer),
    ):
        pdf.cell(0, 6, _safe(f"{label}: {value}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 10)
    for header, width in (("Description", 100), ("Qty", 20), ("Unit", 35), ("Net", 35)):
        pdf.cell(width, 7, header, border=1)
    pdf.ln()
    pdf.set_font("Helvetica", size=10)
    for line in content.lines:
        pdf.cell(100, 7, _safe(line.description[:60]), border=1)
        pdf.cell(20, 7, str(line.quantity), border=1, align="R")
        pdf.cell(35, 7, format_amount(line.unit_amount_minor, content.currency), border=1, align="R")
        pdf.cell(
            35, 7, format_amount(line.net_minor, content.currency), border=1, align="R", new_x="LMARGIN", new_y="NEXT"
        )
    pdf.ln(2)
    for label, amount in (
        ("Net", content.totals.net_minor),
        (f"Tax {content.tax.rate_percent}% ({content.tax.jurisdiction})", content.totals.tax_minor),
        ("Total", content.totals.total_minor),
    ):
        pdf.cell(155, 7, _safe(label), align="R")
        pdf.cell(35, 7, format_amount(amount, content.currency), align="R", new_x="LMARGIN", new_y="NEXT")
    if content.tax.note:
        pdf.ln(2)
        pdf.multi_cell(0, 5, _safe(content.tax.note))
    pdf.ln(6)
    pdf.set_font("Helvetica", size=7)
    pdf.multi_cell(0, 4, f"Content SHA-256: {seal}")
    return bytes(pdf.output())


def embedded_seal(document: bytes) -> str | None:
    match = _SEAL.search(document)
    return match.group(1).decode() if match else None
